"""Properties of the index's lookups over packages built from the shapes a lookup follows: the prefilter
(``ProjectIndex._prefilter``) looks up only the bindings whose targets' last names are in
``_names_reaching_marks``, and gives the test it gives when it looks up every binding; a lookup that
passes over the names that lead nowhere (``_leads_nowhere``) finds what it finds going through them all.
Packages are built from the shapes a lookup follows: re-exports under the same or another name, aliases
of functions and of methods, star imports (cycles too), subclasses of marked classes, classes whose
``__init__`` is marked, and methods inherited from a marked base.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from keepref_lint.analysis import Project  # noqa: E402
from keepref_lint.config import Settings, with_overrides  # noqa: E402
from keepref_lint.index import ProjectIndex  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "projects"
MODULES = ["a", "b", "c"]
NAMES = ["serve", "Server", "Base", "open_it", "other"]
LINES = [
    "from .{m} import *",
    "from .{m} import {n}",
    "from .{m} import {n} as {k}",
    "from . import {m}",
    "{k} = {n}",
    "{k} = {m}.{n}",
    "{k} = Base.open_it",
    "import asyncio\n{k} = asyncio.create_task",
    "@must_retain\ndef {n}(): ...",
    "@must_retain\nclass {n}: ...",
    "class {n}:\n    @must_retain\n    def __init__(self): ...",
    "class {n}:\n    @must_retain\n    def open_it(self): ...",
    "class {k}({n}): ...",
    "class {k}({m}.{n}):\n    def open_it(self): ...",
    "def {k}():\n    return {n}()",
    "{k} = {n}.open_it\n{k} = {n}.Base",  # one name, two targets
]


def _line(shape: str, module: str, name: str, local: str) -> str:
    return shape.format(m=module, n=name, k=local)


line = st.builds(
    _line,
    st.sampled_from(LINES),
    st.sampled_from(MODULES),
    st.sampled_from(NAMES),
    st.sampled_from(["alias", "Sub", "start", *NAMES]),
)
modules = st.fixed_dictionaries({m: st.lists(line, max_size=5) for m in ["__init__", *MODULES]})


class _Everything:
    """A set holding every name: the prefilter then looks up every binding, as it did before."""

    def __contains__(self, name: object) -> bool:
        return True


def _keys(index: ProjectIndex, monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    def keys() -> list[tuple]:
        index._forget_lookups()
        return [
            index._prefilter(with_classes, reexports_only).key()
            for with_classes in (False, True)
            for reexports_only in (False, True)
        ]

    filtered = keys()
    monkeypatch.setattr(index, "_names_reaching_marks", _Everything)
    return [filtered, keys()]


def _index(root: Path) -> ProjectIndex:
    return Project(with_overrides(Settings(root=root), no_cache=True)).index


def _generated_index(root: Path, sources: dict[str, list[str]]) -> ProjectIndex:
    """The index of the package ``pkg`` under ``root`` whose modules hold the generated lines."""
    package = root / "pkg"
    package.mkdir()
    for module, lines in sources.items():
        text = "from keepref_lint import must_retain\n" + "\n".join(lines) + "\n"
        (package / f"{module}.py").write_text(text, encoding="utf-8")
    return _index(root)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(modules)
def test_the_prefilter_is_the_same_without_the_bindings_that_reach_no_mark(
    sources: dict[str, list[str]],
) -> None:
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as monkeypatch:
        filtered, everything = _keys(_generated_index(Path(folder), sources), monkeypatch)
        assert filtered == everything


@pytest.mark.parametrize("project", sorted(p.name for p in FIXTURES.iterdir()))
def test_the_fixture_projects_prefilters_are_the_same(
    project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    filtered, everything = _keys(_index(FIXTURES / project), monkeypatch)
    assert filtered == everything


def test_a_subclass_of_a_marked_class_reaches_its_mark(tmp_path: Path) -> None:
    """The set holds what a lookup reaches only through a base or an alias, not by its own name."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from keepref_lint import must_retain\n\n\n@must_retain\nclass Server: ...\n\n\n"
        "class Sub(Server): ...\n\n\nAlias = Sub\n\n\nclass Init:\n    @must_retain\n"
        "    def __init__(self): ...\n",
        encoding="utf-8",
    )
    reaching = _index(tmp_path)._names_reaching_marks()
    assert {"Server", "Sub", "Alias", "Init"} <= reaching
    assert "must_retain" not in reaching


