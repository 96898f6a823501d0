"""Drop forms against the peers: which tool reports which spelling of a dropped result.

    python bench/forms.py [--work DIR]

Writes one small file per form (an ``async def`` holding the statement) and runs, on each file,
keepref-lint (default catalog), ``ruff check --select RUF006``, ``flake8 --select ASYNC300``
(flake8-async), ``mypy --enable-error-code unused-awaitable`` and nodiscard. nodiscard knows only
methods decorated with ``@nodiscard``, so its column is measured on the same form spelled with
``svc.start()`` (``Service.start`` decorated) in place of the asyncio call. Prints a Markdown table
(yes = the tool reports the form's line). Every tool must be installed in this interpreter.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

TASK = "asyncio.create_task(work())"
# (label, statement with {c} for the call, expected by keepref-lint)
FORMS = [
    ("bare call", "{c}"),
    ("dead local `t = ...`", "t = {c}"),
    ("list display `[...]`", "[{c}]"),
    ("comprehension statement", "[{c} for _ in range(2)]"),
    ("one-tuple `...,`", "{c},"),
    ("tuple `a(), b()`", "{c}, {c}"),
    ("`flag and ...`", "flag and {c}"),
    ("only the condition `1 if ... else 2`", "x = 1 if {c} else 2\n    print(x)"),
    ("walrus never read `(t := ...)`", "(t := {c})"),
    ("unpacked, never read `a, b = ..., ...`", "a, b = {c}, {c}"),
    ("only a method `(...).add_done_callback(cb)`", "{c}.add_done_callback(print)"),
    ("one-line `if 1: ...`", "if 1: {c}"),
    ("after `;`", "print(); {c}"),
    ("`get_running_loop().create_task(...)`", "asyncio.get_running_loop().create_task(work())"),
    ("`asyncio.Task(coro)`", "asyncio.Task(work())"),
    ("`asyncio.gather(...)` un-awaited", "asyncio.gather(work())"),
    ("`asyncio.shield(...)` un-awaited", "asyncio.shield(work())"),
    (
        "`TemporaryDirectory().name` kept",
        "path = tempfile.TemporaryDirectory().name\n    print(path)",
    ),
    ("(negative) `ensure_future(self.task)`", "asyncio.ensure_future(holder.task)"),
    ("(negative) awaited", "await {c}"),
]
HEADER = """import asyncio
import tempfile

from nodiscard import nodiscard


class Service:
    @nodiscard
    def start(self) -> asyncio.Task[None]:
        return asyncio.ensure_future(work())


async def work() -> None:
    pass


async def scenario(flag: bool, holder) -> None:
    svc = Service()
    {statement}
"""


def write(folder: Path, index: int, statement: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"form_{index:02d}.py"
    path.write_text(HEADER.format(statement=statement), encoding="utf-8")
    return path


def line_of(path: Path) -> set[int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines, 1) if line.startswith("    svc = Service()"))
    return {start + 1, start + 2}


def run(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    return proc.stdout


def reported(tool: str, path: Path) -> set[int]:
    cwd, name = path.parent, path.name
    py = sys.executable
    if tool == "keepref-lint":
        out = run([py, "-m", "keepref_lint", "check", "--no-cache", "--format", "json", name], cwd)
        return {f["line"] for f in json.loads(out or "[]")}
    if tool == "ruff RUF006":
        out = run([py, "-m", "ruff", "check", "--isolated", "--no-cache", "--select", "RUF006",
                   "--output-format", "json", name], cwd)  # fmt: skip
        return {f["location"]["row"] for f in json.loads(out or "[]")}
    if tool == "flake8-async ASYNC300":
        out = run([py, "-m", "flake8", "--isolated", "--select", "ASYNC300", name], cwd)
        return {int(m.group(1)) for m in re.finditer(r"^[^:]+:(\d+):", out, re.MULTILINE)}
    if tool == "mypy unused-awaitable":
        out = run([py, "-m", "mypy", "--no-incremental", "--ignore-missing-imports",
                   "--enable-error-code", "unused-awaitable", name], cwd)  # fmt: skip
        pattern = r"^[^:]+:(\d+): error: .*\[unused-(?:awaitable|coroutine)\]$"
        return {int(m.group(1)) for m in re.finditer(pattern, out, re.MULTILINE)}
    if tool == "nodiscard":
        out = run([py, "-m", "nodiscard.cli", "check", "--format", "json", name], cwd)
        try:
            data = json.loads(out)
        except ValueError:
            return set()
        items = data.get("violations", data) if isinstance(data, dict) else data
        return {int(v.get("line") or v.get("lineno")) for v in items}
    raise ValueError(tool)


TOOLS = [
    "keepref-lint",
    "ruff RUF006",
    "flake8-async ASYNC300",
    "mypy unused-awaitable",
    "nodiscard",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None)
    options = parser.parse_args()
    folder = options.work or Path(tempfile.mkdtemp(prefix="keepref-forms-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text("[project]\nname = 'forms'\nversion = '0'\n")
    print("| form | " + " | ".join(TOOLS) + " |")
    print("|---|" + "---|" * len(TOOLS))
    for i, (label, statement) in enumerate(FORMS):
        asyncio_file = write(folder / "asyncio", i, statement.format(c=TASK))
        svc_file = write(folder / "nodiscard", i, statement.format(c="svc.start()"))
        cells = []
        for tool in TOOLS:
            path = svc_file if tool == "nodiscard" else asyncio_file
            cells.append("yes" if reported(tool, path) & line_of(path) else "no")
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
