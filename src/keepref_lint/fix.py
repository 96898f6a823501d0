"""Finding -> replacement: where the result is kept, under which name, and when no fix is safe.

Two shapes, each a few text edits that leave every other byte alone:

- an object: the keep-alive comment goes on its own line above the statement, at the statement's indentation
  and with the line's own line ending, and the statement becomes ``self.<attr> = <call>`` (``_<attr> =
  <call>`` at module level);
- a task or future (it must live exactly until it finishes, and a statement can start many): the asyncio
  documentation's recipe. The task is bound to a fresh local (a dead local is reused), added to one
  module-level set defined once after the imports, and discarded from it by a done-callback::

      # Keep the flush task until it finishes; the event loop holds it only weakly.
      flush_task = asyncio.create_task(self._flush())
      _background_tasks.add(flush_task)
      flush_task.add_done_callback(_background_tasks.discard)

Continuation lines aligned to a bracket that the edit moved are moved with it.
"""

from __future__ import annotations

import ast
import io
import keyword
import re
import tokenize
import unicodedata
from collections.abc import Iterator

from keepref_lint.catalog import ENTRIES
from keepref_lint.finding import Edit, Fix
from keepref_lint.marks import Mark
from keepref_lint.nodes import first_line, walk_nodes
from keepref_lint.scopes import IMPORT, Scope, Statement
from keepref_lint.sourcetext import SourceText

VERB_PREFIXES = ("start_", "create_", "launch_", "spawn_", "make_", "open_")
_METHOD_PREFIXES = ("_", "start_", "init_", "setup_", "set_up_", "create_", "make_", "run_")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TRAILING_OK = re.compile(r"[ \t\f]*(#.*)?(\r\n|\r|\n)?\Z", re.DOTALL)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")

# What a reader calls the object a catalog entry keeps (the comment says it in words).
NOUNS = {
    "asyncio-task": "task",
    "asyncio-shield": "shielded task",
    "asyncio-gather": "gathered future",
    "tempfile-directory": "temporary directory",
    "tempfile-named": "temporary file",
    "weakref-callback": "weak reference (and its callback)",
    "tkinter-image": "image",
    "tkinter-variable": "Tk variable",
    "matplotlib-animation": "animation",
    "matplotlib-widget": "widget",
    "qt-window": "window",
    "grpc-server": "gRPC server",
    "zmq-context": "ZeroMQ context",
    "shared-memory": "shared memory block",
    "multiprocessing-pool": "process pool",
}
# Abbreviations a name often carries, spelt out in the comment.
_ABBREVIATIONS = {
    "tmp": "temporary",
    "temp": "temporary",
    "dir": "directory",
    "tmpdir": "temporary directory",
    "tempdir": "temporary directory",
    "tmpfile": "temporary file",
    "ctx": "context",
    "conn": "connection",
    "srv": "server",
    "mgr": "manager",
    "proc": "process",
    "cfg": "config",
    "img": "image",
    "anim": "animation",
    "ani": "animation",
    "shm": "shared memory block",
    "fut": "future",
}
# Generic names of a coroutine argument: they say nothing a task name should repeat.
_GENERIC = {"coro", "coroutine", "aw", "awaitable", "fut", "future", "task", "c", "f", "cb", "func"}
# The names the set of kept tasks takes, in order of preference.
HOLDER_NAMES = ("_background_tasks", "_pending_tasks", "_running_tasks")
HOLDER_ANNOTATIONS = ("", "asyncio.Task", "asyncio.Future")
_TASK_CALLS = {"create_task", "Task"}  # their result is a Task, not any Future


class NoFix(Exception):
    """Why a finding has no automatic fix (the message completes ``no automatic fix: ...``)."""


def snake_case(name: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def derive_attr(mark: Mark) -> str:
    """An attribute name from the callee: ``start_disagg_service`` -> ``disagg_service``."""
    name = mark.short_name.lstrip("_") or mark.short_name
    if mark.kind == "class" or name[:1].isupper():
        return snake_case(name)
    for prefix in VERB_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


def in_words(attr: str) -> str:
    words = [w for w in snake_case(attr).split("_") if w]
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words) or attr


def noun_of(mark: Mark, base: str) -> str:
    """What the comment calls the kept object: the catalog's word for it, else the name in words."""
    entry = mark.chain[-1].entry
    if entry in NOUNS and mark.attr is None:
        return NOUNS[entry]
    return in_words(base)


def keep_alive_comment(noun: str) -> str:
    return f"# Keep a reference so the {noun} is not garbage-collected."


