"""The task fix: the fixed program really keeps its tasks, every front end applies it, the proof accepts
exactly its shape, and names are planned in linear time."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli

from keepref_lint.apply import verify
from keepref_lint.finding import Edit, Finding, Fix
from keepref_lint.fix import NamePlanner, realign
from keepref_lint.project import InputError
from keepref_lint.scopes import Scope
from keepref_lint.sourcetext import SourceText

# Jobs wait on futures that their producer holds only weakly (as many libraries hold waiters), so nothing
# but the event loop's weak set refers to a waiting task: a collection destroys it mid-run.
PROGRAM = """\
import asyncio
import gc
import weakref


class Producer:
    def __init__(self):
        self.waiters = weakref.WeakSet()

    def wait(self):
        future = asyncio.get_running_loop().create_future()
        self.waiters.add(future)
        return future

    def release(self):
        for future in list(self.waiters):
            future.set_result(None)


finished = []


async def job(producer, number):
    await producer.wait()
    finished.append(number)


class Dispatcher:
    def __init__(self, producer):
        self.producer = producer

    def dispatch(self, number):
        asyncio.create_task(job(self.producer, number))


def start_sync(loop: asyncio.AbstractEventLoop, producer, number):
    loop.create_task(job(producer, number))


async def main():
    producer = Producer()
    dispatcher = Dispatcher(producer)
    for number in range(4):
        asyncio.create_task(job(producer, number))
    dispatcher.dispatch(4)
    start_sync(asyncio.get_running_loop(), producer, 5)
    pending = asyncio.ensure_future(job(producer, 6))
    await asyncio.sleep(0.01)  # every job is now waiting
    gc.collect()
    producer.release()
    await asyncio.sleep(0.01)
    print(f"{len(finished)} of 7 jobs finished")


asyncio.run(main())
"""


def project(tmp_path: Path, source: str, name: str = "app.py") -> Path:
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '0'\n")
    (root / name).write_text(source, encoding="utf-8")
    return root


def run_program(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "app.py"], cwd=root, capture_output=True, text=True, timeout=60, check=True
    )


def test_fixed_program_keeps_every_task_until_it_finishes(tmp_path: Path) -> None:
    root = project(tmp_path, PROGRAM)
    before = run_program(root)
    assert "Task was destroyed but it is pending!" in before.stderr
    assert before.stdout.strip() != "7 of 7 jobs finished"
    proc = run_cli("fix", ".", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Fixed 4 findings in 1 file" in proc.stdout
    after = run_program(root)
    assert after.stdout.strip() == "7 of 7 jobs finished"
    assert "Task was destroyed" not in after.stderr
    text = (root / "app.py").read_text()
    assert text.count("_background_tasks: set[asyncio.Future] = set()") == 1


TASK_SOURCE = """\
import asyncio


class Stream:
    async def push(self):
        asyncio.create_task(self._flush())

    async def _flush(self):
        pass
"""

TASK_FIXED = """\
import asyncio

# Tasks this module started, kept until they finish (the event loop holds them weakly).
_background_tasks: set[asyncio.Task] = set()


class Stream:
    async def push(self):
        # Keep the flush task until it finishes; the event loop holds it only weakly.
        flush_task = asyncio.create_task(self._flush())
        _background_tasks.add(flush_task)
        flush_task.add_done_callback(_background_tasks.discard)

    async def _flush(self):
        pass
