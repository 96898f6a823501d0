"""Texts cut down for the module summaries (summaries.py): the summary of a module reads its top-level
bindings, its classes' shapes and its marked definitions, never what a function does, so the index
parses less than the whole file where that is safe to tell from the text.

Both cuts work by lines and indentation and keep line numbers; strings are not tracked, so a cut that
does not parse means "read the whole file" (the caller's fall-back).
"""

from __future__ import annotations

import re

from keepref_lint.prefilter import has_lone_cr

_TOP_LEVEL = re.compile(rb"(?:from|import)[ \t]|class[ \t]|[A-Za-z_]\w*[ \t]*(?::[^=\n]*)?=(?!=)")


def module_skeleton(data: bytes) -> bytes:
    """The module's top-level imports, assignments and class headers (bodies become ``...``).

    A re-export is a top-level statement, so this is all the alias closure needs from a file that only a
    catalog name brought in, at a fraction of the cost of parsing the whole file. Lines of a statement
    continue while brackets are open (strings and backslash continuations are not tracked: a skeleton that
    does not parse falls back to the whole file).
    """
    kept: list[bytes] = []
    depth = 0
    keeping = False
    encoding_lines = data.split(b"\n", 2)[:2]
    for line in encoding_lines:
        if line.startswith(b"#") and b"coding" in line:
            kept.append(line)
    for line in data.split(b"\n"):
        if depth == 0:
            keeping = bool(_TOP_LEVEL.match(line))
            is_class = line.startswith(b"class")
        if keeping:
            kept.append(line)
            depth = max(depth + _depth(line), 0)
            if depth == 0 and is_class:
                kept.append(b"    ...")
                keeping = False
    return b"\n".join(kept) + b"\n"


_DEF = re.compile(rb"[ ]*(?:async[ \t]+)?def[ \t]")
_CLASS = re.compile(rb"[ ]*class[ \t]")


def without_function_bodies(data: bytes) -> bytes | None:
    """The text with each function's body blanked: its first line becomes ``...`` at its indentation, the
    others empty, so every line keeps its number. What a summary reads outside function bodies (imports,
    assignments, classes and their members, decorators, ``if``/``try`` blocks) stays as written.

    None where the cut could change the summary or cannot be made by indentation: a class defined in a
    function (the summary lists it), tabs, form feeds, or a carriage return that does not end a line with
    its LF (CRLF lines are cut like LF ones). A header is followed while its
    brackets are open; a bracket in a string or comment, or a string whose lines go left of the body's
    indentation, spoils the cut, and the result then does not parse.
    """
    if b"\t" in data or b"\f" in data or has_lone_cr(data):
        return None
    lines = data.split(b"\n")
    kept: list[bytes] = []
    at, count = 0, len(lines)
    while at < count:
        line = lines[at]
        kept.append(line)
        at += 1
        if _DEF.match(line) is None:
            continue
        level = len(line) - len(line.lstrip(b" "))
        depth = _depth(line)
        while depth > 0 and at < count:  # a header over several lines
            line = lines[at]
            kept.append(line)
            at += 1
            depth += _depth(line)
        if not line.split(b"#", 1)[0].rstrip().endswith(b":"):
            continue  # a body on the header's line (``def f(): return x``)
        first = True
        while at < count:
            body = lines[at]
            stripped = body.lstrip(b" ")
            if stripped not in (b"", b"\r") and not stripped.startswith(b"#"):
                indent = len(body) - len(stripped)
                if indent <= level:
                    break
                if _CLASS.match(body):
                    return None
                if first:
                    kept.append(body[:indent] + b"...")
                    first = False
                    at += 1
                    continue
            kept.append(b"")
            at += 1
        if first:
            return None  # no body line where one was expected
    return b"\n".join(kept)


def _depth(line: bytes) -> int:
    return (
        line.count(b"(")
        + line.count(b"[")
        + line.count(b"{")
        - (line.count(b")") + line.count(b"]") + line.count(b"}"))
    )
