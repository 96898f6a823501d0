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

from keepref_lint.nodes import first_line

NOQA_INLINE = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
NOQA_FILE = re.compile(r"\s*# flake8[:=]\s*noqa", re.IGNORECASE)
_SPLIT = re.compile(r"[,\s]")
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# What ``str.splitlines`` breaks at besides LF: a text without any of them splits there the same way.
_OTHER_BREAKS = re.compile(r"[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_FLAKE8 = re.compile(r"flake8", re.IGNORECASE)


# Those of them an ASCII text can hold: looked for one by one at C speed (the class above is tried at
# every offset, 2 ms a MB).
_ASCII_BREAKS = "\r\v\f\x1c\x1d\x1e"


def physical_lines(text: str) -> list[str]:
    """Lines split the way Python's tokenizer splits them (not str.splitlines, which knows more breaks)."""
    if any(c in text for c in _ASCII_BREAKS) if text.isascii() else _OTHER_BREAKS.search(text):
        return _PHYSICAL_LINE.findall(text)
    return text.splitlines(keepends=True)


def file_is_silenced(lines: list[str], text: str | None = None) -> bool:
    """Is a line ``# flake8: noqa``? (``text``: the lines' text, if at hand: most never say flake8.)"""
    if text is not None and not _says_flake8(text):
        return False
    return any(NOQA_FILE.match(line) for line in lines)


def _says_flake8(text: str) -> bool:
    """``_FLAKE8.search(text)``: in an ASCII text, a search in its lower case (5 times faster: a pattern
    that ignores case is tried at every offset)."""
    if text.isascii():
        return "flake8" in text.lower()
    return _FLAKE8.search(text) is not None


_LONE_CR = re.compile(r"\r(?!\n)")


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


def logical_lines_of(
    text: str, wanted: Iterable[int], tree: ast.Module, lines: list[str] | None = None
) -> dict[int, str]:
    """``logical_lines`` for the lines ``wanted`` (each inside a statement of the parsed ``tree``), from
    the statements that hold them only. The tokenizer's state where a statement begins its line (after
    a line that no backslash continues) is fresh but for indentation, which only adds INDENT and DEDENT
    tokens, so their tokens are those of the whole file. A large file with a few findings is not
    tokenized whole (in pure Python before 3.12, that costs more than parsing it).
    ``lines``: the text's ``physical_lines``, if at hand."""
    if _LONE_CR.search(text):
        return logical_lines(text)  # a lone CR ends a line for the parser, not for ``readline``
    if lines is None:
        lines = physical_lines(text)
    windows: set[tuple[int, int]] = set()
    firsts: dict[int, tuple[list, list[int]]] = {}
    for number in wanted:
        window = _window(tree, number, lines, firsts)
        if window is None:
            return logical_lines(text)
        windows.add(window)
    mapping: dict[int, str] = {}
    try:
        for start, end in sorted(windows):
            mapping.update(_logical_lines(lines[start:end], lines, start))
    except (tokenize.TokenError, SyntaxError):
        return logical_lines(text)  # a window cut a statement that shares its last line
    return mapping


def _window(
    tree: ast.Module, number: int, lines: list[str], known: dict[int, tuple[list, list[int]]]
) -> tuple[int, int] | None:
    """(start, end) line indices of the innermost statement holding line ``number`` that begins its
    line; None when there is none. ``known``: each statement's (or the module's) child statements in
    the order of the text and their first lines, by the parent's id."""
    found = None
    parent: ast.AST = tree
    while True:
        children = known.get(id(parent))
        if children is None:
            statements = sorted(
                (child for body in _bodies(parent) for child in body), key=first_line
            )
            children = known[id(parent)] = (statements, [first_line(s) for s in statements])
        statements, firsts = children
        at = bisect_right(firsts, number) - 1
        if at < 0 or (statements[at].end_lineno or 0) < number:
            return found
        stmt = statements[at]
        first = firsts[at]
        line = lines[first - 1]
        decorators = _decorators(stmt)
        column = decorators[0].col_offset - 1 if decorators else stmt.col_offset  # at ``@``
        begins = line[:column].strip() == "" and not (
            first > 1 and lines[first - 2].rstrip("\r\n").endswith("\\")
        )
        if begins:
            found = (first - 1, stmt.end_lineno or first)
        parent = stmt


def _decorators(stmt: ast.stmt) -> list[ast.expr]:
    return getattr(stmt, "decorator_list", [])


def _bodies(stmt: ast.AST) -> Iterable[list[ast.stmt]]:
    for name in ("body", "orelse", "finalbody"):
        body = getattr(stmt, name, None)
        if isinstance(body, list):
            yield body
    for handler in getattr(stmt, "handlers", ()):
        yield handler.body
    for case in getattr(stmt, "cases", ()):
        yield case.body


def is_suppressed(code: str, line: str) -> bool:
    match = NOQA_INLINE.search(line)
    if match is None:
        return False
    codes_text = match.group("codes")
    if codes_text is None:
        return True
    codes = tuple(c.strip() for c in _SPLIT.split(codes_text) if c.strip())
    return code in codes or code.startswith(codes)
