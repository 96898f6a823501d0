"""ruff RUF006 parity: every ruff finding must be a keepref-lint finding; list what keepref-lint adds.

    python bench/parity.py [--work DIR]

Downloads the pinned trees (sglang 0.5.23, dask distributed 2026.8.0) into the bench cache, runs
``ruff check --no-cache --select RUF006`` (ruff must be installed) and ``keepref-lint check`` with the
default catalog, and prints a table per tree: ruff's findings, how many keepref-lint also reports at the
same place, and every keepref-lint finding ruff does not have. Exits non-zero if any ruff finding is
missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import keepref, unpacked

TREES = [("sglang", "0.5.23", "sglang"), ("distributed", "2026.8.0", "distributed")]


def ruff_findings(tree: Path) -> set[tuple[str, int]]:
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select", "RUF006",
         "--output-format", "json", "python"],
        cwd=tree, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return {
        (str(Path(f["filename"]).relative_to(tree)), f["location"]["row"])
        for f in json.loads(proc.stdout)
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="keepref-parity-"))
    ok = True
    for name, version, package in TREES:
        tree = unpacked(name, version, work / name, package=package)
        ruff = ruff_findings(tree)
        proc = keepref("check", "python", "--format", "json", "--no-cache", cwd=tree)
        ours = {(f["path"], f["line"]): f for f in json.loads(proc.stdout)}
        matched = ruff & set(ours)
        extra = sorted(set(ours) - ruff)
        print(f"\n## {name} {version}")
        print("| ruff RUF006 | found by keepref-lint | keepref-lint only |")
        print("|---:|---:|---:|")
        print(
            f"| {len(ruff)} | {len(matched)} ({100 * len(matched) // max(len(ruff), 1)}%) | {len(extra)} |"
        )
        for path, line in sorted(ruff - matched):
            print(f"MISSED {path}:{line}")
        for key in extra:
            finding = ours[key]
            print(f"- `{key[0]}:{key[1]}` {finding['code']} `{finding['callee']}`")
        ok = ok and matched == ruff
    print("\nPASS" if ok else "\nFAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
