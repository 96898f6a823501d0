"""keepref-lint: find and fix dropped lifetime-critical return values.

Importing this package is cheap: it exposes the runtime marker (and the warning of its runtime mode,
docs/runtime.md) only, imports no parser, and loads the marker's module at the first use of either name
(a command run needs neither, and is the shorter for it).
"""

__version__ = "0.1.0"
__all__ = ["DroppedReferenceWarning", "__version__", "must_retain"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from keepref_lint.marker import DroppedReferenceWarning, must_retain


def __getattr__(name: str) -> object:
    if name in ("DroppedReferenceWarning", "must_retain"):
        from keepref_lint import marker

        return getattr(marker, name)
    raise AttributeError(f"module 'keepref_lint' has no attribute {name!r}")
