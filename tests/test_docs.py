"""Docs stay true: every code has its page with the standard sections; the project passes its own linter."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from keepref_lint.codes import RULES

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ["## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety",
            "## Options", "## References"]  # fmt: skip


@pytest.mark.parametrize("code", sorted(RULES))
def test_every_code_has_a_page(code: str) -> None:
    page = ROOT / "docs" / "rules" / f"{code}.md"
    text = page.read_text(encoding="utf-8")
    assert text.startswith(f"# {code}: {RULES[code].name}\n")
    positions = [text.index(section) for section in SECTIONS]
    assert positions == sorted(positions), "sections out of order"
    assert f"docs/rules/{code}.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_no_page_without_a_code() -> None:
    pages = {p.stem for p in (ROOT / "docs" / "rules").glob("*.md")}
    assert pages == set(RULES)


@pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None, reason="ruff comes with the test extra"
)
def test_project_passes_ruff() -> None:
    for args in (
        ["check", "src", "tests", "bench"],
        ["format", "--check", "src", "tests", "bench"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_catalog_entry_is_on_the_rule_page() -> None:
    from keepref_lint.catalog import CATALOG

    page = (ROOT / "docs" / "rules" / "KR001.md").read_text(encoding="utf-8")
    for entry in CATALOG:
        assert f"| `{entry.id}` |" in page and entry.source in page and entry.reason in page
