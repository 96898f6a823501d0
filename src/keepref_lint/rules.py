"""What counts as dropped: the one place that turns a file's statements into KR001-KR004 findings.

KR001: an expression statement whose value is a must-retain call (also under ``await`` for async marked
functions, in parentheses, in either branch of a conditional expression used as a statement, inside a
display or comprehension thrown away, a one-element tuple, an ``and``/``or`` operand), a call used only as
a conditional expression's test, and a Tk image passed as ``image=`` to a widget.

KR002: the result is assigned only to local names of a function that never reads them again (also through
``(t := ...)`` as a statement and tuple unpacking).

KR004: only an attribute of the fresh result is used (``TemporaryDirectory().name``,
``create_task(...).add_done_callback(cb)`` as a statement).

Everything else retains the result: module-level and class-level names, ``global``/``nonlocal`` names,
attributes, subscripts, returned or yielded values, arguments, ``with ... as``, and locals that are read.
Not reported either (``exempt``): a call inside ``with pytest.raises(...)``; a matplotlib animation or
widget in an ``@image_comparison``/``@check_figures_equal`` test, or in a local followed by a blocking
``show()``, a render or dispatched events; a task local of a coroutine that never returns.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator

from keepref_lint.catalog import ENTRIES
from keepref_lint.codes import KR001, KR002, KR003, KR004
from keepref_lint.finding import Edit, Finding, Fix
from keepref_lint.fix import (
    FileNames,
    NamePlanner,
    NoFix,
    derive_attr,
    existing_holder,
    holder_edit,
    is_task,
    noun_of,
    plan_fix,
    plan_task_fix,
    suggestion,
)
from keepref_lint.index import ProjectIndex
from keepref_lint.marks import Mark, bounded_chain
from keepref_lint.nodes import dotted_name, first_line, last_name, walk_nodes
from keepref_lint.prefilter import ASCII_WORD_BYTES
from keepref_lint.project import SourceFile, printable
from keepref_lint.records import Fields
from keepref_lint.resolve import FileScopes
from keepref_lint.scopes import Scope, Statement, partial_use
from keepref_lint.sourcetext import SourceText


class Drop(Fields):
    """A must-retain call whose result a statement does not keep."""

    code: str
    stmt: Statement
    call: ast.Call
    mark: Mark
    in_conditional: bool
    local: ast.Name | None  # KR002: the dead local
    kind: str  # dropped (KR001/KR003) | dead (KR002/KR003) | attribute (KR004)
    where: str  # how the form drops it, for the message (" inside a list display")
    no_fix: str | None  # why this form has no automatic fix
    attribute: str | None  # KR004: the attribute that survives
    unwrap: bool  # ``start(),``: the fix also removes the comma

    def __init__(
        self,
        code: str,
        stmt: Statement,
        call: ast.Call,
        mark: Mark,
        in_conditional: bool = False,
        local: ast.Name | None = None,
        kind: str = "dropped",
        where: str = "",
        no_fix: str | None = None,
        attribute: str | None = None,
        unwrap: bool = False,
    ) -> None:
        vars(self).update(
            code=code,
            stmt=stmt,
            call=call,
            mark=mark,
            in_conditional=in_conditional,
            local=local,
            kind=kind,
            where=where,
            no_fix=no_fix,
            attribute=attribute,
            unwrap=unwrap,
        )


class Candidate(Fields):
    """A call in a statement whose result the statement would not keep, whatever the call is."""

    call: ast.Call
    kind: str  # dropped | dead | attribute | argument
    awaited: bool
    conditional: bool
    locals: list[ast.Name] | None  # dead: the dead local names
    where: str
    no_fix: str | None
    attribute: str | None
    unwrap: bool  # ``start(),``: a fix removes the comma

    def __init__(
        self,
        call: ast.Call,
        kind: str,
        awaited: bool = False,
        conditional: bool = False,
        locals: list[ast.Name] | None = None,
        where: str = "",
        no_fix: str | None = None,
        attribute: str | None = None,
        unwrap: bool = False,
    ) -> None:
        vars(self).update(
            call=call,
            kind=kind,
            awaited=awaited,
            conditional=conditional,
            locals=locals,
            where=where,
            no_fix=no_fix,
            attribute=attribute,
            unwrap=unwrap,
        )


_IN_DISPLAY = "the call is inside a display that is thrown away; write one statement per call"


def value_calls(
    expr: ast.expr, in_conditional: bool = False
) -> Iterator[tuple[ast.Call, bool, bool]]:
    """(call, awaited, inside a conditional expression) for each call whose value is the expression's."""
    if isinstance(expr, ast.IfExp):
        yield from value_calls(expr.body, True)
        yield from value_calls(expr.orelse, True)
        return
    awaited = isinstance(expr, ast.Await)
    if awaited:
        expr = expr.value  # type: ignore[attr-defined]
    if isinstance(expr, ast.Call):
        yield expr, awaited, in_conditional


