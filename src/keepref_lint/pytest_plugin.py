"""pytest plugin: run the test suite in keepref-lint's runtime mode and fail each test that drops a result.

Enabled with ``pytest --keepref-runtime`` or ``keepref_runtime = true`` in the ini file (docs/runtime.md);
otherwise it only adds the option and imports nothing. The mode is turned on before conftest files and
test modules are imported. A drop is reported by a weak reference's callback, where a raised exception
cannot propagate, so the plugin reads ``keepref_lint.runtime.drops`` after each test's call (after a
``gc.collect()``) and after its teardown, and fails the test (an error in teardown) naming each call site.
Drops outside any test (at import or collection) are listed at the end and make the run fail.
"""

from __future__ import annotations

import pytest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from keepref_lint.runtime import Drop

_PLUGIN = "keepref-lint-runtime"


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = "run in keepref-lint's runtime mode: fail tests during which a @must_retain result is dropped"
    parser.getgroup("keepref-lint").addoption(
        "--keepref-runtime", action="store_true", default=False, help=help_text
    )
    parser.addini("keepref_runtime", help_text, type="bool", default=False)


def _wanted(config: pytest.Config) -> bool:
    return bool(config.getoption("keepref_runtime") or config.getini("keepref_runtime"))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # Before conftest.py files are imported: they may import marked code. Only for installed plugins
    # and -p; pytest_configure below covers the rest.
    if early_config.known_args_namespace.keepref_runtime or early_config.getini("keepref_runtime"):
        _start(early_config)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if _wanted(config):
        _start(config)


def _start(config: pytest.Config) -> None:
    from keepref_lint import runtime

    runtime.enable()
    if not config.pluginmanager.has_plugin(_PLUGIN):
        config.pluginmanager.register(_Checker(), _PLUGIN)


def _describe(found: list[Drop]) -> str:
    lines = [f"keepref-lint: {len(found)} must-retain result(s) dropped during this test:"]
    lines += [f"  {drop.message}" for drop in found]
    return "\n".join(lines)


class _Checker:
    """Registered only in runtime mode: attributes drops to the test during which they happened."""

    def __init__(self) -> None:
        self.outside: list[Drop] = []

    def _take(self, collect: bool = True) -> list[Drop]:
        import gc

        from keepref_lint import runtime

        if collect:
            gc.collect()  # results in reference cycles die now, in this test, not in a later one
        return runtime.take_drops()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        from keepref_lint import runtime

        runtime._maybe_watch_tasks()  # asyncio tasks, once the tests have imported asyncio
        self.outside += self._take(collect=False)  # anything since the last test belongs to no test

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        # Runs after the test function returned (a test that raised has failed already).
        found = self._take()
        if found:
            pytest.fail(_describe(found), pytrace=False)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        found = self._take()
        if found:
            pytest.fail(_describe(found), pytrace=False)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        self.outside += self._take()
        if self.outside:
            terminalreporter.section("keepref-lint: drops outside tests")
            for drop in self.outside:
                terminalreporter.write_line(f"{drop.filename}:{drop.lineno}: {drop.message}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.outside += self._take()
        if self.outside and exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
