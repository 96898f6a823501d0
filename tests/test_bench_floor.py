"""bench/floor.py's parts: which texts it parses for the floor (the timing itself is a benchmark)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import floor  # noqa: E402

SERVICE = """\
import asyncio

HELPERS = []


class Service:
    def start(self):
        asyncio.create_task(self.run())

    async def run(self):
        pass


def unrelated():
    return 1
"""


def parts(root: Path, listed: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", floor._PARTS, str(root), json.dumps(listed), "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_the_blocks_are_the_top_level_statements_holding_a_finding(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "service.py").write_text(SERVICE)
    (tmp_path / "pkg" / "other.py").write_text("x = 1\n")
    line = SERVICE.splitlines().index("        asyncio.create_task(self.run())") + 1
    found = parts(tmp_path, {"files": ["pkg/service.py"], "lines": {"pkg/service.py": [line]}})
    assert found["files"] == 2  # every file of the tree is read
    assert found["bytes"] == len(SERVICE.encode())
    cls = SERVICE[SERVICE.index("class Service") : SERVICE.index("\n\n\ndef unrelated")]
    assert found["block_bytes"] == len(cls.encode())  # the class whole, nothing else


def test_a_tree_without_findings_parses_nothing(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\n")
    found = parts(tmp_path, {"files": [], "lines": {}})
    assert (found["files"], found["bytes"], found["block_bytes"]) == (1, 0, 0)
