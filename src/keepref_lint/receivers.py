"""Receiver types across modules: what other files state about the classes and functions a receiver of a
must-retain method goes through (``self.hass.loop.create_task(...)`` needs ``HomeAssistant.loop``).

The facts are read only where a question leads. The receiver files are those whose text calls a
must-retain method name (``.create_task(``); resolving their receivers (``resolve.FileScopes.qualify``)
asks about classes and functions of other modules, and only the modules those questions name are read,
round after round while answers lead to new questions. Each fact is an instance type (``@pkg.Cls``)
the defining file states: an annotated or assigned attribute, a property's or a function's return
annotation, and a class's bases (so inherited attributes are found). Nothing is guessed: a question
without a stated answer stays unknown.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

from keepref_lint import stats
from keepref_lint.catalog import TYPE_ALIASES
from keepref_lint.prefilter import has_lone_cr, occurrences
from keepref_lint.resolve import (
    _COLLECTIONS,
    _MAPPINGS,
    _QUALIFIERS,
    _TUPLES,
    _UNIONS,
    ANNOTATED,
    DEF,
    INSTANCE,
    FileScopes,
    Scope,
    TypeOracle,
    dotted_name,
    mapping_values,
)
from keepref_lint.sourcetext import parse_quietly

_MAX_ROUNDS = 8
_TYPES = frozenset(TYPE_ALIASES.values())  # the catalog's types (the event loop)
# What may stand before ``.name(`` on its line when the call can be a drop: a statement start, plain
# assignments, ``await``, then a receiver of names, dots and call brackets (``self.hass.loop``,
# ``get_loop()``), through at least one attribute or call: a plain local's type (``loop.create_task``) is
# stated in its own file or by a call, which its file states too unless the call is another module's
# (``loop = get_loop()`` across modules is not followed: a known gap). A receiver that starts on an earlier line is not looked at (its file is still checked
# as before; only the other modules' facts are not read for it).
_RECEIVER_PREFIX = re.compile(
    rb"[ \t]*(?:[\w.]+[ \t]*(?::[^=\n]*)?=(?!=)[ \t]*)*(?:await[ \t]+)?[\w.()]*[.)][\w]*\Z"
)
# The same before a plain name (``loop.create_task(...)``): the name is group 1.
_PLAIN_RECEIVER = re.compile(
    rb"[ \t]*(?:[\w.]+[ \t]*(?::[^=\n]*)?=(?!=)[ \t]*)*(?:await[ \t]+)?(\w+)\Z"
)
_MAX_BASES = 20


class FileFacts:
    """What one module states about its classes and functions (instance types, already qualified)."""

    def __init__(self) -> None:
        self.attrs: dict[str, dict[str, list[str]]] = {}  # class -> attribute -> types
        self.bases: dict[str, list[str]] = {}  # class -> qualified bases
        self.returns: dict[str, tuple[bool, list[str]]] = {}  # function -> (async, types)
        self.typevars: dict[str, list[str]] = {}  # module-level TypeVar -> its bound's types
        self.defined: dict[str, str] = {}  # class -> "class", module-level function -> "function"
        # Un-annotated function -> (async, what every return calls): its type when that is a class.
        self.constructs: dict[str, tuple[bool, str]] = {}

    def shape(self) -> tuple:
        return (self.attrs, self.bases, self.returns, self.typevars, self.defined, self.constructs)


def file_facts(scopes: FileScopes, known: Callable[[str], bool]) -> FileFacts:
    """The facts one file states, resolved with its own scopes (and the oracle it carries)."""
    facts = FileFacts()
    for name, kinds in scopes.module.bindings.items():
        if any(kind == DEF for kind, _ in kinds):
            facts.defined[f"{scopes.module.qualname}.{name}"] = "function"
    for qualname, cls in scopes.classes.items():
        facts.defined[qualname] = "class"
        parent = cls.parent or scopes.module
        bases = [
            q
            for base in cls.bases
            for q in scopes.qualify(base, parent, known)
            if not q.startswith(INSTANCE)
        ]
        if bases:
            facts.bases[qualname] = bases
        names = set(cls.attr_values)
        names.update(
            name
            for name, kinds in cls.bindings.items()
            if any(kind in (ANNOTATED, DEF) for kind, _ in kinds)
        )
        for attr in sorted(names):
            types = [t for t in scopes._class_member(cls, attr, known, 0) if t.startswith(INSTANCE)]
            if types:
                facts.attrs.setdefault(qualname, {})[attr] = types
    module = scopes.module
    for name, kinds in module.bindings.items():
        if any(kind == "assign" and isinstance(p, ast.Call) for kind, p in kinds):
            bounds = [
                t
                for t in scopes.qualify(ast.Name(name, ast.Load()), module, known)
                if t.startswith(INSTANCE)
            ]
            if bounds and all(
                isinstance(p, ast.Call) and dotted_name(p.func) in ("TypeVar", "typing.TypeVar")
                for kind, p in kinds
            ):
                facts.typevars[f"{module.qualname}.{name}"] = bounds
    for qualname, function in scopes.functions.items():
        node = function.node
        returns = getattr(node, "returns", None)
        if returns is None:  # un-annotated: only ``return Cls(...)`` everywhere states a type
            called = scopes.constructed_class(function, known, 0)
            if called is not None:  # a type if it is a class: asked when the function is
                facts.constructs[qualname] = (isinstance(node, ast.AsyncFunctionDef), called)
            continue
        cls = function.enclosing_class()
        types = scopes._annotation_type(
            returns, function.parent or scopes.module, known, 0, cls.qualname if cls else None
        )
        if types:
            facts.returns[qualname] = (isinstance(node, ast.AsyncFunctionDef), types)
    return facts


class ReceiverTypes(TypeOracle):
    """The facts of the files read so far, answering ``resolve.TypeOracle``'s questions."""

    def __init__(self) -> None:
        self.facts: dict[str, FileFacts] = {}  # path -> facts
        self.modules: dict[str, str] = {}  # module -> path, for the files read
        self._attrs: dict[str, dict[str, list[str]]] = {}
        self._bases: dict[str, list[str]] = {}
        self._returns: dict[str, tuple[bool, list[str]]] = {}
        self._typevars: dict[str, list[str]] = {}
        self._defined: dict[str, str] = {}
        self._constructs: dict[str, tuple[bool, str]] = {}
        self.questions: set[str] | None = None  # while resolving: qualified names asked about
        self.asked: set[str] = set()  # every question of the build (a new module may answer one)
        self.names: set[str] = set()  # the must-retain method names whose receivers were typed
        # Receiver files where a receiver's type makes a call must-retain: checked even when the text
        # alone would not bring them in (``self.websocket.loop.create_task`` without ``import asyncio``).
        self.hits: set[str] = set()
        # The build's prefilter: a receiver that is a plain name is looked at only in a file it selects
        # (a file that is parsed to be checked anyway).
        self.selected: Callable[[bytes, str], bool] | None = None
        # Method names whose receivers can reach a mark only through a type whose chain of stated types
        # ends at one of the marks' classes -> the words such a chain must go through (see
        # ``receiver_gates``); a text that mentions none of them calls no mark by that name.
        self.gates: dict[str, frozenset[str]] = {}
        self.carried: dict[str, dict[str, frozenset[str]]] = {}  # path -> gated name -> its words

    def receiver_file(self, data: bytes, path: str) -> bool:
        """Is this text a receiver file: does it call a must-retain method name where the result could
        be dropped, on a receiver whose type other modules may state? A text in which every such name
        that occurs is gated, and none of its gate's words, is not (none of its calls can be one)."""
        if self.gates and not self._may_reach(data):
            return False
        if calls_a_receiver(data, self.names):
            return True
        return (
            self.selected is not None
            and calls_a_receiver(data, self.names, plain=True)
            and self.selected(data, path)
        )

    def _may_reach(self, data: bytes) -> bool:
        for name in self.names:
            if name.encode() not in data:
                continue
            words = self.gates.get(name)
            if words is None or any(w.encode() in data for w in words):
                return True
        return False

    def gates_hold(self, file: object, cache: object) -> bool:
        """Does this text carry, for each gate, the words the build found it carrying? (A text that
        would add a word, or take one away, changes which files are receiver files.)"""
        data, path = file.data, file.path  # type: ignore[attr-defined]
        before = self.carried.get(path, {})
        for name, words in self.gates.items():
            now: frozenset[str] = frozenset()
            if any(w.encode() in data for w in words):
                tree = _tree(file, cache)
                if tree is not None:
                    now = frozenset(FileRules(tree, data).carried(words))
            if now != before.get(name, frozenset()):
                return False
        return True

    def add(self, path: str, module: str, facts: FileFacts) -> None:
        self.facts[path] = facts
        self.modules[module] = path
        self._attrs.update(facts.attrs)
        self._bases.update(facts.bases)
        self._returns.update(facts.returns)
        self._typevars.update(facts.typevars)
        self._defined.update(facts.defined)
        self._constructs.update(facts.constructs)

    def _ask(self, qualname: str) -> None:
        if self.questions is not None:
            self.questions.add(qualname)

    def _mro(self, cls: str) -> list[str]:
        order, todo = [], [cls]
        while todo and len(order) < _MAX_BASES:
            current = todo.pop(0)
            if current in order:
                continue
            order.append(current)
            self._ask(current)
            todo.extend(self._bases.get(current, ()))
        return order

    def _stated_return(self, qualname: str) -> tuple[bool, list[str]] | None:
        entry = self._returns.get(qualname)
        if entry is None and qualname in self._constructs:
            is_async, called = self._constructs[qualname]
            entry = (is_async, [INSTANCE + called]) if self.is_class(called) else (is_async, [])
        return entry

    def return_types(self, qualname: str, awaited: bool) -> list[str] | None:
        self._ask(qualname)
        entry = self._stated_return(qualname)
        if entry is None and "." in qualname:  # a method inherited from a base
            owner, _, name = qualname.rpartition(".")
            for cls in self._mro(owner)[1:]:
                entry = self._stated_return(f"{cls}.{name}")
                if entry is not None:
                    break
        if entry is None:
            return None
        is_async, types = entry
        return types if is_async == awaited else []

    def defines(self, qualname: str) -> bool:
        self._ask(qualname)
        return qualname in self._defined

    def is_class(self, qualname: str) -> bool:
        self._ask(qualname)
        return self._defined.get(qualname) == "class"

    def attribute_types(self, cls: str, attr: str) -> list[str] | None:
        bounds = self._typevars.get(cls)
        if bounds is not None:  # an instance of a TypeVar: of its bound
            found = [
                t
                for b in bounds
                if b != INSTANCE + cls
                for t in self.attribute_types(b[1:], attr) or ()
            ]
            return found or None
        for current in self._mro(cls):
            types = self._attrs.get(current, {}).get(attr)
            if types:
                return types
        return None


