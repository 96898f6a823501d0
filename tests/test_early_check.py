"""The early check (early.py): files checked in a forked process while the index types receivers give
the run's findings exactly, whether the process finishes, is ended midway, or dies. Real runs of the
command in subprocesses; a patch placed before ``main`` only slows or breaks the early process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keepref_lint import workers

pytestmark = pytest.mark.skipif(not workers.can_fork(), reason="needs os.fork")

TOOLS = """\
from keepref_lint import must_retain


class Server:
    @must_retain
    def serve(self):
        return self


@must_retain
def spawn():
    return object()


def make():
    return Server()
"""
CONN = """\
import asyncio


class Conn:
    loop: asyncio.AbstractEventLoop
"""
# A receiver file: the first finding needs the type conn.py states (the index's last step reads it),
# and the call in stop() has that step read tools.py too.
USER = """\
from pkg import tools
from pkg.conn import Conn


async def work():
    pass


class User:
    conn: Conn

    def go(self):
        self.conn.loop.create_task(work())  # KR001

    def stop(self):
        tools.make().serve()  # KR001
"""
# Not a receiver file by its text (a call after ``if ...:`` on its line), but a drop of a must-retain
# method whose receiver is what build() constructs: a class of tools.py, as only the index's last step
# knows. Checked early, it has no finding and asks the type oracle; checked again after, it has one.
ASKS = """\
from pkg.tools import Server


def build():
    return Server()


def g(ready):
    if ready: build().serve()  # KR001
"""
QUIET = """\
import asyncio

from pkg.tools import spawn


async def work():
    pass


def f():
    spawn()  # KR001
    asyncio.create_task(work())  # KR001
    print("nothing to keep")
"""


def project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    files = {"__init__.py": "", "tools.py": TOOLS, "conn.py": CONN, "user.py": USER}
    files["asks.py"] = ASKS
    files.update({f"quiet{i:02}.py": QUIET for i in range(12)})
    for name, text in files.items():
        (root / "pkg" / name).write_text(text)
    return root


def expected(root: Path) -> set[tuple[str, int]]:
    """The lines marked ``# KR001`` in the project's files."""
    return {
        (f"pkg/{path.name}", number)
        for path in (root / "pkg").glob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.endswith("# KR001")
    }


def run(root: Path, jobs: int, patch: str = "", command: str = "check") -> tuple[list, dict]:
    """The command's findings (JSON) and its stats, in a subprocess (after ``patch``, if any)."""
    stats_file = root.parent / f"stats-{jobs}-{len(patch)}.json"
    code = textwrap.dedent(patch) + (
        "\nimport sys\nfrom keepref_lint.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    )
    args = [command, "--no-cache", "-j", str(jobs), "--format", "json", "."]
    if command == "fix":
        args = ["fix", "--no-cache", "-j", str(jobs), "."]
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KEEPREF_LINT_STATS": str(stats_file)},
    )
    assert proc.returncode in (0, 1), proc.stderr
    findings = json.loads(proc.stdout) if command == "check" else []
    return findings, json.loads(stats_file.read_text())["counts"]


def places(findings: list) -> list[tuple]:
    return sorted((f["path"], f["line"], f["column"], f["code"], f["message"]) for f in findings)


# However small the project, the early process starts (EARLY_MIN_BYTES), and it finishes every file
# before the index's last step begins.
WAIT_FOR_IT = """
from keepref_lint import early
early.EARLY_MIN_BYTES = 0
start = early.EarlyCheck.start
def waiting(self, project, index, names):
    start(self, project, index, names)
    if self.batch is not None:
        self.batch.worker.reap(60)
early.EarlyCheck.start = waiting
"""


def in_the_early_process_on(name: str, action: str) -> str:
    """A patch: in the early process only, ``action`` (a statement) when it reaches the file ``name``."""
    return f"""
import os, time
from keepref_lint import early
parent = os.getpid()
check = early.EarlyCheck._check
def acting(self, project, index, names, item):
    if os.getpid() != parent and self.paths[item].endswith({name!r}):
        {action}
    return check(self, project, index, names, item)
early.EarlyCheck._check = acting
"""


def test_files_checked_early_give_the_findings_a_run_without_it_gives(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    alone, alone_counts = run(root, 1)
    early, counts = run(root, 2, WAIT_FOR_IT)
    assert places(early) == places(alone)
    assert {(f["path"], f["line"]) for f in early} == expected(root)
    assert "early_files_given" not in alone_counts  # one process: no early check
    _, small_counts = run(root, 2)
    assert "early_files_given" not in small_counts  # too little text for the last step to take long
    # The twelve plain files and tools.py are decided early; asks.py is checked again (its check
    # asked the oracle), and user.py is a candidate only once the receivers' types are known.
    assert counts["early_files_given"] == 14, counts
    assert counts["early_files_asked"] == 1, counts
    assert counts["early_files_checked"] == 13, counts


def test_an_early_process_ended_midway_leaves_its_files_to_the_check_after(
    tmp_path: Path,
) -> None:
    root = project(tmp_path / "p")
    alone, _ = run(root, 1)
    # It is ended (SIGKILL) while it waits on quiet05.py, the sixth file it is given.
    stuck = in_the_early_process_on("quiet05.py", "time.sleep(60)") + "early.EARLY_MIN_BYTES = 0\n"
    found, counts = run(root, 2, stuck)
    assert places(found) == places(alone)
    assert counts["early_files_checked"] < 13, counts


def test_an_early_process_that_dies_costs_nothing(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    alone, _ = run(root, 1)
    dies = in_the_early_process_on("quiet03.py", "os._exit(9)")
    found, counts = run(root, 2, WAIT_FOR_IT + dies)
    assert places(found) == places(alone)
    assert 0 < counts["early_files_checked"] < 13, counts


def test_fix_writes_the_same_bytes_with_the_early_check(tmp_path: Path) -> None:
    alone_root = project(tmp_path / "a")
    early_root = project(tmp_path / "b")
    run(alone_root, 1, command="fix")
    _, counts = run(early_root, 2, WAIT_FOR_IT, command="fix")
    assert counts["early_files_checked"] == 13, counts
    for path in sorted((alone_root / "pkg").glob("*.py")):
        fixed = (early_root / "pkg" / path.name).read_bytes()
        assert fixed == path.read_bytes(), path.name
    assert (alone_root / "pkg" / "quiet00.py").read_text() != QUIET  # the fix did write
