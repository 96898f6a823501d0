"""Findings as text or JSON."""

from __future__ import annotations

import json
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
    return json.dumps([finding_dict(f) for f in findings], indent=2) + "\n"
