"""The options ruff users reach for, as ruff documents them: --exit-zero, --statistics, --show-fixes,
--extend-select/--extend-ignore, per-file-ignores, --output-format, a clean run saying so, .gitignore
(respect-gitignore, --force-exclude), --add-noqa, and progress on a terminal. Each runs the command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import read_terminal, run_cli

MARKED = textwrap.dedent(
    """\
    from keepref_lint import must_retain


    @must_retain
    def start_server():
        return object()
    """
)
USER = textwrap.dedent(
    """\
    from server import start_server


    class App:
        def run(self):
            start_server()

        def stop(self):
            server = start_server()
    """
)


def _project(tmp_path: Path, files: dict[str, str] | None = None, config: str = "") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'p'\nversion = '0'\n{config}")
    for name, text in (files or {"server.py": MARKED, "app.py": USER}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def _codes(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [
        line.split(": ", 1)[1].split()[0] for line in proc.stdout.splitlines() if ": KR" in line
    ]


def test_exit_zero(tmp_path: Path) -> None:
    root = _project(tmp_path)
    proc = run_cli("check", "--exit-zero", cwd=root)
    assert proc.returncode == 0 and "KR001" in proc.stdout
    assert run_cli("fix", "--diff", "--exit-zero", cwd=root).returncode == 0
    (root / "broken.py").write_text("from server import start_server\ndef (:\n")
    assert run_cli("check", "--exit-zero", cwd=root).returncode == 2  # errors still fail


def test_statistics(tmp_path: Path) -> None:
    root = _project(tmp_path)
    proc = run_cli("check", "--statistics", cwd=root)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == "1\tKR001\t[*] dropped-must-retain-result"
    assert lines[1] == "1\tKR002\t[*] must-retain-result-in-dead-local"
    assert "app.py:" not in proc.stdout
    import json

    rows = json.loads(run_cli("check", "--statistics", "--format", "json", cwd=root).stdout)
    assert {r["code"]: r["count"] for r in rows} == {"KR001": 1, "KR002": 1}


def test_show_fixes(tmp_path: Path) -> None:
    root = _project(tmp_path)
    out = run_cli("check", "--show-fixes", cwd=root).stdout
    assert "Would fix 2 findings:\n- app.py:\n    1 x KR001 (dropped-must-retain-result)" in out
    proc = run_cli("fix", "--show-fixes", cwd=root)
    assert "Fixed 2 findings:\n- app.py:" in proc.stdout
    assert "No findings fixed." in run_cli("fix", "--show-fixes", cwd=root).stdout


def test_extend_select_and_extend_ignore(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert _codes(run_cli("check", "--select", "KR001", cwd=root)) == ["KR001"]
    both = run_cli("check", "--select", "KR001", "--extend-select", "KR002", cwd=root)
    assert _codes(both) == ["KR001", "KR002"]
    assert _codes(run_cli("check", "--extend-ignore", "KR002", cwd=root)) == ["KR001"]
    assert run_cli("check", "--extend-ignore", "KR9", cwd=root).returncode == 2  # unknown selector
    config = _project(
        tmp_path / "config",
        config="[tool.keepref-lint]\nselect = ['KR001']\nextend-select = ['KR002']\n"
        "extend-ignore = ['KR001']\n",
    )
    assert _codes(run_cli("check", cwd=config)) == ["KR002"]


def test_per_file_ignores(tmp_path: Path) -> None:
    files = {"server.py": MARKED, "app.py": USER, "tests/test_app.py": USER, "legacy/old.py": USER}
    config = textwrap.dedent(
        """\
        [tool.keepref-lint.per-file-ignores]
        "tests/*" = ["KR"]
        "legacy" = ["KR002"]
        "!app.py" = ["KR001"]
        """
    )
    root = _project(tmp_path, files, config)
    proc = run_cli("check", "--output-format", "pylint", cwd=root)
    found = sorted(line.split(": ")[0] for line in proc.stdout.splitlines() if "[KR" in line)
    # tests/ ignores everything; legacy/ ignores KR002 and, not being app.py, KR001 too.
    assert found == ["app.py:6", "app.py:9"]
    bad = _project(tmp_path / "bad", config='[tool.keepref-lint.per-file-ignores]\n"x" = "KR"\n')
    proc = run_cli("check", cwd=bad)
    assert proc.returncode == 2 and "per-file-ignores" in proc.stderr


def test_output_format_is_an_alias_of_format(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert (
        run_cli("check", "--output-format", "json", cwd=root).stdout
        == run_cli("check", "--format", "json", cwd=root).stdout
    )


def test_a_clean_run_says_so(tmp_path: Path) -> None:
    root = _project(tmp_path, {"server.py": MARKED})
    proc = run_cli("check", cwd=root)
    assert proc.returncode == 0 and proc.stdout == "All checks passed!\n"
    assert run_cli("check", "-q", cwd=root).stdout == ""
    assert run_cli("check", "--format", "json", cwd=root).stdout == "[]\n"


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git_project(tmp_path: Path) -> Path:
    files = {"server.py": MARKED, "app.py": USER, "myenv/lib.py": USER, "secret.py": USER}
    root = _project(tmp_path, files)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("myenv/\nsecret.py\n")
    return root


def _paths(proc: subprocess.CompletedProcess[str]) -> set[str]:
    return {line.split(":")[0] for line in proc.stdout.splitlines() if ": KR" in line}


@needs_git
def test_gitignored_files_are_not_checked(tmp_path: Path) -> None:
    root = _git_project(tmp_path)
    assert _paths(run_cli("check", cwd=root)) == {"app.py"}
    assert _paths(run_cli("check", cwd=root)) == {"app.py"}  # warm: the stored answer of git
    everything = {"app.py", "myenv/lib.py", "secret.py"}
    assert _paths(run_cli("check", "--no-respect-gitignore", cwd=root)) == everything
    config = root / "pyproject.toml"
    config.write_text(config.read_text() + "[tool.keepref-lint]\nrespect-gitignore = false\n")
    assert _paths(run_cli("check", cwd=root)) == everything
    config.write_text(config.read_text().replace("false", "true"))
    # An edit to a .gitignore counts at once (the stored answer is keyed on it).
    (root / ".gitignore").write_text("myenv/\n")
    assert _paths(run_cli("check", cwd=root)) == {"app.py", "secret.py"}
    (root / "myenv" / ".gitignore").write_text("!lib.py\n")  # a nested .gitignore counts too
    assert "myenv/lib.py" not in _paths(
        run_cli("check", cwd=root)
    )  # git: a folder ignored stays so


@needs_git
def test_a_file_named_explicitly_is_checked_unless_force_exclude(tmp_path: Path) -> None:
    root = _git_project(tmp_path)
    assert _paths(run_cli("check", "secret.py", cwd=root)) == {"secret.py"}
    assert _paths(run_cli("check", "--force-exclude", "secret.py", cwd=root)) == set()
    assert _paths(run_cli("check", "--exclude", "app.py", "app.py", cwd=root)) == {"app.py"}
    proc = run_cli("check", "--force-exclude", "--exclude", "app.py", "app.py", cwd=root)
    assert proc.returncode == 0 and _paths(proc) == set()
    assert _paths(run_cli("check", "--exclude", "app.py", cwd=root)) == set()


def test_add_noqa(tmp_path: Path) -> None:
    source = textwrap.dedent(
        """\
        from server import start_server


        class App:
            def run(self):\r
                start_server()\r
                start_server()  # noqa: E501\r
                start_server()  # keep it\r
                start_server(
                    1,
                )
                start_server(\"\"\"a
        b\"\"\")

            def stop(self):
                server = start_server()
        """
    )
    expected = textwrap.dedent(
        """\
        from server import start_server


        class App:
            def run(self):\r
                start_server()  # noqa: KR001\r
                start_server()  # noqa: E501, KR001\r
                start_server()  # keep it  # noqa: KR001\r
                start_server(  # noqa: KR001
                    1,
                )
                start_server(\"\"\"a
        b\"\"\")  # noqa: KR001

            def stop(self):
                server = start_server()  # noqa: KR002
        """
    )
    root = _project(tmp_path, {"server.py": MARKED})
    (root / "app.py").write_bytes(source.encode())
    proc = run_cli("check", "--add-noqa", cwd=root)
    assert proc.returncode == 0 and proc.stdout == "Added 6 noqa directives.\n", proc.stderr
    assert (root / "app.py").read_bytes() == expected.encode()
    assert run_cli("check", cwd=root).stdout == "All checks passed!\n"
    proc = run_cli("check", "--add-noqa", cwd=root)
    assert proc.stdout == "Added 0 noqa directives.\n"
    assert (root / "app.py").read_bytes() == expected.encode()


def test_progress_shows_phases_on_a_terminal_only(tmp_path: Path) -> None:
    import pty

    root = _project(tmp_path)
    leader, follower = pty.openpty()
    subprocess.run(
        [sys.executable, "-m", "keepref_lint", "check", "--no-cache"],
        cwd=root,
        stderr=follower,
        stdout=subprocess.PIPE,
        check=False,
    )
    os.close(follower)
    shown = read_terminal(leader)
    frames = [frame.replace("\x1b[K", "") for frame in shown.split("\r") if frame.strip("\x1b[K")]
    assert frames[0] == "keepref-lint: scanning the project..."
    assert "keepref-lint: indexing 2 files..." in frames
    checking = [f for f in frames if f.startswith("keepref-lint: checking")]
    total = checking[-1].rpartition("/")[2]
    assert checking[0] == f"keepref-lint: checking 0/{total}"  # the first frame starts at zero
    assert checking[-1] == f"keepref-lint: checking {total.split()[0]}/{total}"
    assert shown.endswith("\r\x1b[K")  # cleared
    assert run_cli("check", cwd=root).stderr == ""  # not a terminal: nothing