def method_names(qualnames: Iterable[tuple[str, str]]) -> set[str]:
    """Last names of must-retain methods: (qualified name, kind) of marks whose owner is a class."""
    found = set()
    for qualname, kind in qualnames:
        parts = qualname.split(".")
        owner = ".".join(parts[:-1])
        if len(parts) > 1 and (
            kind == "method" or owner in _TYPES or (kind == "unknown" and parts[-2][:1].isupper())
        ):
            found.add(parts[-1])
    return found


def receiver_calls(scopes: FileScopes, names: set[str]) -> list[tuple[ast.Attribute, Scope]]:
    """The receivers of calls of a must-retain method name in statements that could drop them."""
    found = []
    for stmt in scopes.statements:
        value = stmt.node.value
        if isinstance(value, ast.Await):
            value = value.value
        if isinstance(value, ast.IfExp):
            candidates = [value.body, value.orelse]
        else:
            candidates = [value]
        for call in candidates:
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in names
            ):
                found.append((call.func, stmt.scope))
    return found


def module_of(qualname: str, modules: dict[str, object]) -> str | None:
    """The longest prefix of ``qualname`` that is a module of the project."""
    parts = qualname.split(".")
    for i in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in modules:
            return prefix
    return None


def calls_a_receiver(data: bytes, names: Iterable[str], plain: bool = False) -> bool:
    """Does the text call one of the method ``names`` where the result could be dropped? With
    ``plain``: on a plain name that the file assigns (``loop = other.get_loop()``, a walrus), or any
    name when the file star-imports (the name's class may come from the star)."""
    if has_lone_cr(data):  # its lines are not read by LF: say yes where a name is called at all
        return any(f".{name}(".encode() in data for name in names)
    star = plain and b"import *" in data
    assigned: dict[bytes, bool] = {}
    for name in names:
        needle = f".{name}(".encode()
        at = data.find(needle)
        while at != -1:
            start = data.rfind(b"\n", 0, at) + 1
            if not plain:
                if _RECEIVER_PREFIX.match(data[start:at]):
                    return True
            elif match := _PLAIN_RECEIVER.match(data[start:at]):
                if star:
                    return True
                local = match.group(1)
                if local not in assigned:
                    pattern = rb"(?<![\w.])" + local + rb"[ \t]*(?::[^=\n]*)?=(?!=)"
                    assigned[local] = re.search(pattern, data) is not None
                if assigned[local]:
                    return True
            at = data.find(needle, at + len(needle))
    return False