def discarded_calls(
    expr: ast.expr, where: str = "", no_fix: str | None = None
) -> Iterator[Candidate]:
    """The calls whose results are thrown away when ``expr``'s value is (an expression statement).

    Looks through conditional expressions, ``await``, displays (``[t(), t()]``, ``t(), t()``),
    comprehensions (not generator expressions, which run nothing), ``and``/``or`` and an assignment
    expression whose target is dead (reported as KR002 by the caller)."""
    if isinstance(expr, ast.IfExp):
        reason = no_fix or (
            "the call is one branch of a conditional expression; "
            "write an if statement with one call in each branch"
        )
        for candidate in discarded_calls(expr.body, where, reason):
            candidate.conditional = True
            yield candidate
        for candidate in discarded_calls(expr.orelse, where, reason):
            candidate.conditional = True
            yield candidate
        return
    if isinstance(expr, ast.Await):
        if isinstance(expr.value, ast.Call):
            yield Candidate(expr.value, "dropped", True, where=where, no_fix=no_fix)
        return
    if isinstance(expr, ast.Call):
        yield Candidate(expr, "dropped", where=where, no_fix=no_fix)
        return
    if isinstance(expr, ast.Tuple) and len(expr.elts) == 1 and not where:
        for candidate in discarded_calls(
            expr.elts[0],
            " in a one-element tuple (a stray comma?)",
            "the call is in a one-element tuple; remove the trailing comma",
        ):
            candidate.unwrap = candidate.call is expr.elts[0]  # the fix removes the comma
            yield candidate
        return
    if isinstance(expr, (ast.Tuple, ast.List, ast.Set)):
        kind = {ast.Tuple: "tuple", ast.List: "list", ast.Set: "set"}[type(expr)]
        for element in expr.elts:
            yield from discarded_calls(
                element, where or f" inside a {kind} that is thrown away", _IN_DISPLAY
            )
        return
    if isinstance(expr, (ast.ListComp, ast.SetComp)):
        yield from discarded_calls(
            expr.elt, where or " inside a comprehension whose value is thrown away", _IN_DISPLAY
        )
        return
    if isinstance(expr, ast.DictComp):
        for part in (expr.key, expr.value):
            yield from discarded_calls(
                part, where or " inside a comprehension whose value is thrown away", _IN_DISPLAY
            )
        return
    if isinstance(expr, ast.BoolOp):
        operator = "and" if isinstance(expr.op, ast.And) else "or"
        for operand in expr.values:
            yield from discarded_calls(
                operand,
                where or f" by an {operator!r} expression",
                no_fix
                or f"the call is an operand of {operator!r}; write an if statement "
                "(`if flag:` and the call, keeping its result, on its own line)",
            )
        return
    if isinstance(expr, ast.NamedExpr):
        for candidate in value_calls(expr.value):
            call, awaited, conditional = candidate
            yield Candidate(
                call,
                "dead",
                awaited,
                conditional,
                locals=[expr.target],
                where=where,
                no_fix="the result is bound by an assignment expression; "
                "assign it in a statement of its own",
            )


