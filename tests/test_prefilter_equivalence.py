"""Property: the text prefilter and the fragment proof never hide a finding. Generated programs hold
catalog calls in every drop form the rules know (and in kept forms), spelled and placed in the ways the
text tests could misread (a receiver chain with calls, ``if 1: x()`` on one line, after ``;``, after a
backslash continuation, inside displays, as an ``image=`` argument); the findings of the normal run must
equal those of a run that parses and analyses every file whole (``analysis.PARSE_ALL``).

Bounded for CI; run longer with KEEPREF_FUZZ_EXAMPLES=2000 python -m pytest tests/test_prefilter_equivalence.py.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from keepref_lint import analysis  # noqa: E402
from keepref_lint.config import Settings, with_overrides  # noqa: E402
from keepref_lint.engine import run  # noqa: E402

EXAMPLES = int(os.environ.get("KEEPREF_FUZZ_EXAMPLES", "60"))

CALLS = [
    "asyncio.create_task(work())",
    "asyncio.get_running_loop().create_task(work())",
    "asyncio.get_event_loop().create_task(work())",
    "asyncio.ensure_future(work())",
    "asyncio.Task(work())",
    "asyncio.gather(work())",
    "asyncio.shield(work())",
    "tempfile.TemporaryDirectory()",
    "tempfile.NamedTemporaryFile()",
    "tkinter.PhotoImage(file='a.png')",
    "weakref.ref(obj, print)",
]
# How the call stands in its statement: {c} is the call; names are never read unless the form does.
FORMS = [
    "{c}",
    "({c})",
    "await {c}",
    "t = {c}",
    "t: object = {c}",
    "[{c}]",
    "[{c} for _ in range(2)]",
    "{{{c}}}",
    "{c},",
    "{c}, {c}",
    "flag and {c}",
    "flag or {c}",
    "x = 1 if {c} else 2",
    "{c} if flag else None",
    "(t := {c})",
    "a, b = {c}, {c}",
    "a, b = {c}, 1",
    "path = {c}.name",
    "{c}.add_done_callback(print)",
    "{c}.cleanup()",
    "kept = {c}.copy()",
    "tkinter.Label(None, image={c})",
    "print({c})",
    "keep.append({c})",
    "t = {c}; print(t)",
]
# Where the statement stands on its line.
PLACES = [
    "{s}",
    "if 1: {s}",
    "x = 1; {s}",
    "pass; {s}",
    "y = \\\n    {s}",
    "print(\n    1) or {s}",
    "for _ in range(1): {s}",
]
SHELLS = [
    ("def", "def outer(flag, keep, obj):\n    {body}\n"),
    ("async", "async def outer(flag, keep, obj):\n    {body}\n"),
    ("method", "class Holder:\n    def run(self, flag, keep, obj):\n        {body}\n"),
    ("module", "flag = keep = obj = None\n{body}\n"),
    ("return", "def outer(flag, keep, obj):\n    return {call}.name\n"),
    ("forever", "async def outer(flag, keep, obj):\n    {body}\n    while True:\n        pass\n"),
]
HEADER = "import asyncio\nimport tempfile\nimport tkinter\nimport weakref\n\n\nasync def work():\n    pass\n\n\n"


@st.composite
def programs(draw: st.DrawFn) -> str:
    parts = [HEADER]
    for _ in range(draw(st.integers(1, 3))):
        call = draw(st.sampled_from(CALLS))
        form = draw(st.sampled_from(FORMS)).format(c=call)
        place = draw(st.sampled_from(PLACES))
        kind, shell = draw(st.sampled_from(SHELLS))
        statement = place.format(s=form)
        if kind != "async" and "await" in statement:
            statement = statement.replace("await ", "")
        indent = "        " if kind == "method" else "" if kind == "module" else "    "
        body = statement.replace("\n    ", "\n" + indent + "    ")
        parts.append(shell.format(body=body, call=call) + "\n\n")
    return "".join(parts)


def findings(root: Path, parse_all: bool, monkeypatch: pytest.MonkeyPatch) -> set[tuple]:
    monkeypatch.setattr(analysis, "PARSE_ALL", parse_all)
    result = run([str(root)], with_overrides(Settings(root=root), no_cache=True))
    return {(f.path, f.line, f.column, f.code) for r in result.results for f in r.findings}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs())
def test_prefiltered_run_finds_what_a_whole_parse_finds(source: str) -> None:
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as monkeypatch:
        root = Path(folder)
        (root / "gen.py").write_text(source, encoding="utf-8")
        try:
            compile(source, "gen.py", "exec")
        except SyntaxError:
            assume(False)  # a statement form put where only an expression can stand
        assert findings(root, False, monkeypatch) == findings(root, True, monkeypatch), source


@pytest.mark.parametrize(
    "line",
    [
        "    asyncio.get_running_loop().create_task(work())",
        "    if 1: asyncio.create_task(work())",
        "    x = 1; asyncio.create_task(work())",
        "    y = \\\n        asyncio.create_task(work())",
        "    path = tempfile.TemporaryDirectory().name",
        "    [asyncio.create_task(work())]",
        "    flag and asyncio.create_task(work())",
    ],
)
def test_each_known_blind_spot_is_seen(line: str, tmp_path: Path) -> None:
    source = HEADER + "def outer(flag):\n" + line + "\n"
    (tmp_path / "gen.py").write_text(source, encoding="utf-8")
    with pytest.MonkeyPatch.context() as monkeypatch:
        found = findings(tmp_path, False, monkeypatch)
    assert found, source
