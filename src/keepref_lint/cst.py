"""libcst face of the engine: ``DropVisitor``, a ``libcst.CSTVisitor`` that lists the drops of a module.

    import libcst
    from keepref_lint.cst import DropVisitor

    module = libcst.parse_module(open(path, "rb").read())
    visitor = DropVisitor(path)                  # or DropVisitor(path, root=project_root)
    libcst.MetadataWrapper(module).visit(visitor)
    for drop in visitor.drops:
        drop.node, drop.finding, drop.replacement

There is one detector: the visitor runs the engine (the project index, ``rules.py``, ``fix.py``) on the
module's text and maps each finding onto the libcst statement at its position (``PositionProvider``).
``.node`` is the ``SimpleStatementLine`` holding the drop, or the small statement itself when it shares
its line with others (``a(); start()``, ``if ok: start()``); ``.replacement`` is the fixed
``SimpleStatementLine`` (keep-alive comment in its ``leading_lines``), made by applying the engine's own
edit and parsing the result, or None with the reason in ``finding.no_fix_reason``.

When the module's text differs from the file at ``path`` (an editor's buffer, a module a codemod has
already changed), the index reads the text given for that module.
"""

from __future__ import annotations

import os

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from keepref_lint.config import Settings, load_settings
from keepref_lint.finding import Finding
from keepref_lint.project import InputError, SourceFile, display_path
from keepref_lint.sourcetext import SourceText, parse_quietly

TYPE_CHECKING = False
if TYPE_CHECKING:
    from keepref_lint.analysis import Project

__all__ = ["Drop", "DropMatcher", "DropVisitor", "findings_for"]


class Drop:
    """One dropped must-retain result in a libcst module."""

    __slots__ = ("finding", "node", "replacement")

    def __init__(
        self,
        node: cst.SimpleStatementLine | cst.BaseSmallStatement,
        finding: Finding,
        replacement: cst.SimpleStatementLine | None,
    ) -> None:
        self.node = node
        self.finding = finding
        self.replacement = replacement

    def __repr__(self) -> str:
        return f"Drop({self.finding.code} at {self.finding.line}:{self.finding.column}, fixable={self.replacement is not None})"


def settings_for(path: str, root: str | None = None) -> Settings:
    """The settings ``keepref-lint check`` would use for ``path``; with ``root``, that folder's, and
    the index covering it."""
    if root is None:
        return load_settings([path if os.path.lexists(path) else os.path.dirname(path) or "."])
    root = os.path.realpath(root)
    settings = load_settings([root])
    return settings if settings.root == root else settings.replace(root=root)


_buffer_projects: dict[tuple, Project] = {}


def _project_for(settings: Settings, path: str, data: bytes) -> Project:
    """The shared project when ``data`` is the file on disk, else one with ``data`` standing in for it
    (kept for the last few texts, as a Fixit run asks once per rule and file)."""
    from keepref_lint.analysis import Project

    project = Project.shared(settings)
    disk = project.source(path) if path in project.manifest else None
    if disk is not None and disk.data == data:
        return project
    key = (settings.root, settings.fingerprint(), path, data)
    found = _buffer_projects.get(key)
    if found is None:
        if len(_buffer_projects) >= 4:
            _buffer_projects.pop(next(iter(_buffer_projects)))
        found = _buffer_projects[key] = Project(settings, buffers={path: data})
    return found


def findings_for(path: str, data: bytes, settings: Settings) -> list[Finding]:
    """What ``keepref-lint check`` reports for the text ``data`` of the file at ``path`` (after ``# noqa``
    and select/ignore); InputError when it cannot be parsed."""
    path = os.path.abspath(path)
    project = _project_for(settings, path, data)
    file = project.source(path)
    if file is None or file.data != data:
        module, is_package = project.modules.module_for(path)
        file = SourceFile(path, path, module, is_package, data)
    file.display = display_path(path)
    try:
        tree = parse_quietly(data, file.display)
    except (SyntaxError, ValueError) as exc:
        raise InputError(file.display, f"cannot parse: {exc}") from None
    return project.filter_findings(file, project.check_tree_unfiltered(file, tree))


def _char_column(source: SourceText, line: int, byte_column: int) -> int:
    """An ``ast`` column (UTF-8 bytes, 0-based) as libcst counts it (characters)."""
    return source.offset(line, byte_column) - source.line_starts[line - 1]