LINE_LENGTH = 88  # what the fix keeps its comments within when it can (black's and ruff's default)
NAME_LINE_LENGTH = 100  # a specific name is kept unless the line grows past this


def task_comment(noun: str, indent: str) -> str:
    """The comment above a kept task, as long as it fits: with its name in words, else shorter."""
    width = len(indent.expandtabs(4))
    for text in (
        f"# Keep the {noun} until it finishes; the event loop holds it only weakly.",
        "# Keep the task until it finishes; the event loop holds it only weakly.",
        f"# Keep the {noun} until it finishes.",
    ):
        if width + len(text) <= LINE_LENGTH:
            return text
    return "# Keep the task until it finishes."


def is_task(mark: Mark) -> bool:
    """Is the kept value a task or future (a catalog entry whose result repeats per call)?"""
    entry = ENTRIES.get(mark.chain[-1].entry or "")
    return entry is not None and entry.repeats


class FileNames:
    """``used_names`` of a file, walked for only when a name asked about occurs in the file's text (a
    name the text does not hold is no identifier of it; planned names mostly are not): ``in``, ``add``
    and iteration, as on the set. The text test looks for the name as a whole word not right after a
    dot in an ASCII text, else for the substring in the NFKC form of the text (identifiers are
    normalized), so it never says "absent" of a present name."""

    def __init__(self, tree: ast.Module, data: bytes) -> None:
        self._tree = tree
        self._data = data
        self._text: str | None = None
        self._names: set[str] | None = None
        self._added: set[str] = set()

    def _walked(self) -> set[str]:
        if self._names is None:
            self._names = used_names(self._tree) | self._added
        return self._names

    def _in_text(self, name: str) -> bool:
        if self._data.isascii():
            # A name (a read, a definition, a parameter, an import's alias) stands as a whole word, and
            # never right after a dot: ``self._pending_tasks`` is an attribute, which no walk counts.
            needle = name.encode()
            return needle in self._data and (
                re.search(rb"(?<![\w.])" + re.escape(needle) + rb"(?!\w)", self._data) is not None
            )
        if self._text is None:
            try:
                self._text = unicodedata.normalize("NFKC", self._data.decode("utf-8"))
            except UnicodeDecodeError:  # another encoding (a coding cookie): ask the tree
                self._text = ""
                self._walked()
                return name in self._walked()
        return unicodedata.normalize("NFKC", name) in self._text

    def __contains__(self, name: object) -> bool:
        if self._names is not None:
            return name in self._names
        if name in self._added:
            return True
        if not isinstance(name, str) or not self._in_text(name):
            return False
        return name in self._walked()

    def __iter__(self) -> Iterator[str]:
        return iter(self._walked())

    def add(self, name: str) -> None:
        self._added.add(name)
        if self._names is not None:
            self._names.add(name)


