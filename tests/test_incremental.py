"""The caches after edits: a run that reuses the index and the stored outcomes must report exactly what a
run without any cache reports, whatever was edited, and must not rebuild the index for an edit that cannot
change it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from helpers import run_cli

SERVICE = """\
from keepref_lint import must_retain


@must_retain(attr="server")
def start_service():
    return object()
"""
APP = """\
from service import start_service


class App:
    def run(self):
        start_service()
"""


def findings(root: Path, *extra: str) -> list[tuple[str, int, str]]:
    proc = run_cli("check", ".", "--format", "json", *extra, cwd=root, check=True)
    return sorted((f["path"], f["line"], f["code"]) for f in json.loads(proc.stdout))


def cached_run(root: Path, rechecked: int | None = None) -> tuple[list[tuple[str, int, str]], bool]:
    """(findings with the cache, whether the index was built), checked against a run without it; with
    ``rechecked``, also how many files the run checked (not replayed from stored outcomes)."""
    env_debug = os.environ.get("KEEPREF_LINT_DEBUG")
    os.environ["KEEPREF_LINT_DEBUG"] = "1"
    try:
        proc = run_cli("check", ".", "--format", "json", cwd=root, check=True)
    finally:
        if env_debug is None:
            del os.environ["KEEPREF_LINT_DEBUG"]
        else:
            os.environ["KEEPREF_LINT_DEBUG"] = env_debug
    with_cache = sorted((f["path"], f["line"], f["code"]) for f in json.loads(proc.stdout))
    if rechecked is not None:
        assert f"{rechecked} files to check" in proc.stderr, proc.stderr
    assert with_cache == findings(root, "--no-cache")
    return with_cache, "built the index" in proc.stderr


def edit(path: Path, text: str) -> None:
    """Append ``text`` and move the modification time on, as an editor would."""
    path.write_text(path.read_text() + text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_edits_reuse_or_rebuild_the_index_and_never_change_the_answer(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (root / "service.py").write_text(SERVICE)
    (root / "app.py").write_text(APP)
    (root / "other.py").write_text("def helper():\n    return 1\n")
    seed = ("app.py", 6, "KR001")

    assert cached_run(root) == ([seed], True)
    assert cached_run(root) == ([seed], False)  # nothing changed

    edit(root / "other.py", "\n\ndef unrelated():\n    return 2\n")
    assert cached_run(root) == ([seed], False)  # cannot matter: the index is reused

    edit(root / "other.py", "\n\ndef drop():\n    import service\n\n    service.start_service()\n")
    assert cached_run(root) == ([seed, ("other.py", 12, "KR001")], False)  # a new call site only

    edit(
        root / "other.py",
        "\n\ndef spawn():\n    from service import start_service\n    return start_service()\n",
    )
    (root / "user.py").write_text("from other import spawn\n\n\ndef go():\n    spawn()\n")
    found, built = cached_run(root)  # a new wrapper: the index must learn it
    assert built
    assert ("user.py", 5, "KR003") in found

    edit(root / "service.py", "\n")
    (root / "service.py").write_text(SERVICE.replace('@must_retain(attr="server")\n', ""))
    assert cached_run(root) == ([], True)  # the marked definition is gone

    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    assert cached_run(root)[1]  # a new package can rename modules: rebuilt


def suggested(root: Path, *extra: str) -> list[str]:
    return run_cli("suggest", *extra, cwd=root, check=True).stdout.splitlines()


def test_edits_to_files_the_index_was_built_from_keep_it_when_they_give_the_same(
    tmp_path: Path,
) -> None:
    """An edit to a file the index read (a marked definition, a wrapper) is read again: the index is
    kept when the file gives what it gave before up to line numbers, which are brought up to date."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (root / "service.py").write_text(SERVICE)
    (root / "app.py").write_text(APP)
    (root / "wrap.py").write_text(
        "from service import start_service\n\n\ndef spawn():\n    return start_service()\n"
    )
    (root / "user.py").write_text("from wrap import spawn\n\n\ndef go():\n    spawn()\n")
    seed = [("app.py", 6, "KR001"), ("user.py", 5, "KR003")]
    assert cached_run(root) == (seed, True)

    service = root / "service.py"
    service.write_text("# A comment that moves every definition down.\n\n" + SERVICE)
    edit(service, "\n\ndef helper():\n    return 1\n")
    assert cached_run(root) == (seed, False)  # read again: the same mark

    wrap = root / "wrap.py"
    wrap.write_text(
        wrap.read_text().replace("def spawn", "def other():\n    return 2\n\n\ndef spawn")
    )
    edit(wrap, "# the wrapper moved down four lines\n")
    assert cached_run(root) == (seed, False)
    assert (
        suggested(root)
        == suggested(root, "--no-cache")
        == ["wrap.py:8: add @must_retain to spawn() (it returns service.start_service())"]
    )  # the line the kept index gives is the new one

    wrap.write_text(wrap.read_text().replace("return start_service()", "start_service()"))
    edit(wrap, "\n")
    found, built = cached_run(root)  # no longer a wrapper: its callers' findings go
    assert built
    assert ("user.py", 5, "KR003") not in found

    service.write_text(SERVICE.replace('attr="server"', 'attr="srv"'))
    edit(service, "\n")
    assert cached_run(root)[1]  # a mark's options changed: rebuilt

    (root / "hub.py").write_text("from service import *\n")
    (root / "late.py").write_text(
        "from hub import start_service\n\n\nclass Late:\n    def go(self):\n        start_service()\n"
    )
    found, built = cached_run(root)
    assert ("late.py", 6, "KR001") in found
    edit(service, "\n\ndef another():\n    return 3\n")
    assert cached_run(root)[1]  # star-imported: a new name it defines may matter, so rebuilt


