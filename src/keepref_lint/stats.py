"""Where a run's time goes: phase seconds and counts, as JSON, when ``KEEPREF_LINT_STATS`` names a file.

    KEEPREF_LINT_STATS=stats.json keepref-lint check -q --no-cache .

Off unless the variable is set, and then each call below is one test of ``FILE``. When on, the run
(engine.run, then the CLI's output) calls ``lap(name)`` at the end of each phase and the time since the
last lap goes to ``name``: the top-level phases add up to ``total``, the command in-process from
``start`` (the CLI's ``main``) to the output written; interpreter start-up, the CLI's own imports and
exit are outside it. ``instrument`` times the index build's steps (``index.aliases``, ...) by wrapping
them; they are part of ``index``, and what the build does outside them is ``index.other``. With worker
processes, ``check`` is the wall time of the pool; the workers' counts come back with their answers and
are added up, so ``cpu.*`` (parse, scopes, rules, fragment, noqa, workers) are CPU-seconds summed over
processes (the parent's parses in the index build included), not wall. ``files_parsed`` counts files
parsed whole at least once, ``parses`` every whole-file parse (a file whose tree was not kept is parsed
again; module skeletons and the fragment proof's definitions are not whole-file parses).
``early_files_given``, ``_checked``, ``_left`` and ``_asked`` say what the early check (early.py) was
given, kept, left to the check after untried, and had checked again. bench/performance.py reads the
file.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from keepref_lint.parsing import ParseCache
    from keepref_lint.project import SourceFile

FILE = os.environ.get("KEEPREF_LINT_STATS") or None

phases: dict[str, float] = {}
counts: dict[str, float] = {}
_started = 0.0
_last = 0.0
_inside = False  # a wrapped index step is running: a step it calls is part of it
missing: list[str] = []  # index steps ``instrument`` did not find (their time is in index.other)


def start() -> None:
    global _started, _last
    if FILE is None:
        return
    _started = _last = time.perf_counter()


def lap(name: str) -> None:
    """The time since the last lap (or ``start``) was spent in ``name``."""
    global _last
    if FILE is None:
        return
    now = time.perf_counter()
    if _started:
        phases[name] = phases.get(name, 0.0) + now - _last
    _last = now


def add(name: str, amount: float = 1) -> None:
    if FILE is None:
        return
    counts[name] = counts.get(name, 0) + amount


def clock() -> float:
    """Now, for ``since``; 0.0 when off (nothing is timed)."""
    return time.perf_counter() if FILE is not None else 0.0


def since(name: str, started: float) -> float:
    """Add the time since ``started`` (from ``clock``) to the count or index step ``name``; returns
    now. A name starting with ``index.`` is a step of the index build, else a count of seconds."""
    if FILE is None:
        return 0.0
    now = time.perf_counter()
    table = phases if name.startswith("index.") else counts
    table[name] = table.get(name, 0.0) + now - started
    return now


def take() -> dict[str, float] | None:
    """The counts so far, reset (a worker sends them with each answer); None when off."""
    if FILE is None:
        return None
    taken = dict(counts)
    counts.clear()
    return taken


def merge(taken: dict[str, float] | None) -> None:
    for name, amount in (taken or {}).items():
        counts[name] = counts.get(name, 0) + amount


def write() -> None:
    """Write the phases and counts (called once, at the end of the command)."""
    if FILE is None or not _started:
        return
    lap("output")
    total = time.perf_counter() - _started
    import json  # after the clock stops: not part of the run

    steps = {name: s for name, s in phases.items() if name.startswith("index.")}
    if "index" in phases and steps:
        phases["index.other"] = max(0.0, phases["index"] - sum(steps.values()))
    record = {
        # Spent on the stats themselves after the clock stopped (the json import): not the run's.
        "overhead": round(time.perf_counter() - _started - total, 6),
        "total": round(total, 6),
        "untimed_index_steps": missing,
        "phases": {name: round(s, 6) for name, s in phases.items()},
        "counts": {name: round(n, 6) if isinstance(n, float) else n for name, n in counts.items()},
    }
    with open(FILE, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1, sort_keys=True)
        handle.write("\n")


def _timed_step(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def step(*args: Any, **kwargs: Any) -> Any:
        global _inside
        if _inside:
            return function(*args, **kwargs)
        _inside = True
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _inside = False
            key = f"index.{name}"
            phases[key] = phases.get(key, 0.0) + time.perf_counter() - started

    step.__wrapped__ = function  # type: ignore[attr-defined]
    return step


# The index build's steps (ProjectIndex methods, and the receiver facts pass it calls): name -> label.
_STEPS = {
    "_summarize_marked": "markers",
    "_close_over_aliases": "aliases",
    "_infer_wrappers": "wrappers",
    "_config_async": "config_async",
    "_prefilter": "prefilter",
}


def instrument() -> None:
    """Time the index build's steps and count parses (only when on; called once, by analysis at import).
    A step the index no longer has is left out (its time stays in ``index.other``)."""
    if FILE is None:
        return
    from keepref_lint.index import ProjectIndex

    for attr, label in _STEPS.items():
        # The index's own method or a base's (wrappers.WrapperInference).
        function = getattr(ProjectIndex, attr, None)
        if callable(function):
            setattr(ProjectIndex, attr, _timed_step(label, function))
        else:
            missing.append(attr)
    build = ProjectIndex.__dict__.get("build")
    build_globals = getattr(getattr(build, "__func__", None), "__globals__", {})
    if callable(build_globals.get("build_receiver_types")):
        build_globals["build_receiver_types"] = _timed_step(
            "receivers", build_globals["build_receiver_types"]
        )
    else:
        missing.append("build_receiver_types")


def parse_cache() -> ParseCache:
    """A ParseCache; when on, one that counts and times the whole-file parses and scope analyses it makes
    (``parses``, ``files_parsed``: distinct paths; ``cpu.parse``, ``cpu.scopes`` seconds)."""
    from keepref_lint.parsing import ParseCache

    if FILE is None:
        return ParseCache()

    class CountingParseCache(ParseCache):
        def __init__(self) -> None:
            super().__init__()
            self.parsed: set[str] = set()

        def parse(self, file: SourceFile) -> Any:
            if file.path in self.trees or file.path in self.errors:
                return super().parse(file)
            started = time.perf_counter()
            try:
                return super().parse(file)
            finally:
                add("cpu.parse", time.perf_counter() - started)
                add("parses")
                if file.path not in self.parsed:
                    self.parsed.add(file.path)
                    add("files_parsed")
                    add("bytes_parsed", len(file.data))

        def scopes(self, file: SourceFile) -> Any:
            started = time.perf_counter()
            parse_before = counts.get("cpu.parse", 0.0)
            try:
                return super().scopes(file)
            finally:
                spent = time.perf_counter() - started
                add("cpu.scopes", spent - (counts.get("cpu.parse", 0.0) - parse_before))

    return CountingParseCache()
