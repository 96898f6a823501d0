"""One run over a project: discover, read, index, check, and (for ``fix``) rewrite.

Every front end goes through here, so the CLI, the flake8 plugin and the codemod see the same findings.
"""

from __future__ import annotations

import gc
import os
import sys

from keepref_lint import stats
from keepref_lint.cache import DiskCache, cache_folder, manifest_of
from keepref_lint.config import Settings
from keepref_lint.finding import FileResult, Finding
from keepref_lint.gitignore import NOTHING, Ignored, ignored_below, without_ignored
from keepref_lint.project import (
    GENERATED_MARKER,
    Excluder,
    InputError,
    InternalError,
    SourceFile,
    display_path,
    is_stub,
    scan_tree,
    target_paths,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # ``collections`` is not otherwise imported by a warm run (see finding.py)
    from collections.abc import Callable, Iterable

    Progress = Callable[[int, int, int], None]  # (files checked, files to check, fixes applied)


class RunResult:
    def __init__(self, root: str | None = None) -> None:
        self.results: list[FileResult] = []
        self.errors: list[InputError] = []
        # Files the walk left out (FIFOs, devices, broken links), each a one-line note, not an error.
        self.notes: list[InputError] = []
        self.files_checked = 0
        self.skipped_generated = 0
        self.root = root if root is not None else os.getcwd()
        self.interrupted = False
        # Temporary files an earlier, killed ``fix`` left beside sources: removed by this fix, or (when
        # they cannot be proved stale) only named.
        self.stale_removed: list[str] = []
        self.stale_reported: list[str] = []
        # What the run read, for the memo of a repeated command (memo.py): the folders walked and the
        # Python files, with their stamps as read, and the ``.gitignore`` files below the root.
        self.folders_listed: list[tuple[str, tuple[int, int, int] | None]] = []
        self.files_read: dict[str, tuple[int, int, int]] = {}
        self.patterns_read: list[str] = []

    @property
    def findings(self) -> list[Finding]:
        return sorted((f for r in self.results for f in r.findings), key=Finding.sort_key)


def _phase(progress: Progress | None, text: str) -> None:
    """Tell a progress display which phase the run is in (scanning, indexing, reading), if it listens."""
    announce = getattr(progress, "phase", None)
    if announce is not None:
        announce(text)


def _gitignored(settings: Settings, manifest: dict, gitignores: list[str] | None) -> Ignored:
    """What git ignores below the root (respect-gitignore), else nothing."""
    if not settings.respect_gitignore:
        return NOTHING
    cache_file = (
        os.path.join(cache_folder(settings), "gitignore.marshal") if settings.cache else None
    )
    return ignored_below(settings.root, manifest, gitignores, cache_file)


def _results_cache(settings: Settings) -> DiskCache:
    return DiskCache(
        cache_folder(settings), settings.root, settings.fingerprint(), name="results", plain=True
    )


# The outcome of a file checked without findings, most files' outcome: stored as one object that each of
# them refers to, so that marshal writes it once and a warm run's load makes it once.
_CLEAN = ("checked", ())


def _replay(result: RunResult, targets: list[str], stored: dict[str, tuple]) -> bool:
    """Fill ``result`` from stored outcomes when every target has one (nothing changed since)."""
    if not all(map(stored.__contains__, targets)):
        return False
    clean = 0
    for name in targets:
        outcome = stored[name]
        if outcome == _CLEAN:  # all ``_replay_one`` would do, without a call for each of thousands
            clean += 1
        else:
            _replay_one(result, name, outcome)
    result.files_checked += clean
    return True


def _plain(outcome: tuple) -> tuple:
    """An outcome in built-in types only, as the results cache stores it."""
    if outcome[0] == "checked":
        if not outcome[1]:
            return _CLEAN
        return ("checked", [finding.to_plain() for finding in outcome[1]])
    return outcome


def _replay_one(result: RunResult, name: str, outcome: tuple) -> None:
    kind = outcome[0]
    if kind == "checked":
        result.files_checked += 1
        if outcome[1]:
            display = display_path(name)
            findings = [Finding.from_plain(plain) for plain in outcome[1]]
            for finding in findings:
                finding.path = display
            result.results.append(FileResult(SourceFile(name, display), findings))
    elif kind == "generated":
        result.skipped_generated += 1
    else:  # "error": the file could not be read; "invalid": it was read and checked, and does not parse
        result.files_checked += kind == "invalid"
        result.errors.append(InputError(display_path(name), outcome[1]))


def _holds(path: str, data: bytes) -> bool:
    """Does the file at ``path`` hold exactly ``data``?"""
    try:
        if os.path.getsize(path) != len(data):
            return False
        with open(path, "rb") as handle:
            return handle.read() == data
    except OSError:
        return False


class _Previous:
    """What the results cache held: the index build, the outcomes still valid by their files' times,
    those of files with a new time only (valid if the text is the same), and the texts' checksums."""

    __slots__ = ("digests", "retouched", "token", "unchanged")

    def __init__(
        self,
        token: str | None,
        unchanged: dict[str, tuple],
        retouched: dict[str, tuple],
        digests: dict[str, bytes],
    ) -> None:
        self.token = token
        self.unchanged = unchanged
        self.retouched = retouched
        self.digests = digests


def run(
    paths: Iterable[str],
    settings: Settings,
    *,
    fix: bool = False,
    write: bool = True,
    progress: Progress | None = None,
    jobs: int | None = None,
    buffers: dict[str, bytes] | None = None,
) -> RunResult:
    """Check (and optionally fix) ``paths``; with ``write=False`` fixes are computed and diffed only.

    ``buffers`` (absolute path -> text, e.g. standard input) are checked too, each in place of the file
    at its path (which need not exist), and the index uses them for their modules; results of such a
    run are not stored (they belong to texts that are not on disk)."""
    result = RunResult(root=settings.root)
    excluder = Excluder(settings.root, settings.exclude)
    paths = list(paths)
    named = list(buffers or ())  # the files standard input stands for
    if buffers:
        # A buffer that holds the file's text is the file: checked (and cached) as any other.
        buffers = {path: data for path, data in buffers.items() if not _holds(path, data)}
    if not named and not any(os.path.lexists(path) for path in paths):
        target_paths(paths, excluder, result.errors)  # nothing to check: each path is an error
        return result
    _phase(progress, "scanning the project")
    gitignores: list[str] | None = [] if settings.respect_gitignore else None
    skipped: dict[str, str] = {}
    folders = result.folders_listed if settings.cache else None  # a run without a cache has no memo
    manifest = scan_tree(
        settings.root, excluder, gitignores=gitignores, skipped=skipped, folders=folders
    )
    ignored = _gitignored(settings, manifest, gitignores)
    manifest = without_ignored(manifest, ignored)
    target_names = (
        target_paths(
            paths,
            excluder,
            result.errors,
            manifest,
            skipped,
            result.notes,
            force_exclude=settings.force_exclude,
            ignored=ignored,
            folders=folders,
        )
        if paths
        else []
    )
    # Standard input's file is checked as a path given on the command line is (see target_paths).
    target_names += [
        path
        for path in named
        if path not in target_names
        and not is_stub(path)
        and not (settings.force_exclude and (excluder.excluded(path, False) or path in ignored))
    ]
    manifest.update(manifest_of([t for t in target_names if t not in manifest]))
    result.files_read, result.patterns_read = manifest, gitignores or []
    stats.lap("scan")
    stats.add("files_in_tree", len(manifest))
    stats.add("targets", len(target_names))
    if fix:
        target_names = _one_path_per_file(target_names)
        if write:
            from keepref_lint.apply import stale_temp_files

            # Where fix writes: beside each file's real path (a symlinked file: beside its target).
            folders = dict.fromkeys(os.path.realpath(os.path.dirname(t)) for t in target_names)
            folders.update(
                dict.fromkeys(
                    os.path.dirname(os.path.realpath(t)) for t in target_names if os.path.islink(t)
                )
            )
            result.stale_removed, result.stale_reported = stale_temp_files(folders)
    results_cache = _results_cache(settings) if settings.cache and not fix and not buffers else None
    # Stored: (the index build they were computed with, {path: outcome}, {path: checksum of the text
    # checked}), and the manifest of then.
    stored: dict[str, tuple] = {}
    digests: dict[str, bytes] = {}
    stored_manifest, payload = results_cache.load_any() if results_cache else (None, None)
    token = None
    if isinstance(payload, tuple) and len(payload) == 3:
        token, stored, digests = payload
        if stored_manifest == manifest and _replay(result, target_names, stored):
            stats.lap("results_cache")
            stats.add("outcomes_replayed", len(target_names))
            return result
    # Valid again if the index turns out unchanged: outcomes of files that did not change, and (once
    # their texts are compared) of files that only have a new time.
    unchanged: dict[str, tuple] = {}
    retouched: dict[str, tuple] = {}
    if token is not None and stored_manifest is not None:
        for path, outcome in stored.items():
            if path not in manifest:
                continue
            if stored_manifest.get(path) == manifest[path]:
                unchanged[path] = outcome
            elif path in digests:
                retouched[path] = outcome
    stats.lap("results_cache")
    # The cold path allocates millions of short-lived syntax-tree nodes while it holds large long-lived
    # structures (the index, the trees kept for reuse); automatic collection would re-scan those over and
    # over (it more than doubled the parsing time). The analysis frees each file's cycles itself.
    collecting, frozen = gc.isenabled(), gc.get_freeze_count()
    gc.disable()
    try:
        return _run_cold(
            result,
            target_names,
            manifest,
            _Previous(token, unchanged, retouched, digests),
            results_cache,
            settings,
            fix=fix,
            write=write,
            progress=progress,
            jobs=jobs,
            buffers=buffers,
        )
    finally:
        if not frozen:
            gc.unfreeze()  # the analysis froze what it found; a library caller's process goes on
        if collecting:
            gc.enable()


def _one_path_per_file(targets: list[str]) -> list[str]:
    """One path for each real file (a symlink and its target, or two symlinks, lead to one file, which
    must be fixed once): the first that is not a symlink, else the first."""
    chosen: dict[tuple[int, int], str] = {}
    for path in targets:
        try:
            info = os.stat(path)
        except OSError:
            chosen[(-1, len(chosen))] = path  # reported when it is read
            continue
        key = (info.st_dev, info.st_ino)
        if key not in chosen or (os.path.islink(chosen[key]) and not os.path.islink(path)):
            chosen[key] = path
    keep = set(chosen.values())
    return [path for path in targets if path in keep]


def _skipped_as_generated(settings: Settings, file: SourceFile) -> bool:
    return settings.skip_generated and GENERATED_MARKER in file.data


# The command line sets this to a list (console.py): the cold path's project (its syntax trees, the
# index) is then kept until the process ends without freeing anything, instead of being freed object by
# object when the run returns. A library caller's process goes on, so by default it is freed.
held_until_exit: list[object] | None = None


def _run_cold(
    result: RunResult,
    targets: list[str],
    manifest: dict,
    previous: _Previous,
    results_cache: DiskCache | None,
    settings: Settings,
    *,
    fix: bool,
    write: bool,
    progress: Progress | None,
    jobs: int | None,
    buffers: dict[str, bytes] | None = None,
) -> RunResult:
    from keepref_lint.analysis import (  # the cold path: parsers and the index
        Project,
        analyse_all,
        analyse_for_parent,
        forked_jobs,
    )

    stats.lap("imports")
    outcomes: dict[str, tuple] = {}
    _phase(progress, f"indexing {len(manifest):,} files")
    from keepref_lint import workers

    # A second process for the index's scans when the check may use one (as its workers do; where
    # there is no fork, ``Corpus.start_helper`` starts none).
    helper = workers.worker_count(jobs, len(manifest)) > 1
    # The diff only when it is shown (``fix --diff``, which does not write): difflib's worst case is
    # quadratic in the lines.
    diff = fix and not write
    early = None
    if not buffers and forked_jobs(jobs, len(targets)) > 1:
        from keepref_lint.early import EarlyCheck

        early = EarlyCheck(
            targets,
            lambda project, path: analyse_for_parent(project, path, fix, diff),
            lambda file: not _skipped_as_generated(settings, file),
            hold=held_until_exit is not None,
        )
    try:
        project = Project(
            settings,
            manifest=manifest,
            buffers=buffers,
            scan_helper=helper,
            marks_known=early.start if early is not None else None,
        )
        if held_until_exit is not None:
            # Never freed: the process ends right after (console.py); the checked files' trees (in
            # workers too) likewise.
            held_until_exit.append(project)
            project.cache.held = held_until_exit
        stats.lap("index")
        # Files checked while the index was finished (early.py), by path.
        checked_early = early.finish() if early is not None else {}
    finally:
        if early is not None:
            early.stop()
    stats.lap("early")
    fixes_applied = 0
    stored: dict[str, tuple] = {}
    if previous.token == project.index.token:  # else the index was rebuilt: any outcome may change
        stored = previous.unchanged
        for path, outcome in previous.retouched.items():
            if project.same_text(path, previous.digests[path]):
                stored[path] = outcome
    digests = {path: previous.digests[path] for path in stored if path in previous.digests}
    fresh = [path for path in targets if path not in stored]
    if os.environ.get("KEEPREF_LINT_DEBUG"):
        print(
            f"keepref-lint: {len(targets) - len(fresh)} stored outcomes reused, {len(fresh)} files to check",
            file=sys.stderr,
        )
    for name in targets:
        if name in stored:
            _replay_one(result, name, stored[name])
    stats.add("outcomes_replayed", len(targets) - len(fresh))
    stats.lap("reuse")
    _phase(progress, f"reading {len(fresh):,} files")
    candidates = project.candidates(fresh)
    stats.lap("prefilter")
    stats.add("candidates", len(candidates))
    work: list[str] = []
    for path in fresh:
        file = project.source(path)
        if file is not None:
            digests[path] = file.digest
        if file is None:
            result.errors.append(project.read_errors[path])
            outcomes[path] = ("error", project.read_errors[path].cause)
        elif _skipped_as_generated(settings, file):
            result.skipped_generated += 1
            outcomes[path] = ("generated",)
        else:
            result.files_checked += 1
            if path in candidates:
                work.append(path)
            else:
                outcomes[path] = ("checked", [])
    stats.add("files_read", len(project.files))
    stats.add("files_to_analyse", len(work))
    project.release_texts(set(work))
    stats.lap("read")
    # The files that need parsing: the others were decided from their text (or the cache), so counting
    # them as done would open the display at 89% on sglang and leave it there.
    done = 0
    if progress is not None:
        progress(0, len(work), 0)
    analysed = analyse_all(project, work, fix, jobs, diff=diff, done=checked_early)
    try:
        for path, error, file_result in analysed:
            done += 1
            if error is not None:
                result.errors.append(error)
            if file_result is None:
                if not isinstance(error, InternalError):  # ours, not the file's: try again next run
                    # Read, so counted as checked above (a file that cannot be read is not).
                    outcomes[path] = ("invalid", error.cause if error else "")
                continue
            outcomes[path] = ("checked", file_result.findings)
            if file_result.findings:
                result.results.append(file_result)
            if file_result.new_data is not None:
                if write:
                    from keepref_lint.apply import atomic_write

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
                progress(done, len(work), fixes_applied)
    except KeyboardInterrupt:
        # Each file is written whole or not at all, so stopping between files is safe: report what was done.
        result.interrupted = True
        return result
    finally:
        analysed.close()  # the workers stop now, whatever ended the loop
    if progress is not None:
        progress(len(work), len(work), fixes_applied)
    stats.lap("check")
    # Marker arguments the index left out (a bad ``attr=``): reported on every run, so never replayed.
    result.errors.extend(project.index.problems)
    if results_cache is not None and not project.index.problems:
        # An outcome depends on its file and the index: valid while both are unchanged.
        computed = {path: _plain(outcome) for path, outcome in outcomes.items()}
        results_cache.store(manifest, (project.index.token, {**stored, **computed}, digests))
    stats.lap("store")
    return result