"""


def test_message_names_the_fix(tmp_path: Path) -> None:
    root = project(tmp_path, TASK_SOURCE)
    proc = run_cli("check", ".", "--format", "json", cwd=root)
    (finding,) = json.loads(proc.stdout)
    assert finding["fixable"]
    assert finding["message"].endswith(
        "keep it until it finishes (e.g. _background_tasks.add(flush_task); "
        "flush_task.add_done_callback(_background_tasks.discard))"
    )
    assert "no automatic fix" not in finding["message"]
    assert finding["fix"]["title"] == (
        "Keep the task in flush_task, held by _background_tasks until it finishes"
    )


def test_sarif_carries_the_fix_title(tmp_path: Path) -> None:
    root = project(tmp_path, TASK_SOURCE)
    proc = run_cli("check", ".", "--format", "sarif", cwd=root)
    (result,) = json.loads(proc.stdout)["runs"][0]["results"]
    (fix,) = result["fixes"]
    assert fix["description"]["text"].startswith("Keep the task in flush_task")
    inserted = "".join(
        r["insertedContent"]["text"] for r in fix["artifactChanges"][0]["replacements"]
    )
    assert "_background_tasks: set[asyncio.Task] = set()" in inserted
    rules = json.loads(proc.stdout)["runs"][0]["tool"]["driver"]["rules"]
    fixable = [rule for rule in rules if rule["properties"]["fixSafety"] != "none"]
    assert fixable and all("module-level set" in rule["properties"]["fix"] for rule in fixable)


def test_fix_diff_shows_it_and_writes_nothing(tmp_path: Path) -> None:
    root = project(tmp_path, TASK_SOURCE)
    proc = run_cli("fix", "--diff", ".", cwd=root)
    assert proc.returncode == 1
    assert "+_background_tasks: set[asyncio.Task] = set()" in proc.stdout
    assert "+        flush_task.add_done_callback(_background_tasks.discard)" in proc.stdout
    assert (root / "app.py").read_text() == TASK_SOURCE


def test_codemod_applies_the_task_fix(tmp_path: Path) -> None:
    root = project(tmp_path, TASK_SOURCE)
    proc = subprocess.run(
        [sys.executable, "-m", "libcst.tool", "codemod", "-x", "keepref_lint.codemod.KeepReferences",
         "--no-format", "app.py"],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (root / "app.py").read_text() == TASK_FIXED


def test_plain_fix_writes_the_recipe(tmp_path: Path) -> None:
    root = project(tmp_path, TASK_SOURCE)
    run_cli("fix", ".", cwd=root, check=True)
    assert (root / "app.py").read_text() == TASK_FIXED


def test_task_right_below_the_imports(tmp_path: Path) -> None:
    """The set's definition and the task's comment are inserted at the same offset: set first."""
    root = project(tmp_path, "import asyncio\nasyncio.ensure_future(asyncio.sleep(0))\n")
    run_cli("fix", ".", cwd=root, check=True)
    assert (root / "app.py").read_text() == (
        "import asyncio\n\n"
        "# Tasks this module started, kept until they finish (the event loop holds them weakly).\n"
        "_background_tasks: set[asyncio.Future] = set()\n"
        "# Keep the sleep task until it finishes; the event loop holds it only weakly.\n"
        "sleep_task = asyncio.ensure_future(asyncio.sleep(0))\n"
        "_background_tasks.add(sleep_task)\n"
        "sleep_task.add_done_callback(_background_tasks.discard)\n"
    )


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (
            "import asyncio\n\n\nclass C:\n    asyncio.ensure_future(asyncio.sleep(0))\n",
            "no automatic fix: in a class body; start the task in a method or function",
        ),
        (
            # (the other function makes the file parsed whole: the prefilter looks for calls at the
            # start of a line only, and misses this one when nothing else is a candidate)
            "import asyncio\n\n\nasync def f():\n    x = 1; asyncio.create_task(asyncio.sleep(0))\n"
            "\n\nasync def g():\n    asyncio.create_task(asyncio.sleep(0))\n",
            "no automatic fix: the statement shares its line with other code; put it on a line of its own",
        ),
        (
            "import asyncio\n\nset = frozenset\n\n\nasync def f():\n"
            "    asyncio.create_task(asyncio.sleep(0))\n",
            "no automatic fix: the module rebinds set; keep the task in a collection of your own",
        ),
    ],
)
def test_declined_task_fix_says_what_to_write(tmp_path: Path, source: str, reason: str) -> None:
    root = project(tmp_path, source)
    proc = run_cli("check", ".", "--format", "json", cwd=root)
    (finding,) = [f for f in json.loads(proc.stdout) if not f["fixable"]]
    assert finding["message"].endswith(f"({reason})")
    assert "task.add_done_callback(background_tasks.discard)" in finding["message"]


def test_object_in_a_loop_says_what_to_write(tmp_path: Path) -> None:
    source = (
        "import tempfile\n\n\nclass C:\n    def f(self, items):\n        for _ in items:\n"
        "            d = tempfile.TemporaryDirectory()\n"
    )
    root = project(tmp_path, source)
    (finding,) = json.loads(run_cli("check", ".", "--format", "json", cwd=root).stdout)
    assert "append each result to a list on self" in finding["message"]


def test_proof_accepts_only_the_task_shape() -> None:
    old = TASK_SOURCE
    tree = ast.parse(old)
    source = SourceText(old.encode(), "app.py")
    holder = ("_background_tasks", "asyncio.Task", 1)
    finding = Finding(
        "app.py", 6, 9, "KR001", "m", "asyncio.create_task",
        fix=Fix("t", (), "flush_task", "safe", holder),
    )  # fmt: skip
    verify("app.py", tree, TASK_FIXED.encode(), [finding])  # the real shape passes
    for wrong in (
        TASK_FIXED.replace("_background_tasks.discard)", "print)"),
        TASK_FIXED.replace("set[asyncio.Task] = set()", "list = []"),
        TASK_FIXED.replace("        _background_tasks.add(flush_task)\n", ""),
        TASK_FIXED.replace("_background_tasks.add(flush_task)", "_background_tasks.add(other)"),
        TASK_FIXED + "extra = 1\n",
    ):
        with pytest.raises(InputError):
            verify("app.py", ast.parse(old), wrong.encode(), [finding])
    bad_annotation = finding.fix._replace(holder=("_background_tasks", "list[int]", 1))
    odd = Finding("app.py", 6, 9, "KR001", "m", "q", fix=bad_annotation)
    with pytest.raises(InputError):
        verify("app.py", ast.parse(old), TASK_FIXED.encode(), [odd])
    assert source.text == old


def test_realign_leaves_lines_inside_a_string_alone() -> None:
    text = 'def f():\n    g("""a\n    b""", x,\n      y)\n'
    source = SourceText(text.encode(), "t.py")
    stmt = ast.parse(text).body[0].body[0]  # type: ignore[attr-defined]
    start = source.offset(stmt.lineno, stmt.col_offset)
    # Line 3 starts inside the string and stays; line 4 is aligned to ``g(`` and moves.
    line4 = source.line_starts[3] + 6
    assert realign(source, stmt, start, 4) == [Edit(line4, line4, "    ")]
    aligned = "def f():\n    g(a,\n      b)\n"
    source = SourceText(aligned.encode(), "t.py")
    stmt = ast.parse(aligned).body[0].body[0]  # type: ignore[attr-defined]
    start = source.offset(stmt.lineno, stmt.col_offset)
    line3 = source.line_starts[2] + 6
    assert realign(source, stmt, start, 4) == [Edit(line3, line3, "    ")]
    hanging = "def f():\n    g(\n        a,\n    )\n"
    source = SourceText(hanging.encode(), "t.py")
    stmt = ast.parse(hanging).body[0].body[0]  # type: ignore[attr-defined]
    assert realign(source, stmt, source.offset(stmt.lineno, stmt.col_offset), 4) == []


def test_names_are_planned_in_linear_time() -> None:
    class Counting(set):
        probes = 0

        def __contains__(self, name: object) -> bool:
            Counting.probes += 1
            return super().__contains__(name)

    owner = Scope("module", "m", None)
    planner = NamePlanner(Counting({"server"}))
    names = [planner.claim_local(owner, "server") for _ in range(3000)]
    assert names[:3] == ["server_2", "server_3", "server_4"] and len(set(names)) == 3000
    # Probing server_2, server_3, ... from the start for each name would take ~4.5 million probes.
    assert Counting.probes < 4 * 3000


def test_file_names_text_test_never_misses_a_name_of_the_tree() -> None:
    """The planner's name test reads the text first (a whole word not right after a dot, in an ASCII
    text) and walks the tree only for a name the text may hold. Over this project's own modules and
    fixtures, every name ``used_names`` finds passes the text test; where the holder names stand as
    attributes only, the text test rules them out without a walk."""
    from keepref_lint.fix import HOLDER_NAMES, FileNames, used_names

    root = Path(__file__).resolve().parent.parent
    compared = 0
    for path in [*root.glob("src/keepref_lint/*.py"), *root.glob("tests/fixtures/**/*.py")]:
        data = path.read_bytes()
        try:
            tree = ast.parse(data)
        except SyntaxError:
            continue
        names = FileNames(tree, data)
        missed = [name for name in used_names(tree) if not names._in_text(name)]
        assert not missed, (path, missed)
        compared += 1
    assert compared > 100
    attributes = (
        "class Pool:\n    def __init__(self):\n"
        + "".join(f"        self.{name} = set()\n" for name in HOLDER_NAMES)
        + "        self.x = self._running_tasks.pop\n"
    )
    names = FileNames(ast.parse(attributes), attributes.encode())
    assert not any(name in names for name in HOLDER_NAMES)
    assert names._names is None, "attributes alone must not cost a walk of the tree"
    held = attributes + "_pending_tasks = set()\n"
    assert "_pending_tasks" in FileNames(ast.parse(held), held.encode())
