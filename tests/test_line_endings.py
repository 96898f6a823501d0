"""A project written with old Mac line endings (a lone CR ends each line; Python reads it as a line
break) gives the findings the same project gives with LF endings: the text tests that decide which files
are read (the prefilter, the alias closure's skeletons, wrapper and receiver tests) read lines by LF, so
such a file is analysed whole instead of being passed over."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

PROJECT = {
    "pyproject.toml": "[project]\nname = 'demo'\nversion = '0'\n",
    "app/__init__.py": "from app.svc import start_service as start\n",
    "app/svc.py": (
        "import asyncio\n"
        "\n"
        "from keepref_lint import must_retain\n"
        "\n"
        "\n"
        "@must_retain\n"
        "def start_service():\n"
        "    return object()\n"
        "\n"
        "\n"
        "def spawn(coro):\n"
        "    return asyncio.create_task(coro)\n"
    ),
    "app/main.py": (
        "import asyncio\n"
        "\n"
        "import app\n"
        "from app.svc import spawn\n"
        "\n"
        "\n"
        "class Runner:\n"
        "    def run(self):\n"
        "        app.start()\n"
        "\n"
        "    async def go(self, work):\n"
        "        spawn(work())\n"
        "        asyncio.create_task(work())\n"
    ),
    "app/tasks.py": (
        "import asyncio\n\n\nasync def background(work):\n    asyncio.ensure_future(work())\n"
    ),
}


def _findings(root: Path) -> set[tuple[str, int, str]]:
    proc = subprocess.run(
        [sys.executable, "-m", "keepref_lint", "check", "--no-cache", "--format", "json", "."],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    return {(f["path"], f["line"], f["code"]) for f in json.loads(proc.stdout)}


def _write(root: Path, ending: bytes) -> None:
    for name, text in PROJECT.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        path.write_bytes(data if name.endswith(".toml") else data.replace(b"\n", ending))


@pytest.mark.parametrize("ending", [b"\r", b"\r\n"], ids=["CR", "CRLF"])
def test_the_same_findings_whatever_the_line_endings(ending: bytes, tmp_path: Path) -> None:
    (tmp_path / "lf").mkdir()
    (tmp_path / "other").mkdir()
    _write(tmp_path / "lf", b"\n")
    _write(tmp_path / "other", ending)
    expected = _findings(tmp_path / "lf")
    # A marked function re-exported under another name, an inferred wrapper, catalog tasks (one in a
    # file that only the catalog's text test brings in).
    assert {code for _, _, code in expected} == {"KR001", "KR003"} and len(expected) == 4
    assert _findings(tmp_path / "other") == expected


# Lines as the tokenizer reads them, cut quickly where the text allows: the fast paths must agree with
# the plain regular expressions on any mix of line breaks and the characters str.splitlines also breaks at.
_PIECES = [
    "a",
    "é",
    " ",
    "#",
    "\n",
    "\r",
    "\r\n",
    "\x0c",
    "\x0b",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=16).map("".join))
def test_line_starts_and_physical_lines_agree_with_the_tokenizer_breaks(text: str) -> None:
    import re

    from keepref_lint.sourcetext import line_starts
    from keepref_lint.suppress import physical_lines

    breaks = re.compile(r"\r\n|\r|\n")
    assert line_starts(text) == [0] + [m.end() for m in breaks.finditer(text)]
    assert physical_lines(text) == re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z", text)


# An ASCII text is searched in its lower case; the Kelvin sign (another text) only by the pattern,
# which ignores case as flake8's does.
@pytest.mark.parametrize(
    "line",
    [
        "# flake8: noqa",
        "  # FLAKE8= NOQA",
        "\t# flake8:noqa\r\n",
        "# FlAkE8: nOqA",
        "# fla\u212ae8: noqa",
    ],
)
def test_a_silenced_file_is_seen_with_its_text_at_hand(line: str) -> None:
    from keepref_lint.suppress import file_is_silenced, physical_lines

    text = f"import os\n{line}\nx = 1\n"
    assert file_is_silenced(physical_lines(text), text)
    assert not file_is_silenced(physical_lines("import os  # noqa\n"), "import os  # noqa\n")
