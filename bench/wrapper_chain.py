"""Wrapper inference on a long chain: f0 is marked, f1 returns f0(), ..., f(n-1) returns f(n-2)().

    python bench/wrapper_chain.py [--count 5000] [--runs 3]

Writes the chain twice into a fresh project (definitions first to last, and last to first, in one
module), with one dropped call of the last wrapper, runs ``keepref-lint check --no-cache`` on each and
prints the median wall time and the length of the finding's message. Inference should be linear in the
chain's length whatever the order, and the message short.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import keepref


def chain(count: int, reverse: bool) -> str:
    defs = [f"def f{i}():\n    return f{i - 1}()\n" for i in range(1, count)]
    if reverse:
        defs.reverse()
    head = (
        "from keepref_lint import must_retain\n\n\n@must_retain\ndef f0():\n    return object()\n"
    )
    return head + "\n\n" + "\n\n".join(defs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="keepref-chain-"))
    last = f"f{args.count - 1}"
    use = f"from chain import {last}\n\n\nclass App:\n    def run(self):\n        {last}()\n"
    print("| order | wrappers | median s | runs | message chars |")
    print("|---|---:|---:|---:|---:|")
    for reverse in (False, True):
        root = work / ("reverse" if reverse else "natural")
        root.mkdir()
        (root / "pyproject.toml").write_text("[project]\nname = 'chain'\nversion = '0'\n")
        (root / "chain.py").write_text(chain(args.count, reverse))
        (root / "app.py").write_text(use)
        times, message = [], ""
        for _ in range(args.runs):
            start = time.perf_counter()
            proc = keepref("check", "--no-cache", "--format", "json", cwd=root)
            times.append(time.perf_counter() - start)
            found = json.loads(proc.stdout or "[]")
            message = found[0]["message"] if found else f"(no finding; exit {proc.returncode})"
        order = "reverse" if reverse else "natural"
        print(f"| {order} | {args.count - 1:,} | {statistics.median(times):.2f} | {args.runs} | "
              f"{len(message):,} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
