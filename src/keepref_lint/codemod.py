"""libcst codemod adapter: ``keepref-lint fix`` inside libcst's codemod runner.

    python -m libcst.tool codemod -x keepref_lint.codemod.KeepReferences PATH [-j N] [--unified-diff]

libcst finds the files, runs them in parallel and prints diffs or writes; each file goes through the same
engine as ``keepref-lint fix`` (the same index, naming, comment and checks), and every finding that has no
automatic fix is reported with ``warn`` and left alone.

libcst writes ``tree.bytes`` whenever it differs from the file's bytes, and its parser does not round-trip
every file (a final lone ``\r`` is dropped). So the module returned is always one whose ``bytes`` are
exactly the intended bytes (the file's own when nothing is fixed), or the file is skipped with a reason.
"""

from __future__ import annotations

import argparse
import os

import libcst as cst
from libcst.codemod import CodemodContext, SkipFile, VisitorBasedCodemodCommand

from keepref_lint.analysis import Project
from keepref_lint.apply import fixed_text, verify
from keepref_lint.config import ConfigError, load_settings, with_overrides
from keepref_lint.cst import exactly
from keepref_lint.project import InputError, SourceFile
from keepref_lint.sourcetext import SourceText, parse_quietly


class KeepReferences(VisitorBasedCodemodCommand):
    DESCRIPTION = "Keep references to must-retain results (the fixes of keepref-lint KR001/KR002)."

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        arg_parser.add_argument(
            "--must-retain",
            dest="must_retain",
            action="append",
            default=[],
            metavar="QUALNAME[:ATTR]",
            help="treat this qualified name as must-retain (repeatable)",
        )

    def __init__(self, context: CodemodContext, must_retain: list[str] | None = None) -> None:
        super().__init__(context)
        self.must_retain = tuple(must_retain or ())

    def _project(self, path: str) -> Project:
        try:
            settings = with_overrides(load_settings([path]), must_retain=self.must_retain)
        except ConfigError as error:
            raise SkipFile(str(error)) from None
        return Project.shared(settings)

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        filename = self.context.filename
        if filename is None:
            raise SkipFile("keepref-lint needs a file path to resolve names across the project")
        path = os.path.abspath(filename)
        try:
            with open(path, "rb") as handle:
                data = handle.read()  # the file's own bytes: ``tree.bytes`` may have lost some
        except OSError as exc:
            raise SkipFile(f"cannot read: {exc.strerror or exc}") from None
        project = self._project(path)
        module, is_package = project.modules.module_for(path)
        file = SourceFile(path, filename, module, is_package, data)
        try:
            old_tree = parse_quietly(file.data)
        except (SyntaxError, ValueError) as exc:
            raise SkipFile(f"cannot parse: {exc}") from None
        findings = project.filter_findings(file, project.check_tree_unfiltered(file, old_tree))
        for finding in findings:
            if finding.fix is None:
                self.warn(
                    f"{finding.path}:{finding.line}:{finding.column}: {finding.code} {finding.message}"
                )
        fixable = [f for f in findings if f.fix is not None]
        if not fixable:
            return _exactly(tree, data, "left unchanged")
        try:
            source = SourceText(file.data, filename)
            new_data = source.encode(fixed_text(source, fixable))
            verify(filename, old_tree, new_data, fixable)
        except InputError as error:
            raise SkipFile(str(error)) from None
        except UnicodeEncodeError as exc:
            raise SkipFile(f"fix not written: cannot encode as {source.encoding}: {exc}") from None
        return _exactly(cst.parse_module(new_data), new_data, "fix not written")


def _exactly(tree: cst.Module, data: bytes, outcome: str) -> cst.Module:
    """``tree`` (parsed from ``data``) as a module whose ``bytes`` are ``data``, or SkipFile.

    A final lone ``\r``, which libcst's parser drops, is put back (``cst.exactly``); any other
    difference is declined, never written."""
    restored = exactly(tree, data)
    if restored is not None:
        return restored
    hint = "; `keepref-lint fix` can fix it" if outcome == "fix not written" else ""
    raise SkipFile(f"{outcome}: libcst cannot reproduce this file's bytes (its line endings){hint}")
