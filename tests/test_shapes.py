"""The prefilter's text test (shapes.drop_shaped): the places a drop can stand, and the kept shapes it
still rules out (so that most files are never parsed)."""

from __future__ import annotations

import pytest

from keepref_lint.receivers import calls_a_receiver
from keepref_lint.shapes import drop_shaped

POSSIBLE = [
    "    asyncio.create_task(x)",
    "    asyncio.get_running_loop().create_task(x)",
    "    self.loop.create_task(x)",
    "    f(g(x)).create_task(x)",
    "    if 1: asyncio.create_task(x)",
    "    x = 1; asyncio.create_task(x)",
    "    y = \\\n        asyncio.create_task(x)",
    "    t = asyncio.create_task(x)",
    "    t: Task = asyncio.create_task(x)",
    "    [asyncio.create_task(x)]",
    "    asyncio.create_task(x), asyncio.create_task(x)",
    "    flag and asyncio.create_task(x)",
    "    x = 1 if asyncio.create_task(x) else 2",
    "    (t := asyncio.create_task(x))",
    "    if (asyncio.create_task(x)):",
    "    return asyncio.create_task(x).result",
    "    path = tempfile.create_task().name",
    "    tkinter.Label(r, image=tkinter.create_task(file='a'))",
]
RULED_OUT = [
    "    await asyncio.create_task(x)",
    "    return asyncio.create_task(x)",
    "    foo(asyncio.create_task(x))",
    "    foo (asyncio.create_task(x))",
    "    foo(x)(asyncio.create_task(x))",
    "    x == asyncio.create_task(x)",
    "    asyncio.create_task",
    "    # create_task is mentioned",
]


@pytest.mark.parametrize("line", POSSIBLE)
def test_a_possible_drop_is_kept(line: str) -> None:
    data = line.encode()
    assert drop_shaped(data, data.rfind(b"create_task"), "create_task")


@pytest.mark.parametrize("line", RULED_OUT)
def test_a_kept_shape_is_ruled_out(line: str) -> None:
    data = line.encode()
    assert not drop_shaped(data, data.rfind(b"create_task"), "create_task")


# The receiver pass's text test (receivers.calls_a_receiver): a plain receiver name counts only where the
# file assigns that name, and an attribute or a longer name of the same spelling is not an assignment.
RECEIVER_TEXTS = [
    (b"loop = get_loop()\nloop.create_task(x)\n", True),
    (b"def f():\n    loop: Loop = get()\n    loop.create_task(x)\n", True),
    (b"(loop := get())\nloop.create_task(x)\n", True),
    (b"self.loop = get()\nloop.create_task(x)\n", False),
    (b"myloop = get()\nloop.create_task(x)\n", False),
    (b"if loop == other:\n    loop.create_task(x)\n", False),
    (b"loop.create_task(x)\n", False),
    (b"x=1;loop = get()\nloop.create_task(x)\n", True),
    (b"loop\t= get()\nloop.create_task(x)\n", True),
]


@pytest.mark.parametrize(("data", "expected"), RECEIVER_TEXTS)
def test_a_plain_receiver_counts_where_its_file_assigns_it(data: bytes, expected: bool) -> None:
    assert calls_a_receiver(data, ["create_task"], plain=True) is expected
