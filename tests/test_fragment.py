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
    "awaited_with_a_comment_in_its_arguments": """
        import asyncio

        async def replicate(workers):
            await asyncio.gather(
                # the text test cannot read past a comment: the fragment decides
                *(w.fetch() for w in workers)
            )
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
    "gathered_with_a_comment_in_its_arguments": """
        import asyncio

        async def replicate(workers):
            asyncio.gather(
                # not awaited: the gathering future is dropped
                *(w.fetch() for w in workers)
            )
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


# -- the wrapper inference's shortcut: does the function that assigns a local return it? -----------------
# Each program's project marks are built twice, with the shortcut and with it answering "cannot tell"
# everywhere (every file whose text returns the local somewhere is then read whole): the marks must be the
# same, and ``shown`` says whether the shortcut rules the file out.
RETURNED_LOCALS = {
    "returned_by_its_function": (
        """
        import asyncio

        def spawn(coro, name):
            if name:
                task = asyncio.create_task(coro, name=name)
            else:
                task = asyncio.create_task(coro)
            return task
        """,
        False,
    ),
    "returned_by_another_function": (
        """
        import asyncio

        def spawn(coro):
            task = asyncio.create_task(coro)
            task.add_done_callback(print)

        def current(tasks):
            for task in tasks:
                return task
        """,
        True,
    ),
    "a_string_at_the_margin_between": (
        """
        import asyncio

        def spawn(coro):
            note = '''
        at the margin
        '''
            task = asyncio.create_task(coro)
            return task
        """,
        False,
    ),
    "a_class_attribute": (
        """
        import asyncio

        class Holder:
            task = asyncio.create_task(asyncio.sleep(1))

            def get(self):
                task = self.task
                return task
        """,
        True,
    ),
    "returned_by_a_nested_function": (
        """
        import asyncio

        def spawn(coro):
            task = asyncio.create_task(coro)

            def inner():
                return task

            return inner
        """,
        False,
    ),
    "a_method_in_a_class": (
        """
        import asyncio

        class Pool:
            def spawn(self, coro):
                task = asyncio.create_task(coro)
                return task
        """,
        False,
    ),
}


def _marks(tmp_path: Path, source: str) -> set[str]:
    """The project's inferred marks."""
    tmp_path.mkdir()
    (tmp_path / "jobs.py").write_text(textwrap.dedent(source).lstrip())
    project = Project(Settings(root=tmp_path, cache=False))
    return {q for q, m in project.index.marks.items() if m.source == "inferred"}


@pytest.mark.parametrize("name", RETURNED_LOCALS)
def test_a_returned_local_is_asked_of_its_own_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    from keepref_lint import fragment
    from keepref_lint.prefilter import may_return_one

    source, shown = RETURNED_LOCALS[name]
    data = textwrap.dedent(source).encode()
    assert may_return_one(data, {"create_task"}, factories=False) is not shown
    found = _marks(tmp_path / "shortcut", source)
    monkeypatch.setattr(fragment, "may_return_local", lambda *args: True)
    assert may_return_one(data, {"create_task"}, factories=False)
    assert _marks(tmp_path / "whole", source) == found
    if name in ("returned_by_its_function", "a_method_in_a_class"):
        assert found, "the function returning its task is a wrapper"
