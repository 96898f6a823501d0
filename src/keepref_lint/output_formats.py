"""The output formats beyond text/json/github (output.py) and SARIF (sarif.py), as ruff names them.

``concise`` is one line per finding (``text`` is its old name); ``full`` adds the source line with a caret
under the call and the fix; ``json-lines`` is one JSON object per line; ``junit`` is JUnit XML; ``gitlab``
is a GitLab Code Quality report; ``pylint`` is ``path:line: [CODE] message``. Colour (text formats only)
is used when stdout is a terminal, unless ``NO_COLOR`` is set; ``FORCE_COLOR`` turns it on anyway.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from keepref_lint.finding import Finding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from keepref_lint.project import InputError

TEXT_FORMATS = ("text", "concise", "full", "pylint")


def use_colour(stream: TextIO) -> bool:
    """The no-color.org and force-color.org conventions: a non-empty ``NO_COLOR`` turns colour off, a
    non-empty ``FORCE_COLOR`` turns it on, else colour is used on a terminal only."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Style:
    """ANSI styles, or none."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def code(self, text: str) -> str:
        return self._wrap("1;31", text)

    def dim(self, text: str) -> str:
        return self._wrap("34", text)

    def sep(self, text: str) -> str:
        return self._wrap("36", text)

    def help(self, text: str) -> str:
        return self._wrap("1;36", text)


def format_concise(findings: Sequence[Finding], style: Style) -> str:
    if not style.colour:
        from keepref_lint.output import format_text

        return format_text(findings)
    colon = style.sep(":")
    return "".join(
        f"{style.bold(f.path)}{colon}{f.line}{colon}{f.column}{colon} {style.code(f.code)} {f.message}\n"
        for f in findings
    )


def format_full(findings: Sequence[Finding], style: Style) -> str:
    """ruff's ``full``: the finding, its source line with carets under the call, and the fix."""
    from keepref_lint.sources import Sources

    sources = Sources()
    blocks = []
    for f in findings:
        text = sources.get(f.path)
        source = text.line(f.line).expandtabs(1)  # a tab is one column wide, as in the caret line
        start = text.code_point_column(f.line, f.column)
        end = (
            text.code_point_column(f.line, f.end_column)
            if f.end_line == f.line and f.end_column > f.column
            else len(source) + 1
        )
        width = len(str(f.line))
        gutter = style.dim(" " * width + " |")
        mark = "[*] " if f.fixable else ""
        lines = [
            f"{style.code(f.code)} {mark}{style.bold(f.message)}",
            f"{' ' * width}{style.dim('-->')} {f.path}:{f.line}:{f.column}",
            gutter,
            f"{style.dim(f'{f.line} |')} {source}",
            f"{gutter} {' ' * (start - 1)}{style.code('^' * max(end - start, 1))}",
            gutter,
        ]
        if f.fix is not None:
            lines.append(f"{style.help('help')}: {f.fix.title}")
        elif f.no_fix_reason:
            lines.append(f"{style.help('note')}: {f.no_fix_reason}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def format_pylint(findings: Sequence[Finding]) -> str:
    return "".join(f"{f.path}:{f.line}: [{f.code}] {f.message}\n" for f in findings)


def format_json_lines(findings: Sequence[Finding]) -> str:
    import json

    from keepref_lint.output import finding_dict

    return "".join(json.dumps(finding_dict(f), ensure_ascii=False) + "\n" for f in findings)


def format_junit(findings: Sequence[Finding], errors: Sequence[InputError] = ()) -> str:
    """JUnit XML as ruff writes it: a test suite per file, a failing test case per finding; a file that
    could not be checked is a test case with an ``<error>``; a clean run has one passing test case."""
    from xml.sax.saxutils import quoteattr

    by_file: dict[str, list[Finding]] = {}
    for f in findings:
        by_file.setdefault(f.path, []).append(f)
    failed = {e.path: e for e in errors}
    total = len(findings) + len(failed)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="keepref-lint" tests="{max(total, 1)}" failures="{len(findings)}" '
        f'errors="{len(failed)}">',
    ]
    if not total:
        out.append(
            '    <testsuite name="keepref-lint" tests="1" disabled="0" errors="0" failures="0" '
            'package="org.keepref-lint">'
        )
        out.append('        <testcase name="No errors found" classname="keepref-lint"/>')
        out.append("    </testsuite>")
    for path in sorted({*by_file, *failed}):
        items = by_file.get(path, [])
        error = failed.get(path)
        classname = quoteattr(os.path.splitext(path)[0])
        out.append(
            f'    <testsuite name={quoteattr(path)} tests="{len(items) + bool(error)}" disabled="0" '
            f'errors="{int(bool(error))}" failures="{len(items)}" package="org.keepref-lint">'
        )
        for f in items:
            body = _xml_text(f"line {f.line}, col {f.column}, {f.message}")
            out.append(
                f'        <testcase name="org.keepref-lint.{f.code}" classname={classname} '
                f'line="{f.line}" column="{f.column}">'
            )
            out.append(f"            <failure message={quoteattr(f.message)}>{body}</failure>")
            out.append("        </testcase>")
        if error is not None:
            out.append(f'        <testcase name="org.keepref-lint.error" classname={classname}>')
            out.append(
                f"            <error message={quoteattr(error.cause)}>{_xml_text(error.cause)}</error>"
            )
            out.append("        </testcase>")
        out.append("    </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


def _xml_text(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text)


def format_gitlab(findings: Sequence[Finding], root: str) -> str:
    """A GitLab Code Quality report: paths relative to the project root, a fingerprint per finding that
    stays the same while the finding does (its path, code, callee, line text and occurrence)."""
    import hashlib
    import json

    from keepref_lint.sources import Sources

    sources = Sources()
    seen: dict[tuple[str, ...], int] = {}
    report = []
    prefix = root.rstrip(os.sep) + os.sep
    for f in findings:
        absolute = os.path.abspath(f.path)
        path = absolute[len(prefix) :] if absolute.startswith(prefix) else absolute
        path = path.replace(os.sep, "/")
        key = (path, f.code, f.callee, sources.get(f.path).line(f.line).strip())
        seen[key] = seen.get(key, 0) + 1
        fingerprint = hashlib.sha256(repr((*key, seen[key])).encode()).hexdigest()[:16]
        report.append(
            {
                "check_name": f.code,
                "description": f"{f.code} {f.message}",
                "severity": "major",
                "fingerprint": fingerprint,
                "location": {
                    "path": path,
                    "positions": {
                        "begin": {"line": f.line, "column": f.column},
                        "end": {"line": f.end_line or f.line, "column": f.end_column or f.column},
                    },
                },
            }
        )
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def format_statistics(findings: Sequence[Finding]) -> str:
    """ruff's ``--statistics``: a count per code, most frequent first, ``[*]`` where all are fixable."""
    from keepref_lint.codes import RULES

    counts: dict[str, list[int]] = {}
    for f in findings:
        entry = counts.setdefault(f.code, [0, 0])
        entry[0] += 1
        entry[1] += f.fixable
    rows = sorted(counts.items(), key=lambda item: (-item[1][0], item[0]))
    width = max((len(str(n)) for n, _ in counts.values()), default=1)
    lines = []
    for code, (count, fixable) in rows:
        mark = "[*]" if fixable == count else "[-]" if fixable else "[ ]"
        name = RULES[code].name if code in RULES else ""
        lines.append(f"{count:>{width}}\t{code}\t{mark} {name}")
    return "".join(line + "\n" for line in lines)


def format_show_fixes(findings: Sequence[Finding], verb: str) -> str:
    """ruff's ``--show-fixes``: what was (or would be) fixed, by file and code."""
    from keepref_lint.codes import RULES

    fixed = [f for f in findings if f.fixable]
    if not fixed:
        return f"No findings {'would be ' if verb.startswith('Would') else ''}fixed.\n"
    by_file: dict[str, dict[str, int]] = {}
    for f in fixed:
        codes = by_file.setdefault(f.path, {})
        codes[f.code] = codes.get(f.code, 0) + 1
    lines = [f"{verb} {len(fixed)} finding{'' if len(fixed) == 1 else 's'}:"]
    for path in sorted(by_file):
        lines.append(f"- {path}:")
        for code, count in sorted(by_file[path].items()):
            name = RULES[code].name if code in RULES else ""
            lines.append(f"    {count} x {code} ({name})")
    return "\n".join(lines) + "\n"
