"""``# noqa`` exactly as flake8 reads it, so the CLI and the flake8 plugin agree.

A ``# noqa`` comment applies to every physical line of the logical line it stands on (flake8 joins the
lines of a multi-line statement before searching), ``# noqa: KR001,KR002`` names codes or code prefixes,
and a line that is only ``# flake8: noqa`` silences the whole file.
"""

from __future__ import annotations

import io
import re
import tokenize

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
    lines = physical_lines(text)
    mapping: dict[int, str] = {}
    first, last = len(lines) + 2, -1
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.ENDMARKER, tokenize.DEDENT):
                continue
            first, last = min(first, tok.start[0]), max(last, tok.end[0])
            if tok.type in (tokenize.NL, tokenize.NEWLINE):
                joined = "".join(lines[first - 1 : last])
                for number in range(first, last + 1):
                    mapping[number] = joined
                first, last = len(lines) + 2, -1
    except (tokenize.TokenError, SyntaxError):
        return {}
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
