"""Fixit rule: the drops keepref-lint finds, reported through Fixit with the engine's fixes.

Enable it in ``pyproject.toml`` (or ``fixit.toml``)::

    [tool.fixit]
    enable = ["keepref_lint.fixit"]

then ``fixit lint src/`` reports each drop and ``fixit fix --automatic src/`` applies the fixes (the same
names, comments and bytes as ``keepref-lint fix``). The rule is a thin adapter over ``keepref_lint.cst``:
the engine finds the drops across the project (settings from ``[tool.keepref-lint]``, as ``check``
reads them), and each is reported at its statement with the fixed statement(s) as the replacement.

A task's fix also defines the module's set of tasks after the imports, once for all of them. Fixit
applies each replacement to its node and skips the nodes inside a replaced one, so such a fix is
reported (at its statement's position) on the ``Module`` node, with the whole module as
``keepref-lint fix`` writes it, made from the drops this run reports; all such reports carry the same
module. In an interactive ``fixit fix``, accepting one of them applies every fix of the file.

Fixit's own ``# lint-ignore``/``# lint-fixme`` comments and keepref-lint's ``# noqa: KR001`` both
silence a drop (and leave its statement unfixed).
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst
from fixit import Invalid, LintRule, Valid
from libcst.metadata import CodeRange, FilePathProvider, PositionProvider

from keepref_lint.cst import Drop, DropMatcher, StatementVisits, settings_for

__all__ = ["KeepReferences"]

_MARKED = """
from keepref_lint import must_retain


@must_retain
def start_server():
    return object()


"""


class KeepReferences(StatementVisits, LintRule):
    """A must-retain result (a server, task, thread, handle) is dropped; keep a reference to it."""

    METADATA_DEPENDENCIES = (PositionProvider, FilePathProvider)

    VALID: ClassVar[list[str | Valid]] = [
        Valid(_MARKED + "class App:\n    def run(self):\n        self.server = start_server()\n"),
        Valid(_MARKED + "def serve():\n    return start_server()\n"),
        Valid(_MARKED + "class App:\n    def run(self):\n        start_server()  # noqa: KR001\n"),
        Valid(
            "def start_server():\n    return object()\n\n\n"
            "class App:\n    def run(self):\n        start_server()\n"
        ),
    ]
    INVALID: ClassVar[list[str | Invalid]] = [
        Invalid(
            _MARKED + "class App:\n    def run(self):\n        start_server()\n",
            expected_message="KR001 result of start_server() is dropped; keep a reference"
            " (e.g. self.server = ...)",
            expected_replacement=_MARKED + "class App:\n    def run(self):\n"
            "        # Keep a reference so the server is not garbage-collected.\n"
            "        self.server = start_server()\n",
        ),
        Invalid(
            _MARKED + "class App:\n    def run(self):\n        handle = start_server()\n",
            expected_replacement=_MARKED + "class App:\n    def run(self):\n"
            "        # Keep a reference so the handle is not garbage-collected.\n"
            "        self.handle = start_server()\n",
        ),
        Invalid(
            _MARKED + "start_server()\n",
            expected_replacement=_MARKED
            + "# Keep a reference so the server is not garbage-collected.\n"
            + "_server = start_server()\n",
        ),
        # Reported without a fix: the engine declines (the reason is in the message).
        Invalid(
            _MARKED + "def main():\n    start_server()\n",
            expected_message="KR001 result of start_server() is dropped; keep a reference that"
            " outlives the function (store it on an object or return it) (no automatic fix: not"
            " inside a method; return the result, or store it on an object that lives as long as"
            " it must)",
        ),
        # Tasks: each kept until it finishes in the one set the fixes define after the imports
        # (two reports, each on the module with the whole fixed module: the set is defined once).
        Invalid(
            "import asyncio\n\n\nasync def main():\n"
            "    asyncio.create_task(asyncio.sleep(1))\n"
            "    asyncio.create_task(asyncio.sleep(2))\n",
            expected_replacement="import asyncio\n\n"
            "# Tasks this module started, kept until they finish (the event loop holds them"
            " weakly).\n"
            "_background_tasks: set[asyncio.Task] = set()\n\n\n"
            "async def main():\n"
            "    # Keep the sleep task until it finishes; the event loop holds it only weakly.\n"
            "    sleep_task = asyncio.create_task(asyncio.sleep(1))\n"
            "    _background_tasks.add(sleep_task)\n"
            "    sleep_task.add_done_callback(_background_tasks.discard)\n"
            "    # Keep the sleep task until it finishes; the event loop holds it only weakly.\n"
            "    sleep_task_2 = asyncio.create_task(asyncio.sleep(2))\n"
            "    _background_tasks.add(sleep_task_2)\n"
            "    sleep_task_2.add_done_callback(_background_tasks.discard)\n",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._matcher: DropMatcher | None = None
        self._lines: list[cst.SimpleStatementLine] = []
        self._found: list[tuple[Drop, CodeRange]] = []

    def visit_Module(self, node: cst.Module) -> None:
        path = str(self.get_metadata(FilePathProvider, node))
        self._matcher = DropMatcher(path, settings_for(path))
        self._matcher.begin(node)
        self._found = []

    def _visit_statement(self, node: cst.BaseSmallStatement) -> None:
        if self._matcher is None:
            return
        where = self.get_metadata(PositionProvider, node)
        line = self._lines[-1] if self._lines else None
        while (drop := self._matcher.match(node, where, line)) is not None:
            self._found.append((drop, where))

    def leave_Module(self, original_node: cst.Module) -> None:
        """Report the drops. Fixit puts each replacement in place of its node and skips the nodes
        inside a replaced one, so a fix that also defines the module's set of tasks (a ``ModuleEdit``)
        is reported on the module, with the whole module as ``keepref-lint fix`` writes it (every
        reported fix in it); the others on their statements."""
        if self._matcher is None:
            return
        reported = [(d, where) for d, where in self._found if not self.ignore_lint(d.node)]
        whole: cst.Module | None = None
        if any(d.module_edit is not None for d, _ in reported):
            whole = self._matcher.fixed_module(
                [d.finding for d, _ in reported if d.replacement is not None]
            )
        for drop, where in reported:
            finding = drop.finding
            node: cst.CSTNode = drop.node
            replacement = drop.replacement
            if drop.module_edit is not None:
                node, replacement = original_node, whole
            self.report(
                node,
                f"{finding.code} {finding.message}",
                position=where,
                replacement=replacement,
            )
        self._found = []
