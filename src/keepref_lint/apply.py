"""Turning fixes into a new file safely: apply the edits, prove the result, write atomically.

The proof: the new text parses, and its ``ast`` equals the old ``ast`` with exactly the intended change
made to each fixed statement (a bare call became an assignment of the same call to the keeper, or a dead
local target became the keeper; for a task, that assignment followed by exactly ``SET.add(task)`` and
``task.add_done_callback(SET.discard)``, with ``SET = set()`` defined once at the module level where the
fix says). Anything else means the edit is wrong, and the file is not written.
"""

from __future__ import annotations

import ast
import contextlib
import keyword
import os
import re
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Iterable

from keepref_lint.finding import Finding
from keepref_lint.fix import HOLDER_ANNOTATIONS
from keepref_lint.project import InputError
from keepref_lint.sourcetext import SourceText, apply_edits, parse_quietly


def _keeper_target(keeper: str) -> ast.expr:
    target = ast.parse(keeper, mode="eval").body
    target.ctx = ast.Store()  # type: ignore[attr-defined]
    return target


def _intended(stmt: ast.stmt, keeper: str) -> ast.stmt:
    target = _keeper_target(keeper)
    if isinstance(stmt, ast.Expr):
        return ast.Assign(targets=[target], value=stmt.value, type_comment=None)
    if isinstance(stmt, ast.Assign):
        return ast.Assign(targets=[target], value=stmt.value, type_comment=stmt.type_comment)
    if isinstance(stmt, ast.AnnAssign):
        simple = int(isinstance(target, ast.Name))
        return ast.AnnAssign(
            target=target, annotation=stmt.annotation, value=stmt.value, simple=simple
        )
    raise AssertionError(f"unexpected statement {type(stmt).__name__}")


def _identifier(name: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"not a name: {name!r}")
    return name


def _holder_definition(holder: tuple[str, str, int]) -> ast.stmt:
    """The one set of kept tasks: ``NAME = set()`` or ``NAME: set[asyncio.Task] = set()``."""
    name, annotation, _ = holder
    if annotation not in HOLDER_ANNOTATIONS:
        raise ValueError(f"unexpected annotation {annotation!r}")
    name = _identifier(name)
    text = f"{name}: set[{annotation}] = set()" if annotation else f"{name} = set()"
    return ast.parse(text).body[0]


def _task_statements(stmt: ast.stmt, keeper: str, holder: str) -> list[ast.stmt]:
    """A dropped task kept until it finishes: bound to ``keeper``, added to the set, discarded when done."""
    keeper, holder = _identifier(keeper), _identifier(holder)
    rest = ast.parse(f"{holder}.add({keeper})\n{keeper}.add_done_callback({holder}.discard)").body
    return [_intended(stmt, keeper), *rest]


def expected_tree(tree: ast.Module, findings: list[Finding]) -> ast.Module:
    """``tree`` with each fixed statement replaced by what the fix means to write (mutates ``tree``)."""
    fixes = [f.fix for f in findings if f.fix is not None]
    wanted = {(f.line, f.column - 1): f.fix for f in findings if f.fix is not None}
    # A holder at index -1 is a set an earlier fix defined: nothing to insert.
    holders = {fix.holder for fix in fixes if fix.holder is not None and fix.holder[2] >= 0}
    body = tree.body
    # Where each set is defined, named by the statement it goes before (indices move below).
    anchors = [(body[h[2]] if h[2] < len(body) else None, h) for h in sorted(holders, key=str)]
    became: dict[int, ast.stmt] = {}  # a replaced statement -> the first statement it became
    for node in ast.walk(tree):
        for field_name in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field_name, None)
            if not isinstance(stmts, list):
                continue
            new: list[ast.stmt] = []
            for stmt in stmts:
                fix = wanted.get((getattr(stmt, "lineno", -1), getattr(stmt, "col_offset", -1)))
                if fix is not None and fix.unwrap:
                    # ``start(),``: the comma goes, and the call alone is kept.
                    if not (
                        isinstance(stmt, ast.Expr)
                        and isinstance(stmt.value, ast.Tuple)
                        and len(stmt.value.elts) == 1
                    ):
                        raise ValueError("a one-element tuple to unwrap is not one")
                    stmt = ast.Expr(value=stmt.value.elts[0])
                if fix is None:
                    new.append(stmt)
                elif fix.holder is None:
                    new.append(_intended(stmt, fix.keeper))
                    became[id(stmt)] = new[-1]
                else:
                    task = _task_statements(stmt, fix.keeper, fix.holder[0])
                    became[id(stmt)] = task[0]
                    new.extend(task)
            if len(new) != len(stmts) or any(a is not b for a, b in zip(new, stmts, strict=False)):
                setattr(node, field_name, new)
    for anchor, holder in anchors:
        # (the set goes before the anchor, or before what it became: a task right below the imports)
        position = (
            len(tree.body) if anchor is None else tree.body.index(became.get(id(anchor), anchor))
        )
        tree.body.insert(position, _holder_definition(holder))
    return tree


