"""The caches never serve a stale or damaged answer: every run with a cache prints what a ``--no-cache``
run prints, whatever happened to the cache's bytes or to the files (an edit that keeps the CRC-32, a
chmod that keeps size and time)."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

MARKED = (
    b"from keepref_lint import must_retain\n\n# aaaaaaaaaaaa\n\n"
    b"@must_retain\ndef start_server():\n    return object()\n"
)
USER = (
    b"from server import start_server\n\n\nclass App:\n    def run(self):\n"
    b"        start_server()  # aaaaaaaaaaaa\n"
)


def make(root: Path) -> Path:
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '0'\n")
    (root / "server.py").write_bytes(MARKED)
    (root / "good.py").write_bytes(USER)
    (root / "other.py").write_bytes(USER.replace(b"App", b"Other"))
    return root


def run(
    *args: str, cwd: Path, preexec_fn=None
) -> tuple[int, str, str]:  # (exit status, stdout, stderr)
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=preexec_fn,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def check(root: Path, *extra: str) -> tuple[int, str, str]:
    return run("keepref_lint", "check", ".", *extra, cwd=root)


def flake8(root: Path) -> tuple[int, str, str]:
    return run("flake8", "--select", "KR", "good.py", "other.py", cwd=root)


def entries(root: Path) -> dict[str, Path]:
    """The cache entry of each kind there is: the results, the index, one of flake8's per-file results."""
    folder = root / ".keepref-cache"
    found = {
        "results": sorted(folder.glob("results-*.marshal")),
        "index": sorted(folder.glob("index-*.pickle")),
        "flake8": sorted((folder / "flake8").glob("*.pickle")),
    }
    return {kind: paths[0] for kind, paths in found.items() if paths}


# -- damaged entries --------------------------------------------------------------------------------


def _replace_in(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))


def test_a_damaged_results_entry_is_rebuilt_not_replayed(tmp_path: Path) -> None:
    root = make(tmp_path)
    expected = check(root, "--no-cache")
    assert check(root) == expected  # stores the entry
    _replace_in(entries(root)["results"], b"dropped", b"droppex")  # one byte of one message
    assert check(root) == expected
    assert check(root) == expected  # and the rebuilt entry serves the next run


def test_a_damaged_index_entry_is_rebuilt_not_trusted(tmp_path: Path) -> None:
    root = make(tmp_path)
    expected = check(root, "--no-cache")
    check(root)
    found = entries(root)
    found["results"].unlink()  # so the index is loaded
    _replace_in(found["index"], b"server.start_server", b"server.start_servex")  # the mark moves
    assert check(root) == expected


def test_a_damaged_flake8_entry_is_rebuilt_not_replayed(tmp_path: Path) -> None:
    root = make(tmp_path)
    expected = flake8(root)
    assert expected[0] == 1 and expected[1].count("KR001") == 2
    _replace_in(entries(root)["flake8"], b"dropped", b"droppex")
    assert flake8(root) == expected


