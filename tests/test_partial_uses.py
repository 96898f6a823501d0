"""The scope walk collects each statement value's partial uses (``X().name``, ``f(key=X())``, ``a if X()
else b``) so that the rules need not walk the value again: what it collects must be what a walk of the
value finds, on every fixture and on the tricky corners (lambdas, comprehensions, nesting)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from keepref_lint.resolve import FileScopes
from keepref_lint.rules import partial_uses_of

FIXTURES = Path(__file__).parent / "fixtures"

CORNERS = """\
import asyncio

x = start().name
y = (lambda: start().name)()
z = [start().name for _ in range(3)] + [lambda q=start().q: q]
f(key=start(), other=1, **opts)
start().configure().pack()
v = 1 if start() else (2 if stop() else start().name)
(w := start().name)
def g():
    return start().name if start() else lambda: start().hidden
def h():
    return [k async for k in start().gen()]
a, b = start().a, f(image=load())
t: int = start().count
{start().key: start() for _ in ()}
print(f"{start().name}")
"""


def _check(tree: ast.Module) -> int:
    scopes = FileScopes(tree, "m", False)
    seen = 0
    for statement in scopes.statements:
        value = statement.node.value
        assert value is not None
        assert statement.partial_uses is not None
        expected = partial_uses_of(value)
        assert sorted(map(id, statement.partial_uses)) == sorted(map(id, expected)), ast.unparse(
            statement.node
        )
        seen += len(expected)
    for node, _ in scopes.returns:
        assert node.value is not None
        collected = scopes.return_partial_uses[id(node)]
        expected = partial_uses_of(node.value)
        assert sorted(map(id, collected)) == sorted(map(id, expected)), ast.unparse(node)
        seen += len(expected)
    scopes.close()
    return seen


def test_corners() -> None:
    # Every line but the import holds partial uses; the lambdas' own ones are not the value's.
    assert _check(ast.parse(CORNERS)) == 20


@pytest.mark.parametrize(
    "path", sorted(FIXTURES.rglob("*.py")), ids=lambda p: str(p.relative_to(FIXTURES))
)
def test_fixture(path: Path) -> None:
    try:
        tree = ast.parse(path.read_bytes())
    except SyntaxError:
        pytest.skip("not valid Python (a bad-input fixture)")
    _check(tree)


def test_a_lambda_value_is_walked() -> None:
    # The value itself a lambda: its body is the value's (as the rules' walk of a value has it).
    assert _check(ast.parse("f = lambda: start().name\ng = lambda: (lambda: start().x)\n")) == 1
