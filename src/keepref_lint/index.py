"""The project-wide index: what is must-retain, and every name through which it can be reached.

Only files whose text can matter are parsed: files that mention a marker decorator, then (repeatedly, until
nothing new turns up) files that mention a name of something must-retain or an alias of one. From those the
index keeps module-level imports and aliases (re-exports such as ``from .service import start_service`` in an
``__init__.py``, or ``start = start_service``), star imports, class bases, and the marked definitions.

ProjectIndex builds the index (summaries, the alias closure, config marks), keeps it true across edits
(``affected_by``, ``refresh``), derives the prefilter of what a file must mention, and answers ``lookup``.
Its parts live beside it: parsing.py (the parse cache), prefilter.py (the text tests), summaries.py (one
module's summary), wrappers.py (wrapper inference, a base of ProjectIndex) and marks.py (the Mark).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate

from keepref_lint.catalog import CATALOG
from keepref_lint.config import Settings
from keepref_lint.corpus import Corpus
from keepref_lint.deep import run_deep
from keepref_lint.gates import receiver_gates
from keepref_lint.marks import Mark
from keepref_lint.parsing import ParseCache
from keepref_lint.prefilter import Prefilter, has_lone_cr
from keepref_lint.project import InputError, SourceFile, is_stub
from keepref_lint.receivers import (
    ReceiverTypes,
    build_receiver_types,
    call_words,
    file_facts,
    method_names,
    module_of,
    questions_of,
)
from keepref_lint.records import replace
from keepref_lint.scopes import resolve_relative
from keepref_lint.skeletons import module_skeleton, without_function_bodies
from keepref_lint.sourcetext import parse_quietly
from keepref_lint.summaries import ClassInfo, ModuleSummary, summarize_module
from keepref_lint.wrappers import SiteStore, WrapperInference, return_sites

_STAR_IMPORT = re.compile(rb"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+\*", re.MULTILINE)


def _star_imports(data: bytes) -> Iterator[re.Match[bytes]]:
    """``_STAR_IMPORT``'s matches, in order: the pattern is tried only on the lines that hold ``import``,
    found at C speed (``finditer`` over the whole text tries it at every line start, 3-5 times slower on
    the corpus's star-importing files; the pattern never reaches past its line)."""
    at = data.find(b"import")
    while at != -1:
        start = data.rfind(b"\n", 0, at) + 1
        end = data.find(b"\n", at)
        if end == -1:
            end = len(data)
        match = _STAR_IMPORT.match(data, start, end)
        if match is not None:
            yield match
        at = data.find(b"import", end)


_CATALOG_ROOTS = frozenset(q.partition(".")[0] for entry in CATALOG for q in entry.qualnames)
# The modules (and packages) that define a catalog entry: ``matplotlib`` and ``matplotlib.animation``
# for ``matplotlib.animation.FuncAnimation``.
_CATALOG_HOMES = frozenset(
    ".".join(parts[:i])
    for entry in CATALOG
    for q in entry.qualnames
    for parts in [q.split(".")]
    for i in range(1, len(parts))
)


class ProjectIndex(WrapperInference):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.marks: dict[str, Mark] = {}
        self.summaries: dict[str, ModuleSummary] = {}
        self.prefilter = Prefilter(set(), {})
        self._lookup_cache: dict[str, Mark | None] = {}
        self._exports: dict[str, dict[str, list[str]]] = {}  # module -> its star exports
        self._nowhere_memo: dict[str, bool] = {}  # see _nowhere
        self._redirects_memo: dict[str, list[tuple[str, str]]] = {}  # see _redirects
        self._opened_names: set[str] | None = None  # see _opened
        self._derived: dict[str, set[str]] | None = None  # class or name -> subclasses and aliases
        # The files whose text the index was built from: an edit elsewhere cannot change it (see
        # affected_by), so a cached index survives edits to every other file.
        self.used: set[str] = set()
        # Where the marks found in the project come from (qualname -> path), and how each summarized file
        # was read (path -> as a skeleton): an edited file is read again the same way (see refresh).
        self.defined_in: dict[str, str] = {}
        self.summarized: dict[str, bool] = {}
        self.digests: dict[str, bytes] = {}  # path -> checksum of the text the index stands for
        self.token = os.urandom(8).hex()  # names this build (stored results are valid for it only)
        # Marker decorators: the configured names, and project names bound to a marker under another
        # name (``from .markers import must_retain as own_marker`` makes ``pkg.own_marker`` one).
        self.decorators: set[str] = set(settings.decorators)
        self.markers: set[str] = set()
        self.receiver_types = ReceiverTypes()
        # Where config marks are defined: path -> {qualified name: async def?}.
        self.config_defs: dict[str, dict[str, bool]] = {}
        self.stub_summaries: dict[str, ModuleSummary] = {}  # stub path -> what it declares
        if settings.catalog:
            for entry in CATALOG:
                if entry.id in settings.catalog_disable:
                    continue
                for qualname in entry.qualnames:
                    self.marks[qualname] = Mark(
                        qualname, "catalog", "catalog", entry.attr, entry.reason, entry=entry.id
                    )
        for spec in settings.must_retain.values():
            self.marks[spec.qualname] = Mark(
                spec.qualname, "unknown", "config", spec.attr, spec.reason
            )

    @property
    def problems(self) -> list[InputError]:
        """One-line errors for marker arguments the index left out (``path:line: cause``)."""
        stubs = [s for s in self.stub_summaries.values() if self.summaries.get(s.module) is not s]
        return [
            InputError(where, cause)
            for _, summary in sorted(self.summaries.items())
            for where, cause in summary.problems
        ] + [InputError(where, cause) for stub in stubs for where, cause in stub.problems]

    # -- building --------------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        """As pickled into the on-disk cache: without the memo of redirects (rebuilt as lookups
        need it, and larger than the rest of the index on trees of many star imports)."""
        state = self.__dict__.copy()
        state["_redirects_memo"] = {}
        return state

    @classmethod
    def build(
        cls,
        files: list[SourceFile],
        settings: Settings,
        cache: ParseCache,
        corpus: Corpus | None = None,
        stubs: Sequence[SourceFile] = (),
        marks_known: Callable[[ProjectIndex, set[str]], None] | None = None,
    ) -> ProjectIndex:
        """The index of ``files``. ``marks_known(index, names)`` is called before the last step, the
        receivers' types, when there are must-retain method ``names`` to type receivers of: everything
        else in the index is final then (early.py checks files meanwhile)."""
        index = cls(settings)
        corpus = corpus or Corpus([f.data for f in files], [f.path for f in files])
        index._summarize_marked(files, cache, corpus)
        if stubs:
            index._summarize_stubs(stubs, files, cache)
        store = SiteStore()
        try:
            while True:
                index._close_over_aliases(files, cache, corpus)
                if not index._infer_wrappers(files, cache, corpus, store):
                    break
        finally:
            store.release(cache)
        index._canonicalize_config_marks()
        index._config_async(files, cache)
        index.prefilter = index._prefilter()
        known = lambda q: index.lookup(q) is not None  # noqa: E731
        names = method_names((q, m.kind) for q, m in index.marks.items())
        gates = receiver_gates(
            names,
            index.prefilter.owners,
            ((q, m.kind, m.source) for q, m in index.marks.items()),
            (q.rpartition(".")[2] for s in index.summaries.values() for q in s.classes),
        )
        if marks_known is not None and names:
            # The receivers' scan first, on both cores: a process forked now would share the
            # corpus helper's.
            corpus.scan(call_words(names))
            marks_known(index, names)
        index.receiver_types, read = build_receiver_types(
            files, cache, corpus, names, known, index.prefilter, gates
        )
        index.used |= read
        if index.receiver_types.hits:
            index.prefilter = index._prefilter()
        index.digests = {file.path: file.digest for file in (*files, *stubs)}
        return index

    def _summarize_stubs(
        self, stubs: Sequence[SourceFile], files: list[SourceFile], cache: ParseCache
    ) -> None:
        """Marks declared in stubs: a ``mod.pyi`` that mentions a marker decorator (the same text test
        as ``_summarize_marked``'s) is read, and its marks are the module's, as if ``mod.py`` carried
        them. The stub's summary stands for the module only when no ``.py`` file has its name (a
        compiled module): else the ``.py``'s own summary, if any, keeps its place. So the ``.py`` files
        of a marked stub's module count as read (one going away is seen), as a new one would (see
        affected_by)."""
        words = [d.encode() for d in self.decorators]
        modules: dict[str, list[str]] = {}
        for file in files:
            modules.setdefault(file.module, []).append(file.path)
        for stub in stubs:
            if not any(word in stub.data for word in words):
                continue
            self.used.add(stub.path)
            summary = self._read_summary(stub, cache, False)
            if summary is None:
                continue
            self.stub_summaries[stub.path] = summary
            self.used.update(modules.get(stub.module, ()))
            if stub.module not in modules and stub.module not in self.summaries:
                self.summaries[stub.module] = summary
            self._add_marks(summary, stub.path)
        self._forget_lookups()

    def _summarize_marked(self, files: list[SourceFile], cache: ParseCache, corpus: Corpus) -> None:
        """Summarize the files that mention a marker decorator, until no new alias of a marker turns up
        (a module that binds a marker under another name makes that name a marker where it is imported).
        ``corpus`` holds the texts of ``files``, in their order."""
        while True:
            corpus.scan(self.decorators)
            mentioning = set().union(*(corpus.files_with(word) for word in self.decorators))
            for i in sorted(mentioning):
                if files[i].module not in self.summaries:
                    self._summarize(files[i], cache)
            markers = set(self.markers)
            for module, summary in self.summaries.items():
                for local, targets in summary.bindings.items():
                    if any(
                        t in markers or t.rpartition(".")[2] in self.settings.decorators
                        for t in targets
                    ):
                        markers.add(f"{module}.{local}")
            if markers == self.markers:
                return
            self.markers = markers
            self.decorators |= {m.rpartition(".")[2] for m in markers}
            # Files read before an alias was known are read again with it.
            for path in [p for p in self.summarized if not self.summarized[p]]:
                file = next((f for f in files if f.path == path), None)
                if file is None:
                    continue
                summary = self._read_summary(file, cache, False)
                if summary is not None:
                    self.summaries[file.module] = summary
                    self._add_marks(summary, path)

    def _config_async(self, files: list[SourceFile], cache: ParseCache) -> None:
        """A configured function that is ``async def`` is awaited to give its result: read where each
        config mark is defined (its module, if it is part of the project)."""
        by_module = {file.module: file for file in files}
        found: dict[int, Mark] = {}
        for qualname, mark in list(self.marks.items()):
            if mark.source != "config":
                continue
            module = module_of(qualname, by_module)
            if module is None:
                continue
            file = by_module[module]
            is_async = _defined_async(file, cache, qualname[len(module) + 1 :])
            if is_async is None:
                continue
            self.used.add(file.path)
            self.config_defs.setdefault(file.path, {})[qualname] = is_async
            if is_async:
                found[id(mark)] = replace(mark, is_async=True)
        for qualname, mark in list(self.marks.items()):  # a re-export shares its definition's mark
            if id(mark) in found:
                self.marks[qualname] = found[id(mark)]
        self._forget_lookups()

    def _summarize(
        self,
        file: SourceFile,
        cache: ParseCache,
        skeleton: bool = False,
        from_cut: tuple[ModuleSummary | None] | None = None,
    ) -> None:
        """Record the module's bindings; ``skeleton`` parses only its top-level imports, assignments
        and class headers (enough to see a re-export), falling back to the whole file. ``from_cut``:
        see ``_read_summary``."""
        self.used.add(file.path)
        if file.module in self.summaries:
            return
        summary = self._read_summary(file, cache, skeleton, from_cut)
        if summary is None:
            return
        self.summaries[file.module] = summary
        self.summarized[file.path] = skeleton
        self._forget_lookups()
        self._add_marks(summary, file.path)

    def _read_summary(
        self,
        file: SourceFile,
        cache: ParseCache,
        skeleton: bool,
        from_cut: tuple[ModuleSummary | None] | None = None,
    ) -> ModuleSummary | None:
        """``from_cut``: what ``_cut_summary`` gave for the file, if it was asked already (the cut
        suits it: ``_may_cut``), in a 1-tuple; its None: the cut did not parse."""
        if from_cut is not None and from_cut[0] is not None:
            return from_cut[0]
        tree = None if skeleton else cache.trees.get(file.path)
        if from_cut is None and self._may_cut(file, cache, skeleton):
            tree = _parse_cut(file.data, skeleton)
        if tree is None:
            tree = cache.parse(file)
        if tree is None:
            return None
        return summarize_module(tree, file, set(self.settings.decorators), self.markers)

    def _may_cut(self, file: SourceFile, cache: ParseCache, skeleton: bool) -> bool:
        """Can the file's summary come from a cut of its text (``_parse_cut``)? Not when its whole tree
        is at hand already, nor without function bodies where a marker may stand in one (a marked
        function inside a function: the summary lists those marks)."""
        return (
            (skeleton or file.path not in cache.trees)
            and b"\0" not in file.data
            and file.path not in cache.errors
            and (skeleton or not self._mentions_marker(file.data))
        )

    def _cut_summaries(
        self,
        files: list[SourceFile],
        cache: ParseCache,
        corpus: Corpus,
        todo: list[tuple[int, bool]],
    ) -> dict[int, tuple[ModuleSummary | None]]:
        """For the files of ``todo`` (number, skeleton) whose summaries can come from a cut of their
        text, those summaries (``_read_summary``'s ``from_cut``), made all at once: a corpus helper
        makes part of them."""
        items = [
            (i, f.path, f.display, f.module, f.is_package, skeleton)
            for i, skeleton in todo
            if self._may_cut(f := files[i], cache, skeleton)
        ]
        shared = (set(self.settings.decorators), self.markers)
        made = corpus.map(_cut_summary, items, shared)
        return {item[0]: (summary,) for item, summary in zip(items, made, strict=True)}

    def _mentions_marker(self, data: bytes) -> bool:
        """Does the text hold a marker decorator's name (so the build reads it for its marks)?"""
        return any(decorator.encode() in data for decorator in self.decorators)

    def _add_marks(self, summary: ModuleSummary, path: str) -> None:
        for mark in summary.marks:
            if self.marks.setdefault(mark.qualname, mark) is mark:
                self.defined_in[mark.qualname] = path

    def _close_over_aliases(
        self, files: list[SourceFile], cache: ParseCache, corpus: Corpus
    ) -> None:
        """Parse every file that mentions a must-retain name or an alias of one, until nothing is new.

        Each round asks its new words only (the test is a disjunction over words, so a file the last
        round refused passes now only through one of them); which files contain a word is computed once
        per word (a substring scan), so a round costs set operations plus the line tests on the few
        candidate files.
        """
        seen: tuple | None = None
        asked: Prefilter | None = None  # the words every file has been tested with
        stars = corpus.files_importing("import *")
        while True:
            prefilter = self._prefilter(with_classes=True, reexports_only=True)
            if prefilter.key() == seen:
                break
            seen = prefilter.key()
            plain_only = Prefilter(set(prefilter.plain), {})
            # A file the last round's words did not bring in is brought in now only by a new word.
            new = prefilter if asked is None else prefilter.beyond(asked)
            asked = prefilter
            # The text tests first, all at once (a corpus helper takes its half of the files):
            # they read the text only, not what the summaries below add.
            tested = [
                i for i in sorted(new.candidates(corpus)) if files[i].module not in self.summaries
            ]
            todo = [
                (i, _skeleton_suffices(files[i], plain_only)) for i in corpus.passing(new, tested)
            ]
            from_cut = self._cut_summaries(files, cache, corpus, todo)
            for i, skeleton in todo:
                if files[i].module not in self.summaries:
                    self._summarize(files[i], cache, skeleton, from_cut.get(i))
            # A star import of a module summarized just now matters too, whatever the files' order
            # (a -> b -> service as well as z -> y -> service): repeat until no star importer is new.
            waiting = [i for i in sorted(stars) if files[i].module not in self.summaries]
            while waiting:
                known = len(self.summaries)
                for i in waiting:
                    if files[i].module not in self.summaries and self._star_source_matters(
                        files[i]
                    ):
                        self._summarize(files[i], cache)
                if len(self.summaries) == known:
                    break
                waiting = [i for i in waiting if files[i].module not in self.summaries]
            self._forget_lookups()

    def affected_by(self, file: SourceFile) -> bool:
        """Would the build have read this text (so an index built without it may be stale)? The same
        tests as the build's, with its final words: a marker decorator, a re-export or class base of a
        must-retain name, a star import that matters, a possible wrapper. A stub matters when it
        mentions a marker decorator (the build reads no other)."""
        if is_stub(file.path):
            return self._mentions_marker(file.data)
        if any(stub.module == file.module for stub in self.stub_summaries.values()):
            return True  # a new module file beside a marked stub: it now speaks for the module
        return (
            self._summary_mode(file) is not None
            or self._may_define_wrapper(file)
            or not self._types_still_hold(file, None)
        )

    def _types_still_hold(self, file: SourceFile, cache: ParseCache | None) -> bool:
        """Do the config marks' ``async``, the receiver facts and the receiver questions read from this
        text stay what the build found? (``cache`` None: the file was not read by the build.)"""
        cache = cache or ParseCache()
        types = self.receiver_types
        data, path = file.data, file.path
        for qualname, was_async in self.config_defs.get(path, {}).items():
            tail = qualname[len(file.module) + 1 :]
            if _defined_async(file, cache, tail) != was_async:
                return False
        if any(q.startswith(f"{file.module}.") for q in types.asked) and path not in types.facts:
            return False  # a module that answers a question the build could not
        known = lambda q: self.lookup(q) is not None  # noqa: E731
        if path in types.facts:
            scopes = cache.scopes(file)
            if scopes is None:
                return False
            scopes.types = types
            facts = file_facts(scopes, known)
            cache.done(file)
            if facts.shape() != types.facts[path].shape():
                return False
        if not types.gates_hold(file, cache):
            return False  # the build would read other receiver files
        if types.receiver_file(data, path):
            asked = questions_of(file, cache, types, types.names, known)
            if asked is None or not asked <= types.asked:
                return False
        return True

    def _summary_mode(self, file: SourceFile) -> bool | None:
        """How the build would summarize this text now: None (not at all), True (its skeleton) or
        False (whole). The build's own tests, with its final words."""
        data, path = file.data, file.path
        if self._mentions_marker(data):
            return False
        closure = self._prefilter(with_classes=True, reexports_only=True)
        if closure(data, path):
            return _skeleton_suffices(file, Prefilter(set(closure.plain), {}))
        if b"import *" in data and self._star_source_matters(file):
            return False
        return None

    def refresh(self, file: SourceFile, cache: ParseCache) -> bool:
        """After an edit to ``file``, one of the files the index was built from: does its new text give
        the index what the old one gave, up to line numbers? Then the index's records of it are brought up
        to date in place (True); else (False) the index must be built again, and this one is spoilt.

        The file is read the way the build would read it now (summary, marker decorators, inferred
        wrappers); an edit that moves definitions, changes bodies that return nothing must-retain or
        touches comments leaves the index as it was.
        """
        path = file.path
        if is_stub(path):
            return False  # a stub the build read for its marks: read it again with the others
        if not self._types_still_hold(file, cache):
            return False
        old = self.summaries.get(file.module)
        summarized = path in self.summarized
        new: ModuleSummary | None = None
        if old is None or summarized:  # (another file of the same module name holds the summary)
            mode = self._summary_mode(file)
            if (mode is None) != (not summarized) or (summarized and mode != self.summarized[path]):
                return False  # the build would now read it otherwise, or not at all
            if mode is not None:
                assert old is not None
                new = self._read_summary(file, cache, mode)
                # The names a module defines matter only to modules that star-import it.
                starred = any(file.module in summary.stars for summary in self.summaries.values())
                if new is None or _summary_shape(new, starred) != _summary_shape(old, starred):
                    return False
        before = {q: self.marks[q] for q, where in self.defined_in.items() if where == path}
        for qualname in before:
            del self.marks[qualname], self.defined_in[qualname]
        if new is not None:
            self._add_marks(new, path)
        self._forget_lookups()
        if self._may_define_wrapper(file):
            scopes = cache.scopes(file)
            if scopes is not None:
                self._propagate(return_sites(file, scopes))
                known = lambda q: self.lookup(q) is not None  # noqa: E731
                if self._infer_typed_returns(file, scopes, known):
                    self._forget_lookups()
                cache.done(file)
        after = {q: self.marks[q] for q, where in self.defined_in.items() if where == path}
        if {q: _mark_shape(m) for q, m in before.items()} != {
            q: _mark_shape(m) for q, m in after.items()
        }:
            return False
        if new is not None:
            self.summaries[file.module] = new
            self._forget_lookups()
        return True

    def _star_source_matters(self, file: SourceFile) -> bool:
        """Does the file star-import a module the index knows (so it may re-export a mark)?"""
        if has_lone_cr(file.data):
            return b"import *" in file.data  # its lines are not read by LF
        for match in _star_imports(file.data):
            dots, name = match.group(1).decode(), match.group(2).decode()
            source = resolve_relative(file.module, file.is_package, len(dots), name or None)
            if source is not None and (
                source in self.summaries or source.partition(".")[0] in _CATALOG_ROOTS
            ):
                return True
        return False

    def _canonicalize_config_marks(self) -> None:
        """A config entry may name a re-export (``pkg.start``); mark the definition it leads to as well."""
        for qualname, mark in list(self.marks.items()):
            target = self._follow(qualname, set())
            if target is not None and target != qualname and target not in self.marks:
                self.marks[target] = mark
        self._forget_lookups()

    def _prefilter(self, with_classes: bool = False, reexports_only: bool = False) -> Prefilter:
        """What a file must mention to call something must-retain (see Prefilter)."""
        plain: set[str] = set()
        guarded: dict[str, set[str]] = {}
        in_file: dict[str, set[str]] = {}
        # Names of module-level functions (and module-level aliases) -> their modules' last names;
        # a name that also belongs to something else (a method, a configured name) is left plain.
        bound: dict[str, set[str]] = {}
        methods: dict[str, set[str]] = {}  # method name -> its classes' names
        unbound: set[str] = set()
        for qualname, mark in self.marks.items():
            parts = qualname.split(".")
            if mark.source == "catalog":
                guarded.setdefault(parts[0], set()).add(parts[-1])
                continue
            if "<locals>" in parts and mark.path is not None:
                if not reexports_only:  # it is reached from its own file only: nothing to re-export
                    in_file.setdefault(mark.path, set()).add(parts[-1])
                continue
            plain.add(parts[-1])
            if (
                mark.kind == "function"
                and mark.source in ("decorator", "inferred")
                and "<locals>" not in parts
                and len(parts) > 1
            ):
                bound.setdefault(parts[-1], set()).add(parts[-2])
            elif (owner := mark.owner_class) is not None:
                methods.setdefault(parts[-1], set()).add(owner)
            else:
                unbound.add(parts[-1])
            if with_classes and mark.kind == "method" and len(parts) > 1:
                plain.add(parts[-2])
                unbound.add(parts[-2])
        reaching = self._names_reaching_marks()
        for module, summary in self.summaries.items():
            for local, targets in summary.bindings.items():
                if not any(t.rpartition(".")[2] in reaching for t in targets):
                    continue  # no lookup of them finds a mark
                marks = [m for m in map(self.lookup, targets) if m is not None]
                if not marks:
                    continue
                if all(m.source == "catalog" for m in marks):
                    # Importers of a re-exported catalog name name this module (its last part).
                    guarded.setdefault(module.rpartition(".")[2], set()).add(local)
                else:
                    plain.add(local)  # a module attribute: reached through what a file binds
                    bound.setdefault(local, set()).add(module.rpartition(".")[2])
        owners: dict[str, set[str]] = {}
        for name, classes in methods.items():
            if name not in unbound and name not in bound:
                owners[name] = self._related_names(classes)
        if reexports_only:
            bound = {}
        for name in unbound:
            bound.pop(name, None)
        for name in methods:
            if name in bound:  # also a module-level function's name: plain
                del bound[name]
        if not reexports_only:
            for path in self.receiver_types.hits:
                in_file.setdefault(path, set()).update(self.receiver_types.names)
        return Prefilter(plain, guarded, reexports_only, in_file, bound, owners)

    def _names_reaching_marks(self) -> set[str]:
        """The last names of every qualified name whose ``lookup`` can find a mark (a superset): the
        last names of the marks' keys and of the classes whose ``__init__`` is marked, with what derives
        from them and aliases them (``_related_names``). A step of ``_redirects`` keeps a name's last
        part, except through a binding of it, whose local is an alias of the target's last name; a step
        of ``_inherited`` keeps it, or goes from a subclass to its base. So ``_prefilter`` need not look
        up a binding whose targets' last names are all outside this set (most of them: 15,000 lookups
        over 9 calls on ray)."""
        last_names = set()
        for key in self.marks:
            owner, _, name = key.rpartition(".")
            last_names.add(name)
            if name == "__init__":
                last_names.add(owner.rpartition(".")[2])
        return self._related_names(last_names)

    def _related_names(self, classes: set[str]) -> set[str]:
        """The class names, with (by last name, so never too few) the summarized classes deriving from
        them and the module-level aliases of any of those."""
        if self._derived is None:
            derived: dict[str, set[str]] = {}
            for summary in self.summaries.values():
                for qualname, info in summary.classes.items():
                    for base in info.bases:
                        derived.setdefault(base.rpartition(".")[2], set()).add(
                            qualname.rpartition(".")[2]
                        )
                for local, targets in summary.bindings.items():
                    for target in targets:
                        derived.setdefault(target.rpartition(".")[2], set()).add(local)
            self._derived = derived
        found = set(classes)
        pending = list(classes)
        while pending:
            for name in self._derived.get(pending.pop(), ()):
                if name not in found:
                    found.add(name)
                    pending.append(name)
        return found

    # -- lookup ----------------------------------------------------------------------------------
    def _forget_lookups(self) -> None:
        """Marks or summaries changed: what lookups and star exports found may no longer hold."""
        self._forget_found()
        self._exports.clear()
        self._redirects_memo.clear()  # they follow the summaries and star exports, not the marks
        self._derived = None

    def _forget_found(self) -> None:
        """A mark was added: what lookups found, and which names lead nowhere, may no longer hold."""
        self._lookup_cache.clear()
        self._nowhere_memo.clear()
        self._opened_names = None

    def lookup(self, qualname: str) -> Mark | None:
        """The mark a qualified name leads to, following re-exports, aliases, star imports and bases."""
        if qualname in self._lookup_cache:
            return self._lookup_cache[qualname]
        self._lookup_cache[qualname] = None  # a cycle through bases finds nothing
        result = self._lookup(qualname) or self._inherited(qualname)
        self._lookup_cache[qualname] = result
        return result

    def _inherited(self, qualname: str) -> Mark | None:
        """Marks that reach a name through its class: an override of a marked method (``Sub.open``
        when ``Base.open`` is marked or configured), a subclass of a marked class, and a class whose
        ``__init__`` is marked."""
        owner, _, name = qualname.rpartition(".")
        info = self._class_info(owner) if owner else None
        if info is not None and name in info.names:
            for base in info.bases:
                mark = self.lookup(f"{base}.{name}")
                if (
                    mark is not None
                    and mark.source in ("decorator", "config")
                    and mark.kind != "class"
                ):
                    return mark
        info = self._class_info(qualname)
        if info is None:
            return None
        init = self.marks.get(f"{qualname}.__init__")
        if init is not None and init.source == "decorator":
            return replace(init, qualname=qualname, kind="class")
        for base in info.bases:
            mark = self.lookup(base)
            if mark is not None and mark.kind == "class":
                return mark
        return None

    def _lookup(self, qualname: str) -> Mark | None:
        """Depth first through the names ``qualname`` denotes (in ``_redirects``'s order), each visited
        once: a chain of any length ends at its mark, a cycle ends when it comes round. A path does not
        rewrite the same name twice: a chain that comes back to a name it rewrote, with more after it,
        is a circular definition, whose names would grow without end (``A = B.x`` and ``B = A.y``:
        ``m.A.z``, ``m.B.x.z``, ``m.A.y.x.z``, ...; ``Base = Base.Inner`` alone does the same)."""
        seen: set[str] = set()
        stack: list[tuple[str, tuple[str, ...]]] = [(qualname, ())]
        while stack:
            name, rewritten = stack.pop()
            mark = self.marks.get(name)
            if mark is not None:
                return mark
            if name in seen:
                continue
            seen.add(name)
            found = [
                (other, (*rewritten, key))
                for other, key in reversed(self._redirects(name))
                if key not in rewritten
            ]
            if len(seen) > self.PRUNE_AFTER:
                # Aliases with several targets each, chained (``N1 = N0.a``, ``N1 = N0.b``,
                # ``N2 = N1.a``, ...), make the names a lookup goes through double at each step: past
                # this many, those that cannot lead to a mark are passed over (the same answer).
                found = [item for item in found if not self._leads_nowhere(item[0])]
            stack.extend(found)
        return None

    PRUNE_AFTER = 32  # names one lookup goes through before it tests them (see ``_leads_nowhere``)

    def _leads_nowhere(self, name: str) -> bool:
        """Is it shown that ``name`` leads to no mark, because a part of it before its last does?
        (``_nowhere``.) Only lookups that go through many names ask."""
        try:
            try:
                return self._before_nowhere(name, set(), set(), False)
            except RecursionError:  # a long chain of aliases: again with more room (deep.py)
                return run_deep(self._before_nowhere, name, set(), set(), False)
        except RecursionError:
            return False  # not shown

    def _before_nowhere(self, name: str, path: set[str], keys: set[str], whole: bool) -> bool:
        """Does a part of ``name`` before its last (or, with ``whole``, ``name`` itself) lead nowhere?"""
        parts = name.split(".")
        prefix = ""
        for part in parts if whole else parts[:-1]:
            prefix = (
                f"{prefix}.{part}" if prefix else part
            )  # built as it goes, not joined each time
            if self._nowhere(prefix, path, keys):
                return True
        return False

    def _nowhere(self, prefix: str, path: set[str], keys: set[str]) -> bool:
        """Is it shown that no name ``prefix.rest`` leads to a mark? True when ``prefix`` begins no
        module, class or mark's key (so no part of ``rest`` is ever rewritten, and no mark is found
        below it), and each name that a start of ``prefix`` is rewritten to (``_redirects(prefix)``,
        which holds those of ``prefix.rest`` but for the ones the lookup skips) leads nowhere, or has a
        part before its last that does. What comes round again (the same name, or a start rewritten
        again on the way: a circular definition, whose names grow) is not shown to lead nowhere, so a
        True never rests on an assumption; both answers are kept until the index changes (a False
        only means "not shown")."""
        known = self._nowhere_memo.get(prefix)
        if known is not None:
            return known
        if prefix in path or prefix in self._opened():
            return False
        path.add(prefix)
        result = True
        for other, key in self._redirects(prefix):
            if key in keys:
                result = False
                break
            keys.add(key)
            shown = self._before_nowhere(other, path, keys, True)
            keys.discard(key)
            if not shown:
                result = False
                break
        path.discard(prefix)
        self._nowhere_memo[prefix] = result
        return result

    def _opened(self) -> set[str]:
        """Each module and class, and every name that begins one of them or a mark's key (what
        ``_nowhere`` must not pass over): built when a lookup first needs it, kept until the index
        changes."""
        if self._opened_names is None:
            classes = [q for summary in self.summaries.values() for q in summary.classes]
            opened = {*self.summaries, *classes}
            for name in (*self.summaries, *classes, *self.marks):
                at = name.find(".")
                while at != -1:
                    opened.add(name[:at])
                    at = name.find(".", at + 1)
            self._opened_names = opened
        return self._opened_names

    def _redirects(self, qualname: str) -> list[tuple[str, str]]:
        """Other names that ``qualname`` denotes: through a binding, a star import, or a base class;
        each with the start of ``qualname`` it rewrote. Kept until a summary changes (``_forget_lookups``):
        a lookup that goes through many names meets the same ones again (in ``_nowhere`` too)."""
        found = self._redirects_memo.get(qualname)
        if found is None:
            found = self._redirects_memo[qualname] = self._find_redirects(qualname)
        return found

    def _find_redirects(self, qualname: str) -> list[tuple[str, str]]:
        parts = qualname.split(".")
        prefixes = list(accumulate(parts, lambda start, part: f"{start}.{part}"))
        # The summary of the module each prefix is a member of (the longest shorter prefix that is a
        # module), as ``_class_info`` finds it: one pass, not one per prefix.
        summaries = self.summaries
        holders: list[ModuleSummary | None] = [None]
        for prefix in prefixes[:-1]:
            summary = summaries.get(prefix)
            holders.append(holders[-1] if summary is None else summary)
        found: list[tuple[str, str]] = []
        for i in range(len(parts) - 1, 0, -1):
            prefix = prefixes[i - 1]
            name = parts[i]
            tail = qualname[len(prefixes[i]) :]
            key = prefixes[i]
            summary = summaries.get(prefix)
            if summary is not None:
                found.extend(self._module_rewrites(qualname, summary, name, tail, key))
            holder = holders[i - 1]
            owner = holder.classes.get(prefix) if holder is not None else None
            if owner is not None and name not in owner.names:
                found.extend((f"{base}.{name}{tail}", key) for base in owner.bases)
        return found

    def _module_rewrites(
        self, qualname: str, summary: ModuleSummary, name: str, tail: str, key: str
    ) -> list[tuple[str, str]]:
        """What ``qualname`` is rewritten to through ``name``, bound in the module of ``summary`` (by
        an import or alias, or by a star import unless the module defines the name itself)."""
        targets = list(summary.bindings.get(name, ()))
        if name not in summary.defined:
            # A name the module defines or assigns is its own, not a star import's (which the
            # definition below it rebinds).
            for star in summary.stars:
                if star in self.summaries:
                    targets.extend(self._star_exports(star).get(name, ()))
        # A target that the name already starts with is skipped: in discord.ui,
        # ``from .select import *`` rebinds ``select`` to discord.ui.select.select, and following that
        # again from discord.ui.select.select.X would grow the name without end.
        return [
            (target + tail, key)
            for target in targets
            if not (
                qualname.startswith(target) and qualname[len(target) : len(target) + 1] in ("", ".")
            )
        ]

    def _own_exports(self, module: str) -> dict[str, list[str]]:
        """What ``from <module> import *`` binds from the module's own statements: a name it defines
        stands for itself, a name it imports or aliases for its targets (and for itself when marked)."""
        summary = self.summaries[module]
        own: dict[str, list[str]] = {}
        for name in summary.defined:
            own[name] = [f"{module}.{name}"]
        for name, targets in summary.bindings.items():
            here = f"{module}.{name}"
            listed = own.setdefault(name, [here] if here in self.marks else [])
            listed.extend(t for t in targets if t not in listed)
        return own

    def _star_exports(self, module: str) -> dict[str, list[str]]:
        """Every name ``from <module> import *`` binds -> what it stands for, through the module's own
        star imports of any depth. Computed once per module (until the index changes) over the star graph's
        strongly connected components (Tarjan, without recursion), so cycles share one table."""
        done = self._exports
        if module in done:
            return done[module]
        summaries = self.summaries
        order: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()

        def sources(name: str) -> list[str]:
            return [s for s in summaries[name].stars if s in summaries and s != name]

        work: list[tuple[str, Iterator[str]]] = [(module, iter(sources(module)))]
        order[module] = low[module] = 0
        stack.append(module)
        on_stack.add(module)
        while work:
            node, pending = work[-1]
            advanced = False
            for source in pending:
                if source in done:
                    continue
                if source not in order:
                    order[source] = low[source] = len(order)
                    stack.append(source)
                    on_stack.add(source)
                    work.append((source, iter(sources(source))))
                    advanced = True
                    break
                if source in on_stack:
                    low[node] = min(low[node], order[source])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] != order[node]:
                continue
            members: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            members.reverse()
            # The component's star imports from outside it (already done) and its members' own names.
            shared: dict[str, list[str]] = {}
            for member in members:
                for name, targets in self._own_exports(member).items():
                    listed = shared.setdefault(name, [])
                    listed.extend(t for t in targets if t not in listed)
            for member in members:
                for source in sources(member):
                    if source in done:
                        for name, targets in done[source].items():
                            listed = shared.setdefault(name, [])
                            listed.extend(t for t in targets if t not in listed)
            for member in members:
                table = self._own_exports(member)
                if len(members) > 1 or summaries[member].stars:
                    defined = summaries[member].defined  # its own, whatever its star imports bind
                    for name, targets in shared.items():
                        if name in defined:
                            continue
                        listed = table.setdefault(name, [])
                        listed.extend(t for t in targets if t not in listed)
                done[member] = table
        return done[module]

    def _class_info(self, qualname: str) -> ClassInfo | None:
        module = qualname
        while "." in module:
            module = module.rpartition(".")[0]
            summary = self.summaries.get(module)
            if summary is not None:
                return summary.classes.get(qualname)
        return None

    def _follow(self, qualname: str, seen: set[str]) -> str | None:
        """Where a re-exported name is defined (first binding chain), or None if it is not re-exported."""
        target: str | None = None
        rewritten: set[str] = set()  # as in ``_lookup``: a chain that comes back to one is circular
        while qualname not in seen:
            seen.add(qualname)
            parts = qualname.split(".")
            for i in range(len(parts) - 1, 0, -1):
                summary = self.summaries.get(".".join(parts[:i]))
                if summary is not None and parts[i] in summary.bindings:
                    key = ".".join(parts[: i + 1])
                    if key in rewritten:
                        return target
                    rewritten.add(key)
                    qualname = summary.bindings[parts[i]][0] + "".join(
                        "." + p for p in parts[i + 1 :]
                    )
                    target = qualname
                    break
            else:
                break
        return target


