"""Running an analysis past Python's recursion limit, for the rare file that nests a thousand deep.

A valid file can nest expressions deeper than the default limit of 1,000 frames (``a + a + ... + a``
with 1,000 terms, or a method chain ``x.a().a()...`` of 1,000 calls, compiles). The fix's proof compares
trees with a stack of its own; the scope walk and the rules recurse, which is faster on every other file,
and a RecursionError there is retried once here: in a thread with a large stack, under a raised limit.
``ast.parse`` refuses nesting a few thousand deep, far below that limit; what fails even so becomes that
file's one-line error (see ``analysis._analyse``).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

DEEP_RECURSION_LIMIT = 50_000  # frames; each needs well under the stack below allows
_DEEP_STACK_BYTES = 512 << 20  # address space, reserved, not used, until the frames are there
_local = threading.local()


def run_deep(function: Callable[..., T], *args: object) -> T:
    """``function(*args)``, with ``DEEP_RECURSION_LIMIT`` frames to use; a RecursionError beyond that
    (or when no thread can be started) is raised to the caller."""
    if getattr(_local, "deep", False):
        return function(*args)  # already in the deep thread: there is no more to give
    outcome: list[tuple[bool, object]] = []

    def target() -> None:
        _local.deep = True
        try:
            outcome.append((True, function(*args)))
        except BaseException as exc:  # handed to the caller's thread
            outcome.append((False, exc))

    limit = sys.getrecursionlimit()
    try:
        size = threading.stack_size(_DEEP_STACK_BYTES)
    except (ValueError, RuntimeError):  # a platform that cannot choose: what the limit allows
        size = None
    try:
        sys.setrecursionlimit(max(limit, DEEP_RECURSION_LIMIT))
        thread = threading.Thread(target=target, name="keepref-lint-deep", daemon=True)
        try:
            thread.start()
        except RuntimeError:
            raise RecursionError("no thread with a larger stack could be started") from None
        thread.join()
    finally:
        sys.setrecursionlimit(limit)
        if size is not None:
            threading.stack_size(size)
    succeeded, value = outcome[0]
    if succeeded:
        return value  # type: ignore[return-value]
    assert isinstance(value, BaseException)
    raise value
