"""Every fixture: findings match the inline expectations, noqa silences them, fixes match byte for byte."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from helpers import Scenario, expectations, python_files, run_cli, scenarios, to_noqa

SCENARIOS = scenarios()


def reported(root: Path, args: list[str]) -> set[tuple[str, int, str]]:
    proc = run_cli("check", ".", "--format", "json", *args, cwd=root, check=True)
    assert proc.stderr == "", proc.stderr
    return {(f["path"], f["line"], f["code"]) for f in json.loads(proc.stdout)}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_findings_match_expectations(scenario: Scenario, tmp_path: Path) -> None:
    root = scenario.install(tmp_path)
    expected = expectations(root)
    assert expected or scenario.name.startswith("retained"), (
        "a fixture with no expectation tests nothing"
    )
    assert reported(root, scenario.cli_args()) == expected


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_noqa_silences_every_expectation(scenario: Scenario, tmp_path: Path) -> None:
    root = scenario.install(tmp_path)
    to_noqa(root)
    assert reported(root, scenario.cli_args()) == set()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_fix_output_is_exact_and_idempotent(scenario: Scenario, tmp_path: Path) -> None:
    root = scenario.install(tmp_path)
    before = {p: p.read_bytes() for p in python_files(root)}
    run_cli("fix", ".", *scenario.cli_args(), cwd=root, check=True)
    for path, old in before.items():
        expected_path = path.with_name(path.name + ".fixed")
        expected = expected_path.read_bytes() if expected_path.exists() else old
        assert path.read_bytes() == expected, (
            f"{path.relative_to(root)} differs from its expected output"
        )
        ast.parse(path.read_bytes())
    after_first = {p: p.read_bytes() for p in python_files(root)}
    run_cli("fix", ".", *scenario.cli_args(), cwd=root, check=True)
    assert {p: p.read_bytes() for p in python_files(root)} == after_first, (
        "a second fix changed something"
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_fixed_file_only_reports_what_was_declined(scenario: Scenario, tmp_path: Path) -> None:
    root = scenario.install(tmp_path)
    proc = run_cli("fix", ".", "--format", "json", *scenario.cli_args(), cwd=root, check=True)
    remaining = {(f["path"], f["line"], f["code"]) for f in json.loads(proc.stdout)}
    assert all(not f["fixable"] and f["no_fix_reason"] for f in json.loads(proc.stdout))
    assert reported(root, scenario.cli_args()) == remaining


def test_every_catalog_entry_has_a_positive_and_a_negative_fixture() -> None:
    from helpers import FIXTURES

    from keepref_lint.catalog import CATALOG

    lines = (FIXTURES / "catalog_entries.py").read_text(encoding="utf-8").splitlines()
    for entry in CATALOG:
        names = {q.rpartition(".")[2] for q in entry.qualnames}
        calls = [ln for ln in lines if any(f"{n}(" in ln for n in names)]
        assert any("# error:" in ln for ln in calls), f"no positive fixture for {entry.id}"
        assert any("# error:" not in ln for ln in calls), f"no negative fixture for {entry.id}"
