"""End-to-end: the seed regression put back into a real sglang release, found and fixed.

    python bench/seed_e2e.py [--version 0.5.14] [--work DIR]

Downloads the pinned sglang wheel into the bench cache, unpacks it under ``<work>/python/``, turns
``self.bootstrap_server = start_disagg_service(...)`` back into the bare call of the regression (dropping
the keep-alive comment above it), and then, once with ``--must-retain`` and once with the function marked by
``@must_retain(attr="bootstrap_server")`` in its own module: ``check`` must report exactly one finding on
the whole tree, and ``fix`` must restore the released file byte for byte. Exits non-zero otherwise.
The built-in catalog is switched off (``--no-catalog``) so that the count is the seed's alone; with it on,
the release's dropped ``asyncio`` tasks are reported too (printed as a second figure).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import keepref, unpacked

MANAGER = "python/sglang/srt/managers/tokenizer_manager.py"
SERVICE = "python/sglang/srt/managers/disagg_service.py"
QUALNAME = "sglang.srt.managers.disagg_service.start_disagg_service"
COMMENT = "        # Keep a reference so the bootstrap server is not garbage-collected.\n"
FIXED = "        self.bootstrap_server = start_disagg_service(self.server_args)\n"
BARE = "        start_disagg_service(self.server_args)\n"


def put_back_regression(tree: Path) -> bytes:
    path = tree / MANAGER
    released = path.read_bytes()
    text = released.decode()
    if COMMENT + FIXED not in text:
        raise SystemExit(f"bench: {MANAGER} does not hold the seed fix in this release")
    path.write_text(text.replace(COMMENT + FIXED, BARE, 1))
    return released


def mark_in_source(tree: Path) -> None:
    path = tree / SERVICE
    text = path.read_text()
    text = text.replace(
        "\ndef start_disagg_service(",
        '\n@must_retain(attr="bootstrap_server")\ndef start_disagg_service(',
        1,
    )
    text = text.replace("import os\n", "import os\n\nfrom keepref_lint import must_retain\n", 1)
    path.write_text(text)


def scenario(label: str, tree: Path, released: bytes, extra: list[str]) -> bool:
    with_catalog = json.loads(
        keepref("check", ".", "--format", "json", "--no-cache", *extra, cwd=tree).stdout
    )
    extra = [*extra, "--no-catalog"]
    started = time.perf_counter()
    check = keepref("check", ".", "--format", "json", "--no-cache", *extra, cwd=tree)
    seconds = time.perf_counter() - started
    findings = json.loads(check.stdout or "[]")
    print(
        f"[{label}] check: exit {check.returncode}, {len(findings)} finding(s), {seconds:.2f} s for the whole tree"
    )
    for finding in findings:
        print(
            f"    {finding['path']}:{finding['line']}:{finding['column']}: {finding['code']} {finding['message']}"
        )
    if check.stderr.strip():
        print("    stderr: " + check.stderr.strip().replace("\n", "\n    stderr: "))
    seed = [f for f in with_catalog if f["callee"].endswith("start_disagg_service")]
    print(
        f"[{label}] with the catalog on: {len(with_catalog)} finding(s), {len(seed)} of them the seed"
    )
    ok = len(findings) == 1 and findings[0]["path"].endswith("tokenizer_manager.py")
    fix = keepref("fix", ".", *extra, cwd=tree)
    restored = (tree / MANAGER).read_bytes() == released
    print(f"[{label}] fix: exit {fix.returncode}, released file restored byte for byte: {restored}")
    return ok and restored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="0.5.14")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="keepref-seed-"))
    results = []
    tree = unpacked("sglang", args.version, work / "flag")
    released = put_back_regression(tree)
    results.append(
        scenario("--must-retain", tree, released, ["--must-retain", f"{QUALNAME}:bootstrap_server"])
    )
    tree = unpacked("sglang", args.version, work / "marker")
    released = put_back_regression(tree)
    mark_in_source(tree)
    results.append(scenario("@must_retain", tree, released, []))
    print("PASS" if all(results) else "FAIL")
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
