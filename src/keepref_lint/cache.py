"""The on-disk index cache, shared by every process of a run (flake8 workers, repeated CLI runs).

An entry belongs to one project root, one keepref-lint version (and copy of its code), one Python and one
settings fingerprint, and is stored with the manifest of the project (every file's path, size and
modification time). It is served as it is while the manifest is unchanged; after changes, the caller's
``still_valid`` decides whether it is served again. Writers take a lock and replace the entry atomically,
so concurrent processes build it once: the first builds and writes, the others wait and then read.
"""

from __future__ import annotations

import os
import sys

from keepref_lint import __version__
from keepref_lint.entries import code_stamp, read_pickle, short, write_pickle

# A warm run only reads an entry: ``fcntl`` (for the writers' lock) is imported when one is written.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

Manifest = dict[
    str, tuple[int, int, int]
]  # path -> (mtime_ns, size, ctime_ns), as project.scan_tree
# Raised when what an entry pickles moves or changes shape (5: Mark, ModuleSummary and ClassInfo left
# index.py for marks.py and summaries.py), so older entries are rebuilt, not unpickled.
_FORMAT = 5


def default_cache_dir(root: str) -> str:
    override = os.environ.get("KEEPREF_CACHE_DIR")
    return override if override else os.path.join(root, ".keepref-cache")


def cache_folder(settings: Any) -> str:
    """The configured cache folder (``cache-dir``), else the default for the project root."""
    return settings.cache_dir if settings.cache_dir else default_cache_dir(settings.root)


def manifest_of(paths: Iterable[str | os.PathLike[str]]) -> Manifest:
    manifest: Manifest = {}
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        manifest[os.fspath(path)] = (info.st_mtime_ns, info.st_size, info.st_ctime_ns)
    return manifest


class _Lock:
    """An exclusive lock on a file, held for a ``with`` block (a no-op where it cannot be taken)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.handle: Any = None

    def __enter__(self) -> None:
        if self.path is None:
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: atomic replace keeps entries whole
            return
        try:
            self.handle = open(self.path, "a")
        except OSError:
            return
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *exc_info: object) -> None:
        if self.handle is not None:
            import fcntl  # (imported by ``__enter__``, which opened the handle)

            try:
                fcntl.flock(self.handle, fcntl.LOCK_UN)
            finally:
                self.handle.close()
                self.handle = None


_OWN_MARK = "# Created by keepref-lint.\n"  # the first line of the .gitignore the cache writes


def _looks_like_cache_file(name: str) -> bool:
    """An entry, a lock, a temporary file or the flake8 plugin's folder, as this module names them."""
    stem, dot, kind = name.rpartition(".")
    if name in (".gitignore", "flake8", "gitignore.marshal"):
        return True
    if name.startswith(".") and kind == "tmp":
        return True
    return bool(dot) and kind in ("pickle", "marshal", "lock") and "-" in stem


def ensure_folder(folder: str, root: str) -> bool:
    """Create the cache folder (with a ``.gitignore`` of ``*``) if needed; False if it cannot be written.
    Raises ConfigError for a folder that is not the cache's own (see ``_check_owned``). Every entry of
    every kind is written through here."""
    _check_owned(folder, root)
    try:
        os.makedirs(folder, exist_ok=True)
        ignore = os.path.join(folder, ".gitignore")
        if not os.path.exists(ignore):
            with open(ignore, "w", encoding="utf-8") as handle:
                handle.write(_OWN_MARK + "*\n")
        return True
    except OSError:
        return False


def _check_owned(folder: str, root: str) -> None:
    """Refuse (ConfigError, one line) a cache folder the cache does not own: the project root or a folder
    above it, or a folder holding other files (the cache writes a ``.gitignore`` of ``*`` there, which
    would hide them from git). Its own: missing, empty, marked by its ``.gitignore``, or holding only
    cache files."""
    from keepref_lint.config import ConfigError

    real, real_root = os.path.realpath(folder), os.path.realpath(root)
    if real == real_root or real_root.startswith(real.rstrip(os.sep) + os.sep):
        raise ConfigError(
            f"cache-dir {folder!r} is the project root or a folder above it;"
            " give the cache a folder of its own (the default is .keepref-cache)"
        )
    try:
        names = os.listdir(folder)
    except OSError:
        return  # missing (created next), or not writable (the cache is then skipped)
    if not names:
        return
    try:
        with open(os.path.join(folder, ".gitignore"), encoding="utf-8") as handle:
            if handle.read(len(_OWN_MARK)) == _OWN_MARK:
                return
    except (OSError, UnicodeDecodeError):
        pass
    foreign = sorted(name for name in names if not _looks_like_cache_file(name))
    if foreign:
        raise ConfigError(
            f"cache-dir {folder!r} holds files that are not keepref-lint's (e.g. {foreign[0]!r});"
            " give the cache a folder of its own"
        )


