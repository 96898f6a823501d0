"""``kill -9`` of ``fix`` at random moments: every file stays its old or its new text, and the next run
leaves no temporary file.

    python bench/kill_fix.py [--kills 30] [--targeted 10] [--seed 1] [--work DIR]

1. Unpack sglang 0.5.23, mark ``builtins.print`` as must-retain (as bench/stress.py does), run ``fix``
   once to completion: its output is each file's new text, its wall time T the span kills are drawn
   from. The tree is then put back.
2. ``--kills`` times: start ``fix`` on the tree, SIGKILL it after a uniformly random delay in [0, 1.1 T],
   then check every Python file (old or new text, nothing else), count the temporary files the kill left,
   and the worker processes still alive 5 s later; run ``fix`` again to completion and check that no
   temporary file is left and every file is its new text; put the tree back.
3. ``--targeted`` more times the same, but the kill comes the moment a temporary file is seen (the
   folders of the changed files are listed in a tight loop), to kill inside a write on purpose.
Prints the counts as a Markdown table and exits non-zero on any broken file, leftover or orphan.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import unpacked

MARK = ["--must-retain", "builtins.print", "--no-cache"]
FIX = [sys.executable, "-m", "keepref_lint", "fix", "python", "-q", *MARK]


def tagged(tag: str) -> list[int]:
    """Live processes whose environment holds ``tag`` (a run and the workers it forked)."""
    needle = f"KEEPREF_BENCH_TAG={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rpartition(b")")[2].split()[0]
        except OSError:
            continue
        if needle in environ and state != b"Z":
            found.append(int(entry))
    return found


def snapshot(tree: Path) -> dict[Path, bytes]:
    return {p.relative_to(tree): p.read_bytes() for p in sorted(tree.rglob("*.py"))}


def temp_files(tree: Path) -> list[Path]:
    return sorted(tree.rglob("*.keepref-tmp"))


def restore(tree: Path, old: dict[Path, bytes], changed: set[Path]) -> None:
    for rel in changed:
        (tree / rel).write_bytes(old[rel])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--targeted", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="keepref-kill-"))
    tree = unpacked("sglang", "0.5.23", work / "sglang")
    old = snapshot(tree)

    started = time.perf_counter()
    first = subprocess.run(FIX, cwd=tree, capture_output=True, text=True, check=False)
    span = time.perf_counter() - started
    new = snapshot(tree)
    changed = {rel for rel in old if new[rel] != old[rel]}
    if first.returncode not in (0, 1) or not changed:
        raise SystemExit(f"the first fix failed ({first.returncode}):\n{first.stderr}")
    restore(tree, old, changed)

    counts = dict.fromkeys(
        [
            "kills before any file was written",
            "kills while files were being written (some new, some old)",
            "kills after every file was written",
            "kills that left temporary files",
            "temporary files left by the kills",
            "files neither old nor new after a kill",
            "worker processes alive 5 s after the kill",
            "next runs that failed",
            "temporary files left after the next run",
            "files not new after the next run",
        ],
        0,
    )
    print(
        f"tree: {len(old)} files, {len(changed)} changed by fix; one fix: {span:.1f} s", flush=True
    )
    folders = sorted({str((tree / rel).parent) for rel in changed})
    counts["targeted kills (at a temporary file seen)"] = 0
    for kill in range(args.kills + args.targeted):
        targeted = kill >= args.kills
        delay = rng.uniform(0, 1.1 * span)
        tag = uuid.uuid4().hex
        started = time.perf_counter()
        proc = subprocess.Popen(
            FIX,
            cwd=tree,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "KEEPREF_BENCH_TAG": tag},
        )
        if targeted:
            while proc.poll() is None and not any(
                e.name.endswith(".keepref-tmp") for f in folders for e in os.scandir(f)
            ):
                pass
            delay = time.perf_counter() - started
            counts["targeted kills (at a temporary file seen)"] += 1
        else:
            time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = snapshot(tree)
        written = sum(now[rel] == new[rel] for rel in changed)
        broken = [rel for rel in old if now.get(rel) not in (old[rel], new[rel])]
        temps = temp_files(tree)
        deadline = time.monotonic() + 5
        while tagged(tag) and time.monotonic() < deadline:
            time.sleep(0.1)
        orphans = tagged(tag)
        for pid in orphans:
            os.kill(pid, signal.SIGKILL)
        if written == 0:
            counts["kills before any file was written"] += 1
        elif written < len(changed):
            counts["kills while files were being written (some new, some old)"] += 1
        else:
            counts["kills after every file was written"] += 1
        counts["kills that left temporary files"] += bool(temps)
        counts["temporary files left by the kills"] += len(temps)
        counts["files neither old nor new after a kill"] += len(broken)
        counts["worker processes alive 5 s after the kill"] += len(orphans)

        after = subprocess.run(FIX, cwd=tree, capture_output=True, text=True, check=False)
        left = temp_files(tree)
        final = snapshot(tree)
        not_new = [rel for rel in old if final[rel] != new[rel]]
        counts["next runs that failed"] += after.returncode not in (0, 1)
        counts["temporary files left after the next run"] += len(left)
        counts["files not new after the next run"] += len(not_new)
        print(
            f"kill {kill + 1}{' (targeted)' if targeted else ''}: at {delay:.2f} s, {written}/{len(changed)} written, {len(temps)} temp,"
            f" {len(broken)} broken, {len(orphans)} orphans; next run {after.returncode},"
            f" {len(left)} temp left, {len(not_new)} not new",
            flush=True,
        )
        for path in left:
            path.unlink()
        restore(tree, old, set(old))  # every file back to its old text
    print()
    print("| figure | count |")
    print("|---|---:|")
    print(f"| kills at a random moment of `fix` | {args.kills} |")
    for name, value in counts.items():
        print(f"| {name} | {value} |")
    bad = sum(
        counts[k]
        for k in (
            "files neither old nor new after a kill",
            "worker processes alive 5 s after the kill",
            "next runs that failed",
            "temporary files left after the next run",
            "files not new after the next run",
        )
    )
    shutil.rmtree(work, ignore_errors=True) if args.work is None else None
    print("PASS" if bad == 0 else "FAIL")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