def _tested_calls(uses: list[ast.expr]) -> Iterator[Candidate]:
    """Calls used only as the condition of a conditional expression (``1 if start() else 2``), among a
    value's partial uses."""
    for node in uses:
        if isinstance(node, ast.IfExp) and isinstance(node.test, ast.Call):
            yield Candidate(
                node.test,
                "dropped",
                where=" after it is tested as a condition",
                no_fix="the result is used only as a condition; keep it in a name and test the name",
            )


def _walk_value(expr: ast.expr) -> Iterator[ast.AST]:
    """The nodes of an expression, not looking into lambdas (their own scope, run later)."""
    todo: list[ast.AST] = [expr]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.Lambda):
                todo.append(child)


_IMAGE_KEYWORDS = frozenset({"image"})
_IMAGE_METHODS = frozenset({"configure", "config", "create_image", "image_create", "add"})


def partial_uses_of(expr: ast.expr) -> list[ast.expr]:
    """The partial uses of a value found by walking it (what the scope walk collects for a statement)."""
    return [node for node in _walk_value(expr) if partial_use(node)]


def _attribute_calls(nodes: list[ast.expr]) -> Iterator[tuple[Candidate, ast.Call | None]]:
    """KR004 shapes: ``X().name`` anywhere in the value, ``X().method()`` whose value is thrown away;
    and Tk ``image=X()`` arguments (kind "argument", narrowed by the caller), among the value's partial
    uses. Each with the call ``X().name(...)`` when the attribute read is a method called, else None (a
    call has one parent, so the map from a call to the method call on it is exact)."""
    method_of = {
        id(node.func.value): node
        for node in nodes
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Call)
    }
    for node in nodes:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call):
            candidate = Candidate(
                node.value, "attribute", attribute=node.attr, no_fix=_ATTRIBUTE_NO_FIX
            )
            yield candidate, method_of.get(id(node.value))
        elif isinstance(node, ast.Call):
            func = node.func
            for keyword in node.keywords:
                if keyword.arg in _IMAGE_KEYWORDS and isinstance(keyword.value, ast.Call):
                    candidate = Candidate(
                        keyword.value,
                        "argument",
                        where=" (passed as image=, but Tk keeps no Python reference to the image)",
                        no_fix="Tk keeps no reference to the image; keep it on an object that "
                        "lives as long as the widget (e.g. label.image = image)",
                        attribute=dotted_name(func) or "",
                    )
                    yield candidate, None


_ATTRIBUTE_NO_FIX = "keep the object itself in a name that lives as long as it is needed, and read the attribute from it"


def candidates(statement: Statement) -> Iterator[Candidate]:
    """Every call in the statement that could be reported, whatever it resolves to."""
    node = statement.node
    value = node.value
    if value is None:
        return
    uses = statement.partial_uses
    if uses is None:
        uses = partial_uses_of(value)
    if isinstance(node, ast.Expr):
        found = list(discarded_calls(value))
        for candidate in found:
            if candidate.kind == "dead":
                names = _dead_names(statement, candidate.locals or [])
                if not names:
                    continue
                candidate.locals = names
            yield candidate
        top = {id(c.call) for c in found if c.kind == "dropped"}
        for candidate, parent in _attribute_calls(uses):
            if candidate.kind == "attribute":
                if parent is not None and id(parent) not in top:
                    continue  # ``x = start().configure()``-like: configure may return the object
                if parent is not None:
                    candidate.attribute = f"{candidate.attribute}()"
            yield candidate
    else:
        for call, awaited, conditional in value_calls(value):
            if not conditional:
                dead = dead_locals(statement)
                if dead:
                    yield Candidate(call, "dead", awaited, locals=dead)
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[union-attr]
        if (
            len(targets) == 1
            and isinstance(targets[0], ast.Tuple)
            and isinstance(value, ast.Tuple)
            and len(targets[0].elts) == len(value.elts)
            and not any(isinstance(e, ast.Starred) for e in (*targets[0].elts, *value.elts))
        ):
            for target, element in zip(targets[0].elts, value.elts, strict=True):
                if not isinstance(target, ast.Name):
                    continue
                names = _dead_names(statement, [target])
                if not names:
                    continue
                for call, awaited, conditional in value_calls(element):
                    if not conditional:
                        yield Candidate(
                            call,
                            "dead",
                            awaited,
                            locals=names,
                            no_fix="the result is one of several values unpacked together; "
                            "assign it in a statement of its own",
                        )
        for candidate, parent in _attribute_calls(uses):
            if candidate.kind == "attribute" and parent is not None:
                continue
            yield candidate
    yield from _tested_calls(uses)