def used_names(tree: ast.Module) -> set[str]:
    """Every identifier the file binds or reads as a plain name (one walk per file)."""
    names: set[str] = set()
    for node in walk_nodes(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).partition(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


class NamePlanner:
    """Picks fresh names per class, function or module, so fixes never collide with what is there.

    Names are planned without probing: each (owner, base) remembers the next number to try, so a file
    with many fixes of one base costs time linear in their number.
    """

    def __init__(self, file_names: set[str] | FileNames | None = None) -> None:
        self._taken: dict[int, set[str]] = {}
        self._next: dict[tuple[int, str], int] = {}
        self.file_names = file_names if file_names is not None else set()
        self._holder: str | None = None
        self._near_names: dict[int, set[str]] = {}

    def _taken_in(self, owner: Scope) -> set[str]:
        taken = self._taken.get(id(owner))
        if taken is None:
            taken = set(owner.bindings) | owner.assigned_attrs
            if owner.kind == "module":
                taken.update(self.file_names)
            self._taken[id(owner)] = taken
        return taken

    def free(self, owner: Scope, name: str) -> bool:
        return name not in self._taken_in(owner) and not keyword.iskeyword(name)

    def claim(
        self,
        owner: Scope,
        base: str,
        specific: tuple[str, ...] = (),
        also: frozenset | set = frozenset(),
    ) -> str:
        """``base`` if free, else the first free of ``specific``, else ``base_2``, ``base_3``, ...
        (names in ``also`` count as taken too)."""
        taken = self._taken_in(owner)
        if keyword.iskeyword(base):
            base += "_"
        for name in (base, *specific):
            if (
                name not in taken
                and name not in also
                and name.isidentifier()
                and not keyword.iskeyword(name)
            ):
                taken.add(name)
                return name
        key = (id(owner), base)
        number = self._next.get(key, 2)
        while f"{base}_{number}" in taken or f"{base}_{number}" in also:
            number += 1
        name = f"{base}_{number}"
        self._next[key] = number + 1
        taken.add(name)
        return name

    def _near(self, scope: Scope) -> set[str]:
        """Names a new local of a function could shadow or capture: what it and the scopes nested in
        it bind, read or declare global/nonlocal, what enclosing scopes and the module bind, and the
        file's set of tasks."""
        near = self._near_names.get(id(scope))
        if near is None:
            near = set()
            todo = [scope]
            while todo:
                current = todo.pop()
                near.update(current.bindings, current.reads, current.globals, current.nonlocals)
                todo.extend(current.children)
            outer = scope.parent
            while outer is not None:  # and what the enclosing scopes and the module bind
                near.update(outer.bindings)
                outer = outer.parent
            if self._holder is not None:
                near.add(self._holder)
            self._near_names[id(scope)] = near
        return near

    def claim_local(self, scope: Scope, base: str) -> str:
        """A name for a new local of ``scope`` that changes what no other name means: in a function,
        one it and its nested scopes do not use (a local of another function may have it); at module
        level, one the file does not use anywhere."""
        if scope.kind != "function":
            return self.claim(scope, base, also=self.file_names)
        return self.claim(scope, base, also=self._near(scope))

    def free_local(self, scope: Scope, name: str) -> bool:
        near = self._near(scope) if scope.kind == "function" else self.file_names
        return name not in self._taken_in(scope) and name not in near

    def reuse_holder(self, name: str) -> None:
        """The file already defines a set of kept tasks (an earlier fix): new fixes use it."""
        self._holder = name

    def holder(self) -> str:
        """The name of the file's one set of kept tasks."""
        if self._holder is None:
            for name in HOLDER_NAMES:
                if name not in self.file_names:
                    break
            else:
                number = 2
                while f"{HOLDER_NAMES[0]}_{number}" in self.file_names:
                    number += 1
                name = f"{HOLDER_NAMES[0]}_{number}"
            self.file_names.add(name)
            self._holder = name
        return self._holder


def where(stmt: Statement) -> tuple[str, Scope]:
    """Where the statement stands, as the fixer sees it: method, module, or a reason to decline."""
    scope = stmt.scope
    if scope.kind == "module":
        if stmt.in_loop:
            raise NoFix(
                "in a loop at module level; one name would keep only the last result: "
                "append each result to a module-level list"
            )
        return "module", scope
    if scope.kind == "class":
        raise NoFix("in a class body; create the object in a method and keep it on self")
    if scope.is_static:
        raise NoFix(
            "inside a static method; return the result, or make it a method and keep it on self"
        )
    if scope.self_name is None:
        raise NoFix(
            "not inside a method; return the result, or store it on an object that lives as long "
            "as it must"
        )
    if stmt.in_loop:
        raise NoFix(
            "in a loop; one attribute would keep only the last result: append each result to a "
            f"list on {scope.self_name} (e.g. {scope.self_name}.<name>s.append(...))"
        )
    owner = scope.enclosing_class()
    assert owner is not None
    return "method", owner


def suggestion(stmt: Statement, attr: str, task: bool = False) -> str:
    """The advice in a message when there is no fix to name the keeper."""
    scope = stmt.scope
    if task:
        return (
            "keep each task until it finishes (e.g. background_tasks.add(task); "
            "task.add_done_callback(background_tasks.discard))"
        )
    if stmt.in_loop:
        return "keep every result (e.g. append it to a list that outlives the loop)"
    if scope.kind == "module":
        return f"keep a reference (e.g. _{attr.lstrip('_')} = ...)"
    if scope.kind == "function" and scope.self_name is not None and not scope.is_static:
        return f"keep a reference (e.g. {scope.self_name}.{attr} = ...)"
    return "keep a reference that outlives the function (store it on an object or return it)"


def _statement_bounds(stmt: Statement, source: SourceText) -> tuple[int, int, str, int | None]:
    """(line start, statement start, indentation, end of its last line) or NoFix if it shares a line."""
    node = stmt.node
    start = source.offset(node.lineno, node.col_offset)
    line_start = source.line_starts[node.lineno - 1]
    indent = source.text[line_start:start]
    if indent.strip(" \t\f"):
        raise NoFix("the statement shares its line with other code; put it on a line of its own")
    assert node.end_lineno is not None and node.end_col_offset is not None
    end = source.offset(node.end_lineno, node.end_col_offset)
    line_end = (
        source.line_starts[node.end_lineno] if node.end_lineno < len(source.line_starts) else None
    )
    if not _TRAILING_OK.match(source.text[end:line_end]):
        raise NoFix("the statement shares its line with other code; put it on a line of its own")
    return line_start, start, indent, line_end


def _bind(
    source: SourceText,
    node: ast.stmt,
    line_start: int,
    start: int,
    target: ast.Name | None,
    head: str,
    keeper: str,
) -> list[Edit]:
    """The edits that put ``head`` (the keep-alive comment and the indentation) before the statement
    and bind its value to ``keeper``: ``keeper = `` before a bare call, or ``keeper`` in place of the
    dead local ``target``; continuation lines re-aligned by the width that moved."""
    if target is None:
        moved = realign(source, node, start, len(keeper) + 3)
        return [Edit(line_start, start, f"{head}{keeper} = "), *moved]
    target_end = source.offset(target.lineno, target.end_col_offset or 0)
    moved = realign(source, node, target_end, len(keeper) - len(target.id))
    return [Edit(line_start, target_end, f"{head}{keeper}"), *moved]


def realign(source: SourceText, node: ast.stmt, after: int, width: int) -> list[Edit]:
    """Edits moving continuation lines aligned to a bracket on the statement's first line that opens
    at or after character offset ``after`` (the text there moved right by ``width``)."""
    assert node.end_lineno is not None
    if width == 0 or node.end_lineno == node.lineno:
        return []
    first = source.line_starts[node.lineno - 1]
    last = (
        source.line_starts[node.end_lineno]
        if node.end_lineno < len(source.line_starts)
        else len(source.text)
    )
    snippet = source.text[first:last]
    after_col = after - first
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(snippet).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    stack: list[list] = []  # [row, col, visual]
    spanned: set[int] = set()  # rows that start inside a multi-line token (a string)
    moved: list[int] = []
    last_row = 1
    pending: list | None = None  # an opening bracket waiting to learn if a token follows it
    for tok in tokens:
        if tok.type == tokenize.ENDMARKER:
            break
        (srow, scol), (erow, _) = tok.start, tok.end
        if pending is not None and tok.type not in skip:
            pending[2] = srow == pending[0] and tok.type != tokenize.COMMENT
            pending = None
        if tok.type not in skip and srow > last_row and srow not in spanned:
            if stack and stack[-1][0] == 1 and stack[-1][2] and stack[-1][1] >= after_col:
                moved.append(srow)
        if tok.type not in skip:
            last_row = max(last_row, srow)
        spanned.update(range(srow + 1, erow + 1))
        if tok.type == tokenize.OP and tok.string in "([{":
            entry = [srow, scol, False]
            stack.append(entry)
            pending = entry
        elif tok.type == tokenize.OP and tok.string in ")]}" and stack:
            stack.pop()
        last_row = max(last_row, erow)
    edits = []
    for row in moved:
        lineno = node.lineno + row - 1
        line = source.line(lineno)
        lead = len(line) - len(line.lstrip(" \t\f"))
        pos = source.line_starts[lineno - 1] + lead
        if width > 0:
            edits.append(Edit(pos, pos, " " * width))
        else:
            spaces = len(line[:lead]) - len(line[:lead].rstrip(" "))
            cut = min(-width, spaces)
            if cut:
                edits.append(Edit(pos - cut, pos, ""))
    return edits


def _word(expr: ast.expr) -> str | None:
    """A name-like word for an argument: ``self._flush()`` -> ``flush``, ``conn`` -> ``conn``."""
    if isinstance(expr, ast.Await):
        expr = expr.value
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Attribute):
        word = expr.attr
    elif isinstance(expr, ast.Name):
        word = expr.id
    elif isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        found = _WORD.findall(expr.value)
        word = "_".join(found[:2]) if found else ""
        if len(word) > 20 or len(word) < 3:
            return None
    else:
        return None
    word = snake_case(word.strip("_"))
    if not word or not word.isidentifier() or word in _GENERIC:
        return None
    return word


