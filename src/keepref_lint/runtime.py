"""Runtime mode of ``@must_retain``: watch each marked result and report it when it is collected too early.

Turned on by ``KEEPREF_LINT_RUNTIME=1`` or ``enable()`` before the marked code is imported; docs/runtime.md
has the rule and its limits. In short, each result that can be weakly referenced gets a weak reference
with a callback (never a strong reference, nor one to a frame). At call time the wrapper notes the
caller's code object, frame id, line and instruction offset, and those of the caller's caller. When the
result is collected the callback looks at the frame it interrupted (the one whose decrement freed it):

- the caller itself, still at the line of the call, and no newer result came from the same call site in
  that frame: the statement that created it dropped it (``statement``: a bare call, ``f().x``,
  ``print(f())``);
- the caller's caller, still at the instruction that called the caller: the caller has just returned,
  and the instruction after the call stored the result in a local the caller's code never reads (read
  from its bytecode, as KR002 reads the source): ``dead local``.

Once the program has imported asyncio, tasks are watched too (``watch_tasks``): a task collected before
it is done is a ``pending task``, reported at the line that created it.

Anything else (kept, returned, stored elsewhere, a local that is read, ``del``, the creator raised, another
thread, the cycle collector) is not reported. A drop is appended to ``drops`` and warned about with a
``DroppedReferenceWarning`` located at the call site.
"""

from __future__ import annotations

import functools
import itertools
import sys
import warnings
import weakref
from collections import Counter, namedtuple

from keepref_lint import marker
from keepref_lint.marker import DroppedReferenceWarning

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType, FrameType
    from typing import Any

__all__ = [
    "DEAD_LOCAL",
    "PENDING_TASK",
    "STATEMENT",
    "Drop",
    "DroppedReferenceWarning",
    "disable",
    "drops",
    "enable",
    "enabled",
    "take_drops",
    "unwatchable",
    "watch_tasks",
    "wrap",
]

STATEMENT = "statement"
DEAD_LOCAL = "dead local"
PENDING_TASK = "pending task"
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect (which imports ast)

Drop = namedtuple("Drop", "callee filename lineno kind local message")
Drop.__doc__ = (
    "One early collection: the callee's qualified name, the call site, the rule, the message."
)

drops: list[Drop] = []  # every drop seen, oldest first; the pytest plugin takes them (take_drops)
unwatchable: Counter[str] = Counter()  # callee -> results that could not be weakly referenced

_getframe = sys._getframe
_serials = itertools.count(1)
_by_object: dict[int, _Watch] = {}  # id(result) -> its watch: one watch per live result
# (frame id, offset) of a call site -> the serial of its newest result still alive
_latest: dict[tuple[int, int], int] = {}
_after_cache: dict[tuple[CodeType, int], Any] = {}
_dead_cache: dict[tuple[CodeType, int], str | None] = {}
_warned: dict[Any, Any] = {}  # the warnings registry: each distinct message is shown once
_new_codes: weakref.WeakKeyDictionary[type, frozenset[CodeType]] = weakref.WeakKeyDictionary()


def enable() -> None:
    """Turn runtime mode on for what is marked from now on (import the marked code after this)."""
    marker._runtime = True
    _maybe_watch_tasks()


def disable() -> None:
    """Turn runtime mode off for what is marked from now on; what is wrapped stays wrapped."""
    marker._runtime = False


def enabled() -> bool:
    return marker._runtime


def take_drops() -> list[Drop]:
    """The drops seen since the last call, oldest first; they are removed from ``drops``."""
    taken = drops[:]
    del drops[: len(taken)]
    return taken


class _Mark:
    """What one ``@must_retain`` says: the callee's names, ``attr`` and ``reason``."""

    __slots__ = ("attr", "name", "qualname", "reason")

    def __init__(self, target: Any, attr: str | None, reason: str | None) -> None:
        qualname = getattr(target, "__qualname__", None) or getattr(target, "__name__", "?")
        # As messages name it: start(), Service.open().
        self.name = qualname.rpartition(".<locals>.")[2]
        module = getattr(target, "__module__", None)
        self.qualname = f"{module}.{qualname}" if module else qualname
        self.attr = attr
        self.reason = reason