def fixed_text(source: SourceText, findings: list[Finding]) -> str:
    # The set of kept tasks is defined by one edit that every task fix of the file carries (its
    # first); it goes in before any other insertion at the same offset (``import asyncio`` right
    # above a dropped task: the set's lines, then the statement's comment and keeper).
    fixes = [f.fix for f in findings if f.fix is not None]
    holders = [fix.edits[0] for fix in fixes if fix.holder is not None and fix.holder[2] >= 0]
    edits = list(dict.fromkeys([*holders, *(edit for fix in fixes for edit in fix.edits)]))
    return apply_edits(source.text, edits)


_BY_REPR = (float, complex)  # as ``ast.dump`` shows them


def same_tree(a: ast.AST, b: ast.AST) -> bool:
    """``ast.dump(a) == ast.dump(b)`` (node types and fields, not positions), compared with a stack of
    our own: ``ast.dump`` recurses, and a valid file can nest expressions past the recursion limit."""
    pending: list[tuple[object, object]] = [(a, b)]
    while pending:
        x, y = pending.pop()
        if isinstance(x, ast.AST):
            if type(x) is not type(y):
                return False
            pending.extend((getattr(x, name, None), getattr(y, name, None)) for name in x._fields)
        elif isinstance(x, list):
            if not isinstance(y, list) or len(x) != len(y):
                return False
            pending.extend(zip(x, y, strict=True))
        elif type(x) is not type(y) or (repr(x) != repr(y) if type(x) in _BY_REPR else x != y):
            return False  # constants: 1, 1.0 and True are three values, and 0.0 and -0.0 two
    return True


def verify(display: str, old_tree: ast.Module, new_data: bytes, findings: list[Finding]) -> None:
    """Raise InputError unless ``new_data`` is exactly the intended rewrite of ``old_tree``."""
    try:
        new_tree = parse_quietly(new_data)
    except (SyntaxError, ValueError) as exc:
        raise InputError(
            display, f"fix not written: the rewritten file does not parse ({exc})"
        ) from None
    try:
        expected = expected_tree(old_tree, findings)
    except ValueError as exc:
        raise InputError(display, f"fix not written: {exc}") from None
    if not same_tree(new_tree, expected):
        raise InputError(
            display, "fix not written: the rewrite changed more than the fixed statements"
        )


# Temporary files: ``.<name>.<pid>-<8 random characters>.keepref-tmp`` beside the file they replace. The pid says
# whose it is: one whose process is gone was left by a run that was killed mid-write (SIGKILL, power loss).
TEMP_SUFFIX = ".keepref-tmp"
_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)-[a-z0-9_]{8}\.keepref-tmp\Z", re.DOTALL)
# The names an older keepref-lint gave them (``tempfile.mkstemp``): no pid, so never removed, only reported.
_OLD_TEMP_NAME = re.compile(r"\..+\.py\.[a-z0-9_]{8}\.keepref-tmp\Z", re.DOTALL)
_DEFERRED = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class _SignalsDeferred:
    """Hold Ctrl-C (and SIGTERM, SIGHUP) for a ``with`` block, then deliver them: the block that creates,
    writes and renames (or removes) a temporary file runs whole, so no exit path leaves the file behind.

    Python runs signal handlers in the main thread only, so elsewhere this does nothing. SIGINT's
    handler is installed first and restored last: an interrupt before the block starts or after it ends
    is an ordinary one."""

    def __init__(self) -> None:
        self.saved: list[tuple[int, object]] = []
        self.pending: list[int] = []

    def _note(self, signum: int, frame: object) -> None:
        self.pending.append(signum)

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in _DEFERRED:
            handler = signal.getsignal(signum)
            if handler is None:  # installed outside Python: cannot be put back, so leave it alone
                continue
            signal.signal(signum, self._note)
            self.saved.append((signum, handler))

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in reversed(self.saved):
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self.saved = []
        for signum in dict.fromkeys(self.pending):
            signal.raise_signal(
                signum
            )  # now handled as it would have been (KeyboardInterrupt, exit)
        self.pending = []


