"""Hostile input, with the real command on real files: what is not a regular file is skipped, not read;
one file that defeats the analysis is that file's one-line error (or is analysed anyway) while the others
are checked and fixed; output survives odd names, odd reasons and a reader that goes away."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import FIXED, MARKED, USER, server_project

FINDING = "KR001 result of start_server() is dropped"
posix_only = pytest.mark.skipif(
    sys.platform == "win32", reason="FIFOs, sockets and devices are POSIX"
)


def keepref(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it; a run that hangs fails the test instead of the suite."""
    return subprocess.run(
        [sys.executable, "-m", "keepref_lint", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.splitlines()


# -- 1. only regular files are read ---------------------------------------------------------------


@posix_only
def test_fifo_socket_device_and_broken_links_in_the_tree_are_skipped_with_a_note(
    tmp_path: Path,
) -> None:
    root = server_project(tmp_path, **{"sub/mod.py": USER})
    os.mkfifo(root / "sub" / "pipe.py")  # opening it for reading would wait for a writer forever
    (root / "zero.py").symlink_to("/dev/zero")  # reading it would never end
    (root / "loop_a.py").symlink_to("loop_b.py")
    (root / "loop_b.py").symlink_to("loop_a.py")
    (root / "gone.py").symlink_to("nowhere.py")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(root / "sock.py"))
        for run in ("cold", "warm"):
            proc = keepref("check", ".", cwd=root, timeout=20)
            assert proc.returncode == 1, (run, proc.stderr)
            assert [line.split(": KR")[0] for line in proc.stdout.splitlines()[:-1]] == [
                "good.py:6:9",
                "sub/mod.py:6:9",
            ]
            assert error_lines(proc) == [
                "gone.py: skipped: dangling symbolic link",
                "loop_a.py: skipped: symbolic link loop",
                "loop_b.py: skipped: symbolic link loop",
                "sock.py: skipped: a socket, not a regular file",
                "sub/pipe.py: skipped: a FIFO, not a regular file",
                "zero.py: skipped: a device, not a regular file",
            ], run
        proc = keepref("check", "-q", "sub", cwd=root, timeout=20)  # a folder: its own notes only
        assert error_lines(proc) == [] and proc.returncode == 1
        proc = keepref("check", "sub", cwd=root, timeout=20)
        assert error_lines(proc) == ["sub/pipe.py: skipped: a FIFO, not a regular file"]
        proc = keepref("fix", ".", cwd=root, timeout=20)
        assert proc.returncode == 0, proc.stderr
        assert (root / "good.py").read_bytes() == FIXED


@posix_only
def test_paths_named_on_the_command_line_that_are_not_regular_files(tmp_path: Path) -> None:
    root = server_project(tmp_path)
    os.mkfifo(root / "pipe.py")
    (root / "zero.py").symlink_to("/dev/zero")
    (root / "loop.py").symlink_to("loop.py")
    (root / "gone.py").symlink_to("nowhere.py")
    proc = keepref(
        "check", "pipe.py", "zero.py", "loop.py", "gone.py", "missing.py", "good.py", cwd=root
    )
    assert proc.returncode == 2
    assert f"good.py:6:9: {FINDING}" in proc.stdout
    assert error_lines(proc) == [
        "pipe.py: cannot read: a FIFO, not a regular file",
        "zero.py: cannot read: a device, not a regular file",
        "loop.py: cannot read: symbolic link loop",  # not "dangling"
        "gone.py: cannot read: dangling symbolic link",
        "missing.py: no such file or directory",
    ]


@posix_only
def test_reading_a_fifo_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    """The walk leaves FIFOs out; the reader itself does not block either (a file replaced by a FIFO
    after the walk, or one the flake8 plugin is handed)."""
    fifo = tmp_path / "late.py"
    os.mkfifo(fifo)
    code = (
        "import sys\n"
        "from keepref_lint.project import InputError, SourceFile, read_source\n"
        "try:\n"
        "    read_source(SourceFile(sys.argv[1], 'late.py'))\n"
        "except InputError as error:\n"
        "    print(error)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(fifo)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert proc.stdout.strip() == "late.py: cannot read: a FIFO, not a regular file", proc.stderr


@pytest.mark.parametrize("change", ["grew", "shrank", "answers in parts"])
def test_a_file_that_changes_size_while_read_is_read_to_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """One read of the size fstat gave is the whole file only when it returns exactly that size; a file
    that grew or shrank since, or a file system that answers a read in parts, is read on to its end, so
    no byte of it is lost (a fix writes back what was read)."""
    from keepref_lint import project
    from keepref_lint.project import SourceFile, read_source

    text = b"".join(b"line %d of a file read in more than one part\n" % n for n in range(4000))
    path = tmp_path / "big.py"
    path.write_bytes(text)
    real_fstat, real_read = os.fstat, os.read

    class Stat:
        def __init__(self, real: os.stat_result, size: int) -> None:
            self.st_mode, self.st_size = real.st_mode, size

    if change == "grew":  # fstat saw the file before its last part was written
        monkeypatch.setattr(project.os, "fstat", lambda fd: Stat(real_fstat(fd), len(text) - 100))
    elif change == "shrank":  # fstat saw a longer file than is left
        monkeypatch.setattr(project.os, "fstat", lambda fd: Stat(real_fstat(fd), len(text) + 100))
    else:  # a read gives at most 1,000 bytes at a time
        monkeypatch.setattr(project.os, "read", lambda fd, n: real_read(fd, min(n, 1000)))
    file = SourceFile(str(path), "big.py")
    read_source(file)
    assert file.data == text


# -- 2. one file's failure is that file's one-line error --------------------------------------------


def _deep_file(expression: str) -> bytes:
    """A method whose body first builds a deeply nested expression, then drops start_server()."""
    return (
        "from server import start_server\n\n\nclass Deep:\n    def run(self, a):\n"
        f"        x = {expression}\n        start_server()\n        return x\n"
    ).encode()


@pytest.mark.parametrize(
    "expression",
    [" + ".join(["a"] * 1000), "a" + ".b()" * 1000],
    ids=["1000-term-operator-chain", "1000-call-method-chain"],
)
def test_deeply_nested_file_is_checked_and_fixed_beside_the_others(
    tmp_path: Path, expression: str
) -> None:
    data = _deep_file(expression)
    compile(data, "deep.py", "exec")  # CPython takes it: so must we
    root = server_project(tmp_path, **{"deep.py": data})
    proc = keepref("check", "--no-cache", ".", cwd=root)
    assert error_lines(proc) == []
    assert proc.returncode == 1
    assert [line.split(": KR")[0] for line in proc.stdout.splitlines()[:-1]] == [
        "deep.py:7:9",
        "good.py:6:9",
    ]
    proc = keepref("fix", ".", cwd=root)
    assert error_lines(proc) == [] and proc.returncode == 0
    assert (root / "good.py").read_bytes() == FIXED
    assert (root / "deep.py").read_bytes() == data.replace(
        b"        start_server()\n",
        b"        # Keep a reference so the server is not garbage-collected.\n"
        b"        self.server = start_server()\n",
    )


def test_a_file_whose_fix_fails_inside_keepref_lint_does_not_stop_the_others(
    tmp_path: Path,
) -> None:
    """A marker whose ``attr`` is not a name made the fix itself fail; such an attr is now refused
    (one line naming the marker, the mark kept without it), and every file is still fixed."""
    root = server_project(tmp_path)
    (root / "odd.py").write_bytes(
        MARKED.encode()
        .replace(b"@must_retain\n", b'@must_retain(attr="x = 1; self.y")\n')
        .replace(b"start_server", b"start_odd")
    )
    (root / "uses_odd.py").write_bytes(USER.replace(b"server", b"odd"))
    proc = keepref("fix", ".", cwd=root)
    assert error_lines(proc) == [
        "odd.py:4: must_retain attr 'x = 1; self.y' is not a Python identifier; ignored "
        "(the fix names the attribute itself)"
    ]
    assert (root / "good.py").read_bytes() == FIXED
    assert b"= start_odd()" in (root / "uses_odd.py").read_bytes()


# -- 3. messages ------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="file names that are not UTF-8")
@pytest.mark.parametrize("output", ["text", "json", "sarif", "github"])
def test_file_name_that_is_not_utf8_under_a_strict_utf8_stdout(tmp_path: Path, output: str) -> None:
    root = server_project(tmp_path)
    os.rename(root / "good.py", os.path.join(os.fsencode(root), b"caf\xe9.py"))
    proc = keepref("check", "--format", output, ".", cwd=root, env={"PYTHONIOENCODING": "utf-8"})
    assert error_lines(proc) == []
    assert proc.returncode == 1
    shown = {"json": "caf\\ufffd.py", "sarif": "caf%EF%BF%BD.py"}.get(output, "caf\ufffd.py")
    assert shown in proc.stdout  # U+FFFD, the replacement character, as each format writes it


@pytest.mark.skipif(sys.platform == "win32", reason="a newline in a file name")
def test_newline_in_a_file_name_keeps_each_error_on_one_line(tmp_path: Path) -> None:
    root = server_project(
        tmp_path, **{"two\nlines.py": b"from server import start_server\nstart_server(\n"}
    )
    proc = keepref("fix", ".", cwd=root)
    assert proc.returncode == 2
    assert error_lines(proc) == ["two\\nlines.py: syntax error at line 2: '(' was never closed"]
    assert (root / "good.py").read_bytes() == FIXED


def test_a_reader_that_closes_the_pipe_ends_the_run_quietly(tmp_path: Path) -> None:
    """``keepref-lint check . | head -1``: far more output than a pipe holds, and the reader leaves."""
    drops = b"".join(b"        start_server()\n" for _ in range(1500))
    root = server_project(tmp_path, **{"many.py": USER + drops})
    proc = subprocess.Popen(
        [sys.executable, "-m", "keepref_lint", "check", "."],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 1  # the run's own status: findings
    assert first.startswith(b"good.py:6:9: KR001")
    assert stderr == ""


@pytest.mark.parametrize(
    ("where", "value"),
    [("cli", "1bad"), ("cli", "pkg..keep"), ("config", "bad-name.keep")],
)
def test_decorator_names_are_validated_like_other_values(
    tmp_path: Path, where: str, value: str
) -> None:
    root = server_project(tmp_path)
    args = ["check", "."]
    if where == "cli":
        args += ["--decorator", value]
        origin = "--decorator"
    else:
        (root / "pyproject.toml").write_text(f"[tool.keepref-lint]\ndecorators = [{value!r}]\n")
        origin = str(root / "pyproject.toml")
    proc = keepref(*args, cwd=root)
    assert proc.returncode == 2
    assert error_lines(proc) == [
        f"keepref-lint: error: {origin}: decorator name {value!r} is not an identifier or a "
        "dotted name like 'pkg.keep'"
    ]


def test_a_reason_over_several_lines_stays_on_the_findings_line(tmp_path: Path) -> None:
    marked = MARKED.encode().replace(
        b"@must_retain\n", b'@must_retain(reason="it serves\\nrequests")\n'
    )
    root = server_project(tmp_path)
    (root / "server.py").write_bytes(marked)
    (root / "pyproject.toml").write_text(
        "[tool.keepref-lint]\n"
        'must-retain = [{name = "other.start_worker", reason = """the worker\n\tstops"""}]\n'
    )
    (root / "other.py").write_text("def start_worker():\n    pass\n")
    (root / "uses.py").write_text(
        "from other import start_worker\n\n\ndef f():\n    start_worker()\n"
    )
    proc = keepref("check", "--no-cache", ".", cwd=root)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(
        "good.py:6:9: KR001 result of start_server() is dropped (it serves requests)"
    )
    assert lines[1].startswith(
        "uses.py:5:5: KR001 result of start_worker() is dropped (the worker stops)"
    )
    assert len(lines) == 3 and lines[2].startswith("Found 2 findings")
    flake8 = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "KR", "good.py", "uses.py"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert [line.split(": ", 1)[0] for line in flake8.stdout.splitlines()] == [
        "good.py:6:9",
        "uses.py:5:5",
    ], flake8.stdout + flake8.stderr


# Circular definitions whose names a lookup would grow without end (``m.Base.Inner.Inner...``), each
# with a call the rules look up; every one hung the run before lookups stopped at a name rewritten twice.
CIRCULAR = {
    "rebinds_a_class_to_its_attribute": (
        "class Base:\n    @must_retain\n    def start(self): ...\n\n\nBase = Base.Inner\n"
    ),
    "rebinds_a_class_with_a_marked_init": (
        "class Base:\n    @must_retain\n    def __init__(self): ...\n\n\nBase = Base.Inner\n"
    ),
    "two_aliases_of_each_other": (
        "class open_it(open_it): ...\n\n\nBase = open_it\n\n\n@must_retain\ndef Base(): ...\n\n\n"
        "open_it = Base.open_it\n"
    ),
    "a_class_based_on_its_own_attribute": (
        "class Base:\n    @must_retain\n    def start(self): ...\n\n\nclass Sub(Sub.Inner): ...\n"
    ),
}


@pytest.mark.parametrize("source", CIRCULAR.values(), ids=CIRCULAR.keys())
def test_circular_aliases_end(source: str, tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text(
        f"from keepref_lint import must_retain\n\n\n{source}", encoding="utf-8"
    )
    (package / "__init__.py").write_text(
        "from .a import Base, Sub, open_it\n\n\ndef run():\n    Base().start()\n    Sub().start()\n"
        "    open_it().start()\n    Base.Inner.start()\n",
        encoding="utf-8",
    )
    proc = keepref("check", "--no-cache", ".", cwd=tmp_path, timeout=20)
    error_lines(proc)
    assert proc.returncode in (0, 1), proc.stderr


def test_aliases_with_two_targets_each_end(tmp_path: Path) -> None:
    """``N1 = N0.a``, ``N1 = N0.b``, ``N2 = N1.a``, ...: 2 ** 24 names below ``N24``. Spelled out, the
    module's summary held them all; followed one by one, a lookup went through them all. Both hung."""
    package = tmp_path / "pkg"
    package.mkdir()
    lines = ["from keepref_lint import must_retain", "", "", "class N0:", "    @must_retain"]
    lines += ["    def start(self): ...", "", ""]
    lines += [f"N{k} = N{k - 1}.{a}" for k in range(1, 25) for a in "ab"]
    lines += ["", "", "def go():", "    N24.start()", "    N24().start()"]
    (package / "__init__.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (package / "m.py").write_text(  # ``a`` is a mark's name: the lookups of ``N*.a`` are made
        "from keepref_lint import must_retain\n\n\n@must_retain\ndef a(): ...\n", encoding="utf-8"
    )
    proc = keepref("check", "--no-cache", ".", cwd=tmp_path, timeout=20)
    error_lines(proc)
    assert proc.returncode in (0, 1), proc.stderr


def test_a_ring_of_star_imports_of_classes_based_on_their_own_attributes_ends(
    tmp_path: Path,
) -> None:
    """Twelve modules, each star-importing the next and defining ``class A(A.x, A.y)``: a name below
    ``A`` was rewritten through every module's ``A`` (the ring's star imports) and through both bases,
    growing, so a lookup went through every order of those choices (five modules took 3.5 s, six 15 s;
    found by a fuzzing session). A module's own ``A`` is its own, not the star imports'."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    for i in range(12):
        lines = [f"from pkg.m{(i + 1) % 12} import *", "class A(A.x, A.y):", "    pass"]
        if i == 0:
            lines = ["import asyncio", "from keepref_lint import must_retain", *lines]
            lines += ["class K:", "    @must_retain", "    def start(self):"]
            lines += ["        return asyncio.create_task(asyncio.sleep(0))"]
            lines += ["def use(k: K):", "    A().start()", "    k.start()"]
        (package / f"m{i}.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = keepref("check", "--no-cache", ".", cwd=tmp_path, timeout=20)
    error_lines(proc)
    assert proc.returncode == 1, proc.stderr
    assert "KR001 result of k.start() is dropped" in proc.stdout
    assert "A().start()" not in proc.stdout


LATTICE = "\n".join(
    [
        "from keepref_lint import must_retain",
        "",
        "",
        "class A0:",
        "    @must_retain",
        "    def run(self): ...",
        "class B0: ...",
        "class C0: ...",
        "class D0: ...",
        *(
            f"class {n}{k}(A{k - 1}, B{k - 1}, C{k - 1}, D{k - 1}): ..."
            for k in range(1, 13)
            for n in "ABCD"
        ),
        "",
        "",
        "class User(A12):",
        "    def go(self):",
        "        self.run()",
        "        self.loop.create_task(self.go())",
    ]
)


@pytest.mark.parametrize(
    "source",
    [LATTICE, "class F(F, F, F):\n    def go(self):\n        self.y.create_task()\n"],
    ids=["a_lattice_of_shared_bases", "a_class_thrice_among_its_own_bases"],
)
def test_class_hierarchies_end(source: str, tmp_path: Path) -> None:
    """A member looked for through shared bases was looked for once per path (4 ** 12 here), and
    through a class among its own bases once per path up to the depth limit (3 ** 20): each hung."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text(source + "\n", encoding="utf-8")
    proc = keepref("check", "--no-cache", ".", cwd=tmp_path, timeout=20)
    error_lines(proc)
    assert proc.returncode in (0, 1), proc.stderr
    if source is LATTICE:
        assert "KR001 result of self.run() is dropped" in proc.stdout
