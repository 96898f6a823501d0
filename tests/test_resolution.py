"""Resolution across modules: star chains and re-exports of any length, cycles, wrappers through aliases.

Each scenario is a real project folder checked by the real command; none depends on the order in which
files are found or defined.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest
from helpers import run_cli

SERVICE = """\
from keepref_lint import must_retain


@must_retain(reason="the service stops when collected")
def start_service():
    return object()
"""

USER = """\
from {source} import start_service


class App:
    def run(self):
        start_service()
"""


def write(root: Path, files: dict[str, str], config: str = "") -> Path:
    (root / "pyproject.toml").write_text(f"[project]\nname = 'p'\nversion = '0'\n{config}")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def findings(root: Path, *args: str) -> list[dict]:
    proc = run_cli("check", "--no-cache", "--format", "json", *args, cwd=root)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def places(root: Path) -> set[tuple[str, int, str]]:
    return {(f["path"], f["line"], f["code"]) for f in findings(root)}


@pytest.mark.parametrize("first, second", [("a", "b"), ("z", "y")])
def test_two_hop_star_chain_is_found_whatever_the_names(
    tmp_path: Path, first: str, second: str
) -> None:
    # user -> first -> second -> service, each hop a star import; "a" sorts before "b", "z" after "y".
    root = write(
        tmp_path,
        {
            "service.py": SERVICE,
            f"{second}.py": "from service import *\n",
            f"{first}.py": f"from {second} import *\n",
            "user.py": USER.format(source=first),
        },
    )
    assert places(root) == {("user.py", 6, "KR001")}


def test_star_chain_into_a_package_init(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "pkg/__init__.py": "from .api import *\n",
            "pkg/api.py": "from .core import *\n",
            "pkg/core.py": "from .service import *\n",
            "pkg/service.py": SERVICE,
            "app.py": USER.format(source="pkg"),
        },
    )
    assert places(root) == {("app.py", 6, "KR001")}


def test_forty_module_reexport_chain(tmp_path: Path) -> None:
    files = {"m0.py": SERVICE}
    for i in range(1, 40):
        files[f"m{i}.py"] = f"from m{i - 1} import start_service\n"
    files["user.py"] = USER.format(source="m39")
    root = write(tmp_path, files)
    assert places(root) == {("user.py", 6, "KR001")}


def test_forty_module_star_chain(tmp_path: Path) -> None:
    files = {"m0.py": SERVICE}
    for i in range(1, 40):
        files[f"m{i}.py"] = f"from m{i - 1} import *\n"
    files["user.py"] = USER.format(source="m39")
    root = write(tmp_path, files)
    assert places(root) == {("user.py", 6, "KR001")}


def test_star_cycle_resolves_and_ends(tmp_path: Path) -> None:
    # a and b star-import each other; b also star-imports the service. A name neither provides
    # (missing) must end the lookup, not loop.
    root = write(
        tmp_path,
        {
            "service.py": SERVICE,
            "a.py": "from b import *\n",
            "b.py": "from a import *\nfrom service import *\n",
            "user.py": USER.format(source="a")
            + "\n\ndef other():\n    from a import missing\n    missing()\n",
        },
    )
    assert places(root) == {("user.py", 6, "KR001")}


@pytest.mark.parametrize("how", ["from api import start_service", "from api import *"])
def test_a_name_a_module_defines_is_its_own_not_its_star_imports(tmp_path: Path, how: str) -> None:
    # api star-imports the service, then defines a start_service of its own, which rebinds the name:
    # what api's start_service is, imported by name or by a star, is that one (not must-retain).
    # A module that only star-imports the service passes the service's on.
    own = "from service import *\n\n\ndef start_service():\n    return 1\n"
    user = f"{how}\n\n\nclass App:\n    def run(self):\n        start_service()\n"
    root = write(
        tmp_path,
        {
            "service.py": SERVICE,
            "api.py": own,
            "passes.py": "from service import *\n",
            "user.py": user,
            "other.py": user.replace("api", "passes"),
        },
    )
    line = user.splitlines().index("        start_service()") + 1
    assert places(root) == {("other.py", line, "KR001")}


def test_wrapper_calling_through_an_import_alias_is_inferred(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "svc.py": SERVICE,
            "wrap.py": """\
                from svc import start_service as s


                def launch():
                    return s()
                """,
            "app.py": """\
                from wrap import launch


                class App:
                    def run(self):
                        launch()
                """,
        },
    )
    found = findings(root)
    assert [(f["path"], f["line"], f["code"]) for f in found] == [("app.py", 6, "KR003")]
    assert "start_service()" in found[0]["message"]


def test_wrapper_calling_through_a_function_level_import_alias(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "svc.py": SERVICE,
            "wrap.py": """\
                def launch():
                    from svc import start_service as s
                    return s()
                """,
            "app.py": """\
                from wrap import launch


                class App:
                    def run(self):
                        launch()
                """,
        },
    )
    assert places(root) == {("app.py", 6, "KR003")}


def _chain(count: int, reverse: bool) -> str:
    """f0 is marked; f(i) returns f(i-1)(); defined first to last or last to first."""
    defs = [f"def f{i}():\n    return f{i - 1}()\n" for i in range(1, count)]
    if reverse:
        defs.reverse()
    head = (
        "from keepref_lint import must_retain\n\n\n@must_retain\ndef f0():\n    return object()\n"
    )
    return head + "\n\n" + "\n\n".join(defs)


@pytest.mark.parametrize("reverse", [False, True], ids=["natural", "reverse"])
def test_long_wrapper_chain_in_either_order_has_a_bounded_message(
    tmp_path: Path, reverse: bool
) -> None:
    count = 400
    use = f"from chain import f{count - 1}\n\n\nclass App:\n    def run(self):\n        f{count - 1}()\n"
    root = write(tmp_path, {"chain.py": _chain(count, reverse), "app.py": use})
    start = time.perf_counter()
    found = findings(root)
    elapsed = time.perf_counter() - start
    assert [(f["path"], f["line"], f["code"]) for f in found] == [("app.py", 6, "KR003")]
    message = found[0]["message"]
    assert len(message) < 400, message
    assert f"f{count - 2}()" in message and "f0()" in message and f"{count - 3}" in message
    assert elapsed < 20  # quadratic inference took about 30 s here in reverse order


def test_lookup_of_unknown_names_through_many_star_imports_is_fast(tmp_path: Path) -> None:
    # A package whose __init__ star-imports 60 submodules which star-import each other: a name that
    # none of them defines must be settled once, not walked name by name.
    files = {"pkg/service.py": SERVICE}
    for i in range(60):
        files[f"pkg/m{i}.py"] = (
            f"from .m{(i + 1) % 60} import *\nfrom .service import *\n\n\ndef f{i}():\n    pass\n"
        )
    files["pkg/__init__.py"] = "".join(f"from .m{i} import *\n" for i in range(60))
    files["app.py"] = (
        "import pkg\n\n\nclass App:\n    def run(self):\n        pkg.start_service()\n"
        "        pkg.m3.nothing()\n        pkg.nothing.deeper()\n"
    )
    root = write(tmp_path, files)
    start = time.perf_counter()
    assert places(root) == {("app.py", 6, "KR001")}
    assert time.perf_counter() - start < 20


@pytest.mark.parametrize("attr", ["x = 1; self.y", "class", "1st", ""])
def test_bad_marker_attr_is_a_one_line_error_and_the_mark_stands(tmp_path: Path, attr: str) -> None:
    service = SERVICE.replace("@must_retain(", f"@must_retain(attr={attr!r}, ")
    root = write(tmp_path, {"service.py": service, "user.py": USER.format(source="service")})
    for _ in range(2):  # the second run would be answered by the results cache
        proc = run_cli("check", cwd=root)
        assert proc.returncode == 2
        assert proc.stdout.startswith("user.py:6:9: KR001 result of start_service() is dropped")
        assert proc.stderr.splitlines() == [
            f"service.py:4: must_retain attr {attr!r} is not a Python identifier; ignored "
            "(the fix names the attribute itself)"
        ]
    proc = run_cli("fix", cwd=root)
    assert proc.returncode == 2, proc.stderr
    assert "self.service = start_service()" in (root / "user.py").read_text()
    assert "Traceback" not in proc.stderr


COLLECTOR = """\
from keepref_lint import must_retain