def test_the_cache_folder_keeps_the_newest_entries_of_each_kind(tmp_path: Path) -> None:
    from keepref_lint.cache import DiskCache

    folder = str(tmp_path / "cache")
    stored = []
    for n in range(DiskCache.KEEP + 3):
        cache = DiskCache(folder, str(tmp_path), f"settings {n}", name="results", plain=True)
        cache.store({}, n)
        os.utime(cache.entry, ns=(n * 10**9, n * 10**9))  # written in this order
        stored.append(cache)
    other = DiskCache(folder, str(tmp_path), "settings 0", name="index")
    other.store({}, "an index")
    left = sorted(os.listdir(folder))
    kept = [cache for cache in stored if os.path.basename(cache.entry) in left]
    assert kept == stored[-DiskCache.KEEP :]
    assert kept[-1].load({}) == DiskCache.KEEP + 2
    assert other.load({}) == "an index"  # another kind is counted apart


def test_new_times_on_the_same_texts_keep_the_index(tmp_path: Path) -> None:
    """A checkout or ``touch`` gives files new times: texts that are the same (by checksum) keep the
    index; a text of the same size that differs does not."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (root / "service.py").write_text(SERVICE)
    (root / "app.py").write_text(APP)
    for n in range(60):  # more than the files a rebuild is preferred for, once all are touched
        (root / f"plain_{n}.py").write_text(f"def f():\n    return {n}\n")
    seed = ("app.py", 6, "KR001")
    assert cached_run(root) == ([seed], True)
    for path in root.glob("*.py"):
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert cached_run(root, rechecked=0) == ([seed], False)  # index and outcomes: all kept

    service = root / "service.py"
    text = service.read_text()
    service.write_text(text.replace("@must_retain(", "@must_ignore("))  # the same size
    os.utime(service, ns=(service.stat().st_atime_ns, service.stat().st_mtime_ns + 10_000_000_000))
    assert cached_run(root) == ([], True)

    (root / "plain_0.py").write_text("def f():\n    return 9\n")  # the same size, another text
    os.utime(root / "plain_0.py", ns=(1, 10**18))
    for path in root.glob("plain_1*.py"):  # eleven files with a new time only
        os.utime(path, ns=(1, 10**18))
    assert cached_run(root, rechecked=1) == ([], False)


CONN = """\
from keepref_lint import must_retain


class Conn:
    @must_retain
    def open(self):
        return object()


class Plain:
    def open(self):
        return object()


class Hub:
    conn: Conn


def make():
    return Conn()
"""
USER = """\
import asyncio

from conn import Conn, Hub, make


def direct(c: Conn):
    c.open()


def through(hub: Hub):
    hub.conn.open()


def local():
    made = make()
    made.open()
