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
    assert re.search(r"Ran 9 tests", proc.stderr) and proc.stderr.rstrip().endswith("OK")


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


TASK_FIXTURES = sorted(p.stem for p in FIXTURES.glob("task_fix_*.py"))


def single_file(name: str, dest: Path, text: bytes | None = None) -> Path:
    root = dest / name
    root.mkdir(parents=True)
    source = FIXTURES / f"{name}.py"
    (root / source.name).write_bytes(source.read_bytes() if text is None else text)
    (root / "pyproject.toml").write_text("[project]\nname = 'fixture'\nversion = '0'\n" + ENABLE)
    return root


@pytest.mark.parametrize("name", TASK_FIXTURES)
def test_fixit_fix_writes_the_task_fixes_of_keepref_lint(name: str, tmp_path: Path) -> None:
    """A file whose fixes define the set of tasks: the same bytes as ``keepref-lint fix`` (the
    fixture's ``.fixed`` file), the set defined once."""
    root = single_file(name, tmp_path)
    proc = run([*FIXIT, "fix", "--automatic", "."], root)
    assert proc.returncode == 0, proc.stderr
    fixed = (root / f"{name}.py").read_bytes()
    assert fixed == (FIXTURES / f"{name}.py.fixed").read_bytes()


def test_a_lint_ignored_task_is_left_as_a_noqa_one_is(tmp_path: Path) -> None:
    """``# lint-ignore`` on one task: Fixit leaves it as keepref-lint leaves a ``# noqa`` line, and
    fixes the rest (with the set defined once)."""
    name = "task_fix_places"
    text = (FIXTURES / f"{name}.py").read_bytes()
    marked = b"asyncio.create_task(self._flush())  # error: KR001\n"
    assert text.count(marked) == 2
    ignored = single_file(
        name,
        tmp_path / "fixit",
        text.replace(
            marked, b"asyncio.create_task(self._flush())  # lint-ignore: KeepReferences\n", 1
        ),
    )
    noqa = single_file(
        name,
        tmp_path / "keepref",
        text.replace(marked, b"asyncio.create_task(self._flush())  # noqa: KR001\n", 1),
    )
    proc = run([*FIXIT, "fix", "--automatic", "."], ignored)
    assert proc.returncode == 0, proc.stderr
    run_cli("fix", ".", cwd=noqa)
    want = (
        (noqa / f"{name}.py")
        .read_bytes()
        .replace(b"# noqa: KR001", b"# lint-ignore: KeepReferences")
    )
    got = (ignored / f"{name}.py").read_bytes()
    assert got == want
    assert got.count(b"\n_background_tasks: set[") == 1
