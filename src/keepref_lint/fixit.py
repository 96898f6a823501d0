"""Fixit rule: the drops keepref-lint finds, reported through Fixit with the engine's fixes.

Enable it in ``pyproject.toml`` (or ``fixit.toml``)::

    [tool.fixit]
    enable = ["keepref_lint.fixit"]

then ``fixit lint src/`` reports each drop and ``fixit fix --automatic src/`` applies the fixes (the same
names, comments and bytes as ``keepref-lint fix``). The rule is a thin adapter over ``keepref_lint.cst``:
the engine finds the drops across the project (settings from ``[tool.keepref-lint]``, as ``check``
reads them), and each is reported at its statement with the fixed statement as the replacement. Fixit's
own ``# lint-ignore``/``# lint-fixme`` comments and keepref-lint's ``# noqa: KR001`` both silence it.
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst
from fixit import Invalid, LintRule, Valid
from libcst.metadata import FilePathProvider, PositionProvider

from keepref_lint.cst import DropMatcher, settings_for

__all__ = ["KeepReferences"]

_MARKED = """
from keepref_lint import must_retain


@must_retain
def start_server():
    return object()


"""


class KeepReferences(LintRule):
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
            " inside a method; store the result where it outlives this function)",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._matcher: DropMatcher | None = None
        self._lines: list[cst.SimpleStatementLine] = []

    def visit_Module(self, node: cst.Module) -> None:
        path = str(self.get_metadata(FilePathProvider, node))
        self._matcher = DropMatcher(path, settings_for(path))
        self._matcher.begin(node)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._lines.append(node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self._lines.pop()

    def visit_Expr(self, node: cst.Expr) -> None:
        self._visit_statement(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._visit_statement(node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._visit_statement(node)

    def visit_Return(self, node: cst.Return) -> None:  # KR004: ``return start().name``
        self._visit_statement(node)

    def _visit_statement(self, node: cst.BaseSmallStatement) -> None:
        if self._matcher is None:
            return
        where = self.get_metadata(PositionProvider, node)
        for drop in self._matcher.match(node, where, self._lines[-1] if self._lines else None):
            finding = drop.finding
            self.report(
                drop.node,
                f"{finding.code} {finding.message}",
                position=where,
                replacement=drop.replacement,
            )
