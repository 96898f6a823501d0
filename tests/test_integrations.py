"""The front ends, run for real: flake8 in a subprocess, pre-commit try-repo, libcst's codemod runner, ruff."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import FIXTURES, Scenario, python_files, run_cli

ROOT = Path(__file__).resolve().parent.parent
CROSS = FIXTURES / "projects" / "cross_module"
FLAKE8_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>KR\d{3}) (?P<message>.*)$"
)


def copy_project(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    for fixed in dest.rglob("*.fixed"):
        fixed.unlink()
    return dest


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, env=env)


def flake8_findings(root: Path, *args: str, env: dict[str, str] | None = None) -> set[tuple]:
    proc = run([sys.executable, "-m", "flake8", "--select", "KR", *args], root, env)
    assert proc.returncode in (0, 1), proc.stderr
    found = set()
    for line in proc.stdout.splitlines():
        match = FLAKE8_LINE.match(line)
        assert match, line
        path = os.path.normpath(match["path"])
        found.add((path, int(match["line"]), int(match["col"]), match["code"], match["message"]))
    return found


def cli_findings(root: Path, *paths: str) -> set[tuple]:
    proc = run_cli("check", "--format", "json", *paths, cwd=root)
    return {
        (os.path.normpath(f["path"]), f["line"], f["column"], f["code"], f["message"])
        for f in json.loads(proc.stdout)
    }


def test_flake8_matches_cli_in_parallel_and_on_one_file(tmp_path: Path) -> None:
    root = copy_project(CROSS, tmp_path / "p")
    expected = cli_findings(root)
    assert len(expected) == 13
    assert flake8_findings(root, "-j", "2", ".") == expected
    one = "app/users/forms.py"
    assert (
        flake8_findings(root, one)
        == {f for f in expected if f[0] == one}
        == cli_findings(root, one)
    )


def test_flake8_builds_the_index_once_under_jobs(tmp_path: Path) -> None:
    root = copy_project(CROSS, tmp_path / "p")
    env = {**os.environ, "KEEPREF_LINT_DEBUG": "1"}
    proc = run([sys.executable, "-m", "flake8", "--select", "KR", "-j", "2", "."], root, env)
    assert proc.stderr.count("keepref-lint: built the index") == 1, proc.stderr
    proc = run([sys.executable, "-m", "flake8", "--select", "KR", "-j", "2", "."], root, env)
    assert "built the index" not in proc.stderr  # loaded from the on-disk cache
    service = root / "app" / "service.py"
    service.write_text(service.read_text() + "\n# changed\n")
    proc = run([sys.executable, "-m", "flake8", "--select", "KR", "-j", "2", "."], root, env)
    assert "built the index" not in proc.stderr  # read again: it gives the index what it gave
    service.write_text(service.read_text().replace('attr="channel"', 'attr="link"'))
    proc = run([sys.executable, "-m", "flake8", "--select", "KR", "-j", "2", "."], root, env)
    assert proc.stderr.count("keepref-lint: built the index") == 1  # a mark changed: built again
    assert "self.link = ..." in proc.stdout


@pytest.mark.parametrize("config_file", ["setup.cfg", "tox.ini", ".flake8"])
def test_flake8_options_from_config_files(tmp_path: Path, config_file: str) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "app.py").write_text(
        "import lib\n\n\nclass A:\n    def f(self):\n        lib.go()\n        lib.stay()\n"
    )
    assert flake8_findings(root, "app.py") == set()
    (root / config_file).write_text("[flake8]\nmust-retain =\n    lib.go:handle,\n    lib.stay\n")
    found = flake8_findings(root, "app.py")
    assert {(f[1], f[3]) for f in found} == {(6, "KR001"), (7, "KR001")}
    assert any("self.handle = ..." in f[4] for f in found)


def test_flake8_honours_pyproject_and_noqa(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text("[tool.keepref-lint]\nmust-retain = ['lib.go']\n")
    source = "import lib\n\n\nclass A:\n    def f(self):\n        lib.go()\n        lib.go()  # noqa: KR001\n"
    (root / "app.py").write_text(source)
    assert {(f[1], f[3]) for f in flake8_findings(root, "app.py")} == {(6, "KR001")}


def test_codemod_runner_applies_the_same_fix(tmp_path: Path) -> None:
    root = copy_project(CROSS, tmp_path / "p")
    proc = run(
        [sys.executable, "-m", "libcst.tool", "codemod", "-x", "keepref_lint.codemod.KeepReferences",
         "--no-format", "-j", "2", "."],
        root,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for path in python_files(root):
        rel = path.relative_to(root)
        expected = CROSS / rel.with_name(rel.name + ".fixed")
        if not expected.exists():
            expected = CROSS / rel
        assert path.read_bytes() == expected.read_bytes(), rel


def test_codemod_warns_where_no_fix_is_safe(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    shutil.copy(FIXTURES / "fix_placement.py", root / "fix_placement.py")
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '0'\n")
    proc = run(
        [sys.executable, "-m", "libcst.tool", "codemod", "-x", "keepref_lint.codemod.KeepReferences",
         "--no-format", "fix_placement.py"],
        root,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (root / "fix_placement.py").read_bytes() == (
        FIXTURES / "fix_placement.py.fixed"
    ).read_bytes()
    assert "no automatic fix: in a loop" in proc.stderr
    assert "no automatic fix: inside a static method" in proc.stderr
    assert "10 warnings were generated" in proc.stderr


def test_ruff_keeps_noqa_kr001_with_lint_external(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    source = "import lib\n\n\ndef f():\n    lib.go()  # noqa: KR001\n"
    (root / "app.py").write_text(source)
    ruff = [
        sys.executable,
        "-m",
        "ruff",
        "check",
        "--fix",
        "--extend-select",
        "RUF100,RUF102",
        "app.py",
    ]
    (root / "ruff.toml").write_text("[lint]\n")
    run(ruff, root)
    assert "# noqa" not in (root / "app.py").read_text(), (
        "without lint.external ruff deletes the directive"
    )
    (root / "app.py").write_text(source)
    (root / "ruff.toml").write_text('[lint]\nexternal = ["KR"]\n')
    proc = run(ruff, root)
    assert proc.returncode == 0, proc.stdout
    assert (root / "app.py").read_text() == source


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is needed for pre-commit")
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture(scope="module")
def hook_repo(pre_commit_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository pre-commit installs the hooks from: this checkout, or (from an unpacked sdist,
    which is no git repository) a git repository made of what the hooks install."""
    if (ROOT / ".git").exists():
        return ROOT
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", ".pre-commit-hooks.yaml"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, repo / name)
    shutil.copytree(
        ROOT / "src", repo / "src", symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(ROOT / "docs", repo / "docs")
    git_project(repo)
    return repo


def git_project(root: Path) -> None:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, env={**os.environ, **env})


