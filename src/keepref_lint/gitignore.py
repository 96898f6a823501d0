"""``.gitignore`` honoured as ruff's ``respect-gitignore``: files git ignores are not checked or indexed.

Git is asked (``git ls-files --others --ignored --exclude-standard --directory``, 20-40 ms on sglang) only
when the root lies in a git work tree with a ``.gitignore`` (between the top and the root, or below the
root) or a ``.git/info/exclude`` with a pattern in it, and its answer is cached: asked again only when a
pattern file, git's index or the set of Python files changed. Elsewhere it costs a few ``stat`` calls. The process is
started with ``os.posix_spawnp``: importing ``subprocess`` costs a warm run more than git itself (it
imports ``re`` and ``locale``). Without git, or when git fails, nothing is left out.
"""

from __future__ import annotations

import os

# What git's answer follows inside ``.git``, besides the ``.gitignore`` files: its index, and the
# work tree's own patterns.
INDEX = "index"
EXCLUDE = os.path.join("info", "exclude")
GIT_FILES = (INDEX, EXCLUDE)


def _work_tree_top(root: str) -> str | None:
    folder = root
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _pattern_files(top: str, root: str, found: list[str]) -> list[str]:
    """The files git reads exclude patterns from that exist: ``.gitignore`` files from the work tree's
    top down to the root, those found below it, and ``.git/info/exclude``."""
    files = []
    folder = root
    while True:
        files.append(os.path.join(folder, ".gitignore"))
        if folder == top or os.path.dirname(folder) == folder:
            break
        folder = os.path.dirname(folder)
    files.extend(found)
    files.append(os.path.join(top, ".git", EXCLUDE))
    return [path for path in files if os.path.isfile(path)]


def _has_patterns(pattern_files: list[str]) -> bool:
    for path in pattern_files:
        if not path.endswith("exclude"):
            return True
        try:
            with open(path, "rb") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        if any(line.strip() and not line.lstrip().startswith(b"#") for line in lines):
            return True
    return False


def _git_output(args: list[str], cwd: str) -> bytes | None:
    """``git -C cwd ARGS``'s standard output, or None when git is missing or fails."""
    argv = ["git", "-C", cwd, *args]
    if not hasattr(os, "posix_spawnp"):  # pragma: no cover - Windows
        import subprocess

        try:
            proc = subprocess.run(argv, capture_output=True, check=False)
        except OSError:
            return None
        return proc.stdout if proc.returncode == 0 else None
    read_end, write_end = os.pipe()
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        pid = os.posix_spawnp(
            "git",
            argv,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, write_end, 1),
                (os.POSIX_SPAWN_DUP2, devnull, 2),
                (os.POSIX_SPAWN_CLOSE, read_end),
            ],
        )
    except OSError:
        os.close(read_end)
        return None
    finally:
        os.close(write_end)
        os.close(devnull)
    chunks = []
    try:
        while True:
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks) if os.waitstatus_to_exitcode(status) == 0 else None


class Ignored:
    """The paths below the root that git ignores: files, and folders (ending in the separator)."""

    def __init__(self, files: set[str], folders: tuple[str, ...]) -> None:
        self.files = files
        self.folders = folders

    def __bool__(self) -> bool:
        return bool(self.files or self.folders)

    def __contains__(self, path: str) -> bool:
        return path in self.files or path.startswith(self.folders)


NOTHING = Ignored(set(), ())


def ignored_below(
    root: str,
    manifest: dict | None = None,
    gitignores: list[str] | None = None,
    cache_file: str | None = None,
) -> Ignored:
    """What git ignores below ``root`` (absolute); nothing outside a work tree or without patterns.

    With ``cache_file``, git's answer is kept there and reused while the pattern files, git's index and
    the set of files in ``manifest`` are the same (a warm run then starts no process).
    """
    top = _work_tree_top(root)
    if top is None:
        return NOTHING
    pattern_files = _pattern_files(top, root, gitignores or [])
    if not _has_patterns(pattern_files):
        return NOTHING
    key = None
    if cache_file is not None:
        from keepref_lint.project import text_digest

        stats = []
        for path in (*pattern_files, os.path.join(top, ".git", INDEX)):
            try:
                info = os.stat(path)
            except OSError:
                continue
            stats.append((path, info.st_mtime_ns, info.st_size))
        names = text_digest("\0".join(manifest or ()).encode("utf-8", "surrogateescape"))
        key = (root, tuple(stats), names, len(manifest or ()))
        from keepref_lint.entries import read_pickle

        stored = read_pickle(cache_file, plain=True)
        if isinstance(stored, tuple) and len(stored) == 3 and stored[0] == key:
            return Ignored(set(stored[1]), tuple(stored[2]))
    output = _git_output(
        ["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"], root
    )
    if output is None:
        return NOTHING
    files: set[str] = set()
    folders: list[str] = []
    prefix = root.rstrip(os.sep) + os.sep
    for raw in output.split(b"\0"):
        if not raw:
            continue
        name = os.fsdecode(raw)
        if name.endswith("/"):
            folders.append(prefix + name[:-1].replace("/", os.sep) + os.sep)
        else:
            files.add(prefix + name.replace("/", os.sep))
    if key is not None and cache_file is not None:
        from keepref_lint.cache import ensure_folder
        from keepref_lint.entries import write_pickle

        if ensure_folder(os.path.dirname(cache_file), root):
            kept = [path for path in files if manifest is None or path in manifest]
            write_pickle(cache_file, (key, kept, folders), plain=True)
    return Ignored(files, tuple(folders))


def without_ignored(manifest: dict, ignored: Ignored) -> dict:
    """``manifest`` less the paths git ignores (the same dict when it ignores none of them)."""
    if not ignored:
        return manifest
    dropped = [path for path in manifest if path in ignored]
    if not dropped:
        return manifest
    for path in dropped:
        del manifest[path]
    return manifest
