"""The runtime marker: ``@must_retain`` returns what it decorates, unchanged.

The checker reads the decorator from source; nothing happens at run time. A project that does not want a
runtime dependency may define its own decorator named ``must_retain`` (any module) and get the same checks.
"""

from __future__ import annotations

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


def must_retain(  # type: ignore[misc]
    target: Any = None, /, *, attr: str | None = None, reason: str | None = None
) -> Any:
    """Mark a function, method or class whose result (or instance) must stay referenced.

    Use bare (``@must_retain``) or with options (``@must_retain(attr="server", reason="...")``):
    ``attr`` names the attribute the fixer stores the result in; ``reason`` is shown in messages.
    """
    if target is not None:
        return target

    def identity(obj: _T) -> _T:
        return obj

    return identity
