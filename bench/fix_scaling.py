"""Fix time against the number of fixes in one file: should grow linearly.

    python bench/fix_scaling.py [--sizes 500,1000,2000,4000] [--runs 3] [--diff] [--work DIR]

Each size N writes one module with one class whose method drops the result of a marked function N times
(``start_server()`` on N lines: N KR001 fixes, each keeper needs a fresh name), and times
``keepref-lint fix --no-cache`` on it (the minimum over ``--runs``; ``--diff`` times ``fix --diff``,
which builds a unified diff). A separate measurement of the same with an empty method (0 fixes) is
subtracted, so the figures are the cost of the fixes. Prints a Markdown table with seconds, seconds per
1,000 fixes, and the ratio of each step (2.0 when linear for a doubling, 4.0 when quadratic); then, from
one run of each size under cProfile, the self time spent in ``fix.py`` (naming the keepers) and in
everything else, so that the two can be told apart.
"""

from __future__ import annotations

import argparse
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MARKED = "from keepref_lint import must_retain\n\n\n@must_retain\ndef start_server():\n    return object()\n"


def project(root: Path, fixes: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '0'\n")
    (root / "server.py").write_text(MARKED)
    body = "".join("        start_server()\n" for _ in range(fixes)) or "        pass\n"
    (root / "app.py").write_text(
        f"from server import start_server\n\n\nclass App:\n    def run(self):\n{body}"
    )


def timed_fix(root: Path, fixes: int, diff: bool, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        project(root, fixes)
        args = [sys.executable, "-m", "keepref_lint", "fix", "--no-cache", "-q", "."]
        if diff:
            args.insert(4, "--diff")
        started = time.perf_counter()
        proc = subprocess.run(args, cwd=root, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if proc.returncode not in (0, 1):
            raise SystemExit(f"fix failed on {fixes} fixes:\n{proc.stderr}")
        if (
            not diff
            and fixes
            and "self.server_2 = start_server()" not in (root / "app.py").read_text()
        ):
            raise SystemExit(f"fix did not fix {fixes} drops:\n{proc.stdout}\n{proc.stderr}")
        best = min(best, seconds)
    return best


def profiled(root: Path, fixes: int) -> tuple[float, float]:
    """(seconds in fix.py's own code, seconds in everything else) of one ``fix`` under cProfile."""
    project(root, fixes)
    out = root.parent / "fix.prof"
    subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "keepref_lint", "fix", "--no-cache",
         "-q", "."],
        cwd=root, capture_output=True, check=False,
    )  # fmt: skip
    stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    total = sum(tottime for (_, _, tottime, _, _) in stats.values())
    naming = sum(
        tottime
        for (filename, _, _), (_, _, tottime, _, _) in stats.items()
        if filename.endswith("keepref_lint/fix.py")
    )
    return naming, total - naming


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,1000,2000,4000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--diff", action="store_true", help="time fix --diff (builds the diff)")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="keepref-fix-scaling-"))
    sizes = [int(s) for s in args.sizes.split(",")]
    base = timed_fix(work / "p", 0, args.diff, args.runs)
    print(f"`fix{' --diff' if args.diff else ''}`, one file; 0 fixes: {base:.2f} s (subtracted)\n")
    print("| fixes in the file | seconds | seconds per 1,000 fixes | ratio to the previous size |")
    print("|---:|---:|---:|---:|")
    previous = None
    for size in sizes:
        seconds = max(timed_fix(work / "p", size, args.diff, args.runs) - base, 1e-3)
        ratio = f"{seconds / previous:.2f}" if previous else ""
        print(f"| {size:,} | {seconds:.2f} | {seconds / size * 1000:.2f} | {ratio} |")
        previous = seconds
    print("\n| fixes in the file | s in fix.py (naming) | s elsewhere (whole run, cProfile) |")
    print("|---:|---:|---:|")
    for size in sizes:
        naming, rest = profiled(work / "p", size)
        print(f"| {size:,} | {naming:.2f} | {rest:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