def return_candidates(value: ast.expr, uses: list[ast.expr] | None = None) -> Iterator[Candidate]:
    """``return start().name``: only an attribute of the result leaves the function. ``uses``: the
    value's partial uses if the scope walk collected them."""
    if uses is None:
        uses = partial_uses_of(value)
    for candidate, parent in _attribute_calls(uses):
        if candidate.kind == "attribute" and parent is not None:
            continue
        yield candidate
    yield from _tested_calls(uses)


def _dead_names(statement: Statement, targets: list[ast.expr]) -> list[ast.Name] | None:
    scope = statement.scope
    if scope.kind == "comprehension":
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent
    return _unread_locals(scope, targets)


def dead_locals(stmt: Statement) -> list[ast.Name] | None:
    """The assignment's targets if every one is a local that is never read; else None."""
    node = stmt.node
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[union-attr]
    return _unread_locals(stmt.scope, targets)


def _unread_locals(scope: Scope, targets: list[ast.expr]) -> list[ast.Name] | None:
    """``targets`` if each is a plain name local to the function ``scope`` and never read in it."""
    if scope.kind != "function":
        return None
    names: list[ast.Name] = []
    for target in targets:
        if not isinstance(target, ast.Name):
            return None
        if (
            target.id in scope.globals
            or target.id in scope.nonlocals
            or scope.read_anywhere(target.id)
        ):
            return None
        names.append(target)
    return names


_MATPLOTLIB = frozenset({"matplotlib-animation", "matplotlib-widget"})
# Calls after which a matplotlib widget or animation held in a local has done its work: the window was
# shown (blocking) or the figure rendered, or events were dispatched to it, while the frame was alive.
_RUNS_FIGURE = frozenset(
    {"show", "pause", "savefig", "draw", "_process", "process", "start_event_loop", "do_event",
     "click_and_drag", "mainloop"}
)  # fmt: skip
_RENDERS_AFTER = frozenset({"image_comparison", "check_figures_equal"})
_RAISES = frozenset({"raises", "assertRaises", "assertRaisesRegex"})
# A file whose text calls none of them (the name, then only blanks, continuations or comments before its
# bracket, as between any two tokens) has no such block: most files that say "raises" say it in prose.
_RAISES_CALL = re.compile(
    rb"\b(?:" + b"|".join(sorted(w.encode() for w in _RAISES)) + rb")(?:[ \t\r\n\f\\]|#[^\r\n]*)*\("
)
# ``_RAISES_CALL`` spelled for speed (``calls_raises``): it begins with ``\b``, so Python tries it at
# every offset of a text (0.6 ms for each of litellm's files with findings); this one begins with the
# part every name shares, which is searched for at C speed, and the name's head is tested after.
_RAISES_TAIL = re.compile(rb"aises(Regex)?(?:[ \t\r\n\f\\]|#[^\r\n]*)*\(")
_RAISES_HEADS = ((b"r", False), (b"assertR", True))  # (head, whether ``Regex`` may follow)
assert {h.decode() + "aises" + ("Regex" if r else "") for h, r in _RAISES_HEADS} | {
    "assertRaises"
} == _RAISES


