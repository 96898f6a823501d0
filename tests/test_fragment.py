"""The shortcut that judges a candidate line from the definition around it (fragment.py) must never hide a
finding: for each program, if the whole-file analysis reports something, the shortcut says "cannot tell";
for the common clean layouts it does rule the lines out (or the speed-up would be gone unnoticed)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from keepref_lint.analysis import Project
from keepref_lint.config import Settings
from keepref_lint.fragment import no_drop_possible

CLEAN = {
    "read_later": """
        import asyncio

        async def main(coro):
            task = asyncio.create_task(coro)
            await task
    """,
    "with_items_in_a_method": """
        import tempfile

        class Job:
            def run(
                self,
            ) -> None:
                with (
                    tempfile.TemporaryDirectory() as a,
                    tempfile.TemporaryDirectory() as b,
                ):
                    print(a, b)
    """,
    "module_and_class_names": """
        import tempfile

        SCRATCH = tempfile.TemporaryDirectory()

        class Holder:
            shared = tempfile.TemporaryDirectory()
    """,
    "argument_and_chained_call": """
        import zmq

        def sockets(keep):
            keep(
                zmq.Context()
            )
            sock = zmq.Context().socket(zmq.PUSH)
            return sock
    """,
    "read_in_a_closure": """
        import asyncio

        def schedule(coro):
            task = asyncio.ensure_future(coro)

            def cancel():
                task.cancel()

            return cancel
    """,
}

DROPS = {
    "dead_local": """
        import asyncio

        async def main(coro):
            task = asyncio.create_task(coro)
    """,
    "bare_statement": """
        import asyncio

        async def main(coro):
            asyncio.create_task(coro)
    """,
    "named_only_in_a_string": """
        import asyncio

        async def main(coro):
            task = asyncio.create_task(coro)
            return "task"
    """,
    "after_a_string_at_the_margin": """
        import asyncio

        async def main(coro):
            text = '''
        task = None
        '''
            task = asyncio.create_task(coro)
            return text
    """,
    "between_strings_at_the_margin": """
        import asyncio

        async def main(coro):
            head = '''
        x = 1
        '''
            task = asyncio.create_task(coro)
            tail = '''
        '''
            return head + tail
    """,
    "module_level_bare": """
        import tempfile

        if __name__ == "__main__":
            tempfile.TemporaryDirectory()
    """,
    "else_branch_after_a_dedented_header": """
        import tempfile

        class Holder:
            @staticmethod
            def make(
                flag,
            ):
                if flag:
                    pass
                else:
                    tempfile.TemporaryDirectory()
    """,
}


def judge(tmp_path: Path, source: str) -> tuple[bool, int]:
    """(what the shortcut says, how many findings the whole-file analysis reports)."""
    path = tmp_path / "program.py"
    path.write_text(textwrap.dedent(source).lstrip())
    project = Project(Settings(root=tmp_path, cache=False))
    file = project.source(str(path))
    assert file is not None
    places = project.index.prefilter.drop_offsets(file.data, file.path)
    assert places, "the program must hold a candidate line"
    ruled_out = no_drop_possible(file.data, places)
    whole = project.check_tree_unfiltered(
        file, ast.parse(file.data)
    )  # the flake8 path: no shortcut
    return ruled_out, len(whole)


@pytest.mark.parametrize("name", CLEAN)
def test_clean_layouts_are_ruled_out_without_a_whole_parse(tmp_path: Path, name: str) -> None:
    assert judge(tmp_path, CLEAN[name]) == (True, 0)


@pytest.mark.parametrize("name", DROPS)
def test_a_drop_is_never_ruled_out(tmp_path: Path, name: str) -> None:
    ruled_out, findings = judge(tmp_path, DROPS[name])
    assert findings == 1
    assert not ruled_out