class _Watch(weakref.ref):
    """A weak reference to one result, with where it was created; its callback is ``_collected``."""

    __slots__ = (
        "code",
        "frame_id",
        "lasti",
        "lineno",
        "mark",
        "object_id",
        "serial",
        "up_code",
        "up_id",
        "up_lasti",
    )


def wrap(target: Any, *, attr: str | None = None, reason: str | None = None) -> Any:
    """What ``@must_retain`` returns in runtime mode: ``target`` wrapped so that its results are watched.

    Functions and methods get a wrapper (``functools.wraps``); ``async def`` functions an ``async def``
    wrapper that watches the awaited result; static and class methods are rewrapped; a class is returned
    itself, with a ``__new__`` that watches each instance (of it and of its subclasses).
    """
    _maybe_watch_tasks()
    if isinstance(target, (staticmethod, classmethod)):
        return type(target)(wrap(target.__func__, attr=attr, reason=reason))
    if isinstance(target, type):
        return _wrap_class(target, _Mark(target, attr, reason))
    if not callable(target) or getattr(target, "__keepref_mark__", None) is not None:
        return target
    mark = _Mark(target, attr, reason)
    code = getattr(target, "__code__", None)
    if code is not None and code.co_flags & _CO_COROUTINE:

        async def awaiting(*args: Any, **kwargs: Any) -> Any:
            result = await target(*args, **kwargs)
            _watch(result, mark, _getframe(1))
            return result

        wrapper: Any = awaiting
    else:

        def calling(*args: Any, **kwargs: Any) -> Any:
            result = target(*args, **kwargs)
            _watch(result, mark, _getframe(1))
            return result

        wrapper = calling
    functools.update_wrapper(wrapper, target)
    wrapper.__keepref_mark__ = mark
    return wrapper


def _wrap_class(cls: type, mark: _Mark) -> type:
    # __new__ rather than __init__: @dataclass (applied after the mark) would not replace an __init__
    # the class already has, and so would not generate its own.
    original = cls.__new__
    plain = original is object.__new__

    def __new__(klass: type, *args: Any, **kwargs: Any) -> Any:
        if plain:
            if (args or kwargs) and klass.__init__ is object.__init__:
                raise TypeError(f"{klass.__name__}() takes no arguments")
            instance = original(klass)
        else:
            instance = original(klass, *args, **kwargs)
        caller: FrameType | None = _getframe(1)
        if caller.f_code.co_name == "__new__":  # a subclass's __new__ calling super().__new__
            skip = _constructor_codes(klass)
            while caller is not None and caller.f_code in skip:
                caller = caller.f_back
        if caller is not None:
            _watch(instance, mark, caller)
        return instance

    __new__.__qualname__ = f"{cls.__qualname__}.__new__"
    __new__.__module__ = cls.__module__
    __new__.__keepref_mark__ = mark  # type: ignore[attr-defined]
    if not plain:
        __new__.__wrapped__ = original  # type: ignore[attr-defined]
    cls.__new__ = staticmethod(__new__)  # type: ignore[assignment]
    return cls


def _constructor_codes(cls: type) -> frozenset[CodeType]:
    """The code of every ``__new__`` in ``cls``'s MRO (and what they wrap): frames to look past."""
    codes = _new_codes.get(cls)
    if codes is None:
        found = set()
        for klass in cls.__mro__:
            func = klass.__dict__.get("__new__")
            func = getattr(func, "__func__", func)
            while func is not None:
                code = getattr(func, "__code__", None)
                if code is not None:
                    found.add(code)
                func = getattr(func, "__wrapped__", None)
        codes = _new_codes[cls] = frozenset(found)
    return codes


def _watch(result: Any, mark: _Mark, caller: FrameType) -> None:
    """Watch ``result``, created by a call from the frame ``caller``; keeps no reference to either."""
    if not type(result).__weakrefoffset__:  # int, str, tuple, None, __slots__ without __weakref__
        unwatchable[mark.qualname] += 1
        return
    key = id(result)
    watch = _by_object.get(key)
    if watch is not None and watch() is result:
        _forget_site(watch)  # the same object again (a cache): the newest call counts
    else:
        try:
            watch = _Watch(result, _collected)
        except TypeError:  # a type that says it can be but cannot
            unwatchable[mark.qualname] += 1
            return
        watch.object_id = key
        _by_object[key] = watch
    watch.mark = mark
    watch.code = caller.f_code
    watch.frame_id = id(caller)
    watch.lineno = caller.f_lineno
    watch.lasti = caller.f_lasti
    up = caller.f_back
    if up is None:
        watch.up_code = None
        watch.up_id = watch.up_lasti = -1
    else:
        watch.up_code = up.f_code
        watch.up_id = id(up)
        watch.up_lasti = up.f_lasti
    watch.serial = next(_serials)
    _latest[watch.frame_id, watch.lasti] = watch.serial


