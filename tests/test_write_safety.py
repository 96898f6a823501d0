"""What a fix keeps: bytes (the codemod too), hard links, owner, mode bits, extended attributes; what it
leaves behind: nothing (temporary files are removed on every exit Python sees, and a later fix removes
those a killed one left). Real commands on real files."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import FIXED, USER, run_cli, server_project

CODEMOD = [
    "-m",
    "libcst.tool",
    "codemod",
    "-x",
    "keepref_lint.codemod.KeepReferences",
    "--no-format",
]


def run_patched(patch: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """keepref-lint in a subprocess, after running ``patch`` (which may replace library functions)."""
    code = textwrap.dedent(patch) + (
        "\nimport sys\nfrom keepref_lint.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def temp_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.keepref-tmp"))


# Each with a finding, and a twin without one; endings the codemod must keep byte for byte.
ENDINGS = {
    "lone_cr": USER.replace(b"\n", b"\r"),
    "crlf": USER.replace(b"\n", b"\r\n"),
    "mixed": USER.replace(b"\n", b"\r", 3).replace(b"(self):\n", b"(self):\r\n"),
    "mixed_cr_last": USER[:-1] + b"\r",
    "bom": b"\xef\xbb\xbf" + USER,
    "bom_crlf": b"\xef\xbb\xbf" + USER.replace(b"\n", b"\r\n"),
}


def test_codemod_keeps_every_byte_of_files_with_and_without_findings(tmp_path: Path) -> None:
    files = {f"{name}.py": data for name, data in ENDINGS.items()}
    files.update(
        {f"{name}_clean.py": data.replace(b"start_server()\n", b"x = 1\n").replace(
            b"start_server()", b"x = 1") for name, data in ENDINGS.items()}
    )  # fmt: skip
    files["plain_cr_clean.py"] = b"x = 1\ry = 2\r"
    expected_root = server_project(tmp_path / "expected", **files)
    proc = run_cli("fix", "-q", ".", cwd=expected_root)  # the engine's fix: the intended bytes
    assert proc.returncode == 0, proc.stderr
    root = server_project(tmp_path / "p", **files)
    proc = subprocess.run(
        [sys.executable, *CODEMOD, "."], cwd=root, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    for name, data in files.items():
        got = (root / name).read_bytes()
        assert got == (expected_root / name).read_bytes(), (name, got)
        if name.endswith("_clean.py"):
            assert got == data, name
        else:
            assert got != data, name  # fixed, not skipped


def test_codemod_declines_a_tree_whose_bytes_differ() -> None:
    import libcst as cst
    from libcst.codemod import SkipFile

    from keepref_lint.codemod import _exactly

    tree = cst.parse_module(b"x = 1\n")
    assert _exactly(tree, b"x = 1\n", "left unchanged") is tree
    assert _exactly(cst.parse_module(b"x = 1\r"), b"x = 1\r", "left unchanged").bytes == b"x = 1\r"
    with pytest.raises(SkipFile, match="left unchanged: libcst cannot reproduce"):
        _exactly(tree, b"x = 1\r\n", "left unchanged")


def test_hard_linked_file_is_refused_and_both_names_keep_one_text(tmp_path: Path) -> None:
    root = server_project(tmp_path / "p")
    outside = tmp_path / "elsewhere.py"
    os.link(root / "good.py", outside)
    proc = run_cli("fix", ".", cwd=root)
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith("good.py: fix not written: it has 2 hard links"), line
    assert os.path.samefile(root / "good.py", outside)
    assert outside.read_bytes() == USER
    assert not temp_files(tmp_path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root (chown)")
def test_owner_and_setuid_setgid_bits_are_kept(tmp_path: Path) -> None:
    root = server_project(tmp_path / "p")
    good = root / "good.py"
    os.chown(good, 12345, 23456)
    os.chmod(good, 0o6754)  # after chown: chown clears setuid/setgid
    proc = run_cli("fix", ".", cwd=root)
    assert proc.returncode == 0, proc.stderr
    info = good.stat()
    assert good.read_bytes() == FIXED
    assert (info.st_uid, info.st_gid) == (12345, 23456)
    assert stat.S_IMODE(info.st_mode) == 0o6754


def test_user_extended_attributes_are_kept(tmp_path: Path) -> None:
    if not hasattr(os, "setxattr"):
        pytest.skip("no extended attributes on this platform")
    root = server_project(tmp_path / "p")
    good = root / "good.py"
    try:
        os.setxattr(good, "user.keepref.test", b"keep me")
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            pytest.skip(f"the file system of {tmp_path} has no user xattrs ({exc.strerror})")
        raise
    proc = run_cli("fix", ".", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert good.read_bytes() == FIXED
    assert os.getxattr(good, "user.keepref.test") == b"keep me"


def test_edit_made_while_the_new_text_is_written_is_not_overwritten(tmp_path: Path) -> None:
    root = server_project(tmp_path / "p")
    # Another process edits the file while fix writes and syncs the new text, after fix's first check.
    proc = run_patched(
        """
        import os
        real_fsync = os.fsync
        def fsync_then_edit(fd):
            real_fsync(fd)
            with open("good.py", "ab") as handle:
                handle.write(b"# edited meanwhile\\n")
        os.fsync = fsync_then_edit
        """,
        "fix",
        ".",
        cwd=root,
    )
    assert proc.returncode == 2, proc.stderr
    assert (
        "good.py: fix not written: the file changed while keepref-lint was running" in proc.stderr
    )
    assert (root / "good.py").read_bytes() == USER + b"# edited meanwhile\n"
    assert not temp_files(root)


def test_interrupt_right_after_the_temporary_file_is_created_leaves_none(tmp_path: Path) -> None:
    root = server_project(tmp_path / "p")
    # A real Ctrl-C the moment mkstemp returns (the window before the old ``try:``).
    proc = run_patched(
        """
        import signal, tempfile
        real_mkstemp = tempfile.mkstemp
        def mkstemp_then_interrupt(*args, **kwargs):
            created = real_mkstemp(*args, **kwargs)
            if created[1].endswith(".keepref-tmp"):  # fix's, not the cache's
                signal.raise_signal(signal.SIGINT)
            return created
        tempfile.mkstemp = mkstemp_then_interrupt
        """,
        "fix",
        ".",
        cwd=root,
    )
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (root / "good.py").read_bytes() in (USER, FIXED)
    assert not temp_files(root)


def test_a_later_fix_removes_the_temporary_files_a_killed_one_left(tmp_path: Path) -> None:
    root = server_project(tmp_path / "p")
    sub = root / "pkg"
    sub.mkdir()
    shutil.copy(root / "good.py", sub / "other.py")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = [
            root / f".good.py.{dead.pid}-abc_1234.keepref-tmp",
            sub / f".other.py.{dead.pid}-zz9zz9zz.keepref-tmp",
        ]
        for path in stale:
            path.write_bytes(FIXED)
        running = root / f".good.py.{alive.pid}-abcdefgh.keepref-tmp"  # another fix, still writing
        running.write_bytes(FIXED[:10])
        old_style = root / ".good.py.k3j5h2l1.keepref-tmp"  # an older version's name: no pid
        old_style.write_bytes(FIXED)
        not_ours = root / f".notes.txt.{dead.pid}-abcdefgh.keepref-tmp.bak"
        not_ours.write_bytes(b"x")
        proc = run_cli("fix", ".", cwd=root)
        assert proc.returncode == 0, proc.stderr
        assert not any(path.exists() for path in stale)
        assert running.exists() and old_style.exists() and not_ours.exists()
        lines = proc.stderr.splitlines()
        assert lines[0].startswith(
            "keepref-lint: removed 2 temporary files left by an interrupted fix: "
        ), lines
        assert lines[1] == (
            "keepref-lint: .good.py.k3j5h2l1.keepref-tmp: looks like a temporary file left by an"
            " interrupted fix; remove it if no fix is running"
        )
        assert (root / "good.py").read_bytes() == FIXED
    finally:
        alive.kill()
        alive.wait()


def test_fix_builds_a_diff_only_for_diff(tmp_path: Path) -> None:
    root = server_project(tmp_path / "p")
    patch = """
        import difflib
        real = difflib.unified_diff
        def counted(*args, **kwargs):
            import sys
            print("unified_diff called", file=sys.stderr)
            return real(*args, **kwargs)
        difflib.unified_diff = counted
        """
    proc = run_patched(patch, "fix", ".", cwd=root)
    assert proc.returncode == 0 and "unified_diff called" not in proc.stderr, proc.stderr
    assert (root / "good.py").read_bytes() == FIXED
    (root / "good.py").write_bytes(USER)
    proc = run_patched(patch, "fix", "--diff", ".", cwd=root)
    assert "unified_diff called" in proc.stderr
    assert "+        self.server = start_server()" in proc.stdout
