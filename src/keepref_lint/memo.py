"""A repeated ``check`` answered from its memo: the last identical command's output, given again while
nothing that run read has changed.

A warm run of a small tree is mostly start-up: importing the command, reading the configuration, walking
the tree and loading the results cache (3.5 ms over the interpreter's own 8 ms on matplotlib's 248
files). The memo skips all of that. The installed command (console.py) imports this module and the
entry format (entries.py) only, and stats what the last run read:

- **Identical** means the same arguments, current folder, interpreter and copy of keepref-lint, whether
  standard output and error are terminals, and the same values of the environment variables a run reads
  (``_VARIABLES`` and every ``GIT_*``: git's answer about ignored files follows those).
- **Read** means every folder the run listed or looked into, and every file it read. The folders are those
  of the tree, those at and above the root, the current folder and each named path (where the
  configuration, the project markers and ``.gitignore`` files are looked for), and git's folders. The files
  are the tree's Python files, the configuration and pattern files, and git's index. Each keeps its
  modification time, change time and size; a folder's change with any entry made, removed or renamed in
  it.

A memo is written by a ``check`` over files on disk with the cache on, when its cache folder is the one
the next identical command finds without reading any configuration (``--cache-dir``, else
``KEEPREF_CACHE_DIR``, else ``.keepref-cache`` in the current folder). It is not written when anything the
run read changed in the two seconds before it started: a file changed twice within one tick of the file
system's clock keeps its time, so it is read again by the next run rather than trusted. It is not written
inside a git worktree whose ``.git`` is a file (its index lies elsewhere), nor when any ``KEEPREF_LINT_*``
variable (statistics, debugging) is set.
"""

import os
import sys

from keepref_lint import __version__
from keepref_lint.entries import code_stamp, read_pickle, short, write_pickle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from keepref_lint.engine import RunResult

_FORMAT = 1
# The environment variables a run reads (its colours, its help's width, its cache folder), and those git
# reads to find the files it ignores.
_VARIABLES = (
    "NO_COLOR",
    "FORCE_COLOR",
    "COLUMNS",
    "KEEPREF_CACHE_DIR",
    "HOME",
    "XDG_CONFIG_HOME",
    "PATH",
)
# Nothing the run read may have changed this close before it started (see the module's text).
MARGIN_NS = 2_000_000_000
KEEP = 8  # memos kept in a cache folder (one for each command line); older ones are removed

Stamp = tuple[int, int, int]  # (mtime_ns, size, ctime_ns), as project.scan_tree stamps files
# A folder listed: its path, its stamp, and the names and stamps of the files read in it.
Listed = tuple[str, Stamp, tuple[str, ...], tuple[Stamp, ...]]


def _key(argv: "Sequence[str]") -> str:
    environment = sorted(
        (name, value)
        for name, value in os.environ.items()
        if name in _VARIABLES or name.startswith("GIT_")
    )
    terminals = [stream is not None and stream.isatty() for stream in (sys.stdout, sys.stderr)]
    python = (sys.executable, sys.version)
    parts = (_FORMAT, __version__, code_stamp(), python, os.getcwd(), argv, environment, terminals)
    return "\0".join(map(str, parts))


def folder_for(argv: "Sequence[str]") -> "str | None":
    """The cache folder a run of ``argv`` uses when no configuration file names one; None when it has
    no memo (``--no-cache``, words after ``--``, statistics or debugging asked for)."""
    if "--no-cache" in argv or "--" in argv:
        return None
    if any(name.startswith("KEEPREF_LINT_") for name in os.environ):
        return None
    given = None
    for i, word in enumerate(argv):  # the last one counts, as argparse reads it
        if word == "--cache-dir" and i + 1 < len(argv):
            given = argv[i + 1]
        elif word.startswith("--cache-dir="):
            given = word.partition("=")[2]
    if given:
        return os.path.realpath(given)  # as config.with_overrides takes it
    return os.environ.get("KEEPREF_CACHE_DIR") or os.path.join(os.getcwd(), ".keepref-cache")


def _entry(folder: str, key: str) -> str:
    return os.path.join(folder, f"memo-{short(key)}.marshal")


def replay(argv: "Sequence[str]", stdout: "Any", stderr: "Any") -> "int | None":
    """Write the memo's output for ``argv`` to the streams and give its exit status, when there is one
    and nothing it was made from has changed; else write nothing and give None."""
    folder = folder_for(argv)
    if folder is None:
        return None
    key = _key(argv)
    stored = read_pickle(_entry(folder, key), plain=True)
    if not (isinstance(stored, tuple) and len(stored) == 5 and stored[0] == key):
        return None
    _, folders, probes, output, status = stored
    try:
        if not _unchanged(folders, probes):
            return None
    except (OSError, TypeError, ValueError):  # gone, unreadable, or not the shape this code writes
        return None
    streams = (stdout, stderr)
    for which, text in output:
        streams[which].write(text)
    return status


