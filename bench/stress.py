"""Whole-tree stress run: mark builtins.print, fix all of sglang, and prove no file was broken.

    python bench/stress.py [--work DIR]

1. Unpack sglang 0.5.23 into a fresh folder and run ``keepref-lint check --format json`` with
   ``--must-retain builtins.print``: the findings, with each fix's keeper, are the intended edits.
2. Run ``keepref-lint fix`` on the tree.
3. Independently of the engine, check every file on disk: it parses; its ``ast`` equals the original's
   with exactly the intended edits (bare call -> assignment to the keeper, dead local -> keeper); files
   without fixes are byte-identical.
4. Run ``fix`` again and check that nothing changes.
Prints the figures and exits non-zero on any broken file.
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import keepref, unpacked

MARK = ["--must-retain", "builtins.print", "--no-cache"]


def intended(tree: ast.Module, keepers: dict[tuple[int, int], str]) -> str:
    """The original tree with each fixed statement rewritten as the fix means to, dumped."""
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            body = getattr(node, name, None)
            if not isinstance(body, list):
                continue
            for i, stmt in enumerate(body):
                keeper = keepers.get((getattr(stmt, "lineno", 0), getattr(stmt, "col_offset", -1)))
                if keeper is None:
                    continue
                target = ast.parse(keeper, mode="eval").body
                target.ctx = ast.Store()
                if isinstance(stmt, ast.Expr):
                    body[i] = ast.Assign(targets=[target], value=stmt.value, type_comment=None)
                elif isinstance(stmt, ast.Assign):
                    body[i] = ast.Assign(
                        targets=[target], value=stmt.value, type_comment=stmt.type_comment
                    )
                elif isinstance(stmt, ast.AnnAssign):
                    body[i] = ast.AnnAssign(
                        target, stmt.annotation, stmt.value, int(isinstance(target, ast.Name))
                    )
    return ast.dump(tree)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="keepref-stress-"))
    tree = unpacked("sglang", "0.5.23", work / "sglang")
    original = work / "original"
    shutil.rmtree(original, ignore_errors=True)
    shutil.copytree(tree, original)

    check = keepref("check", "python", "--format", "json", *MARK, cwd=tree)
    findings = json.loads(check.stdout)
    keepers: dict[str, dict[tuple[int, int], str]] = {}
    for finding in findings:
        if finding["fixable"]:
            keepers.setdefault(finding["path"], {})[(finding["line"], finding["column"] - 1)] = (
                finding["fix"]["keeper"]
            )

    started = time.perf_counter()
    fix = keepref("fix", "python", "-q", *MARK, cwd=tree)
    seconds = time.perf_counter() - started

    files = sorted(p.relative_to(original) for p in (original / "python").rglob("*.py"))
    changed = unparsable = different = untouched_changed = 0
    for rel in files:
        old, new = (original / rel).read_bytes(), (tree / rel).read_bytes()
        key = str(rel)
        if old == new:
            continue
        changed += 1
        if key not in keepers:
            untouched_changed += 1
            print(f"CHANGED WITHOUT A FIX: {rel}")
            continue
        try:
            new_tree = ast.parse(new)
        except SyntaxError as exc:
            unparsable += 1
            print(f"DOES NOT PARSE: {rel}: {exc}")
            continue
        if ast.dump(new_tree) != intended(ast.parse(old), keepers[key]):
            different += 1
            print(f"AST DIFFERS BEYOND THE FIX: {rel}")

    snapshot = {rel: (tree / rel).read_bytes() for rel in files}
    keepref("fix", "python", "-q", *MARK, cwd=tree)
    second_changes = sum((tree / rel).read_bytes() != data for rel, data in snapshot.items())

    fixes = sum(len(v) for v in keepers.values())
    declined = len(findings) - fixes
    print("| figure | value |")
    print("|---|---:|")
    print(f"| Python files in the tree | {len(files)} |")
    print(f"| findings (builtins.print marked) | {len(findings)} |")
    print(f"| rewrites applied | {fixes} |")
    print(f"| findings declined (no safe fix) | {declined} |")
    print(f"| files changed | {changed} |")
    print(f"| files that fail to parse | {unparsable} |")
    print(f"| files whose AST differs beyond the intended edits | {different} |")
    print(f"| files changed without a fix | {untouched_changed} |")
    print(f"| files changed by a second fix | {second_changes} |")
    print(f"| fix wall time (s) | {seconds:.1f} |")
    print(
        f"| fix exit status / errors on stderr | {fix.returncode} / {len(fix.stderr.splitlines())} |"
    )
    broken = unparsable + different + untouched_changed + second_changes
    print("PASS" if broken == 0 else "FAIL")
    return 0 if broken == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
