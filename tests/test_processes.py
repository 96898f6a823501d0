"""Processes: Ctrl-C at any moment ends a run promptly (status 130, no temporary file, no worker left),
workers die with their parent, ``--jobs`` is capped, a file reached by two paths is fixed once, and the
cache never writes outside a folder of its own. Real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from helpers import FIXED, USER, run_cli, server_project

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="finds processes through /proc"
)

# Enough text per file that checking the tree takes a moment (a few hundred milliseconds on two cores).
PADDING = b"".join(
    b"def helper_%d(a, b):\n    return [a + b for _ in range(3)]\n\n\n" % i for i in range(150)
)


def make(root: Path, files: int = 0) -> Path:
    return server_project(root, **{f"user{i:02}.py": PADDING + USER for i in range(files)})


def tagged(tag: str) -> list[int]:
    """Processes whose environment holds ``tag`` (a run and every process it forked)."""
    found = []
    needle = f"KEEPREF_TEST_TAG={tag}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rpartition(b")")[2].split()[0]
        except OSError:
            continue
        if needle in environ.split(b"\0") and state != b"Z":
            found.append(int(entry))
    return found


def wait_until_gone(tag: str, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def start(args: list[str], cwd: Path, patch: str = "") -> tuple[subprocess.Popen[str], str]:
    """keepref-lint in a subprocess (``python -m keepref_lint``, or after ``patch``), tagged so that its
    workers can be found."""
    tag = uuid.uuid4().hex
    code = textwrap.dedent(patch) + (
        "\nimport sys\nfrom keepref_lint.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, *(["-c", code] if patch else ["-m", "keepref_lint"]), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KEEPREF_TEST_TAG": tag},
    )
    return proc, tag


def finish(proc: subprocess.Popen[str], tag: str, seconds: float) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        kill_all(tagged(tag))
        proc.communicate()
        pytest.fail(f"no exit within {seconds} s (a hang)")
    return proc.returncode, err


# The SIGINT arrives right after the second worker is forked, in the parent (in an old version: inside
# ProcessPoolExecutor's _start_executor_manager_thread, before the manager thread existed, which left the
# run hanging with two workers nobody would stop). The parent has the signal blocked while it forks, so
# it is delivered as the second fork's bookkeeping ends.
AFTER_FORKS = """
    import os, signal
    from keepref_lint import workers
    real_fork = os.fork
    forked = []
    def fork_then_interrupt():
        pid = real_fork()
        if pid:
            forked.append(pid)
            if len(forked) == 2:
                os.kill(os.getpid(), signal.SIGINT)
        return pid
    workers.os.fork = fork_then_interrupt
