"""Editors' buffers on standard input: flake8 ``--stdin-display-name PATH -`` and ``keepref-lint check
--stdin-filename PATH -``, in both orders with runs over the file on disk (the caches must keep them
apart), and the index reading the buffer for its module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import APP, SERVICE, package_project, run_cli

CLEAN = "x = 1\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return package_project(tmp_path)


def flake8(root: Path, *args: str, stdin: str | None = None) -> list[tuple[str, int, str]]:
    proc = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "KR", *args],
        cwd=root,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    found = []
    for line in proc.stdout.splitlines():
        path, number, _column, rest = line.split(":", 3)
        found.append((path, int(number), rest.split()[0]))
    return found


def flake8_buffer(root: Path, name: str, text: str) -> list[tuple[str, int, str]]:
    return flake8(root, "--stdin-display-name", name, "-", stdin=text)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


DROP = ("pkg/app.py", line_of(APP, "start()"), "KR001")


def test_flake8_clean_buffer_then_the_file_on_disk(project: Path) -> None:
    assert flake8_buffer(project, "pkg/app.py", CLEAN) == []
    assert flake8(project, "pkg/app.py") == [DROP]  # the drop on disk is not hidden by the buffer


def test_flake8_buffer_with_a_drop_then_other_buffers(project: Path) -> None:
    assert flake8_buffer(project, "pkg/app.py", APP) == [DROP]
    assert flake8_buffer(project, "pkg/app.py", CLEAN) == []  # not the previous buffer's finding
    assert flake8(project, "pkg/app.py") == [DROP]
    edited = APP.replace("        start()", "        x = 1\n        start()")
    assert flake8_buffer(project, "pkg/app.py", edited) == [("pkg/app.py", DROP[1] + 1, "KR001")]
    assert flake8_buffer(project, "pkg/app.py", APP) == [DROP]


def test_flake8_the_file_on_disk_then_a_clean_buffer(project: Path) -> None:
    assert flake8(project, "pkg/app.py") == [DROP]
    assert flake8(project, "pkg/app.py") == [DROP]  # from the per-file cache
    assert flake8_buffer(project, "pkg/app.py", CLEAN) == []
    (project / "pkg" / "app.py").write_text(CLEAN)  # saved: the same text on disk
    assert flake8(project, "pkg/app.py") == []


def test_flake8_buffer_indexed_for_its_module(project: Path) -> None:
    """A buffer that marks a function of its own and drops it: the index reads the buffer."""
    buffer = (
        "from keepref_lint import must_retain\n\n\n@must_retain\ndef helper():\n"
        "    return object()\n\n\nclass App:\n    def run(self):\n        helper()\n"
    )
    assert flake8_buffer(project, "pkg/app.py", buffer) == [
        ("pkg/app.py", line_of(buffer, "        helper()"), "KR001")
    ]
    assert flake8(project, "pkg/app.py") == [DROP]
    # A file not saved yet.
    assert flake8_buffer(project, "pkg/new.py", APP) == [("pkg/new.py", DROP[1], "KR001")]


def test_flake8_buffer_unmarking_the_callee(project: Path) -> None:
    """A buffer of service.py that calls its own function: whether it is must-retain is decided by the
    buffer (the mark added or removed there), not by the file on disk."""
    caller = "\n\nclass S:\n    def go(self):\n        start()\n"
    marked = SERVICE + caller
    unmarked = SERVICE.replace("@must_retain\n", "") + caller
    assert flake8_buffer(project, "pkg/service.py", unmarked) == []
    assert flake8_buffer(project, "pkg/service.py", marked) == [
        ("pkg/service.py", line_of(marked, "        start()"), "KR001")
    ]
    assert flake8_buffer(project, "pkg/service.py", unmarked) == []
    assert flake8(project, "pkg/app.py") == [DROP]


def check_stdin(root: Path, name: str, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keepref_lint", *args, "--stdin-filename", name, "-"],
        cwd=root,
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_stdin_reports_as_the_name_given(project: Path) -> None:
    proc = check_stdin(project, "pkg/app.py", APP, "check", "-q")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith(f"pkg/app.py:{DROP[1]}:9: KR001 ")
    assert check_stdin(project, "pkg/app.py", CLEAN, "check").returncode == 0
    # The disk run is unaffected by the buffers in either order (its results cache included).
    assert run_cli("check", "-q", "pkg/app.py", cwd=project).returncode == 1
    assert check_stdin(project, "pkg/app.py", CLEAN, "check").returncode == 0
    assert run_cli("check", "-q", "pkg/app.py", cwd=project).returncode == 1
    plain = subprocess.run(
        [sys.executable, "-m", "keepref_lint", "check", "-q", "-"],
        cwd=project,
        input=APP,
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 1 and plain.stdout.startswith(f"-:{DROP[1]}:9: KR001 ")


def test_check_stdin_uses_the_buffer_in_the_index(project: Path) -> None:
    """The buffer of service.py is the module the index reads: a new mark in it is found in the buffer's
    own callers, and a removed one no longer is."""
    caller = "\n\nclass S:\n    def go(self):\n        start()\n"
    proc = check_stdin(project, "pkg/service.py", SERVICE + caller, "check", "-q")
    assert proc.returncode == 1 and "KR001" in proc.stdout
    unmarked = SERVICE.replace("@must_retain\n", "") + caller
    assert check_stdin(project, "pkg/service.py", unmarked, "check").returncode == 0


def test_check_stdin_alone(project: Path) -> None:
    proc = run_cli("check", "pkg", "-", cwd=project)
    assert proc.returncode == 2 and "standard input (-) is checked alone" in proc.stderr
    proc = check_stdin(project, "pkg/app.py", APP, "check", "--add-noqa")
    assert proc.returncode == 2 and "--add-noqa" in proc.stderr
    assert (project / "pkg" / "app.py").read_text() == APP


def test_fix_stdin_prints_the_fixed_text_and_writes_nothing(project: Path) -> None:
    expected = run_cli("fix", "--diff", "pkg/app.py", cwd=project).stdout
    proc = check_stdin(project, "pkg/app.py", APP, "fix")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == APP.replace(
        "        start()",
        "        # Keep a reference so the start is not garbage-collected.\n"
        "        self.start = start()",
    )
    assert (project / "pkg" / "app.py").read_text() == APP
    assert check_stdin(project, "pkg/app.py", APP, "fix", "--diff").stdout == expected
    # Nothing to fix: the text comes back as it was, byte for byte.
    crlf = "x = 1\r\n# é\r\n"
    out = subprocess.run(
        [sys.executable, "-m", "keepref_lint", "fix", "--stdin-filename", "pkg/app.py", "-"],
        cwd=project,
        input=crlf.encode(),
        capture_output=True,
        check=False,
    )
    assert out.returncode == 0 and out.stdout == crlf.encode()
    # A second fix of the fixed text changes nothing.
    again = check_stdin(project, "pkg/app.py", proc.stdout, "fix")
    assert again.returncode == 0 and again.stdout == proc.stdout