@pytest.mark.parametrize("kind", ["results", "index", "flake8"])
def test_random_damage_to_any_cache_entry_never_changes_the_output(
    tmp_path: Path, kind: str
) -> None:
    root = make(tmp_path)
    command = flake8 if kind == "flake8" else check
    expected = flake8(root) if kind == "flake8" else check(root, "--no-cache")
    command(root)
    if kind != "flake8":
        flake8(root)  # all three kinds exist
    target = entries(root)[kind]
    pristine = {
        path: path.read_bytes() for path in (root / ".keepref-cache").rglob("*") if path.is_file()
    }
    results = entries(root).get("results")

    @settings(
        max_examples=5,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    # A position is anywhere in the entry, or "name": a byte of the last ``start_server`` in it (a
    # change there that is not caught changes what is printed; the first example is one).
    @given(
        st.lists(
            st.tuples(
                st.one_of(st.integers(min_value=0, max_value=1 << 30), st.just("name")),
                st.integers(1, 255),
            ),
            min_size=1,
            max_size=3,
        )
    )
    @example([("name", 1)])
    def damaged_run_equals_a_clean_one(flips: list[tuple[int | str, int]]) -> None:
        for path, data in pristine.items():
            path.write_bytes(data)
        if kind == "index" and results is not None:
            results.unlink()  # else the results entry answers and the index is never read
        data = bytearray(pristine[target])
        for position, mask in flips:
            at = data.rfind(b"start_server") + 1 if position == "name" else int(position)
            data[at % len(data)] ^= mask
        target.write_bytes(bytes(data))
        assert command(root) == expected

    damaged_run_equals_a_clean_one()


# -- edits the old identity missed ------------------------------------------------------------------


def keep_crc32(edited: bytes, original: bytes, filler: bytes = b"aaaaaaaaaaaa") -> bytes:
    """``edited`` with the low bits of its ``filler`` comment letters chosen so that its CRC-32 is the
    one of ``original`` (CRC-32 is linear: solve 32 equations over GF(2); the letters stay letters)."""
    start = edited.index(filler)
    base = zlib.crc32(edited)
    columns = []  # (change of the CRC, (position, bit)) for each bit we may flip
    for position in range(start, start + len(filler)):
        for bit in range(4):
            flipped = bytearray(edited)
            flipped[position] ^= 1 << bit
            columns.append((zlib.crc32(bytes(flipped)) ^ base, (position, bit)))
    rows: dict[int, tuple[int, int]] = {}  # leading bit -> (vector, which columns make it)
    for i, (vector, _) in enumerate(columns):
        combination = 1 << i
        while vector:
            top = vector.bit_length() - 1
            if top not in rows:
                rows[top] = (vector, combination)
                break
            vector, combination = vector ^ rows[top][0], combination ^ rows[top][1]
    want, combination = base ^ zlib.crc32(original), 0
    while want:
        vector, made_of = rows[want.bit_length() - 1]
        want, combination = want ^ vector, combination ^ made_of
    forged = bytearray(edited)
    for i, (_, (position, bit)) in enumerate(columns):
        if combination >> i & 1:
            forged[position] ^= 1 << bit
    result = bytes(forged)
    assert zlib.crc32(result) == zlib.crc32(original) and len(result) == len(original)
    assert result != original and result[start : start + len(filler)].isalpha()
    return result


def _edit_keeping_crc32_and_size(path: Path, old: bytes, new: bytes) -> None:
    original = path.read_bytes()
    info = path.stat()
    path.write_bytes(keep_crc32(original.replace(old, new), original))
    os.utime(
        path, ns=(info.st_atime_ns, info.st_mtime_ns + 5_000_000_000)
    )  # a new time, as an edit


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("good.py", b"        start_server()", b"        #tart_server()"),  # a checked file
        ("server.py", b"@must_retain", b"#must_retain"),  # a file the index was built from
    ],
    ids=["checked-file", "indexed-file"],
)
def test_an_edit_that_keeps_size_and_crc32_is_seen(
    tmp_path: Path, name: str, old: bytes, new: bytes
) -> None:
    root = make(tmp_path)
    before = check(root)
    assert before[0] == 1 and "good.py:6:9: KR001" in before[1]
    _edit_keeping_crc32_and_size(root / name, old, new)
    after = check(root, "--no-cache")
    assert "good.py:6:9" not in after[1]
    assert check(root) == after


def _without_file_access_override() -> None:
    """Run as root without the capabilities that let root read any file (so a chmod counts)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.skipif(sys.platform != "linux", reason="POSIX permissions, Linux capabilities")
def test_a_file_made_readable_by_chmod_is_read_again(tmp_path: Path) -> None:
    root = make(tmp_path)
    good = root / "good.py"
    good.chmod(0)
    as_user = _without_file_access_override if os.geteuid() == 0 else None
    probe = [sys.executable, "-c", f"open({str(good)!r}).close()"]
    try:
        readable = subprocess.run(probe, preexec_fn=as_user, capture_output=True, check=False)
    except subprocess.SubprocessError as exc:
        pytest.skip(f"cannot drop root's file access here: {exc}")
    if readable.returncode == 0:
        pytest.skip(
            "this process reads a file of mode 000 whatever its mode (root with CAP_DAC_OVERRIDE)"
        )
    status, _, stderr = run("keepref_lint", "check", ".", cwd=root, preexec_fn=as_user)
    assert status == 2 and "good.py: cannot read: Permission denied" in stderr
    info = good.stat()
    good.chmod(0o644)  # size and modification time unchanged
    assert (good.stat().st_size, good.stat().st_mtime_ns) == (info.st_size, info.st_mtime_ns)
    expected = run("keepref_lint", "check", ".", "--no-cache", cwd=root, preexec_fn=as_user)
    assert expected[0] == 1 and "good.py:6:9: KR001" in expected[1]
    assert run("keepref_lint", "check", ".", cwd=root, preexec_fn=as_user) == expected


def test_an_interrupted_cache_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keepref_lint import entries

    def interrupted(body: bytes) -> bytes:
        raise KeyboardInterrupt

    monkeypatch.setattr(entries, "_checksum", interrupted)
    target = tmp_path / "cache" / "index.pickle"
    with pytest.raises(KeyboardInterrupt):
        entries.write_pickle(str(target), {"an": "entry"})
    assert list((tmp_path / "cache").iterdir()) == []  # neither the entry nor its temporary file