def _forget_site(watch: _Watch) -> bool:
    """Drop the call site's entry if ``watch`` is its newest result; say whether it was."""
    site = (watch.frame_id, watch.lasti)
    if _latest.get(site) == watch.serial:
        _latest.pop(site, None)  # pop, not del: another thread may have got there first
        return True
    return False


# CO_GENERATOR | CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR (inspect's flags, without
# importing inspect)
_RESUMABLE = 0x20 | 0x80 | 0x100 | 0x200


def _collected(watch: _Watch) -> None:
    """The weak reference's callback: decide from the interrupted frame whether this was a drop."""
    if _by_object.get(watch.object_id) is watch:
        _by_object.pop(watch.object_id, None)
    newest = _forget_site(watch)
    try:
        frame = _getframe(1)
    except ValueError:  # collected with no Python frame running
        return
    kind = local = None
    if id(frame) == watch.frame_id and frame.f_code is watch.code:
        if (
            newest
            and (
                frame.f_lineno == watch.lineno
                or frame.f_lasti == _offset_after(watch.code, watch.lasti)
            )
            and not _held_by_block(watch.code, watch.lasti)
        ):
            kind = STATEMENT
    elif (
        watch.up_code is not None
        and frame.f_code is watch.up_code
        and frame.f_lasti == watch.up_lasti
        # A coroutine (or generator) is resumed by a new frame of its driver at each step (the event
        # loop's Handle._run), so the frame it returns to is the same code at the same place, not the
        # same frame: it counts by code and offset.
        and (id(frame) == watch.up_id or watch.code.co_flags & _RESUMABLE)
    ):
        local = _dead_local(watch.code, watch.lasti)
        if local is not None:
            kind = DEAD_LOCAL
    del frame
    if kind is not None:
        _report(watch, kind, local)


def _report(watch: _Watch, kind: str, local: str | None) -> None:
    mark = watch.mark
    filename, lineno = watch.code.co_filename, watch.lineno
    if kind == STATEMENT:
        when = "while the statement that created it was still running"
    else:
        when = (
            f"when {watch.code.co_name}() returned: it was kept only in the local"
            f" {local!r}, which {watch.code.co_name}() never reads"
        )
    if mark.attr:
        hint = f"keep a reference (e.g. self.{mark.attr} = ...)"
    else:
        hint = "keep a reference that outlives the function (store it on an object or return it)"
    message = f"result of {mark.name}() created at {filename}:{lineno} was garbage-collected {when}; {hint}"
    if mark.reason:
        message += f" ({mark.reason})"
    drops.append(Drop(mark.qualname, filename, lineno, kind, local, message))
    warnings.warn_explicit(
        DroppedReferenceWarning(message),
        DroppedReferenceWarning,
        filename,
        lineno,
        registry=_warned,
    )


# -- the catalog's asyncio tasks ---------------------------------------------------------------------

_tasks_watched = False
_task_watches: dict[int, _TaskWatch] = {}


class _TaskWatch(weakref.ref):
    """A weak reference to one asyncio task, with where it was created and whether it finished."""

    __slots__ = ("done", "filename", "lineno", "name")

    def finished(self, task: Any) -> None:  # the task's done callback
        self.done = True


def watch_tasks() -> None:
    """Report each asyncio task destroyed while pending, with the line that created it.

    Wraps ``asyncio.BaseEventLoop.create_task`` (which ``asyncio.create_task``, ``ensure_future`` and
    ``TaskGroup.create_task`` call); loops that do not derive from it (uvloop) are not covered. Runtime
    mode calls it (``enable()``, ``wrap()``, the pytest plugin before each test) once asyncio has been
    imported; calling it again does nothing.
    """
    global _tasks_watched
    if _tasks_watched:
        return
    _tasks_watched = True
    import os
    from asyncio import base_events

    package = os.path.dirname(base_events.__file__) + os.sep
    original = base_events.BaseEventLoop.create_task

    @functools.wraps(original)
    def create_task(self: Any, coro: Any, *args: Any, **kwargs: Any) -> Any:
        task = original(self, coro, *args, **kwargs)
        caller: FrameType | None = _getframe(1)
        while caller is not None and caller.f_code.co_filename.startswith(package):
            caller = caller.f_back  # asyncio.create_task, ensure_future, TaskGroup.create_task
        if caller is not None and not task.done():
            _watch_task(task, caller)
        return task

    base_events.BaseEventLoop.create_task = create_task  # type: ignore[method-assign]