@pytest.mark.parametrize("hook", ["keepref-lint", "keepref-lint-fix"])
def test_pre_commit_hooks_on_a_staged_file(
    tmp_path: Path, pre_commit_home: Path, hook_repo: Path, hook: str
) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "service.py").write_text(
        "from keepref_lint import must_retain\n\n\n@must_retain\ndef start_service():\n    return object()\n"
    )
    (root / "app.py").write_text("class App:\n    def run(self):\n        pass\n")
    git_project(root)
    user = "from service import start_service\n\n\nclass App:\n    def run(self):\n        start_service()\n"
    (root / "app.py").write_text(user)
    subprocess.run(["git", "add", "app.py"], cwd=root, check=True)
    env = {**os.environ, "PRE_COMMIT_HOME": str(pre_commit_home)}
    proc = run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), hook, "--files", "app.py"],
        root,
        env,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    if hook == "keepref-lint":
        assert "app.py:6:9: KR001 result of start_service() is dropped" in proc.stdout
        assert (root / "app.py").read_text() == user
    else:
        assert "files were modified by this hook" in proc.stdout
        assert (root / "app.py").read_text() == user.replace(
            "        start_service()",
            "        # Keep a reference so the service is not garbage-collected.\n"
            "        self.service = start_service()",
        )


def test_project_hook_finds_the_callers_of_a_new_mark(
    tmp_path: Path, pre_commit_home: Path, hook_repo: Path
) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "service.py").write_text("def start_service():\n    return object()\n")
    user = "from service import start_service\n\n\nclass App:\n    def run(self):\n        start_service()\n"
    (root / "app.py").write_text(user)
    git_project(root)
    (root / "service.py").write_text(
        "from keepref_lint import must_retain\n\n\n@must_retain\ndef start_service():\n    return object()\n"
    )
    subprocess.run(["git", "add", "service.py"], cwd=root, check=True)
    env = {**os.environ, "PRE_COMMIT_HOME": str(pre_commit_home)}
    outcomes = {}
    for hook in ("keepref-lint", "keepref-lint-project"):
        proc = run(
            [
                sys.executable,
                "-m",
                "pre_commit",
                "try-repo",
                str(hook_repo),
                hook,
                "--files",
                "service.py",
            ],
            root,
            env,
        )
        outcomes[hook] = (proc.returncode, "app.py:6:9: KR001" in proc.stdout)
    # The staged-files hook sees only service.py; the project hook finds the caller's drop.
    assert outcomes == {"keepref-lint": (0, False), "keepref-lint-project": (1, True)}


def test_flake8_reuses_per_file_results_until_something_changes(tmp_path: Path) -> None:
    root = copy_project(CROSS, tmp_path / "p")
    first = flake8_findings(root, "-j", "2", ".")
    entries = list((root / ".keepref-cache" / "flake8").glob("*.pickle"))
    assert entries, "the plugin stores per-file results"
    assert flake8_findings(root, "-j", "2", ".") == first
    forms = root / "app" / "users" / "forms.py"
    forms.write_text(
        forms.read_text().replace("        start_service()  # error: KR001\n", "        pass\n")
    )
    after = flake8_findings(root, "-j", "2", ".")
    assert len(after) == len(first) - 1
    service = root / "app" / "service.py"
    service.write_text(
        service.read_text().replace("@must_retain\ndef start_service", "def start_service")
    )
    assert len(flake8_findings(root, "-j", "2", ".")) < len(
        after
    )  # a change elsewhere invalidates too


def test_flake8_reads_marks_in_stubs_and_never_reports_a_stub(tmp_path: Path) -> None:
    root = Scenario("stub_marks", FIXTURES / "projects" / "stub_marks").install(tmp_path)
    stub = root / "app" / "ext.pyi"
    stub.write_text(stub.read_text() + "\ndef helper() -> None:\n    watch('x')\n")
    found = flake8_findings(root, "--filename", "*.py,*.pyi", ".")
    assert found == cli_findings(root, ".")
    assert len(found) == 6
    assert not any(path.endswith(".pyi") for path, *_ in found)
