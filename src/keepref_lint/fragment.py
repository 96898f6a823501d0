"""Rule out candidate lines by parsing only the definition around them, not the whole file.

Most files that reach the analysis through a catalog name do so with lines that cannot be drops once
parsed: ``task = asyncio.create_task(...)`` whose local is read a few lines later, a ``with`` item, an
argument of another call, a module-level assignment. Whether such a line is a drop depends only on the
innermost function (or class, or top-level statement) around it, so that block's text is found by
indentation, parsed alone with its line numbers kept, and judged with the rules' own tests. Anything
unexpected (tabs, form feeds, a block that does not parse, a name not found where the text put it) answers
"cannot tell", and the whole file is analysed as before.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_right
from itertools import accumulate

from keepref_lint.nodes import walk_nodes
from keepref_lint.resolve import FileScopes
from keepref_lint.rules import Candidate, candidates, return_candidates
from keepref_lint.scopes import Statement
from keepref_lint.sourcetext import parse_quietly

_BLOCK = re.compile(rb"(?:async[ \t]+def|def|class)[ \t]")
# Lines at the left margin that continue the statement above them.
_CONTINUES = re.compile(rb"(?:else|elif|except|finally)\b|[)\]}]")
_CLOSES = re.compile(rb"[)\]}]")


def _read_by_indentation(data: bytes) -> bool:
    """Can blocks be found by counting leading spaces (no tabs, form feeds or carriage returns)?"""
    return b"\t" not in data and b"\r" not in data and b"\f" not in data


def _indent(line: bytes) -> int:
    return len(line) - len(line.lstrip(b" "))


def _is_code(line: bytes) -> bool:
    stripped = line.lstrip(b" ")
    return bool(stripped) and not stripped.startswith(b"#")


def _enclosing_block(lines: list[bytes], number: int) -> tuple[int, int] | None:
    """(first, end) line indices of the innermost ``def`` or ``class`` around line index ``number``, or of
    the top-level statement holding it, found by indentation."""
    level = _indent(lines[number])
    first = number if level == 0 else None
    if first is None:
        for index in range(number - 1, -1, -1):
            line = lines[index]
            if not _is_code(line) or _indent(line) >= level or _CLOSES.match(line, _indent(line)):
                continue  # a closing bracket ends a multi-line header (``) -> int:``): look above it
            level = _indent(line)
            if _BLOCK.match(line, level) or level == 0:
                first = index
                break
    if first is None:
        return None
    while level == 0 and first > 0 and _CONTINUES.match(lines[first]):
        first -= 1
        while first > 0 and not (_is_code(lines[first]) and _indent(lines[first]) == 0):
            first -= 1
    end = first + 1
    while end < len(lines) and not (
        _is_code(lines[end])
        and _indent(lines[end]) <= level
        and not _CONTINUES.match(lines[end], level)
    ):
        end += 1
    return first, end


def call_ends(data: bytes, occurrences: list[tuple[int, str]] | None) -> dict[int, set[int]] | None:
    """Where the occurrences (offset of a must-retain name, the name) end: line -> end columns, as
    ``ast`` gives a call's ``func`` end (UTF-8 bytes). Every call the rules could report ends at one of
    them (what ``no_drop_possible`` relies on), so the analysis of a file may look at those calls
    only. None (look at every call) for None."""
    if occurrences is None:
        return None
    ends: dict[int, set[int]] = {}
    # The line number of offset ``counted``: the text is counted once, in order.
    line, counted = 1, 0
    for offset, name in sorted(occurrences):
        start = data.rfind(b"\n", 0, offset) + 1
        line += data.count(b"\n", counted, start)
        counted = start
        ends.setdefault(line, set()).add(offset + len(name) - start)
    return ends


def no_drop_possible(data: bytes, occurrences: list[tuple[int, str]]) -> bool:
    """Is none of the occurrences (offset of a must-retain name, the name) a call that the rules could
    report, whatever the name resolves to? False means "not shown", never "is a drop"."""
    if not _read_by_indentation(data):
        return False
    lines = data.split(b"\n")
    starts = list(accumulate(map((1).__add__, map(len, lines)), initial=0))
    blocks: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for offset, name in occurrences:
        number = bisect_right(starts, offset) - 1
        span = _enclosing_block(lines, number)
        if span is None:
            return False
        end_column = offset + len(name) - starts[number]
        blocks.setdefault(span, []).append((number + 1, end_column))
    return all(_no_drop_in(lines, span, names) for span, names in blocks.items())


def _parse_block(lines: list[bytes], span: tuple[int, int]) -> ast.Module | None:
    """The block's lines parsed alone, at their own line numbers (None if that fails): blank lines stand
    for what comes before, and an indented block is put under an ``if`` header on the line above it."""
    first, end = span
    if _indent(lines[first]):
        if first == 0:
            return None
        head = [b""] * (first - 1) + [b"if 1:"]
    else:
        head = [b""] * first
    try:
        return parse_quietly(b"\n".join([*head, *lines[first:end]]) + b"\n")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def may_return_local(
    data: bytes, at: int, name: str, local: str, lines: list[bytes] | None = None
) -> bool:
    """Can the function whose line assigns ``local`` (``local = name(...)``, ``name`` at offset ``at``)
    return it? Only a ``return local`` of that function passes the call's result on (wrappers.py reads
    a returned name's assignments in its function's own scope), so where the file's ``return local``
    lines all stand elsewhere the assignment is no wrapper's. False only when shown: the function found by
    indentation parses alone, holds the assignment where the text put it, and returns no such name.
    ``lines``: ``data.split(b"\n")``, if at hand."""
    if not _read_by_indentation(data):
        return True
    lines = data.split(b"\n") if lines is None else lines
    number = data.count(b"\n", 0, at)
    span = _enclosing_block(lines, number)
    if span is None:
        return True
    tree = _parse_block(lines, span)
    if tree is None:
        return True
    line, column = number + 1, at - (data.rfind(b"\n", 0, at) + 1) + len(name.encode())
    assigned = returned = False
    for node in walk_nodes(tree):
        if isinstance(node, ast.Return):
            value = node.value
            returned |= isinstance(value, ast.Name) and value.id == local
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.lineno == line and node.value:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            assigned |= any(isinstance(t, ast.Name) and t.id == local for t in targets) and any(
                isinstance(call, ast.Call)
                and (call.func.end_lineno, call.func.end_col_offset) == (line, column)
                for call in walk_nodes(node.value)
            )
    if not assigned:
        return True  # not the statement the text suggested: cannot tell
    first_node = tree.body[0]
    if isinstance(first_node, ast.If) and _indent(lines[span[0]]):
        first_node = first_node.body[0]
    if not isinstance(first_node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False  # a class or module statement binds no function's local
    return returned


def _no_drop_in(lines: list[bytes], span: tuple[int, int], names: list[tuple[int, int]]) -> bool:
    tree = _parse_block(lines, span)
    if tree is None:
        return False
    # Each name must be code where the text put it (not in a string or comment the fragment misread).
    ends = {
        (node.end_lineno, node.end_col_offset)
        for node in walk_nodes(tree)
        if isinstance(node, (ast.Name, ast.Attribute))
    }
    if not all(name in ends for name in names):
        return False
    scopes = FileScopes(tree, "<fragment>", False)
    try:
        return not any(
            _maybe_drop(statement, names) for statement in scopes.statements
        ) and not any(
            _maybe_dropped_by_return(node.value, scopes.return_partial_uses.get(id(node)), names)
            for node, _ in scopes.returns
            if node.value is not None
        )
    finally:
        scopes.close()


def _maybe_drop(statement: Statement, names: list[tuple[int, int]]) -> bool:
    """Could the rules report ``statement`` for a call of one of the names (if it resolves to a mark)?
    The rules' own candidates, before anything is resolved: the same shapes by construction."""
    return any(_reportable_at(candidate, names) for candidate in candidates(statement))


def _maybe_dropped_by_return(
    value: ast.expr, uses: list[ast.expr] | None, names: list[tuple[int, int]]
) -> bool:
    return any(_reportable_at(candidate, names) for candidate in return_candidates(value, uses))


def _reportable_at(candidate: Candidate, names: list[tuple[int, int]]) -> bool:
    """Is the candidate a call of one of the names that the rules could report? The names are catalog
    names (``Prefilter.drop_offsets`` places only those), which are never async: an awaited call of one
    hands its result to ``await``, and the rules pass over it (``awaited != is_async``)."""
    func = candidate.call.func
    return not candidate.awaited and (func.end_lineno, func.end_col_offset) in names
