"""The sdist is complete: it carries its own tests (with helpers and fixtures), docs and licence."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(
    importlib.util.find_spec("build") is None, reason="build comes with the test extra"
)
def test_sdist_carries_what_its_tests_need(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (archive,) = tmp_path.glob("keepref_lint-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    tracked = subprocess.run(
        ["git", "ls-files", "tests", "docs", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    wanted = set(tracked) or {"tests/conftest.py", "tests/helpers.py", "docs/rules/KR001.md"}
    wanted |= {"LICENSE", "README.md", "pyproject.toml", "src/keepref_lint/rule_docs/KR001.md"}
    assert wanted - names == set()
    assert not any("__pycache__" in name or ".keepref-cache" in name for name in names)