def _parse_cut(data: bytes, skeleton: bool) -> ast.Module | None:
    """The tree of the part of the text its summary reads (skeletons.py): the skeleton, or else the text
    without its functions' bodies. None: read the whole file."""
    cut = module_skeleton(data) if skeleton else without_function_bodies(data)
    if cut is None:
        return None
    try:
        return parse_quietly(cut)
    except (SyntaxError, ValueError):
        return None


def _cut_summary(
    data: bytes, item: tuple[int, str, str, str, bool, bool], shared: tuple[set[str], set[str]]
) -> ModuleSummary | None:
    """The summary of a file (``item``: its number, path, display path, module, whether a package,
    whether a skeleton suffices) from a cut of its text; None when the cut does not parse. ``shared``:
    the marker decorators and markers. Run by ``Corpus.map``, in a corpus helper too."""
    _, path, display, module, is_package, skeleton = item
    tree = _parse_cut(data, skeleton)
    if tree is None:
        return None
    decorators, markers = shared
    return summarize_module(
        tree, SourceFile(path, display, module, is_package), decorators, markers
    )


def _skeleton_suffices(file: SourceFile, plain_only: Prefilter) -> bool:
    """For a file the alias closure reads: did only a catalog re-export bring it there? Then its
    top-level imports and aliases are all that matter, unless it is a module that defines catalog
    entries (whose aliases may stand under an ``if``): ``matplotlib.animation``, not every module of
    the matplotlib package. ``plain_only`` is the closure's test for project names alone."""
    return (
        file.module not in _CATALOG_HOMES
        and not plain_only(file.data)
        and not has_lone_cr(file.data)  # the skeleton is cut by LF lines
    )


