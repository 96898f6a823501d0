"""Issue 13's receiver misses on real trees: is each found now?

    python bench/receivers.py

Runs ``keepref-lint check --no-cache --format json`` (default catalog, no configuration) on each tree
named below (unpacked by ``bench/corpus.py fetch``) and prints, for each expected finding, whether it is
reported at that line. Exits 1 when one is missing.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import NEEDS_PYTHON, TREES, tree_root

SRC = Path(__file__).resolve().parent.parent / "src"


def interpreter(label: str) -> str:
    """This interpreter, or for a tree whose files need a newer Python (homeassistant's ``type X = ...``
    under 3.11 is a syntax error) the first installed one of that minor version."""
    needed = NEEDS_PYTHON.get(label)
    if needed is None:
        return sys.executable
    minor = ".".join(needed.split(".")[:2])
    # An installed interpreter itself before a shim on PATH (a pyenv shim may refuse the version).
    installed = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{minor}*/bin/python")))
    return next(iter(installed), None) or shutil.which(f"python{minor}") or sys.executable


# (tree label, path under the tree's python/ folder, line, what makes it a receiver)
EXPECTED = [
    ("homeassistant", "homeassistant/components/unifi/hub/websocket.py", 121,
     "self.hass.loop: HomeAssistant.loop assigned from get_running_loop() in homeassistant.core"),
    ("homeassistant", "homeassistant/components/homee/config_flow.py", 60,
     "self.hass: annotated in FlowHandler, a parametrised base (FlowHandler[ConfigFlowContext, ...])"),
    ("homeassistant", "homeassistant/components/homee/config_flow.py", 201, "as line 60"),
    ("homeassistant", "homeassistant/components/homee/config_flow.py", 254, "as line 60"),
    ("ray", "ray/serve/_private/replica.py", 475,
     "self._event_loop = event_loop or asyncio.get_event_loop() (event_loop: asyncio.BaseEventLoop)"),
    ("ray", "ray/serve/_private/request_router/request_router.py", 953,
     "a @property annotated -> asyncio.AbstractEventLoop"),
    ("litellm", "litellm/_service_logger.py", 149, "a project function's return annotation"),
    ("discord.py", "discord/app_commands/tree.py", 1142, "see the line"),
    ("sanic", "sanic/server/protocols/websocket_protocol.py", 98, "see the line"),
]  # fmt: skip


def main() -> int:
    versions = {label: version for label, _dist, version, _pkg in TREES}
    reports: dict[str, set[tuple[str, int]]] = {}
    missing = 0
    for label, path, line, why in EXPECTED:
        if label not in reports:
            root = tree_root(label, versions[label]) / "python"
            env = {**os.environ, "PYTHONPATH": str(SRC)}
            proc = subprocess.run(
                [
                    interpreter(label),
                    "-m",
                    "keepref_lint",
                    "check",
                    "--no-cache",
                    "--format",
                    "json",
                    ".",
                ],
                cwd=root,
                capture_output=True,
                text=True,
                env=env,
            )
            reports[label] = {(f["path"], f["line"]) for f in json.loads(proc.stdout or "[]")}
        found = (path, line) in reports[label]
        missing += not found
        print(f"{'found  ' if found else 'MISSING'} {label}: {path}:{line} ({why})")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
