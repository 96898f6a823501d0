"""One run over a project: discover, read, index, check, and (for ``fix``) rewrite.

Every front end goes through here, so the CLI, the flake8 plugin and the codemod see the same findings.
"""

from __future__ import annotations

import ast
import difflib
import multiprocessing
import os
import signal
import sys
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from keepref_lint.apply import atomic_write, fixed_text, verify
from keepref_lint.cache import DiskCache, default_cache_dir, manifest_of
from keepref_lint.codes import is_selected
from keepref_lint.config import Settings
from keepref_lint.finding import Finding
from keepref_lint.index import Corpus, ParseCache, ProjectIndex
from keepref_lint.project import (
    GENERATED_MARKER,
    Excluder,
    InputError,
    ModuleMap,
    SourceFile,
    display_path,
    read_source,
    target_paths,
    walk_python_files,
)
from keepref_lint.rules import check_tree
from keepref_lint.sourcetext import SourceText
from keepref_lint.suppress import file_is_silenced, is_suppressed, logical_lines, physical_lines


@dataclass
class FileResult:
    file: SourceFile
    findings: list[Finding] = field(default_factory=list)
    new_data: bytes | None = None  # set by fix when the file changes
    written: bool = False  # the new data is on disk
    diff: str = ""


@dataclass
class RunResult:
    results: list[FileResult] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    files_checked: int = 0
    skipped_generated: int = 0
    root: Path = field(default_factory=Path.cwd)
    interrupted: bool = False

    @property
    def findings(self) -> list[Finding]:
        return sorted((f for r in self.results for f in r.findings), key=Finding.sort_key)


class Project:
    """The files of a project and its index, built once and shared by every check in the run.

    The index comes from the on-disk cache when no project file changed since it was written; files are
    read only when the index must be rebuilt or a file is checked.
    """

    def __init__(
        self, settings: Settings, extra_files: Iterable[Path] = (), paths: list[Path] | None = None
    ) -> None:
        self.settings = settings
        self.excluder = Excluder(settings.root, settings.exclude)
        self.cache = ParseCache()
        self.paths = paths if paths is not None else project_paths(settings, extra_files)
        self.modules = ModuleMap(settings.root, self.paths)
        self.files: dict[Path, SourceFile] = {}
        self.read_errors: dict[Path, InputError] = {}
        self._corpus: tuple[list[SourceFile], Corpus] | None = None
        if settings.cache:
            folder = (
                Path(settings.cache_dir) if settings.cache_dir else default_cache_dir(settings.root)
            )
            disk = DiskCache(folder, settings.root, settings.fingerprint())
            self.manifest = manifest_of(self.paths)
            self.index = disk.get_or_build(self.manifest, self._build_index)
        else:
            self.index = self._build_index()

    def _build_index(self) -> ProjectIndex:
        files = [file for file in map(self.source, self.paths) if file is not None]
        self._corpus = (files, Corpus([f.data for f in files]))
        index = ProjectIndex.build(files, self.settings, self.cache, self._corpus[1])
        if os.environ.get("KEEPREF_LINT_DEBUG"):
            print(
                f"keepref-lint: built the index of {self.settings.root} ({len(files)} files)",
                file=sys.stderr,
            )
        return index

    def source(self, path: Path) -> SourceFile | None:
        """The file at ``path``, read once; None (and an entry in read_errors) if it cannot be read."""
        file = self.files.get(path)
        if file is not None or path in self.read_errors:
            return file
        module, is_package = self.modules.module_for(path)
        file = SourceFile(path, display_path(path), module, is_package)
        try:
            read_source(file)
        except InputError as error:
            self.read_errors[path] = error
            return None
        self.files[path] = file
        return file

    def candidates(self, paths: list[Path]) -> set[Path]:
        """The paths whose text may hold a finding (a word scan over all of them at once)."""
        files = [file for file in map(self.source, paths) if file is not None]
        if self._corpus is not None and set(map(id, files)) <= {id(f) for f in self._corpus[0]}:
            known, corpus = (
                self._corpus
            )  # the index was just built over these texts: reuse its scans
        else:
            known, corpus = files, Corpus([file.data for file in files])
        wanted = {id(f) for f in files}
        return {
            known[i].path for i in self.index.prefilter.candidates(corpus) if id(known[i]) in wanted
        }

    def source_for_flake8(self, path: Path | None, display: str, lines: list[str]) -> SourceFile:
        """The file flake8 is checking: from disk when it is one (its own encoding), else flake8's lines."""
        if path is not None:
            file = self.source(path)
            if file is not None:
                file.display = display
                return file
        module, is_package = self.modules.module_for(path) if path else ("stdin", False)
        return SourceFile(
            path or Path(display), display, module, is_package, "".join(lines).encode("utf-8")
        )

    def check_tree_unfiltered(self, file: SourceFile, tree: ast.Module) -> list[Finding]:
        """Findings for an already parsed file, before noqa and code selection (flake8 does both)."""
        if not self.index.prefilter(file.data):
            return []
        return check_tree(file, tree, self.index)

    def check_file(self, file: SourceFile) -> list[Finding]:
        """Findings of one file after ``# noqa`` and select/ignore; parse errors raise InputError."""
        if not self.index.prefilter(file.data):
            return []
        tree = self.cache.parse(file)
        if tree is None:
            raise self.cache.errors[str(file.path)]
        findings = check_tree(file, tree, self.index)
        return self.filter_findings(file, findings)

    def filter_findings(self, file: SourceFile, findings: list[Finding]) -> list[Finding]:
        """Apply select/ignore and ``# noqa`` the way flake8 would."""
        settings = self.settings
        findings = [f for f in findings if is_selected(f.code, settings.select, settings.ignore)]
        if not findings:
            return findings
        text = SourceText(file.data, file.display).text
        if file_is_silenced(physical_lines(text)):
            return []
        lines = logical_lines(text)
        return [f for f in findings if not is_suppressed(f.code, lines.get(f.line, ""))]


