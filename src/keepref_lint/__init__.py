"""keepref-lint: find and fix dropped lifetime-critical return values.

Importing this package is cheap: it exposes the runtime marker (and the warning
of its runtime mode, docs/runtime.md) only and imports no parser.
"""

from keepref_lint.marker import DroppedReferenceWarning, must_retain

__version__ = "0.1.0"
__all__ = ["DroppedReferenceWarning", "__version__", "must_retain"]
