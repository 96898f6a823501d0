"""Speed and memory on real trees, against ruff (and flake8 without the plugin), in one run.

    python bench/performance.py [--runs 5] [--work DIR] [--skip-scale]      the sglang scenarios
    python bench/performance.py --corpus [--trees a,b] [--runs 3] [--out FILE.json]
    python bench/performance.py --scale [--copies 1,2,4,8] [--runs 3] [--out FILE.json]

The default uses the sglang 0.5.23 wheel (downloaded into the bench cache). Every scenario alternates the
two commands (A, B, A, B, ...) so both see the same machine state, and reports min/median/max wall
seconds, the ratio of medians and of minimums, the median of the per-pair ratios (each A run over the B
run right after it), and each side's peak RSS. Prints a Markdown table for docs/performance.md.

``--corpus``: every pinned tree of bench/corpus.py (fetched if missing, read in place, never written:
caches go to the work folder through ``--cache-dir``), cold and warm beside ruff, one table with the
issue's targets checked below it; phases and counts from one extra run of each with KEEPREF_LINT_STATS
(src/keepref_lint/stats.py). ``--scale``: 1x, 2x, 4x, 8x renamed copies of sglang in one tree, cold,
beside ruff (see ``scale_tree``). Both can be given; ``--out`` keeps everything measured as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
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
from corpus import TREES, fetch, tree_root

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent


# As installed from a wheel: bytecode compiled and used (some environments set PYTHONDONTWRITEBYTECODE).
# No KEEPREF_* variable of the caller's (stats, debug output, another cache folder) in the timed runs.
ENV = {
    k: v
    for k, v in os.environ.items()
    if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("KEEPREF_")
}


def command(name: str) -> str:
    """The installed command beside this interpreter (the venv's bin folder)."""
    found = shutil.which(name, path=str(Path(PY).parent)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name}: not installed (pip install -e '.[test]')")
    return found


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of one command."""
    seconds, peak, _ = timed_cpu(cmd, cwd, env)
    return seconds, peak


def timed_cpu(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user and system) of one command. The CPU time is
    the process's with its threads and every process it waited for (our workers, corpus helper and
    early check; ruff's threads)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env or ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, _, usage = os.wait4(proc.pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, usage.ru_maxrss // 1024, cpu


def compare(label: str, a: list[str], b: list[str], cwd: Path, runs: int, *, before_a=None, before_b=None,
            env_a: dict[str, str] | None = None, env_b: dict[str, str] | None = None,
            warm_up: bool = False) -> dict:  # fmt: skip
    """``warm_up``: run each command once, untimed, first (caches and the OS's file cache filled)."""
    times: dict[str, list[float]] = {"a": [], "b": []}
    cpu: dict[str, list[float]] = {"a": [], "b": []}
    peaks = {"a": 0, "b": 0}
    if warm_up:
        timed(a, cwd, env_a)
        timed(b, cwd, env_b)
    for _ in range(runs):
        for side, cmd, before, env in (("a", a, before_a, env_a), ("b", b, before_b, env_b)):
            if before:
                before()
            seconds, peak, used = timed_cpu(cmd, cwd, env)
            times[side].append(seconds)
            cpu[side].append(used)
            peaks[side] = max(peaks[side], peak)
    row = {
        "label": label,
        "a": times["a"],
        "b": times["b"],
        "peak_a": peaks["a"],
        "peak_b": peaks["b"],
        "cpu_a": cpu["a"],
        "cpu_b": cpu["b"],
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


# -- per tree: the pinned corpus, and copies of sglang -------------------------------------------------

RUFF_SMALL = 0.25  # the issue's line between "ruff needs at least 0.25 s" and a small tree


def with_stats(cmd: list[str], cwd: Path, work: Path) -> tuple[float, int, dict, str]:
    """One run of ours with KEEPREF_LINT_STATS: wall seconds, peak RSS MB, the stats record and stdout."""
    record = work / "stats.json"
    record.unlink(missing_ok=True)
    output = work / "stdout.txt"
    env = {**ENV, "KEEPREF_LINT_STATS": str(record)}
    with output.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    stats = json.loads(record.read_text()) if record.exists() else {"phases": {}, "counts": {}}
    return seconds, usage.ru_maxrss // 1024, stats, output.read_text(errors="replace")


def leaf_phases(stats: dict, wall: float) -> dict[str, float]:
    """The run's time in phases that do not overlap: the index's steps in place of ``index``, and
    ``start-up/exit`` (the interpreter, the CLI's imports, tear-down: the wall time the process did not
    spend between stats.start and the stats being written)."""
    phases = dict(stats.get("phases", {}))
    if any(name.startswith("index.") for name in phases):
        phases.pop("index", None)
    if "total" in stats:
        phases["start-up/exit"] = max(0.0, wall - stats["total"] - stats.get("overhead", 0.0))
    return phases


def dominant(stats: dict, wall: float) -> tuple[str, float, float]:
    """The leaf phase that took longest: (name, seconds, share of the wall time)."""
    phases = leaf_phases(stats, wall)
    if not phases:
        return "(no stats)", 0.0, 0.0
    name = max(phases, key=phases.__getitem__)
    return name, phases[name], phases[name] / wall if wall else 0.0


def keepref_cmd(*extra: str) -> list[str]:
    return [command("keepref-lint"), "check", "-q", *extra, "python"]


def ruff_cmd(*extra: str) -> list[str]:
    return [
        command("ruff"),
        "check",
        "--isolated",
        "--select",
        "RUF006",
        "--quiet",
        *extra,
        "python",
    ]


def bench_tree(label: str, root: Path, work: Path, runs: int) -> dict:
    """Cold and warm, ours beside ruff, on one tree read in place (caches in ``work``)."""
    work.mkdir(parents=True, exist_ok=True)
    ours_cold, ruff_cold = keepref_cmd("--no-cache"), ruff_cmd("--no-cache")
    # Untimed first (they bring the tree into the OS's file cache), then the timed runs, then ours once
    # more with stats: its phases are those of a run like the timed ones (the first run's reading of
    # the tree includes the disk's).
    timed(ours_cold, root)
    timed(ruff_cold, root)
    cold = compare(f"{label} cold", ours_cold, ruff_cold, root, runs)
    cold_wall, _, cold_stats, _ = with_stats(ours_cold, root, work)
    # Warm: fresh cache folders filled by one run each, then nothing changes.
    ours_cache, ruff_cache = work / "keepref-cache", work / "ruff-cache"
    shutil.rmtree(ours_cache, ignore_errors=True)
    shutil.rmtree(ruff_cache, ignore_errors=True)
    ours_warm = keepref_cmd("--cache-dir", str(ours_cache))
    ruff_warm = ruff_cmd("--cache-dir", str(ruff_cache))
    timed(ours_warm, root)
    timed(ruff_warm, root)
    warm = compare(f"{label} warm", ours_warm, ruff_warm, root, runs)
    warm_wall, _, warm_stats, _ = with_stats(ours_warm, root, work)
    counts = cold_stats.get("counts", {})
    files = counts.get("files_in_tree") or sum(1 for _ in (root / "python").rglob("*.py"))
    return {
        "tree": label,
        "files": files,
        "cold": {
            k: cold[k] for k in ("a", "b", "peak_a", "peak_b", "cpu_a", "cpu_b", "ratio", "paired")
        },
        "warm": {k: warm[k] for k in ("a", "b", "peak_a", "peak_b", "ratio", "paired")},
        "cold_stats": {"wall": cold_wall, **cold_stats},
        "warm_stats": {"wall": warm_wall, **warm_stats},
        "cold_dominant": dominant(cold_stats, cold_wall),
        "warm_dominant": dominant(warm_stats, warm_wall),
    }


def machine() -> dict:
    """What the numbers were taken on (the load matters on a shared machine)."""
    import platform

    ruff = subprocess.run(
        [command("ruff"), "--version"], capture_output=True, text=True, check=False
    )
    return {
        "python": platform.python_version(),
        "ruff": ruff.stdout.strip(),
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def corpus_table(rows: list[dict]) -> list[str]:
    lines = [
        "| tree | files | cold s (ours / ruff, medians) | cold ratio | warm s (ours / ruff) | warm ratio"
        " | peak RSS MB (ours / ruff) | files parsed | dominant phase (cold) |",
        "|---|---:|---|---:|---|---:|---|---:|---|",
    ]
    for row in rows:
        cold, warm = row["cold"], row["warm"]
        peak_ours = max(cold["peak_a"], warm["peak_a"])
        peak_ruff = max(cold["peak_b"], warm["peak_b"])
        parsed = row["cold_stats"].get("counts", {}).get("files_parsed", 0)
        name, seconds, share = row["cold_dominant"]
        lines.append(
            f"| {row['tree']} | {row['files']:,} | {median(cold['a']):.2f} / {median(cold['b']):.2f}"
            f" | {cold['ratio']:.2f}x | {median(warm['a']):.3f} / {median(warm['b']):.3f}"
            f" | {warm['ratio']:.2f}x | {peak_ours} / {peak_ruff} | {parsed:,}"
            f" | {name} {seconds:.2f} s ({share:.0%}) |"
        )
    return lines


def cpu_table(rows: list[dict], cores: int) -> list[str]:
    """Cold runs' CPU seconds beside their wall seconds: the CPU time over the cores is what the
    run would take if its work were spread over all of them and nothing else changed (a floor that
    only less work lowers), and the share of the cores the run kept busy."""
    lines = [
        f"| tree | cold wall s (ours / ruff) | cold CPU s (ours / ruff) | CPU ratio | ours' CPU / {cores}"
        " cores s | that / ruff's wall | cores kept busy (ours / ruff) |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        cold = row["cold"]
        wall_a, wall_b = median(cold["a"]), median(cold["b"])
        cpu_a, cpu_b = median(cold["cpu_a"]), median(cold["cpu_b"])
        floor = cpu_a / cores
        lines.append(
            f"| {row['tree']} | {wall_a:.2f} / {wall_b:.2f} | {cpu_a:.2f} / {cpu_b:.2f}"
            f" | {cpu_a / cpu_b:.2f}x | {floor:.2f} | {floor / wall_b:.2f}x"
            f" | {cpu_a / (wall_a * cores):.0%} / {cpu_b / (wall_b * cores):.0%} |"
        )
    return lines


# Phases of a cold run in the order they happen (leaf_phases; index.* are the index build's steps).
PHASE_ORDER = [
    "start-up/exit", "scan", "results_cache", "imports", "index.read", "index.corpus",
    "index.markers", "index.aliases", "index.wrappers", "index.config_async", "index.prefilter",
    "index.receivers", "index.other", "reuse", "prefilter", "read", "check", "store", "output",
]  # fmt: skip


def phase_table(rows: list[dict]) -> list[str]:
    """Seconds per phase of the stats run of each tree (cold), and what the check did."""
    shown = [p for p in PHASE_ORDER if p not in ("results_cache", "reuse", "store", "output")]
    lines = [
        "| tree | wall s | " + " | ".join(shown) + " | check: files analysed / parsed whole"
        " (MB) / fragment proofs (proved) / workers; CPU s parse, scopes, rules, fragment proofs, noqa |",
        "|---|---:|" + "---:|" * len(shown) + "---|",
    ]
    for row in rows:
        stats = row["cold_stats"]
        phases = leaf_phases(stats, stats["wall"])
        c = stats.get("counts", {})
        cells = " | ".join(f"{phases.get(p, 0.0):.2f}" for p in shown)
        lines.append(
            f"| {row['tree']} | {stats['wall']:.2f} | {cells} | {c.get('files_to_analyse', 0)}"
            f" / {c.get('files_parsed', 0)} ({c.get('bytes_parsed', 0) / 1e6:.1f})"
            f" / {c.get('fragment_proofs', 0)} ({c.get('fragment_proved', 0)})"
            f" / {c.get('workers', 1)}; {c.get('cpu.parse', 0):.2f}, {c.get('cpu.scopes', 0):.2f},"
            f" {c.get('cpu.rules', 0):.2f}, {c.get('cpu.fragment', 0):.2f}, {c.get('cpu.noqa', 0):.2f} |"
        )
    return lines


def targets(rows: list[dict]) -> tuple[list[str], bool]:
    """The issue's targets, line by line: (lines, all met)."""
    lines = []
    met = True

    def verdict(ok: bool) -> str:
        nonlocal met
        met = met and ok
        return "PASS" if ok else "FAIL"

    large = [r for r in rows if median(r["cold"]["b"]) >= RUFF_SMALL]
    small = [r for r in rows if median(r["cold"]["b"]) < RUFF_SMALL]
    for r in large:
        ok = r["cold"]["ratio"] <= 1.5
        lines.append(
            f"- {verdict(ok)} cold <= 1.5x ruff (ruff >= {RUFF_SMALL} s): {r['tree']}"
            f" {r['cold']['ratio']:.2f}x ({median(r['cold']['a']):.2f} s vs {median(r['cold']['b']):.2f} s)"
        )
    if large:
        geomean = math.exp(sum(math.log(r["cold"]["ratio"]) for r in large) / len(large))
        names = ", ".join(r["tree"] for r in large)
        lines.append(
            f"- {verdict(geomean <= 1.0)} geometric mean of cold ratios <= 1.0x over the"
            f" {len(large)} trees where ruff needs >= {RUFF_SMALL} s ({names}): {geomean:.2f}x"
        )
    else:
        lines.append(f"- (no tree where ruff needs >= {RUFF_SMALL} s: geometric mean not checked)")
    for r in small:
        ours, theirs = median(r["cold"]["a"]), median(r["cold"]["b"])
        lines.append(
            f"- {verdict(ours <= theirs + RUFF_SMALL)} cold within ruff + {RUFF_SMALL} s"
            f" (ruff < {RUFF_SMALL} s): {r['tree']} {ours:.2f} s vs {theirs:.2f} s + {RUFF_SMALL}"
            f" (over by {max(0.0, ours - theirs - RUFF_SMALL):.2f} s)"
        )
    for r in rows:
        ok = r["warm"]["ratio"] <= 1.5
        lines.append(
            f"- {verdict(ok)} warm <= 1.5x ruff's warm run: {r['tree']} {r['warm']['ratio']:.2f}x"
            f" ({median(r['warm']['a']):.3f} s vs {median(r['warm']['b']):.3f} s)"
        )
    for r in rows:
        peak = max(r["cold"]["peak_a"], r["warm"]["peak_a"])
        lines.append(f"- {verdict(peak < 500)} peak RSS under 500 MB: {r['tree']} {peak} MB")
    return lines, met


def run_corpus(names: str | None, runs: int, work: Path) -> dict:
    wanted = set(names.split(",")) if names else None
    if wanted and wanted - {t[0] for t in TREES}:
        raise SystemExit(f"performance: unknown tree(s): {', '.join(sorted(wanted - {t[0] for t in TREES}))}")  # fmt: skip
    rows = []
    started = time.perf_counter()
    for label, dist, version, package in TREES:
        if wanted and label not in wanted:
            continue
        root = fetch(label, dist, version, package)
        assert root == tree_root(label, version)
        row = bench_tree(f"{label} {version}", root, work / "corpus" / label, runs)
        rows.append(row)
        name, seconds, _ = row["cold_dominant"]
        print(
            f"{label:16} cold {median(row['cold']['a']):6.2f} s vs ruff {median(row['cold']['b']):5.2f} s"
            f" ({row['cold']['ratio']:5.2f}x), warm {median(row['warm']['a']):.3f} s vs"
            f" {median(row['warm']['b']):.3f} s ({row['warm']['ratio']:.2f}x); {name} {seconds:.2f} s",
            file=sys.stderr,
        )
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    lines = [*corpus_table(rows), "", *cpu_table(rows, cores), "", *phase_table(rows), ""]
    checked, met = targets(rows)
    lines += checked
    lines.append(f"- {'all targets met' if met else 'not all targets met'}")
    print("\n".join(lines))
    print(
        f"({time.perf_counter() - started:.0f} s for {len(rows)} trees, {runs} runs each)",
        file=sys.stderr,
    )
    return {"trees": rows, "targets": checked, "met": met}


# -- scale ---------------------------------------------------------------------------------------------

_SGLANG_WORD = re.compile(rb"(?<![\w.])sglang(?!\w)")


def scale_tree(source: Path, work: Path, copies: int) -> Path:
    """A tree of ``copies`` renamed copies of the sglang package: ``sglang_c1`` ... side by side, each
    with every whole word ``sglang`` (not after a dot) rewritten to its own name, so that each copy's
    absolute imports (``from sglang.srt.utils import ...``) resolve inside that copy as they do in the
    real tree: every copy is a project of its own shape, and the index and the check do the real work
    N times. (Copies that kept ``import sglang`` would import a package the tree no longer has: fewer
    names resolve, wrappers across modules are not found, and 1x would not be the real tree.) Renamed
    copies are made once under ``work``; a tree of N copies hard-links them."""
    pool = work / "copies"
    for i in range(1, copies + 1):
        copy = pool / f"sglang_c{i}"
        if (copy / ".complete").exists():
            continue
        shutil.rmtree(copy, ignore_errors=True)
        new = f"sglang_c{i}".encode()
        for path in source.rglob("*"):
            target = copy / path.relative_to(source)
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            data = path.read_bytes()
            target.write_bytes(_SGLANG_WORD.sub(new, data) if path.suffix == ".py" else data)
        (copy / ".complete").write_text("")
    root = work / f"scale{copies}"
    shutil.rmtree(root, ignore_errors=True)
    for i in range(1, copies + 1):
        shutil.copytree(pool / f"sglang_c{i}", root / "python" / f"sglang_c{i}", copy_function=os.link,
                        ignore=shutil.ignore_patterns(".complete"))  # fmt: skip
    (root / "pyproject.toml").write_text("[project]\nname = 'bench'\nversion = '0'\n")
    return root


def run_scale(sizes: list[int], runs: int, work: Path) -> dict:
    """Cold check of 1x, 2x, ... copies beside ruff; cost per 1,000 files and against 1x."""
    label, dist, version, package = next(t for t in TREES if t[0] == "sglang")
    source = fetch(label, dist, version, package) / "python" / package
    rows = []
    for copies in sizes:
        root = scale_tree(source, work / "scale", copies)
        ours, ruff = keepref_cmd("--no-cache"), ruff_cmd("--no-cache")
        stats_wall, _, stats, out = with_stats(
            keepref_cmd("--no-cache", "--format", "json"), root, work
        )
        found = json.loads(out or "[]")
        timed(ruff, root)
        row = compare(f"{copies}x", ours, ruff, root, runs)
        counts = stats.get("counts", {})
        rows.append({
            "copies": copies,
            "files": counts.get("files_in_tree", 0),
            "findings": len(found),
            "files_parsed": counts.get("files_parsed", 0),
            "ours": row["a"], "ruff": row["b"], "peak_ours": row["peak_a"], "peak_ruff": row["peak_b"],
            "ratio": row["ratio"],
            "stats": {"wall": stats_wall, **stats},
            "dominant": dominant(stats, stats_wall),
        })  # fmt: skip
        print(
            f"{copies}x: {median(row['a']):.2f} s vs ruff {median(row['b']):.2f} s", file=sys.stderr
        )
    base = rows[0]
    base_ours, base_ruff = median(base["ours"]), median(base["ruff"])
    lines = [
        "| copies | files | findings | files parsed | ours median s | s per 1,000 files | x of 1x"
        " | ruff median s | ruff x of 1x | ours / ruff | peak RSS MB (ours / ruff) | dominant phase |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    flags = []
    for row in rows:
        ours, theirs = median(row["ours"]), median(row["ruff"])
        growth = ours / base_ours
        allowed = 1.1 * row["copies"] / base["copies"]
        name, seconds, share = row["dominant"]
        lines.append(
            f"| {row['copies']}x | {row['files']:,} | {row['findings']} | {row['files_parsed']}"
            f" | {ours:.2f} | {1000 * ours / max(row['files'], 1):.3f} | {growth:.2f}x"
            f" | {theirs:.2f} | {theirs / base_ruff:.2f}x | {row['ratio']:.2f}x"
            f" | {row['peak_ours']} / {row['peak_ruff']} | {name} {seconds:.2f} s ({share:.0%}) |"
        )
        if row is not base and growth > allowed:
            flags.append(
                f"- FLAG {row['copies']}x costs {growth:.2f}x of {base['copies']}x (more than {allowed:.1f}x:"
                " not linear)"
            )
        if row["findings"] != base["findings"] * row["copies"] // base["copies"]:
            flags.append(
                f"- FLAG {row['copies']}x has {row['findings']} findings, not {row['copies'] // base['copies']}"
                f" times {base['findings']}: the copies are not alike"
            )
    lines += flags or [f"- linear: no size costs more than 1.1 x its multiple of {base['copies']}x"]
    print("\n".join(lines))
    return {"scale": rows, "flags": flags}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="runs of each side (5; 3 per tree)")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--corpus", action="store_true", help="every pinned tree, cold and warm")
    parser.add_argument("--trees", help="with --corpus: these trees only (labels, comma-separated)")
    parser.add_argument("--scale", action="store_true", help="copies of sglang, cold")
    parser.add_argument("--copies", default="1,2,4,8", help="with --scale: the sizes (1,2,4,8)")
    parser.add_argument("--out", type=Path, help="with --corpus or --scale: the results as JSON")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="keepref-perf-"))
    work.mkdir(parents=True, exist_ok=True)
    import keepref_lint

    subprocess.run(
        [PY, "-m", "compileall", "-q", str(Path(keepref_lint.__file__).parent)],
        env=ENV,
        check=False,
    )
    sizes = [int(n) for n in args.copies.split(",")]
    if args.corpus or args.scale:
        runs = args.runs or 3
        record: dict = {"runs": runs, "machine": machine()}
        if args.corpus:
            record.update(run_corpus(args.trees, runs, work))
        if args.scale:
            if args.corpus:
                print()
            record.update(run_scale(sizes, runs, work))
        if args.out:
            args.out.write_text(json.dumps(record, indent=1) + "\n")
        return 0
    args.runs = args.runs or 5
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

    print(
        "| scenario | keepref-lint s (min / median / max) | baseline s (min / median / max) | ratio of medians | ratio of minimums | median of paired ratios | peak RSS MB (ours / baseline) |"
    )
    print("|---|---|---|---:|---:|---:|---|")
    for row in rows:
        lowest = min(row["a"]) / min(row["b"])
        print(
            f"| {row['label']} | {fmt(row['a'])} | {fmt(row['b'])} | {row['ratio']:.2f}x | {lowest:.2f}x | {row['paired']:.2f}x | {row['peak_a']} / {row['peak_b']} |"
        )
    if not args.skip_scale:
        print()
        run_scale(sizes, 3, work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
