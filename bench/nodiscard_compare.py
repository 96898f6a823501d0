"""keepref-lint against nodiscard 0.1.1 on nodiscard's own test inputs.

    python bench/nodiscard_compare.py [--work DIR] [--sdist PATH]

Unpacks the nodiscard sdist (``~/.cache/keepref-lint-bench/peers/nodiscard-0.1.1.tar.gz``) into the
work folder, installs it with pytest into a throwaway venv there, and runs nodiscard's own test suite
with a small pytest plugin that records every input its tests feed the detector: each call of
``ExpressionStatementDetector.detect`` made outside ``checker.check`` (the ``check_source`` helper and
the tests that build a ``DetectionContext`` themselves: the source), and each call of
``checker.check`` (the files under the paths it is given, as they are at that moment). The fixture
folders under ``tests/fixtures`` are added as they are. Identical inputs are kept once.

Each input becomes a small project folder (its files and a ``pyproject.toml``); on each, nodiscard's
CLI (``nodiscard check --format json .``, which is ``checker.check``) and ``keepref-lint check
--no-cache --format json --decorator nodiscard .`` run, and their findings are matched by (file,
line). Prints a table and every difference, with the test that fed the input and the source line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE

SDIST = CACHE / "peers" / "nodiscard-0.1.1.tar.gz"

# The recorder: a pytest plugin loaded into nodiscard's own suite (written into the work folder).
PLUGIN = """
import ast
import json
import os
from pathlib import Path

OUT = Path(os.environ["ND_CAPTURE"])
_depth = [0]


def _test():
    return os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0]


def _write(record):
    with OUT.open("a") as f:
        f.write(json.dumps(record) + "\\n")


def _files(paths):
    files = {}
    several = len(paths) > 1
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.suffix in (".py", ".pyi") and f.is_file():
                    rel = f.relative_to(p).as_posix()
                    try:
                        files[(p.name + "/" if several else "") + rel] = f.read_text()
                    except (OSError, UnicodeDecodeError):
                        pass
        elif p.is_file() and p.suffix in (".py", ".pyi"):
            try:
                files[p.name] = p.read_text()
            except (OSError, UnicodeDecodeError):
                pass
    return files


def pytest_configure(config):
    import nodiscard.checker as checker
    import nodiscard.cli as cli
    from nodiscard._detector import ExpressionStatementDetector

    real_check = checker.check

    def check(paths, *args, **kwargs):
        files = _files(list(paths))
        if files:
            _write({"test": _test(), "via": "checker.check", "files": files})
        _depth[0] += 1
        try:
            return real_check(paths, *args, **kwargs)
        finally:
            _depth[0] -= 1

    checker.check = check
    cli.check = check
    real_detect = ExpressionStatementDetector.detect

    def detect(self, ctx):
        if not _depth[0]:
            if ctx.source_lines:
                source = "\\n".join(ctx.source_lines) + "\\n"
            else:
                source = ast.unparse(ctx.tree) + "\\n"
            name = Path(ctx.file_path).name or "test.py"
            _write({"test": _test(), "via": "detect", "files": {name: source}})
        return real_detect(self, ctx)

    ExpressionStatementDetector.detect = detect