def _fixed_lines(
    source: SourceText, data: bytes, findings: list[Finding]
) -> dict[int, cst.SimpleStatementLine]:
    """For each fixable finding (by its id), the fixed statement: the engine's edits applied to the
    whole text, the result proved (``apply.verify``) and parsed, the statement found where it moved."""
    from keepref_lint.apply import fixed_text, verify
    from keepref_lint.sourcetext import _NEWLINE

    fixable = [f for f in findings if f.fix is not None]
    if not fixable:
        return {}
    new_data = source.encode(fixed_text(source, fixable))
    try:
        verify("<module>", parse_quietly(data), new_data, fixable)
    except InputError:
        return {}  # the engine's own check failed: offer no replacement rather than a doubtful one
    edits = sorted(
        (
            edit.start,
            len(_NEWLINE.findall(edit.text))
            - len(_NEWLINE.findall(source.text[edit.start : edit.end])),
        )
        for f in fixable
        for edit in f.fix.edits  # type: ignore[union-attr]
    )
    wrapper = MetadataWrapper(cst.parse_module(new_data), unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    by_line = {
        positions[node].start.line: node
        for node in positions
        if isinstance(node, cst.SimpleStatementLine)
    }
    found: dict[int, cst.SimpleStatementLine] = {}
    for finding in fixable:
        start = source.offset(finding.line, finding.column - 1)
        moved = sum(delta for at, delta in edits if at <= start)
        node = by_line.get(finding.line + moved)
        if node is not None:
            found[id(finding)] = node
    return found


class DropMatcher:
    """The mapping shared by ``DropVisitor`` and the Fixit rule: the engine's findings for a module, and,
    for each statement the visit meets, the drop reported at its position."""

    def __init__(self, path: str, settings: Settings) -> None:
        self.path = path
        self.settings = settings
        self._wanted: dict[tuple[int, int], list[Finding]] = {}
        self._fixed: dict[int, cst.SimpleStatementLine] = {}

    def begin(self, module: cst.Module) -> None:
        data = module.bytes
        findings = findings_for(self.path, data, self.settings)
        source = SourceText(data, self.path)
        self._wanted = {}
        for f in findings:  # a statement can drop several results (``a, b = start(), start()``)
            self._wanted.setdefault(
                (f.line, _char_column(source, f.line, f.column - 1)), []
            ).append(f)
        self._fixed = _fixed_lines(source, data, findings)

    def match(
        self,
        node: cst.BaseSmallStatement,
        where: CodeRange,
        line: cst.SimpleStatementLine | None,
    ) -> list[Drop]:
        """The drops at ``node`` (a small statement at ``where``, inside ``line`` if it is in one)."""
        if not self._wanted:
            return []
        findings = self._wanted.pop((where.start.line, where.start.column), [])
        if line is not None and len(line.body) == 1:
            return [Drop(line, finding, self._fixed.get(id(finding))) for finding in findings]
        # It shares its line: the engine offers no fix either.
        return [Drop(node, finding, None) for finding in findings]


class DropVisitor(cst.CSTVisitor):
    """Collects ``drops`` (see the module docstring); run it through ``MetadataWrapper``."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(
        self,
        path: str | os.PathLike[str],
        root: str | os.PathLike[str] | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        super().__init__()
        self.path = os.path.abspath(os.fspath(path))
        self.settings = settings or settings_for(
            self.path, None if root is None else os.fspath(root)
        )
        self.drops: list[Drop] = []
        self._matcher = DropMatcher(self.path, self.settings)
        self._lines: list[cst.SimpleStatementLine] = []

    def visit_Module(self, node: cst.Module) -> None:
        self.drops = []
        self._matcher.begin(node)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._lines.append(node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self._lines.pop()

    # The statements rules.py reports: a bare call (KR001, KR003) and an assignment to dead locals.
    def visit_Expr(self, node: cst.Expr) -> None:
        self._visit_statement(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._visit_statement(node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._visit_statement(node)

    def visit_Return(self, node: cst.Return) -> None:  # KR004: ``return start().name``
        self._visit_statement(node)

    def _visit_statement(self, node: cst.BaseSmallStatement) -> None:
        where = self.get_metadata(PositionProvider, node)
        self.drops += self._matcher.match(node, where, self._lines[-1] if self._lines else None)
