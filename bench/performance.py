"""Speed and memory on a real tree, against ruff (and flake8 without the plugin), in one run.

    python bench/performance.py [--runs 5] [--work DIR] [--skip-scale]

Uses the sglang 0.5.23 wheel (downloaded into the bench cache). Every scenario alternates the two
commands (A, B, A, B, ...) so both see the same machine state, and reports min/median/max wall seconds,
the ratio of medians and of minimums, the median of the per-pair ratios (each A run over the B run right
after it), and each side's peak RSS. Prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, unpacked

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent


# As installed from a wheel: bytecode compiled and used (some environments set PYTHONDONTWRITEBYTECODE).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def command(name: str) -> str:
    """The installed command beside this interpreter (the venv's bin folder)."""
    found = shutil.which(name, path=str(Path(PY).parent)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name}: not installed (pip install -e '.[test]')")
    return found


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of one command."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env or ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss // 1024


def compare(label: str, a: list[str], b: list[str], cwd: Path, runs: int, *, before_a=None, before_b=None,
            env_a: dict[str, str] | None = None, warm_up: bool = False) -> dict:  # fmt: skip
    """``warm_up``: run each command once, untimed, first (caches and the OS's file cache filled)."""
    times: dict[str, list[float]] = {"a": [], "b": []}
    peaks = {"a": 0, "b": 0}
    if warm_up:
        timed(a, cwd, env_a)
        timed(b, cwd)
    for _ in range(runs):
        for side, cmd, before, env in (("a", a, before_a, env_a), ("b", b, before_b, None)):
            if before:
                before()
            seconds, peak = timed(cmd, cwd, env)
            times[side].append(seconds)
            peaks[side] = max(peaks[side], peak)
    row = {
        "label": label,
        "a": times["a"],
        "b": times["b"],
        "peak_a": peaks["a"],
        "peak_b": peaks["b"],
    }
    row["ratio"] = statistics.median(times["a"]) / statistics.median(times["b"])
    # Each A run against the B run right after it: the machine's slow drift cancels within a pair.
    row["paired"] = statistics.median(x / y for x, y in zip(times["a"], times["b"], strict=True))
    return row


def fmt(times: list[float]) -> str:
    return f"{min(times):.2f} / {statistics.median(times):.2f} / {max(times):.2f}"


def flake8_venv(with_plugin: bool) -> Path:
    """A venv with this flake8 and nothing else, or with keepref-lint (this checkout, reinstalled each
    time) and what it needs: the two differ only by the plugin, not by the other packages of the
    development venv (flake8 looks through every installed package for plugins when it starts)."""
    import flake8

    name = f"venv-flake8-{flake8.__version__}" + ("-keepref" if with_plugin else "")
    folder = CACHE / name
    python = folder / "bin" / "python"
    if not python.exists():
        venv.create(folder, with_pip=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"flake8=={flake8.__version__}"],
            check=True,
        )
    if with_plugin:
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, str(ROOT)], check=True)  # with its dependencies
        subprocess.run([*pip, "--force-reinstall", "--no-deps", str(ROOT)], check=True)  # this code
        compile_all = [str(python), "-m", "compileall", "-q", str(folder / "lib")]
        subprocess.run(compile_all, env=ENV, check=False)
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="keepref-perf-"))
    import keepref_lint

    subprocess.run(
        [PY, "-m", "compileall", "-q", str(Path(keepref_lint.__file__).parent)],
        env=ENV,
        check=False,
    )
    tree = unpacked("sglang", "0.5.23", work / "sglang")
    (tree / "pyproject.toml").write_text("[project]\nname = 'bench'\nversion = '0'\n")
    # The commands users run: the installed console script and ruff's own binary (``python -m ruff``
    # would add a Python start-up to ruff's side).
    keepref = [command("keepref-lint"), "check", "-q", "python"]
    ruff = [command("ruff"), "check", "--isolated", "--select", "RUF006", "--quiet", "python"]
    rows = []

    def clear_caches() -> None:
        shutil.rmtree(tree / ".keepref-cache", ignore_errors=True)

    rows.append(compare("cold check (`--no-cache`) vs ruff `--no-cache --select RUF006`",
                        [*keepref, "--no-cache"], [*ruff, "--no-cache"], tree, args.runs))  # fmt: skip
    subprocess.run(keepref, cwd=tree, capture_output=True, check=False)
    subprocess.run(ruff, cwd=tree, capture_output=True, check=False)
    rows.append(
        compare("warm check (nothing changed) vs ruff warm cache", keepref, ruff, tree, args.runs)
    )

    # One file edited between runs: each tool re-checks what changed and reuses the rest. First a file
    # the index was not built from (as most are), then one it was built from (a module that re-exports
    # catalog names; keepref-lint reads it again and keeps the index when it gives the same).
    srt_files = tree / "python" / "sglang" / "srt"
    for label, edited in (
        ("one file edited since the last run vs ruff after the same edit", srt_files / "layers" / "linear.py"),
        ("the same, a file the index was built from (`srt/utils/common.py`)", srt_files / "utils" / "common.py"),
    ):  # fmt: skip
        original = edited.read_bytes()
        edits = iter(range(1_000_000))

        def edit_one_file(edited: Path = edited, original: bytes = original, edits=edits) -> None:
            edited.write_bytes(original + f"\n# edit {next(edits)}\n".encode())

        rows.append(compare(label, keepref, ruff, tree, args.runs, before_a=edit_one_file,
                            before_b=edit_one_file))  # fmt: skip
        edited.write_bytes(original)

    srt = tree / "python" / "sglang" / "srt"
    dirs = [str(srt / d) for d in ("managers", "entrypoints", "disaggregation")]
    with_plugin, without = flake8_venv(True), flake8_venv(False)
    flake8_with = [str(with_plugin), "-m", "flake8", "-j", "2", *dirs]
    flake8_without = [str(without), "-m", "flake8", "-j", "2", *dirs]
    # Runs of ~12 s on a VM whose speed drifts by a fifth: more pairs than the other scenarios.
    rows.append(compare("flake8 -j2 on srt/{managers,entrypoints,disaggregation}: with plugin vs without",
                        flake8_with, flake8_without, tree, max(args.runs, 9), warm_up=True))  # fmt: skip
    # The same in a fresh checkout (CI): no keepref-lint cache, so the index of the whole tree is built.
    fresh_cache = work / "flake8-fresh-cache"
    rows.append(compare("the same, no keepref-lint cache (a fresh CI checkout)", flake8_with,
                        flake8_without, tree, args.runs, env_a={**ENV, "KEEPREF_CACHE_DIR": str(fresh_cache)},
                        before_a=lambda: shutil.rmtree(fresh_cache, ignore_errors=True)))  # fmt: skip

    # fix with builtins.print marked: thousands of rewrites, on a fresh copy every run.
    fix_tree = work / "fix"

    def fresh_copy() -> None:
        shutil.rmtree(fix_tree, ignore_errors=True)
        shutil.copytree(
            tree, fix_tree, ignore=shutil.ignore_patterns(".keepref-cache", ".ruff_cache")
        )

    fresh_copy()
    marked = ["--must-retain", "builtins.print", "--no-cache"]
    rows.append(compare("fix with builtins.print marked vs cold check with it marked",
                        [command("keepref-lint"), "fix", "-q", "python", *marked],
                        [command("keepref-lint"), "check", "-q", "python", *marked],
                        fix_tree, max(2, args.runs // 2), before_a=fresh_copy))  # fmt: skip

    scale = []
    if not args.skip_scale:
        for copies in (1, 2, 4):
            root = work / f"scale{copies}"
            shutil.rmtree(root, ignore_errors=True)
            for i in range(copies):
                shutil.copytree(tree / "python" / "sglang", root / "python" / f"sglang{i}")
            (root / "pyproject.toml").write_text("[project]\nname = 'bench'\nversion = '0'\n")
            seconds = [timed([*keepref, "--no-cache"], root)[0] for _ in range(3)]
            scale.append((copies, statistics.median(seconds)))

    print(
        "| scenario | keepref-lint s (min / median / max) | baseline s (min / median / max) | ratio of medians | ratio of minimums | median of paired ratios | peak RSS MB (ours / baseline) |"
    )
    print("|---|---|---|---:|---:|---:|---|")
    for row in rows:
        lowest = min(row["a"]) / min(row["b"])
        print(
            f"| {row['label']} | {fmt(row['a'])} | {fmt(row['b'])} | {row['ratio']:.2f}x | {lowest:.2f}x | {row['paired']:.2f}x | {row['peak_a']} / {row['peak_b']} |"
        )
    if scale:
        print("\n| tree copies | files | cold check median s | s per copy |")
        print("|---:|---:|---:|---:|")
        for copies, seconds in scale:
            print(f"| {copies}x | {4719 * copies} | {seconds:.2f} | {seconds / copies:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