def _names(index: ProjectIndex) -> list[str]:
    """Names to look up: every binding's local and target, every class, and a method of each."""
    names = set()
    for module, summary in index.summaries.items():
        for local, targets in summary.bindings.items():
            names.update([f"{module}.{local}", *targets])
        names.update(summary.classes)
    return sorted(
        {*names, *(f"{name}.open_it" for name in names), *(f"{n}.x.open_it" for n in names)}
    )


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(modules)
def test_a_lookup_that_passes_over_what_leads_nowhere_finds_the_same(
    sources: dict[str, list[str]],
) -> None:
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as monkeypatch:
        index = _generated_index(Path(folder), sources)
        names = _names(index)
        found = {}
        for prune_after in (10**9, 0):
            monkeypatch.setattr(ProjectIndex, "PRUNE_AFTER", prune_after)
            index._forget_lookups()
            found[prune_after] = [index.lookup(name) for name in names]
        assert found[0] == found[10**9]


def _redirects_spelled_out(index: ProjectIndex, qualname: str) -> list[tuple[str, str]]:
    """``ProjectIndex._redirects`` as it was written before it found each prefix's class in one pass
    and kept its answers: every prefix joined again, and its class found by ``_class_info``."""
    parts = qualname.split(".")
    found: list[tuple[str, str]] = []
    for i in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:i])
        name, rest = parts[i], parts[i + 1 :]
        tail = "".join("." + p for p in rest)
        key = f"{prefix}.{name}"
        summary = index.summaries.get(prefix)
        if summary is not None:
            found.extend(index._module_rewrites(qualname, summary, name, tail, key))
        owner = index._class_info(prefix)
        if owner is not None and name not in owner.names:
            found.extend((f"{base}.{name}{tail}", key) for base in owner.bases)
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(modules)
def test_the_redirects_of_every_name_a_lookup_meets_are_as_spelled_out(
    sources: dict[str, list[str]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        index = _generated_index(Path(folder), sources)
        pending, met = _names(index), set()
        while pending and len(met) < 1000:
            name = pending.pop()
            if name in met or name.count(".") > 12:
                continue  # a circular definition's names grow without end (lookups stop them)
            met.add(name)
            redirects = index._redirects(name)
            assert redirects == _redirects_spelled_out(index, name)
            assert index._redirects(name) is redirects  # kept
            pending.extend(other for other, _ in redirects)


def test_an_alias_of_a_name_with_two_targets_names_it(tmp_path: Path) -> None:
    """``N1 = N0.a``, ``N1 = N0.b``, ``N2 = N1.a``, ...: spelled out, ``N6``'s targets would be the 64
    names below ``N0``; each stays two names of the module, which lookups follow (the whole chain, 24
    deep, is run in tests/test_hostile_input.py)."""
    package = tmp_path / "pkg"
    package.mkdir()
    lines = ["from keepref_lint import must_retain", "", "", "class N0:", "    @must_retain"]
    lines += [
        "    def start(self): ...",
        *(f"N{k} = N{k - 1}.{a}" for k in range(1, 7) for a in "ab"),
    ]
    (package / "__init__.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    bindings = _index(tmp_path).summaries["pkg"].bindings
    assert bindings["N1"] == ["pkg.N0.a", "pkg.N0.b"]
    assert bindings["N6"] == ["pkg.N5.a", "pkg.N5.b"]
