"""Text scans spelled for speed give what their plain spelling gives: a pattern that begins with a literal
is searched for at C speed, one that begins with ``^`` or ``\\b`` is tried at every line start or offset.
Texts are built from lines the scans must tell apart, with LF and CRLF endings."""

from __future__ import annotations

import re

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import example, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from keepref_lint import gates, index, rules, wrappers  # noqa: E402
from keepref_lint.prefilter import Prefilter  # noqa: E402

STAR_LINES = [
    b"from . import *", b"from .a import *", b"from ..pkg.mod import  *", b"  from x import\t*",
    b"from x import (a, b)", b"import os", b"# from x import *", b"s = 'from y import *'",
    b"from x import * as y", b"from .x.y import *  # noqa", b"x = 1; from z import *",
]  # fmt: skip


@given(
    st.lists(st.sampled_from(STAR_LINES), max_size=8),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
)
def test_star_imports_are_those_the_whole_text_pattern_finds(
    lines: list[bytes], newline: bytes, final: bool
) -> None:
    """``index._star_imports`` (the pattern tried on lines that hold ``import``) gives what the pattern
    gives over the whole text."""
    data = newline.join(lines) + (newline if final else b"")
    expected = [(m.start(), m.groups()) for m in index._STAR_IMPORT.finditer(data)]
    assert [(m.start(), m.groups()) for m in index._star_imports(data)] == expected


GLOBAL_LINES = [
    b"global x", b"    global a, b", b"global\tc", b"x = myglobal y", b"_global z", b"# global q",
    b"s = 'global w'", b"global", b"nonlocal v", b"if t: global u", b"globals()",
    b"class A:", b"  class B(C):", b"subclass D", b"x.class E", b"class\tF", b"classy G",
]  # fmt: skip


@given(
    st.lists(st.sampled_from(GLOBAL_LINES), max_size=8),
    st.sampled_from([b"\n", b"\r\n"]),
)
def test_global_and_class_statements_are_those_the_word_boundary_patterns_find(
    lines: list[bytes], newline: bytes
) -> None:
    data = newline.join(lines)
    plain = re.compile(rb"\bglobal[ \t]+([\w \t,]+)")
    expected = [(m.start(), m.group(1)) for m in plain.finditer(data)]
    assert [(m.start(), m.group(1)) for m in gates._GLOBAL.finditer(data)] == expected
    plain = re.compile(rb"\bclass[ \t]+(\w+)")
    assert gates._CLASS.findall(data) == plain.findall(data)


RAISES_LINES = [
    b"with pytest.raises(ValueError):", b"self.assertRaises (E)", b"assertRaisesRegex(E, 'x')",
    b"raisesRegex(E)", b"xraises(E)", b"_raises(E)", b"\xc3\xa9raises(E)", b"raises", b"# raises x",
    b"assertRaisesX(E)", b"araises(", b"raises # comment", b"raises \\", b"(", b"  # assertRaises",
    b"Raises(E)", b"raises\t\f(", b"assertRaisesRegex  # c", b"xraises # assertRaises",
]  # fmt: skip


@example([b"xraises # assertRaises", b"("], b"\n")  # the first match crosses the second name
@given(
    st.lists(st.sampled_from(RAISES_LINES), max_size=6),
    st.sampled_from([b"\n", b"\r\n", b" ", b""]),
)
def test_raises_calls_are_those_the_word_boundary_pattern_finds(
    lines: list[bytes], separator: bytes
) -> None:
    """``rules.calls_raises`` (found from the part the names share) answers as ``_RAISES_CALL`` does,
    which begins with ``\\b``: names split over lines, comments between a name and its bracket, a
    non-ASCII byte before a name (no word character for a bytes pattern)."""
    data = separator.join(lines)
    assert rules.calls_raises(data) == (rules._RAISES_CALL.search(data) is not None)


PREFILTER_LINES = [
    b"import asyncio", b"from svc import start", b"asyncio.create_task(x)", b"t = asyncio.create_task(x)",
    b"start()", b"x = start", b"Server().start()", b"class S(Server):", b"    helper()", b"# start",
    b"await start()", b"svc.start(1)", b"asyncio.ensure_future(y)\r", b"s = 'create_task('",
]  # fmt: skip


@given(
    st.lists(st.sampled_from(PREFILTER_LINES), max_size=8),
    st.sets(st.sampled_from(["start", "helper", "serve"])),
    st.sets(st.sampled_from(["create_task", "ensure_future", "start"])),
    st.booleans(),
    st.booleans(),
)
def test_drop_places_is_the_test_and_the_offsets_at_once(
    lines: list[bytes], plain: set[str], guarded: set[str], local: bool, owned: bool
) -> None:
    """``Prefilter.drop_places`` (one pass) answers what the exact test and ``drop_offsets`` answer."""
    data = b"\n".join(lines) + b"\n"
    test = Prefilter(
        plain,
        {"asyncio": guarded, "svc": {"start"}},
        local={"here.py": {"helper"}} if local else None,
        bound={"start": {"svc"}},
        owners={"serve": {"Server"}} if owned else None,
    )
    for path in ("here.py", "other.py"):
        expected = (test(data, path), test.drop_offsets(data, path))
        assert test.drop_places(data, path) == expected


AS_PIECES = [
    b"import a as b", b"from x import (c as d,", b"  e  as\tf)", b"x as as y", b"as as b", b"\xc3\xa9 as b",
    b"a as", b"as b", b"a as b as c", b"_x1 as _y2", b"asyncio", b"has as", b"basis", b" ", b"\t", b"(",
]  # fmt: skip


@example([b"x as as y"], b" ")
@example([b"a as b as c"], b"")
@given(st.lists(st.sampled_from(AS_PIECES), max_size=8), st.sampled_from([b"\n", b" ", b"", b"\t"]))
def test_as_aliases_are_those_the_word_boundary_pattern_finds(
    pieces: list[bytes], separator: bytes
) -> None:
    """``wrappers.as_aliases`` (from each ``as``) gives the matches ``_AS_ALIAS.finditer`` gives."""
    lines = separator.join(pieces)
    expected = [(m.span(), m.groups()) for m in wrappers._AS_ALIAS.finditer(lines)]
    assert [(m.span(), m.groups()) for m in wrappers.as_aliases(lines)] == expected
