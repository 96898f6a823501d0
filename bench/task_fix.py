"""The task fix on real trees: `keepref-lint fix` must leave nothing behind and break nothing.

    python bench/task_fix.py [--work DIR] [--more]

Downloads (into the bench cache) sglang 0.5.14, livekit-agents 1.7.1 and the livekit plugins whose dropped
tasks livekit fixed by hand in 1.8.0 (soniox, aws, inworld, hamming 1.7.1), then for each tree:
counts keepref-lint's findings and ruff's RUF006 findings, runs `keepref-lint fix`, and asserts
- no keepref-lint finding and no RUF006 finding is left,
- every changed file parses,
- a second `keepref-lint fix` changes nothing,
- `ruff check --select E1,E9 --preview` and pycodestyle's E1/E9 (E128 and friends, which ruff does not
  implement) report nothing on a changed line that they did not report on the original.
Prints a table of counts and writes each tree's diff to WORK/<tree>.diff. Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import keepref, unpacked

# (distribution, version, package folder in the wheel)
TREES = [
    ("sglang", "0.5.14", "sglang"),
    ("livekit-agents", "1.7.1", "livekit/agents"),
    ("livekit-plugins-soniox", "1.7.1", "livekit/plugins/soniox"),
    ("livekit-plugins-aws", "1.7.1", "livekit/plugins/aws"),
    ("livekit-plugins-inworld", "1.7.1", "livekit/plugins/inworld"),
    ("livekit-plugins-hamming", "1.7.1", "livekit/plugins/hamming"),
]
# --more: the tree with the most dropped tasks of the field survey (205 RUF006 findings)
MORE = [("litellm", "1.110.2", "litellm")]


def ruff(tree: Path, select: str, *extra: str, files: list[str] | None = None) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select", select,
         *extra, "--output-format", "json", *(files or ["python"])],
        cwd=tree, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return json.loads(proc.stdout or "[]")


def pycodestyle(tree: Path, files: list[str]) -> list[tuple[str, int, str]]:
    proc = subprocess.run(
        [sys.executable, "-m", "pycodestyle", "--select=E1,E9", "--max-line-length=200", *files],
        cwd=tree, capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = []
    for line in proc.stdout.splitlines():
        path, row, _col, message = line.split(":", 3)
        found.append((path, int(row), message.split()[0]))
    return found


def snapshot(tree: Path) -> dict[str, bytes]:
    return {str(p.relative_to(tree)): p.read_bytes() for p in sorted(tree.rglob("*.py"))}


def changed_lines(old: str, new: str) -> tuple[set[int], dict[int, int]]:
    """Lines of ``new`` that the fix added or changed, and for the others their line in ``old``."""
    added: set[int] = set()
    same: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    for tag, i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            same.update({j1 + k + 1: i1 + k + 1 for k in range(j2 - j1)})
        else:
            added.update(range(j1 + 1, j2 + 1))
    return added, same


def style_findings(tree: Path, files: list[str]) -> set[tuple[str, int, str]]:
    found = {
        (str(Path(f["filename"]).relative_to(tree)), f["location"]["row"], f["code"])
        for f in ruff(tree, "E1,E9", "--preview", files=files)
    }
    return found | set(pycodestyle(tree, files))


def run_tree(name: str, version: str, package: str, work: Path) -> tuple[dict, list[str]]:
    tree = unpacked(name, version, work / name, package=package)
    original = tree.parent / f"{name}.orig"
    unpacked(name, version, original, package=package)
    failures: list[str] = []
    before = snapshot(tree)
    ours_before = json.loads(
        keepref("check", "python", "--format", "json", "--no-cache", cwd=tree).stdout
    )
    ruff_before = ruff(tree, "RUF006")
    proc = keepref("fix", "python", "--no-cache", "--format", "json", cwd=tree)
    if proc.returncode not in (0, 1):
        failures.append(f"fix failed: {proc.stderr.strip()}")
    after = snapshot(tree)
    changed = sorted(p for p in after if after[p] != before.get(p))
    for path in changed:
        try:
            ast.parse(after[path])
        except SyntaxError as exc:
            failures.append(f"{path} does not parse: {exc}")
    ours_after = json.loads(
        keepref("check", "python", "--format", "json", "--no-cache", cwd=tree).stdout
    )
    ruff_after = ruff(tree, "RUF006")
    for f in ours_after:
        failures.append(
            f"keepref-lint finding left: {f['path']}:{f['line']} {f['code']} {f['message']}"
        )
    for f in ruff_after:
        failures.append(f"RUF006 left: {f['filename']}:{f['location']['row']}")
    second = keepref("fix", "python", "--no-cache", cwd=tree)
    if snapshot(tree) != after:
        failures.append(f"a second fix changed something: {second.stdout.strip()}")
    new_style = 0
    if changed:
        old_style = style_findings(original, changed)
        fixed_style = style_findings(tree, changed)
        for path in changed:
            old_text = before[path].decode("utf-8")
            new_text = after[path].decode("utf-8")
            added, same = changed_lines(old_text, new_text)
            for p, row, code in sorted(fixed_style):
                if p != path:
                    continue
                if row in added or (row in same and (p, same[row], code) not in old_style):
                    new_style += 1
                    failures.append(
                        f"new {code} at {path}:{row}: {new_text.splitlines()[row - 1]!r}"
                    )
    diff = "".join(
        "".join(
            difflib.unified_diff(
                before[p].decode("utf-8").splitlines(keepends=True),
                after[p].decode("utf-8").splitlines(keepends=True),
                fromfile=f"a/{p}",
                tofile=f"b/{p}",
            )
        )
        for p in changed
    )
    (work / f"{name}.diff").write_text(diff, encoding="utf-8")
    fixes = sum(1 for f in ours_before if f["fixable"])
    row = {
        "tree": f"{name} {version}",
        "files": len(before),
        "findings": len(ours_before),
        "fixable": fixes,
        "RUF006": len(ruff_before),
        "changed files": len(changed),
        "left": len(ours_after),
        "RUF006 left": len(ruff_after),
        "new E1/E9": new_style,
        "2nd run": "no-op" if snapshot(tree) == after else "CHANGED",
    }
    return row, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--more", action="store_true", help="also litellm 1.110.2 (slower)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="keepref-task-fix-"))
    work.mkdir(parents=True, exist_ok=True)
    rows, failures = [], []
    for name, version, package in TREES + (MORE if args.more else []):
        row, failed = run_tree(name, version, package, work)
        rows.append(row)
        failures += [f"{name}: {f}" for f in failed]
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    total = {c: sum(r[c] for r in rows) for c in columns if isinstance(rows[0][c], int)}
    print("total: " + ", ".join(f"{c} {n}" for c, n in total.items()))
    print(f"diffs: {work}/<tree>.diff")
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
