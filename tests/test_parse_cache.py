"""The parse cache (parsing.py): what it keeps for reuse, and what it does with trees it is done with."""

from __future__ import annotations

from pathlib import Path

from keepref_lint.parsing import ParseCache
from keepref_lint.project import SourceFile


def test_discarded_trees_are_held_to_the_process_end_within_a_budget(tmp_path: Path) -> None:
    # A command run (engine.held_until_exit set) holds the trees it has done with, up to
    # HOLD_SOURCE_BYTES of source, instead of freeing them node by node; past that, and in a process
    # that goes on (no hold list: the server, the flake8 plugin), they are freed.
    def checked(cache: ParseCache, name: str, size: int) -> object:
        path = tmp_path / name
        path.write_text("x = 1\n" + "#" * size + "\n")
        file = SourceFile(str(path), name, name[:-3], False, path.read_bytes())
        scopes = cache.scopes(file)
        assert scopes is not None
        cache.discard(file)
        assert str(path) not in cache.trees
        return scopes

    cache = ParseCache()
    cache.HOLD_SOURCE_BYTES = 1000
    kept = checked(cache, "a.py", 10)
    assert cache.held is None and not kept.all_scopes  # closed: freed as soon as it is dropped
    cache.held = []
    unparsed = tmp_path / "unparsed.py"
    unparsed.write_text("#" * 900 + "\n")
    cache.discard(
        SourceFile(str(unparsed), "unparsed.py", "unparsed", False, unparsed.read_bytes())
    )
    assert cache.held == []  # nothing to hold, and no part of the budget spent on it
    first = checked(cache, "b.py", 600)
    assert cache.held == [first] and first.all_scopes  # held as it was, not taken apart
    second = checked(cache, "c.py", 600)
    assert cache.held == [first] and not second.all_scopes  # over the budget: freed
