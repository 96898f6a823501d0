"""Receiver types across modules: what other files state about the classes and functions a receiver of a
must-retain method goes through (``self.hass.loop.create_task(...)`` needs ``HomeAssistant.loop``).

The facts are read only where a question leads. The receiver files are those whose text calls a
must-retain method name (``.create_task(``); resolving their receivers (``resolve.FileScopes.qualify``)
asks about classes and functions of other modules, and only the modules those questions name are read,
round after round while answers lead to new questions. Each fact is an instance type (``@pkg.Cls``)
the defining file states: an annotated or assigned attribute, a property's or a function's return
annotation, and a class's bases (so inherited attributes are found). Nothing is guessed: a question
without a stated answer stays unknown. Which texts cannot reach a mark by a gated method name (and so are
not receiver files) is decided in ``gates``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable

from keepref_lint import stats
from keepref_lint.catalog import TYPE_ALIASES
from keepref_lint.gates import FileRules, _tree, close_gates
from keepref_lint.nodes import dotted_name
from keepref_lint.prefilter import has_lone_cr
from keepref_lint.resolve import INSTANCE, FileScopes
from keepref_lint.scopes import ANNOTATED, DEF, Scope, TypeOracle

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
    """The facts of the files read so far, answering ``scopes.TypeOracle``'s questions."""

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
                    # The name first, then the test of the byte before it: a pattern that begins
                    # with a literal is searched for at C speed (a lookbehind first is 20x slower).
                    before = rb"(?<![\w.]" + local + rb")"
                    pattern = local + before + rb"[ \t]*(?::[^=\n]*)?=(?!=)"
                    assigned[local] = re.search(pattern, data) is not None
                if assigned[local]:
                    return True
            at = data.find(needle, at + len(needle))
    return False


def call_words(names: Iterable[str]) -> list[str]:
    """The texts of calls of the method ``names`` (``.name(``), as the corpus is scanned for them."""
    return [f".{name}(" for name in sorted(names)]


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
    # Every call of a name is looked for below (and the gated ones' in ``close_gates``): at once, in
    # one pass over the texts.
    corpus.scan(call_words(names))  # type: ignore[attr-defined]
    if gates:
        types.gates, types.carried, closure = close_gates(gates, files, cache, corpus)
    by_module = {file.module: file for file in files}
    found: set[int] = set()
    for word in call_words(names):
        found |= corpus.files_with(word)  # type: ignore[attr-defined]
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
