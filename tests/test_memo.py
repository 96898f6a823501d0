"""The memo of a repeated ``check`` (memo.py): the same output, errors and status as the whole command
while nothing the run read has changed, and no answer from it after any change that could alter them.

Most tests run the command in this process with the memo's margin set to zero (files written by a test
are seconds old, and a memo is not written over anything changed in the two seconds before its run);
one runs the installed command twice in real processes, past the margin."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import MARKED, USER

from keepref_lint import cli, memo

BROKEN = b"from pkg.server import start_server\n\n\ndef broken(:\n    start_server()\n"


@pytest.fixture
def no_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "MARGIN_NS", 0)


def project(tmp_path: Path) -> Path:
    """A project with a finding, a file that does not parse (an error on standard error) and a folder
    without Python files. Its cache folder is made now: a run that makes it changes the root, and
    writes no memo."""
    root = tmp_path / "proj"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / ".keepref-cache").mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '0'\n")
    (root / "pkg" / "server.py").write_text(MARKED)
    (root / "pkg" / "app.py").write_bytes(USER.replace(b"from server", b"from pkg.server"))
    (root / "pkg" / "sub" / "broken.py").write_bytes(BROKEN)
    return root


def run_whole(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str, int]:
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return out, err, status


def replayed(argv: list[str]) -> tuple[str, str, int] | None:
    out, err = io.StringIO(), io.StringIO()
    status = memo.replay(argv, out, err)
    if status is None:
        assert not out.getvalue() and not err.getvalue(), "nothing is written without a memo"
        return None
    return out.getvalue(), err.getvalue(), status


def memos(folder: Path) -> list[Path]:
    return sorted(folder.glob("memo-*.marshal"))


@pytest.mark.parametrize(
    "extra",
    [[], ["-q"], ["--format", "json"], ["--statistics"], ["--exit-zero", "--format", "github"]],
    ids=["text", "quiet", "json", "statistics", "github"],
)
def test_a_memo_gives_what_the_whole_command_gave(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_margin,
    extra: list[str],
) -> None:  # fmt: skip
    root = project(tmp_path)
    monkeypatch.chdir(root)
    argv = ["check", *extra, "."]
    first = run_whole(argv, capsys)
    assert "KR00" in first[0] or "KR00" in first[0] + first[1] or extra == ["--statistics"]
    assert "broken.py" in first[1]  # the file that does not parse, on standard error
    assert len(memos(root / ".keepref-cache")) == 1
    assert replayed(argv) == first
    # The whole command, run again, gives the same: the memo is that command's output.
    assert run_whole(argv, capsys) == first


def edit_text(root: Path) -> None:
    (root / "pkg" / "app.py").write_bytes(
        USER.replace(b"from server", b"from pkg.server") + b"# x\n"
    )


def same_size_new_time(root: Path) -> None:
    path = root / "pkg" / "app.py"
    data = path.read_bytes()
    path.write_bytes(data.replace(b"App", b"Foo"))
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))  # the same times: only the ctime moves


def add_file(root: Path) -> None:
    (root / "pkg" / "sub" / "more.py").write_bytes(
        b"from pkg.server import start_server\nstart_server()\n"
    )


def add_file_to_empty_folder(root: Path) -> None:
    (root / "empty" / "new.py").write_bytes(b"x = 1\n")


def remove_file(root: Path) -> None:
    (root / "pkg" / "sub" / "broken.py").unlink()


def rename_file(root: Path) -> None:
    (root / "pkg" / "sub" / "broken.py").rename(root / "pkg" / "sub" / "broken2.py")


def add_config(root: Path) -> None:
    with open(root / "pyproject.toml", "a") as handle:
        handle.write("\n[tool.keepref-lint]\nignore = ['KR001']\n")


def add_gitignore(root: Path) -> None:
    (root / ".gitignore").write_text("broken.py\n")


def config_above_the_root(root: Path) -> None:
    """The configuration is now found above (its cache folder kept where the memo is looked for)."""
    (root / "pyproject.toml").unlink()
    (root.parent / "pyproject.toml").write_text(
        "[tool.keepref-lint]\nselect = ['KR002']\ncache-dir = 'proj/.keepref-cache'\n"
    )


def remove_folder(root: Path) -> None:
    (root / "empty").rmdir()


def make_git_work_tree(root: Path) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("sub/\n")


CHANGES = [
    edit_text, same_size_new_time, add_file, add_file_to_empty_folder, remove_file, rename_file,
    add_config, add_gitignore, config_above_the_root, remove_folder, make_git_work_tree,
]  # fmt: skip


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__ for c in CHANGES])
def test_no_answer_from_the_memo_after_a_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_margin,
    change,
) -> None:  # fmt: skip
    root = project(tmp_path)
    monkeypatch.chdir(root)
    argv = ["check", "."]
    run_whole(argv, capsys)
    assert replayed(argv) is not None
    change(root)
    assert replayed(argv) is None
    # ... and the run after it writes the memo of the new state.
    again = run_whole(argv, capsys)
    assert replayed(argv) == again


def test_a_memo_is_for_one_command_line_folder_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_margin
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root)
    run_whole(["check", "."], capsys)
    assert replayed(["check", "."]) is not None
    assert replayed(["check", "-q", "."]) is None
    assert replayed(["check", "pkg"]) is None
    monkeypatch.setenv("NO_COLOR", "1")
    assert replayed(["check", "."]) is None
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("GIT_DIR", str(tmp_path))  # git's answer about ignored files follows it
    assert replayed(["check", "."]) is None
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.setenv("KEEPREF_LINT_STATS", str(tmp_path / "stats.json"))
    assert replayed(["check", "."]) is None  # statistics asked for: the whole command runs
    monkeypatch.delenv("KEEPREF_LINT_STATS")
    assert replayed(["check", "."]) is not None


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--no-cache", "."],
        ["fix", "."],
        ["fix", "--diff", "."],
        ["check", "--add-noqa", "."],
        ["check", "--stdin-filename", "pkg/app.py", "-"],
    ],
    ids=["no-cache", "fix", "fix-diff", "add-noqa", "stdin"],
)
def test_no_memo_for_runs_that_write_or_read_what_it_cannot_see(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_margin,
    argv: list[str],
) -> None:  # fmt: skip
    root = project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(USER)))
    cli.main(argv)
    capsys.readouterr()
    assert memos(root / ".keepref-cache") == []
    assert replayed(argv) is None


def test_no_memo_where_the_next_command_would_not_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_margin
) -> None:
    """A cache folder set in the configuration (the memo is found without reading it), or a run from a
    folder below the root (whose cache folder is the root's)."""
    root = project(tmp_path)
    with open(root / "pyproject.toml", "a") as handle:
        handle.write("\n[tool.keepref-lint]\ncache-dir = 'elsewhere'\n")
    monkeypatch.chdir(root)
    run_whole(["check", "."], capsys)
    assert memos(root / "elsewhere") == [] and memos(root / ".keepref-cache") == []
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '0'\n")
    monkeypatch.chdir(root / "pkg")
    run_whole(["check", "."], capsys)
    assert memos(root / ".keepref-cache") == []
    assert replayed(["check", "."]) is None


def test_cache_dir_given_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_margin
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root / "pkg")  # below the root: found through --cache-dir
    argv = ["check", "--cache-dir", str(tmp_path / "c"), "."]
    first = run_whole(argv, capsys)
    assert len(memos(tmp_path / "c")) == 1
    assert replayed(argv) == first
    assert replayed(["check", f"--cache-dir={tmp_path / 'c'}", "."]) is None  # another command line


