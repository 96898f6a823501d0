"""Built-in lifetime-critical APIs: the calls whose results must be kept even though nobody marked them.

Each entry names the qualified names it matches, why the result must be kept, and where that is documented
(shown in messages and the rule page). The evidence is collected in the project's research notes; APIs that
are safe to drop (``TaskGroup.create_task``, threads, ``loop.call_later`` handles, executors, ...) are left
out on purpose, and so is ``asyncio.run_coroutine_threadsafe`` until a failure is shown.

Conditions narrow an entry where only some calls are dangerous: ``weakref.ref(obj, callback)`` needs the
callback, ``NamedTemporaryFile(delete=False)`` is harmless, a Qt widget with a parent is owned by it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from keepref_lint.records import Frozen

# Calls whose result is an instance of a type the catalog knows (receiver inference: ``loop.create_task``).
EVENT_LOOP = "asyncio.AbstractEventLoop"
RETURN_TYPES: dict[str, str] = {
    "asyncio.get_event_loop": EVENT_LOOP,
    "asyncio.get_running_loop": EVENT_LOOP,
    "asyncio.new_event_loop": EVENT_LOOP,
    "asyncio.events.get_event_loop": EVENT_LOOP,
    "asyncio.events.get_running_loop": EVENT_LOOP,
    "asyncio.events.new_event_loop": EVENT_LOOP,
}
# Annotations that name the same types.
TYPE_ALIASES: dict[str, str] = {
    "asyncio.AbstractEventLoop": EVENT_LOOP,
    "asyncio.events.AbstractEventLoop": EVENT_LOOP,
    "asyncio.BaseEventLoop": EVENT_LOOP,
    "asyncio.base_events.BaseEventLoop": EVENT_LOOP,
}

Condition = Callable[[ast.Call], bool]


def _has_callback(call: ast.Call) -> bool:
    return len(call.args) >= 2 or any(k.arg == "callback" for k in call.keywords)


def _deletes(call: ast.Call) -> bool:
    for keyword in call.keywords:
        if keyword.arg == "delete":
            return not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False)
    return (
        len(call.args) < 3
    )  # NamedTemporaryFile(mode, buffering, encoding, newline, suffix, prefix, dir, delete)


def _without_parent(call: ast.Call) -> bool:
    if call.args:
        return False
    for keyword in call.keywords:
        if keyword.arg == "parent":
            return isinstance(keyword.value, ast.Constant) and keyword.value.value is None
    return True


def _makes_a_task(call: ast.Call) -> bool:
    """``ensure_future(self.task)`` returns the future it is given, which its holder already keeps:
    only a call whose argument is not read from an object or container can make a new task."""
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    if name != "ensure_future" or not call.args:
        return True
    return not isinstance(call.args[0], (ast.Attribute, ast.Subscript))


class Entry(Frozen):
    id: str
    qualnames: tuple[str, ...]
    reason: str
    source: str
    attr: str | None
    condition: Condition | None
    repeats: bool  # a task-like result: one attribute cannot hold every one

    def __init__(
        self,
        id: str,
        qualnames: tuple[str, ...],
        reason: str,
        source: str,
        attr: str | None = None,
        condition: Condition | None = None,
        repeats: bool = False,
    ) -> None:
        vars(self).update(
            id=id,
            qualnames=qualnames,
            reason=reason,
            source=source,
            attr=attr,
            condition=condition,
            repeats=repeats,
        )


def _qt(names: tuple[str, ...]) -> tuple[str, ...]:
    found = []
    for binding in ("PyQt5", "PyQt6", "PySide2", "PySide6"):
        found += [f"{binding}.QtWidgets.{name}" for name in names]
    return tuple(found)


_WIDGETS = (
    "Button", "Slider", "RangeSlider", "CheckButtons", "RadioButtons", "TextBox", "Cursor", "MultiCursor",
    "SpanSelector", "RectangleSelector", "EllipseSelector", "LassoSelector", "PolygonSelector",
)  # fmt: skip

CATALOG: tuple[Entry, ...] = (
    Entry(
        "asyncio-task",
        (
            "asyncio.create_task",
            "asyncio.ensure_future",
            "asyncio.tasks.create_task",
            "asyncio.tasks.ensure_future",
            f"{EVENT_LOOP}.create_task",
            "asyncio.Task",
            "asyncio.tasks.Task",
        ),
        "the event loop keeps only a weak reference to tasks",
        "https://docs.python.org/3/library/asyncio-task.html#asyncio.create_task",
        attr="task",
        condition=_makes_a_task,
        repeats=True,
    ),
    Entry(
        "asyncio-shield",
        ("asyncio.shield", "asyncio.tasks.shield"),
        "the outer future is all that keeps a shielded task referenced",
        "https://github.com/python/cpython/blob/main/Lib/asyncio/tasks.py (shield docstring)",
        repeats=True,
    ),
    Entry(
        "asyncio-gather",
        ("asyncio.gather", "asyncio.tasks.gather"),
        "the gathering future is all that keeps the tasks it wraps referenced",
        "https://docs.python.org/3/library/asyncio-task.html#asyncio.gather",
        attr="gathered",
        repeats=True,
    ),
    Entry(
        "tempfile-directory",
        ("tempfile.TemporaryDirectory",),
        "the directory is removed when the object is garbage-collected",
        "https://docs.python.org/3/library/tempfile.html#tempfile.TemporaryDirectory",
        attr="tmpdir",
    ),
    Entry(
        "tempfile-named",
        ("tempfile.NamedTemporaryFile",),
        "the file is deleted when the object is closed or garbage-collected",
        "https://docs.python.org/3/library/tempfile.html#tempfile.NamedTemporaryFile",
        attr="tmpfile",
        condition=_deletes,
    ),
    Entry(
        "weakref-callback",
        ("weakref.ref", "weakref.proxy", "weakref.WeakMethod"),
        "the callback runs only while the weak reference object itself is alive",
        "https://docs.python.org/3/library/weakref.html#weakref.ref",
        attr="weakref",
        condition=_has_callback,
    ),
    Entry(
        "tkinter-image",
        (
            "tkinter.PhotoImage",
            "tkinter.BitmapImage",
            "PIL.ImageTk.PhotoImage",
            "PIL.ImageTk.BitmapImage",
        ),
        "Tk deletes the image when the Python object is collected, and the widget goes blank",
        "https://github.com/python/cpython/issues/110523",
        attr="image",
    ),
    Entry(
        "tkinter-variable",
        ("tkinter.StringVar", "tkinter.IntVar", "tkinter.DoubleVar", "tkinter.BooleanVar"),
        "Tk unsets the variable when the Python object is collected, and the widget loses its value",
        "https://github.com/python/cpython/issues/74863",
    ),
    Entry(
        "matplotlib-animation",
        ("matplotlib.animation.FuncAnimation", "matplotlib.animation.ArtistAnimation"),
        "an animation that is not referenced is collected and never runs",
        "https://matplotlib.org/stable/api/_as_gen/matplotlib.animation.FuncAnimation.html",
        attr="animation",
    ),
    Entry(
        "matplotlib-widget",
        tuple(f"matplotlib.widgets.{name}" for name in _WIDGETS),
        "a widget that is not referenced stops responding (its callbacks are held weakly)",
        "https://matplotlib.org/stable/api/widgets_api.html",
    ),
    Entry(
        "qt-window",
        _qt(("QWidget", "QMainWindow", "QDialog")),
        "a top-level window without a parent is destroyed with its Python object",
        "https://doc.qt.io/qtforpython-6/overviews/qtcore-objecttrees.html",
        attr="window",
        condition=_without_parent,
    ),
    Entry(
        "grpc-server",
        ("grpc.server", "grpc.aio.server"),
        "the server stops itself shortly after it is garbage-collected",
        "https://github.com/grpc/grpc/issues/12069",
        attr="grpc_server",
    ),
    Entry(
        "zmq-context",
        ("zmq.Context", "zmq.asyncio.Context", "zmq.sugar.context.Context"),
        "sockets are closed and the context terminated when it is garbage-collected",
        "https://pyzmq.readthedocs.io/en/latest/api/zmq.html#context",
        attr="zmq_context",
    ),
    Entry(
        "shared-memory",
        ("multiprocessing.shared_memory.SharedMemory",),
        "the handle is closed on collection (the block is destroyed on Windows; views into it crash)",
        "https://github.com/python/cpython/issues/91044",
        attr="shared_memory",
    ),
    Entry(
        "multiprocessing-pool",
        ("multiprocessing.Pool", "multiprocessing.pool.Pool", "multiprocessing.pool.ThreadPool"),
        "the pool's finalizer terminates its workers and pending work is lost",
        "https://docs.python.org/3/library/multiprocessing.html#multiprocessing.pool.Pool",
        attr="pool",
    ),
)

ENTRIES: dict[str, Entry] = {entry.id: entry for entry in CATALOG}