def questions_of(
    file: object,
    cache: object,
    types: ReceiverTypes,
    names: set[str],
    known: Callable[[str], bool],
    release: bool = True,
) -> set[str] | None:
    """Resolve the receivers of one file with the facts so far; the qualified names it asked about
    (None when the file does not parse). Without ``release`` the caller hands the analysis back."""
    scopes = cache.scopes(file)  # type: ignore[attr-defined]
    if scopes is None:
        return None
    saved, types.questions = types.questions, set()
    try:
        scopes.types = types
        for func, scope in receiver_calls(scopes, names):
            if any(known(q) for q in scopes.qualify(func, scope, known)):
                types.hits.add(file.path)  # type: ignore[attr-defined]
        return types.questions
    finally:
        types.questions = saved
        if release:
            cache.done(file)  # type: ignore[attr-defined]


def build_receiver_types(
    files: list,
    cache: object,
    corpus: object,
    names: set[str],
    known: Callable[[str], bool],
    selected: Callable[[bytes, str], bool] | None = None,
    gates: dict[str, frozenset[str]] | None = None,
) -> tuple[ReceiverTypes, set[str]]:
    """The facts receivers in ``files`` lead to, and the paths read (receiver files, fact files and
    the files the gates were closed over); ``selected`` is the prefilter of the files to check (see
    ``ReceiverTypes.selected``), ``gates`` the owners of the gated names (``receiver_gates``)."""
    types = ReceiverTypes()
    types.names = set(names)
    types.selected = selected
    if not names:
        return types, set()
    closure: set[str] = set()
    if gates:
        types.gates, types.carried, closure = close_gates(gates, files, cache, corpus)
    by_module = {file.module: file for file in files}
    found: set[int] = set()
    for name in names:
        found |= corpus.files_with(f".{name}(")  # type: ignore[attr-defined]
    receiver_files = [
        files[i] for i in sorted(found) if types.receiver_file(files[i].data, files[i].path)
    ]
    # A file is resolved again only when a module it asked about was read in the round before: the
    # answers to its other questions cannot have changed (the facts of a module are keyed under it).
    asked_in: dict[str, set[str]] = {}  # receiver file -> the modules its questions named
    pending = receiver_files
    for round_ in range(_MAX_ROUNDS):
        wanted: dict[str, object] = {}
        for file in pending:
            types.hits.discard(file.path)
            modules = asked_in[file.path] = set()
            again = False  # asked about a module not read yet: resolved again next round
            for qualname in questions_of(file, cache, types, names, known, release=False) or ():
                types.asked.add(qualname)
                module = module_of(qualname, by_module)
                if module is None:
                    continue
                modules.add(module)
                if by_module[module].path not in types.facts:
                    wanted[by_module[module].path] = by_module[module]
                    again = True
            if not again:
                cache.done(file)  # type: ignore[attr-defined]
        if not wanted:
            break
        if round_ == _MAX_ROUNDS - 1:
            for file in pending:
                cache.done(file)  # type: ignore[attr-defined]
        new = {file.module for file in wanted.values()}  # type: ignore[attr-defined]
        pending = [file for file in receiver_files if asked_in[file.path] & new]
        for path, file in sorted(wanted.items()):
            scopes = cache.scopes(file)  # type: ignore[attr-defined]
            if scopes is None:
                types.add(path, file.module, FileFacts())  # type: ignore[attr-defined]
                continue
            scopes.types = types
            types.add(path, file.module, file_facts(scopes, known))  # type: ignore[attr-defined]
            cache.done(file)  # type: ignore[attr-defined]
    stats.add("receiver_files", len(receiver_files))
    stats.add("receiver_fact_files", len(types.facts))
    stats.add("receiver_gate_files", len(closure))
    return types, {file.path for file in receiver_files} | set(types.facts) | closure