Progress = Callable[[int, int, int], None]  # (files done, files in all, fixes applied)


def project_paths(settings: Settings, extra_files: Iterable[Path] = ()) -> list[Path]:
    excluder = Excluder(settings.root, settings.exclude)
    return list(dict.fromkeys([*walk_python_files(settings.root, excluder), *extra_files]))


def _results_cache(settings: Settings) -> DiskCache:
    folder = Path(settings.cache_dir) if settings.cache_dir else default_cache_dir(settings.root)
    return DiskCache(folder, settings.root, settings.fingerprint(), name="results")


def _replay(result: RunResult, targets: list[Path], stored: dict[str, tuple]) -> bool:
    """Fill ``result`` from stored outcomes when every target has one (nothing changed since)."""
    if not all(str(path) in stored for path in targets):
        return False
    for path in targets:
        outcome = stored[str(path)]
        display = display_path(path)
        if outcome[0] == "generated":
            result.skipped_generated += 1
        elif outcome[0] == "error":
            result.errors.append(InputError(display, outcome[1]))
        else:
            result.files_checked += 1
            findings = outcome[1]
            for finding in findings:
                finding.path = display
            if findings:
                result.results.append(FileResult(SourceFile(path, display), findings))
    return True


def run(
    paths: Iterable[str],
    settings: Settings,
    *,
    fix: bool = False,
    write: bool = True,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> RunResult:
    """Check (and optionally fix) ``paths``; with ``write=False`` fixes are computed and diffed only."""
    result = RunResult(root=settings.root)
    excluder = Excluder(settings.root, settings.exclude)
    targets = target_paths(list(paths), excluder, result.errors)
    all_paths = project_paths(settings, targets)
    results_cache = _results_cache(settings) if settings.cache and not fix else None
    manifest = manifest_of(all_paths) if results_cache is not None else {}
    stored: dict[str, tuple] = {}
    if results_cache is not None:
        stored = results_cache.load(manifest) or {}
        if _replay(result, targets, stored):
            return result
    outcomes: dict[str, tuple] = {}
    project = Project(settings, targets, all_paths)
    fixes_applied = 0
    candidates = project.candidates(targets)
    work: list[Path] = []
    for path in targets:
        file = project.source(path)
        if file is None:
            result.errors.append(project.read_errors[path])
            outcomes[str(path)] = ("error", project.read_errors[path].cause)
        elif settings.skip_generated and GENERATED_MARKER in file.data:
            result.skipped_generated += 1
            outcomes[str(path)] = ("generated",)
        else:
            result.files_checked += 1
            if path in candidates:
                work.append(path)
            else:
                outcomes[str(path)] = ("checked", [])
    done = len(targets) - len(work)
    try:
        for path, error, file_result in _analyse_all(project, work, fix, jobs):
            done += 1
            if error is not None:
                result.errors.append(error)
            if file_result is None:
                outcomes[str(path)] = ("error", error.cause if error else "")
                continue
            outcomes[str(path)] = ("checked", file_result.findings)
            result.results.append(file_result)
            if file_result.new_data is not None:
                if write:
                    try:
                        atomic_write(
                            path,
                            file_result.file.data,
                            file_result.new_data,
                            file_result.file.display,
                        )
                        file_result.written = True
                    except InputError as write_error:
                        result.errors.append(write_error)
                        file_result.new_data = None
                        continue
                fixes_applied += sum(f.fixable for f in file_result.findings)
            if progress is not None:
                progress(done, len(targets), fixes_applied)
    except KeyboardInterrupt:
        # Each file is written whole or not at all, so stopping between files is safe: report what was done.
        result.interrupted = True
        return result
    if progress is not None:
        progress(len(targets), len(targets), fixes_applied)
    if results_cache is not None:
        # Outcomes depend on every project file (the index), so they are valid for this manifest only.
        results_cache.store(manifest, {**stored, **outcomes})
    return result


_worker_project: Project | None = None
PARALLEL_MIN_FILES = 8  # below this, starting processes costs more than it saves


def _analyse(
    project: Project, path: Path, fix: bool
) -> tuple[Path, InputError | None, FileResult | None]:
    """Check one file and, for ``fix``, compute and verify its new text (written by the caller)."""
    file = project.source(path)
    assert file is not None
    try:
        findings = project.check_file(file)
    except InputError as error:
        return path, error, None
    file_result = FileResult(file, findings)
    if fix and any(f.fixable for f in findings):
        try:
            _fix_file(project, file_result)
        except InputError as error:
            return path, error, file_result
    return path, None, file_result


def _analyse_in_worker(job: tuple[Path, bool]) -> tuple[Path, InputError | None, FileResult | None]:
    assert _worker_project is not None
    return _analyse(_worker_project, *job)


def _analyse_all(project: Project, work: list[Path], fix: bool, jobs: int | None):
    """Results in input order; in forked worker processes (which inherit the index) for large inputs."""
    jobs = jobs or os.cpu_count() or 1
    if (
        jobs <= 1
        or len(work) < PARALLEL_MIN_FILES
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        for path in work:
            yield _analyse(project, path, fix)
        return
    global _worker_project
    _worker_project = project
    context = multiprocessing.get_context("fork")
    # Workers ignore Ctrl-C: the parent stops them, and only the parent writes files.
    with context.Pool(
        min(jobs, len(work)), initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN)
    ) as pool:
        try:
            yield from pool.imap(_analyse_in_worker, [(path, fix) for path in work], chunksize=2)
        finally:
            _worker_project = None


def _fix_file(project: Project, file_result: FileResult) -> None:
    """Compute and verify the fixed text of one file (the caller writes it)."""
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
    tree = project.cache.trees.pop(str(file.path))  # verification consumes the cached tree
    verify(file.display, tree, new_data, fixable)
    file_result.diff = unified_diff(file.display, source.text, new_text)
    file_result.new_data = new_data
    # Each fix adds one comment line above its statement: move what is left to where it now stands.
    fixed_lines = sorted(f.line for f in fixable)
    for finding in file_result.findings:
        if finding.fix is None:
            shift = bisect_right(fixed_lines, finding.line)
            finding.line += shift
            finding.end_line += shift


def unified_diff(display: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{display}",
        tofile=f"b/{display}",
    )
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n" for line in lines)
