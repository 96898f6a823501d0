"""The least time any check built on Python's ``ast`` can take on each corpus tree, beside ruff's run.

    python bench/floor.py [--trees a,b] [--runs 5] [--jobs 2] [--out floor.json]

Whatever else a checker does, it must start an interpreter, read the tree's files, and parse at least
the files its findings are in (a finding's file is analysed, and analysing starts from a tree). This
script measures those three parts for each tree, in this run, and adds them up as if the parsing split
perfectly over ``--jobs`` cores and nothing else cost anything:

    floor = start + read + parse(files with findings) / jobs

and, for a design that parsed only the top-level statements holding a finding (each class whole; a
bound that no such design reaches, since a name's meaning also depends on the rest of the module):

    floor (blocks) = start + read + parse(those blocks) / jobs

beside ruff's cold run (``--select RUF006 --no-cache``, medians of ``--runs``) and keepref-lint's own
(``check --no-cache``). The files with findings come from keepref-lint's JSON output on the tree. Each
part is timed in a fresh interpreter (``start``: ``python -c pass``; ``read`` and ``parse``: the
median of ``--runs`` passes over the texts in one process, which holds them in the OS's file cache as a
run does; parsed with the cycle collector off and each tree dropped at once, as keepref-lint parses).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import ENV, _command, _selected, fetch

_PARTS = r"""
import ast, gc, json, os, statistics, sys, time
root, listed, runs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
paths = []
for folder, _, names in os.walk(root):
    paths.extend(os.path.join(folder, n) for n in names if n.endswith(".py"))
def read_all():
    for p in paths:
        with open(p, "rb") as f:
            f.read()
def timed(work):
    spent = []
    for _ in range(runs):
        t = time.perf_counter(); work(); spent.append(time.perf_counter() - t)
    return statistics.median(spent)
texts = {p: open(os.path.join(root, p), "rb").read() for p in listed["files"]}
blocks = []
for p, lines in listed["lines"].items():
    data = texts[p]
    split = data.split(b"\n")
    tree = ast.parse(data)
    for node in tree.body:
        if any(node.lineno <= line <= node.end_lineno for line in lines):
            blocks.append(b"\n" * (node.lineno - 1) + b"\n".join(split[node.lineno - 1 : node.end_lineno]))
def parse(parts):
    def each():
        for text in parts:  # each tree dropped before the next, with collection off (as a run has it)
            compile(text, "<file>", "exec", ast.PyCF_ONLY_AST)
    return each
gc.disable()
print(json.dumps({
    "files": len(paths),
    "read": timed(read_all),
    "parse": timed(parse(list(texts.values()))),
    "parse_blocks": timed(parse(blocks)),
    "bytes": sum(map(len, texts.values())),
    "block_bytes": sum(len(b.lstrip(b"\n")) for b in blocks),
}))
"""


def _median_wall(cmd: list[str], cwd: Path, runs: int) -> float:
    spent = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, check=False)
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


def floor_of(label: str, root: Path, runs: int, jobs: int) -> dict:
    keepref, ruff = _command("keepref-lint"), _command("ruff")
    ours_cmd = [*keepref, "check", "--no-cache", "-q", "python"]
    ruff_cmd = [
        *ruff,
        "check",
        "--isolated",
        "--no-cache",
        "--select",
        "RUF006",
        "--quiet",
        "python",
    ]
    out = subprocess.run(
        [*keepref, "check", "--no-cache", "--output-format", "json", "python"],
        cwd=root, env=ENV, capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines: dict[str, list[int]] = {}
    for finding in json.loads(out.stdout or "[]"):
        lines.setdefault(str(Path(finding["path"]).relative_to("python")), []).append(
            finding["line"]
        )
    listed = {"files": sorted(lines), "lines": lines}
    parts = json.loads(
        subprocess.run(
            [sys.executable, "-c", _PARTS, str(root / "python"), json.dumps(listed), str(runs)],
            env=ENV, capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    start = _median_wall([sys.executable, "-c", "pass"], root, runs)
    _median_wall(ruff_cmd, root, 1)  # the tree into the OS's file cache
    ruff_s = _median_wall(ruff_cmd, root, runs)
    ours_s = _median_wall(ours_cmd, root, runs)
    whole = start + parts["read"] + parts["parse"] / jobs
    blocks = start + parts["read"] + parts["parse_blocks"] / jobs
    return {
        "tree": label,
        "files": parts["files"],
        "finding_files": len(lines),
        "finding_mb": parts["bytes"] / 1e6,
        "block_mb": parts["block_bytes"] / 1e6,
        "start": start,
        "read": parts["read"],
        "parse": parts["parse"],
        "parse_blocks": parts["parse_blocks"],
        "floor": whole,
        "floor_blocks": blocks,
        "ruff": ruff_s,
        "ours": ours_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trees")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    print(
        "| tree | files with findings (MB) | start + read s | parse s (CPU) | floor s | floor / ruff "
        "| top-level blocks (MB) | floor with blocks s | / ruff | ruff s | ours s | ours / ruff |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, dist, version, package in _selected(args.trees):
        row = floor_of(label, fetch(label, dist, version, package), args.runs, args.jobs)
        rows.append(row)
        r = row
        print(
            f"| {label} {version} | {r['finding_files']} ({r['finding_mb']:.2f}) "
            f"| {r['start'] + r['read']:.3f} | {r['parse']:.3f} | {r['floor']:.3f} "
            f"| {r['floor'] / r['ruff']:.2f}x | {r['block_mb']:.2f} | {r['floor_blocks']:.3f} "
            f"| {r['floor_blocks'] / r['ruff']:.2f}x | {r['ruff']:.3f} | {r['ours']:.3f} "
            f"| {r['ours'] / r['ruff']:.2f}x |",
            flush=True,
        )
    large = [r for r in rows if r["ruff"] >= 0.25]
    if large:
        mean = statistics.geometric_mean(r["floor"] / r["ruff"] for r in large)
        ours = statistics.geometric_mean(r["ours"] / r["ruff"] for r in large)
        print(
            f"\ngeometric mean over the {len(large)} trees where ruff needs >= 0.25 s "
            f"({', '.join(r['tree'] for r in large)}): floor {mean:.2f}x, ours {ours:.2f}x"
        )
    if args.out:
        args.out.write_text(
            json.dumps({"jobs": args.jobs, "runs": args.runs, "rows": rows}, indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
