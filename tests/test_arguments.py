"""The command line is read without argparse when it is plain: both readings must agree.

``quick_parse`` may decline any command line (argparse then reads it); what it must never do is read one
differently from argparse, or accept one that argparse rejects.
"""

from __future__ import annotations

import ast
import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepref_lint.arguments import build_parser, quick_parse


def argparse_reading(argv: list[str]) -> dict | None:
    """argparse's namespace as a dict, or None where it prints an error, help or the version."""
    sink = io.StringIO()
    try:
        with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
            return vars(build_parser().parse_args(argv))
    except SystemExit:
        return None


PLAIN = [
    ["check"],
    ["check", "-q", "."],
    ["check", "src", "tests"],
    ["check", "--format", "json", "--select", "KR001,KR002", "-j", "2", "a", "b"],
    ["check", "--format=sarif", "--ignore=KR003", "--no-cache", "--no-catalog", "x.py"],
    ["check", "--must-retain", "pkg.mod.start:server", "--must-retain=a.b", "--decorator", "keep"],
    ["check", "--exclude", "build/*", "--exclude=gen", "--cache-dir", "/tmp/c", "--debug", "p"],
    ["check", "--config", "pyproject.toml", "--jobs", "3", "--quiet"],
    ["check", "a", "b", "--quiet", "--format", "github"],
    ["check", "--exclude=", "--select", "", "."],  # empty values are values
    ["fix", "--diff", "-q", "."],
    ["fix", "examples/seed"],
    ["suggest", "--apply", "src"],
]


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_plain_command_lines_are_read_without_argparse_and_as_argparse_reads_them(
    argv: list[str],
) -> None:
    quick = quick_parse(argv)
    assert quick is not None, "a plain command line must not need argparse"
    assert vars(quick) == argparse_reading(argv)


DEFERRED = [
    [],
    ["--version"],
    ["check", "-h"],
    ["check", "--help"],
    ["explain", "KR001"],
    ["check", "a", "-q", "b"],  # two runs of paths: argparse rejects the second
    ["check", "--form", "json"],  # an abbreviation
    ["check", "-qj2"],  # joined short options
    ["check", "-j2"],
    ["check", "--format", "xml"],
    ["check", "--jobs", "many"],
    ["check", "--quiet=yes"],
    ["check", "--format"],
    ["check", "--exclude", "-x"],
    ["check", "--", "-file.py"],
    ["check", "-"],
    ["fix", "--apply"],  # suggest's option
    ["lint", "."],
]


@pytest.mark.parametrize("argv", DEFERRED, ids=lambda argv: " ".join(argv) or "(none)")
def test_other_command_lines_are_left_to_argparse(argv: list[str]) -> None:
    assert quick_parse(argv) is None


WORDS = st.sampled_from(
    [
        "check", "fix", ".", "src", "a.py", "-", "--", "-h", "--help",
        "--version", "-q", "--quiet", "--debug", "--diff", "--apply", "--no-cache", "--no-catalog",
        "--format", "--format=json", "--format=", "json", "text", "xml", "--select", "--select=KR001",
        "KR001,KR002", "--ignore", "--ignore=KR", "-j", "-j2", "--jobs", "--jobs=0", "2", "-1",
        "--must-retain", "pkg.mod.f:attr", "--decorator", "keep", "--exclude", "--exclude=b/*",
        "--cache-dir", "--config", "--form", "--no", "-qj", "--quiet=1", "x=y", "",
    ]
)  # fmt: skip


COMMAND = st.sampled_from(["check", "check", "fix", "suggest", "explain", "--version", "-q", "x"])


@settings(max_examples=500, deadline=None)
@given(COMMAND, st.lists(WORDS, max_size=7))
def test_any_command_line_is_read_as_argparse_reads_it_or_left_to_it(
    command: str, rest: list[str]
) -> None:
    argv = [command, *rest]
    quick = quick_parse(argv)
    if quick is not None:
        assert vars(quick) == argparse_reading(argv)


def test_a_warm_check_imports_none_of_the_modules_it_can_do_without(tmp_path: Path) -> None:
    """What makes a run answered from the cache fast (docs/performance.md): checked by what a second run
    imports beyond a bare interpreter, not by timing it."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "app.py").write_text(
        "import asyncio\n\nasync def main():\n    asyncio.create_task(main())\n"
    )
    probe = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from keepref_lint.cli import main\n"
        "code = main(['check', '-q', sys.argv[1]])\n"
        "print(code, sorted(set(sys.modules) - before))\n"
    )

    def run() -> tuple[str, list[str]]:
        out = subprocess.run(
            [sys.executable, "-c", probe, str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
        ).stdout.splitlines()
        code, _, modules = out[-1].partition(" ")
        return code, ast.literal_eval(modules)

    cold_code, cold_modules = run()
    assert cold_code == "1"
    assert "keepref_lint.analysis" in cold_modules  # the first run does the work
    # A check rewrites no file: the fixer's writing side (apply.py) stays out of every cold start.
    assert "keepref_lint.apply" not in cold_modules
    # Nor ``dataclasses`` (with ``inspect``, ``dis``, ``linecache``), 13-15 ms of a cold start, nor
    # ``typing``, 3-5 ms (records.py).
    assert {"dataclasses", "inspect", "typing"}.isdisjoint(cold_modules)
    warm_code, warm_modules = run()
    assert warm_code == "1"
    assert "keepref_lint.analysis" not in warm_modules, "the second run must come from the cache"
    heavy = {"argparse", "pathlib", "re", "typing", "dataclasses", "pickle", "json", "ast"}
    assert heavy.isdisjoint(warm_modules)
    # Together a sixth of a warm run on a small tree: ``collections`` (for named tuples), the shared
    # libraries of ``zlib`` and ``fcntl``, ``types``, ``errno`` and the rule registry.
    lighter = {"collections", "zlib", "fcntl", "types", "errno", "keepref_lint.codes"}
    assert lighter.isdisjoint(warm_modules)