def _mark_shape(mark: Mark) -> tuple:
    """A mark without where its definition stands (its line moves with every edit above it). What it
    returns is named, not expanded: the marks of the file being compared are compared each, and the
    others did not change (a chain of wrappers may be thousands long)."""
    returns = mark.returns.qualname if mark.returns is not None else None
    return (*replace(mark, location=None, line=0, returns=None).__dict__.values(), returns)


def _summary_shape(summary: ModuleSummary, with_defined: bool) -> tuple:
    return (
        summary.module,
        summary.bindings,
        summary.stars,
        summary.classes,
        [_mark_shape(mark) for mark in summary.marks],
        summary.defined if with_defined else None,
    )


def _defined_async(file: SourceFile, cache: ParseCache, path: str) -> bool | None:
    """Is ``path`` (``func`` or ``Class.method``) of the module an ``async def``? None when the module
    does not define it (or does not parse)."""
    name = path.rpartition(".")[2]
    if name.encode() not in file.data:
        return None
    tree = cache.parse(file)
    if tree is None:
        return None
    body: list[ast.stmt] = tree.body
    parts = path.split(".")
    for i, part in enumerate(parts):
        node = next(
            (
                n
                for n in body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and n.name == part
            ),
            None,
        )
        if node is None:
            return None
        if i == len(parts) - 1:
            return isinstance(node, ast.AsyncFunctionDef)
        body = node.body
    return None