class Collector:
    @must_retain
    def start(self):
        return object()

    def run(self):
        self.start()
"""

# A file that does not parse: reported only if the check parses it.
UNRELATED = "import threading\n\n\ndef go(thread):\n    thread.start()\n    def broken(:\n"


def test_a_method_is_looked_for_only_where_its_class_can_be_reached(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/collector.py": COLLECTOR,
            "pkg/sub.py": """\
                from pkg.collector import Collector


                class Fast(Collector):
                    pass
                """,
            "pkg/user.py": """\
                from pkg.sub import Fast


                class Faster(Fast):
                    def go(self):
                        self.start()
                """,
            "pkg/unrelated.py": UNRELATED,
        },
    )
    proc = run_cli("check", "--no-cache", cwd=root)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    found = {line.split(" ")[0] for line in proc.stdout.splitlines() if " KR" in line}
    assert found == {"pkg/collector.py:10:9:", "pkg/user.py:6:9:"}


def test_a_module_level_function_is_looked_for_only_where_a_file_can_bind_it(
    tmp_path: Path,
) -> None:
    root = write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/worker.py": SERVICE.replace("start_service", "start"),
            "pkg/a.py": "from pkg import worker\n\n\ndef f():\n    worker.start()\n",
            "pkg/b.py": "from pkg.worker import start as begin\n\n\ndef f():\n    begin()\n",
            "pkg/c.py": "from pkg.worker import *\n\n\ndef f():\n    start()\n",
            "pkg/d.py": "import pkg.worker\n\nw = pkg.worker\n\n\ndef f():\n    w.start()\n",
            "pkg/e.py": """\
                from pkg import worker


                class E:
                    def __init__(self):
                        self.w = worker

                    def f(self):
                        self.w.start()
                """,
            "pkg/unrelated.py": UNRELATED + "\n\ndef h(start):\n    start()\n",
        },
    )
    proc = run_cli("check", "--no-cache", cwd=root)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    found = {line.split(" ")[0] for line in proc.stdout.splitlines() if " KR" in line}
    assert found == {
        "pkg/a.py:5:5:",
        "pkg/b.py:5:5:",
        "pkg/c.py:5:5:",
        "pkg/d.py:7:5:",
        "pkg/e.py:9:9:",
    }


def test_a_chain_longer_than_the_recursion_limit_survives_an_edit(tmp_path: Path) -> None:
    count = 1500
    use = f"from chain import f{count - 1}\n\n\nclass App:\n    def run(self):\n        f{count - 1}()\n"
    root = write(tmp_path, {"chain.py": _chain(count, True), "app.py": use})
    first = run_cli("check", cwd=root)
    assert first.returncode == 1, first.stderr
    with open(root / "chain.py", "a") as handle:
        handle.write("# an edit the index is kept through\n")
    second = run_cli("check", cwd=root)
    assert (second.returncode, second.stdout, second.stderr) == (1, first.stdout, "")


def test_a_wrapper_chain_across_modules_in_reverse_name_order(tmp_path: Path) -> None:
    # w49 -> w48 -> ... -> w0 -> start_service, w(i) in module m(49 - i): the last wrapper's module
    # is read first.
    count = 50
    files = {"service.py": SERVICE}
    for i in range(count):
        callee = "start_service" if i == 0 else f"w{i - 1}"
        source = "service" if i == 0 else f"m{count - i:02d}"
        files[f"m{count - 1 - i:02d}.py"] = (
            f"from {source} import {callee}\n\n\ndef w{i}():\n    return {callee}()\n"
        )
    files["user.py"] = (
        f"from m00 import w{count - 1}\n\n\nclass App:\n    def run(self):\n        w{count - 1}()\n"
    )
    root = write(tmp_path, files)
    found = findings(root)
    assert [(f["path"], f["line"], f["code"]) for f in found] == [("user.py", 6, "KR003")]
    assert "start_service()" in found[0]["message"] and "(47 more)" in found[0]["message"]


def test_a_wrapper_named_like_a_catalog_entry_is_followed_where_its_module_is_not_imported(
    tmp_path: Path,
) -> None:
    # ``tasks.create_task`` wraps asyncio's; ``launch.py`` imports only the project's (not asyncio), so
    # the catalog's "only where asyncio is imported" does not hold for the name once the project's
    # function of that name is marked.
    root = write(
        tmp_path,
        {
            "tasks.py": "import asyncio\n\n\ndef create_task(coro):\n    return asyncio.create_task(coro)\n",
            "launch.py": "from tasks import create_task\n\n\ndef spawn(coro):\n    return create_task(coro)\n",
            "app.py": "from launch import spawn\n\n\nasync def main(work):\n    spawn(work())\n",
        },
    )
    assert places(root) == {("app.py", 5, "KR003")}