def specific_names(call: ast.Call, base: str, scope: Scope) -> tuple[str, ...]:
    """More specific names than ``base``: with the first argument, then with the enclosing method."""
    names = []
    if call.args:
        word = _word(call.args[0])
        if word and word != base:
            names.append(f"{word}_{base}")
    if scope.kind == "function" and scope.qualname:
        method = scope.qualname.rpartition(".")[2]
        for prefix in _METHOD_PREFIXES:
            if method.startswith(prefix) and len(method) > len(prefix):
                method = method[len(prefix) :]
        method = snake_case(method.strip("_"))
        base_words = set(base.split("_"))
        if method and method.isidentifier() and not base_words & set(method.split("_")):
            names.append(f"{method}_{base}")
    return tuple(names)


def plan_fix(
    stmt: Statement,
    source: SourceText,
    planner: NamePlanner,
    base_attr: str,
    target: ast.Name | None = None,
    noun: str | None = None,
    call: ast.Call | None = None,
) -> Fix:
    """The edit that keeps an object's result; raises NoFix with the reason when none is safe."""
    node = stmt.node
    place, owner = where(stmt)
    line_start, start, indent, _ = _statement_bounds(stmt, source)
    specific = specific_names(call, base_attr, stmt.scope) if call is not None else ()
    if place == "module":
        bare = f"_{base_attr.lstrip('_')}"
        attr = planner.claim(owner, bare, tuple(f"_{s}" for s in specific))
        keeper = attr
    else:
        attr = planner.claim(owner, base_attr, specific)
        keeper = f"{stmt.scope.self_name}.{attr}"
    newline = source.newline_of(node.lineno)
    head = f"{indent}{keep_alive_comment(noun or in_words(base_attr))}{newline}{indent}"
    edits = _bind(source, node, line_start, start, target, head, keeper)
    return Fix(title=f"Keep the result in {keeper}", edits=tuple(edits), keeper=keeper)


