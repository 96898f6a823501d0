"""The project on disk: which files there are, which are excluded, and what module each one is.

Paths are absolute strings throughout, not ``pathlib`` objects: a run handles thousands of them, and a warm
run (answered from the cache) would spend a tenth of its time importing and building ``Path``s.
"""

from __future__ import annotations

import os
from stat import S_ISBLK, S_ISCHR, S_ISDIR, S_ISFIFO, S_ISREG, S_ISSOCK

from keepref_lint.entries import blake2b  # the C module itself (see entries.py)

TYPE_CHECKING = False
if TYPE_CHECKING:
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
# A stub (``mod.pyi`` beside ``mod.py``, or alone for a compiled module) is found by the same walk and
# read only for its marks: it holds no call that runs, so it is never checked, fixed or reported.
STUB_SUFFIX = ".pyi"
PACKAGE_FILES = ("__init__.py", "__init__.pyi")


def is_stub(path: str) -> bool:
    return path.endswith(STUB_SUFFIX)


def printable(text: str) -> str:
    """``text`` as one line that any output encoding can take: a byte of a file name that is not UTF-8
    (``os`` gives it as a lone surrogate) becomes U+FFFD, the replacement character, and a control or
    line-separating character its backslash escape (a newline in a name must not split a message)."""
    if text.isprintable():
        return text  # almost always: one C call per name
    import unicodedata

    out = []
    for char in text:
        kind = unicodedata.category(char)
        if kind == "Cs":
            out.append("\ufffd")
        elif kind in ("Cc", "Cf", "Zl", "Zp", "Co", "Cn"):
            out.append(
                repr(char)[1:-1] if kind == "Cc" and ord(char) < 0x80 else f"\\u{ord(char):04x}"
            )
        else:
            out.append(char)
    return "".join(out)


class InputError(Exception):
    """A file that cannot be read or parsed; the message is one line naming the file and the cause."""

    def __init__(self, path: str, cause: str) -> None:
        super().__init__(f"{printable(path)}: {printable(cause)}")
        self.path = path
        self.cause = cause

    def __reduce__(self) -> tuple:
        return (InputError, (self.path, self.cause))  # picklable across worker processes


class InternalError(InputError):
    """A file whose analysis failed in keepref-lint itself: one line, the traceback kept for
    ``--debug``, and never stored as the file's outcome (the next run tries again)."""

    def __init__(self, path: str, cause: str, detail: str = "") -> None:
        super().__init__(path, cause)
        self.detail = detail

    def __reduce__(self) -> tuple:
        return (InternalError, (self.path, self.cause, self.detail))


def too_deep(display: str) -> InputError:
    """The error of a file nested past even ``deep.DEEP_RECURSION_LIMIT``."""
    return InputError(display, "cannot check: expressions nested too deeply (RecursionError)")


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
        # A strong checksum of the text read from disk (read_source), what the caches compare when a
        # file's time changed; empty for a text given in memory.
        self.digest = b""

    def __repr__(self) -> str:
        return f"SourceFile({self.display!r}, module={self.module!r})"


def display_path(path: str) -> str:
    """The path relative to the current folder when it lies below it (a string operation: this runs for
    every file of a tree), else as ``os.path.relpath`` gives it; made ``printable``."""
    text = path
    cwd = os.getcwd()
    prefix = cwd if cwd.endswith(os.sep) else cwd + os.sep
    if text.startswith(prefix):
        return printable(text[len(prefix) :])
    try:
        return printable(os.path.relpath(text))
    except ValueError:  # another drive on Windows
        return printable(text)


def text_digest(data: bytes) -> bytes:
    """The checksum that identifies a text in the caches (a same-size edit that keeps a CRC-32 is easy
    to make; one that keeps this is not)."""
    return blake2b(data, digest_size=16).digest()


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


# (mtime_ns, size, ctime_ns): what the caches compare. The status-change time is there for what changes
# no byte: a chmod or chown that makes an unreadable file readable (or the reverse) changes only it.
Stat = tuple[int, int, int]
Skipped = dict[str, str]  # path -> why the walk left it out (not a regular file, a broken link)


