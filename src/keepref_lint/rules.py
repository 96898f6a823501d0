"""What counts as dropped: the one place that turns a file's statements into KR001/KR002 findings.

KR001: an expression statement whose value is a must-retain call (also under ``await`` for async marked
functions, in parentheses, and in either branch of a conditional expression used as a statement).

KR002: the result is assigned only to local names of a function that never reads them again.

Everything else retains the result: module-level and class-level names, ``global``/``nonlocal`` names,
attributes, subscripts, returned or yielded values, arguments, ``with ... as``, and locals that are read.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from keepref_lint.catalog import ENTRIES
from keepref_lint.codes import KR001, KR002, KR003
from keepref_lint.finding import Finding, Fix
from keepref_lint.fix import (
    NamePlanner,
    NoFix,
    derive_attr,
    existing_holder,
    holder_edit,
    is_task,
    noun_of,
    plan_fix,
    plan_task_fix,
    suggestion,
    used_names,
)
from keepref_lint.index import Mark, ProjectIndex, bounded_chain
from keepref_lint.project import SourceFile, printable
from keepref_lint.resolve import FileScopes, Statement, dotted_name
from keepref_lint.sourcetext import SourceText


@dataclass
class Drop:
    """A must-retain call whose result a statement does not keep."""

    code: str
    stmt: Statement
    call: ast.Call
    mark: Mark
    in_conditional: bool = False
    local: ast.Name | None = None  # KR002: the dead local


def value_calls(
    expr: ast.expr, in_conditional: bool = False
) -> Iterator[tuple[ast.Call, bool, bool]]:
    """(call, awaited, inside a conditional expression) for each call whose value is the expression's."""
    if isinstance(expr, ast.IfExp):
        yield from value_calls(expr.body, True)
        yield from value_calls(expr.orelse, True)
        return
    awaited = isinstance(expr, ast.Await)
    if awaited:
        expr = expr.value  # type: ignore[attr-defined]
    if isinstance(expr, ast.Call):
        yield expr, awaited, in_conditional


def dead_locals(stmt: Statement) -> list[ast.Name] | None:
    """The assignment's targets if every one is a local that is never read; else None."""
    scope = stmt.scope
    if scope.kind != "function":
        return None
    node = stmt.node
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[union-attr]
    names: list[ast.Name] = []
    for target in targets:
        if not isinstance(target, ast.Name):
            return None
        if (
            target.id in scope.globals
            or target.id in scope.nonlocals
            or scope.read_anywhere(target.id)
        ):
            return None
        names.append(target)
    return names


def find_drops(scopes: FileScopes, index: ProjectIndex) -> list[Drop]:
    drops: list[Drop] = []
    known = index.lookup
    scopes.types = index.receiver_types  # what other modules state about receivers' types

    def must_retain(call: ast.Call, stmt: Statement) -> Mark | None:
        for qualname in scopes.qualify(call.func, stmt.scope, lambda q: known(q) is not None):
            mark = known(qualname)
            if mark is not None:
                entry = ENTRIES.get(mark.entry) if mark.entry else None
                if entry is not None and entry.condition is not None and not entry.condition(call):
                    return None
                return mark
        return None

    for stmt in scopes.statements:
        node = stmt.node
        value = node.value
        if value is None:
            continue
        for call, awaited, conditional in value_calls(value):
            # An awaited call of a plain function consumes its result (e.g. a task); for an async
            # function the awaited value is the result. A never-awaited coroutine is another bug.
            mark = must_retain(call, stmt)
            if mark is None or awaited != mark.is_async:
                continue
            inferred = mark.source == "inferred"
            if isinstance(node, ast.Expr):
                drops.append(
                    Drop(KR003.code if inferred else KR001.code, stmt, call, mark, conditional)
                )
            elif not conditional:
                dead = dead_locals(stmt)
                if dead:
                    local = dead[0] if len(dead) == 1 else None
                    drops.append(
                        Drop(KR003.code if inferred else KR002.code, stmt, call, mark, local=local)
                    )
    return drops


def _origin(mark: Mark) -> str:
    if mark.source == "decorator":
        return f"marked in {mark.qualname.rpartition('.')[0]}"
    if mark.source == "config":
        return "configured as must-retain"
    return "in the built-in catalog"


def _provenance(mark: Mark) -> str:
    """``; it returns start_disagg_service() (marked in sglang.srt.managers.disagg_service)``."""
    chain = mark.chain
    if len(chain) == 1:
        return ""
    steps = " which returns ".join(bounded_chain([f"{m.short_name}()" for m in chain[1:]]))
    return f"; it returns {steps} ({_origin(chain[-1])})"


