"""Small questions about syntax-tree nodes, asked by the scope walk, the resolver, the rules and the
fixes: the dotted or last name of an expression, a statement's first line, ``m`` of ``m.values()``, and
``walk_nodes``, the fast whole-tree walk (its table of node fields is the scope walk's too).
"""

from __future__ import annotations

import ast


def dotted_name(expr: ast.expr) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))


def last_name(expr: ast.expr) -> str | None:
    """The last name of a name, attribute or call of one: ``must_retain`` for the decorator
    ``@x.must_retain(...)``, ``show`` for ``plt.show()``."""
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Attribute):
        return expr.attr
    if isinstance(expr, ast.Name):
        return expr.id
    return None


# Nodes with nothing under them that the walk looks at: constants, contexts and operators.
_LEAVES = frozenset(
    {ast.Constant}
    | {
        kind
        for base in (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
        for kind in base.__subclasses__()
    }
)
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(kind: type) -> tuple[str, ...]:
    """The fields of a node type that may hold nodes the walk visits (not ``ctx``, ``op``, ``ops``)."""
    return tuple(name for name in kind._fields if name not in ("ctx", "op", "ops"))


def first_line(stmt: ast.stmt) -> int:
    """A statement's first line, its decorators' included."""
    return min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", None) or ())])


def mapping_values(node: ast.expr) -> ast.expr | None:
    """``m`` when ``node`` is ``m.values()`` (called with no arguments), else None."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "values"
        and not node.args
        and not node.keywords
    ):
        return node.func.value
    return None


def walk_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node under ``tree`` (itself included) but contexts, operators and constants: what
    ``ast.walk`` gives with those left out, in another order, at a fraction of its cost."""
    found: list[ast.AST] = []
    todo = [tree]
    pop, push, add = todo.pop, todo.append, found.append
    children = _CHILD_FIELDS
    while todo:
        node = pop()
        add(node)
        kind = type(node)
        fields = children.get(kind)
        if fields is None:
            fields = children[kind] = _child_fields(kind)
        for name in fields:
            child = getattr(node, name, None)
            if type(child) is list:
                for item in child:
                    if isinstance(item, ast.AST) and type(item) not in _LEAVES:
                        push(item)
            elif isinstance(child, ast.AST) and type(child) not in _LEAVES:
                push(child)
    return found
