"""A/B two versions of keepref-lint on corpus trees: alternated cold runs, medians and minimums.

    python bench/ab.py BEFORE AFTER [--trees a,b] [--runs 15] [--warm] [-- EXTRA keepref-lint ARGS]

BEFORE and AFTER are each a git revision of this repository (its ``src`` is exported once into the bench
cache, ``$KEEPREF_BENCH_CACHE/ab/REV``) or a folder holding the ``keepref_lint`` package (``src`` of a
checkout); "." is this checkout's ``src``. Each run is ``python -m keepref_lint check --no-cache .``
from the tree's root (as bench/corpus.py runs it), with ``PYTHONPATH`` naming the version's folder (not
the console script: the module it imports moved, from ``cli`` to ``console``, so it cannot run both);
with ``--warm``, ``check --cache-dir DIR .`` instead, each version with a cache folder of its own that
the untimed first run fills (nothing changes between runs). The runs alternate (A, B, A, B, ...) after one untimed run of each, so a machine whose
speed drifts moves both (``performance.compare``, the environment of bench/performance.py). Bytecode is compiled first, as from an installed wheel. Trees are those of
bench/corpus.py (``corpus.py fetch`` unpacks them); the default is the small ones, where a few
milliseconds show. Prints one markdown table: medians and minimums in ms, and the change of the medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE
from corpus import TREES, fetch
from performance import ENV, compare

ROOT = Path(__file__).resolve().parent.parent
SMALL = "uvicorn,sanic,distributed,livekit-agents,matplotlib,discord.py"


def source_of(version: str) -> Path:
    """The folder to put on ``PYTHONPATH`` for ``version`` (a folder, or a revision exported once)."""
    if version == ".":
        return ROOT / "src"
    folder = Path(version)
    if (folder / "keepref_lint").is_dir():
        return folder.resolve()
    if (folder / "src" / "keepref_lint").is_dir():
        return (folder / "src").resolve()
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{version}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not rev:
        raise SystemExit(
            f"ab: {version!r} is neither a folder with keepref_lint nor a git revision"
        )
    target = CACHE / "ab" / rev[:12]
    if not (target / "src" / "keepref_lint").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    extra = args[args.index("--") + 1 :] if "--" in args else []
    args = args[: args.index("--")] if "--" in args else args
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--trees", default=SMALL, help=f"comma-separated labels (default {SMALL})")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warm", action="store_true", help="with a cache (each version its own)")
    options = parser.parse_args(args)
    wanted = options.trees.split(",")
    unknown = set(wanted) - {t[0] for t in TREES}
    if unknown:
        raise SystemExit(f"ab: unknown tree(s): {', '.join(sorted(unknown))}")
    versions = [source_of(options.before), source_of(options.after)]
    for folder in versions:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder)], env=ENV, check=True)
    start = [sys.executable, "-m", "keepref_lint", "check"]
    if options.warm:
        caches = Path(tempfile.mkdtemp(prefix="keepref-ab-"))
        cmd_a, cmd_b = ([*start, "--cache-dir", str(caches / side), ".", *extra] for side in "ab")
    else:
        cmd_a = cmd_b = [*start, "--no-cache", ".", *extra]
    env_a, env_b = ({**ENV, "PYTHONPATH": str(folder)} for folder in versions)
    print(f"A = {options.before} ({versions[0]}), B = {options.after} ({versions[1]})")
    shown = " ".join(["python -m keepref_lint", *cmd_a[3:]])
    print(f"`{shown}`, {options.runs} alternated runs\n")
    print("| tree | A median (min) | B median (min) | B - A |")
    print("|---|---:|---:|---:|")
    for label in wanted:
        cwd = fetch(*next(t for t in TREES if t[0] == label))
        if options.warm:
            for folder in caches.iterdir():  # a cache of this tree only
                shutil.rmtree(folder)
        row = compare(
            label, cmd_a, cmd_b, cwd, options.runs, env_a=env_a, env_b=env_b, warm_up=True
        )
        a, b = (statistics.median(row[side]) * 1000 for side in "ab")
        low_a, low_b = (min(row[side]) * 1000 for side in "ab")
        print(
            f"| {label} | {a:.1f} ms ({low_a:.1f}) | {b:.1f} ms ({low_b:.1f}) | {b - a:+.1f} ms |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