# -- gates: which files can call a mark by a gated method name -----------------------------------------
# A receiver ``x.start()`` resolves to a mark ``pkg.Cls.start`` only through a chain of stated types
# that ends at ``Cls`` or a name the index relates to it (a subclass, an alias: ``Prefilter.owners``),
# and each link of the chain is a name the receiver's text, or another module's statement, names: an
# attribute, a called function, an imported or annotated name, a TypeVar. So the words a receiver file
# must mention are the owners and, closed over the project, every name a statement binds or defines
# from one of them (``self.collector = Cls(...)``, ``def make() -> Cls``, ``class Sub(Cls)``,
# ``T = TypeVar("T", bound=Cls)``, ``for c in self.collectors``, ...). The closure reads only the
# files whose text holds a word of it, and gives up (the name stays ungated) past a budget.
_CLOSURE_FILES = 400
_CLOSURE_SHARE = 10  # at most a tenth of the project's bytes (or a megabyte)
_CLOSURE_BYTES = 1 << 20
_CLOSURE_FLOOR = 1 << 16  # what any gate may read
_ENTER = frozenset({"__enter__", "__aenter__"})


def receiver_gates(
    names: Iterable[str],
    owners: dict[str, Iterable[str]],
    marks: Iterable[tuple[str, str, str]],
    classes: Iterable[str],
) -> dict[str, frozenset[str]]:
    """The gated method names -> their owners' names: a name whose marks (qualified name, kind,
    source) are all inferred or decorated methods of classes outside functions, that is not the name
    of a catalog entry or of a summarized class (``known`` reaches those other ways), and that the
    prefilter reaches through owners only (``Prefilter.owners``)."""
    blocked = set(classes)
    for qualname, kind, source in marks:
        parts = qualname.split(".")
        if not (
            kind == "method"
            and source in ("decorator", "inferred")
            and len(parts) > 2
            and "<locals>" not in parts
        ):
            blocked.add(parts[-1])
    return {
        name: frozenset(owners[name])
        for name in names
        if name in owners and name not in blocked and owners[name]
    }


