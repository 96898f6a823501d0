"""``# noqa`` exactly as flake8 reads it, so the CLI and the flake8 plugin agree.

A ``# noqa`` comment applies to every physical line of the logical line it stands on (flake8 joins the
lines of a multi-line statement before searching), ``# noqa: KR001,KR002`` names codes or code prefixes,
and a line that is only ``# flake8: noqa`` silences the whole file.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from bisect import bisect_right
from collections.abc import Iterable

NOQA_INLINE = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
NOQA_FILE = re.compile(r"\s*# flake8[:=]\s*noqa", re.IGNORECASE)
_SPLIT = re.compile(r"[,\s]")
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def physical_lines(text: str) -> list[str]:
    """Lines split the way Python's tokenizer splits them (not str.splitlines, which knows more breaks)."""
    return _PHYSICAL_LINE.findall(text)


def file_is_silenced(lines: list[str]) -> bool:
    return any(NOQA_FILE.match(line) for line in lines)


def logical_lines(text: str) -> dict[int, str]:
    """Line number -> the joined text of the logical line it belongs to (flake8's noqa mapping)."""
    try:
        return _logical_lines(io.StringIO(text).readlines(), physical_lines(text), 0)
    except (tokenize.TokenError, SyntaxError):
        return {}


def _logical_lines(feed: list[str], lines: list[str], start: int) -> dict[int, str]:
    """``logical_lines`` of the lines ``feed`` (split at ``\n``, as ``readline`` splits), which begin at
    line index ``start`` of the file's physical ``lines``; the tokenizer starts afresh there, which must
    be where a top-level statement starts (or 0)."""
    mapping: dict[int, str] = {}
    first, last = len(lines) + 2, -1
    window = iter(feed)
    for tok in tokenize.generate_tokens(lambda: next(window, "")):
        if tok.type in (tokenize.ENDMARKER, tokenize.DEDENT):
            continue
        first, last = min(first, tok.start[0] + start), max(last, tok.end[0] + start)
        if tok.type in (tokenize.NL, tokenize.NEWLINE):
            joined = "".join(lines[first - 1 : last])
            for number in range(first, last + 1):
                mapping[number] = joined
            first, last = len(lines) + 2, -1
    return mapping


def logical_lines_of(text: str, wanted: Iterable[int], tree: ast.Module) -> dict[int, str]:
    """``logical_lines`` for the lines ``wanted`` (each inside a statement of the parsed ``tree``), from
    the top-level statements that hold them only: the tokenizer's state where a top-level statement
    starts is fresh, so their tokens are those of the whole file. A large file with a few findings is
    not tokenized whole (in pure Python before 3.12, that costs more than parsing it)."""
    if "\r" in text.replace("\r\n", ""):
        return logical_lines(text)  # a lone CR ends a line for the parser, not for ``readline``
    lines = physical_lines(text)
    spans = [
        (
            min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", ()))]),
            stmt.end_lineno,
        )
        for stmt in tree.body
    ]
    starts = [first for first, _ in spans]
    windows: set[tuple[int, int]] = set()
    for number in wanted:
        at = bisect_right(starts, number) - 1
        if at < 0 or (spans[at][1] or 0) < number:
            return logical_lines(text)  # not inside a statement: read the whole file
        low = high = at
        # Statements sharing a line (``a = 1; start()``) share the logical line: take them together.
        while low > 0 and (spans[low - 1][1] or 0) >= spans[low][0]:
            low -= 1
        while high + 1 < len(spans) and spans[high + 1][0] <= (spans[high][1] or 0):
            high += 1
        windows.add((spans[low][0] - 1, spans[high][1] or spans[high][0]))
    mapping: dict[int, str] = {}
    try:
        for start, end in sorted(windows):
            mapping.update(_logical_lines(lines[start:end], lines, start))
    except (tokenize.TokenError, SyntaxError):
        return logical_lines(text)
    return mapping


def is_suppressed(code: str, line: str) -> bool:
    match = NOQA_INLINE.search(line)
    if match is None:
        return False
    codes_text = match.group("codes")
    if codes_text is None:
        return True
    codes = tuple(c.strip() for c in _SPLIT.split(codes_text) if c.strip())
    return code in codes or code.startswith(codes)