def calls_raises(data: bytes) -> bool:
    """Does ``_RAISES_CALL`` match somewhere in ``data``? (The same answer, found from ``aises``.)"""
    match = _RAISES_TAIL.search(data)
    while match is not None:
        at = match.start()
        for head, regex_follows in _RAISES_HEADS:
            start = at - len(head)
            if (
                start >= 0
                and data.startswith(head, start)
                and (regex_follows or match.group(1) is None)
                and (start == 0 or data[start - 1] not in ASCII_WORD_BYTES)  # ``\b``: ASCII words
            ):
                return True
        # Next from the byte after: a comment the match crossed may hold the next name.
        match = _RAISES_TAIL.search(data, at + 1)
    return False


def _expected_to_raise(tree: ast.AST) -> list[tuple[int, int]]:
    """Line spans of ``with pytest.raises(...)`` (or ``self.assertRaises``) bodies: a call there is
    expected to raise, so there is no result to keep."""
    spans = []
    for node in walk_nodes(tree):
        if isinstance(node, (ast.With, ast.AsyncWith)) and any(
            isinstance(item.context_expr, ast.Call) and last_name(item.context_expr) in _RAISES
            for item in node.items
        ):
            spans.append((node.body[0].lineno, node.end_lineno or node.lineno))
    return spans


def _function_body_calls(function: ast.AST) -> Iterator[ast.Call]:
    return (node for node in _own_nodes(function) if isinstance(node, ast.Call))


def _figure_runs_after(function: ast.AST, line: int) -> bool:
    """Does the function, after ``line``, show the figure (blocking), render it or dispatch events?"""
    for call in _function_body_calls(function):
        if call.lineno <= line or last_name(call) not in _RUNS_FIGURE:
            continue
        if last_name(call) == "show" and any(
            k.arg == "block" and isinstance(k.value, ast.Constant) and not k.value.value
            for k in call.keywords
        ):
            continue
        return True
    return False


def _never_returns_after(function: ast.AST, line: int) -> bool:
    """Is ``function`` a coroutine that, after ``line``, enters ``while True`` with no way out (no
    ``break`` of that loop, no ``return`` anywhere)? Its frame, and every local in it, lives on."""
    if not isinstance(function, ast.AsyncFunctionDef):
        return False
    body_nodes = list(_own_nodes(function))
    if any(isinstance(n, ast.Return) for n in body_nodes):
        return False
    for statement in function.body:
        if (
            isinstance(statement, ast.While)
            and statement.lineno > line
            and isinstance(statement.test, ast.Constant)
            and statement.test.value
            and not _breaks(statement)
        ):
            return True
    return False


def _own_nodes(function: ast.AST) -> Iterator[ast.AST]:
    todo = list(ast.iter_child_nodes(function))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def _breaks(loop: ast.While) -> bool:
    todo: list[ast.AST] = [*loop.body, *loop.orelse]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Break):
            return True
        if isinstance(
            node,
            (
                ast.For,
                ast.AsyncFor,
                ast.While,
                ast.FunctionDef,
                ast.AsyncFunctionDef,
                ast.Lambda,
                ast.ClassDef,
            ),
        ):
            continue
        todo.extend(ast.iter_child_nodes(node))
    return False


def _is_tk(qualnames: list[str], call: ast.Call) -> bool:
    """Is ``call`` a Tk widget construction or a widget method taking ``image=``?"""
    if any(q.startswith(("tkinter.", "PIL.ImageTk.")) for q in qualnames):
        return True
    return isinstance(call.func, ast.Attribute) and call.func.attr in _IMAGE_METHODS


