"""The commands docs/integrations.md shows for libcst's codemod runner, run as written (on a project whose
code is under src/, as the page assumes)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MARKED = textwrap.dedent(
    """\
    from keepref_lint import must_retain


    @must_retain
    def start_server():
        return object()
    """
)
APP = textwrap.dedent(
    """\
    from server import start_server


    class App:
        def run(self):
            start_server()
    """
)


def _documented_codemod_commands() -> list[str]:
    page = (ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")
    section = page.split("## The libcst codemod", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL).group(1)
    return [line[2:] for line in block.splitlines() if line.startswith("$ ")]


def _project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '0'\n")
    (tmp_path / "src" / "server.py").write_text(MARKED)
    (tmp_path / "src" / "app.py").write_text(APP)
    return tmp_path


def test_every_documented_codemod_command_runs(tmp_path: Path) -> None:
    commands = _documented_codemod_commands()
    assert len(commands) == 3 and any("--unified-diff" in c for c in commands)
    for number, command in enumerate(commands):
        root = _project(tmp_path / str(number))
        argv = shlex.split(command)
        assert argv[:3] == ["python", "-m", "libcst.tool"]
        proc = subprocess.run(
            [sys.executable, *argv[1:]], cwd=root, capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, (command, proc.stderr)
        app = (root / "src" / "app.py").read_text()
        if "--unified-diff" in argv:
            assert app == APP  # a diff, and nothing written
            assert "+        self.server = start_server()" in proc.stdout
        else:
            assert "        self.server = start_server()" in app, command
