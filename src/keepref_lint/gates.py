"""Receiver gates: which files can call a mark by a gated method name.

A method name whose marks are all inferred or decorated methods of classes
(``HAProxyMetricsCollector.start``; not a catalog name like ``create_task``) is gated: a receiver reaches
such a mark only through a chain of stated types that ends at its class, so a text that holds none of the
chain's words cannot call it. This module holds which names are gated (``receiver_gates``), the rules by
which one module's statements pass a word on to the names they bind (``FileRules``), and each gate's
words closed over the project (``close_gates``); ``receivers.ReceiverTypes`` uses them to leave such
texts out of the receiver files.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterable

from keepref_lint.nodes import mapping_values
from keepref_lint.prefilter import occurrences
from keepref_lint.records import Record
from keepref_lint.resolve import (
    _COLLECTIONS,
    _MAPPINGS,
    _QUALIFIERS,
    _TUPLES,
    _UNIONS,
)
from keepref_lint.sourcetext import parse_quietly

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
# The word first, then the test of the byte before it: a pattern that begins with ``\b`` is tried at every
# offset of the text (seven times slower over ray's and litellm's files; tests/test_text_patterns.py).
_GLOBAL = re.compile(rb"global(?<!\wglobal)[ \t]+([\w \t,]+)")
_CLASS = re.compile(rb"class(?<!\wclass)[ \t]+(\w+)")
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


class _Rule(Record):
    """A statement that binds names (``exported``: reachable from other modules; ``local``: within
    one function of this one) from a type it may state when one of ``words`` is known (a local of a
    function of ``chain``), or when one of ``selves``' classes is and ``words`` meet its own words
    (``self``, ``Self``)."""

    __slots__ = ()
    words: frozenset[str]
    selves: tuple[tuple[str, frozenset[str]], ...]
    exported: frozenset[str]
    local: frozenset[str]
    chain: tuple[int, ...]  # the functions whose locals ``words`` may be, innermost first
    into: int  # the function whose locals ``local`` are

    def __new__(
        cls,
        words: frozenset[str],
        selves: tuple[tuple[str, frozenset[str]], ...],
        exported: frozenset[str],
        local: frozenset[str],
        chain: tuple[int, ...],
        into: int,
    ) -> _Rule:
        return tuple.__new__(cls, (words, selves, exported, local, chain, into))


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
                m.decode("utf-8", "replace") for m in _CLASS.findall(self.data)
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
            corpus.scan(sorted(words - scanned))  # type: ignore[attr-defined]
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
