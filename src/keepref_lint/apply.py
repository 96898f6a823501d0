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
import stat
import tempfile

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
                else:
                    new.extend(_task_statements(stmt, fix.keeper, fix.holder[0]))
            if len(new) != len(stmts) or any(a is not b for a, b in zip(new, stmts, strict=False)):
                setattr(node, field_name, new)
    for anchor, holder in anchors:
        position = len(tree.body) if anchor is None else tree.body.index(anchor)
        tree.body.insert(position, _holder_definition(holder))
    return tree


def fixed_text(source: SourceText, findings: list[Finding]) -> str:
    # The set of kept tasks is defined by one edit that every task fix of the file carries.
    edits = list(dict.fromkeys(edit for f in findings if f.fix is not None for edit in f.fix.edits))
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


def atomic_write(path: str, original: bytes, data: bytes, display: str) -> None:
    """Replace the file's bytes all at once, keeping its mode; refuse if it changed since it was read."""
    real = os.path.realpath(path)
    try:
        with open(real, "rb") as handle:
            current = handle.read()
        info = os.stat(real)
    except OSError as exc:
        raise InputError(
            display, f"fix not written: cannot read it again ({exc.strerror or exc})"
        ) from None
    if current != original:
        raise InputError(
            display, "fix not written: the file changed while keepref-lint was running"
        )
    try:
        folder, name = os.path.split(real)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".keepref-tmp")
    except OSError as exc:
        raise InputError(
            display, f"fix not written: cannot create a file beside it ({exc.strerror or exc})"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, stat.S_IMODE(info.st_mode))
        with contextlib.suppress(OSError):
            os.chown(temp, info.st_uid, info.st_gid)
        os.replace(temp, real)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise InputError(display, f"fix not written: {exc.strerror or exc}") from None
        raise
