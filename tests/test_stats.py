"""KEEPREF_LINT_STATS: the real command writes where its time went and what it parsed, and changes nothing
else (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DROPS = (
    "import asyncio\n\n\nasync def handler_{i}():\n    asyncio.create_task(asyncio.sleep({i}))\n"
)


def make_project(root: Path, files: int) -> Path:
    """A project whose every module drops a task: enough files for the worker processes."""
    package = root / "app"
    package.mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'app'\nversion = '0'\n")
    (package / "__init__.py").write_text("")
    for i in range(files):
        (package / f"handler_{i}.py").write_text(DROPS.format(i=i))
    return root


def keepref(root: Path, *args: str, stats: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPREF_")}
    if stats is not None:
        env["KEEPREF_LINT_STATS"] = str(stats)
    return subprocess.run(
        [sys.executable, "-m", "keepref_lint", "check", "-q", *args, "app"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_cold_run_writes_its_phases_and_parse_counts(tmp_path: Path, jobs: str) -> None:
    root = make_project(tmp_path / "project", files=12)
    record = tmp_path / "stats.json"
    plain = keepref(root, "--no-cache", "--jobs", jobs)
    proc = keepref(root, "--no-cache", "--jobs", jobs, stats=record)
    assert proc.returncode == plain.returncode == 1
    assert proc.stdout == plain.stdout  # the same findings, in the same order
    assert proc.stdout.count(" KR001 ") == 12
    stats = json.loads(record.read_text())
    phases, counts = stats["phases"], stats["counts"]
    for phase in ("scan", "imports", "index", "prefilter", "read", "check", "output"):
        assert phase in phases, phase
    assert "index.read" in phases and "index.receivers" in phases
    assert stats["untimed_index_steps"] == []  # every step stats.instrument wraps is still there
    assert all(seconds >= 0 for seconds in phases.values())
    top_level = sum(s for name, s in phases.items() if "." not in name)
    assert top_level <= stats["total"] * 1.01 + 1e-3
    assert counts["files_in_tree"] == 13
    assert counts["files_read"] == 13
    assert counts["files_to_analyse"] == 12
    # Every handler is parsed whole, in the parent or in a worker (whose counts come back with its answers).
    assert counts["files_parsed"] >= 12
    assert counts["parses"] >= counts["files_parsed"]
    assert counts["bytes_parsed"] > 0
    assert counts["cpu.parse"] > 0
    if jobs == "2" and len(os.sched_getaffinity(0)) >= 2:
        assert counts["workers"] == 2
        assert counts["cpu.workers"] > 0  # sent back by the workers


def test_a_warm_run_reports_the_outcomes_it_replayed(tmp_path: Path) -> None:
    root = make_project(tmp_path / "project", files=3)
    record = tmp_path / "stats.json"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    first = keepref(root, *cache)
    second = keepref(root, *cache, stats=record)
    assert second.stdout == first.stdout
    stats = json.loads(record.read_text())
    assert stats["counts"]["outcomes_replayed"] == 4
    assert "index" not in stats["phases"]  # answered from the results cache: nothing was indexed
    assert "files_parsed" not in stats["counts"]


def test_without_the_variable_nothing_is_written(tmp_path: Path) -> None:
    root = make_project(tmp_path / "project", files=1)
    before = sorted(p.name for p in root.rglob("*"))
    keepref(root, "--no-cache")
    assert sorted(p.name for p in root.rglob("*")) == before
