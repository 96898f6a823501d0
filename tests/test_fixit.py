"""keepref_lint.fixit run by Fixit itself: its own test runner on the rule's VALID/INVALID examples, and
``fixit lint`` / ``fixit fix --automatic`` on project fixtures with cross-module drops, which must give
``keepref-lint check``'s findings and ``keepref-lint fix``'s bytes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import FIXTURES, python_files, run_cli

pytest.importorskip("fixit")

FIXIT = [sys.executable, "-m", "fixit"]
# fixit's line: path@line:column RuleName: message (has autofix)
LINE = re.compile(
    r"^(?P<path>.+?)@(?P<line>\d+):(?P<col>\d+) KeepReferences: (?P<message>.*?)( \(has autofix\))?$"
)
ENABLE = '\n[tool.fixit]\nroot = true\nenable = ["keepref_lint.fixit"]\n'


def project(name: str, dest: Path) -> Path:
    root = dest / name
    shutil.copytree(FIXTURES / "projects" / name, root)
    for fixed in root.rglob("*.fixed"):
        fixed.unlink()
    with open(root / "pyproject.toml", "a", encoding="utf-8") as handle:
        handle.write(ENABLE)
    return root


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


def test_fixits_own_runner_checks_the_examples(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'examples'\nversion = '0'\n")
    proc = run([*FIXIT, "test", "keepref_lint.fixit"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"Ran 8 tests", proc.stderr) and proc.stderr.rstrip().endswith("OK")


@pytest.mark.parametrize("name", ["cross_module", "wrappers"])
def test_fixit_lint_and_fix_match_keepref_lint(name: str, tmp_path: Path) -> None:
    root = project(name, tmp_path / "fixit")
    proc = run([*FIXIT, "lint", "."], root)
    assert proc.returncode == 1, proc.stderr
    found = set()
    for line in proc.stdout.splitlines():
        match = LINE.match(line)
        assert match, line
        found.add((match["path"], int(match["line"]), int(match["col"]) + 1, match["message"]))
    check = run_cli("check", "--format", "json", ".", cwd=root)
    expected = {
        (f["path"], f["line"], f["column"], f"{f['code']} {f['message']}")
        for f in json.loads(check.stdout)
    }
    assert len(expected) >= 3 and found == expected

    proc = run([*FIXIT, "fix", "--automatic", "."], root)
    assert proc.returncode == 0, proc.stderr
    reference = project(name, tmp_path / "keepref")
    run_cli("fix", ".", cwd=reference, check=True)
    fixed = {p.relative_to(root): p.read_bytes() for p in python_files(root)}
    assert fixed == {p.relative_to(reference): p.read_bytes() for p in python_files(reference)}
    assert fixed != {
        p.relative_to(FIXTURES / "projects" / name): p.read_bytes()
        for p in python_files(FIXTURES / "projects" / name)
    }
    # Fixed: fixit has nothing more to fix (what is left has no automatic fix in either tool).
    again = run([*FIXIT, "lint", "."], root)
    assert "has autofix" not in again.stdout