def find_drops(
    scopes: FileScopes,
    index: ProjectIndex,
    data: bytes | None = None,
    only_at: dict[int, set[int]] | None = None,
) -> list[Drop]:
    """The file's drops; ``data``, the file's text, if at hand (to skip looking for what it cannot hold).
    ``only_at`` (line -> end columns, ``fragment.call_ends``): where the prefilter says every call that
    can be a drop ends; the candidates of other calls are not resolved."""
    drops: list[Drop] = []
    known = index.lookup
    scopes.types = index.receiver_types  # what other modules state about receivers' types

    def must_retain(call: ast.Call, scope: Scope) -> Mark | None:
        for qualname in scopes.qualify(call.func, scope, lambda q: known(q) is not None):
            mark = known(qualname)
            if mark is not None:
                entry = ENTRIES.get(mark.entry) if mark.entry else None
                if entry is not None and entry.condition is not None and not entry.condition(call):
                    return None
                return mark
        return None

    # ``with pytest.raises`` spans, found in the top-level statement holding a line (walked once each).
    raising: dict[int, list[tuple[int, int]]] = {}
    body = scopes.module.node.body  # type: ignore[union-attr]
    firsts = [first_line(stmt) for stmt in body]
    may_raise = data is None or calls_raises(data)

    def expected_to_raise(line: int) -> bool:
        if not may_raise:
            return False
        at = bisect_right(firsts, line) - 1
        if at < 0:
            return False
        spans = raising.get(at)
        if spans is None:
            spans = raising[at] = _expected_to_raise(body[at])
        return any(first <= line <= last for first, last in spans)

    def function_of(scope: Scope) -> ast.AST | None:
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent
        return scope.node if scope.kind == "function" else None

    def exempt(statement: Statement, candidate: Candidate, mark: Mark) -> bool:
        node = statement.node
        if expected_to_raise(node.lineno):
            return True
        entry = mark.chain[-1].entry
        function = function_of(statement.scope)
        if function is None:
            return False
        if entry in _MATPLOTLIB:
            decorators = getattr(function, "decorator_list", [])
            if any(last_name(d) in _RENDERS_AFTER for d in decorators):
                return True  # the test compares the figure drawn, not the widget's behaviour
            if candidate.kind == "dead" and _figure_runs_after(function, node.end_lineno or 0):
                return True
        if (
            candidate.kind == "dead"
            and is_task(mark)
            and not statement.in_loop
            and _never_returns_after(function, node.end_lineno or 0)
        ):
            return True
        return False

    def consider(statement: Statement, candidate: Candidate) -> None:
        call = candidate.call
        mark = must_retain(call, statement.scope)
        if mark is None or candidate.awaited != mark.is_async:
            return
        if candidate.kind == "argument":
            entry = mark.chain[-1].entry
            if entry != "tkinter-image" or not _tk_call(statement, call):
                return
        if exempt(statement, candidate, mark):
            return
        inferred = mark.source == "inferred"
        if candidate.kind == "attribute":
            code = KR004.code
        elif candidate.kind == "dead":
            code = KR003.code if inferred else KR002.code
        else:
            code = KR003.code if inferred else KR001.code
        dead = candidate.locals or []
        drops.append(
            Drop(
                code,
                statement,
                call,
                mark,
                candidate.conditional,
                local=dead[0] if len(dead) == 1 else None,
                kind="dropped" if candidate.kind == "argument" else candidate.kind,
                where=candidate.where,
                no_fix=None if candidate.unwrap else candidate.no_fix,
                attribute=candidate.attribute if candidate.kind == "attribute" else None,
                unwrap=candidate.unwrap,
            )
        )

    def _tk_call(statement: Statement, image: ast.Call) -> bool:
        """Is ``image`` the ``image=`` argument of a Tk widget or widget method call?"""
        value = statement.node.value
        if value is None:
            return False
        for node in _walk_value(value):
            if isinstance(node, ast.Call) and any(k.value is image for k in node.keywords):
                qualnames = scopes.qualify(
                    node.func, statement.scope, lambda q: q.startswith("tkinter")
                )
                return _is_tk(qualnames, node)
        return False

    # With ``only_at``, only the statements that hold a place, and only the candidates at one.
    lines = sorted(only_at or ())

    def holds_a_place(node: ast.stmt) -> bool:
        if only_at is None:
            return True
        at = bisect_left(lines, node.lineno)
        return at < len(lines) and lines[at] <= (node.end_lineno or node.lineno)

    def at_a_place(candidate: Candidate) -> bool:
        func = candidate.call.func
        return only_at is None or func.end_col_offset in only_at.get(func.end_lineno, ())  # type: ignore[arg-type]

    for stmt in scopes.statements:
        if holds_a_place(stmt.node):
            for candidate in candidates(stmt):
                if at_a_place(candidate):
                    consider(stmt, candidate)
    for node, scope in scopes.returns:
        assert node.value is not None
        if holds_a_place(node):
            pseudo = Statement(node, scope, False)  # type: ignore[arg-type]
            uses = scopes.return_partial_uses.get(id(node))
            for candidate in return_candidates(node.value, uses):
                if at_a_place(candidate):
                    consider(pseudo, candidate)
    drops.sort(
        key=lambda d: (d.stmt.node.lineno, d.stmt.node.col_offset, d.call.lineno, d.call.col_offset)
    )
    return drops


