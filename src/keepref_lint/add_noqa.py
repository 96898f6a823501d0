"""``keepref-lint check --add-noqa``: suppress every current finding in place, as ``ruff --add-noqa`` does,
for adopting the tool on a large codebase.

Each finding's line gets ``  # noqa: KRxxx``; a line that already has ``# noqa: CODES`` gets the code
added to its list. The comment goes where flake8 (and suppress.py) will read it for the finding: on the
finding's line, or, when that line ends inside a multi-line string or with a backslash, at the end of its
logical line. Every other byte of the file is kept; the new text must parse to the same syntax tree.
"""

from __future__ import annotations

import io
import os
import tokenize
from collections.abc import Sequence

from keepref_lint.finding import Finding
from keepref_lint.project import InputError, display_path
from keepref_lint.sourcetext import SourceText, parse_quietly
from keepref_lint.suppress import _SPLIT, NOQA_INLINE, physical_lines


def _placement(text: str) -> tuple[set[int], dict[int, int]]:
    """Lines where a comment cannot end the line, and each line's logical line's last line."""
    blocked: set[int] = set()
    last_of: dict[int, int] = {}
    first = None
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.ENDMARKER, tokenize.DEDENT, tokenize.INDENT):
            continue
        if first is None:
            first = tok.start[0]
        if tok.start[0] < tok.end[0] and tok.type != tokenize.NEWLINE:
            blocked.update(range(tok.start[0], tok.end[0]))  # a string that goes on below
        if tok.type in (tokenize.NEWLINE, tokenize.NL):
            for number in range(first, tok.end[0] + 1):
                last_of[number] = tok.end[0]
            first = None
    return blocked, last_of


def _with_codes(line: str, codes: list[str]) -> str:
    """``line`` (without its line ending) with a ``# noqa`` naming ``codes`` as well as its own."""
    match = NOQA_INLINE.search(line)
    if match is not None and match.group("codes"):
        have = [c.strip() for c in _SPLIT.split(match.group("codes")) if c.strip()]
        merged = list(dict.fromkeys([*have, *codes]))
        rest = line[match.end() :]
        return f"{line[: match.start()]}# noqa: {', '.join(merged)}{' ' if rest[:1].strip() else ''}{rest}"
    kept = line.rstrip(" \t")
    return f"{kept}  # noqa: {', '.join(codes)}"


def noqa_text(text: str, findings: Sequence[Finding]) -> tuple[str, int]:
    """The text with every finding suppressed, and the number of lines given a new code."""
    lines = physical_lines(text)
    blocked, last_of = _placement(text)
    wanted: dict[int, list[str]] = {}
    for f in findings:
        number = f.line
        if number in blocked or lines[number - 1].rstrip("\r\n").endswith("\\"):
            number = last_of.get(f.line, f.line)
        codes = wanted.setdefault(number, [])
        if f.code not in codes:
            codes.append(f.code)
    for number, codes in wanted.items():
        line = lines[number - 1]
        body = line.rstrip("\r\n")
        lines[number - 1] = _with_codes(body, sorted(codes)) + line[len(body) :]
    return "".join(lines), len(wanted)


def add_noqa(findings: Sequence[Finding]) -> tuple[int, list[InputError]]:
    """Rewrite each file with findings; the number of directives added, and the files that failed."""
    by_file: dict[str, list[Finding]] = {}
    for f in findings:
        by_file.setdefault(os.path.abspath(f.path), []).append(f)
    added = 0
    errors: list[InputError] = []
    for path, group in sorted(by_file.items()):
        from keepref_lint.apply import atomic_write

        display = display_path(path)
        try:
            with open(path, "rb") as handle:
                original = handle.read()
            source = SourceText(original, display)
            new_text, count = noqa_text(source.text, group)
            new_data = source.encode(new_text)
            import ast

            if ast.dump(parse_quietly(new_data)) != ast.dump(parse_quietly(original)):
                raise InputError(display, "noqa not added: the new text parses differently")
            if new_data != original:
                atomic_write(path, original, new_data, display)
            added += count
        except InputError as error:
            errors.append(error)
        except (OSError, SyntaxError, tokenize.TokenError, UnicodeError) as exc:
            errors.append(InputError(display, f"noqa not added: {exc}"))
    return added, errors
