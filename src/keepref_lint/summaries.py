"""Module summaries: what one module binds at its top level (imports, aliases, star imports), the shape of
its classes (bases, names) and the definitions a marker decorator marks. The index is built from these.
"""

from __future__ import annotations

import ast
import keyword as keyword_module
import re
from collections.abc import Iterable

from keepref_lint.marks import Mark
from keepref_lint.nodes import dotted_name, last_name
from keepref_lint.project import SourceFile
from keepref_lint.records import Fields
from keepref_lint.scopes import import_bindings


class ClassInfo(Fields):
    bases: list[str]
    names: set[str]

    def __init__(self, bases: list[str], names: set[str]) -> None:
        self.bases = bases
        self.names = names


class ModuleSummary(Fields):
    module: str
    bindings: dict[str, list[str]]
    stars: list[str]
    classes: dict[str, ClassInfo]
    marks: list[Mark]
    problems: list[tuple[str, str]]  # ("path:line", cause) of each invalid marker argument left out
    defined: set[str]  # module-level functions, classes and assigned names

    def __init__(self, module: str) -> None:
        self.module = module
        self.bindings = {}
        self.stars = []
        self.classes = {}
        self.marks = []
        self.problems = []
        self.defined = set()


def summarize_module(
    tree: ast.Module, file: SourceFile, decorators: set[str], markers: set[str] = frozenset()
) -> ModuleSummary:
    """Module-level bindings, class shapes and marked definitions of one module. A name the module
    imports from a marker (``from keepref_lint import must_retain as keep``, or a project module's
    re-export of one under another name, in ``markers``) is a marker too."""
    decorators = set(decorators) | _marker_aliases(tree, file, decorators, markers)
    summary = ModuleSummary(file.module)
    module_defs: set[str] = set()
    raw_bases: dict[str, list[ast.expr]] = {}

    def add_binding(local: str, target: str) -> None:
        targets = summary.bindings.setdefault(local, [])
        if target not in targets:
            targets.append(target)

    def definitions(body: list[ast.stmt], prefix: str, in_class: str | None, top: bool) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualname = f"{prefix}.{stmt.name}"
                if top:
                    module_defs.add(stmt.name)
                    summary.defined.add(stmt.name)
                if in_class is not None:
                    summary.classes[in_class].names.add(stmt.name)
                options = _mark_for(stmt, decorators, problems)
                if isinstance(stmt, ast.ClassDef):
                    kind = "class"
                elif in_class is not None:
                    kind = "method"
                else:
                    kind = "function"
                if options is not None:
                    summary.marks.append(
                        Mark(
                            qualname,
                            kind,
                            "decorator",
                            attr=options[0],
                            reason=options[1],
                            is_async=isinstance(stmt, ast.AsyncFunctionDef),
                            location=f"{file.display}:{stmt.lineno}",
                        )
                    )
                if isinstance(stmt, ast.ClassDef):
                    summary.classes[qualname] = ClassInfo([], set())
                    raw_bases[qualname] = list(stmt.bases)
                    definitions(stmt.body, qualname, qualname, False)
                else:
                    definitions(stmt.body, f"{qualname}.<locals>", None, False)
            elif top and isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for local, target in import_bindings(stmt, file.module, file.is_package):
                    if local == "*":
                        summary.stars.append(target)
                    else:
                        add_binding(local, target)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        if top:
                            summary.defined.add(target.id)
                        if in_class is not None:
                            summary.classes[in_class].names.add(target.id)
                        elif top and stmt.value is not None:
                            dotted = dotted_name(stmt.value)
                            if dotted is not None:
                                aliases.append((target.id, dotted))
            elif isinstance(stmt, (ast.If, ast.Try, ast.With, ast.AsyncWith)) or (
                hasattr(ast, "TryStar") and isinstance(stmt, ast.TryStar)
            ):
                for block in _blocks(stmt):
                    definitions(block, prefix, in_class, top)

    aliases: list[tuple[str, str]] = []
    problems: list[tuple[int, str]] = []
    definitions(tree.body, file.module, None, True)
    summary.problems = [(f"{file.display}:{line}", cause) for line, cause in problems]

    def qualify(dotted: str) -> list[str]:
        head, _, tail = dotted.partition(".")
        suffix = f".{tail}" if tail else ""
        if head in summary.bindings:
            targets = summary.bindings[head]
            if tail and len(targets) > 1:
                # A name bound to several things (``N1 = N0.a``, ``N1 = N0.b``) stays a name of this
                # module, which lookups follow: spelled out, ``N2 = N1.a``, ``N2 = N1.b``, ... would
                # double the targets at each alias.
                return [f"{file.module}.{dotted}"]
            return [t + suffix for t in targets]
        if head in module_defs:
            return [f"{file.module}.{head}{suffix}"]
        return []

    for local, dotted in aliases:
        for target in qualify(dotted):
            if target != f"{file.module}.{local}":
                add_binding(local, target)
    for qualname, bases in raw_bases.items():
        for base in bases:
            dotted = dotted_name(base)
            if dotted is not None:
                summary.classes[qualname].bases.extend(qualify(dotted))
    return summary