def task_base(call: ast.Call, mark: Mark) -> str:
    """A local's name for the task: ``create_task(self._flush())`` -> ``flush_task``."""
    word = _word(call.args[0]) if call.args else None
    if word is None and mark.source == "inferred":
        word = derive_attr(mark)
        word = None if word in _GENERIC or not word.isidentifier() else snake_case(word)
    if word is None:
        return "task"
    return word if word.endswith("task") else f"{word}_task"


def plan_task_fix(
    stmt: Statement,
    call: ast.Call,
    mark: Mark,
    source: SourceText,
    planner: NamePlanner,
    target: ast.Name | None = None,
) -> Fix:
    """The asyncio docs' recipe for a dropped task; the set's definition is added by ``with_holder``."""
    node = stmt.node
    if stmt.scope.kind == "class":
        raise NoFix("in a class body; start the task in a method or function")
    line_start, start, indent, line_end = _statement_bounds(stmt, source)
    holder = planner.holder()
    reuse = target is not None and target.id != "_"
    if reuse:
        name = target.id  # type: ignore[union-attr]
        noun = in_words(name) if "task" in name else in_words(task_base(call, mark))
    else:
        # The specific name (``flush_task``) unless its line would grow past what long-line
        # projects allow; then its last two words, then ``task``.
        first_line = source.line(node.lineno)[len(indent) :].rstrip("\r\n")
        room = NAME_LINE_LENGTH - len(indent.expandtabs(4)) - len(first_line) - 3
        words = task_base(call, mark).split("_")
        candidates = ["_".join(words), "_".join(words[-3:]) if len(words) > 3 else ""]
        base = next((c for c in candidates if c and len(c) <= room), "task")
        if base == "task" and not planner.free_local(stmt.scope, "task"):
            base = candidates[0]  # a long line reads better than ``task_2``
        name = planner.claim_local(stmt.scope, base)
        noun = in_words(base)
    newline = source.newline_of(node.lineno)
    head = f"{indent}{task_comment(noun, indent)}{newline}{indent}"
    edits = _bind(source, node, line_start, start, target, head, name)
    tail = (
        f"{indent}{holder}.add({name}){newline}{indent}{name}.add_done_callback({holder}.discard)"
    )
    if line_end is None:  # the last line of a file without a final line ending
        edits.append(Edit(len(source.text), len(source.text), f"{newline}{tail}"))
    else:
        edits.append(Edit(line_end, line_end, f"{tail}{newline}"))
    return Fix(
        title=f"Keep the task in {name}, held by {holder} until it finishes",
        edits=tuple(edits),
        keeper=name,
        holder=(holder, "", 0),
    )


def _top_index(body: list[ast.stmt], lineno: int) -> int:
    for i, top in enumerate(body):
        if top.lineno <= lineno <= (top.end_lineno or top.lineno):
            return i
    return len(body)


