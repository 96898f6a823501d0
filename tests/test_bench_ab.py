"""bench/ab.py's choice of the versions it times (the timing itself is a benchmark, not a test)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import sys; sys.path.insert(0, 'bench'); import ab; print(ab.source_of(sys.argv[1]))"


def source_of(version: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEEPREF_BENCH_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-c", PROBE, version],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_revision_is_exported_once_into_the_bench_cache(tmp_path: Path) -> None:
    first = source_of("HEAD", tmp_path)
    assert first.returncode == 0, first.stderr
    folder = Path(first.stdout.strip())
    assert folder.parent.parent == tmp_path / "ab"
    assert (folder / "keepref_lint" / "workers.py").is_file()
    stamp = (folder / "keepref_lint" / "workers.py").stat().st_mtime_ns
    again = source_of("HEAD", tmp_path)
    assert Path(again.stdout.strip()) == folder
    assert (
        folder / "keepref_lint" / "workers.py"
    ).stat().st_mtime_ns == stamp  # not exported again


def test_a_checkout_folder_or_dot_is_used_in_place(tmp_path: Path) -> None:
    assert Path(source_of(".", tmp_path).stdout.strip()) == ROOT / "src"
    assert Path(source_of(str(ROOT), tmp_path).stdout.strip()) == ROOT / "src"
    assert not (tmp_path / "ab").exists()


def test_anything_else_is_refused_with_one_line(tmp_path: Path) -> None:
    proc = source_of("no-such-revision", tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "ab: 'no-such-revision' is neither a folder with keepref_lint nor a git revision"
    ]
