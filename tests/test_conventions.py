"""keepref-lint behaves as ruff and flake8 users expect: rule selection, documented configuration, and
an importable ``__main__``. Every test runs the real command."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent

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


    def main():
        start_server()
    """
)


def _project(tmp_path: Path, config: str = "") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'p'\nversion = '0'\n{config}")
    (tmp_path / "server.py").write_text(MARKED)
    (tmp_path / "app.py").write_text(USER)
    return tmp_path


@pytest.mark.parametrize(
    ("args", "reported"),
    [
        (["--ignore", "KR"], False),  # select KR (the default) and ignore KR tie: ignore wins
        (["--select", "KR001", "--ignore", "KR001"], False),
        (["--select", "KR00", "--ignore", "KR0"], True),  # the longer prefix wins
        (["--select", "KR001", "--ignore", "KR"], True),
        (["--select", "ALL"], True),
        (["--select", "ALL", "--ignore", "KR001"], False),
    ],
)
def test_select_and_ignore_follow_ruff(tmp_path: Path, args: list[str], reported: bool) -> None:
    proc = run_cli("check", "--no-cache", *args, cwd=_project(tmp_path))
    assert proc.returncode == (1 if reported else 0), proc.stdout + proc.stderr
    assert ("KR001" in proc.stdout) == reported


@pytest.mark.parametrize("selector", ["E501", "KR009", "KR1"])
def test_unknown_selector_is_an_error(tmp_path: Path, selector: str) -> None:
    root = _project(tmp_path)
    for args in (["--select", selector], ["--ignore", selector]):
        proc = run_cli("check", *args, cwd=root)
        assert proc.returncode == 2
        assert f"unknown rule selector {selector!r}" in proc.stderr
        assert len(proc.stderr.splitlines()) == 1
    config = _project(tmp_path / "config", f"[tool.keepref-lint]\nselect = ['{selector}']\n")
    proc = run_cli("check", cwd=config)
    assert proc.returncode == 2 and "unknown rule selector" in proc.stderr


def _documented_toml() -> str:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    return re.search(r"```toml\n(\[tool\.keepref-lint\].*?)```", page, re.DOTALL).group(1)


def test_documented_configuration_example_is_accepted(tmp_path: Path) -> None:
    root = _project(tmp_path, _documented_toml())
    proc = run_cli("check", cwd=root)
    assert proc.returncode == 1, proc.stderr  # the example selects KR, so app.py's drop is found
    assert "KR001" in proc.stdout


def test_every_documented_key_is_in_the_example_and_accepted(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    keys = re.findall(r"^\| `([a-z][a-z-]*)` \|", page, re.MULTILINE)
    assert {"must-retain", "select", "catalog", "catalog-disable", "cache-dir"} <= set(keys)
    example = _documented_toml()
    for key in keys:
        assert re.search(rf"^{re.escape(key)} = ", example, re.MULTILINE), key
    # And one key nobody documented is refused, so the check above means something.
    proc = run_cli("check", cwd=_project(tmp_path, "[tool.keepref-lint]\ncatalogue = true\n"))
    assert proc.returncode == 2 and "unknown key(s)" in proc.stderr


def test_every_documented_option_is_accepted(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = page.split("## Command-line overrides", 1)[1].split("\n## ", 1)[0]
    options = set(re.findall(r"`(--[a-z-]+|-[a-z])\b", section))
    assert {"--select", "--ignore", "--no-catalog", "--jobs"} <= options
    assert {
        "--exit-zero",
        "--statistics",
        "--show-fixes",
        "--output-format",
        "--add-noqa",
    } <= options
    options.discard("--add-noqa")  # it rewrites the files: tests/test_options.py runs it
    values = {
        "--must-retain": "server.start_server",
        "--decorator": "keep_alive",
        "--config": "pyproject.toml",
        "--select": "KR",
        "--ignore": "KR002",
        "--exclude": "build",
        "--cache-dir": ".cache-here",
        "-j": "1",
        "--jobs": "1",
        "--extend-select": "KR002",
        "--extend-ignore": "KR002",
        "--format": "json",
        "--output-format": "json-lines",
    }
    root = _project(tmp_path)
    for option in sorted(options):
        args = [option, values[option]] if option in values else [option]
        proc = run_cli("check", *args, cwd=root)
        assert proc.returncode in (0, 1), (option, proc.stderr)


def test_importing_main_runs_nothing() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import keepref_lint.__main__"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout == proc.stderr == ""
    proc = subprocess.run(
        [sys.executable, "-m", "keepref_lint", "explain", "KR001"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("# KR001")