def scan_tree(
    folder: str,
    excluder: Excluder,
    found: dict[str, Stat] | None = None,
    gitignores: list[str] | None = None,
    skipped: Skipped | None = None,
    folders: list[tuple[str, Stat | None]] | None = None,
) -> dict[str, Stat]:
    """Every ``*.py`` (and ``*.pyi`` stub) regular file below ``folder`` with its stat, sorted, without
    following symlinked folders. A ``*.py`` name that is not a regular file (a FIFO, socket or device, also through a link)
    or is a dangling or looping symbolic link is left out, with the reason in ``skipped``.

    This runs on every invocation, warm ones included, over thousands of files: without exclusion
    patterns the only test made per entry is a set lookup for folders. ``gitignores``, when given,
    collects the ``.gitignore`` files met on the way (gitignore.py keys its cache on them), and
    ``folders`` every folder walked with its stamp as it was listed, or None when it could not be
    (the memo keeps them, memo.py).
    """
    found = {} if found is None else found
    try:
        listed = _listed(folder, excluder, gitignores, skipped, folders)
    except OSError:
        if folders is not None:
            folders.append((folder, None))
        return found
    for path, stat in listed:
        if stat is None:
            scan_tree(path, excluder, found, gitignores, skipped, folders)
        else:
            found[path] = stat
    return found


# Where the platform can, a folder is opened and its files are stat'ed by name relative to it
# (``fstatat``): the system then looks up one name for each file, not every folder of its path (a
# seventh of the scan of ray's 2,579 files).
_BY_DESCRIPTOR = os.scandir in os.supports_fd and os.stat in os.supports_dir_fd
_FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_SOURCE_SUFFIXES = (".py", STUB_SUFFIX)


def _listed(
    folder: str,
    excluder: Excluder,
    gitignores: list[str] | None,
    skipped: Skipped | None,
    folders: list[tuple[str, Stat | None]] | None,
) -> list[tuple[str, Stat | None]]:
    """What ``scan_tree`` finds in ``folder`` itself, in name order: each file with its stat, and each
    folder to walk with None; the files it leaves out go to ``skipped``, the ``.gitignore`` to
    ``gitignores``, the folder's own stat (before it is listed) to ``folders``. Done before the walk
    goes deeper, so that one folder at a time is held open. OSError when ``folder`` cannot be listed."""
    fd = os.open(folder, _FOLDER_FLAGS) if _BY_DESCRIPTOR else None
    try:
        if folders is not None:
            info = os.stat(folder) if fd is None else os.fstat(fd)
            folders.append((folder, (info.st_mtime_ns, info.st_size, info.st_ctime_ns)))
        with os.scandir(folder if fd is None else fd) as listing:
            entries = sorted(listing, key=_entry_name)
        # ``entry.path`` of a listing by path (a listing by descriptor gives the name only).
        prefix = folder if folder.endswith(os.sep) else folder + os.sep
        patterns = bool(excluder.patterns)
        listed: list[tuple[str, Stat | None]] = []
        for entry in entries:
            name = entry.name
            path = prefix + name
            try:
                if name.endswith(_SOURCE_SUFFIXES) and not entry.is_dir(follow_symlinks=False):
                    if patterns and excluder.excluded_name(path, name, False):
                        continue
                    try:
                        info = entry.stat()
                    except OSError as exc:
                        if skipped is not None and entry.is_symlink():
                            skipped[path] = "skipped: " + link_problem(exc)
                        continue
                    if S_ISREG(info.st_mode):
                        listed.append((path, (info.st_mtime_ns, info.st_size, info.st_ctime_ns)))
                    elif skipped is not None:
                        skipped[path] = "skipped: " + not_regular(info.st_mode)
                elif entry.is_dir(follow_symlinks=False):
                    if not (
                        name in DEFAULT_EXCLUDED_DIRS
                        or (patterns and excluder.excluded_name(path, name, True))
                    ):
                        listed.append((path, None))
                elif gitignores is not None and name == ".gitignore":
                    gitignores.append(path)
            except OSError:
                continue
        return listed
    finally:
        if fd is not None:
            os.close(fd)


def not_regular(mode: int) -> str:
    """What a file of this mode is, said to explain why it is not read."""
    for test, kind in (
        (S_ISDIR, "a directory"),
        (S_ISFIFO, "a FIFO"),
        (S_ISSOCK, "a socket"),
        (S_ISCHR, "a device"),
        (S_ISBLK, "a device"),
    ):
        if test(mode):
            return f"{kind}, not a regular file"
    return "not a regular file"


def link_problem(exc: OSError) -> str:
    """What is wrong with a symbolic link whose target cannot be reached."""
    import errno  # (an error's path only: a warm run does without it)

    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "dangling symbolic link"
    return f"symbolic link to a file that cannot be reached ({exc.strerror or exc})"


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