"""


def interrupted_cleanly(proc: subprocess.Popen[str], tag: str, root: Path) -> int:
    """Wait (10 s at most) for a run sent SIGINT; check no traceback, no process, no temp file left."""
    status, err = finish(proc, tag, 10)
    # -SIGINT with nothing said: the signal came before the interpreter installed its handler (a slow
    # start on a loaded machine), which is the default action, also prompt; keepref-lint never ran.
    assert status in (0, 1, 130) or (status == -signal.SIGINT and err == ""), (status, err)
    assert "Traceback" not in err, err
    assert wait_until_gone(tag, 3) == []
    assert not list(root.rglob("*.keepref-tmp"))
    return status


def test_sigint_right_after_the_workers_are_forked_in_check(tmp_path: Path) -> None:
    root = make(tmp_path / "p", files=12)
    proc, tag = start(["check", "--no-cache", "-j", "2", "."], root, AFTER_FORKS)
    assert interrupted_cleanly(proc, tag, root) == 130


def test_sigint_at_many_moments_of_fix(tmp_path: Path) -> None:
    """Ctrl-C at moments spread over a whole run, and right after the workers are forked: each run ends
    within seconds, with 130 (or 0 when it finished first), every file old or new, no temp file, no
    process left."""
    root = make(tmp_path / "p", files=16)
    names = ["good.py", *(f"user{i:02}.py" for i in range(16))]
    args = ["fix", "--no-cache", "-j", "2", "."]
    # The moments are fractions of how long a whole run takes on this machine now (a fixed delay
    # would find the run already over on a fast machine, or not yet started on a loaded one).
    started = time.monotonic()
    proc, tag = start(args, root)
    assert finish(proc, tag, 60)[0] == 0
    whole = time.monotonic() - started
    statuses = []
    for delay in ("after the forks", *(whole * part for part in (0.3, 0.45, 0.6, 0.75, 0.9))):
        for name in names:
            (root / name).write_bytes(USER if name == "good.py" else PADDING + USER)
        if isinstance(delay, str):
            proc, tag = start(args, root, AFTER_FORKS)
        else:
            proc, tag = start(args, root)
            time.sleep(delay)
            proc.send_signal(signal.SIGINT)
        status = interrupted_cleanly(proc, tag, root)
        statuses.append(status)
        assert status in (0, 130, -signal.SIGINT), delay
        for name in names:
            data = (root / name).read_bytes()
            old = USER if name == "good.py" else PADDING + USER
            assert data in (old, old.replace(USER, FIXED)), (delay, name)
    assert statuses[0] == 130 and 130 in statuses[1:]


def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    root = make(tmp_path / "p", files=12)
    # The parent stops at its first write, so the workers are alive (idle or busy) when it is killed.
    proc, tag = start(
        ["fix", "--no-cache", "-j", "2", "."],
        root,
        "import time\nfrom keepref_lint import apply\napply.atomic_write = lambda *a: time.sleep(60)\n",
    )
    kill_when_running(proc, tag, 3, "the run and its two workers")


def kill_when_running(proc: subprocess.Popen[str], tag: str, count: int, what: str) -> None:
    """Once ``count`` processes carry ``tag`` (``what``), kill the run's own: none is left 5 s later."""
    try:
        deadline = time.monotonic() + 20
        while len(tagged(tag)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(tagged(tag)) == count, what
        proc.kill()
        proc.wait()
        left = wait_until_gone(tag, 5)
        assert left == [], f"orphaned processes: {left}"
    finally:
        kill_all(tagged(tag))
        proc.communicate()


def test_jobs_are_capped_at_the_cpus(tmp_path: Path) -> None:
    root = make(tmp_path / "p", files=12)
    counting = """
        import atexit, os, sys
        forks = []
        os.register_at_fork(after_in_parent=lambda: forks.append(1))
        atexit.register(lambda: print(f"forks={len(forks)}", file=sys.stderr))
    """
    proc, tag = start(["check", "--no-cache", "--jobs", "1000", "."], root, counting)
    status, err = finish(proc, tag, 30)
    assert status == 1, err
    forks = int(err.rsplit("forks=", 1)[1])
    assert 1 <= forks <= len(os.sched_getaffinity(0)), err


def test_symlinked_file_whose_target_is_in_the_tree_is_fixed_once(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    (root / "alias.py").symlink_to("good.py")
    (root / "zlink.py").symlink_to(root / "good.py")
    proc = run_cli("fix", ".", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "Fixed 1 finding in 1 file." in proc.stdout
    assert (root / "alias.py").is_symlink() and (root / "zlink.py").is_symlink()
    assert (root / "good.py").read_bytes() == FIXED


def test_cache_dir_is_refused_unless_it_is_its_own(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    (root / "docs").mkdir()
    (root / "docs" / "index.md").write_text("# docs\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    for cache_dir in (
        ".",
        "..",
        "docs",
    ):  # the root, a folder above it, a folder holding other files
        proc = run_cli("check", "--cache-dir", cache_dir, ".", cwd=root)
        assert proc.returncode == 2, cache_dir
        (line,) = proc.stderr.splitlines()
        assert line.startswith("keepref-lint: error: cache-dir ") and "folder of its own" in line
        assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before, cache_dir
    for _ in range(2):  # a new folder: created, then recognised as its own
        proc = run_cli("check", "--cache-dir", "build/kr-cache", ".", cwd=root)
        assert proc.returncode == 1, proc.stderr
    assert (root / "build" / "kr-cache" / ".gitignore").read_text().endswith("*\n")
    assert any(p.name.startswith("results-") for p in (root / "build" / "kr-cache").iterdir())


def test_a_worker_that_dies_costs_its_files_only(tmp_path: Path) -> None:
    root = make(tmp_path / "p", files=12)
    # The worker that gets user05.py dies (as if killed by the OOM killer) before answering.
    proc, tag = start(
        ["fix", "--no-cache", "-j", "2", "."],
        root,
        """
        import os
        from keepref_lint import analysis
        parent = os.getpid()
        real = analysis._analyse
        def analyse(project, path, *args):
            if os.getpid() != parent and path.endswith("user05.py"):
                os._exit(9)
            return real(project, path, *args)
        analysis._analyse = analyse
        """,
    )
    status, err = finish(proc, tag, 30)
    assert status == 2, err
    lines = err.splitlines()
    assert lines and all(
        line.endswith(": internal error: the worker process checking it died (exit status 9)")
        for line in lines
    ), err
    # The chunk it was checking (user05.py and at most one other file); the chunk it had not started
    # went to the other worker.
    assert "user05.py: internal error" in err and len(lines) <= 2, err
    failed = {line.partition(":")[0] for line in lines}
    for name in ["good.py", *(f"user{i:02}.py" for i in range(12))]:
        expected = USER if name == "good.py" else PADDING + USER
        if name not in failed:
            expected = expected.replace(USER, FIXED)
        assert (root / name).read_bytes() == expected, name
    assert wait_until_gone(tag, 3) == []


def test_a_worker_that_dies_right_after_an_answer_is_not_sent_more(tmp_path: Path) -> None:
    """A worker that exits right after answering: the parent, sending it the next chunk, finds its
    pipe closed; that chunk goes to the other worker and every file is fixed (it was once an internal
    error for the whole run: BrokenPipeError)."""
    root = make(tmp_path / "p", files=12)
    proc, tag = start(
        ["fix", "--no-cache", "-j", "2", "."],
        root,
        """
        import os, time
        from keepref_lint import workers
        parent = os.getpid()
        real_send = workers.send
        answered = []
        def send(fd, message):
            if os.getpid() == parent:
                if isinstance(message, int) and message != workers.STOP:
                    time.sleep(0.2)  # a job: by now a worker that answered and left is gone
                return real_send(fd, message)
            real_send(fd, message)
            if isinstance(message, tuple) and message[0] == "ok" and not answered:
                answered.append(1)
                if os.environ.get("KEEPREF_TEST_FIRST_EXIT") != "done":
                    os.environ["KEEPREF_TEST_FIRST_EXIT"] = "done"
                    os._exit(9)  # the first worker to answer leaves at once
        workers.send = send
        """,
    )
    status, err = finish(proc, tag, 60)
    assert "BrokenPipeError" not in err and "Traceback" not in err, err
    assert status in (0, 2), err
    for line in err.splitlines():  # only a chunk it had been given before it left is lost
        assert line.endswith(
            ": internal error: the worker process checking it died (exit status 9)"
        ), err
    assert wait_until_gone(tag, 3) == []


# The corpus helper (corpus.py) for any tree, and every question put to it.
WITH_A_HELPER = """
    from keepref_lint.corpus import Corpus
    Corpus.HELPER_MIN_BYTES = Corpus.ASK_MIN_BYTES = 0
"""


def test_sigint_right_after_the_corpus_helper_is_forked(tmp_path: Path) -> None:
    """The first fork of a run with two jobs is the index's corpus helper: Ctrl-C right after it ends
    the run with 130, and neither the helper nor any worker is left."""
    root = make(tmp_path / "p", files=12)
    patch = (
        WITH_A_HELPER
        + """
    import os, signal
    from keepref_lint import corpus
    real_fork = os.fork
    def fork_then_interrupt():
        pid = real_fork()
        if pid:
            os.fork = real_fork
            os.kill(os.getpid(), signal.SIGINT)
        return pid
    corpus.os.fork = fork_then_interrupt
    """
    )
    proc, tag = start(["check", "--no-cache", "-j", "2", "."], root, patch)
    assert interrupted_cleanly(proc, tag, root) == 130


def test_the_corpus_helper_exits_when_the_parent_is_killed(tmp_path: Path) -> None:
    root = make(tmp_path / "p", files=12)
    # The parent stops in the middle of the index build, with its helper started.
    patch = (
        WITH_A_HELPER
        + """
    import time
    from keepref_lint.index import ProjectIndex
    ProjectIndex._close_over_aliases = lambda *a: time.sleep(60)
    """
    )
    proc, tag = start(["check", "--no-cache", "-j", "2", "."], root, patch)
    kill_when_running(proc, tag, 2, "the run and its helper")


# The early check (early.py) for any tree, with the index's last step held up so that its process is
# running when the parent is interrupted or killed; the early process itself is held up in its first file.
EARLY_AND_STUCK = """
    import os, time
    from keepref_lint import early, index
    early.EARLY_MIN_BYTES = 0
    parent = os.getpid()
    def slow_step(*args, **kwargs):
        time.sleep(60)
    index.build_receiver_types = slow_step
    check = early.EarlyCheck._check
    def stuck(self, *args):
        if os.getpid() != parent:
            time.sleep(60)
        return check(self, *args)
    early.EarlyCheck._check = stuck
"""


def test_the_early_check_exits_when_the_parent_is_killed(tmp_path: Path) -> None:
    root = make(tmp_path / "p", files=12)
    proc, tag = start(
        ["check", "--no-cache", "-j", "2", "."], root, WITH_A_HELPER + EARLY_AND_STUCK
    )
    kill_when_running(proc, tag, 3, "the run, its corpus helper and its early check")


def test_sigint_while_the_early_check_runs(tmp_path: Path) -> None:
    root = make(tmp_path / "p", files=12)
    # Right after the early process is recorded: the run's own clean-up ends it.
    patch = (
        EARLY_AND_STUCK
        + """
    import signal
    real_start = early.EarlyCheck.start
    def start_then_interrupt(self, *args):
        real_start(self, *args)
        assert self.batch is not None
        os.kill(os.getpid(), signal.SIGINT)
    early.EarlyCheck.start = start_then_interrupt
    """
    )
    proc, tag = start(["check", "--no-cache", "-j", "2", "."], root, patch)
    assert interrupted_cleanly(proc, tag, root) == 130
