"""records.py: the plain record bases that stand in for dataclasses on the cold path."""

from __future__ import annotations

import pickle

import pytest

from keepref_lint.marks import Mark
from keepref_lint.records import replace
from keepref_lint.summaries import ClassInfo, ModuleSummary


def test_a_mark_compares_hashes_and_pickles_by_its_fields() -> None:
    inner = Mark("svc.start", "function", "decorator", attr="server")
    mark = Mark("app.run", "function", "inferred", returns=inner, line=3)
    again = pickle.loads(pickle.dumps(mark, protocol=pickle.HIGHEST_PROTOCOL))
    assert again == mark and hash(again) == hash(mark)
    assert again.returns == inner
    assert mark != replace(mark, line=4)
    assert {mark, again} == {mark}
    assert mark != ("app.run",)  # another type is never equal


def test_replace_changes_only_the_named_fields_and_keeps_their_order() -> None:
    mark = Mark("svc.start", "function", "config", reason="the server stops")
    changed = replace(mark, is_async=True)
    assert changed.is_async and not mark.is_async
    assert list(vars(changed)) == list(Mark._fields)
    assert (changed.qualname, changed.reason) == ("svc.start", "the server stops")
    with pytest.raises(TypeError, match="no field 'asynchronous'"):
        replace(mark, asynchronous=True)


def test_a_frozen_record_cannot_be_changed() -> None:
    mark = Mark("svc.start", "function", "config")
    with pytest.raises(AttributeError, match="field 'line' of a Mark"):
        mark.line = 9  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del mark.kind


def test_a_summary_is_mutable_compared_by_value_and_unhashable() -> None:
    one, two = ModuleSummary("pkg.mod"), ModuleSummary("pkg.mod")
    assert one == two and one.bindings is not two.bindings
    one.classes["pkg.mod.C"] = ClassInfo(["pkg.base.B"], {"start"})
    assert one != two
    assert repr(one.classes["pkg.mod.C"]) == "ClassInfo(bases=['pkg.base.B'], names={'start'})"
    with pytest.raises(TypeError):
        hash(one)
