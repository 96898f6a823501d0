"""The index's word scans (corpus.Corpus): the same answers with a helper process as without it, a
helper that dies leaves its half to the parent, and no helper outlives its corpus or its parent.
Real texts (this project's sources and fixtures), real forks, a real run of the command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from keepref_lint.corpus import Corpus
from keepref_lint.prefilter import Prefilter

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the helper is a forked process")

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(
    [*(ROOT / "src" / "keepref_lint").glob("*.py"), *(ROOT / "tests" / "fixtures").rglob("*.py")]
)
TEXTS = [path.read_bytes() for path in FILES]
PATHS = [str(path) for path in FILES]

# Words the index asks about: whole names, parts of longer ones (the narrowing), punctuation, absent.
WORDS = [
    "start",
    "_start",
    "start_server",
    "create_task",
    ".create_task(",
    "must_retain",
    "Corpus",
    "self.",
    "import *",
    "no_such_word_anywhere",
]
GUARDS = ["asyncio", "keepref_lint", "import *", "os", "prefilter", "no_such_module"]


def answers(corpus: Corpus) -> dict:
    """Everything a corpus answers, over the words and guards above, asked in batches and one by one."""
    corpus.scan(WORDS[:4])
    corpus.scan_imports(GUARDS[:2])
    found: dict = {
        "with": {w: corpus.files_with(w) for w in WORDS},
        "importing": {g: corpus.files_importing(g) for g in GUARDS},
    }
    corpus.scan_within((w, corpus.files_importing("asyncio")) for w in WORDS[:3])
    found["within"] = {
        (w, g): corpus.files_with(w, corpus.files_importing(g)) for w in WORDS for g in GUARDS
    }
    found["lines"] = [corpus.import_lines_of(i) for i in range(len(TEXTS))]
    found["has"] = {(i, w): corpus.has(i, w) for i in range(0, len(TEXTS), 7) for w in WORDS}
    tests = [
        Prefilter({"start_server", "create_task"}, {"asyncio": {"gather", "shield"}}),
        Prefilter({"start_server", "Corpus"}, {}, reexports_only=True),
    ]
    found["passing"] = [corpus.passing(test, list(range(len(TEXTS)))[::-1]) for test in tests]
    items = [(i, PATHS[i]) for i in range(0, len(TEXTS), 3)][::-1]
    found["map"] = corpus.map(probe, items, b"import")
    return found


def probe(text: bytes, item: tuple[int, str], word: bytes) -> tuple[int, str, int]:
    """What ``Corpus.map`` runs in the test: the item, and how often the text holds ``word``."""
    return (*item, text.count(word))


@pytest.fixture(params=[0, 20_000], ids=["every question asked", "small ones answered here"])
def any_size(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    monkeypatch.setattr(Corpus, "HELPER_MIN_BYTES", 0)
    monkeypatch.setattr(Corpus, "ASK_MIN_BYTES", request.param)


def reaped(pid: int) -> bool:
    """Has this process's child ``pid`` been waited for (so it is gone, not a zombie)?"""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_texts_are_worth_sharing() -> None:
    """The test corpus spans both halves with files of every kind (else the comparisons say little)."""
    assert len(TEXTS) > 100 and any(b"import *" in text for text in TEXTS)


def test_a_helper_gives_the_same_answers(any_size: None) -> None:
    alone = answers(Corpus(TEXTS, PATHS))
    corpus = Corpus(TEXTS, PATHS)
    assert corpus.start_helper()
    helper = corpus._helper
    assert helper is not None and 0 < corpus._own.stop < len(TEXTS)
    try:
        shared = answers(corpus)
    finally:
        corpus.close()
    assert shared == alone
    assert reaped(helper.worker.pid)


def test_a_helper_that_dies_leaves_its_half_here(any_size: None) -> None:
    alone = answers(Corpus(TEXTS, PATHS))
    corpus = Corpus(TEXTS, PATHS)
    assert corpus.start_helper()
    helper = corpus._helper
    assert helper is not None
    corpus.scan(["start"])  # answered with the helper's half
    os.kill(helper.worker.pid, signal.SIGKILL)
    try:
        shared = answers(corpus)
    finally:
        corpus.close()
    assert shared == alone
    assert corpus._helper is None and corpus._own == range(len(TEXTS))
    assert reaped(helper.worker.pid)


def test_no_helper_for_a_small_corpus() -> None:
    corpus = Corpus(TEXTS[:5], PATHS[:5])
    assert sum(map(len, corpus.texts)) < Corpus.HELPER_MIN_BYTES
    assert not corpus.start_helper()
    assert corpus._helper is None


def test_the_helper_ends_with_its_parent(tmp_path: Path) -> None:
    """A parent killed while its helper waits for questions: the helper sees its question pipe end and
    exits (it is not left behind, as init's zombie or alive)."""
    code = textwrap.dedent(
        f"""
        import os, sys, time
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from test_corpus import PATHS, TEXTS
        from keepref_lint.corpus import Corpus
        Corpus.HELPER_MIN_BYTES = Corpus.ASK_MIN_BYTES = 0
        corpus = Corpus(TEXTS, PATHS)
        assert corpus.start_helper()
        corpus.scan(["start"])
        print(corpus._helper.worker.pid, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    helper = int(proc.stdout.readline())
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and os.path.exists(f"/proc/{helper}"):
        with open(f"/proc/{helper}/stat", "rb") as handle:
            if handle.read().rpartition(b")")[2].split()[0] == b"Z":
                break  # exited; init has not reaped it yet
        time.sleep(0.05)
    else:
        assert not os.path.exists(f"/proc/{helper}"), "the helper outlived its parent"


def test_a_run_with_a_helper_finds_what_a_run_without_one_does(tmp_path: Path) -> None:
    """The command over this project's fixtures, cold: with two jobs (and a helper, its size limit
    lowered) and with one; the same findings, and the run with two says it used a helper."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "tests" / "fixtures", tree)
    code = (
        "import sys\nfrom keepref_lint.corpus import Corpus\n"
        "Corpus.HELPER_MIN_BYTES = Corpus.ASK_MIN_BYTES = 0\n"
        "from keepref_lint.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    )
    outputs = {}
    for jobs in ("1", "2"):
        record = tmp_path / f"stats{jobs}.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                code,
                "check",
                "--no-cache",
                "--format",
                "json",
                "-j",
                jobs,
                ".",
            ],
            cwd=tree,
            capture_output=True,
            text=True,
            env={**os.environ, "KEEPREF_LINT_STATS": str(record)},
        )
        assert proc.returncode in (0, 1), proc.stderr
        outputs[jobs] = (json.loads(proc.stdout), proc.stderr)
        counts = json.loads(record.read_text())["counts"]
        assert counts.get("corpus_helpers", 0) == (1 if jobs == "2" else 0), counts
        assert "corpus_helpers_lost" not in counts
    assert outputs["1"] == outputs["2"]
    assert outputs["1"][0], "the fixtures hold findings"
