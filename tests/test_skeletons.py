"""The cuts of skeletons.py: a module without its functions' bodies gives the summary the whole module
gives (summaries.summarize_module), with every line where it was, on real modules (this project's own
source, its fixtures) and on the shapes the cut reads by indentation."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from keepref_lint.project import SourceFile
from keepref_lint.skeletons import without_function_bodies
from keepref_lint.summaries import summarize_module

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted((ROOT / "src" / "keepref_lint").glob("*.py")) + sorted(
    (ROOT / "tests" / "fixtures").rglob("*.py")
)


def summaries(data: bytes) -> tuple:
    file = SourceFile("/p/mod.py", "mod.py", "pkg.mod", False, data)
    cut = without_function_bodies(data)
    assert cut is not None
    assert cut.count(b"\n") == data.count(b"\n")
    decorators = {"must_retain", "keep"}
    whole = summarize_module(ast.parse(data), file, decorators)
    return whole, summarize_module(ast.parse(cut), file, decorators)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_real_module_summarizes_the_same_without_function_bodies(path: Path) -> None:
    data = path.read_bytes()
    cut = without_function_bodies(data)
    if cut is None:
        return  # the cut declined (a class in a function): the whole file is read
    try:
        ast.parse(cut)
    except SyntaxError:
        return  # spoilt by a string (catalog_layouts.py has one): the whole file is read
    whole, trimmed = summaries(data)
    assert trimmed == whole


SHAPES = '''
    import os
    from pkg.base import Handle as H  # a re-export


    @decorate(
        "arg",
    )
    def spread(
        a,  # a comment with a bracket (
        b=(1, 2),
    ) -> dict[
        str, int
    ]:
        """A docstring
    that goes left of the body."""
        if a:
            return {"k": 1}
        return b


    def one_line(): return 1


    class Service(H, metaclass=Meta):
        mode = "x"

        @property
        def name(self):
            return self.mode

        async def start(self):
            # only a comment first

            await go()

        class Inner:
            def run(self): ...


    if os.name:
        def chosen():
            pass
        alias = Service
    try:
        from fast import start
    except ImportError:
        start = Service.start
'''


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_the_shapes_the_cut_reads_summarize_the_same(newline: bytes) -> None:
    whole, trimmed = summaries(textwrap.dedent(SHAPES).encode().replace(b"\n", newline))
    assert trimmed == whole
    assert set(whole.classes) == {"pkg.mod.Service", "pkg.mod.Service.Inner"}
    assert whole.classes["pkg.mod.Service"].names == {"mode", "name", "start", "Inner"}


@pytest.mark.parametrize(
    "source",
    [
        "def f():\n    class Local:\n        pass\n    return Local\n",
        "def f():\n\treturn 1\n",
        "def f():\r    return 1\r",
        "x = 1\f\ndef f():\n    return 1\n",
    ],
    ids=["class in a function", "tab", "lone CR", "form feed"],
)
def test_the_cut_declines_what_indentation_cannot_tell(source: str) -> None:
    assert without_function_bodies(source.encode()) is None


def test_a_string_left_of_the_body_spoils_the_cut_visibly() -> None:
    """The cut does not track strings: a line of one at the def's indentation ends the body early, and
    what is left does not parse (the index then reads the whole file)."""
    source = b'def f():\n    q = """\nSELECT 1\n"""\n    return q\n'
    with pytest.raises(SyntaxError):
        ast.parse(without_function_bodies(source))
