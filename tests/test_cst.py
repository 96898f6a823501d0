"""keepref_lint.cst.DropVisitor: on every fixture it reports what ``keepref-lint check`` reports, and its
replacements, put in place of their nodes, give the bytes of ``keepref-lint fix``."""

from __future__ import annotations

import json
from pathlib import Path

import libcst as cst
import pytest
from helpers import Scenario, python_files, run_cli, scenarios

from keepref_lint.arguments import parse_args
from keepref_lint.config import load_settings, with_overrides
from keepref_lint.cst import DropVisitor

SCENARIOS = scenarios()


def settings_of(
    root: Path, scenario: Scenario
):  # the settings `check` builds from the fixture's args
    args = parse_args(["check", *scenario.cli_args()])
    return with_overrides(
        load_settings([str(root)]),
        must_retain=args.must_retain,
        decorators=args.decorator,
        no_catalog=args.no_catalog,
    )


class Replace(cst.CSTTransformer):
    """Each drop's and module edit's node replaced by its replacement (as Fixit applies reports)."""

    def __init__(self, visitor: DropVisitor) -> None:
        super().__init__()
        self.by_node = {id(e.node): e.replacement for e in visitor.module_edits}
        for drop in visitor.drops:
            if drop.replacement is not None:
                assert self.by_node.get(id(drop.node), drop.replacement) is drop.replacement
                self.by_node[id(drop.node)] = drop.replacement

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        return self.by_node.get(id(original_node), updated_node)


def visit(path: Path, **options) -> tuple[cst.Module, DropVisitor]:
    wrapper = cst.MetadataWrapper(cst.parse_module(path.read_bytes()))
    visitor = DropVisitor(path, **options)
    wrapper.visit(visitor)
    return wrapper.module, visitor


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_visitor_agrees_with_check_and_fix(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = scenario.install(tmp_path)
    monkeypatch.chdir(root)
    proc = run_cli("check", ".", "--format", "json", *scenario.cli_args(), cwd=root, check=True)
    expected = {
        (f["path"], f["line"], f["column"], f["code"], f["message"], f["fixable"])
        for f in json.loads(proc.stdout)
    }
    settings = settings_of(root, scenario)
    seen = set()
    for path in python_files(root):
        module, visitor = visit(path, settings=settings)
        for drop in visitor.drops:
            f = drop.finding
            seen.add((f.path, f.line, f.column, f.code, f.message, drop.replacement is not None))
            assert f.fixable == (drop.replacement is not None)
            assert isinstance(drop.node, (cst.SimpleStatementLine, cst.BaseSmallStatement))
            if drop.replacement is not None:
                assert isinstance(drop.node, cst.SimpleStatementLine)
                task = drop.finding.fix.holder is not None
                assert len(drop.statements) == (3 if task else 1)
                if drop.module_edit is None or drop.replacement is not drop.module_edit.replacement:
                    expected_type = cst.FlattenSentinel if task else cst.SimpleStatementLine
                    assert isinstance(drop.replacement, expected_type)
                if drop.module_edit is not None:
                    assert drop.module_edit in visitor.module_edits
        # One definition of the set of tasks per file at most, shared by the drops that need it.
        assert len(visitor.module_edits) <= 1
        # The replacements in place of their nodes, and the fixed module: the bytes `keepref-lint fix`
        # writes.
        fixed_path = path.with_name(path.name + ".fixed")
        want = fixed_path.read_bytes() if fixed_path.exists() else path.read_bytes()
        assert module.visit(Replace(visitor)).bytes == want, path.name
        fixed = visitor.fixed_module()
        assert fixed is not None and fixed.bytes == want, path.name
    assert seen == expected


def test_constructed_with_a_path_and_a_root(tmp_path: Path) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "cross_module")
    root = scenario.install(tmp_path)
    forms = root / "app" / "users" / "forms.py"
    _, by_path = visit(forms)
    _, by_root = visit(forms, root=root)
    assert [d.finding.line for d in by_path.drops] == [d.finding.line for d in by_root.drops]
    assert len(by_path.drops) == 13


def test_a_changed_module_is_indexed_as_given(tmp_path: Path) -> None:
    """The module the visitor is given (not the file on disk) is what the index reads for it."""
    scenario = next(s for s in SCENARIOS if s.name == "cross_module")
    root = scenario.install(tmp_path)
    service = root / "app" / "service.py"
    text = service.read_text() + "\n\nclass Own:\n    def go(self):\n        start_service()\n"
    unmarked = text.replace("@must_retain\ndef start_service", "def start_service")
    for given, count in ((text, 1), (unmarked, 0)):
        wrapper = cst.MetadataWrapper(cst.parse_module(given))
        visitor = DropVisitor(service)
        wrapper.visit(visitor)
        assert len(visitor.drops) == count


def test_the_set_defined_before_a_dropped_first_statement(tmp_path: Path) -> None:
    """No import above the first statement, which is itself a dropped task: its replacement also
    defines the set, and it is the module edit's replacement."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'fixture'\nversion = '0'\n")
    (tmp_path / "spawner.py").write_text(
        "def spawn(coro):\n    import asyncio\n\n    return asyncio.create_task(coro)\n"
    )
    app = tmp_path / "app.py"
    app.write_text("spawn(work())\nfrom spawner import spawn\n")
    module, visitor = visit(app, root=tmp_path)
    (drop,) = visitor.drops
    (edit,) = visitor.module_edits
    assert drop.module_edit is edit and drop.node is edit.node
    assert drop.replacement is edit.replacement and len(drop.replacement) == 4
    fixed = visitor.fixed_module()
    assert fixed is not None and module.visit(Replace(visitor)).bytes == fixed.bytes
    run_cli("fix", ".", cwd=tmp_path, check=True)
    assert app.read_bytes() == fixed.bytes
