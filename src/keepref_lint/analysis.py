"""Analysis of files that can hold findings: the project and its index, parsing, checking, fixing.

Imported only when a run cannot be answered from the results cache, so a warm run stays cheap.
"""

from __future__ import annotations

import ast
import gc
import os
import re
import sys
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import accumulate

from keepref_lint import stats
from keepref_lint.cache import DiskCache, Manifest, cache_folder, manifest_of
from keepref_lint.codes import is_selected
from keepref_lint.config import Settings
from keepref_lint.corpus import Corpus
from keepref_lint.deep import run_deep
from keepref_lint.finding import FileResult, Finding
from keepref_lint.fragment import call_ends, no_drop_possible
from keepref_lint.index import ProjectIndex
from keepref_lint.parsing import ParseCache
from keepref_lint.prefilter import Prefilter
from keepref_lint.project import (
    PACKAGE_FILES,
    Excluder,
    InputError,
    InternalError,
    ModuleMap,
    SourceFile,
    display_path,
    is_stub,
    read_source,
    scan_tree,
    too_deep,
)
from keepref_lint.rules import check_tree
from keepref_lint.sourcetext import SourceText
from keepref_lint.suppress import (
    file_is_silenced,
    is_suppressed,
    logical_lines,
    logical_lines_of,
    physical_lines,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar


class Project:
    """The files of a project and its index, built once and shared by every check in the run.

    The index comes from the on-disk cache when no project file changed since it was written; files are
    read only when the index must be rebuilt or a file is checked.
    """

    _shared: ClassVar[dict[tuple[str, str], Project]] = {}

    @classmethod
    def shared(cls, settings: Settings) -> Project:
        """One project per root and settings in this process (the flake8 plugin and the codemod see one
        file at a time; forked workers inherit what the parent built)."""
        key = (settings.root, settings.fingerprint())
        project = cls._shared.get(key)
        if project is None:
            project = cls._shared[key] = cls(settings)
        return project

    def __init__(
        self,
        settings: Settings,
        extra_files: Iterable[str] = (),
        manifest: Manifest | None = None,
        buffers: Mapping[str, bytes] | None = None,
        scan_helper: bool = False,
        marks_known: Callable[[Project, ProjectIndex, set[str]], None] | None = None,
    ) -> None:
        """``manifest`` (every project file's path and stat) may come from a scan the caller made.
        ``buffers`` (absolute path -> text) are an editor's unsaved texts: each is checked, and indexed,
        in place of the file on disk (which need not exist). ``scan_helper``: an index built here may
        fork a process to share its word scans (``corpus.Corpus.start_helper``). ``marks_known(project,
        index, names)`` is called by a build of the index over the files on disk before its last
        step (``ProjectIndex.build``; the early check, early.py)."""
        self.settings = settings
        self.scan_helper = scan_helper
        self.marks_known = marks_known
        self.excluder = Excluder(settings.root, settings.exclude)
        self.cache: ParseCache = stats.parse_cache()
        if manifest is None:
            from keepref_lint.gitignore import NOTHING, ignored_below, without_ignored

            found: list[str] = []
            manifest = scan_tree(settings.root, self.excluder, gitignores=found)
            cache_file = (
                os.path.join(cache_folder(settings), "gitignore.marshal")
                if settings.cache
                else None
            )
            ignored = (
                ignored_below(settings.root, manifest, found, cache_file)
                if settings.respect_gitignore
                else NOTHING
            )
            manifest = without_ignored(manifest, ignored)
            manifest.update(manifest_of([p for p in extra_files if p not in manifest]))
        self.manifest = manifest  # also the sizes: a file is read in one call
        new_packages = [
            path
            for path in buffers or ()
            if path not in manifest and os.path.basename(path) in PACKAGE_FILES
        ]
        self.modules = ModuleMap(settings.root, [*manifest, *new_packages])
        self.files: dict[str, SourceFile] = {}
        self.read_errors: dict[str, InputError] = {}
        self.buffers: dict[str, bytes] = {}  # the texts that stand in for files on disk
        self._corpus: tuple[list[SourceFile], Corpus] | None = None
        if new_packages:  # module names move: an index of the files on disk cannot serve
            self.buffers = dict(buffers or {})
            self.index = self._build_index()
            self.index.token += "+buffers"
            return
        if settings.cache:
            disk = DiskCache(cache_folder(settings), settings.root, settings.fingerprint())
            self.index = disk.get_or_build(self.manifest, self._build_index, self._still_valid)
        else:
            self.index = self._build_index()
        if buffers:
            self._use_buffers(buffers)

    def _use_buffers(self, buffers: Mapping[str, bytes]) -> None:
        """Put the texts of ``buffers`` in place of the files on disk, and bring the index (built from the
        files on disk, and private to this project) up to date with them: in place when each buffer
        gives it what its file gave (``refresh``) or could not have been read by the build, else by
        building it again over the buffers. Nothing built here is stored in the on-disk cache."""
        changed: list[SourceFile] = []
        for path, data in buffers.items():
            disk = self.source(path) if path in self.manifest else None
            if disk is not None and disk.data == data:
                continue  # the buffer is the file: nothing to stand in for
            if disk is not None:
                self.cache.discard(disk)
                del self.files[path]
            self.read_errors.pop(path, None)
            self.buffers[path] = data
            file = self.source(path)
            assert file is not None
            changed.append(file)
        if not changed:
            return
        self._corpus = None
        index = self.index
        for file in changed:
            if file.path in index.used:
                fits = index.refresh(file, self.cache)
            else:
                fits = not index.affected_by(file)
            if not fits:
                break
        if fits:
            # The same build with these texts: results stored for it are valid for them only.
            from hashlib import blake2b

            texts = blake2b(digest_size=8)
            for file in sorted(changed, key=lambda f: f.path):
                texts.update(file.path.encode("utf-8", "surrogateescape") + b"\0" + file.data)
            index.token = f"{index.token}+{texts.hexdigest()}"
        else:
            self.index = self._build_index()
            self.index.token += "+buffers"

    def _build_index(self) -> ProjectIndex:
        paths = [*self.manifest, *(p for p in self.buffers if p not in self.manifest)]
        started = stats.clock()
        files = [file for file in map(self.source, paths) if file is not None]
        # Stubs give marks only (index.py, _summarize_stubs): the rest of the build never sees them.
        stubs = [file for file in files if is_stub(file.path)]
        if stubs:
            files = [file for file in files if not is_stub(file.path)]
        started = stats.since("index.read", started)
        corpus = Corpus([f.data for f in files], [f.path for f in files])
        self._corpus = (files, corpus)
        if self.scan_helper:
            corpus.start_helper()
        stats.since("index.corpus", started)
        stats.add("index_builds")
        # As in a cold run (engine.run), whoever builds: the flake8 plugin and the codemod build in a
        # process with automatic collection on, which re-scans the growing index over and over.
        collecting = gc.isenabled()
        gc.disable()
        try:
            hook = None if self.buffers else self.marks_known
            marks_known = None if hook is None else (lambda index, names: hook(self, index, names))
            index = ProjectIndex.build(files, self.settings, self.cache, corpus, stubs, marks_known)
        finally:
            corpus.close()  # before any worker is forked: none may inherit its pipes
            if collecting:
                gc.enable()
        if os.environ.get("KEEPREF_LINT_DEBUG"):
            print(
                f"keepref-lint: built the index of {self.settings.root} ({len(files)} files)",
                file=sys.stderr,
            )
        return index

    def _still_valid(self, index: ProjectIndex, old: Manifest) -> bool:
        """Can the index built for the ``old`` manifest serve this one? Yes when no file it was built
        from went away, each one that changed gives the index what it gave before (``refresh``), no
        package appeared or vanished (module names would move), and no other new or edited file would
        have been read by the build."""
        new = self.manifest
        removed = [path for path in old if path not in new]
        changed = [
            path
            for path, stat in new.items()
            if old.get(path) != stat and not self._same_text(path, old, index.digests)
        ]
        if len(changed) + len(removed) > max(50, len(new) // 10):
            return False  # a rebase or a new branch: building is cheaper than testing each file
        if any(path in index.used for path in removed):
            return False
        if any(
            os.path.basename(path) in PACKAGE_FILES
            for path in (*removed, *(p for p in changed if p not in old))
        ):
            return False
        for path in changed:
            file = self.source(path)
            if file is None:
                if path in index.used:
                    return False
            elif path in index.used:
                if not index.refresh(file, self.cache):  # read again: the same as before?
                    return False
            elif index.affected_by(file):
                return False
        for path in changed:  # the index now stands for these texts
            file = self.files.get(path)
            if file is not None:
                index.digests[path] = file.digest
        for path in removed:
            index.digests.pop(path, None)
        return True

    def _same_text(self, path: str, old: Manifest, digests: dict[str, bytes]) -> bool:
        """Does a file whose size or time differs from the ``old`` manifest hold the text the index was
        built from? (A checkout or ``touch`` gives every file a new time: reading and comparing checksums
        is a tenth of building.) A new size settles it without a read."""
        if path not in old or path not in digests or old[path][1] != self.manifest[path][1]:
            return False
        return self.same_text(path, digests[path])

    def same_text(self, path: str, digest: bytes) -> bool:
        """Does the file at ``path`` hold the text whose checksum (``SourceFile.digest``) is ``digest``?"""
        file = self.source(path)
        return file is not None and file.digest == digest

    def source(self, path: str) -> SourceFile | None:
        """The file at ``path``, read once; None (and an entry in read_errors) if it cannot be read."""
        file = self.files.get(path)
        if file is not None or path in self.read_errors:
            return file
        module, is_package = self.modules.module_for(path)
        buffer = self.buffers.get(path)
        if buffer is not None:
            file = self.files[path] = SourceFile(
                path, display_path(path), module, is_package, buffer
            )
            return file
        file = SourceFile(path, display_path(path), module, is_package)
        try:
            read_source(file, digest=self.settings.cache)
        except InputError as error:
            self.read_errors[path] = error
            return None
        self.files[path] = file
        return file

    @property
    def corpus(self) -> Corpus | None:
        """The word scans of the index just built (or being built), while they are kept."""
        return self._corpus[1] if self._corpus is not None else None

    def candidates(self, paths: list[str], prefilter: Prefilter | None = None) -> set[str]:
        """The paths whose text may hold a finding (a word scan over all of them at once), by the
        index's prefilter or ``prefilter``."""
        files = [file for file in map(self.source, paths) if file is not None]
        if PARSE_ALL:
            return {file.path for file in files}
        if self._corpus is not None and set(map(id, files)) <= {id(f) for f in self._corpus[0]}:
            # The index was just built over these texts: reuse its scans.
            known, corpus = self._corpus
        else:
            known, corpus = files, Corpus([f.data for f in files], [f.path for f in files])
        wanted = {id(f) for f in files}
        return {
            known[i].path
            for i in (prefilter or self.index.prefilter).candidates(corpus)
            if id(known[i]) in wanted
        }

    def release(self, file: SourceFile) -> None:
        """Forget a checked file's tree and scopes (a whole-tree run must not hold them all)."""
        self.cache.discard(file)

    def release_texts(self, keep: set[str]) -> None:
        """Drop the texts of files that will not be checked, and the word-scan corpus, once the index
        and the candidates are known."""
        self._corpus = None
        for path, file in self.files.items():
            if path not in keep:
                file.data = b""

    def source_for_flake8(self, path: str | None, display: str, lines: list[str]) -> SourceFile:
        """The file flake8 is checking: from disk (its own encoding) or the buffer standing in for it,
        else flake8's lines."""
        if path is not None:
            file = self.source(path)
            if file is not None:
                file.display = display
                return file
        module, is_package = self.modules.module_for(path) if path else ("stdin", False)
        return SourceFile(
            path or display, display, module, is_package, "".join(lines).encode("utf-8")
        )

    def check_tree_unfiltered(self, file: SourceFile, tree: ast.Module) -> list[Finding]:
        """Findings for an already parsed file, before noqa and code selection (flake8 does both)."""
        if is_stub(file.path):
            return []  # a stub holds no call that runs (the flake8 plugin and codemod may be given one)
        if PARSE_ALL:
            return check_tree(file, tree, self.index)
        passes, places = self.index.prefilter.drop_places(file.data, file.path)
        if not passes:
            return []
        if self._no_drop_possible(file, places):
            return []
        return check_tree(file, tree, self.index, only_at=call_ends(file.data, places))

    def _no_drop_possible(self, file: SourceFile, places: list[tuple[int, str]] | None) -> bool:
        """The cheaper proof (fragment.py): every candidate line (``places``, the prefilter's
        ``drop_offsets``), judged from its definition alone, can hold no drop. Worth it even with the
        file's tree at hand: the scope analysis is the cost."""
        started = stats.clock()
        proved = places is not None and no_drop_possible(file.data, places)
        stats.since("cpu.fragment", started)
        stats.add("fragment_proofs")
        stats.add("fragment_proved", proved)
        return proved

    def check_file(self, file: SourceFile) -> list[Finding]:
        """Findings of one file after ``# noqa`` and select/ignore; parse errors raise InputError."""
        if is_stub(file.path):
            return []  # a stub holds no call that runs (an editor may open one)
        only_at = None
        if not PARSE_ALL:
            passes, places = self.index.prefilter.drop_places(file.data, file.path)
            if not passes:
                return []
            if file.path not in self.cache.trees and self._no_drop_possible(file, places):
                return []  # not parsed yet, and the cheaper proof suffices
            only_at = call_ends(file.data, places)
        scopes = self.cache.scopes(file)
        if scopes is None:
            raise self.cache.errors[file.path]
        tree = scopes.module.node
        assert isinstance(tree, ast.Module)
        started = stats.clock()
        findings = check_tree(file, tree, self.index, scopes, only_at)
        started = stats.since("cpu.rules", started)
        findings = self.filter_findings(file, findings, tree)
        stats.since("cpu.noqa", started)
        return findings

    def filter_findings(
        self, file: SourceFile, findings: list[Finding], tree: ast.Module | None = None
    ) -> list[Finding]:
        """Apply select/ignore and ``# noqa`` the way flake8 would (``tree``: the file's, if at hand,
        so that only the statements holding findings are tokenized)."""
        settings = self.settings
        findings = [f for f in findings if is_selected(f.code, settings.select, settings.ignore)]
        if findings and settings.per_file_ignores:
            from keepref_lint.config import per_file_ignored

            ignored = per_file_ignored(settings, file.path)
            findings = [f for f in findings if not is_selected(f.code, ignored, ())]
        if not findings:
            return findings
        if _NOQA.search(file.data) is None:
            # No comment can suppress anything (and tokenizing a large file is slow).
            return findings
        text = SourceText(file.data, file.display).text
        physical = physical_lines(text)
        if file_is_silenced(physical, text):
            return []
        if tree is None:
            lines = logical_lines(text)
        else:
            lines = logical_lines_of(text, {f.line for f in findings}, tree, physical)
        return [f for f in findings if not is_suppressed(f.code, lines.get(f.line, ""))]


stats.instrument()  # KEEPREF_LINT_STATS only: time the index build's steps

# A switch for tests (the prefilter-equivalence property test): every file is parsed and analysed whole,
# with neither the text prefilter nor the fragment proof. Read once, at import.
PARSE_ALL = os.environ.get("KEEPREF_LINT_PARSE_ALL") == "1"
_NOQA = re.compile(rb"noqa", re.IGNORECASE)
_NEWLINE = re.compile(r"\r\n|\r|\n")
PARALLEL_MIN_FILES = 8  # below this, starting processes costs more than it saves


def _analyse(
    project: Project, path: str, fix: bool, diff: bool = False
) -> tuple[str, InputError | None, FileResult | None]:
    """Check one file and, for ``fix``, compute and verify its new text (written by the caller); with
    ``diff``, also the unified diff (only when asked: it costs time quadratic in the changed lines).

    Whatever goes wrong is this file's one-line error, and the run goes on with the others: a file
    nested past the recursion limit is analysed again with more room (deep.py); any other failure is an
    InternalError naming the file."""
    file = project.source(path)
    assert file is not None
    try:
        try:
            return _analyse_file(project, file, fix, diff)
        except RecursionError:
            project.release(file)  # what the failed attempt left half-built
            return run_deep(_analyse_file, project, file, fix, diff)
    except RecursionError:
        return path, too_deep(file.display), None
    except Exception as exc:
        import traceback

        cause = (
            f"internal error: {type(exc).__name__}: {exc} (rerun with --debug; please report it)"
        )
        return path, InternalError(file.display, cause, traceback.format_exc()), None
    finally:
        project.release(file)
        if not gc.isenabled():
            # The run manages collection (engine.run): free whatever cycles this file left now.
            gc.collect(0)


def _analyse_file(
    project: Project, file: SourceFile, fix: bool, diff: bool = False
) -> tuple[str, InputError | None, FileResult | None]:
    path = file.path
    try:
        findings = project.check_file(file)
    except InputError as error:
        return path, error, None
    file_result = FileResult(file, findings)
    if fix and any(f.fixable for f in findings):
        try:
            _fix_file(project, file_result, diff)
        except InputError as error:
            return path, error, file_result
    return path, None, file_result


Outcome = tuple[str, InputError | None, FileResult | None]
_CHUNK = 2  # files per message to a worker


def analyse_all(
    project: Project,
    work: list[str],
    fix: bool,
    jobs: int | None,
    diff: bool = False,
    done: Mapping[str, Outcome] | None = None,
) -> Iterator[Outcome]:
    """Results in input order; in forked worker processes (which inherit the index) for large inputs
    (workers.py: a worker that dies costs the files it was checking, each an error). ``done``: the
    outcomes of files checked already (early.py), by path, given in their places."""
    if not done:
        yield from _analyse_each(project, work, fix, jobs, diff)
        return
    rest = _analyse_each(project, [path for path in work if path not in done], fix, jobs, diff)
    try:
        for path in work:
            yield attached(project, done[path]) if path in done else next(rest)
    finally:
        rest.close()


def analyse_for_parent(project: Project, path: str, fix: bool, diff: bool) -> Outcome:
    """``_analyse`` in a forked process: the outcome without the file's text, which the parent has
    (``attached``). A pickled text is read, copied down a pipe and read again: 18 MB on litellm."""
    path, error, file_result = _analyse(project, path, fix, diff)
    if file_result is not None:
        file_result.file = None  # type: ignore[assignment]
    return path, error, file_result


def attached(project: Project, outcome: Outcome) -> Outcome:
    """An outcome from a forked process with its file again (``analyse_for_parent``)."""
    path, _, file_result = outcome
    if file_result is not None and file_result.file is None:
        file_result.file = project.source(path)  # type: ignore[assignment]
    return outcome


def forked_jobs(jobs: int | None, files: int) -> int:
    """The worker processes a check of ``files`` files forks: 1 (none, the check runs here) when
    there is one CPU or job, too few files to pay for processes, or no fork."""
    from keepref_lint import workers

    count = workers.worker_count(jobs, files)
    return count if count > 1 and files >= PARALLEL_MIN_FILES and workers.can_fork() else 1


def _analyse_each(
    project: Project, work: list[str], fix: bool, jobs: int | None, diff: bool
) -> Iterator[Outcome]:
    from keepref_lint import workers

    jobs = forked_jobs(jobs, len(work))
    if not gc.isenabled():
        # What exists now (the index, kept trees) lives to the end of the run: keep it out of the
        # per-file collections, and out of reach of the collector in forked workers (no copy-on-write).
        gc.freeze()
    if jobs <= 1:
        for path in work:
            yield _analyse(project, path, fix, diff)
        return
    stats.add("workers", jobs)
    chunks = [work[i : i + _CHUNK] for i in range(0, len(work), _CHUNK)]

    def task(index: int) -> list[Outcome]:
        return [analyse_for_parent(project, path, fix, diff) for path in chunks[index]]

    def lost(index: int, status: int | None) -> list[Outcome]:
        cause = f"internal error: the worker process checking it died (exit status {status})"
        return [(path, InputError(display_path(path), cause), None) for path in chunks[index]]

    # The largest first: the last chunk to finish is then a small one, not the longest file's.
    sizes = [sum(len(project.source(path).data) for path in chunk) for chunk in chunks]
    order = sorted(range(len(chunks)), key=lambda index: -sizes[index])
    for outcomes in workers.in_workers(chunks, task, jobs, lost, order):
        for outcome in outcomes:
            yield attached(project, outcome)


def _fix_file(project: Project, file_result: FileResult, diff: bool = False) -> None:
    """Compute and verify the fixed text of one file (the caller writes it)."""
    # Only ``fix`` gets here: a check does not import the fixer's writing side (apply.py and, through
    # it, tempfile, shutil and threading: 2-3 ms of every check's start).
    from keepref_lint.apply import fixed_text, verify

    file = file_result.file
    source = SourceText(file.data, file.display)
    fixable = [f for f in file_result.findings if f.fix is not None]
    new_text = fixed_text(source, fixable)
    try:
        new_data = source.encode(new_text)
    except UnicodeEncodeError as exc:
        raise InputError(
            file.display, f"fix not written: cannot encode as {source.encoding}: {exc}"
        ) from None
    tree = project.cache.forget(file)  # verification consumes the cached tree
    verify(file.display, tree, new_data, fixable)
    if diff:
        file_result.diff = unified_diff(file.display, source.text, new_text)
    file_result.new_data = new_data
    # Fixes add lines (a comment above, a task's two lines below, the set of tasks after the imports):
    # move what is left to where it now stands.
    added: dict[int, int] = {}
    for edit in dict.fromkeys(e for f in fixable for e in f.fix.edits):
        lines = len(_NEWLINE.findall(edit.text)) - len(
            _NEWLINE.findall(source.text, edit.start, edit.end)
        )
        if lines:
            line = bisect_right(source.line_starts, edit.start)
            added[line] = added.get(line, 0) + lines
    if added:
        at = sorted(added)
        before = list(accumulate(added[line] for line in at))
        for finding in file_result.findings:
            if finding.fix is None:
                i = bisect_right(at, finding.line)
                shift = before[i - 1] if i else 0
                finding.line += shift
                finding.end_line += shift


def unified_diff(display: str, old: str, new: str) -> str:
    import difflib

    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{display}",
        tofile=f"b/{display}",
    )
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n" for line in lines)
