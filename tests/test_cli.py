"""The CLI contract: output formats, exit codes, errors, configuration, suppression, byte-exact fixes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import FIXTURES, read_terminal, run_cli

MARKED = textwrap.dedent(
    """\
    from keepref_lint import must_retain


    @must_retain(reason="the server stops when collected")
    def start_server():
        return object()
    """
)


def project(tmp_path: Path, files: dict[str, str | bytes], config: str = "") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'p'\nversion = '0'\n{config}")
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))
    return tmp_path


USER = """\
from server import start_server


class App:
    def run(self):
        start_server()
"""


def test_text_output_and_exit_codes(tmp_path: Path) -> None:
    root = project(tmp_path, {"server.py": MARKED, "app.py": USER})
    proc = run_cli("check", cwd=root)
    assert proc.returncode == 1
    first = proc.stdout.splitlines()[0]
    assert first == (
        "app.py:6:9: KR001 result of start_server() is dropped (the server stops when collected); "
        "keep a reference (e.g. self.server = ...)"
    )
    assert run_cli("check", "server.py", cwd=root).returncode == 0


def test_json_fields(tmp_path: Path) -> None:
    root = project(tmp_path, {"server.py": MARKED, "app.py": USER})
    (finding,) = json.loads(run_cli("check", "--format", "json", cwd=root).stdout)
    assert {"path", "line", "column", "code", "message", "callee", "fixable"} <= set(finding)
    assert finding["callee"] == "server.start_server"
    assert (finding["path"], finding["line"], finding["column"], finding["fixable"]) == (
        "app.py",
        6,
        9,
        True,
    )


def test_only_named_files_are_reported_but_the_index_covers_the_project(tmp_path: Path) -> None:
    root = project(tmp_path, {"server.py": MARKED, "app.py": USER, "other.py": USER})
    proc = run_cli("check", "--format", "json", "app.py", cwd=root)
    assert [f["path"] for f in json.loads(proc.stdout)] == ["app.py"]


def test_bad_file_is_one_line_error_and_others_are_still_checked(tmp_path: Path) -> None:
    broken = "from server import start_server\n\ndef f(:\n    start_server()\n"
    root = project(tmp_path, {"server.py": MARKED, "app.py": USER, "broken.py": broken})
    proc = run_cli("check", cwd=root)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["broken.py: syntax error at line 3: invalid syntax"]
    assert "app.py:6:9: KR001" in proc.stdout


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    root = project(tmp_path, {"server.py": MARKED})
    proc = run_cli("check", "nope.py", cwd=root)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "nope.py: no such file or directory"


def test_a_missing_path_at_the_top_of_the_disk_does_not_make_the_disk_the_project(
    tmp_path: Path,
) -> None:
    """``/missing`` once made ``/`` the project root, and the run walked the whole file system."""
    missing = f"/keepref-lint-test-missing-{tmp_path.name}"
    proc = subprocess.run(
        [sys.executable, "-m", "keepref_lint", "check", missing],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{missing}: no such file or directory"
    assert not (tmp_path / ".keepref-cache").exists()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "[tool.keepref-lint]\nmust-retain = 3\n",
            "'must-retain' must be a list of names or tables",
        ),
        ("[tool.keepref-lint]\nmust-retain = ['nodots']\n", "is not a qualified name"),
        (
            "[tool.keepref-lint]\nmust-retain = [{ name = 'a.b', attr = 'not valid' }]\n",
            "is not a Python identifier",
        ),
        (
            "[tool.keepref-lint]\nmust-retain = [{ name = 'a.b', attr = 'class' }]\n",
            "attr 'class' for a.b is not a Python identifier",
        ),
        ("[tool.keepref-lint]\nselect = ['kr-1']\n", "is not a code or code prefix"),
        ("[tool.keepref-lint]\nunknown = 1\n", "unknown key(s) in [tool.keepref-lint]: unknown"),
        ("[tool.keepref-lint\n", "invalid TOML"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, config: str, message: str) -> None:
    root = project(tmp_path, {"server.py": MARKED}, config)
    proc = run_cli("check", cwd=root)
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith("keepref-lint: error: ") and "pyproject.toml" in line and message in line
    assert "Traceback" not in proc.stderr


def test_config_table_forms(tmp_path: Path) -> None:
    config = textwrap.dedent(
        """\
        [tool.keepref-lint]
        must-retain = [
            "lib.plain",
            { name = "lib.rich", attr = "keeper", reason = "closes when collected" },
        ]
        """
    )
    source = "import lib\n\n\nclass A:\n    def f(self):\n        lib.plain()\n        lib.rich()\n"
    root = project(tmp_path, {"app.py": source}, config)
    findings = json.loads(run_cli("check", "--format", "json", cwd=root).stdout)
    assert [f["callee"] for f in findings] == ["lib.plain", "lib.rich"]
    assert "(closes when collected)" in findings[1]["message"]
    assert "self.keeper = ..." in findings[1]["message"]


def test_cli_must_retain_and_config_flag(tmp_path: Path) -> None:
    source = "import lib\n\n\nclass A:\n    def f(self):\n        lib.go()\n"
    root = project(tmp_path, {"app.py": source})
    assert run_cli("check", cwd=root).returncode == 0
    proc = run_cli("check", "--must-retain", "lib.go:handle", cwd=root)
    assert "self.handle = ..." in proc.stdout
    other = tmp_path / "elsewhere.toml"
    other.write_text("[tool.keepref-lint]\nmust-retain = ['lib.go']\n")
    assert run_cli("check", "--config", str(other), cwd=root).returncode == 1


@pytest.mark.parametrize(
    ("comment", "silenced"),
    [
        ("# noqa", True),
        ("# noqa: KR001", True),
        ("# noqa:KR001", True),
        ("# NOQA: E501,KR001", True),
        ("# noqa: KR0", True),
        ("# noqa: KR002", False),
        ("# noqa: E501", False),
    ],
)
def test_noqa_forms(tmp_path: Path, comment: str, silenced: bool) -> None:
    source = USER.replace("start_server()", f"start_server()  {comment}")
    root = project(tmp_path, {"server.py": MARKED, "app.py": source})
    assert (run_cli("check", cwd=root).returncode == 0) is silenced


def test_noqa_on_multiline_statement_follows_flake8(tmp_path: Path) -> None:
    """flake8 joins only the lines of a multi-line token (a string), not of a bracketed call."""
    on_first = USER.replace("start_server()", "start_server(  # noqa: KR001\n        )")
    root = project(tmp_path / "first", {"server.py": MARKED, "app.py": on_first})
    assert run_cli("check", cwd=root).returncode == 0
    on_last = USER.replace("start_server()", "start_server(\n        )  # noqa: KR001")
    root = project(tmp_path / "last", {"server.py": MARKED, "app.py": on_last})
    assert run_cli("check", cwd=root).returncode == 1
    in_string = USER.replace("start_server()", 'start_server("""a\nb""")  # noqa: KR001')
    root = project(tmp_path / "string", {"server.py": MARKED, "app.py": in_string})
    assert run_cli("check", cwd=root).returncode == 0


def test_file_level_flake8_noqa(tmp_path: Path) -> None:
    root = project(tmp_path, {"server.py": MARKED, "app.py": "# flake8: noqa\n" + USER})
    assert run_cli("check", cwd=root).returncode == 0


def test_select_and_ignore(tmp_path: Path) -> None:
    root = project(tmp_path, {"server.py": MARKED, "app.py": USER})
    assert run_cli("check", "--ignore", "KR001", cwd=root).returncode == 0
    assert run_cli("check", "--select", "KR002", cwd=root).returncode == 0
    assert run_cli("check", "--ignore", "KR", "--select", "KR001", cwd=root).returncode == 1


def test_exclude(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {"server.py": MARKED, "gen/app.py": USER},
        "[tool.keepref-lint]\nexclude = ['gen']\n",
    )
    assert run_cli("check", cwd=root).returncode == 0


def test_fix_diff_writes_nothing(tmp_path: Path) -> None:
    root = project(tmp_path, {"server.py": MARKED, "app.py": USER})
    proc = run_cli("fix", "--diff", cwd=root)
    assert proc.returncode == 1
    assert "+        self.server = start_server()" in proc.stdout
    assert (root / "app.py").read_text() == USER


@pytest.mark.parametrize(
    ("name", "original", "expected"),
    [
        (
            "crlf",
            b"from server import start_server\r\n\r\nclass A:\r\n    def f(self):\r\n        start_server()\r\n",
            b"from server import start_server\r\n\r\nclass A:\r\n    def f(self):\r\n"
            b"        # Keep a reference so the server is not garbage-collected.\r\n"
            b"        self.server = start_server()\r\n",
        ),
        (
            "tabs",
            b"from server import start_server\n\nclass A:\n\tdef f(self):\n\t\tstart_server()  # tabbed\n",
            b"from server import start_server\n\nclass A:\n\tdef f(self):\n"
            b"\t\t# Keep a reference so the server is not garbage-collected.\n"
            b"\t\tself.server = start_server()  # tabbed\n",
        ),
        (
            "latin1",
            b"# -*- coding: latin-1 -*-\nfrom server import start_server\n\nclass A:\n"
            b"    def f(self):\n        start_server()  # caf\xe9\n",
            b"# -*- coding: latin-1 -*-\nfrom server import start_server\n\nclass A:\n    def f(self):\n"
            b"        # Keep a reference so the server is not garbage-collected.\n"
            b"        self.server = start_server()  # caf\xe9\n",
        ),
        (
            "bom",
            b"\xef\xbb\xbffrom server import start_server\n\nclass A:\n    def f(self):\n        x = '\xc3\xa9'; y = 1\n"
            b"        start_server()\n",
            b"\xef\xbb\xbffrom server import start_server\n\nclass A:\n    def f(self):\n        x = '\xc3\xa9'; y = 1\n"
            b"        # Keep a reference so the server is not garbage-collected.\n"
            b"        self.server = start_server()\n",
        ),
        (
            "no-final-newline",
            b"from server import start_server\n\nstart_server()",
            b"from server import start_server\n\n# Keep a reference so the server is not garbage-collected.\n"
            b"_server = start_server()",
        ),
    ],
)
def test_fix_keeps_every_other_byte(
    tmp_path: Path, name: str, original: bytes, expected: bytes
) -> None:
    root = project(tmp_path, {"server.py": MARKED, "app.py": original})
    (root / "app.py").chmod(0o640)
    run_cli("fix", cwd=root)
    assert (root / "app.py").read_bytes() == expected
    assert (root / "app.py").stat().st_mode & 0o777 == 0o640
    run_cli("fix", cwd=root)
    assert (root / "app.py").read_bytes() == expected
    assert not list(root.glob(".*keepref-tmp"))


def test_seed_fix_is_exactly_the_shipped_two_lines(tmp_path: Path) -> None:
    source = FIXTURES / "projects" / "sglang_seed"
    root = tmp_path / "seed"
    subprocess.run(["cp", "-r", str(source), str(root)], check=True)
    manager = root / "python/sglang/srt/managers/tokenizer_manager.py"
    manager.write_text(manager.read_text().replace("  # error: KR001", ""))
    (root / "pyproject.toml").write_text("[project]\nname = 'seed'\nversion = '0'\n")
    proc = run_cli("fix", "--diff", cwd=root)
    removed = [
        ln for ln in proc.stdout.splitlines() if ln.startswith("-") and not ln.startswith("---")
    ]
    added = [
        ln for ln in proc.stdout.splitlines() if ln.startswith("+") and not ln.startswith("+++")
    ]
    assert removed == ["-        start_disagg_service(self.server_args)"]
    assert added == [
        "+        # Keep a reference so the bootstrap server is not garbage-collected.",
        "+        self.bootstrap_server = start_disagg_service(self.server_args)",
    ]


def test_importing_the_package_does_not_import_libcst() -> None:
    code = "import sys, keepref_lint; print('libcst' in sys.modules, keepref_lint.must_retain)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("False ")


def test_marker_returns_its_target_unchanged() -> None:
    from keepref_lint import must_retain

    def func() -> int:
        return 1

    class Klass:
        pass

    assert must_retain(func) is func
    assert must_retain(Klass) is Klass
    assert must_retain(attr="x", reason="y")(func) is func


def test_explain_prints_rule_page() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "keepref_lint", "explain", "KR001"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.startswith("# KR001")
    assert "## Why is this bad?" in proc.stdout


def test_sarif_output_structure(tmp_path: Path) -> None:
    root = project(tmp_path, {"server.py": MARKED, "pkg/app.py": USER})
    sarif = json.loads(run_cli("check", "--format", "sarif", cwd=root).stdout)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "keepref-lint"
    rules = {rule["id"]: rule for rule in driver["rules"]}
    from keepref_lint.codes import RULES

    assert set(rules) == set(RULES) >= {"KR001", "KR002", "KR003", "KR004"}  # from the registry
    for rule in rules.values():
        assert rule["helpUri"].endswith(f"docs/rules/{rule['id']}.md")
        assert rule["help"]["markdown"].startswith(f"# {rule['id']}")
        assert rule["shortDescription"]["text"]
    (result,) = run["results"]
    assert result["ruleId"] == "KR001" and driver["rules"][result["ruleIndex"]]["id"] == "KR001"
    assert result["level"] in ("error", "warning", "note") and result["message"]["text"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "pkg/app.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"]["startLine"] == 6 and location["region"]["startColumn"] == 9
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file://")


def test_github_annotations(tmp_path: Path) -> None:
    root = project(tmp_path, {"server.py": MARKED, "app.py": USER})
    out = run_cli("check", "--format", "github", cwd=root).stdout
    assert out.startswith(
        "::error file=app.py,line=6,col=9,endLine=6,endColumn=23,title=KR001::KR001 result of"
    )
    assert out.count("\n") == 1


def test_fix_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    import os
    import pty

    root = project(tmp_path, {"server.py": MARKED, "app.py": USER})
    leader, follower = pty.openpty()
    proc = subprocess.run(
        [sys.executable, "-m", "keepref_lint", "fix"],
        cwd=root,
        stderr=follower,
        stdout=subprocess.PIPE,
        check=False,
    )
    os.close(follower)
    shown = read_terminal(leader)
    assert "keepref-lint: scanning the project..." in shown
    assert "keepref-lint: checking 2/2 files, 1 fix applied" in shown  # the files parsed
    assert proc.stdout.decode().strip() == "Fixed 1 finding in 1 file."
    root2 = project(tmp_path / "again", {"server.py": MARKED, "app.py": USER})
    assert "files," not in run_cli("fix", cwd=root2).stderr


def test_cached_results_follow_every_change(tmp_path: Path) -> None:
    root = project(tmp_path, {"server.py": MARKED, "app.py": USER})
    assert run_cli("check", cwd=root).returncode == 1
    assert list((root / ".keepref-cache").glob("results-*.marshal"))
    assert run_cli("check", cwd=root).stdout.startswith("app.py:6:9: KR001")  # replayed
    # A change in another file changes the index: the cached result for app.py must not be reused.
    (root / "server.py").write_text(
        MARKED.replace("@must_retain(", "@other(") + "\n\ndef other(**k):\n    return lambda f: f\n"
    )
    assert run_cli("check", cwd=root).returncode == 0
    (root / "server.py").write_text(MARKED)
    assert run_cli("check", cwd=root).returncode == 1
    assert (
        run_cli("check", "--ignore", "KR001", cwd=root).returncode == 0
    )  # settings are part of the key
    (root / "app.py").write_text(USER.replace("start_server()", "self.s = start_server()"))
    assert run_cli("check", cwd=root).returncode == 0


def test_suggest_lists_and_marks_inferred_wrappers(tmp_path: Path) -> None:
    root = tmp_path / "w"
    subprocess.run(["cp", "-r", str(FIXTURES / "projects" / "wrappers"), str(root)], check=True)
    for fixed in root.rglob("*.fixed"):
        fixed.unlink()
    listed = run_cli("suggest", cwd=root)
    assert listed.returncode == 1
    assert (
        "pkg/middle.py:4: add @must_retain to launch() (it returns pkg.deep.service."
        in listed.stdout
    )
    assert "spawn_and_keep" not in listed.stdout
    before = {
        f["line"]: f["code"]
        for f in json.loads(run_cli("check", "--format", "json", cwd=root).stdout)
    }
    assert set(before.values()) == {"KR003"}
    applied = run_cli("suggest", "--apply", "pkg", cwd=root)
    assert applied.returncode == 0, applied.stderr
    middle = (root / "pkg" / "middle.py").read_text()
    assert (
        "from keepref_lint import must_retain\n" in middle
        and "@must_retain\ndef launch():" in middle
    )
    after = json.loads(run_cli("check", "--format", "json", cwd=root).stdout)
    assert {f["line"]: f["code"] for f in after} == {
        7: "KR001",
        10: "KR002",
        13: "KR001",
        14: "KR001",
    }
    task = next(f for f in after if f["line"] == 13)
    assert task["fixable"] and "add_done_callback" in task["message"]  # the task fix
    assert run_cli("suggest", cwd=root).stdout == ""