def _origin(mark: Mark) -> str:
    if mark.source == "decorator":
        return f"marked in {mark.qualname.rpartition('.')[0]}"
    if mark.source == "config":
        return "configured as must-retain"
    return "in the built-in catalog"


def _provenance(mark: Mark) -> str:
    """``; it returns start_disagg_service() (marked in sglang.srt.managers.disagg_service)``."""
    chain = mark.chain
    if len(chain) == 1:
        return ""
    steps = " which returns ".join(bounded_chain([f"{m.short_name}()" for m in chain[1:]]))
    return f"; it returns {steps} ({_origin(chain[-1])})"


def _message(drop: Drop, advice: str, fix_reason: str | None) -> str:
    written = dotted_name(drop.call.func) or drop.mark.short_name
    # A reason written over several lines (``reason="..."`` or the config's) reads as one: each finding
    # is one line of text or flake8 output.
    reason = f" ({' '.join(drop.mark.reason.split())})" if drop.mark.reason else ""
    provenance = _provenance(drop.mark)
    if drop.kind == "attribute":
        text = (
            f"result of {written}() is used only for .{drop.attribute}; the object itself can be "
            f"collected at once{reason}{provenance}; keep the object in a name that lives as long "
            f"as it is needed and use .{drop.attribute} on it"
        )
    elif drop.kind == "dropped":
        text = f"result of {written}() is dropped{drop.where}{reason}{provenance}; {advice}"
    else:
        node = drop.stmt.node
        if drop.local is not None:
            names = repr(drop.local.id)
        else:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[union-attr]
            names = ", ".join(repr(t.id) for t in targets if isinstance(t, ast.Name))
        text = (
            f"result of {written}() is kept only in local {names}, which dies when the function "
            f"returns{reason}{provenance}; {advice}"
        )
    if fix_reason:
        text += f" (no automatic fix: {fix_reason})"
    return printable(text)  # whatever a marker's arguments hold, one finding is one line


def _comma_edit(drop: Drop, source: SourceText) -> Edit:
    """The edit removing the stray comma of ``start(),`` (only a comma and blanks after the call)."""
    node, call = drop.stmt.node, drop.call
    assert call.end_lineno is not None and node.end_lineno is not None
    start = source.offset(call.end_lineno, call.end_col_offset or 0)
    end = source.offset(node.end_lineno, node.end_col_offset or 0)
    if not re.fullmatch(r"[ \t]*,", source.text[start:end]):
        raise NoFix("the call is in a one-element tuple; remove the trailing comma")
    return Edit(start, end, "")


