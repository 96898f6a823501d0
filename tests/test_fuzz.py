"""Property: on generated programs, check and fix never crash, fixes parse, and a second fix is a no-op.

Bounded for CI; run longer with KEEPREF_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz.py.
"""

from __future__ import annotations

import ast
import os
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
hypothesmith = pytest.importorskip("hypothesmith")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from keepref_lint.config import Settings, with_overrides  # noqa: E402
from keepref_lint.engine import run  # noqa: E402

EXAMPLES = int(os.environ.get("KEEPREF_FUZZ_EXAMPLES", "40"))
# hypothesmith compiles what it generates; the compiler's warnings about that code are not findings.
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")
# A method that drops a marked result, so that every generated program also exercises the fixer.
SUFFIX = "\n\nclass _Fuzz:\n    def go(self):\n        print()\n"


def fix_twice(source: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = root / "gen.py"
        path.write_text(source, encoding="utf-8")
        settings = with_overrides(
            Settings(root=root), must_retain=["builtins.print"], no_cache=True
        )
        first = run([str(path)], settings, fix=True)
        after_first = path.read_bytes()
        if not first.errors:
            ast.parse(after_first)
        second = run([str(path)], settings, fix=True)
        assert path.read_bytes() == after_first, "a second fix changed the file"
        assert not any(f.fixable for r in second.results for f in r.findings)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_grammar().map(lambda code: code + SUFFIX))
def test_generated_programs_from_the_grammar(source: str) -> None:
    fix_twice(source)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_node().map(lambda code: code + SUFFIX), st.sampled_from(["\n", "\r\n"]))
def test_generated_programs_from_nodes(source: str, newline: str) -> None:
    fix_twice(source.replace("\n", newline))