def _marker_aliases(
    tree: ast.Module, file: SourceFile, decorators: set[str], markers: set[str]
) -> set[str]:
    """Local names the module's imports bind to a marker decorator."""
    found = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for local, target in import_bindings(stmt, file.module, file.is_package):
                if target in markers or target.rpartition(".")[2] in decorators:
                    found.add(local)
    return found


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _mark_for(
    node: ast.AST, decorators: set[str], problems: list[tuple[int, str]] | None = None
) -> tuple[str | None, str | None] | None:
    """(attr, reason) when one of the node's decorators is a marker, else None.

    Literal arguments are checked as the configuration's are: an ``attr`` that is not a plain
    identifier (``attr="x = 1; self.y"``, ``attr="class"``) or a ``reason`` that is not a string is left
    out (the mark stands, and the fixer names the attribute itself) and described in ``problems``.
    """
    for decorator in getattr(node, "decorator_list", ()):
        if last_name(decorator) not in decorators:
            continue
        options: dict[str, str | None] = {"attr": None, "reason": None}
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg not in options or not isinstance(keyword.value, ast.Constant):
                    continue
                value = keyword.value.value
                if keyword.arg == "attr" and not (
                    isinstance(value, str)
                    and _IDENTIFIER.fullmatch(value)
                    and not keyword_module.iskeyword(value)
                ):
                    if problems is not None:
                        problems.append(
                            (
                                decorator.lineno,
                                f"must_retain attr {value!r} is not a Python identifier; "
                                "ignored (the fix names the attribute itself)",
                            )
                        )
                    continue
                if keyword.arg == "reason" and not isinstance(value, str):
                    if problems is not None:
                        problems.append(
                            (
                                decorator.lineno,
                                f"must_retain reason {value!r} is not a string; ignored",
                            )
                        )
                    continue
                options[keyword.arg] = value
        return options["attr"], options["reason"]
    if _annotated_marker(getattr(node, "returns", None), decorators):
        return None, None
    return None


def _annotated_marker(returns: ast.expr | None, decorators: set[str]) -> bool:
    """Is the return annotation ``Annotated[T, Marker]`` with a metadata item named like a marker
    (``must_retain``; ``MustRetain`` or ``NoDiscard`` for ``must_retain`` or ``nodiscard``: case and
    underscores aside)? A string annotation is read the same way."""
    if isinstance(returns, ast.Constant) and isinstance(returns.value, str):
        try:
            returns = ast.parse(returns.value.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    if not isinstance(returns, ast.Subscript) or last_name(returns.value) != "Annotated":
        return False
    items = returns.slice.elts if isinstance(returns.slice, ast.Tuple) else []
    folded = {d.replace("_", "").lower() for d in decorators}
    return any((last_name(m) or "").replace("_", "").lower() in folded for m in items[1:])


def _blocks(stmt: ast.stmt) -> Iterable[list[ast.stmt]]:
    if isinstance(stmt, ast.If):
        yield stmt.body
        yield stmt.orelse
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        yield stmt.body
    else:
        yield stmt.body  # type: ignore[attr-defined]
        for handler in stmt.handlers:  # type: ignore[attr-defined]
            yield handler.body
        yield stmt.orelse  # type: ignore[attr-defined]
        yield stmt.finalbody  # type: ignore[attr-defined]
