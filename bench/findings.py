"""Findings on pinned real trees, recorded before a change and compared after it.

    python bench/findings.py record OUT_DIR [--work DIR]
    python bench/findings.py diff BEFORE_DIR AFTER_DIR

``record`` unpacks sglang 0.5.23, discord.py 2.7.1 and dask distributed 2026.8.0 from the bench cache and
writes ``keepref-lint check --no-cache --format json`` (run from each tree's root, default catalog) to
``OUT_DIR/<tree>.json`` with the run's wall time. ``diff`` prints, per tree, the findings only one side
has (by path, line, column, code and callee) and the messages that changed; it exits 1 on any difference.
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

TREES = [
    ("sglang", "0.5.23", "sglang"),
    ("discord.py", "2.7.1", "discord"),
    ("distributed", "2026.8.0", "distributed"),
]


def record(out: Path, work: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, version, package in TREES:
        tree = unpacked(name, version, work / package, package=package)
        start = time.perf_counter()
        proc = keepref("check", "--no-cache", "--format", "json", cwd=tree)
        seconds = time.perf_counter() - start
        findings = json.loads(proc.stdout or "[]")
        (out / f"{package}.json").write_text(json.dumps(findings, indent=1, sort_keys=True))
        print(
            f"{name} {version}: {len(findings)} findings, exit {proc.returncode}, {seconds:.2f} s"
        )
        if proc.stderr.strip():
            print("  stderr:", proc.stderr.strip().splitlines()[-1][:200])


def _key(finding: dict) -> tuple:
    return (finding["path"], finding["line"], finding["column"], finding["code"], finding["callee"])


def diff(before: Path, after: Path) -> int:
    same = True
    for _, _, package in TREES:
        old = {_key(f): f for f in json.loads((before / f"{package}.json").read_text())}
        new = {_key(f): f for f in json.loads((after / f"{package}.json").read_text())}
        gone, added = sorted(set(old) - set(new)), sorted(set(new) - set(old))
        changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
        print(f"{package}: {len(old)} before, {len(new)} after; {len(gone)} gone, {len(added)} new, "
              f"{len(changed)} changed")  # fmt: skip
        for key in gone:
            print("  - ", *key)
        for key in added:
            print("  + ", *key)
        for key in changed:
            print("  ~ ", *key)
            for field in sorted(set(old[key]) | set(new[key])):
                if old[key].get(field) != new[key].get(field):
                    print(f"      {field}: {old[key].get(field)!r} -> {new[key].get(field)!r}")
        same = same and not (gone or added or changed)
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--work", type=Path, default=None)
    dif = sub.add_parser("diff")
    dif.add_argument("before", type=Path)
    dif.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.verb == "record":
        record(args.out, args.work or Path(tempfile.mkdtemp(prefix="keepref-findings-")))
        return 0
    return diff(args.before, args.after)


if __name__ == "__main__":
    raise SystemExit(main())
