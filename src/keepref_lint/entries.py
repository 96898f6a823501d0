"""Cache entries on disk: each stored whole or not at all, behind a checksum of its bytes, and the short
names and the stamp of keepref-lint's own code that entries are keyed with.

A repeated command's memo (memo.py) reads an entry before anything else is imported, so this module
imports only ``os`` and the C module ``_blake2``, and its annotations are strings (no ``__future__``).
"""

import os

try:  # the C module itself: ``hashlib`` also loads OpenSSL, a twentieth of a warm run's time
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import blake2b

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# An entry on disk: this tag, the checksum of the rest, the rest (the marshal or pickle data). A torn,
# truncated or bit-flipped entry fails the checksum and is rebuilt, never loaded.
_TAG = b"keepref-lint cache\n"
_DIGEST_SIZE = 16


def code_stamp() -> str:
    """The size and modification time of keepref-lint's own modules: entries pickle its classes, so an
    edited (or reinstalled) copy must not read what another wrote, whatever the version says."""
    folder = os.path.dirname(os.path.abspath(__file__))
    try:
        stats = sorted(
            (entry.name, info.st_mtime_ns, info.st_size)
            for entry in os.scandir(folder)
            if entry.name.endswith(".py")
            for info in [entry.stat()]
        )
    except OSError:
        return "?"
    return short(repr(stats))


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _checksum(data: "bytes | memoryview") -> bytes:
    return blake2b(data, digest_size=_DIGEST_SIZE).digest()


def short(text: str) -> str:
    """Eight hex digits that stand for ``text`` (in a file name, or a stamp): made with the checksum
    the entries need anyway, not with ``zlib``, a shared library fewer to load."""
    return blake2b(text.encode(), digest_size=4).hexdigest()


def _checked_body(data: bytes) -> "memoryview | None":
    """The data of an entry whose checksum holds, else None."""
    start = len(_TAG) + _DIGEST_SIZE
    if len(data) < start or not data.startswith(_TAG):
        return None
    body = memoryview(data)[start:]
    return body if _checksum(body) == data[len(_TAG) : start] else None


def read_pickle(path: str, plain: bool = False) -> "Any | None":
    """The object stored at ``path``, or None when it is missing, unreadable, damaged (its checksum
    fails) or not ours. ``plain`` entries hold only built-in types and are read with ``marshal``: no
    ``pickle`` import and about half the load time, which shows in a warm run."""
    errors = (
        OSError, EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError,
    )  # fmt: skip
    try:
        body = _checked_body(_read_bytes(path))
    except OSError:
        return None
    if body is None:
        return None
    if plain:
        import marshal

        try:
            return marshal.loads(body)
        except errors:
            return None
    import pickle

    try:
        return pickle.loads(body)
    except (*errors, pickle.UnpicklingError):
        return None


def write_pickle(path: str, obj: "Any", plain: bool = False) -> None:
    """Store ``obj`` at ``path`` whole or not at all (temporary file, then rename), behind its checksum;
    a cache that cannot be written is skipped, never an error."""
    import tempfile

    if plain:
        import marshal

        try:
            body = marshal.dumps(obj)
        except ValueError:  # a type that marshal cannot store
            return
    else:
        import pickle

        try:
            body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            return
    folder, name = os.path.split(path)
    temp: str | None = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{name.partition('.')[0]}-", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(_TAG)
            handle.write(_checksum(body))
            handle.write(body)
        os.replace(temp, path)
        temp = None
    except OSError:
        pass  # a cache that cannot be written is skipped
    finally:
        if temp is not None:  # not renamed into place (an error, or Ctrl-C while writing)
            try:
                os.unlink(temp)
            except OSError:
                pass
