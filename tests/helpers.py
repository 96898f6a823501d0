"""Test helpers: fixture scenarios with inline expectations, copied into real project folders."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"

# The smallest project with one finding: a marked function, a method that drops its result, the fix.
MARKED = "from keepref_lint import must_retain\n\n\n@must_retain\ndef start_server():\n    return object()\n"
USER = (
    b"from server import start_server\n\n\nclass App:\n    def run(self):\n        start_server()\n"
)
FIXED = (
    b"from server import start_server\n\n\nclass App:\n    def run(self):\n"
    b"        # Keep a reference so the server is not garbage-collected.\n"
    b"        self.server = start_server()\n"
)


# A package with a marked function and a module that drops its result (an editor's view of a project).
SERVICE = """\
from keepref_lint import must_retain


@must_retain
def start():
    return object()
"""
APP = """\
from pkg.service import start


class App:
    def run(self):
        start()
"""


def package_project(tmp_path: Path) -> Path:
    """``tmp_path/proj``: ``pkg/service.py`` (SERVICE) and ``pkg/app.py`` (APP)."""
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'proj'\nversion = '0'\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "service.py").write_text(SERVICE)
    (root / "pkg" / "app.py").write_text(APP)
    return root


def server_project(root: Path, **files: bytes) -> Path:
    """``root`` as a project of ``server.py`` (MARKED), ``good.py`` (USER) and ``files`` (name, which may
    hold folders, -> bytes)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '0'\n")
    (root / "server.py").write_text(MARKED)
    (root / "good.py").write_bytes(USER)
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


EXPECT = re.compile(r"#\s*error:\s*(?P<codes>KR\d{3}(?:\s*,\s*KR\d{3})*)")
ARGS = re.compile(r"^#\s*keepref-lint-args:\s*(?P<args>.*)$", re.MULTILINE)


@dataclass
class Scenario:
    """A fixture: one file, or a folder under fixtures/projects/ (a project of its own)."""

    name: str
    source: Path

    @property
    def is_project(self) -> bool:
        return self.source.is_dir()

    def install(self, dest: Path) -> Path:
        """Copy into ``dest`` as a project of its own (with a pyproject.toml); return the project root."""
        root = dest / self.name
        if self.is_project:
            shutil.copytree(self.source, root)
        else:
            root.mkdir(parents=True)
            shutil.copy(self.source, root / self.source.name)
            fixed = self.source.with_name(self.source.name + ".fixed")
            if fixed.exists():
                shutil.copy(fixed, root / fixed.name)
        if not (root / "pyproject.toml").exists():
            (root / "pyproject.toml").write_text("[project]\nname = 'fixture'\nversion = '0'\n")
        return root

    def cli_args(self) -> list[str]:
        if self.is_project:
            return []
        match = ARGS.search(self.source.read_text(encoding="utf-8"))
        return match.group("args").split() if match else []


def scenarios() -> list[Scenario]:
    found = [Scenario(p.stem, p) for p in sorted(FIXTURES.glob("*.py"))]
    found += [Scenario(p.name, p) for p in sorted((FIXTURES / "projects").iterdir()) if p.is_dir()]
    return found


def python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py"))


def expectations(root: Path) -> set[tuple[str, int, str]]:
    """(relative path, line, code) for every ``# error: CODE`` comment under ``root``."""
    found = set()
    for path in python_files(root):
        rel = path.relative_to(root).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = EXPECT.search(line)
            if match:
                for code in re.split(r"\s*,\s*", match.group("codes")):
                    found.add((rel, number, code))
    return found


def to_noqa(root: Path) -> None:
    """Turn every expectation into a ``# noqa`` for the same codes."""
    for path in python_files(root):
        text = path.read_text(encoding="utf-8")
        path.write_text(EXPECT.sub(lambda m: f"# noqa: {m.group('codes')}", text), encoding="utf-8")


def run_cli(*args: str, cwd: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "keepref_lint", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode not in (0, 1):
        raise AssertionError(f"keepref-lint {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def read_terminal(leader: int) -> str:
    """All a finished child wrote to a pty (whose follower the caller has closed), then the pty closed:
    a pty hands its buffer over in pieces, so one read may return only the first of them."""
    pieces = []
    while True:
        try:
            piece = os.read(leader, 65536)
        except OSError:  # EIO: no writer is left and the buffer is empty (Linux)
            break
        if not piece:
            break
        pieces.append(piece)
    os.close(leader)
    return b"".join(pieces).decode()
