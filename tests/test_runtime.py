"""Runtime mode (docs/runtime.md): real programs run in subprocesses, with and without KEEPREF_LINT_RUNTIME.

Programs mark the lines where a drop is expected with ``# drop: statement`` or ``# drop: dead local``; the
tests read the expected lines from those comments, never from numbers in the test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SERVER = textwrap.dedent(
    """\
    from keepref_lint import must_retain


    class Server:
        pass


    @must_retain(attr="server", reason="the server stops when collected")
    def start_server():
        return Server()


    @must_retain
    def plain():
        return Server()


    @must_retain
    def count():
        return 5


    @must_retain
    def pair():
        return (Server(), Server())


    class Managed:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None


    @must_retain
    def managed():
        return Managed()


    @must_retain
    def items():
        yield 1
        yield 2
    """
)
# Printed by each program at its end: the drops the runtime recorded, one per line.
REPORT = textwrap.dedent(
    """\

    import sys as _sys

    if "keepref_lint.runtime" in _sys.modules:
        from keepref_lint import runtime as _runtime

        for _drop in _runtime.drops:
            print("DROP", _drop.kind, _drop.lineno, _drop.callee, _drop.local)
        print("UNWATCHABLE", dict(_runtime.unwatchable))
    """
)
EXPECT = re.compile(r"#\s*drop:\s*(statement|dead local|pending task)\s*$")
WARNING = re.compile(r"^(?P<path>.+?):(?P<line>\d+): DroppedReferenceWarning: (?P<message>.*)$")


def _env(runtime: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KEEPREF_LINT_RUNTIME"}
    if runtime is not None:
        env["KEEPREF_LINT_RUNTIME"] = runtime
    env.pop("PYTHONWARNINGS", None)
    return env


def _run(
    tmp_path: Path, program: str, runtime: str | None = "1", *modules: tuple[str, str]
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "server.py").write_text(SERVER)
    for name, text in modules:
        (tmp_path / name).write_text(textwrap.dedent(text))
    (tmp_path / "app.py").write_text(textwrap.dedent(program) + REPORT)
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        env=_env(runtime),
        capture_output=True,
        text=True,
        check=False,
    )


def _expected(path: Path) -> set[tuple[str, int]]:
    found = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            found.add((match.group(1), number))
    return found


def _drops(proc: subprocess.CompletedProcess[str]) -> set[tuple[str, int]]:
    assert proc.returncode == 0, proc.stderr
    found = set()
    for line in proc.stdout.splitlines():
        if line.startswith("DROP "):
            kind_and_line = line[len("DROP ") :].rsplit(" ", 2)[0]
            kind, _, number = kind_and_line.rpartition(" ")
            found.add((kind, int(number)))
    return found


def _warnings(proc: subprocess.CompletedProcess[str]) -> list[re.Match[str]]:
    return [m for m in map(WARNING.match, proc.stderr.splitlines()) if m]


def test_bare_call_drop_warns_with_the_call_site(tmp_path: Path) -> None:
    proc = _run(
        tmp_path,
        """\
        import functools

        import server
        from server import start_server


        def main():
            start_server()  # drop: statement
            print("still running")
            functools.partial(start_server)()  # drop: statement
            getattr(server, "start_server")()  # drop: statement


        main()
        start_server()  # drop: statement
        """,
    )
    expected = _expected(tmp_path / "app.py")
    assert _drops(proc) == expected
    warned = _warnings(proc)
    assert {("statement", int(m["line"])) for m in warned} == expected
    for match in warned:
        assert Path(match["path"]) == tmp_path / "app.py"
        message = match["message"]
        assert message.startswith(f"result of start_server() created at {match['path']}:")
        assert (
            "was garbage-collected while the statement that created it was still running" in message
        )
        assert "keep a reference (e.g. self.server = ...)" in message
        assert message.endswith("(the server stops when collected)")


def test_kept_returned_and_stored_results_are_not_reported(tmp_path: Path) -> None:
    proc = _run(
        tmp_path,
        """\
        from server import items, managed, plain, start_server

        keep = []
        table = {}


        class Holder:
            def __init__(self):
                self.server = start_server()


        def used():
            server = start_server()
            return server is not None


        def returned():
            return start_server()


        def stored():
            keep.append(start_server())
            table["x"] = plain()


        def reused_in_a_loop():
            for _ in range(3):
                server = plain()
                assert server is not None


        def deleted_after_use():
            server = plain()
            assert server is not None
            del server


        def blocks():
            with managed() as resource:
                assert resource is not None
            for item in items():
                assert item


        used()
        kept = returned()
        stored()
        holder = Holder()
        reused_in_a_loop()
        deleted_after_use()
        blocks()
        """,
    )
    assert _drops(proc) == set()
    assert proc.stderr == ""


def test_dead_local_is_reported_when_its_function_returns(tmp_path: Path) -> None:
    proc = _run(
        tmp_path,
        """\
        from server import plain, start_server


        class Job:
            def prepare(self):
                workdir = start_server()  # drop: dead local
                self.ready = True


        def underscore():
            _ = plain()  # drop: dead local


        def read_later():
            server = plain()
            print(server is not None)


        def raised():
            server = plain()
            raise ValueError


        Job().prepare()
        underscore()
        read_later()
        try:
            raised()
        except ValueError:
            pass
        """,
    )
    assert _drops(proc) == _expected(tmp_path / "app.py")
    assert "was kept only in the local 'workdir', which prepare() never reads" in proc.stderr


def test_marked_classes_methods_and_static_and_class_methods(tmp_path: Path) -> None:
    classes = """\
        from dataclasses import dataclass

        from keepref_lint import must_retain


        class Resource:
            pass


        @must_retain
        class Handle:
            def __init__(self, n=0):
                self.n = n


        class Child(Handle):
            def __new__(cls, *args):
                return super().__new__(cls)


        @dataclass
        @must_retain
        class Config:
            name: str
            size: int = 1


        class Plain:
            pass


        @must_retain
        class Bare:
            pass


        class Service:
            @must_retain
            def open(self):
                return Resource()

            @staticmethod
            @must_retain
            def make():
                return Resource()

            @must_retain
            @classmethod
            def create(cls):
                return Resource()
        """
    proc = _run(
        tmp_path,
        """\
        from classes import Bare, Child, Config, Handle, Service

        assert Handle(3).n == 3  # drop: statement
        Child(1)  # drop: statement
        config = Config("a", size=2)
        assert (config.name, config.size) == ("a", 2)
        Config("b")  # drop: statement
        try:
            Bare(1)
        except TypeError as error:
            print("TypeError", error)
        service = Service()
        service.open()  # drop: statement
        Service.make()  # drop: statement
        Service.create()  # drop: statement
        kept = [Handle(), Service.make(), service.open()]
        """,
        "1",
        ("classes.py", classes),
    )
    assert _drops(proc) == _expected(tmp_path / "app.py")
    assert "TypeError Bare() takes no arguments" in proc.stdout
    callees = {line.split()[-2] for line in proc.stdout.splitlines() if line.startswith("DROP")}
    assert callees == {
        "classes.Handle",
        "classes.Config",
        "classes.Service.open",
        "classes.Service.make",
        "classes.Service.create",
    }


def test_async_def_mark_watches_the_awaited_result(tmp_path: Path) -> None:
    module = """\
        import asyncio
        import inspect

        from keepref_lint import must_retain


        class Connection:
            pass


        @must_retain(reason="the connection closes when collected")
        async def connect():
            await asyncio.sleep(0)
            return Connection()


        assert inspect.iscoroutinefunction(connect)
        """
    proc = _run(
        tmp_path,
        """\
        import asyncio

        from conn import connect


        async def main():
            await connect()  # drop: statement
            unused = await connect()  # drop: dead local
            kept = await connect()
            await asyncio.sleep(0)
            return kept


        asyncio.run(main())
        """,
        "1",
        ("conn.py", module),
    )
    assert _drops(proc) == _expected(tmp_path / "app.py")
    assert (
        "result of connect()" in proc.stderr
        and "(the connection closes when collected)" in proc.stderr
    )


def test_results_that_cannot_be_weakly_referenced_are_counted_not_watched(tmp_path: Path) -> None:
    proc = _run(
        tmp_path,
        """\
        from server import count, pair

        count()
        pair()
        pair()
        """,
    )
    assert _drops(proc) == set()
    assert "UNWATCHABLE {'server.count': 1, 'server.pair': 2}" in proc.stdout


def test_the_check_keeps_no_result_alive(tmp_path: Path) -> None:
    proc = _run(
        tmp_path,
        """\
        import gc
        import weakref

        from server import plain

        gc.disable()  # reference counting alone must free it
        server = plain()
        ref = weakref.ref(server)
        del server
        assert ref() is None
        print("FREED")
        """,
    )
    assert "FREED" in proc.stdout, proc.stderr
    assert _drops(proc) == set()


@pytest.mark.parametrize("runtime", [None, "", "0", "no"])
def test_without_the_variable_the_marker_is_the_identity(
    tmp_path: Path, runtime: str | None
) -> None:
    proc = _run(
        tmp_path,
        """\
        import sys

        before = set(sys.modules)
        import keepref_lint
        from keepref_lint import must_retain
        from server import Server, start_server


        def func():
            return Server()


        class Klass:
            pass


        assert must_retain(func) is func
        assert must_retain(attr="x", reason="y")(func) is func
        assert must_retain(Klass) is Klass and "__new__" not in Klass.__dict__
        assert not hasattr(start_server, "__wrapped__")
        start_server()
        print("NEW", sorted(set(sys.modules) - before))
        """,
        runtime,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and "DROP" not in proc.stdout and "UNWATCHABLE" not in proc.stdout
    imported = next(line for line in proc.stdout.splitlines() if line.startswith("NEW "))
    # __future__: marker.py's `from __future__ import annotations`, as before runtime mode existed
    assert imported == "NEW ['__future__', 'keepref_lint', 'keepref_lint.marker', 'server']"


def test_runtime_mode_imports_no_parser(tmp_path: Path) -> None:
    proc = _run(
        tmp_path,
        """\
        import sys

        from server import plain, start_server


        def job():
            unused = plain()  # drop: dead local


        start_server()  # drop: statement
        job()
        assert hasattr(start_server, "__wrapped__")
        print("PARSERS", sorted({"ast", "libcst", "inspect", "asyncio"} & set(sys.modules)))
        """,
    )
    assert _drops(proc) == _expected(tmp_path / "app.py")
    assert "PARSERS []" in proc.stdout


TASKS = """\
    import asyncio
    import gc

    from server import start_server  # a mark: runtime mode starts watching tasks (asyncio is imported)


    async def work():
        await asyncio.get_running_loop().create_future()  # never finishes


    async def quick():
        return 1


    background = set()


    async def main():
        asyncio.create_task(work())  # drop: pending task
        kept = asyncio.create_task(work())
        background.add(kept)
        asyncio.create_task(quick())
        asyncio.get_running_loop().create_task(work())  # drop: pending task
        await asyncio.sleep(0.01)
        gc.collect()
        kept.cancel()
        await asyncio.sleep(0)


    asyncio.run(main())
    """


def test_a_task_destroyed_while_pending_is_reported_with_the_line_that_created_it(
    tmp_path: Path,
) -> None:
    proc = _run(tmp_path, TASKS)
    expected = _expected(tmp_path / "app.py")
    assert len(expected) == 2 and _drops(proc) == expected
    for _, line in expected:
        assert (
            f"app.py:{line}: DroppedReferenceWarning: asyncio task of work() created at"
            f" {tmp_path / 'app.py'}:{line} was destroyed while pending" in proc.stderr
        )
    assert "DroppedReferenceWarning" not in _run(tmp_path, TASKS, None).stderr


def test_enable_before_import_turns_the_mode_on(tmp_path: Path) -> None:
    proc = _run(
        tmp_path,
        """\
        from keepref_lint import runtime

        runtime.enable()
        from server import start_server

        start_server()  # drop: statement
        """,
        None,
    )
    assert _drops(proc) == _expected(tmp_path / "app.py")


TEST_PROJECT = {
    "service.py": """\
        from keepref_lint import must_retain


        class Server:
            pass


        @must_retain(reason="the server stops when collected")
        def start():
            return Server()
        """,
    "conftest.py": """\
        import service  # imported before any test module: the mode must already be on
        """,
    "test_app.py": """\
        from service import start

        servers = []


        def test_drops():
            start()  # drop: statement


        def test_keeps():
            servers.append(start())


        def test_dead_local():
            server = start()  # drop: dead local


        def test_uses():
            server = start()
            assert server is not None


        def test_fails_on_its_own():
            assert False
        """,
}


def _pytest(tmp_path: Path, *args: str, ini: str = "") -> subprocess.CompletedProcess[str]:
    for name, text in TEST_PROJECT.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    (tmp_path / "pytest.ini").write_text(f"[pytest]\n{ini}")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfEp", *args],
        cwd=tmp_path,
        env={**_env(None), "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )


def _outcomes(proc: subprocess.CompletedProcess[str]) -> dict[str, str]:
    found = re.findall(r"^(PASSED|FAILED|ERROR) test_app\.py::(\w+)", proc.stdout, re.MULTILINE)
    return {test: outcome for outcome, test in found}


@pytest.mark.parametrize(
    ("args", "ini"),
    [
        (["--keepref-runtime"], ""),  # the installed entry point
        (["-p", "keepref_lint.pytest_plugin", "--keepref-runtime"], ""),  # named as well: no clash
        ([], "keepref_runtime = true\n"),
    ],
)
def test_pytest_plugin_fails_exactly_the_dropping_tests(
    tmp_path: Path, args: list[str], ini: str
) -> None:
    proc = _pytest(tmp_path, *args, ini=ini)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert _outcomes(proc) == {
        "test_drops": "FAILED",
        "test_keeps": "PASSED",
        "test_dead_local": "FAILED",
        "test_uses": "PASSED",
        "test_fails_on_its_own": "FAILED",
    }
    source = (tmp_path / "test_app.py").read_text().splitlines()
    when = {
        "statement": "while the statement that created it was still running",
        "dead local": "when test_dead_local() returned",
    }
    for kind, line in _expected(tmp_path / "test_app.py"):
        site = f"{tmp_path / 'test_app.py'}:{line}"
        assert (
            f"result of start() created at {site} was garbage-collected {when[kind]}" in proc.stdout
        )
        assert source[line - 1].strip().startswith(("start()", "server = start()"))
    assert "keepref-lint: 1 must-retain result(s) dropped during this test" in proc.stdout


def test_pytest_plugin_does_nothing_unless_enabled(tmp_path: Path) -> None:
    (tmp_path / "test_modules.py").write_text(
        "import sys\n\n\ndef test_no_runtime():\n    assert 'keepref_lint.runtime' not in sys.modules\n"
    )
    proc = _pytest(tmp_path)
    assert _outcomes(proc) == {
        "test_drops": "PASSED",
        "test_keeps": "PASSED",
        "test_dead_local": "PASSED",
        "test_uses": "PASSED",
        "test_fails_on_its_own": "FAILED",
    }
    assert "test_modules.py::test_no_runtime" in proc.stdout and "1 failed, 5 passed" in proc.stdout


def test_pytest_plugin_attributes_fixture_drops_and_reports_drops_outside_tests(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_fixtures.py").write_text(
        textwrap.dedent(
            """\
            import pytest

            from service import start

            start()  # drop: statement


            @pytest.fixture
            def dropped_in_setup():
                start()  # drop: statement


            @pytest.fixture
            def dropped_in_teardown():
                yield
                start()  # drop: statement


            def test_setup(dropped_in_setup):
                pass


            def test_teardown(dropped_in_teardown):
                pass


            def test_nothing():
                pass
            """
        )
    )
    proc = _pytest(tmp_path, "--keepref-runtime", "test_fixtures.py")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = re.findall(
        r"^(PASSED|FAILED|ERROR) test_fixtures\.py::(\w+)", proc.stdout, re.MULTILINE
    )
    assert sorted(found) == [
        ("ERROR", "test_teardown"),
        ("FAILED", "test_setup"),
        ("PASSED", "test_nothing"),
        ("PASSED", "test_teardown"),
    ]
    lines = sorted(line for _, line in _expected(tmp_path / "test_fixtures.py"))
    summary = proc.stdout.partition("keepref-lint: drops outside tests")[2]
    assert f"{tmp_path / 'test_fixtures.py'}:{lines[0]}: result of start()" in summary
    for line in lines[1:]:
        assert f"created at {tmp_path / 'test_fixtures.py'}:{line} was" in proc.stdout