def test_not_written_over_what_changed_just_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file changed twice within one tick of the file system's clock keeps its time: what changed in
    the two seconds before the run is read again by the next run, not trusted."""
    root = project(tmp_path)
    monkeypatch.chdir(root)
    run_whole(["check", "."], capsys)  # every file was written a moment ago
    assert memos(root / ".keepref-cache") == []


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_a_damaged_memo_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_margin,
    damage: str,
) -> None:  # fmt: skip
    root = project(tmp_path)
    monkeypatch.chdir(root)
    run_whole(["check", "."], capsys)
    [entry] = memos(root / ".keepref-cache")
    data = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        entry.write_bytes(data[:-5] + bytes([data[-5] ^ 1]) + data[-4:])
    else:
        entry.write_bytes(os.urandom(len(data)))
    assert replayed(["check", "."]) is None


def test_memos_are_pruned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_margin
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root)
    for n in range(memo.KEEP + 3):
        run_whole(["check", "--select", "KR", *(["-q"] * (n + 1)), "."], capsys)
    assert len(memos(root / ".keepref-cache")) == memo.KEEP


def test_the_installed_command_replays_without_importing_the_checker(tmp_path: Path) -> None:
    """Real processes, past the margin: the second run is answered by the memo alone (no cli, engine
    or parser imported), with the first run's output and status."""
    root = project(tmp_path)
    time.sleep(memo.MARGIN_NS / 1e9 + 0.1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPREF_LINT_")}
    command = [sys.executable, "-X", "importtime", "-m", "keepref_lint", "check", "."]
    runs = [
        subprocess.run(command, cwd=root, capture_output=True, text=True, env=env) for _ in "ab"
    ]

    def imported(proc: subprocess.CompletedProcess[str]) -> set[str]:
        lines = [line for line in proc.stderr.splitlines() if line.startswith("import time:")]
        return {line.rsplit("|", 1)[1].strip() for line in lines}

    def output(proc: subprocess.CompletedProcess[str]) -> tuple[str, str, int]:
        err = "".join(
            line + "\n" for line in proc.stderr.splitlines() if not line.startswith("import time:")
        )
        return proc.stdout, err, proc.returncode

    first, second = runs
    assert "keepref_lint.cli" in imported(first)
    replaying = {
        "keepref_lint",
        "keepref_lint.console",
        "keepref_lint.memo",
        "keepref_lint.entries",
    }
    replaying.add("keepref_lint.streams")
    assert {name for name in imported(second) if name.startswith("keepref_lint")} == replaying
    assert "__future__" not in imported(second)  # (a sixth of the memo's own time)
    assert output(second) == output(first)
    assert first.returncode == 2  # a file that does not parse
    assert "KR001" in first.stdout and "broken.py: syntax error" in first.stderr


def test_no_memo_of_output_written_past_the_text_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_margin
) -> None:
    """Bytes written to ``sys.stdout.buffer`` are not kept, so a run that reaches for it has no memo."""
    root = project(tmp_path)
    monkeypatch.chdir(root)
    real_check = cli._check

    def check_with_bytes(args, result):  # type: ignore[no-untyped-def]
        sys.stdout.buffer  # noqa: B018 - the access is what is tested
        return real_check(args, result)

    monkeypatch.setattr(cli, "_check", check_with_bytes)
    run_whole(["check", "."], capsys)
    assert memos(root / ".keepref-cache") == []
    monkeypatch.setattr(cli, "_check", real_check)
    run_whole(["check", "."], capsys)
    assert len(memos(root / ".keepref-cache")) == 1