def check_tree(
    file: SourceFile,
    tree: ast.Module,
    index: ProjectIndex,
    scopes: FileScopes | None = None,
    only_at: dict[int, set[int]] | None = None,
) -> list[Finding]:
    """All findings of one parsed file (before suppression and code selection); ``only_at``: see
    ``find_drops``."""
    scopes = scopes or FileScopes(tree, file.module, file.is_package)
    drops = find_drops(scopes, index, file.data, only_at)
    if not drops:
        return []
    source = SourceText(file.data, file.display)
    planner = NamePlanner(FileNames(tree, file.data))
    existing = existing_holder(tree, planner.file_names)
    if existing is not None:
        planner.reuse_holder(existing[0])
    planned: list[tuple[Drop, Fix | None, str | None, str]] = []
    task_fixes: list[tuple[Statement, Fix, ast.Call]] = []
    for drop in drops:
        node = drop.stmt.node
        local = drop.local
        task = is_task(drop.mark)
        base = drop.mark.attr or (
            local.id if local is not None and local.id != "_" else derive_attr(drop.mark.chain[-1])
        )
        fix = None
        reason = None
        try:
            if drop.no_fix is not None:
                raise NoFix(drop.no_fix)
            if not isinstance(node, (ast.Expr, ast.Assign, ast.AnnAssign)):
                raise NoFix("the call is not a statement of its own")
            if drop.in_conditional:
                raise NoFix(
                    "the call is one branch of a conditional expression; "
                    "write an if statement with one call in each branch"
                )
            if not isinstance(node, ast.Expr) and local is None:
                raise NoFix("the result is assigned to several names; assign it to one")
            comma = _comma_edit(drop, source) if drop.unwrap else None
            if task:
                fix = plan_task_fix(drop.stmt, drop.call, drop.mark, source, planner, local)
            else:
                noun = noun_of(drop.mark, base)
                fix = plan_fix(drop.stmt, source, planner, base, local, noun, drop.call)
            if comma is not None:
                fix = fix._replace(
                    edits=(*fix.edits, comma),
                    unwrap=True,
                    title=f"{fix.title} (and remove the comma)",
                )
            if task:
                task_fixes.append((drop.stmt, fix, drop.call))
        except NoFix as why:
            reason = str(why)
        planned.append((drop, fix, reason, base))
    if task_fixes:
        try:
            holder, edit = holder_edit(
                tree, source, scopes.module, planner.holder(), task_fixes, existing
            )
            extra = (edit,) if edit is not None else ()
            ready = {
                id(fix): fix._replace(edits=(*extra, *fix.edits), holder=holder)
                for _, fix, _ in task_fixes
            }
        except NoFix as why:
            ready = {id(fix): str(why) for _, fix, _ in task_fixes}
        for i, (drop, fix, _reason, base) in enumerate(planned):
            if fix is not None and id(fix) in ready:
                done = ready[id(fix)]
                planned[i] = (
                    (drop, done, None, base) if isinstance(done, Fix) else (drop, None, done, base)
                )
    findings = []
    for drop, fix, reason, base in planned:
        node = drop.stmt.node
        if fix is not None and fix.holder is not None:
            holder = fix.holder[0]
            advice = (
                f"keep it until it finishes (e.g. {holder}.add({fix.keeper}); "
                f"{fix.keeper}.add_done_callback({holder}.discard))"
            )
        elif fix is not None:
            advice = f"keep a reference (e.g. {fix.keeper} = ...)"
        else:
            advice = suggestion(drop.stmt, base, is_task(drop.mark))
        findings.append(
            Finding(
                path=file.display,
                line=node.lineno,
                column=node.col_offset + 1,
                code=drop.code,
                message=_message(drop, advice, reason),
                callee=drop.mark.qualname,
                fix=fix,
                no_fix_reason=reason,
                end_line=node.end_lineno or node.lineno,
                end_column=(node.end_col_offset or 0) + 1,
            )
        )
    return findings