def existing_holder(tree: ast.Module, file_names: set[str] | FileNames) -> tuple[str, int] | None:
    """A set of kept tasks that an earlier fix defined: ``NAME = set()`` (or annotated) at module level,
    the only assignment to NAME in the file. Returns (name, index in the module body)."""
    names = [name for name in HOLDER_NAMES if name in file_names]
    if not names:
        return None
    stores: dict[str, int] = {}
    for node in walk_nodes(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load) and node.id in names:
            stores[node.id] = stores.get(node.id, 0) + 1
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                stores[name] = stores.get(name, 0) + 2
    for index, top in enumerate(tree.body):
        target = top.targets[0] if isinstance(top, ast.Assign) and len(top.targets) == 1 else None
        if isinstance(top, ast.AnnAssign):
            target = top.target
        value = getattr(top, "value", None)
        if (
            isinstance(target, ast.Name)
            and target.id in names
            and stores.get(target.id) == 1
            and isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "set"
            and not value.args
            and not value.keywords
        ):
            return target.id, index
    return None


def holder_edit(
    tree: ast.Module,
    source: SourceText,
    scopes_module: Scope,
    holder: str,
    fixes: list[tuple[Statement, Fix, ast.Call]],
    existing: tuple[str, int] | None = None,
) -> tuple[tuple[str, str, int], Edit | None]:
    """Where and how the file's set of kept tasks is defined: after the imports (before any
    module-level statement that uses it), annotated when the file imports asyncio; or the set an
    earlier fix defined (no edit)."""
    if "set" in scopes_module.bindings:
        raise NoFix("the module rebinds set; keep the task in a collection of your own")
    body = tree.body
    limit = min(
        (_top_index(body, s.node.lineno) for s, _, _ in fixes if s.scope.kind == "module"),
        default=len(body),
    )
    if existing is not None and existing[0] == holder:
        if existing[1] >= limit:
            raise NoFix(f"{holder} is defined after this statement; move its definition up")
        return (holder, "", -1), None
    index = 0
    for i, top in enumerate(body[:limit]):
        if isinstance(top, (ast.Import, ast.ImportFrom)) or _guarded_import(top):
            index = i + 1
        elif not _is_docstring(top):
            break  # the imports at the top end here (a string between them is a comment)
    if index == 0 and body and _is_docstring(body[0]) and limit > 0:
        index = 1
    while 0 < index < len(body) and body[index].lineno == body[index - 1].end_lineno:
        index += 1  # ``import a; x = 1``: after the whole line
    if index > limit:
        raise NoFix("the set of tasks cannot be defined before its first use")
    asyncio_bound = scopes_module.bindings.get("asyncio", [])
    annotation = ""
    if asyncio_bound and all(k == IMPORT and p == "asyncio" for k, p in asyncio_bound):
        tasks_only = all(
            isinstance(c.func, (ast.Name, ast.Attribute))
            and (c.func.id if isinstance(c.func, ast.Name) else c.func.attr) in _TASK_CALLS
            for _, _, c in fixes
        )
        annotation = "asyncio.Task" if tasks_only else "asyncio.Future"
    definition = f"{holder}: set[{annotation}] = set()" if annotation else f"{holder} = set()"
    comment = (
        "# Tasks this module started, kept until they finish (the event loop holds them weakly)."
    )
    if index == 0:
        line = first_line(body[0]) if body else 1
        newline = source.newline_of(line)
        at = source.line_starts[line - 1] if body else len(source.text)
        gap = (
            newline * 2
            if body and isinstance(body[0], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            else newline
        )
        edit = Edit(at, at, f"{comment}{newline}{definition}{newline}{gap if body else ''}")
    else:
        last = body[index - 1].end_lineno or body[index - 1].lineno
        newline = source.newline_of(last)
        if last < len(source.line_starts):
            at = source.line_starts[last]
            edit = Edit(at, at, f"{newline}{comment}{newline}{definition}{newline}")
        else:
            at = len(source.text)
            edit = Edit(at, at, f"{newline}{newline}{comment}{newline}{definition}")
    return (holder, annotation, index), edit


def _guarded_import(stmt: ast.stmt) -> bool:
    """``try: import x`` / ``if TYPE_CHECKING: from y import z``: part of the imports at the top."""
    if not isinstance(stmt, (ast.If, ast.Try)):
        return False
    return any(isinstance(s, (ast.Import, ast.ImportFrom)) for s in stmt.body)


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )
