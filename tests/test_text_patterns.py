"""Text scans spelled for speed give what their plain spelling gives: a pattern that begins with a literal
is searched for at C speed, one that begins with ``^`` or ``\\b`` is tried at every line start or offset.
Texts are built from lines the scans must tell apart, with LF and CRLF endings."""

from __future__ import annotations

import re

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from keepref_lint import gates, index  # noqa: E402

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
