"""SARIF 2.1.0 as GitHub code scanning accepts it, valid against the OASIS schema (tests/schemas/).

Columns are Unicode code points (``columnKind: unicodeCodePoints``), converted from the findings' UTF-8
byte columns with each file's text; artifact URIs are relative to the project root and percent-encoded;
each fixable finding carries its fix as ``artifactChanges``; ``invocations`` says whether every file
could be checked, with one notification per file that could not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from keepref_lint.finding import Finding
from keepref_lint.project import InputError
from keepref_lint.sources import Sources, Text

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"  # as ruff and GitHub write it


def artifact_location(path: str, root: str) -> dict[str, str]:
    """A path as SARIF's ``artifactLocation``: root-relative and percent-encoded under ``%SRCROOT%``, or
    an absolute ``file:`` URI for a path outside the root."""
    absolute = os.path.abspath(path)
    prefix = root.rstrip(os.sep) + os.sep
    if absolute.startswith(prefix):
        relative = absolute[len(prefix) :].replace(os.sep, "/")
        return {"uri": quote(relative, safe="/"), "uriBaseId": "%SRCROOT%"}
    return {"uri": Path(absolute).as_uri()}


def _region(text: Text, finding: Finding) -> dict[str, int]:
    region = {
        "startLine": finding.line,
        "startColumn": text.code_point_column(finding.line, finding.column),
    }
    if finding.end_line:
        region["endLine"] = finding.end_line
        region["endColumn"] = text.code_point_column(finding.end_line, finding.end_column)
    return region


def _fixes(text: Text, finding: Finding, location: dict[str, str]) -> list[dict[str, object]]:
    if finding.fix is None or not text.text:
        return []
    replacements = []
    for edit in finding.fix.edits:
        start_line, start_column = text.position(edit.start)
        end_line, end_column = text.position(edit.end)
        replacements.append(
            {
                "deletedRegion": {
                    "startLine": start_line,
                    "startColumn": start_column,
                    "endLine": end_line,
                    "endColumn": end_column,
                },
                "insertedContent": {"text": edit.text},
            }
        )
    return [
        {
            "description": {"text": finding.fix.title},
            "artifactChanges": [{"artifactLocation": location, "replacements": replacements}],
        }
    ]


def _rules() -> tuple[list[str], list[dict[str, object]]]:
    from keepref_lint.codes import RULES, rule_doc_url, rule_page

    codes = sorted(RULES)
    rules = []
    for code in codes:
        rule = RULES[code]
        page = rule_page(code) or rule.summary
        rules.append(
            {
                "id": code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.summary},
                "help": {"text": page, "markdown": page},
                "helpUri": rule_doc_url(code),
                "defaultConfiguration": {"level": "error"},
                "properties": {
                    "tags": ["correctness", "lifetime"],
                    "precision": "high",
                    "fix": rule.fix_title,
                    "fixSafety": rule.fix_safety,
                },
            }
        )
    return codes, rules


def format_sarif(findings: Sequence[Finding], root: str, errors: Sequence[InputError] = ()) -> str:
    """One SARIF log for a run: the findings, and the files that could not be checked."""
    from keepref_lint import __version__
    from keepref_lint.codes import rule_doc_url

    codes, rules = _rules()
    sources = Sources()
    results = []
    for f in findings:
        text = sources.get(f.path)
        location = artifact_location(f.path, root)
        result: dict[str, object] = {
            "ruleId": f.code,
            "ruleIndex": codes.index(f.code),
            "level": "error",
            "message": {"text": f.message},
            "locations": [
                {"physicalLocation": {"artifactLocation": location, "region": _region(text, f)}}
            ],
            "properties": {"callee": f.callee, "fixable": f.fixable},
        }
        fixes = _fixes(text, f, location)
        if fixes:
            result["fixes"] = fixes
        elif f.no_fix_reason:
            result["properties"]["noFixReason"] = f.no_fix_reason  # type: ignore[index]
        results.append(result)
    notifications = [
        {
            "level": "error",
            "message": {"text": error.cause},
            "locations": [
                {"physicalLocation": {"artifactLocation": artifact_location(error.path, root)}}
            ],
        }
        for error in errors
    ]
    invocation: dict[str, object] = {"executionSuccessful": not errors}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    sarif = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "keepref-lint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": rule_doc_url("").rpartition("/docs/")[0],
                        "rules": rules,
                    }
                },
                "invocations": [invocation],
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(root).as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False) + "\n"