def _tree(file: object, cache: object) -> ast.Module | None:
    """The file's tree (the cache's if it holds one), None when it does not parse; no error is kept."""
    tree = cache.trees.get(file.path)  # type: ignore[attr-defined]
    if tree is not None:
        return tree
    try:
        return parse_quietly(file.data, file.display)  # type: ignore[attr-defined]
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _words(node: ast.AST | None) -> set[str]:
    """Every name in an expression (and the words of its strings)."""
    found: set[str] = set()
    if node is None:
        return found
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            found.update(re.findall(r"\w+", sub.value))
    return found


def _heads(node: ast.AST | None, typing: frozenset[str]) -> set[str]:
    """The names whose stated types an expression's type can come from (``resolve.FileScopes.qualify``):
    a name, an attribute's last name, what a call calls (and for a call of one of ``typing``, a
    ``cast``'s or a ``TypeVar``'s type), the sides of a conditional."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    if isinstance(node, ast.Call):
        found = _heads(node.func, typing)
        if not found.isdisjoint(typing):
            found |= _words(node.args[0]) if node.args else set()
            for keyword in node.keywords:
                if keyword.arg == "bound":
                    found |= _words(keyword.value)
        return found
    if isinstance(node, (ast.Await, ast.NamedExpr)):
        return _heads(node.value, typing)
    if isinstance(node, ast.IfExp):
        return _heads(node.body, typing) | _heads(node.orelse, typing)
    if isinstance(node, ast.BoolOp):
        return {h for value in node.values for h in _heads(value, typing)}
    return set()


def _values(node: ast.AST | None, typing: frozenset[str]) -> set[str]:
    """``_heads``, and for a display or a comprehension its items' (what a ``for`` over the name
    bound to it binds: ``resolve.FileScopes._element_types``)."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return {h for elt in node.elts for h in _values(elt, typing)}
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
        return _values(node.elt, typing)
    return _heads(node, typing)


def _elements(node: ast.AST | None, typing: frozenset[str]) -> set[str]:
    """The names whose stated types can give what ``for x in node`` binds (``_element_types``): a
    display's or a comprehension's items, a name or an attribute (a collection it is annotated or
    assigned as), ``.values()`` of one."""
    if isinstance(
        node, (ast.List, ast.Tuple, ast.Set, ast.ListComp, ast.SetComp, ast.GeneratorExp)
    ):
        return _values(node, typing)
    node = mapping_values(node) or node
    if isinstance(node, (ast.Name, ast.Attribute)):
        return _heads(node, typing)
    return set()


