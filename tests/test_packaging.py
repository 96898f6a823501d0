"""The sdist is complete: it carries its own tests (with helpers and fixtures), docs and licence."""

from __future__ import annotations

import importlib.util
import shutil
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


@pytest.mark.skipif(
    importlib.util.find_spec("build") is None, reason="build comes with the test extra"
)
def test_sdist_leaves_out_caches_below_the_root(tmp_path: Path) -> None:
    """A cache that a run left below the root (``./dev example`` checks examples/seed, a project of
    its own) is not packed: the tracked files copied, such a cache added, the sdist built from them."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    tree = tmp_path / "tree"
    for name in tracked:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name, follow_symlinks=False)
    left = tree / "examples" / "seed" / ".keepref-cache"
    left.mkdir()
    (left / "index-0.lock").write_bytes(b"")
    (left / ".gitignore").write_text("*\n")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path / "out"), str(tree)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (archive,) = (tmp_path / "out").glob("keepref_lint-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert any(name.endswith("/examples/seed/README.md") for name in names)  # the example is there
    assert not any(".keepref-cache" in name for name in names)
