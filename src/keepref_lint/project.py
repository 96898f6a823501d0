"""The project on disk: which files there are, which are excluded, and what module each one is.

Paths are absolute strings throughout, not ``pathlib`` objects: a run handles thousands of them, and a warm
run (answered from the cache) would spend a tenth of its time importing and building ``Path``s.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Container, Iterable

# ruff's default exclusions, so a tree looks the same to both tools.
DEFAULT_EXCLUDED_DIRS = frozenset(
    {
        ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache",
        ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn", ".tox", ".venv",
        ".vscode", "__pypackages__", "__pycache__", "_build", "buck-out", "dist", "node_modules",
        "site-packages", "venv",
    }
)  # fmt: skip
GENERATED_MARKER = b"@" + b"generated"


class InputError(Exception):
    """A file that cannot be read or parsed; the message is one line naming the file and the cause."""

    def __init__(self, path: str, cause: str) -> None:
        super().__init__(f"{path}: {cause}")
        self.path = path
        self.cause = cause

    def __reduce__(self) -> tuple:
        return (InputError, (self.path, self.cause))  # picklable across worker processes


class SourceFile:
    __slots__ = ("data", "digest", "display", "is_package", "module", "path")

    def __init__(
        self,
        path: str,  # absolute
        display: str,  # as shown to the user
        module: str = "",
        is_package: bool = False,
        data: bytes = b"",
    ) -> None:
        self.path = path
        self.display = display
        self.module = module
        self.is_package = is_package
        self.data = data
        self.digest = (
            0  # CRC-32 of the text read from disk (read_source); 0 for a text given in memory
        )

    def __repr__(self) -> str:
        return f"SourceFile({self.display!r}, module={self.module!r})"


def display_path(path: str) -> str:
    """The path relative to the current folder when it lies below it (a string operation: this runs for
    every file of a tree), else as ``os.path.relpath`` gives it."""
    text = path
    cwd = os.getcwd()
    prefix = cwd if cwd.endswith(os.sep) else cwd + os.sep
    if text.startswith(prefix):
        return text[len(prefix) :]
    try:
        return os.path.relpath(text)
    except ValueError:  # another drive on Windows
        return text


class Excluder:
    """Default excluded folders plus the user's glob patterns, matched against root-relative paths."""

    def __init__(self, root: str, patterns: Iterable[str]) -> None:
        self.root = root
        self.patterns = tuple(p.rstrip("/") for p in patterns if p.strip())

    def excluded(self, path: str, is_dir: bool) -> bool:
        return self.excluded_name(path, os.path.basename(path), is_dir)

    def excluded_name(self, path: str, name: str, is_dir: bool) -> bool:
        if is_dir and name in DEFAULT_EXCLUDED_DIRS:
            return True
        if not self.patterns:
            return False
        import fnmatch  # only with patterns: it imports ``re``, which a warm run otherwise does without

        root = self.root.rstrip(os.sep) + os.sep
        rel = (path[len(root) :] if path.startswith(root) else path).replace(os.sep, "/")
        for pattern in self.patterns:
            if fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(name, pattern):
                return True
            if rel.startswith(pattern + "/"):
                return True
        return False


Stat = tuple[int, int]  # (mtime_ns, size): what the caches compare


def scan_tree(
    folder: str,
    excluder: Excluder,
    found: dict[str, Stat] | None = None,
    gitignores: list[str] | None = None,
) -> dict[str, Stat]:
    """Every ``*.py`` file below ``folder`` with its stat, sorted, without following symlinked folders.

    This runs on every invocation, warm ones included, over thousands of files: without exclusion
    patterns the only test made per entry is a set lookup for folders. ``gitignores``, when given,
    collects the ``.gitignore`` files met on the way (gitignore.py keys its cache on them).
    """
    found = {} if found is None else found
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=_entry_name)
    except OSError:
        return found
    patterns = bool(excluder.patterns)
    for entry in entries:
        name = entry.name
        try:
            if name.endswith(".py") and not entry.is_dir(follow_symlinks=False):
                if patterns and excluder.excluded_name(entry.path, name, False):
                    continue
                info = entry.stat()
                found[entry.path] = (info.st_mtime_ns, info.st_size)
            elif entry.is_dir(follow_symlinks=False):
                if not (
                    name in DEFAULT_EXCLUDED_DIRS
                    or (patterns and excluder.excluded_name(entry.path, name, True))
                ):
                    scan_tree(entry.path, excluder, found, gitignores)
            elif gitignores is not None and name == ".gitignore":
                gitignores.append(entry.path)
        except OSError:
            continue
    return found


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


