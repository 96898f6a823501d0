"""The text of files that have findings, for output formats that show source or count characters.

A finding's column is 1-based in UTF-8 bytes (as ``ast`` and flake8 give it); SARIF counts Unicode code
points, a source snippet needs the line. The files are read again here, only for formats that need it and
only those with findings.
"""

from __future__ import annotations

import bisect
import os
import re

_NEWLINE = re.compile(r"\r\n|\r|\n")


class Text:
    """One file's decoded text and where its lines start."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]

    def line(self, lineno: int) -> str:
        """Line ``lineno`` (1-based) without its line ending; "" past the end."""
        if not 1 <= lineno <= len(self.line_starts):
            return ""
        start = self.line_starts[lineno - 1]
        end = self.line_starts[lineno] if lineno < len(self.line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def code_point_column(self, lineno: int, byte_column: int) -> int:
        """A 1-based UTF-8 byte column as a 1-based column in code points."""
        prefix = self.line(lineno).encode("utf-8")[: max(byte_column - 1, 0)]
        return len(prefix.decode("utf-8", errors="ignore")) + 1

    def position(self, offset: int) -> tuple[int, int]:
        """A character offset as (1-based line, 1-based code-point column)."""
        index = bisect.bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index] + 1


class Sources:
    """Texts by path, read on first use; a file that cannot be read gives an empty text."""

    def __init__(self) -> None:
        self._texts: dict[str, Text] = {}

    def get(self, path: str) -> Text:
        text = self._texts.get(path)
        if text is None:
            text = Text(_read(path))
            self._texts[path] = text
        return text


def _read(path: str) -> str:
    import io
    import tokenize

    try:
        with open(os.path.abspath(path), "rb") as handle:
            data = handle.read()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (OSError, SyntaxError, LookupError, UnicodeDecodeError):
        return ""
