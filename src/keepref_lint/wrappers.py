"""Wrapper inference: a project function that returns a must-retain result (directly, through a local, or
as a classmethod's ``cls(...)``), or whose return annotation names a must-retain class, is must-retain
too, and so are the wrappers of wrappers, found by propagation.

WrapperInference holds the ProjectIndex methods that do it (the index is one of them); the functions
below find the sites, the ``return`` statements that may pass a result on.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from collections.abc import Callable, Iterator

from keepref_lint.catalog import ENTRIES
from keepref_lint.config import Settings
from keepref_lint.corpus import Corpus
from keepref_lint.marks import Mark
from keepref_lint.nodes import walk_nodes
from keepref_lint.parsing import ParseCache
from keepref_lint.prefilter import (
    ASCII_WORD_BYTES,
    Prefilter,
    import_lines,
    may_annotate_one,
    may_return_one,
)
from keepref_lint.project import SourceFile
from keepref_lint.records import Record, replace
from keepref_lint.resolve import FileScopes
from keepref_lint.scopes import ASSIGN, Scope
from keepref_lint.summaries import ModuleSummary

TYPE_CHECKING = False

_AS_ALIAS = re.compile(rb"\b(\w+)[ \t]+as[ \t]+(\w+)")
_BLANKS = frozenset(b" \t")


def as_aliases(lines: bytes) -> Iterator[re.Match[bytes]]:
    """``_AS_ALIAS.finditer(lines)``, found from each ``as`` between blanks: the pattern begins with
    ``\b``, so Python tries it at every offset (22 ms a MB of litellm's import lines). A match starts
    at the word before the blanks before its ``as``; those starts grow with the ``as``, so each is tried
    in turn, and one that the last match covered is passed over (matches do not overlap)."""
    covered = 0
    at = lines.find(b"as")
    while at != -1:
        if at and lines[at - 1] in _BLANKS and lines[at + 2 : at + 3] in (b" ", b"\t"):
            end = at - 1
            while end >= 0 and lines[end] in _BLANKS:
                end -= 1
            start = end
            while start >= 0 and lines[start] in ASCII_WORD_BYTES:
                start -= 1
            start += 1
            if covered <= start <= end:
                match = _AS_ALIAS.match(lines, start)
                if match is not None:
                    covered = match.end()
                    yield match
        at = lines.find(b"as", at + 1)


class WrapperInference:
    """The wrapper inference of ProjectIndex (a base of it): it reads and adds to the index's marks."""

    settings: Settings
    marks: dict[str, Mark]
    summaries: dict[str, ModuleSummary]
    summarized: dict[str, bool]  # path -> whether its summary is a skeleton
    prefilter: Prefilter
    used: set[str]
    defined_in: dict[str, str]

    if TYPE_CHECKING:  # the index's own

        def lookup(self, qualname: str) -> Mark | None: ...

        def _forget_lookups(self) -> None: ...

        def _forget_found(self) -> None: ...

        def _prefilter(
            self, with_classes: bool = False, reexports_only: bool = False
        ) -> Prefilter: ...

    def _infer_wrappers(
        self,
        files: list[SourceFile],
        cache: ParseCache,
        corpus: Corpus,
        store: SiteStore | None = None,
    ) -> bool:
        """Mark project functions that return a must-retain result (directly or through a local).

        Returns whether anything new was marked. Wrappers of wrappers are found by propagation: each
        ``return`` that could pass a result on is a site, indexed by the names it calls; a new mark
        re-examines only the sites that call its name, and brings in the files that mention it. So a
        chain of wrappers costs time linear in its length whatever the order of files and definitions.
        The caller repeats (with the alias closure) until nothing is new, so re-exported wrappers count;
        with a ``store`` (released by the caller), a file's sites are found once for all the rounds.
        """
        own = store is None
        store = store or SiteStore()
        names = {qualname.rpartition(".")[2] for qualname in self.marks}
        prefilter = self._prefilter()
        candidates = prefilter.candidates(corpus)
        uncollected = set(range(len(files))) - store.no_return
        sites: list[_Site] = []
        # A method's name (``start``) is called on a class of the method only where the file names the
        # class, a subclass or an alias of one (``Prefilter.owners``: what the resolver goes through;
        # types stated in other modules are not read yet). Until a method of that name is newly marked,
        # a file that names none of them is no wrapper of it.
        owners = {
            name: set().union(*(corpus.files_with(owner) for owner in related))
            for name, related in prefilter.owners.items()
        }
        # A catalog name (``create_task``) is reached only through its module (``asyncio``) or a project
        # module that re-exports it: a file imports one of them (``Prefilter.guarded``), or is part of it.
        guarded: dict[str, set[int]] = {}
        for guard, guarded_names in prefilter.guarded.items():
            importing = corpus.files_importing(guard)
            for name in guarded_names:
                if name not in prefilter.plain:
                    guarded.setdefault(name, set()).update(importing)

        sync = self._sync_names()  # brought up to date when a name is marked (``more``)
        module_level = self._module_level_names()

        def callable_in(i: int, word: str) -> bool:
            if word in guarded and i not in guarded[word]:
                return False
            return corpus.has(i, word) and (word not in owners or i in owners[word])

        def returning_test(i: int, words: set[str]) -> tuple:
            """The ``_may_return`` item of file ``i`` (which mentions ``return``) for ``words``."""
            aliases = self._aliases_in(files[i], words, corpus.import_lines_of(i))
            callable_words = {word for word in words if callable_in(i, word)} | aliases
            return (i, sorted(callable_words), sorted(aliases), self._may_mark_a_class(files[i]))

        def collect(i: int, words: set[str], returning: bool | None = None) -> list[_Site]:
            """The return sites of file ``i`` that may pass on a result of one of ``words``;
            ``returning``: ``_may_return``'s answer for the file, if asked already."""
            file = files[i]
            if b"return" not in file.data:
                uncollected.discard(i)
                store.no_return.add(i)
                return []
            if returning is None:
                returning = _may_return(file.data, returning_test(i, words), (sync, module_level))
            if not returning:
                return []  # (a name marked later may still bring it in)
            uncollected.discard(i)
            self.used.add(file.path)
            found = store.sites.get(i)
            if found is None:
                scopes = cache.scopes(file)
                found = store.sites[i] = [] if scopes is None else return_sites(file, scopes)
                if scopes is not None:
                    store.opened.append(file)
            return found

        # The text tests of the candidates at once (a corpus helper takes part of them): nothing they
        # read changes until the first new mark.
        tested = [i for i in sorted(candidates) if b"return" in files[i].data]
        returning = dict(
            zip(
                tested,
                corpus.map(
                    _may_return, [returning_test(i, names) for i in tested], (sync, module_level)
                ),
                strict=True,
            )
        )
        for i in sorted(candidates):
            sites.extend(collect(i, names, returning.get(i)))

        # Which files can reach a name marked during the round: its marks' classes', if all of them are
        # methods (as ``Prefilter.owners`` says for the marks of the round's start), else any file.
        bindings = {local for summary in self.summaries.values() for local in summary.bindings}
        classes: dict[str, set[str] | None] = {}

        def reaching(mark: Mark) -> set[int] | None:
            name, owner = mark.short_name, mark.owner_class
            other_kinds = name in prefilter.plain and name not in prefilter.owners
            if owner is None or other_kinds or name in bindings:
                classes[name] = None
            known = classes.setdefault(name, set())
            if known is None or owner is None:
                return None
            known.add(owner)
            related = prefilter.owners.get(name, frozenset()) | self._related_names(known)
            return set().union(*(corpus.files_with(owner) for owner in related))

        def more(mark: Mark) -> list[_Site]:
            # Newly marked: a project function or method of that name is reached through neither the
            # catalog's modules nor only the classes named above.
            name = mark.short_name
            guarded.pop(name, None)
            reached = reaching(mark)
            if reached is None:
                owners.pop(name, None)
            else:
                owners[name] = reached
            sync.clear()
            sync.update(self._sync_names())
            module_level.discard(name)
            within = uncollected if reached is None else uncollected & reached
            return self._new_sites(name, corpus, within, collect)

        added = self._propagate(sites, more)
        if own:
            store.release(cache)
        held = {file.path for file in store.opened}  # their analyses stay open for the next rounds
        return self._infer_typed_returns_in(files, cache, candidates, corpus, held) or added

    def _infer_typed_returns_in(
        self,
        files: list[SourceFile],
        cache: ParseCache,
        candidates: set[int],
        corpus: Corpus,
        held: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> bool:
        """The files among ``candidates`` whose return annotations may name a must-retain class
        (their text tests at once, in the ``corpus``'s helper too when it has one)."""
        classes = self._class_mark_names()
        if not classes:
            return False
        known = lambda q: self.lookup(q) is not None  # noqa: E731
        added = False
        tested = [(i,) for i in sorted(candidates) if b"->" in files[i].data]
        found = corpus.map(_may_annotate, tested, classes)
        annotating = {i for (i,), yes in zip(tested, found, strict=True) if yes}
        for i in sorted(candidates):
            file = files[i]
            if i not in annotating:
                continue
            self.used.add(file.path)
            scopes = cache.scopes(file)
            if scopes is None:
                continue
            added |= self._infer_typed_returns(file, scopes, known)
            if file.path not in held:
                cache.done(file)
        if added:
            self._forget_lookups()
        return added

    def _new_sites(
        self,
        name: str,
        corpus: Corpus,
        uncollected: set[int],
        collect: Callable[[int, set[str]], list[_Site]],
    ) -> list[_Site]:
        """Sites of the files ``uncollected`` (not yet looked at, and able to reach the name) that mention
        a name just marked."""
        found: list[_Site] = []
        # Only the files not looked at yet are scanned for the name (a chain within one file would
        # otherwise rescan that file for each of its wrappers).
        for i in sorted(corpus.files_with(name, uncollected)):
            found.extend(collect(i, {name}))
        return found

    def _aliases_in(
        self, file: SourceFile, names: set[str], imports: bytes | None = None
    ) -> set[str]:
        """Local names under which the file may call one of ``names``: ``import ... as`` aliases and the
        module's own aliases of must-retain things (``from svc import start as s; return s()``).
        ``imports``: the file's ``import_lines``, if at hand."""
        data = file.data
        found = (
            {
                match.group(2).decode()
                for match in as_aliases(import_lines(data) if imports is None else imports)
                if match.group(1).decode() in names
            }
            if b" as " in data
            else set()
        )
        summary = self.summaries.get(file.module)
        if summary is not None:
            for local, targets in summary.bindings.items():
                if any(t.rpartition(".")[2] in names for t in targets):
                    found.add(local)
        return found

    def _propagate(
        self, sites: list[_Site], more: Callable[[Mark], list[_Site]] | None = None
    ) -> bool:
        """Examine every site once, then again only the sites that call a name just marked (and, through
        ``more``, those of files that mention it), until none is left; then one more full pass for what
        names cannot tell (a wrapper re-exported under another name), repeated while it finds anything."""
        by_name: dict[str, list[int]] = {}

        def index(start: int) -> None:
            for at in range(start, len(sites)):
                for name in sites[at].keys:
                    by_name.setdefault(name, []).append(at)

        index(0)
        known = lambda q: self.lookup(q) is not None  # noqa: E731
        added = False
        while True:
            queue = deque(range(len(sites)))
            queued = set(queue)
            found_any = False
            while queue:
                at = queue.popleft()
                queued.discard(at)
                mark = self._infer_site(sites[at], known)
                if mark is None:
                    continue
                found_any = True
                name = mark.short_name
                if more is not None:
                    start = len(sites)
                    sites.extend(more(mark))
                    index(start)
                    for new in range(start, len(sites)):
                        queue.append(new)
                        queued.add(new)
                for other in by_name.get(name, ()):
                    if other not in queued:
                        queue.append(other)
                        queued.add(other)
            added |= found_any
            if not found_any:
                return added

    def _infer_site(self, site: _Site, known: Callable[[str], bool]) -> Mark | None:
        """Mark the site's function if it returns a must-retain result; the new mark, else None."""
        scope = site.scope
        marked = self.marks.get(scope.qualname)
        if marked is not None and (marked.source != "decorator" or marked.entry is not None):
            return None
        inner = self._returned_mark(site.scopes, site.node.value, scope, known)
        if inner is None:
            return None
        if marked is not None:
            # A marked wrapper of a catalog entry keeps the entry's nature (a task repeats).
            if inner.entry is None:
                return None
            mark = replace(marked, entry=inner.entry, reason=marked.reason or inner.reason)
        else:
            function = scope.node
            assert isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
            self.defined_in[scope.qualname] = site.file.path
            mark = Mark(
                scope.qualname,
                "method" if scope.enclosing_class() is not None else "function",
                "inferred",
                attr=inner.attr,
                reason=inner.reason,
                is_async=isinstance(function, ast.AsyncFunctionDef),
                location=f"{site.file.display}:{function.lineno}",
                entry=inner.entry,
                returns=inner,
                path=site.file.path,
                line=function.lineno,
            )
        self.marks[scope.qualname] = mark
        self._forget_found()
        return mark

    def _infer_typed_returns(
        self, file: SourceFile, scopes: FileScopes, known: Callable[[str], bool]
    ) -> bool:
        """A function whose return annotation is a must-retain class (or ``Optional``/``|`` of one) is
        must-retain (KR003): ``def get() -> Handle`` with ``Handle`` marked. ``Self`` and the class's
        own methods are left alone (a fluent ``h.configure()`` keeps ``h``)."""
        added = False
        for qualname, function in scopes.functions.items():
            node = function.node
            returns = getattr(node, "returns", None)
            if returns is None or qualname in self.marks:
                continue
            cls = function.enclosing_class()
            for typed in scopes._annotation_type(
                returns, function.parent or scopes.module, known, 0
            ):
                mark = self.lookup(typed[1:])
                if (
                    mark is None
                    or mark.kind != "class"
                    or mark.source not in ("decorator", "config")
                ):
                    continue
                if cls is not None and (cls.qualname == typed[1:] or cls.qualname == mark.qualname):
                    continue
                self.defined_in[qualname] = file.path
                self.marks[qualname] = Mark(
                    qualname,
                    "method" if cls is not None else "function",
                    "inferred",
                    attr=mark.attr,
                    reason=mark.reason,
                    is_async=isinstance(node, ast.AsyncFunctionDef),
                    location=f"{file.display}:{node.lineno}",  # type: ignore[union-attr]
                    returns=replace(mark, qualname=typed[1:]),
                    path=file.path,
                    line=node.lineno,  # type: ignore[union-attr]
                )
                added = True
                break
        return added

    def _returned_mark(
        self, scopes: FileScopes, value: ast.expr | None, scope: Scope, known: Callable[[str], bool]
    ) -> Mark | None:
        if isinstance(value, ast.Name):  # return a local assigned from a must-retain call
            if _loads(scope.node, value.id) > 1:
                return None  # the function also uses it (stores it in a set, ...): it keeps its own reference
            for kind, payload in scope.bindings.get(value.id, ()):
                if kind == ASSIGN and isinstance(payload, ast.expr):
                    mark = self._returned_mark(scopes, payload, scope, known)
                    if mark is not None:
                        return mark
            return None
        awaited = isinstance(value, ast.Await)
        if awaited:
            value = value.value  # type: ignore[union-attr]
        if not isinstance(value, ast.Call):
            return None
        factory = _factory_class(value, scope)
        if factory is not None:  # ``return cls(...)`` in a classmethod: an instance of the class
            mark = self.lookup(factory.qualname)
            return mark if mark is not None and not awaited and not mark.is_async else None
        for qualname in scopes.qualify(value.func, scope, known):
            mark = self.lookup(qualname)
            if mark is not None and awaited == mark.is_async:
                entry = ENTRIES.get(mark.entry) if mark.entry else None
                if entry is not None and entry.condition is not None and not entry.condition(value):
                    return None
                return mark
        return None

    def _may_define_wrapper(self, file: SourceFile) -> bool:
        """The wrapper inference's textual tests, with the marks known now: could a function of this
        file return a must-retain result?"""
        data = file.data
        if not self.prefilter.mentions(data, file.path):
            return False
        if b"->" in data and may_annotate_one(data, self._class_mark_names()):
            return True
        if b"return" not in data:
            return False
        names = {qualname.rpartition(".")[2] for qualname in self.marks}
        aliases = self._aliases_in(file, names)
        return may_return_one(
            data,
            names | aliases,
            self._may_mark_a_class(file),
            self._sync_names() - aliases,
            self._module_level_names() - aliases,
        )

    def _module_level_names(self) -> set[str]:
        """Last names whose marks are all catalog functions or classes of modules (``asyncio.gather``,
        not ``asyncio.AbstractEventLoop.create_task``: no part of the qualified name is capitalized but
        the last): ``self.gather()`` calls none of them."""
        found: dict[str, bool] = {}
        for qualname, mark in self.marks.items():
            module, _, name = qualname.rpartition(".")
            plain = mark.source == "catalog" and module.islower()
            found[name] = found.get(name, True) and plain
        return {name for name, plain in found.items() if plain}

    def _sync_names(self) -> set[str]:
        """Last names whose marks are all plain functions (never ``async def``): an awaited call of one
        gives a result, not the object to keep, so a function returning it is no wrapper."""
        asynchronous = {q.rpartition(".")[2] for q, m in self.marks.items() if m.is_async}
        return {q.rpartition(".")[2] for q in self.marks} - asynchronous

    def _may_mark_a_class(self, file: SourceFile) -> bool:
        """Can a class of the file be must-retain (so that its ``return cls(...)`` factories are
        wrappers)? Only if its module is summarized (a class's marks, its marked ``__init__`` and its
        bases are read from the summary) and one of the classes it lists is must-retain now (a later
        round asks again), or if the configuration marks something (which may name the class, under
        any name that leads to it). A skeleton summary lists the top-level classes only: a class
        statement below one (in a function or an ``if``) may be one too; so may any class when the
        summary is another file's."""
        if self.settings.must_retain:
            return True
        summary = self.summaries.get(file.module)
        if summary is None:
            return False
        skeleton = self.summarized.get(file.path)
        if skeleton is None or (skeleton and _INDENTED_CLASS.search(file.data)):
            return True
        return any(self.lookup(qualname) is not None for qualname in summary.classes)

    def _class_mark_names(self) -> set[str]:
        """Last names of marked or configured classes and of the project classes that inherit a mark
        (a return annotation that names one makes its function must-retain)."""
        names = set()
        for qualname, mark in self.marks.items():
            if mark.kind == "class" and mark.source in ("decorator", "config"):
                names.add(qualname.rpartition(".")[2])
            elif qualname.endswith(".__init__") and mark.source == "decorator":
                names.add(qualname.split(".")[-2])
        for summary in self.summaries.values():
            for qualname in summary.classes:
                if self.lookup(qualname) is not None:
                    names.add(qualname.rpartition(".")[2])
        return names


_INDENTED_CLASS = re.compile(rb"\n[ \t]+class[ \t]")


def _may_return(data: bytes, item: tuple, shared: tuple[set[str], set[str]]) -> bool:
    """``prefilter.may_return_one`` for one file: ``item`` is its number, the names it may call, the
    aliases among them and whether its classes may be must-retain (``return cls(...)`` counts);
    ``shared``, the names whose marks are all sync and all module-level. Run by ``Corpus.map``."""
    _, words, aliases, factories = item
    sync, module_level = shared
    aliases = set(aliases)
    return may_return_one(data, set(words), factories, sync - aliases, module_level - aliases)


def _may_annotate(data: bytes, item: tuple[int], classes: set[str]) -> bool:
    """``prefilter.may_annotate_one`` for one file (run by ``Corpus.map``)."""
    return may_annotate_one(data, classes)


class SiteStore:
    """The return sites of each file read for wrapper inference, kept across the build's rounds so that
    a file is parsed for them once; the files' analyses stay open until ``release``."""

    def __init__(self) -> None:
        self.sites: dict[int, list[_Site]] = {}  # file index -> its sites
        self.no_return: set[int] = set()  # files without a ``return``
        self.opened: list[SourceFile] = []

    def release(self, cache: ParseCache) -> None:
        for file in self.opened:
            cache.done(file)
        self.opened.clear()
        self.sites.clear()


class _Site(Record):
    """A ``return`` in a function: the function may pass on what the names in ``keys`` return."""

    __slots__ = ()
    file: SourceFile
    scopes: FileScopes
    node: ast.Return
    scope: Scope
    keys: frozenset[str]

    def __new__(
        cls,
        file: SourceFile,
        scopes: FileScopes,
        node: ast.Return,
        scope: Scope,
        keys: frozenset[str],
    ) -> _Site:
        return tuple.__new__(cls, (file, scopes, node, scope, keys))


def _factory_class(call: ast.Call, scope: Scope) -> Scope | None:
    """The class whose classmethod ``scope`` calls its ``cls`` parameter (``return cls(...)``)."""
    if (
        isinstance(call.func, ast.Name)
        and scope.self_kind == "class"
        and call.func.id == scope.self_name
    ):
        return scope.enclosing_class()
    return None


def return_sites(file: SourceFile, scopes: FileScopes) -> list[_Site]:
    """The file's returns in functions, each with the names it may call: the last name of each call in
    the returned value (or in the assignments of a returned local), and what an import or alias of the
    call's head stands for."""
    found = []
    never = lambda q: False  # noqa: E731
    for node, scope in scopes.returns:
        if scope.kind != "function" or node.value is None:
            continue
        values = [node.value]
        if isinstance(node.value, ast.Name):
            values = [
                payload
                for kind, payload in scope.bindings.get(node.value.id, ())
                if kind == ASSIGN and isinstance(payload, ast.expr)
            ]
        keys: set[str] = set()
        for value in values:
            for call in walk_nodes(value):
                if not isinstance(call, ast.Call):
                    continue
                func = call.func
                factory = _factory_class(call, scope)
                if factory is not None:
                    keys.add(factory.qualname.rpartition(".")[2])
                if isinstance(func, ast.Name):
                    keys.add(func.id)
                elif isinstance(func, ast.Attribute):
                    keys.add(func.attr)
                keys.update(q.rpartition(".")[2] for q in scopes.qualify(func, scope, never))
        if keys:
            found.append(_Site(file, scopes, node, scope, frozenset(keys)))
    return found


def _loads(node: ast.AST | None, name: str) -> int:
    """How many times ``name`` is read in ``node``."""
    if node is None:
        return 0
    return sum(
        1
        for n in walk_nodes(node)
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
    )