def _maybe_watch_tasks() -> None:
    """``watch_tasks()`` once the program has imported asyncio (runtime mode never imports it itself)."""
    if not _tasks_watched and "asyncio.base_events" in sys.modules:
        watch_tasks()


def _watch_task(task: Any, caller: FrameType) -> None:
    watch = _TaskWatch(task, _task_collected)
    watch.done = False
    watch.filename = caller.f_code.co_filename
    watch.lineno = caller.f_lineno
    coro = task.get_coro()
    watch.name = getattr(coro, "__qualname__", None) or type(coro).__name__
    _task_watches[id(watch)] = watch
    task.add_done_callback(watch.finished)


def _task_collected(watch: _TaskWatch) -> None:
    _task_watches.pop(id(watch), None)
    if watch.done:
        return
    message = (
        f"asyncio task of {watch.name}() created at {watch.filename}:{watch.lineno} was destroyed while"
        " pending; keep a reference to the task (e.g. self.tasks.add(task);"
        " task.add_done_callback(self.tasks.discard))"
    )
    drops.append(
        Drop("asyncio.create_task", watch.filename, watch.lineno, PENDING_TASK, None, message)
    )
    warnings.warn_explicit(
        DroppedReferenceWarning(message),
        DroppedReferenceWarning,
        watch.filename,
        watch.lineno,
        registry=_warned,
    )


def _instructions(code: CodeType) -> Any:
    import dis  # only when a result dies in a way that needs its caller's bytecode

    return dis.get_instructions(code)


def _after(code: CodeType, lasti: int) -> Any:
    """The instruction that receives the result of the call (or await) at offset ``lasti``, or None."""
    key = (code, lasti)
    if key not in _after_cache:
        instructions = list(_instructions(code))
        start = lasti + 1
        # Suspended in an await (SEND ... YIELD_VALUE ... jump back): the result comes out where SEND
        # jumps when the awaited coroutine returns.
        sends = [i for i in instructions if i.opname == "SEND" and i.offset <= lasti]
        if sends and isinstance(sends[-1].argval, int) and lasti < sends[-1].argval:
            start = sends[-1].argval
        _after_cache[key] = next(
            (i for i in instructions if i.offset >= start and i.opname != "END_SEND"), None
        )
    return _after_cache[key]


def _offset_after(code: CodeType, lasti: int) -> int:
    after = _after(code, lasti)
    return -1 if after is None else after.offset


# What a statement does with a result it keeps for a whole block: ``with start() as s:``,
# ``for item in start():``. The result dies at the block's end, on the line of the statement.
_BLOCK_OPS = frozenset(
    {"BEFORE_WITH", "BEFORE_ASYNC_WITH", "SETUP_WITH", "SETUP_ASYNC_WITH", "GET_ITER", "GET_AITER"}
)


def _held_by_block(code: CodeType, lasti: int) -> bool:
    after = _after(code, lasti)
    return after is not None and after.opname in _BLOCK_OPS


_READS_ALL = frozenset({"locals", "vars", "eval", "exec"})


def _dead_local(code: CodeType, lasti: int) -> str | None:
    """The local the call's result is stored in when ``code`` never reads it (KR002's shape), else None."""
    key = (code, lasti)
    if key in _dead_cache:
        return _dead_cache[key]
    name = None
    after = _after(code, lasti)
    if after is not None and after.opname == "STORE_FAST" and after.argval not in code.co_cellvars:
        name = after.argval
        for instruction in _instructions(code):
            op, arg = instruction.opname, instruction.argval
            if op.startswith("LOAD_FAST") and (
                arg == name or (isinstance(arg, tuple) and name in arg)
            ):
                name = None
                break
            if op in ("LOAD_GLOBAL", "LOAD_NAME") and arg in _READS_ALL:
                name = None
                break
    _dead_cache[key] = name
    return name