def _message(drop: Drop, advice: str, fix_reason: str | None) -> str:
    written = dotted_name(drop.call.func) or drop.mark.short_name
    # A reason written over several lines (``reason="..."`` or the config's) reads as one: each finding
    # is one line of text or flake8 output.
    reason = f" ({' '.join(drop.mark.reason.split())})" if drop.mark.reason else ""
    provenance = _provenance(drop.mark)
    if isinstance(drop.stmt.node, ast.Expr):
        text = f"result of {written}() is dropped{reason}{provenance}; {advice}"
    else:
        node = drop.stmt.node
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[union-attr]
        names = ", ".join(repr(t.id) for t in targets if isinstance(t, ast.Name))
        text = (
            f"result of {written}() is kept only in local {names}, which dies when the function "
            f"returns{reason}{provenance}; {advice}"
        )
    if fix_reason:
        text += f" (no automatic fix: {fix_reason})"
    return printable(text)  # whatever a marker's arguments hold, one finding is one line


def check_tree(
    file: SourceFile, tree: ast.Module, index: ProjectIndex, scopes: FileScopes | None = None
) -> list[Finding]:
    """All findings of one parsed file (before suppression and code selection)."""
    scopes = scopes or FileScopes(tree, file.module, file.is_package)
    drops = find_drops(scopes, index)
    if not drops:
        return []
    source = SourceText(file.data, file.display)
    planner = NamePlanner(used_names(tree))
    existing = existing_holder(tree, planner.file_names)
    if existing is not None:
        planner.reuse_holder(existing[0])
    planned: list[tuple[Drop, Fix | None, str | None, str]] = []
    task_fixes: list[tuple[Statement, Fix, ast.Call]] = []
    for drop in drops:
        node = drop.stmt.node
        local = drop.local
        task = is_task(drop.mark)
        base = drop.mark.attr or (
            local.id if local is not None and local.id != "_" else derive_attr(drop.mark.chain[-1])
        )
        fix = None
        reason = None
        try:
            if drop.in_conditional:
                raise NoFix(
                    "the call is one branch of a conditional expression; "
                    "write an if statement with one call in each branch"
                )
            if not isinstance(node, ast.Expr) and local is None:
                raise NoFix("the result is assigned to several names; assign it to one")
            if task:
                fix = plan_task_fix(drop.stmt, drop.call, drop.mark, source, planner, local)
                task_fixes.append((drop.stmt, fix, drop.call))
            else:
                noun = noun_of(drop.mark, base)
                fix = plan_fix(drop.stmt, source, planner, base, local, noun, drop.call)
        except NoFix as why:
            reason = str(why)
        planned.append((drop, fix, reason, base))
    if task_fixes:
        try:
            holder, edit = holder_edit(
                tree, source, scopes.module, planner.holder(), task_fixes, existing
            )
            extra = (edit,) if edit is not None else ()
            ready = {
                id(fix): fix._replace(edits=(*extra, *fix.edits), holder=holder)
                for _, fix, _ in task_fixes
            }
        except NoFix as why:
            ready = {id(fix): str(why) for _, fix, _ in task_fixes}
        for i, (drop, fix, _reason, base) in enumerate(planned):
            if fix is not None and id(fix) in ready:
                done = ready[id(fix)]
                planned[i] = (
                    (drop, done, None, base) if isinstance(done, Fix) else (drop, None, done, base)
                )
    findings = []
    for drop, fix, reason, base in planned:
        node = drop.stmt.node
        if fix is not None and fix.holder is not None:
            holder = fix.holder[0]
            advice = (
                f"keep it until it finishes (e.g. {holder}.add({fix.keeper}); "
                f"{fix.keeper}.add_done_callback({holder}.discard))"
            )
        elif fix is not None:
            advice = f"keep a reference (e.g. {fix.keeper} = ...)"
        else:
            advice = suggestion(drop.stmt, base, is_task(drop.mark))
        findings.append(
            Finding(
                path=file.display,
                line=node.lineno,
                column=node.col_offset + 1,
                code=drop.code,
                message=_message(drop, advice, reason),
                callee=drop.mark.qualname,
                fix=fix,
                no_fix_reason=reason,
                end_line=node.end_lineno or node.lineno,
                end_column=(node.end_col_offset or 0) + 1,
            )
        )
    return findings