def prune(folder: str, name: str, suffix: str, keep: int) -> None:
    """Remove the oldest entries of kind ``name`` in ``folder`` beyond ``keep`` (with their lock files)."""
    prefix = name + "-"
    try:
        entries = [
            (entry.stat().st_mtime_ns, entry.path)
            for entry in os.scandir(folder)
            if entry.name.startswith(prefix) and entry.name.endswith(suffix)
        ]
    except OSError:
        return
    for _, path in sorted(entries, reverse=True)[keep:]:
        for stale in (path, os.path.splitext(path)[0] + ".lock"):
            try:
                os.unlink(stale)
            except OSError:
                pass


class DiskCache:
    def __init__(
        self, folder: str, root: str, fingerprint: str, name: str = "index", plain: bool = False
    ) -> None:
        self.folder = folder
        self.name = name
        self.plain = plain  # payloads of built-in types only, stored with marshal (see read_pickle)
        # The file name is a short checksum of the key; the full key is stored in the entry and compared,
        # so two settings whose checksums collide only evict each other's entries.
        # marshal's format follows the interpreter, hence the Python version in the key.
        python = ".".join(map(str, sys.version_info[:2]))
        self.key = f"{_FORMAT}\0{__version__}\0{code_stamp()}\0{python}\0{root}\0{fingerprint}"
        stem = f"{name}-{short(self.key)}"
        self.entry = os.path.join(folder, f"{stem}.{'marshal' if plain else 'pickle'}")
        self.lock_path = os.path.join(folder, f"{stem}.lock")
        self.root = root

    def _ensure_folder(self) -> bool:
        return ensure_folder(self.folder, self.root)

    def load(self, manifest: Manifest) -> Any | None:
        """The payload stored for exactly this manifest, else None."""
        stored_manifest, payload = self.load_any()
        return payload if stored_manifest == manifest else None

    def load_any(self) -> tuple[Manifest | None, Any | None]:
        """The stored (manifest, payload) for this key, whatever files changed since; (None, None) if
        there is none."""
        stored = read_pickle(self.entry, self.plain)
        if not isinstance(stored, tuple) or len(stored) != 3 or stored[0] != self.key:
            return None, None
        return stored[1], stored[2]

    # Entries of one kind kept in the folder: each settings fingerprint, version and copy of the code
    # writes its own, and switching between a few of them must not rebuild; older ones are removed.
    KEEP = 8

    def store(self, manifest: Manifest, payload: Any) -> None:
        if self._ensure_folder():
            write_pickle(self.entry, (self.key, manifest, payload), self.plain)
            prune(self.folder, self.name, os.path.splitext(self.entry)[1], self.KEEP)

    def locked(self) -> _Lock:
        """Held while this entry is built and written (``with cache.locked(): ...``)."""
        return _Lock(self.lock_path if self._ensure_folder() else None)

    def get_or_build(
        self,
        manifest: Manifest,
        build: Callable[[], Any],
        still_valid: Callable[[Any, Manifest], bool] | None = None,
    ) -> Any:
        """The stored payload when the manifest is unchanged, or when ``still_valid(payload, old
        manifest)`` says the files that changed cannot affect it (it is then stored again under the new
        manifest); else a new one from ``build``."""
        payload = self.load(manifest)
        if payload is not None:
            return payload
        with self.locked():
            old_manifest, payload = self.load_any()  # another process may have built it meanwhile
            if payload is not None and old_manifest == manifest:
                return payload
            if (
                payload is None
                or still_valid is None
                or not still_valid(payload, old_manifest or {})
            ):
                payload = build()
            self.store(manifest, payload)
        return payload
