"""Marks declared in ``.pyi`` stubs (the scenario is fixtures/projects/stub_marks): a stub is read for its
marks and for nothing else, so no front end reports, rewrites or mentions one."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import FIXTURES, Scenario, run_cli

STDIN_AS_STUB = ["--stdin-filename", "app/ext.pyi"]
STUB_SCENARIO = Scenario("stub_marks", FIXTURES / "projects" / "stub_marks")


def stubs_of(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(root.rglob("*.pyi"))}


def test_check_and_fix_never_report_or_rewrite_a_stub(tmp_path: Path) -> None:
    root = STUB_SCENARIO.install(tmp_path)
    stubs = stubs_of(root)
    assert len(stubs) == 3
    # A dropped call written in a stub's body is not a call that runs: never reported.
    (root / "app" / "ext.pyi").write_text(
        (root / "app" / "ext.pyi").read_text() + "\ndef helper() -> None:\n    watch('x')\n"
    )
    stubs = stubs_of(root)
    for args in (["check", "."], ["check", "app"], ["check", "app/svc.pyi", "app/ext.pyi"]):
        proc = run_cli(*args, "--format", "json", "--no-cache", cwd=root, check=True)
        assert proc.stderr == "", proc.stderr
        assert not any(f["path"].endswith(".pyi") for f in json.loads(proc.stdout)), proc.stdout
    proc = run_cli("check", "app/svc.pyi", cwd=root, check=True)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert ".pyi" not in proc.stdout
    proc = run_cli("fix", ".", "--no-cache", cwd=root, check=True)
    assert ".pyi" not in proc.stdout + proc.stderr
    assert stubs_of(root) == stubs
    fixed = root / "app" / "main.py"
    assert fixed.read_bytes() == fixed.with_name("main.py.fixed").read_bytes()


def test_a_stub_read_from_standard_input_is_not_checked(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = STUB_SCENARIO.install(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "keepref_lint", "check", "--format", "json", "-", *STDIN_AS_STUB],
        cwd=root,
        input="from app.svc import start_service\nstart_service()\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, json.loads(proc.stdout), proc.stderr) == (0, [], "")


def test_an_excluded_stub_is_not_read(tmp_path: Path) -> None:
    root = STUB_SCENARIO.install(tmp_path)
    proc = run_cli(
        "check", ".", "--format", "json", "--no-cache", "--exclude", "svc.pyi", cwd=root, check=True
    )
    callees = {f["line"] for f in json.loads(proc.stdout)}
    assert len(callees) == 4  # start_service() and app.start_service() are no longer must-retain


def test_a_stub_that_does_not_parse_is_passed_over_quietly(tmp_path: Path) -> None:
    root = STUB_SCENARIO.install(tmp_path)
    (root / "app" / "plain.pyi").write_text("from keepref_lint import must_retain\ndef (:\n")
    proc = run_cli("check", ".", "--format", "json", "--no-cache", cwd=root, check=True)
    assert proc.stderr == ""
    assert len(json.loads(proc.stdout)) == 6