# Where the platform can, a folder is opened and its files are stat'ed by name relative to it, as
# project.scan_tree does.
_BY_DESCRIPTOR = os.stat in os.supports_dir_fd and os.stat in os.supports_fd
_FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def _unchanged(folders: "Iterable[Listed]", probes: "Iterable[tuple[str, Stamp | None]]") -> bool:
    """Does every folder, and every file read in it, still have its stamp, and every probed path its
    stamp or its absence? (OSError: a folder is gone.)"""
    stat = os.stat
    for path, expected in probes:
        try:
            info = stat(path)
        except FileNotFoundError:
            if expected is not None:
                return False
            continue
        if (info.st_mtime_ns, info.st_size, info.st_ctime_ns) != expected:
            return False
    for folder, stamp, names, stamps in folders:
        fd = os.open(folder, _FOLDER_FLAGS) if _BY_DESCRIPTOR else None
        try:
            info = stat(folder) if fd is None else os.fstat(fd)
            if (info.st_mtime_ns, info.st_size, info.st_ctime_ns) != stamp:
                return False
            prefix = folder.rstrip(os.sep) + os.sep
            for name, expected in zip(names, stamps, strict=True):
                info = stat(prefix + name) if fd is None else stat(name, dir_fd=fd)
                if (info.st_mtime_ns, info.st_size, info.st_ctime_ns) != expected:
                    return False
        finally:
            if fd is not None:
                os.close(fd)
    return True


def _stamp(path: str) -> "Stamp | None":
    """The stamp of what is at ``path`` (a link followed), None when nothing is."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ctime_ns)


def store(
    argv: "Sequence[str]",
    folder: str,
    result: "RunResult",
    places: "Iterable[str]",
    output: list[tuple[int, str]],
    status: int,
    started_ns: int,
) -> bool:
    """Write the memo of a finished ``check`` into ``folder`` (``folder_for(argv)``): its ``output`` in
    order, 0 for standard output and 1 for standard error. ``places``: the root, the current folder, each named path and the configuration
    file; they are probed, and so are the project files and ``.git`` in every folder at and above them.
    False when no memo is written (see the module's text)."""
    from keepref_lint.cache import ensure_folder, prune

    if any(which not in (0, 1) for which, _ in output):
        return False  # the output was not all seen (streams.BYPASSED)
    try:
        probes = _probes(places, result.patterns_read)
        if probes is None:
            return False
        listed = _listed(result, folder, probes)
    except OSError:
        return False  # something read cannot be stat'ed now
    if listed is None:
        return False
    newest = started_ns - MARGIN_NS
    stamps = [s for s in probes.values() if s is not None]
    for _, stamp, _, in_folder in listed:
        stamps.append(stamp)
        stamps.extend(in_folder)
    if any(mtime > newest or ctime > newest for mtime, _, ctime in stamps):
        return False
    if not ensure_folder(folder, result.root):
        return False
    key = _key(argv)
    write_pickle(
        _entry(folder, key), (key, listed, sorted(probes.items()), output, status), plain=True
    )
    prune(folder, "memo", ".marshal", KEEP)
    return True


def _probes(places: "Iterable[str]", patterns: "Iterable[str]") -> "dict[str, Stamp | None] | None":
    """The stamp, or the absence, of each place, each pattern file below the root, and the project files
    and ``.git`` in every folder at and above a place; None inside a git worktree whose ``.git`` is a
    file (its index, which git's answer follows, lies elsewhere)."""
    from keepref_lint.config import PROJECT_MARKERS, folders_up
    from keepref_lint.gitignore import GIT_FILES

    # What the configuration, the project's root and git's patterns are read from, in each folder.
    watched = (*PROJECT_MARKERS, ".gitignore")
    probes = {path: _stamp(path) for path in patterns}
    for place in places:
        probes[place] = _stamp(place)
        above_both = (*folders_up(os.path.abspath(place)), *folders_up(os.path.realpath(place)))
        for above in dict.fromkeys(above_both):
            for name in watched:
                path = os.path.join(above, name)
                if path not in probes:
                    probes[path] = _stamp(path)
            git = os.path.join(above, ".git")
            if probes[git] is not None:
                if not os.path.isdir(git):
                    return None
                for inside in GIT_FILES:
                    probes[os.path.join(git, inside)] = _stamp(os.path.join(git, inside))
    return probes


def _listed(
    result: "RunResult", folder: str, probes: "dict[str, Stamp | None]"
) -> "list[Listed] | None":
    """The folders walked, each with its stamp as it was listed and the files read in it (a named file's
    folder is stamped now); a folder that could not be listed is probed instead. The cache folder is
    left out when the walk passes through it: it changes with every run's writes, and nothing in it is
    read as source (ensure_folder keeps other files out). None when a folder is gone already."""
    own = tuple(
        dict.fromkeys(p.rstrip(os.sep) + os.sep for p in (folder, os.path.realpath(folder)))
    )
    folder_stamps: dict[str, Stamp] = {}
    for walked, stamp in result.folders_listed:
        if (walked + os.sep).startswith(own):
            continue
        if stamp is None:  # a chmod that makes it readable moves its stamp
            probes[walked] = _stamp(walked)
        else:
            folder_stamps[walked] = stamp
    by_folder: dict[str, dict[str, Stamp]] = {walked: {} for walked in folder_stamps}
    for path, stamp in result.files_read.items():
        parent, _, name = path.rpartition(os.sep)
        by_folder.setdefault(parent or os.sep, {})[name] = stamp
    listed = []
    for path in sorted(by_folder):
        stamp = folder_stamps.get(path) or _stamp(path)
        if stamp is None:
            return None
        files = by_folder[path]
        names = tuple(sorted(files))
        listed.append((path, stamp, names, tuple(files[name] for name in names)))
    return listed