def _read_unchanged(real: str, original: bytes, display: str) -> os.stat_result:
    """The file's stat, after checking that its bytes are still ``original``."""
    try:
        with open(real, "rb") as handle:
            current = handle.read()
            info = os.fstat(handle.fileno())
    except OSError as exc:
        raise InputError(
            display, f"fix not written: cannot read it again ({exc.strerror or exc})"
        ) from None
    if current != original:
        raise InputError(
            display, "fix not written: the file changed while keepref-lint was running"
        )
    if info.st_nlink > 1:
        raise InputError(
            display,
            f"fix not written: it has {info.st_nlink} hard links, and replacing it would split them"
            " (the other names would keep the old text); run fix on a copy with one name",
        )
    return info


def _copy_metadata(fd: int, real: str, info: os.stat_result, display: str) -> None:
    """Give the new file (open as ``fd``) the original's owner, extended attributes and mode bits, in
    that order: chown clears setuid/setgid (and file capabilities), so it comes first, and the mode last.
    What cannot be kept is an error: the file is then not written."""
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) != (info.st_uid, info.st_gid):
        try:
            os.fchown(fd, info.st_uid, info.st_gid)
        except OSError as exc:
            raise InputError(
                display, f"fix not written: cannot keep its owner ({exc.strerror or exc})"
            ) from None
    if hasattr(os, "listxattr"):
        try:
            names = os.listxattr(real)
        except OSError:
            names = []  # no extended attributes here
        for name in names:
            try:
                os.setxattr(fd, name, os.getxattr(real, name))
            except OSError as exc:
                if name.startswith("user."):
                    raise InputError(
                        display,
                        f"fix not written: cannot keep its extended attribute {name}"
                        f" ({exc.strerror or exc})",
                    ) from None
                # security.*, trusted.*, system.*: kept where this process may set them
    mode = stat.S_IMODE(info.st_mode)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)
        if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
            raise InputError(display, f"fix not written: cannot keep its mode bits ({mode:o})")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def atomic_write(path: str, original: bytes, data: bytes, display: str) -> None:
    """Replace the file's bytes all at once, keeping its owner, mode bits and extended attributes;
    refuse if it changed since it was read (checked again right before the rename) or has hard links.

    A symlinked file is written through its link."""
    real = os.path.realpath(path)
    info = _read_unchanged(real, original, display)
    folder, name = os.path.split(real)
    with _SignalsDeferred():
        try:
            fd, temp = tempfile.mkstemp(
                dir=folder, prefix=f".{name}.{os.getpid()}-", suffix=TEMP_SUFFIX
            )
        except OSError as exc:
            raise InputError(
                display, f"fix not written: cannot create a file beside it ({exc.strerror or exc})"
            ) from None
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
                _copy_metadata(fd, real, info, display)
                if sys.platform == "win32":
                    os.chmod(temp, stat.S_IMODE(info.st_mode))
            finally:
                os.close(fd)
            # The last look before the rename: another process's edit after this is the window that is
            # left (docs/reliability.md).
            again = _read_unchanged(real, original, display)
            if (again.st_dev, again.st_ino) != (info.st_dev, info.st_ino):
                raise InputError(
                    display, "fix not written: the file changed while keepref-lint was running"
                )
            os.replace(temp, real)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            if isinstance(exc, OSError):
                raise InputError(display, f"fix not written: {exc.strerror or exc}") from None
            raise
    if hasattr(os, "O_DIRECTORY"):
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def _process_gone(pid: int) -> bool:
    """Is there no process ``pid`` (or only its unreaped remains)? False when unsure."""
    if sys.platform == "win32" or pid == os.getpid():
        return False  # os.kill on Windows terminates; never judge our own files
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists (another user's)
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rpartition(b")")[2].split()[0] == b"Z"  # a zombie
    except (OSError, IndexError):
        return False


def stale_temp_files(folders: Iterable[str]) -> tuple[list[str], list[str]]:
    """Temporary files a killed ``fix`` left in ``folders``: (removed, reported).

    Removed: named as this version names them, a regular file with one link, owned by this user (any
    owner for root), from a process that no longer exists. Reported only: those an older version
    named (no pid to tell whether the run is still going)."""
    removed: list[str] = []
    reported: list[str] = []
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    for folder in folders:
        try:
            with os.scandir(folder) as listing:
                entries = [e for e in listing if e.name.endswith(TEMP_SUFFIX)]
        except OSError:
            continue
        for entry in entries:
            match = _TEMP_NAME.match(entry.name)
            if match is None:
                if _OLD_TEMP_NAME.match(entry.name):
                    reported.append(entry.path)
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                continue
            if uid not in (None, 0, info.st_uid):
                continue
            if not _process_gone(int(match.group("pid"))):
                continue  # another run is writing it now
            try:
                os.unlink(entry.path)
            except OSError:
                reported.append(entry.path)
            else:
                removed.append(entry.path)
    return removed, reported
