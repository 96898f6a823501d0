"""Findings as text or JSON."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from keepref_lint.finding import Finding


def format_text(findings: Sequence[Finding]) -> str:
    return "".join(f"{f.path}:{f.line}:{f.column}: {f.code} {f.message}\n" for f in findings)


def finding_dict(finding: Finding) -> dict[str, object]:
    data: dict[str, object] = {
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "end_line": finding.end_line,
        "end_column": finding.end_column,
        "code": finding.code,
        "message": finding.message,
        "callee": finding.callee,
        "fixable": finding.fixable,
    }
    if finding.fix is not None:
        data["fix"] = {
            "title": finding.fix.title,
            "keeper": finding.fix.keeper,
            "safety": finding.fix.safety,
            "edits": [{"start": e.start, "end": e.end, "text": e.text} for e in finding.fix.edits],
        }
    else:
        data["no_fix_reason"] = finding.no_fix_reason
    return data


def format_json(findings: Sequence[Finding]) -> str:
    import json

    return json.dumps([finding_dict(f) for f in findings], indent=2) + "\n"


def _github_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def format_github(findings: Sequence[Finding]) -> str:
    """GitHub Actions workflow commands: one ``::error`` annotation per finding."""
    lines = []
    for f in findings:
        props = (
            f"file={_github_escape(f.path, prop=True)},line={f.line},col={f.column},"
            f"endLine={f.end_line},endColumn={f.end_column},title={_github_escape(f.code, prop=True)}"
        )
        lines.append(f"::error {props}::{_github_escape(f'{f.code} {f.message}')}\n")
    return "".join(lines)