"""


def rewrite(path: Path, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the file and move its modification time on."""
    path.write_text(path.read_text().replace(old, new))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_edits_to_another_module_change_what_its_receivers_find(tmp_path: Path) -> None:
    """A receiver typed by another module (a parameter annotation, a class attribute's annotation, what
    an un-annotated function constructs): an edit there that takes the mark or the type away is seen by
    a cached run, and so is its revert; so is the mark rewritten as ``Annotated[T, must_retain]``."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (root / "conn.py").write_text(CONN)
    (root / "user.py").write_text(USER)
    every = [("user.py", 7, "KR001"), ("user.py", 11, "KR001"), ("user.py", 16, "KR001")]
    assert cached_run(root) == (every, True)
    assert cached_run(root) == (every, False)

    conn = root / "conn.py"
    rewrite(conn, "    @must_retain\n    def open", "    def open")
    assert cached_run(root)[0] == []
    rewrite(conn, "class Conn:\n    def open", "class Conn:\n    @must_retain\n    def open")
    assert cached_run(root)[0] == every

    rewrite(conn, "    conn: Conn", "    conn: Plain")
    assert cached_run(root)[0] == [every[0], every[2]]
    rewrite(conn, "    conn: Plain", "    conn: Conn")
    assert cached_run(root)[0] == every

    rewrite(conn, "    return Conn()", "    return Plain()")
    assert cached_run(root)[0] == every[:2]
    rewrite(conn, "    return Plain()", "    return Conn()")
    assert cached_run(root)[0] == every

    marked_by_annotation = "    def open(self) -> Annotated[object, must_retain]:"
    rewrite(conn, "    @must_retain\n    def open(self):", marked_by_annotation)
    rewrite(conn, "from keepref_lint", "from typing import Annotated\n\nfrom keepref_lint")
    assert cached_run(root)[0] == every  # the same mark, written as an annotation
    rewrite(conn, "Annotated[object, must_retain]", "Annotated[object, 'must_retain']")
    assert cached_run(root)[0] == []


STUB_MODULE = "def start_service():\n    return object()\n"
UNMARKED_STUB = "def start_service() -> object: ...\n"
MARKED_STUB = (
    "from keepref_lint import must_retain\n\n@must_retain\ndef start_service() -> object: ...\n"
)


def test_edits_to_a_stub_add_and_remove_its_marks(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (root / "service.py").write_text(STUB_MODULE)
    (root / "app.py").write_text(APP)
    stub = root / "service.pyi"
    seed = ("app.py", 6, "KR001")

    assert cached_run(root) == ([], True)
    stub.write_text(UNMARKED_STUB)  # a new stub that marks nothing cannot change the index
    assert cached_run(root) == ([], False)

    rewrite(stub, UNMARKED_STUB, MARKED_STUB)
    assert cached_run(root) == ([seed], True)
    assert cached_run(root) == ([seed], False)  # nothing changed

    rewrite(stub, MARKED_STUB, UNMARKED_STUB)
    assert cached_run(root) == ([], True)

    stub.write_text(MARKED_STUB)
    assert cached_run(root)[0] == [seed]
    stub.unlink()  # the stub goes away, and its marks with it
    assert cached_run(root) == ([], True)


def test_a_module_file_appearing_or_going_beside_a_marked_stub(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (root / "service.pyi").write_text(MARKED_STUB)  # a compiled module's stub, alone
    (root / "app.py").write_text(APP)
    seed = ("app.py", 6, "KR001")

    assert cached_run(root) == ([seed], True)
    (root / "service.py").write_text(STUB_MODULE)
    assert cached_run(root) == ([seed], True)
    (root / "service.py").unlink()
    assert cached_run(root) == ([seed], True)


GATED_CONN = """\
from keepref_lint import must_retain


class Conn:
    @must_retain
    def open(self):
        return object()
"""
GATED_USER = """\
from hub import Hub


def use(hub: Hub):
    hub.link.open()
"""


def test_an_edit_that_gives_an_unrelated_file_the_owner_class_brings_its_receivers_in(
    tmp_path: Path,
) -> None:
    """``open`` is gated by its class ``Conn``: user.py, which never mentions it, is not read by the
    receiver pass until hub.py states ``Hub.link: Conn``; then the index is built again and the call
    through ``hub.link`` is found, and it goes away with the annotation."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (root / "conn.py").write_text(GATED_CONN)
    (root / "hub.py").write_text("class Hub:\n    link: object\n")
    (root / "user.py").write_text(GATED_USER)
    assert cached_run(root) == ([], True)

    edit(root / "user.py", "\n# a comment\n")
    assert cached_run(root) == ([], False)  # user.py mentions no word of the gate

    rewrite(
        root / "hub.py",
        "class Hub:\n    link: object\n",
        "import conn\n\n\nclass Hub:\n    link: conn.Conn\n",
    )
    assert cached_run(root) == ([("user.py", 5, "KR001")], True)

    edit(root / "user.py", "\n# another comment\n")
    assert cached_run(root) == ([("user.py", 5, "KR001")], False)

    rewrite(root / "hub.py", "    link: conn.Conn\n", "    link: object\n")
    assert cached_run(root) == ([], True)