def target_paths(
    paths: Iterable[str],
    excluder: Excluder,
    errors: list[InputError],
    scanned: dict[str, Stat] | None = None,
    *,
    force_exclude: bool = False,
    ignored: Container[str] = (),
) -> list[str]:
    """The files a run reports on: named files as given, folders walked. Missing paths are errors.

    ``scanned`` is the scan of the project root, reused for folders inside it. A file named on the
    command line is checked even when an exclusion (or ``ignored``, what git ignores) matches it, as in
    ruff, unless ``force_exclude``.
    """
    found: dict[str, None] = {}
    for raw in paths:
        path = os.path.abspath(raw)
        if os.path.isdir(path):
            if os.path.islink(path):
                path = os.path.realpath(path)
            if scanned is not None and _plainly_inside(path, excluder):
                prefix = path.rstrip(os.sep) + os.sep
                files = (
                    [f for f in scanned if f.startswith(prefix)]
                    if path != excluder.root
                    else list(scanned)
                )
            else:
                files = list(scan_tree(path, excluder))
            found.update(dict.fromkeys(files))
        elif os.path.isfile(path):
            if not force_exclude or not (excluder.excluded(path, False) or path in ignored):
                found.setdefault(path, None)
        elif os.path.islink(path):
            errors.append(InputError(raw, "cannot read: dangling symbolic link"))
        else:
            errors.append(InputError(raw, "no such file or directory"))
    return list(found)


def _plainly_inside(path: str, excluder: Excluder) -> bool:
    """Is ``path`` the root, or a folder below it that no exclusion touches (so the root walk covers it)?"""
    if path == excluder.root:
        return True
    if not path.startswith(excluder.root.rstrip(os.sep) + os.sep):
        return False
    folder = path
    while folder != excluder.root:
        if excluder.excluded(folder, True):
            return False
        folder = os.path.dirname(folder)
    return True


class ModuleMap:
    """Module names from paths, with import roots found from the package layout.

    An import root is the project root, its ``src/`` folder, or the parent of a top-level package (a
    folder with ``__init__.py`` that has no package above it), which covers flat, ``src/`` and nested
    layouts such as ``python/sglang/...``. Namespace folders inside a package are named through it.
    """

    def __init__(self, root: str, files: Iterable[str]) -> None:
        marker = os.sep + "__init__.py"
        package_dirs = {f[: -len(marker)] for f in files if f.endswith(marker)}
        roots = {root, os.path.join(root, "src")}
        for folder in package_dirs:
            parent = os.path.dirname(folder)
            top = True
            while parent and parent != os.path.dirname(parent):
                if parent in package_dirs:
                    top = False
                    break
                parent = os.path.dirname(parent)
            if top:
                roots.add(os.path.dirname(folder))
        self.roots = sorted(roots, key=lambda p: p.rstrip(os.sep).count(os.sep), reverse=True)
        self._prefixes = [root.rstrip(os.sep) + os.sep for root in self.roots]

    def module_for(self, path: str) -> tuple[str, bool]:
        text = path
        for prefix in self._prefixes:
            if text.startswith(prefix):
                stem = text[len(prefix) :]
                stem = stem[:-3] if stem.endswith(".py") else stem.rpartition(".")[0] or stem
                parts = stem.split(os.sep)
                is_package = parts[-1] == "__init__"
                if is_package:
                    parts.pop()
                return ".".join(parts), is_package
        return os.path.splitext(os.path.basename(path))[0], False


def read_source(file: SourceFile, size: int = -1) -> None:
    """Fill ``file.data``; raise InputError with a one-line cause.

    ``size`` is the size the tree scan saw: one read then usually gets the whole file (``os.read`` on a
    descriptor costs half of what a buffered file object does, which shows over thousands of files).
    """
    try:
        fd = os.open(file.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except IsADirectoryError:
        raise InputError(file.display, "is a directory, not a file") from None
    except FileNotFoundError:
        raise InputError(
            file.display, "cannot read: file vanished or is a dangling symbolic link"
        ) from None
    except OSError as exc:
        raise InputError(file.display, f"cannot read: {exc.strerror or exc}") from None
    try:
        chunks = []
        want = size + 1 if size >= 0 else 1 << 16
        while chunk := os.read(fd, want):  # until a read returns nothing (the file may have grown)
            chunks.append(chunk)
            want = 1 << 16
        file.data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        file.digest = zlib.crc32(file.data)  # what the caches compare when a file's time changed
    except IsADirectoryError:
        raise InputError(file.display, "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(file.display, f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
