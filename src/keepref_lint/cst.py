"""libcst face of the engine: ``DropVisitor``, a ``libcst.CSTVisitor`` that lists the drops of a module.

    import libcst
    from keepref_lint.cst import DropVisitor

    module = libcst.parse_module(open(path, "rb").read())
    visitor = DropVisitor(path)                  # or DropVisitor(path, root=project_root)
    libcst.MetadataWrapper(module).visit(visitor)
    for drop in visitor.drops:
        drop.node, drop.finding, drop.replacement, drop.module_edit
    for edit in visitor.module_edits:            # the set of tasks the task fixes share
        edit.node, edit.replacement
    fixed = visitor.fixed_module()               # the bytes `keepref-lint fix` writes

There is one detector: the visitor runs the engine (the project index, ``rules.py``, ``fix.py``) on the
module's text and maps each finding onto the libcst statement at its position (``PositionProvider``).
``.node`` is the ``SimpleStatementLine`` holding the drop, or the small statement itself when it shares
its line with others (``a(); start()``, ``if ok: start()``). The fixes are the engine's: its edits are
applied to the whole text, proved as ``fix`` proves them (``apply.verify``) and parsed, and each part of
the result is found where it moved:

- ``drop.replacement`` is what ``drop.node`` becomes: the fixed ``SimpleStatementLine`` for an object
  (keep-alive comment in its ``leading_lines``), a ``libcst.FlattenSentinel`` of three statements for a
  task (``t = ...``, ``SET.add(t)``, ``t.add_done_callback(SET.discard)``, the comment leading the
  first), or None with the reason in ``finding.no_fix_reason``. ``drop.statements`` is the same as a
  tuple.
- a task fix also needs the module's set of tasks, defined once after the imports: that is a
  ``ModuleEdit`` in ``visitor.module_edits``, named by each drop that needs it (``drop.module_edit``;
  None when the file already defines the set). Its ``node`` is the top-level statement it goes beside
  and its ``replacement`` a ``FlattenSentinel`` of that statement (as fixed) and the definition.
- ``visitor.fixed_module()`` is the whole fixed ``Module``, parsed from the engine's verified text.

Every replacement (the drops' and the module edits') put in place of its node gives the same bytes as
``fixed_module()``, which are those of ``keepref-lint fix``.

When the module's text differs from the file at ``path`` (an editor's buffer, a module a codemod has
already changed), the index reads the text given for that module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from keepref_lint.config import Settings, load_settings
from keepref_lint.finding import Finding
from keepref_lint.project import InputError, SourceFile, display_path
from keepref_lint.sourcetext import _NEWLINE, SourceText, parse_quietly

TYPE_CHECKING = False
if TYPE_CHECKING:
    from keepref_lint.analysis import Project

__all__ = ["Drop", "DropMatcher", "DropVisitor", "ModuleEdit", "findings_for"]


class Drop:
    """One dropped must-retain result in a libcst module.

    ``replacement`` is what ``node`` becomes: the fixed ``SimpleStatementLine`` when the fix is one
    statement, a ``libcst.FlattenSentinel`` of the new statements when it is several (a task: the
    assignment, ``SET.add(task)``, ``task.add_done_callback(SET.discard)``), or None (the reason is in
    ``finding.no_fix_reason``). ``statements`` is the same as a tuple (empty without a fix).
    ``module_edit`` is the ``ModuleEdit`` the fix also needs (the module-level set of tasks it adds
    to), shared by every drop of the module that needs it, or None.
    """

    __slots__ = ("finding", "module_edit", "node", "replacement", "statements")

    def __init__(
        self,
        node: cst.SimpleStatementLine | cst.BaseSmallStatement,
        finding: Finding,
        replacement: cst.SimpleStatementLine | cst.FlattenSentinel | None,
        statements: tuple[cst.SimpleStatementLine, ...] = (),
        module_edit: ModuleEdit | None = None,
    ) -> None:
        self.node = node
        self.finding = finding
        self.replacement = replacement
        self.statements = statements
        self.module_edit = module_edit

    def __repr__(self) -> str:
        return f"Drop({self.finding.code} at {self.finding.line}:{self.finding.column}, fixable={self.replacement is not None})"


class ModuleEdit:
    """A change at module level that fixes need besides their own statements: the definition of the
    module's set of kept tasks (``_background_tasks: set[asyncio.Task] = set()`` with its comment),
    inserted once after the imports.

    ``node`` is the top-level statement of the original module it goes beside: the last of the imports
    (or the docstring) it follows, or the first statement when there is neither. ``statements`` are the
    new top-level statements (comment and blank lines in their ``leading_lines``). ``replacement`` is
    what ``node`` becomes, a ``libcst.FlattenSentinel``: ``node`` as the fixed module has it (with any
    fix inside it) and the new statements, in order.
    """

    __slots__ = ("node", "replacement", "statements")

    def __init__(
        self,
        node: cst.BaseStatement,
        statements: tuple[cst.BaseStatement, ...],
        replacement: cst.FlattenSentinel,
    ) -> None:
        self.node = node
        self.statements = statements
        self.replacement = replacement

    def __repr__(self) -> str:
        return f"ModuleEdit({len(self.statements)} statement(s) beside {type(self.node).__name__})"


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


def engine_fixed_data(source: SourceText, data: bytes, fixable: list[Finding]) -> bytes | None:
    """The bytes ``keepref-lint fix`` writes for these fixes of ``data``: the engine's edits applied and
    proved (``apply.verify``); None when the proof fails (the engine would not write them either)."""
    from keepref_lint.apply import fixed_text, verify

    if not fixable:
        return data
    try:
        new_data = source.encode(fixed_text(source, fixable))
        verify("<module>", parse_quietly(data), new_data, fixable)
    except (InputError, UnicodeEncodeError):
        return None
    return new_data


def parse_exactly(data: bytes) -> cst.Module | None:
    """``data`` as a libcst module whose ``bytes`` are ``data``, or None when libcst cannot reproduce
    them."""
    return exactly(cst.parse_module(data), data)


def exactly(module: cst.Module, data: bytes) -> cst.Module | None:
    """``module`` (parsed from ``data``) as a module whose ``bytes`` are ``data``, or None when libcst
    cannot reproduce them (its parser drops a final lone ``\\r``; ``has_trailing_newline`` puts it
    back)."""
    if module.bytes == data:
        return module
    if data.endswith(b"\r") and not module.has_trailing_newline:
        restored = module.with_changes(has_trailing_newline=True)
        if restored.bytes == data:
            return restored
    return None


class _Bodies(cst.CSTVisitor):
    """Where each statement stands: its body (of the module or a block) and its index there."""

    def __init__(self) -> None:
        super().__init__()
        self.where: dict[int, tuple[Sequence[cst.BaseStatement], int]] = {}

    def visit_Module(self, node: cst.Module) -> None:
        self._record(node.body)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._record(node.body)

    def _record(self, body: Sequence[cst.BaseStatement]) -> None:
        for index, stmt in enumerate(body):
            self.where[id(stmt)] = (body, index)


def _is_holder(stmt: cst.BaseStatement, name: str) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target: cst.BaseExpression = small.targets[0].target
    elif isinstance(small, cst.AnnAssign):
        target = small.target
    else:
        return False
    return isinstance(target, cst.Name) and target.value == name


class _FixedModule:
    """The engine's fixes of one module in libcst terms: the fixed ``Module``, the statements each
    finding's statement became (by the finding's id), and the module-level edits."""

    def __init__(self, module: cst.Module, source: SourceText, fixable: list[Finding]) -> None:
        self.module = module
        self.statements: dict[int, tuple[cst.SimpleStatementLine, ...]] = {}
        self.edits: list[ModuleEdit] = []
        self.edit_of: dict[int, ModuleEdit] = {}  # finding id -> the module edit it needs
        self.merged: set[int] = set()  # findings whose statement is the module edit's node
        new_data = engine_fixed_data(source, module.bytes, fixable) if fixable else None
        fixed = None if new_data is None else parse_exactly(new_data)
        if fixed is None:
            # Nothing to fix, the engine's own proof failed or libcst cannot hold the fixed bytes:
            # no replacement rather than a doubtful one.
            return
        self.module = fixed
        positions = MetadataWrapper(fixed, unsafe_skip_copy=True).resolve(PositionProvider)
        by_line = {
            positions[node].start.line: node
            for node in positions
            if isinstance(node, cst.SimpleStatementLine)
        }
        bodies = _Bodies()
        fixed.visit(bodies)
        # How many lines each edit adds before a position (the set's one edit is shared: count it once).
        edits = sorted(
            (
                edit.start,
                len(_NEWLINE.findall(edit.text))
                - len(_NEWLINE.findall(source.text[edit.start : edit.end])),
            )
            for edit in dict.fromkeys(e for f in fixable for e in f.fix.edits)  # type: ignore[union-attr]
        )
        first_of: dict[int, Finding] = {}
        last_of: dict[int, Finding] = {}
        for finding in fixable:
            start = source.offset(finding.line, finding.column - 1)
            moved = sum(delta for at, delta in edits if at <= start)
            node = by_line.get(finding.line + moved)
            if node is None or id(node) not in bodies.where:
                continue
            body, index = bodies.where[id(node)]
            count = 1 if finding.fix.holder is None else 3  # type: ignore[union-attr]
            stmts = tuple(body[index : index + count])
            if len(stmts) == count and all(isinstance(s, cst.SimpleStatementLine) for s in stmts):
                self.statements[id(finding)] = stmts  # type: ignore[assignment]
                first_of[id(stmts[0])] = finding
                last_of[id(stmts[-1])] = finding
        holders = dict.fromkeys(
            f.fix.holder  # type: ignore[union-attr]
            for f in fixable
            if f.fix.holder is not None and f.fix.holder[2] >= 0  # type: ignore[union-attr]
        )
        for key in holders:
            name, _, index = key
            if index >= len(fixed.body) or not _is_holder(fixed.body[index], name):
                continue
            definition = fixed.body[index]
            # Beside the statement before it (the last import or the docstring), or before the first.
            beside = (
                module.body[index - 1] if index > 0 else module.body[0] if module.body else None
            )
            near = (
                fixed.body[index - 1]
                if index > 0
                else fixed.body[index + 1]
                if index + 1 < len(fixed.body)
                else None
            )
            if beside is None or near is None:
                continue
            if index == 0:
                # libcst keeps the comments and blank lines above the first statement in the
                # module's header: what the fix added there leads the definition instead.
                lead = (*fixed.header, *definition.leading_lines)
                kept = len(module.header)
                if not all(a.deep_equals(b) for a, b in zip(lead, module.header, strict=False)):
                    continue
                definition = definition.with_changes(leading_lines=lead[kept:])
            owner = (last_of if index > 0 else first_of).get(id(near))
            became: tuple[cst.BaseStatement, ...] = (
                self.statements[id(owner)] if owner is not None else (near,)
            )
            new = (*became, definition) if index > 0 else (definition, *became)
            edit = ModuleEdit(beside, (definition,), cst.FlattenSentinel(new))
            self.edits.append(edit)
            if owner is not None:
                self.merged.add(id(owner))
            for f in fixable:
                if f.fix.holder == key:  # type: ignore[union-attr]
                    self.edit_of[id(f)] = edit


class DropMatcher:
    """The mapping shared by ``DropVisitor`` and the Fixit rule: the engine's findings for a module, its
    fixes in libcst terms, and, for each statement the visit meets, the drop reported at its position."""

    def __init__(self, path: str, settings: Settings) -> None:
        self.path = path
        self.settings = settings
        self._wanted: dict[tuple[int, int], list[Finding]] = {}
        self._source: SourceText | None = None
        self._original: cst.Module | None = None
        self._fixable: list[Finding] = []
        self._fixed: _FixedModule | None = None

    def begin(self, module: cst.Module) -> None:
        data = module.bytes
        findings = findings_for(self.path, data, self.settings)
        source = SourceText(data, self.path)
        self._source, self._original = source, module
        self._wanted = {}
        for f in findings:  # a statement can drop several results (``a, b = start(), start()``)
            key = (f.line, _char_column(source, f.line, f.column - 1))
            self._wanted.setdefault(key, []).append(f)
        self._fixable = [f for f in findings if f.fix is not None]
        self._fixed = _FixedModule(module, source, self._fixable)

    @property
    def module_edits(self) -> list[ModuleEdit]:
        return [] if self._fixed is None else self._fixed.edits

    def fixed_module(self, findings: list[Finding] | None = None) -> cst.Module | None:
        """The module as ``keepref-lint fix`` writes it (the engine's verified text, parsed); with
        ``findings``, fixed by those only. The module itself when nothing is fixable; None when the
        engine's proof of the fixes fails (``fix`` would not write them) or libcst cannot reproduce
        the fixed bytes."""
        if self._fixed is None or self._original is None or self._source is None:
            raise RuntimeError("the module has not been visited")
        if findings is None:
            if self._fixable and self._fixed.module is self._original:
                return None
            return self._fixed.module
        fixable = [f for f in findings if f.fix is not None]
        if not fixable:
            return self._original
        data = engine_fixed_data(self._source, self._original.bytes, fixable)
        return None if data is None else parse_exactly(data)

    def match(
        self,
        node: cst.BaseSmallStatement,
        where: CodeRange,
        line: cst.SimpleStatementLine | None,
    ) -> Drop | None:
        """The drop at ``node`` (a small statement at ``where``, inside ``line`` if it is in one)."""
        if not self._wanted:
            return None
        key = (where.start.line, where.start.column)
        findings = self._wanted.get(key)
        if not findings:
            return None
        finding = findings.pop(0)  # the next one at this statement on the next call
        if not findings:
            del self._wanted[key]
        if line is None or len(line.body) != 1:
            return Drop(node, finding, None)  # it shares its line: the engine offers no fix either
        fixed = self._fixed
        assert fixed is not None
        statements = fixed.statements.get(id(finding), ())
        edit = fixed.edit_of.get(id(finding)) if statements else None
        replacement: cst.SimpleStatementLine | cst.FlattenSentinel | None
        if not statements:
            replacement = None
        elif edit is not None and id(finding) in fixed.merged:
            replacement = edit.replacement  # the set is defined beside this very statement
        elif len(statements) == 1:
            replacement = statements[0]
        else:
            replacement = cst.FlattenSentinel(statements)
        return Drop(line, finding, replacement, statements, edit)


class StatementVisits:
    """The libcst visits of the statements rules.py reports, for a visitor over the engine's drops
    (``DropVisitor`` here, the Fixit rule): a bare call (KR001, KR003), an assignment to dead locals,
    a ``return`` that keeps only an attribute (KR004), each passed to ``_visit_statement`` with the
    statement line around it on ``self._lines``."""

    _lines: list[cst.SimpleStatementLine]

    def _visit_statement(self, node: cst.BaseSmallStatement) -> None:
        raise NotImplementedError

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

    def visit_Return(self, node: cst.Return) -> None:
        self._visit_statement(node)


class DropVisitor(StatementVisits, cst.CSTVisitor):
    """Collects ``drops`` and ``module_edits`` (see the module docstring); run it through
    ``MetadataWrapper``, then ``fixed_module()`` is the module as ``keepref-lint fix`` writes it."""

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
        self.module_edits: list[ModuleEdit] = []
        self._matcher = DropMatcher(self.path, self.settings)
        self._lines: list[cst.SimpleStatementLine] = []

    def visit_Module(self, node: cst.Module) -> None:
        self.drops = []
        self._matcher.begin(node)
        self.module_edits = list(self._matcher.module_edits)

    def fixed_module(self) -> cst.Module | None:
        """The visited module with every fix applied: the bytes ``keepref-lint fix`` writes (the
        engine's text, proved as ``fix`` proves it, parsed). The module itself when nothing is fixable;
        None when the proof failed (then no drop has a replacement either)."""
        return self._matcher.fixed_module()

    def _visit_statement(self, node: cst.BaseSmallStatement) -> None:
        where = self.get_metadata(PositionProvider, node)
        line = self._lines[-1] if self._lines else None
        while (drop := self._matcher.match(node, where, line)) is not None:
            self.drops.append(drop)
