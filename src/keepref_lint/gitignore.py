"""``.gitignore`` honoured as ruff's ``respect-gitignore``: files git ignores are not checked or indexed.

Git is asked once per run (``git ls-files --others --ignored --exclude-standard --directory``), and only
when the root lies in a git work tree that has a ``.gitignore`` at its top or at the project root, or a
``.git/info/exclude`` with a pattern in it; elsewhere the run costs a few ``stat`` calls. The process is
started with ``os.posix_spawnp``: importing ``subprocess`` costs a warm run more than git itself (it
imports ``re`` and ``locale``). Without git, or when git fails, nothing is left out.
"""

from __future__ import annotations

import os


def _work_tree_top(root: str) -> str | None:
    folder = root
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _has_patterns(top: str, root: str) -> bool:
    if os.path.isfile(os.path.join(top, ".gitignore")) or os.path.isfile(
        os.path.join(root, ".gitignore")
    ):
        return True
    try:
        with open(os.path.join(top, ".git", "info", "exclude"), "rb") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return False
    return any(line.strip() and not line.lstrip().startswith(b"#") for line in lines)


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


def ignored_below(root: str) -> Ignored:
    """What git ignores below ``root`` (absolute); nothing outside a work tree or without patterns."""
    top = _work_tree_top(root)
    if top is None or not _has_patterns(top, root):
        return NOTHING
    output = _git_output(
        ["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"], root
    )
    if not output:
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