def _typed(node: ast.AST | None, heads: frozenset[str]) -> set[str]:
    """The names whose types an annotation can state (``resolve.FileScopes._annotation_type`` and the
    element types of ``_annotation_element``): names, unions, a subscript only when its head is one of
    ``heads`` (``Optional``, ``Final``, ``list``, ...: not ``Type[X]`` or ``Callable[..., X]``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            parsed = ast.parse(node.value.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return _words(node)
        return _typed(parsed, heads)
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    if isinstance(node, ast.BinOp):
        return _typed(node.left, heads) | _typed(node.right, heads)
    if isinstance(node, (ast.Tuple, ast.List)):
        return {w for elt in node.elts for w in _typed(elt, heads)}
    if isinstance(node, ast.Subscript) and not _heads(node.value, frozenset()).isdisjoint(heads):
        return _typed(node.slice, heads)
    return set()


def _targets(node: ast.AST | None) -> list[ast.expr]:
    """The names and attributes a target binds (``x``, ``self.x``, ``a, *b``); a subscript none."""
    if isinstance(node, (ast.Name, ast.Attribute)):
        return [node]
    if isinstance(node, ast.Starred):
        return _targets(node.value)
    if isinstance(node, (ast.Tuple, ast.List)):
        return [n for elt in node.elts for n in _targets(elt)]
    return []


def _captures(pattern: ast.AST) -> set[str]:
    found: set[str] = set()
    for sub in ast.walk(pattern):
        name = getattr(sub, "name", None) if isinstance(sub, (ast.MatchAs, ast.MatchStar)) else None
        if isinstance(sub, ast.MatchMapping):
            name = sub.rest
        if name:
            found.add(name)
    return found


_TYPING_CALLS = ("cast", "TypeVar")
_TYPE_HEADS = tuple(
    sorted(
        {
            q.rpartition(".")[2]
            for q in (*_UNIONS, *_QUALIFIERS, *_COLLECTIONS, *_TUPLES, *_MAPPINGS)
        }
    )
)
_GLOBAL = re.compile(rb"\bglobal[ \t]+([\w \t,]+)")
_BODIES = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})


_AS_AFTER = re.compile(rb"[ \t]+as[ \t]+(\w+)")
_ASSIGNED_BEFORE = re.compile(rb"(\w+)[ \t]*(?::[^=\n]*)?=[ \t]*[\w.]*\Z")


def _aliases(data: bytes, names: Iterable[str]) -> frozenset[str]:
    """``names`` and, by text, what the module may bind them to (``from typing import cast as c``,
    ``c = typing.cast``): more names than it does, never fewer."""
    found = set(names)
    pending = list(found)
    while pending:
        name = pending.pop()
        for at in occurrences(data, name):
            after = _AS_AFTER.match(data, at + len(name))
            start = data.rfind(b"\n", 0, at) + 1
            before = _ASSIGNED_BEFORE.search(data, start, at)
            for match in (after, before):
                if match is not None:
                    alias = match.group(1).decode("utf-8", "replace")
                    if alias not in found:
                        found.add(alias)
                        pending.append(alias)
    return frozenset(found)


class _Rule(NamedTuple):
    """A statement that binds names (``exported``: reachable from other modules; ``local``: within
    one function of this one) from a type it may state when one of ``words`` is known (a local of a
    function of ``chain``), or when one of ``selves``' classes is and ``words`` meet its own words
    (``self``, ``Self``)."""

    words: frozenset[str]
    selves: tuple[tuple[str, frozenset[str]], ...]
    exported: frozenset[str]
    local: frozenset[str]
    chain: tuple[int, ...]  # the functions whose locals ``words`` may be, innermost first
    into: int  # the function whose locals ``local`` are


class FileRules:
    """One module's statements that can give a name a stated type, as rules (see ``carried``): more
    than the resolver would type (any name that can carry the type counts), never fewer.

    A statement is looked at only once a word it holds is known (``carried`` asks with more words as
    the closure grows): its rules could not fire before. Lines are found by text, the statements
    through the tree, descending only into those whose lines hold a known word."""

    def __init__(self, tree: ast.Module, data: bytes) -> None:
        self.tree = tree
        self.data = data
        self._typing: frozenset[str] | None = None
        self._heads: frozenset[str] | None = None
        self.declared = {
            name.decode("utf-8", "replace")
            for match in _GLOBAL.finditer(data)
            for name in re.findall(rb"\w+", match.group(1))
        }
        self.rules: list[_Rule] = []
        self._seen: set[int] = set()  # statements whose rules are made
        self._words: set[str] = set()  # words whose lines were looked at
        self._lines: set[int] = set()
        self._newlines: list[int] | None = None
        self._chain: tuple[int, ...] = ()  # while making rules: the enclosing functions

    @property
    def typing(self) -> frozenset[str]:
        if self._typing is None:
            self._typing = _aliases(self.data, _TYPING_CALLS)
        return self._typing

    @property
    def heads(self) -> frozenset[str]:
        if self._heads is None:
            self._heads = _aliases(self.data, _TYPE_HEADS)
        return self._heads

    def carried(self, words: frozenset[str]) -> set[str]:
        """The names other modules can reach that the rules type from ``words`` (a fixpoint: a local
        typed from a word can type an attribute)."""
        exported: set[str] = set()
        known = set(words)
        locals_: dict[int, set[str]] = {}
        while True:
            self._extend(known | {n for names in locals_.values() for n in names})
            size = len(known) + sum(map(len, locals_.values()))
            pending = self.rules
            while True:
                left = []
                for rule in pending:
                    if (
                        not rule.words.isdisjoint(known)
                        or any(not rule.words.isdisjoint(locals_.get(f, ())) for f in rule.chain)
                        or any(
                            cls in known and not rule.words.isdisjoint(own)
                            for cls, own in rule.selves
                        )
                    ):
                        exported |= rule.exported
                        known |= rule.exported
                        if rule.local:
                            locals_.setdefault(rule.into, set()).update(rule.local)
                    else:
                        left.append(rule)
                if len(left) == len(pending):
                    break
                pending = left
            if len(known) + sum(map(len, locals_.values())) == size:
                return exported

    def _extend(self, known: set[str]) -> None:
        new = known - self._words
        if not new:
            return
        self._words |= new
        if self._newlines is None:
            # Line breaks as the parser counts them (a lone CR is one), so lines match the tree's.
            self._newlines = [m.start() for m in re.finditer(rb"\r\n?|\n", self.data)]
        added = False
        for word in new:
            for at in occurrences(self.data, word):
                line = bisect.bisect_left(self._newlines, at) + 1
                if line not in self._lines:
                    self._lines.add(line)
                    added = True
        if added or any(w in new for w in self._class_names()):
            self._statements(self.tree.body, (), None, None, None, False)

    def _class_names(self) -> set[str]:
        names = getattr(self, "_classes", None)
        if names is None:
            names = self._classes = {
                m.decode("utf-8", "replace") for m in re.findall(rb"\bclass[ \t]+(\w+)", self.data)
            }
        return names

    def _interesting(self, node: ast.AST) -> bool:
        first = getattr(node, "lineno", None)
        if first is None:
            return True
        last = getattr(node, "end_lineno", None) or first
        for decorator in getattr(node, "decorator_list", ()):  # above the ``def`` line
            first = min(first, decorator.lineno)
        if last - first < 8:
            return any(line in self._lines for line in range(first, last + 1))
        return any(first <= line <= last for line in self._lines)

    def _statements(
        self,
        body: list,
        selves: tuple[tuple[str, frozenset[str]], ...],
        cls: str | None,
        function: ast.AST | None,
        outer: ast.AST | None,
        force: bool,
    ) -> None:
        for node in body:
            if not force and not self._interesting(node):
                continue
            self._statement(node, selves, cls, function, outer, force)

    def _rule(
        self,
        words: set[str],
        targets: list[ast.expr],
        selves: tuple[tuple[str, frozenset[str]], ...],
        function: ast.AST | None,
        also: tuple[str, ...] = (),
        chain: tuple[int, ...] | None = None,
    ) -> None:
        """A rule binding ``targets`` where ``function`` (None: a module or a class body) binds."""
        if not words:
            return
        exported, local = set(also), set()
        for target in targets:
            if isinstance(target, ast.Attribute):
                exported.add(target.attr)
            elif isinstance(target, ast.Name):
                if function is None or target.id in self.declared:
                    exported.add(target.id)
                else:
                    local.add(target.id)
        if exported or local:
            self.rules.append(
                _Rule(
                    frozenset(words),
                    selves,
                    frozenset(exported),
                    frozenset(local),
                    self._chain if chain is None else chain,
                    id(function) if function is not None else 0,
                )
            )

    def _define(self, words, name, selves, cls, where) -> None:  # type: ignore[no-untyped-def]
        also = (cls,) if name in _ENTER and cls is not None else ()  # ``with Cls() as x``
        self._rule(words, [ast.Name(name)], selves, where, also)

    def _statement(self, node, selves, cls, function, outer, force) -> None:  # type: ignore[no-untyped-def]
        first = id(node) not in self._seen
        self._seen.add(id(node))
        if isinstance(node, ast.ClassDef):
            if first:
                words = {w for base in [*node.bases, *node.keywords] for w in _words(base)}
                self._define(words, node.name, selves, cls, function)
                self._expressions(node, selves, function)
            own = frozenset(
                {"Self"}
                | {
                    args[0].arg
                    for item in node.body
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                    for args in [[*item.args.posonlyargs, *item.args.args]]
                    if args
                }
            )
            inner = force or node.name in self._words  # its ``self`` may be anywhere in it
            self._statements(node.body, (*selves, (node.name, own)), node.name, None, None, inner)
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if first:
                arguments = node.args
                for arg in [
                    *arguments.posonlyargs,
                    *arguments.args,
                    *arguments.kwonlyargs,
                    *([arguments.vararg] if arguments.vararg else []),
                    *([arguments.kwarg] if arguments.kwarg else []),
                ]:
                    if arg.annotation is not None:
                        self._rule(
                            _typed(arg.annotation, self.heads),
                            [ast.Name(arg.arg)],
                            selves,
                            node,
                            chain=(id(node), *self._chain),
                        )
                if node.returns is not None:
                    self._define(_typed(node.returns, self.heads), node.name, selves, cls, function)
                self._expressions(node, selves, function)
            saved, self._chain = self._chain, (id(node), *self._chain)
            try:
                self._statements(node.body, selves, cls, node, function, force)
            finally:
                self._chain = saved
            return
        if first:
            if isinstance(node, ast.Return):
                # An un-annotated function's type is what every ``return`` constructs (a call of a
                # class: ``resolve.FileScopes.constructed_class``).
                if (
                    isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and function.returns is None
                    and isinstance(node.value, ast.Call)
                ):
                    words = _heads(node.value.func, frozenset())
                    self._define(words, function.name, selves, cls, outer)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    self._rule(_values(node.value, self.typing), _targets(target), selves, function)
            elif isinstance(node, ast.AugAssign):
                self._rule(
                    _values(node.value, self.typing), _targets(node.target), selves, function
                )
            elif isinstance(node, ast.AnnAssign):
                words = _typed(node.annotation, self.heads) | _values(node.value, self.typing)
                self._rule(words, _targets(node.target), selves, function)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                self._rule(
                    _elements(node.iter, self.typing), _targets(node.target), selves, function
                )
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    words = _heads(item.context_expr, self.typing)
                    self._rule(words, _targets(item.optional_vars), selves, function)
            elif isinstance(node, ast.ExceptHandler):
                if node.name:
                    self._rule(_words(node.type), [ast.Name(node.name)], selves, function)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.asname:
                        words = {alias.name.rpartition(".")[2]}
                        self._rule(words, [ast.Name(alias.asname)], selves, function)
            elif isinstance(node, ast.Match):
                for case in node.cases:
                    captures = [ast.Name(name) for name in sorted(_captures(case.pattern))]
                    words = _words(node.subject) | _words(case.pattern)
                    self._rule(words, captures, selves, function)
                    self._walk(case.guard, selves, function)
            self._expressions(node, selves, function)
        for field in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(node, field, None)
            if isinstance(block, list):
                self._statements(block, selves, cls, function, outer, force)
        for case in getattr(node, "cases", None) or ():
            self._statements(case.body, selves, cls, function, outer, force)

    def _expressions(self, node: ast.AST, selves, function) -> None:  # type: ignore[no-untyped-def]
        """The rules of the expressions in a statement (not in its blocks): walrus targets,
        comprehension targets, ``isinstance`` narrowing."""
        for field, value in ast.iter_fields(node):
            if field in _BODIES:
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, ast.AST):
                    self._walk(item, selves, function)

    def _walk(self, node: ast.AST | None, selves, function) -> None:  # type: ignore[no-untyped-def]
        if node is None:
            return
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr):
                self._rule(_values(sub.value, self.typing), _targets(sub.target), selves, function)
            elif isinstance(sub, ast.comprehension):
                self._rule(_elements(sub.iter, self.typing), _targets(sub.target), selves, function)
            elif (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Name)
                and sub.func.id == "isinstance"
                and len(sub.args) == 2
            ):
                self._rule(_words(sub.args[1]), _targets(sub.args[0]), selves, function)


def close_gates(
    gates: dict[str, frozenset[str]], files: list, cache: object, corpus: object
) -> tuple[dict[str, frozenset[str]], dict[str, dict[str, frozenset[str]]], set[str]]:
    """Each gate's words closed over the project (see above): the gates kept, what each file carries
    for them, and the paths read for it."""
    budget = max(sum(len(file.data) for file in files) // _CLOSURE_SHARE, _CLOSURE_BYTES)
    rules: dict[int, FileRules | None] = {}
    closed: dict[str, frozenset[str]] = {}
    carried: dict[str, dict[str, frozenset[str]]] = {}
    read: set[str] = set()
    for name, seed in sorted(gates.items()):
        # Closing costs about what reading the files it may spare costs: no more than theirs.
        spared = sum(len(files[i].data) for i in corpus.files_with(f".{name}("))  # type: ignore[attr-defined]
        limit = min(budget, max(spared, _CLOSURE_FLOOR))
        words = set(seed)
        scanned: set[str] = set()
        candidates: set[int] = set()
        found: dict[str, frozenset[str]] | None = {}
        while True:
            for word in sorted(words - scanned):
                candidates |= corpus.files_with(word)  # type: ignore[attr-defined]
            scanned |= words
            if (
                len(candidates) > _CLOSURE_FILES
                or sum(len(files[i].data) for i in candidates) > limit
            ):
                found = None
                break
            found, new = {}, set()
            for i in sorted(candidates):
                if i not in rules and not any(
                    True for word in words for _ in occurrences(files[i].data, word)
                ):
                    continue  # the word is part of a longer one: no rule can fire
                if i not in rules:
                    tree = _tree(files[i], cache)
                    rules[i] = None if tree is None else FileRules(tree, files[i].data)
                entry = rules[i]
                if entry is None:
                    continue
                names = entry.carried(frozenset(words))
                if names:
                    found[files[i].path] = frozenset(names)
                new |= names
            if new <= words:
                break
            words |= new
        if found is None:
            continue
        closed[name] = frozenset(words)
        read.update(files[i].path for i in candidates if i in rules)
        for path, names in found.items():
            carried.setdefault(path, {})[name] = names
    return closed, carried, read