def test_only_a_check_keeps_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another command's output is not kept while it runs (the language server writes for hours)."""
    kept: dict[str, list | None] = {}
    real_check, real_explain = cli._check, cli._explain

    def check(args, result):  # type: ignore[no-untyped-def]
        kept["check"] = sys.stdout.written
        return real_check(args, result)

    def explain(code):  # type: ignore[no-untyped-def]
        kept["explain"] = sys.stdout.written
        return real_explain(code)

    monkeypatch.setattr(cli, "_check", check)
    monkeypatch.setattr(cli, "_explain", explain)
    monkeypatch.chdir(project(tmp_path))
    cli.main(["check", "."])
    cli.main(["explain", "KR001"])
    capsys.readouterr()
    assert kept["check"] is not None and kept["explain"] is None


def test_a_script_of_an_earlier_install_still_runs(tmp_path: Path) -> None:
    """Console scripts written before the command moved to console.py import ``cli.console``."""
    root = project(tmp_path)
    old_script = "import sys; from keepref_lint.cli import console; sys.exit(console())"
    runs = [
        subprocess.run(command, cwd=root, capture_output=True, text=True)
        for command in (
            [sys.executable, "-c", old_script, "check", "."],
            [sys.executable, "-m", "keepref_lint", "check", "."],
        )
    ]
    old, new = ((r.stdout, r.stderr, r.returncode) for r in runs)
    assert old == new
    assert "KR001" in old[0] and old[2] == 2
