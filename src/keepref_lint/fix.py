"""Finding -> replacement: where the result is kept, under which name, and when no fix is safe.

A fix is one text edit: the keep-alive comment goes on its own line above the statement, at the statement's
indentation and with the line's own line ending, and the statement becomes ``self.<attr> = <call>``
(``_<attr> = <call>`` at module level). Nothing else in the file changes.
"""

from __future__ import annotations

import ast
import keyword
import re

from keepref_lint.finding import Edit, Fix
from keepref_lint.index import Mark
from keepref_lint.resolve import Scope, Statement
from keepref_lint.sourcetext import SourceText

VERB_PREFIXES = ("start_", "create_", "launch_", "spawn_", "make_", "open_")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TRAILING_OK = re.compile(r"[ \t\f]*(#.*)?(\r\n|\r|\n)?\Z", re.DOTALL)


class NoFix(Exception):
    """Why a finding has no automatic fix (the message completes ``no automatic fix: ...``)."""


def snake_case(name: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def derive_attr(mark: Mark) -> str:
    """An attribute name from the callee: ``start_disagg_service`` -> ``disagg_service``."""
    name = mark.short_name.lstrip("_") or mark.short_name
    if mark.kind == "class" or name[:1].isupper():
        return snake_case(name)
    for prefix in VERB_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


def in_words(attr: str) -> str:
    return attr.strip("_").replace("_", " ") or attr


def keep_alive_comment(attr: str) -> str:
    return f"# Keep a reference so the {in_words(attr)} is not garbage-collected."


class NamePlanner:
    """Picks fresh names per class (or module) so fixes never collide with what is already there."""

    def __init__(self) -> None:
        self._taken: dict[int, set[str]] = {}

    def _taken_in(self, owner: Scope) -> set[str]:
        taken = self._taken.get(id(owner))
        if taken is None:
            taken = set(owner.bindings) | owner.assigned_attrs
            self._taken[id(owner)] = taken
        return taken

    def claim(self, owner: Scope, base: str) -> str:
        taken = self._taken_in(owner)
        if keyword.iskeyword(base):
            base += "_"
        name, number = base, 2
        while name in taken:
            name = f"{base}_{number}"
            number += 1
        taken.add(name)
        return name


def where(stmt: Statement) -> tuple[str, Scope]:
    """Where the statement stands, as the fixer sees it: method, module, or a reason to decline."""
    scope = stmt.scope
    if scope.kind == "module":
        if stmt.in_loop:
            raise NoFix("in a loop at module level; only the last result would be kept")
        return "module", scope
    if scope.kind == "class":
        raise NoFix("in a class body")
    if scope.is_static:
        raise NoFix("inside a static method")
    if scope.self_name is None:
        raise NoFix("not inside a method; store the result where it outlives this function")
    if stmt.in_loop:
        raise NoFix("in a loop; one attribute would keep only the last result")
    owner = scope.enclosing_class()
    assert owner is not None
    return "method", owner


def suggestion(stmt: Statement, attr: str) -> str:
    """The advice in a message when there is no fix to name the keeper."""
    scope = stmt.scope
    if stmt.in_loop:
        return "keep every result (e.g. add it to a collection that outlives the loop)"
    if scope.kind == "module":
        return f"keep a reference (e.g. _{attr.lstrip('_')} = ...)"
    if scope.kind == "function" and scope.self_name is not None and not scope.is_static:
        return f"keep a reference (e.g. {scope.self_name}.{attr} = ...)"
    return "keep a reference that outlives the function (store it on an object or return it)"


def plan_fix(
    stmt: Statement,
    source: SourceText,
    planner: NamePlanner,
    base_attr: str,
    target: ast.Name | None = None,
) -> Fix:
    """The single edit that keeps the result; raises NoFix with the reason when none is safe."""
    node = stmt.node
    place, owner = where(stmt)
    start = source.offset(node.lineno, node.col_offset)
    line_start = source.line_starts[node.lineno - 1]
    indent = source.text[line_start:start]
    if indent.strip(" \t\f"):
        raise NoFix("the statement shares its line with other code")
    assert node.end_lineno is not None and node.end_col_offset is not None
    end = source.offset(node.end_lineno, node.end_col_offset)
    line_end = (
        source.line_starts[node.end_lineno] if node.end_lineno < len(source.line_starts) else None
    )
    rest = source.text[end:line_end]
    if not _TRAILING_OK.match(rest):
        raise NoFix("the statement shares its line with other code")
    if place == "module":
        attr = planner.claim(owner, f"_{base_attr.lstrip('_')}")
        keeper = attr
    else:
        attr = planner.claim(owner, base_attr)
        keeper = f"{stmt.scope.self_name}.{attr}"
    newline = source.newline_of(node.lineno)
    head = f"{indent}{keep_alive_comment(base_attr)}{newline}{indent}"
    if target is None:
        edit = Edit(line_start, start, f"{head}{keeper} = ")
    else:
        target_end = source.offset(target.lineno, target.end_col_offset or 0)
        edit = Edit(line_start, target_end, f"{head}{keeper}")
    return Fix(title=f"Keep the result in {keeper}", edits=(edit,), keeper=keeper)