"""


def sh(
    args: list[str], cwd: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def setup(work: Path, sdist: Path) -> tuple[Path, Path]:
    """Unpack the sdist and install it (with pytest) into ``work/venv``; returns (source tree, python)."""
    with tarfile.open(sdist) as tf:
        tf.extractall(work, filter="data")
    tree = next(work.glob("nodiscard-*/"))
    python = work / "venv" / "bin" / "python"
    if not python.exists():
        venv.create(work / "venv", with_pip=True)
        done = sh([str(python), "-m", "pip", "install", "--quiet", str(sdist), "pytest"])
        if done.returncode:
            raise SystemExit(f"bench: installing nodiscard failed:\n{done.stderr}")
    return tree, python


def capture(tree: Path, python: Path, work: Path) -> list[dict]:
    """Run nodiscard's suite with the recorder; the inputs, each once, with the tests that fed it."""
    (work / "nd_recorder.py").write_text(PLUGIN)
    out = work / "captured.jsonl"
    out.unlink(missing_ok=True)
    env = dict(os.environ, ND_CAPTURE=str(out), PYTHONPATH=f"{work}{os.pathsep}{tree}")
    done = sh(
        [str(python), "-m", "pytest", "-q", "-p", "nd_recorder", "-p", "no:cacheprovider", "tests"],
        tree,
        env,
    )
    print(
        f"nodiscard's suite: {done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr}"
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    # A CLI test run at the sdist's root checks nodiscard's own source and tests, not an input of its.
    own = [r for r in records if any(name.startswith("src/nodiscard/") for name in r["files"])]
    records = [r for r in records if r not in own]
    for r in own:
        print(f"left out: {r['test']} (checks nodiscard's own tree, {len(r['files'])} files)")
    for folder in sorted((tree / "tests" / "fixtures").iterdir()):
        files = {
            f.relative_to(folder).as_posix(): f.read_text()
            for f in sorted(folder.rglob("*.py"))
            if f.is_file() and _text(f)
        }
        records.append(
            {"test": f"tests/fixtures/{folder.name}", "via": "fixture folder", "files": files}
        )
    unique: dict[str, dict] = {}
    for record in records:
        key = hashlib.sha1(json.dumps(record["files"], sort_keys=True).encode()).hexdigest()
        if key in unique:
            unique[key]["tests"].append(record["test"])
        else:
            unique[key] = {
                "files": record["files"],
                "via": record["via"],
                "tests": [record["test"]],
            }
    return list(unique.values())


def _text(path: Path) -> bool:
    try:
        path.read_text()
    except (OSError, UnicodeDecodeError):
        return False
    return True


def project(root: Path, index: int, sample: dict) -> Path:
    name = re.sub(r"[^A-Za-z0-9]+", "_", sample["tests"][0].split("::")[-1])[:50]
    folder = root / f"{index:03d}_{name}"
    for rel, text in sample["files"].items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    (folder / "pyproject.toml").write_text(f"[project]\nname = 'nd{index:03d}'\nversion = '0'\n")
    return folder


def nodiscard_findings(python: Path, folder: Path) -> dict[tuple[str, int], str]:
    done = sh([str(python), "-m", "nodiscard.cli", "check", "--format", "json", "."], folder)
    try:
        data = json.loads(done.stdout)
    except ValueError:
        return {}
    found = {}
    for v in data["violations"]:
        rel = os.path.relpath(Path(folder, v["file"]).resolve(), folder.resolve())
        found[(Path(rel).as_posix(), v["line"])] = (
            f"{v['code']} {v['method']} on {v['receiver_type']}"
        )
    return found


def keepref_findings(folder: Path) -> dict[tuple[str, int], str]:
    args = [sys.executable, "-m", "keepref_lint", "check", "--no-cache", "--format", "json"]
    done = sh([*args, "--decorator", "nodiscard", "."], folder)
    try:
        data = json.loads(done.stdout or "[]")
    except ValueError:
        return {}
    return {
        (Path(f["path"]).as_posix().removeprefix("./"), f["line"]): f"{f['code']} {f['message']}"
        for f in data
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--sdist", type=Path, default=SDIST)
    options = parser.parse_args()
    work = (options.work or Path(tempfile.mkdtemp(prefix="keepref-nodiscard-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    tree, python = setup(work, options.sdist)
    samples = capture(tree, python, work)
    root = work / "projects"
    shutil.rmtree(root, ignore_errors=True)
    totals = {"nd": 0, "both": 0, "kr_only": 0, "nd_only": 0}
    differences = []
    for index, sample in enumerate(samples):
        folder = project(root, index, sample)
        nd, kr = nodiscard_findings(python, folder), keepref_findings(folder)
        totals["nd"] += len(nd)
        totals["both"] += len(nd.keys() & kr.keys())
        for side, only in (
            ("nodiscard only", nd.keys() - kr.keys()),
            ("keepref-lint only", kr.keys() - nd.keys()),
        ):
            totals["nd_only" if side == "nodiscard only" else "kr_only"] += len(only)
            for key in sorted(only):
                lines = sample["files"].get(key[0], "").splitlines()
                text = lines[key[1] - 1].strip() if 0 < key[1] <= len(lines) else "?"
                what = nd.get(key) or kr.get(key)
                differences.append((side, folder.name, key, text, what, sample["tests"][0]))
    kinds = {
        via: sum(1 for s in samples if s["via"] == via)
        for via in ("detect", "checker.check", "fixture folder")
    }
    print(
        f"inputs: {len(samples)} project folders under {root}: "
        + ", ".join(f"{n} via {k}" for k, n in kinds.items())
    )
    print()
    print("| nodiscard findings | matched by keepref-lint | keepref-lint only | nodiscard only |")
    print("|---:|---:|---:|---:|")
    print(f"| {totals['nd']} | {totals['both']} | {totals['kr_only']} | {totals['nd_only']} |")
    print()
    for side, name, (path, line), text, what, test in differences:
        print(f"- {side}: {name}/{path}:{line}: `{text}` ({what}; from {test})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
