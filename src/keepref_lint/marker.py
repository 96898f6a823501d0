"""The runtime marker: ``@must_retain`` returns what it decorates, unchanged.

The checker reads the decorator from source; nothing happens at run time. A project that does not want a
runtime dependency may define its own decorator named ``must_retain`` (any module) and get the same checks.

Runtime mode (docs/runtime.md): with ``KEEPREF_LINT_RUNTIME=1`` in the environment, or after
``keepref_lint.runtime.enable()``, what is marked from then on is wrapped by ``keepref_lint.runtime`` so a
result collected too early is reported with a ``DroppedReferenceWarning``. Without it the decorator is the
identity and ``keepref_lint.runtime`` is never imported.
"""

from __future__ import annotations

import os  # already imported by the interpreter's start-up: costs nothing

# Type checkers read the overloads; at run time ``typing`` is not imported (it would add a tenth to the
# start-up of every keepref-lint run, which imports this package).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, overload

    _T = TypeVar("_T")

    @overload
    def must_retain(target: _T, /) -> _T: ...

    @overload
    def must_retain(
        *, attr: str | None = None, reason: str | None = None
    ) -> Callable[[_T], _T]: ...


class DroppedReferenceWarning(RuntimeWarning):
    """A must-retain result was garbage-collected while its creator still ran (runtime mode only)."""

    __module__ = (
        "keepref_lint"  # where it is documented and shown: keepref_lint.DroppedReferenceWarning
    )


# Read once, at import: the values that turn runtime mode on (case-insensitive).
RUNTIME_VALUES = ("1", "true", "yes", "on")
_runtime = os.environ.get("KEEPREF_LINT_RUNTIME", "").strip().lower() in RUNTIME_VALUES


def must_retain(  # type: ignore[misc]
    target: Any = None, /, *, attr: str | None = None, reason: str | None = None
) -> Any:
    """Mark a function, method or class whose result (or instance) must stay referenced.

    Use bare (``@must_retain``) or with options (``@must_retain(attr="server", reason="...")``):
    ``attr`` names the attribute the fixer stores the result in; ``reason`` is shown in messages.
    """
    if target is not None:
        return _watched(target, attr, reason) if _runtime else target

    def identity(obj: _T) -> _T:
        return _watched(obj, attr, reason) if _runtime else obj

    return identity


def _watched(target: Any, attr: str | None, reason: str | None) -> Any:
    from keepref_lint.runtime import wrap

    return wrap(target, attr=attr, reason=reason)
