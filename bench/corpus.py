"""The pinned corpus of real trees: unpack them once, record keepref-lint's findings, diff two records.

    python bench/corpus.py fetch [--trees a,b]            download and unpack every pinned tree
    python bench/corpus.py findings OUT.json [--trees a,b] [-- EXTRA keepref-lint ARGS]
    python bench/corpus.py diff BEFORE.json AFTER.json      what was added or removed, per tree

Trees are the Python packages of pinned PyPI wheels, unpacked under the bench cache
(``$KEEPREF_BENCH_CACHE/trees/NAME-VERSION/python/``, default ``~/.cache/keepref-lint-bench``) once and
reused. ``findings`` runs ``keepref-lint check --no-cache --format json`` from each tree's root (default
catalog, no configuration), and beside it ``ruff check --isolated --no-cache --select RUF006`` in the same
run, and stores for each tree: the findings (path, line, column, code, message), the one-line errors, the
exit status and both wall times. ``diff`` exits 1 when a finding's place or code, or an error, differs (a
reworded message is counted, and listed with ``--messages``), so a script can insist that a change kept
findings identical.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, wheel

# (label, distribution, version, top-level folder in the wheel). Chosen for what they exercise: sglang is
# the seed; discord.py has 49 star imports in one __init__; ray and litellm many inferred wrappers and
# tasks; matplotlib widgets and animations; homeassistant and vllm size; livekit the maintainers' own
# task fixes; sanic, uvicorn, distributed, textual asyncio servers and tasks.
TREES = [
    ("sglang", "sglang", "0.5.23", "sglang"),
    ("discord.py", "discord.py", "2.7.1", "discord"),
    ("ray", "ray", "2.60.0", "ray"),
    ("litellm", "litellm", "1.110.2", "litellm"),
    ("matplotlib", "matplotlib", "3.11.2", "matplotlib"),
    ("vllm", "vllm", "0.33.0", "vllm"),
    ("homeassistant", "homeassistant", "2026.2.3", "homeassistant"),  # a 3.13 wheel
    ("livekit-agents", "livekit-agents", "1.7.1", "livekit"),
    ("sanic", "sanic", "25.12.1", "sanic"),
    ("uvicorn", "uvicorn", "0.54.0", "uvicorn"),
    ("distributed", "distributed", "2026.8.0", "distributed"),
]

NEEDS_PYTHON = {"homeassistant": "3.13.2"}  # releases that do not install on this interpreter


def tree_root(label: str, version: str) -> Path:
    return CACHE / "trees" / f"{label}-{version}"


def fetch(label: str, dist: str, version: str, package: str) -> Path:
    """The unpacked tree (unpacked once; a ``.complete`` stamp marks a finished unpack)."""
    root = tree_root(label, version)
    if (root / ".complete").exists():
        return root
    archive = wheel(dist, version, python=NEEDS_PYTHON.get(dist))
    if root.exists():
        shutil.rmtree(root)
    target = root / "python"
    target.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.namelist() if m.startswith(f"{package}/") and m.endswith(".py")]
        zf.extractall(target, members)
    (root / ".complete").write_text(f"{dist}=={version}\n")
    return root


def _selected(names: str | None) -> list[tuple[str, str, str, str]]:
    if not names:
        return TREES
    wanted = set(names.split(","))
    unknown = wanted - {t[0] for t in TREES}
    if unknown:
        raise SystemExit(f"corpus: unknown tree(s): {', '.join(sorted(unknown))}")
    return [t for t in TREES if t[0] in wanted]


def _command(name: str) -> list[str]:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    return [found] if found else [sys.executable, "-m", name.replace("-", "_")]


# As installed from a wheel: bytecode compiled and used (some environments set PYTHONDONTWRITEBYTECODE,
# which would make every run compile keepref-lint's modules again; ruff has nothing to compile).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, proc


def findings(out: Path, trees: list[tuple[str, str, str, str]], extra: list[str]) -> int:
    record: dict[str, dict] = {}
    keepref = _command("keepref-lint")
    ruff = _command("ruff")
    import keepref_lint

    package = str(Path(keepref_lint.__file__).parent)
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], env=ENV, check=False)
    print(
        f"{'tree':16} {'files':>6} {'ours s':>8} {'ruff s':>8} {'ratio':>7} {'KR':>5} {'RUF006':>6}"
    )
    for label, dist, version, package in trees:
        root = fetch(label, dist, version, package)
        files = sum(1 for _ in (root / "python").rglob("*.py"))
        ours_s, ours = _timed(
            [*keepref, "check", "--no-cache", "--format", "json", *extra, "python"], root
        )
        ruff_s, theirs = _timed(
            [*ruff, "check", "--isolated", "--no-cache", "--select", "RUF006",
             "--output-format", "json", "--exit-zero", "python"],
            root,
        )  # fmt: skip
        try:
            found = json.loads(ours.stdout or "[]")
        except json.JSONDecodeError:
            print(f"{label}: keepref-lint printed no JSON: {ours.stderr.strip()[:300]}")
            found = []
        rows = sorted([f["path"], f["line"], f["column"], f["code"], f["message"]] for f in found)
        ruff_rows = sorted(
            [os.path.relpath(f["filename"], root), f["location"]["row"]]
            for f in json.loads(theirs.stdout or "[]")
        )
        errors = sorted(line for line in ours.stderr.splitlines() if line.strip())
        record[label] = {
            "version": version,
            "files": files,
            "exit": ours.returncode,
            "findings": rows,
            "errors": errors,
            "ruff": ruff_rows,
            "seconds": round(ours_s, 3),
            "ruff_seconds": round(ruff_s, 3),
        }
        print(
            f"{label:16} {files:6} {ours_s:8.2f} {ruff_s:8.2f} {ours_s / ruff_s:6.1f}x "
            f"{len(rows):5} {len(ruff_rows):6}"
        )
    out.write_text(json.dumps(record, indent=1) + "\n")
    return 0


def diff(before_path: Path, after_path: Path, messages: bool = False) -> int:
    """Findings added or removed (by place and code), errors added or removed; a finding whose message
    alone changed is counted, and listed with ``messages``."""
    before = json.loads(before_path.read_text())
    after = json.loads(after_path.read_text())
    changed = False
    for label in sorted(set(before) | set(after)):
        if label not in before or label not in after:
            print(f"{label}: only in {'after' if label in after else 'before'}")
            continue
        old = {tuple(row[:4]): row[4] for row in before[label]["findings"]}
        new = {tuple(row[:4]): row[4] for row in after[label]["findings"]}
        for place in sorted(old.keys() - new.keys()):
            print(f"{label}: - {list(place)} {old[place]}")
        for place in sorted(new.keys() - old.keys()):
            print(f"{label}: + {list(place)} {new[place]}")
        reworded = [place for place in sorted(old.keys() & new.keys()) if old[place] != new[place]]
        if messages:
            for place in reworded:
                print(f"{label}: ~ {list(place)}\n    was: {old[place]}\n    now: {new[place]}")
        old_errors, new_errors = set(before[label]["errors"]), set(after[label]["errors"])
        for line in sorted(old_errors - new_errors):
            print(f"{label}: - error {line}")
        for line in sorted(new_errors - old_errors):
            print(f"{label}: + error {line}")
        changed = changed or old.keys() != new.keys() or old_errors != new_errors
        b, a = before[label], after[label]
        print(
            f"{label}: {len(b['findings'])} -> {len(a['findings'])} findings"
            f" ({len(reworded)} reworded), {b['seconds']:.2f} s -> {a['seconds']:.2f} s"
            f" (ruff {b['ruff_seconds']:.2f} s -> {a['ruff_seconds']:.2f} s)"
        )
    print("same places" if not changed else "findings differ")
    return 1 if changed else 0


def main() -> int:
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch")
    p_fetch.add_argument("--trees")
    p_find = sub.add_parser("findings")
    p_find.add_argument("out", type=Path)
    p_find.add_argument("--trees")
    p_diff = sub.add_parser("diff")
    p_diff.add_argument("before", type=Path)
    p_diff.add_argument("after", type=Path)
    p_diff.add_argument("--messages", action="store_true", help="list reworded messages too")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        for tree in _selected(args.trees):
            print(fetch(*tree))
        return 0
    if args.command == "findings":
        return findings(args.out, _selected(args.trees), extra)
    return diff(args.before, args.after, args.messages)


if __name__ == "__main__":
    raise SystemExit(main())
