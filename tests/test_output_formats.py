"""Machine formats as their consumers read them: SARIF against the official 2.1.0 schema (with format
checks), JUnit XML, GitLab Code Quality, JSON Lines, pylint; ruff's concise/full text with colour on
request. Every test runs the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import read_terminal, run_cli

SCHEMA = Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json"

MARKED = textwrap.dedent(
    """\
    from keepref_lint import must_retain


    @must_retain
    def start_server():
        return object()
    """
)
# A file name SARIF must percent-encode, a line with two-, three- and four-byte characters before the
# call, a fixable finding (in a method) and one without a fix.
ODD_NAME = "a%b,c:d.py"
ODD = textwrap.dedent(
    """\
    from server import start_server


    def main():
        "é€😀"; start_server()


    class App:
        def run(self):
            start_server()
    """
)


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '0'\n")
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def _odd(tmp_path: Path) -> Path:
    return _project(tmp_path, {"server.py": MARKED, ODD_NAME: ODD})


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    # FormatChecker() knows every format (uri-reference included, which Draft 4's own list lacks).
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def _errors(document: object) -> list[str]:
    return [f"{list(e.path)}: {e.message}" for e in _validator().iter_errors(document)]


def test_the_schema_checks_uri_formats() -> None:
    """So that the validation below means something: the old output (an unencoded URI) is refused."""
    bad = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "x"}},
                "results": [
                    {
                        "message": {"text": "m"},
                        "locations": [
                            {"physicalLocation": {"artifactLocation": {"uri": ODD_NAME}}}
                        ],
                    }
                ],
            }
        ],
    }
    assert any("uri-reference" in error for error in _errors(bad))


def test_sarif_is_valid_with_code_point_columns_encoded_uris_and_fixes(tmp_path: Path) -> None:
    root = _odd(tmp_path)
    proc = run_cli("check", "--format", "sarif", cwd=root)
    assert proc.returncode == 1, proc.stderr
    sarif = json.loads(proc.stdout)
    assert _errors(sarif) == []
    (run,) = sarif["runs"]
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["invocations"] == [{"executionSuccessful": True}]
    first, second = run["results"]
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "a%25b%2Cc%3Ad.py", "uriBaseId": "%SRCROOT%"}
    line = ODD.splitlines()[4]
    column = line.index("start_server") + 1  # in code points
    assert location["region"]["startColumn"] == column
    assert location["region"]["endColumn"] == column + len("start_server()")
    # The text format keeps flake8's UTF-8 byte column.
    text = run_cli("check", cwd=root).stdout
    assert f"{ODD_NAME}:5:{len(line[: column - 1].encode()) + 1}:" in text
    assert "fixes" not in first and first["properties"]["noFixReason"]
    (fix,) = second["fixes"]
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "a%25b%2Cc%3Ad.py"
    (replacement,) = change["replacements"]
    region = replacement["deletedRegion"]
    assert (region["startLine"], region["startColumn"]) == (10, 1)
    assert (region["endLine"], region["endColumn"]) == (10, 9)
    # Applying the replacement gives exactly what `keepref-lint fix` writes.
    lines = ODD.splitlines(keepends=True)
    lines[9] = replacement["insertedContent"]["text"] + lines[9][8:]
    fixed_root = _odd(tmp_path / "fixed")
    run_cli("fix", cwd=fixed_root)
    fixed = (fixed_root / ODD_NAME).read_text(encoding="utf-8")
    assert fixed.startswith("".join(lines))


def test_sarif_reports_a_file_that_could_not_be_checked(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        {
            "server.py": MARKED,
            "app.py": ODD,
            "broken.py": "from server import start_server\ndef (:\n",
        },
    )
    proc = run_cli("check", "--format", "sarif", cwd=root)
    assert proc.returncode == 2
    sarif = json.loads(proc.stdout)
    assert _errors(sarif) == []
    (invocation,) = sarif["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and note["message"]["text"]
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "broken.py"
    assert sarif["runs"][0]["results"]  # app.py was still checked


def test_json_lines_is_one_finding_per_line(tmp_path: Path) -> None:
    root = _odd(tmp_path)
    whole = json.loads(run_cli("check", "--format", "json", cwd=root).stdout)
    proc = run_cli("check", "--output-format", "json-lines", cwd=root)
    assert proc.returncode == 1
    assert [json.loads(line) for line in proc.stdout.splitlines()] == whole


def test_junit_is_xml_with_one_failure_per_finding(tmp_path: Path) -> None:
    root = _odd(tmp_path)
    proc = run_cli("check", "--output-format", "junit", cwd=root)
    suites = ET.fromstring(proc.stdout)
    assert suites.tag == "testsuites" and suites.get("failures") == "2"
    (suite,) = suites
    assert suite.get("name") == ODD_NAME
    cases = list(suite)
    assert [c.get("line") for c in cases] == ["5", "10"]
    assert cases[0].get("name") == "org.keepref-lint.KR001"
    assert cases[0].find("failure").get("message").startswith("result of start_server()")
    clean = _project(tmp_path / "clean", {"server.py": MARKED})
    suites = ET.fromstring(run_cli("check", "--output-format", "junit", cwd=clean).stdout)
    assert suites.get("failures") == "0" and suites.find(".//testcase") is not None


def test_gitlab_code_quality_report(tmp_path: Path) -> None:
    root = _odd(tmp_path)
    report = json.loads(run_cli("check", "--output-format", "gitlab", cwd=root).stdout)
    assert [r["location"]["path"] for r in report] == [ODD_NAME, ODD_NAME]
    assert report[0]["check_name"] == "KR001" and report[0]["severity"] == "major"
    assert report[0]["location"]["positions"]["begin"]["line"] == 5
    fingerprints = [r["fingerprint"] for r in report]
    assert len(set(fingerprints)) == 2
    # Stable while the finding is: run again from another folder, with the file edited elsewhere.
    (root / ODD_NAME).write_text("\n\n" + ODD, encoding="utf-8")
    again = json.loads(
        run_cli("check", "--output-format", "gitlab", str(root), cwd=root.parent).stdout
    )
    assert [r["fingerprint"] for r in again] == fingerprints


def test_pylint_format(tmp_path: Path) -> None:
    out = run_cli("check", "--output-format", "pylint", cwd=_odd(tmp_path)).stdout
    assert out.splitlines()[0].startswith(f"{ODD_NAME}:5: [KR001] result of start_server()")


def test_concise_is_text_and_full_shows_the_source(tmp_path: Path) -> None:
    root = _odd(tmp_path)
    text = run_cli("check", cwd=root).stdout
    assert run_cli("check", "--output-format", "concise", cwd=root).stdout == text
    full = run_cli("check", "--output-format", "full", cwd=root).stdout
    block = full.split("\n\n")[1].splitlines()
    assert block[0].startswith("KR001 [*] result of start_server()")
    assert block[1].strip() == f"--> {ODD_NAME}:10:9"
    assert block[3] == "10 |         start_server()"
    assert block[4] == "   |         ^^^^^^^^^^^^^^"
    assert block[6].startswith("help: ")
    first = full.split("\n\n")[0].splitlines()
    assert first[4].index("^") - 4 == ODD.splitlines()[4].index("start_server")  # code points


def _run_env(root: Path, env: dict[str, str], *args: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [sys.executable, "-m", "keepref_lint", "check", *args],
        cwd=root,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def test_colour_follows_no_color_and_force_color(tmp_path: Path) -> None:
    import pty

    root = _odd(tmp_path)
    assert "\x1b[" not in _run_env(root, {})  # a pipe: no colour
    assert "\x1b[1;31mKR001\x1b[0m" in _run_env(root, {"FORCE_COLOR": "1"})
    assert "\x1b[" in _run_env(root, {"FORCE_COLOR": "1"}, "--output-format", "full")
    assert "\x1b[" not in _run_env(root, {"FORCE_COLOR": "1"}, "--format", "json")
    for env, coloured in (({}, True), ({"NO_COLOR": "1"}, False)):
        leader, follower = pty.openpty()
        base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
        subprocess.run(
            [sys.executable, "-m", "keepref_lint", "check", "-q"],
            cwd=root,
            env={**base, **env},
            stdout=follower,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        os.close(follower)
        shown = read_terminal(leader)
        assert ("\x1b[1;31mKR001" in shown) == coloured, env


@pytest.mark.parametrize("fmt", ["sarif", "github", "junit", "gitlab", "full", "pylint"])
def test_suggest_refuses_formats_it_cannot_write(tmp_path: Path, fmt: str) -> None:
    proc = run_cli("suggest", "--format", fmt, cwd=_odd(tmp_path))
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"suggest has no --format {fmt}" in proc.stderr


def test_suggest_json(tmp_path: Path) -> None:
    wrapper = "from server import start_server\n\n\ndef boot():\n    return start_server()\n"
    root = _project(tmp_path, {"server.py": MARKED, "boot.py": wrapper})
    text = run_cli("suggest", cwd=root).stdout
    assert "boot.py:4: add @must_retain to boot()" in text
    proc = run_cli("suggest", "--format", "json", cwd=root)
    assert proc.returncode == 1
    (item,) = json.loads(proc.stdout)
    assert item["path"] == "boot.py" and item["line"] == 4 and item["qualname"] == "boot.boot"
    assert item["returns"] == ["server.start_server"]
    lines = run_cli("suggest", "--format", "json-lines", cwd=root).stdout.splitlines()
    assert [json.loads(line) for line in lines] == [item]


def test_fix_diff_json_prints_the_findings_with_their_fixes(tmp_path: Path) -> None:
    root = _odd(tmp_path)
    before = (root / ODD_NAME).read_bytes()
    proc = run_cli("fix", "--diff", "--format", "json", cwd=root)
    assert proc.returncode == 1
    findings = json.loads(proc.stdout)  # JSON, not a diff
    assert [f["fixable"] for f in findings] == [False, True]
    assert findings[1]["fix"]["edits"] and findings[0]["no_fix_reason"]
    assert (root / ODD_NAME).read_bytes() == before  # --diff writes nothing
    assert json.loads(run_cli("check", "--format", "json", cwd=root).stdout) == findings