def target_paths(
    paths: Iterable[str],
    excluder: Excluder,
    errors: list[InputError],
    scanned: dict[str, Stat] | None = None,
    skipped: Skipped | None = None,
    notes: list[InputError] | None = None,
    *,
    force_exclude: bool = False,
    ignored: Container[str] = (),
    folders: list[tuple[str, Stat | None]] | None = None,
) -> list[str]:
    """The files a run reports on: named files as given, folders walked, stubs (``*.pyi``) left out
    without a word (they are read for their marks only). Missing paths, and named paths that are not
    regular files, are errors; what the walk of a named folder left out (``skipped``,
    from the scan of the root, else from this walk) goes to ``notes``.

    ``scanned`` is the scan of the project root, reused for folders inside it. A file named on the
    command line is checked even when an exclusion (or ``ignored``, what git ignores) matches it, as in
    ruff, unless ``force_exclude``. ``folders`` receives every folder walked (see ``scan_tree``).
    """
    found: dict[str, None] = {}
    left_out: dict[str, str] = {}
    for raw in paths:
        path = os.path.abspath(raw)
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            if os.path.islink(path):
                errors.append(InputError(raw, "cannot read: " + link_problem(exc)))
            elif isinstance(exc, FileNotFoundError):
                errors.append(InputError(raw, "no such file or directory"))
            else:
                errors.append(InputError(raw, f"cannot read: {exc.strerror or exc}"))
            continue
        if S_ISDIR(mode):
            if os.path.islink(path):
                path = os.path.realpath(path)
            prefix = path.rstrip(os.sep) + os.sep
            if scanned is not None and _plainly_inside(path, excluder):
                # (As ``is_stub`` below, written out: these run over every file of the tree.)
                files = (
                    [f for f in scanned if f.startswith(prefix) and not f.endswith(STUB_SUFFIX)]
                    if path != excluder.root
                    else [f for f in scanned if not f.endswith(STUB_SUFFIX)]
                )
                if skipped:
                    left_out.update(
                        (f, why)
                        for f, why in skipped.items()
                        if path == excluder.root or f.startswith(prefix)
                    )
            else:
                walk_skipped: Skipped = {}
                walked = scan_tree(path, excluder, skipped=walk_skipped, folders=folders)
                files = [f for f in walked if not is_stub(f)]
                left_out.update(walk_skipped)
            found.update(dict.fromkeys(files))
        elif S_ISREG(mode):
            if is_stub(path):
                continue
            if not force_exclude or not (excluder.excluded(path, False) or path in ignored):
                found.setdefault(path, None)
        else:
            errors.append(InputError(raw, "cannot read: " + not_regular(mode)))
    if notes is not None:
        notes.extend(InputError(display_path(f), why) for f, why in sorted(left_out.items()))
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
    A stub ``__init__.pyi`` makes a package as ``__init__.py`` does (a compiled package's stubs), and a
    stub ``mod.pyi`` has the module name of ``mod.py``.
    """

    def __init__(self, root: str, files: Iterable[str]) -> None:
        marker = os.sep + "__init__.py"
        package_dirs = {
            f[: f.rindex(os.sep)] for f in files if f.endswith(marker) or f.endswith(marker + "i")
        }
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


def read_source(file: SourceFile, digest: bool = True) -> None:
    """Fill ``file.data`` (and, with ``digest``, ``file.digest``); raise InputError with a one-line
    cause. Only a regular file is read: the open does not wait (a FIFO would block it until a writer
    came), and what it opened is checked before anything is read (a device such as ``/dev/zero`` never
    ends).

    One read of one byte more than the size ``fstat`` gives gets the whole file: when it returns exactly
    that size, the end was reached (a file that grew gives the extra byte); any other count (a file that
    changed, a file system that answers in parts) reads on until a read returns nothing. ``os.read`` on
    a descriptor costs half of what a buffered file object does, which shows over thousands of files.
    The checksum is for the caches only: a run without them does not compute it (on sglang, 68 MB, it
    is 50 ms).
    """
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(file.path, flags)
    except IsADirectoryError:
        raise InputError(file.display, "is a directory, not a file") from None
    except FileNotFoundError:
        cause = "cannot read: file vanished or is a dangling symbolic link"
        raise InputError(file.display, cause) from None
    except OSError as exc:
        import errno

        if exc.errno == errno.ELOOP:
            raise InputError(file.display, "cannot read: symbolic link loop") from None
        raise InputError(file.display, f"cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not S_ISREG(info.st_mode):
            raise InputError(file.display, "cannot read: " + not_regular(info.st_mode))
        chunk = os.read(fd, info.st_size + 1)
        if len(chunk) != info.st_size:
            # It grew or shrank since, or a read came short: read on to the end.
            chunks = [chunk]
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            chunk = b"".join(chunks)
        file.data = chunk
        if digest:
            file.digest = text_digest(file.data)  # what the caches compare when a time changed
    except IsADirectoryError:
        raise InputError(file.display, "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(file.display, f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
