"""A source file as text: its encoding, its lines and line endings, and offset arithmetic."""

from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings
from itertools import accumulate

from keepref_lint.project import InputError

_NEWLINE = re.compile(r"\r\n|\r|\n")


def encoded(text: str) -> bytes:
    """Text given by an editor or flake8 as the bytes of its file: in the encoding its coding comment
    names, else UTF-8."""
    data = text.encode("utf-8", "surrogateescape")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data if encoding in ("utf-8", "utf-8-sig") else text.encode(encoding)
    except (SyntaxError, LookupError, UnicodeError):
        return data


def line_starts(text: str) -> list[int]:
    """Where each line of ``text`` starts (a line ends at CRLF, CR or LF, as for Python's tokenizer)."""
    if "\r" in text:
        return [0] + [m.end() for m in _NEWLINE.finditer(text)]
    # Without CR every break is an LF: each start is the one before plus that line's length and its LF.
    lines = text.split("\n")
    lines.pop()
    return list(accumulate(map((1).__add__, map(len, lines)), initial=0))


class SourceText:
    def __init__(self, data: bytes, display: str) -> None:
        try:
            self.encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            self.text = data.decode(self.encoding)
        except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
            raise InputError(display, f"cannot decode: {exc}") from None
        self.line_starts = line_starts(self.text)

    def encode(self, text: str) -> bytes:
        return text.encode(self.encoding)

    def line(self, lineno: int) -> str:
        """The physical line ``lineno`` (1-based), with its line ending."""
        start = self.line_starts[lineno - 1]
        end = self.line_starts[lineno] if lineno < len(self.line_starts) else len(self.text)
        return self.text[start:end]

    def offset(self, lineno: int, byte_col: int) -> int:
        """Character offset of an ``ast`` position (line, UTF-8 byte column)."""
        line = self.line(lineno)
        prefix = line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore")
        return self.line_starts[lineno - 1] + len(prefix)

    def newline_of(self, lineno: int) -> str:
        """The line ending of line ``lineno``, else the file's first one, else ``\\n``."""
        match = _NEWLINE.search(self.line(lineno))
        if match is None:
            match = _NEWLINE.search(self.text)
        return match.group() if match else "\n"


def apply_edits(text: str, edits: list) -> str:
    """Apply non-overlapping edits (any order; insertions at one offset go in in the order given)."""
    pieces = []
    last = len(text)
    order = sorted(range(len(edits)), key=lambda i: (edits[i].start, edits[i].end, i), reverse=True)
    for edit in (edits[i] for i in order):
        if edit.end > last:
            raise ValueError("overlapping edits")
        pieces.append(text[edit.end : last])
        pieces.append(edit.text)
        last = edit.start
    pieces.append(text[:last])
    return "".join(reversed(pieces))


def parse_quietly(data: bytes | str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse`` without printing the compiler's warnings about the user's code (invalid escapes,
    ``{x}()``): they are not ours to report, and our stderr carries one line per bad file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(data, filename=filename)
