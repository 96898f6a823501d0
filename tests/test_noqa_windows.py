"""``# noqa`` lines read from the statements holding findings (suppress.logical_lines_of) must be what
the whole file's tokenization gives (suppress.logical_lines), on every fixture and on the corners where a
logical line is more than one statement or one physical line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from keepref_lint.suppress import logical_lines, logical_lines_of

FIXTURES = Path(__file__).parent / "fixtures"

CORNERS = '''\
import asyncio

@decorator(  # noqa: KR001
    start()
)
def f():
    x = """a
    b"""; start()  # noqa
    y = 1 + \\
        start()  # noqa: KR002
    if x: start()  # noqa
a = 1; b = (2,
    start()); c = 3  # noqa
class C:
    async def m(self):
        await start(
            # a comment
            1)  # noqa
        if x: \\
            start()  # noqa
        try: start(); start()  # noqa
        except E: pass
    @ decorator  # noqa
    @other(
        start())
    def n(self): return (
        start())  # noqa
'''


def _statement_lines(tree: ast.Module) -> set[int]:
    """Every line of every statement, decorators included."""
    return {
        line
        for node in ast.walk(tree)
        if isinstance(node, ast.stmt)
        for first in [min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])]
        for line in range(first, (node.end_lineno or node.lineno) + 1)
    }


def _same(text: str) -> int:
    tree = ast.parse(text)
    wanted = _statement_lines(tree)
    whole = logical_lines(text)
    windows = logical_lines_of(text, wanted, tree)
    for line in wanted:
        assert windows.get(line) == whole.get(line), line
    return len(wanted)


def test_corners() -> None:
    assert _same(CORNERS) == len(CORNERS.splitlines()) - 1  # every line but the blank one
    assert _same(CORNERS.replace("\n", "\r\n")) > 0


def test_one_line_at_a_time() -> None:
    tree = ast.parse(CORNERS)
    whole = logical_lines(CORNERS)
    for line in _statement_lines(tree):
        assert logical_lines_of(CORNERS, [line], tree)[line] == whole[line]


@pytest.mark.parametrize(
    "path", sorted(FIXTURES.rglob("*.py")), ids=lambda p: str(p.relative_to(FIXTURES))
)
def test_fixture(path: Path) -> None:
    data = path.read_bytes()
    try:
        ast.parse(data)
        text = data.decode("utf-8-sig")
    except (SyntaxError, UnicodeDecodeError):
        pytest.skip("not valid Python (a bad-input fixture)")
    _same(text)
