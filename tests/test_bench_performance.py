"""bench/performance.py's accounting: the CPU seconds of a command take in the processes it waits for
(our workers and early check, ruff's threads), and the CPU table's arithmetic. The timings themselves
are the benchmark's, not a test's."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import performance  # noqa: E402

# A grandchild that spins until it has used 0.3 s of its own CPU time: whatever the machine's load,
# the command's CPU time includes that much once its child has waited for it.
SPIN = (
    "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.3:\n    pass\n"
)
PARENT = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {SPIN!r}], check=True)\n"


def test_cpu_seconds_include_the_processes_the_command_waited_for(tmp_path: Path) -> None:
    wall, peak, cpu = performance.timed_cpu([sys.executable, "-c", PARENT], tmp_path)
    assert cpu >= 0.3
    assert wall > 0 and peak > 0


def test_the_cpu_table_spreads_the_work_over_the_cores() -> None:
    row = {
        "tree": "demo 1.0",
        "cold": {
            "a": [1.0, 2.0, 1.5],
            "b": [0.5, 0.5, 0.5],
            "cpu_a": [3.0, 3.0, 3.0],
            "cpu_b": [0.8] * 3,
        },
    }
    header, rule, line = performance.cpu_table([row], cores=2)
    assert "CPU / 2 cores" in header and rule.startswith("|---|")
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells == [
        "demo 1.0",
        "1.50 / 0.50",
        "3.00 / 0.80",
        "3.75x",
        "1.50",
        "3.00x",
        "100% / 80%",
    ]
