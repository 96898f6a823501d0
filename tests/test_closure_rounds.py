"""Property: the alias closure's rounds (index._close_over_aliases) ask each file only about the words
that are new since the last round (``Prefilter.beyond``), and only the files ``Prefilter.candidates``
names. Both are sound only if, for every text the last round's test refused, the new test and its
``beyond`` agree, and every text the test accepts is a candidate. Texts are built from the line shapes
the re-export test reads: imports, aliases, class bases, calls, and a method's name beside its class's
or without it.
"""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from keepref_lint.corpus import Corpus  # noqa: E402
from keepref_lint.prefilter import Prefilter  # noqa: E402

WORDS = ["start", "serve", "Server", "Base", "create_task"]
CLASSES = ["Server", "Base"]
GUARDS = ["asyncio", "svc"]
LINES = [
    "from {g} import {w}",
    "import {g}",
    "{w} = {g}.{v}",
    "{w} = {v}",
    "run = {w}.{v}",
    "class Thing({w}):",
    "    {w}()",
    "x.{w}()",
    "# {w} {v}",
    "def {w}(self): ...",
]

line = st.builds(
    lambda shape, g, w, v: shape.format(g=g, w=w, v=v),
    st.sampled_from(LINES),
    st.sampled_from(GUARDS),
    st.sampled_from(WORDS),
    st.sampled_from(WORDS),
)
text = st.lists(line, max_size=6).map(lambda lines: ("\n".join(lines) + "\n").encode())
words = st.sets(st.sampled_from(WORDS), max_size=4)


@st.composite
def rounds(draw: st.DrawFn) -> tuple[Prefilter, Prefilter]:
    """Two successive rounds' tests: the second has every word of the first, methods may have gained
    owners, and a method's name may have stopped being one (a function of that name was marked)."""
    classes = st.sets(st.sampled_from(CLASSES), min_size=1)
    plain = draw(words)
    guarded = {g: draw(words) for g in GUARDS}
    owners = {name: draw(classes) for name in draw(words) & {"start", "serve"}}
    more_plain = plain | draw(words)
    more_guarded = {g: names | draw(words) for g, names in guarded.items()}
    more_owners = {name: set(o) | draw(classes) for name, o in owners.items()}
    for name in draw(words) & {"start", "serve"}:
        more_owners.setdefault(name, draw(classes))
    for name in draw(words):
        more_owners.pop(name, None)
    old = Prefilter(plain, guarded, reexports_only=True, owners=owners)
    new = Prefilter(more_plain, more_guarded, reexports_only=True, owners=more_owners)
    return old, new


@settings(max_examples=500, deadline=None)
@given(rounds(), st.lists(text, min_size=1, max_size=5))
def test_a_round_asks_only_its_new_words(
    tests: tuple[Prefilter, Prefilter], texts: list[bytes]
) -> None:
    old, new = tests
    beyond = new.beyond(old)
    for data in texts:
        if not old(data):
            assert new(data) == beyond(data), data


@settings(max_examples=500, deadline=None)
@given(rounds(), st.lists(text, min_size=1, max_size=5))
def test_every_accepted_text_is_a_candidate(
    tests: tuple[Prefilter, Prefilter], texts: list[bytes]
) -> None:
    corpus = Corpus(texts)
    for prefilter in (*tests, tests[1].beyond(tests[0])):
        candidates = prefilter.candidates(corpus)
        for i, data in enumerate(texts):
            if prefilter(data):
                assert i in candidates, data


PIECES = ["_start", "start", ".", "(", "create_task", "Logger", "x"]
piece_words = st.lists(st.sampled_from(PIECES), min_size=1, max_size=3).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(piece_words, min_size=1, max_size=8), st.lists(piece_words, max_size=6))
def test_files_with_answers_each_word_whatever_was_asked_before(
    words: list[str], texts: list[str]
) -> None:
    # Corpus.files_with scans only the files holding a part of the word asked for before: in whatever
    # order words come, each answer is the files whose text holds it.
    data = [t.encode() for t in texts]
    corpus = Corpus(data)
    for word in words:
        assert corpus.files_with(word) == {i for i, t in enumerate(data) if word.encode() in t}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(piece_words, min_size=1, max_size=5), min_size=1, max_size=4),
    st.lists(piece_words, max_size=6),
)
def test_a_scan_of_many_words_answers_each_word_whatever_was_asked_before(
    batches: list[list[str]], texts: list[str]
) -> None:
    # Corpus.scan looks for a batch's words text by text, those with a part scanned for before (or in
    # the batch) among that part's files: each answer is still the files whose text holds the word.
    data = [t.encode() for t in texts]
    corpus = Corpus(data)
    for batch in batches:
        corpus.scan(batch)
        for word in batch:
            assert corpus.files_with(word) == {i for i, t in enumerate(data) if word.encode() in t}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(piece_words, st.sets(st.integers(0, 5)) | st.none()), min_size=1, max_size=8
    ),
    st.lists(piece_words, min_size=1, max_size=6),
)
def test_files_with_answers_among_some_files_whatever_was_asked_before(
    questions: list[tuple[str, set[int] | None]], texts: list[str]
) -> None:
    # The same with ``within``: the files looked at one by one, and those a scan of all answered.
    data = [t.encode() for t in texts]
    corpus = Corpus(data)
    for word, within in questions:
        holding = {i for i, t in enumerate(data) if word.encode() in t}
        if within is None:
            assert corpus.files_with(word) == holding
        else:
            within = {i for i in within if i < len(data)}
            assert corpus.files_with(word, within) == holding & within
