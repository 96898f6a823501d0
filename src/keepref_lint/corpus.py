"""Many files' texts, and which of them contain a word: the index's scans, memoized, optionally shared
with a forked helper process that scans the second half of the texts while this one scans the first.

A scan is ``bytes.__contains__`` per file, at C speed, but every word the index asks about costs a pass
over the whole tree (25 ms for litellm's 44 MB on the project's machine), and the index's rounds ask
dozens. The index itself is serial (each round reads what the last one found), so without a helper the
second core waits while it scans. ``Corpus.start_helper`` forks a process that inherits the texts and
answers for the files from ``cut`` on: each question goes to it first, this process answers its own
half meanwhile, and the halves are joined. The answers are the same sets either way; a helper that
dies, or cannot be started, leaves its half to this process.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right

from keepref_lint import stats
from keepref_lint.prefilter import import_lines

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from keepref_lint import workers
    from keepref_lint.prefilter import Prefilter

_WORD = re.compile(rb"[0-9A-Za-z_\x80-\xff]+")  # what ``prefilter.occurrences`` counts as a word


class Corpus:
    """The texts of a run's files (and their paths), and memoized answers about them.

    A guard (a module name) is looked for in the files' import statements only (``import_lines``), a
    twentieth of the text; a guarded name only in the files that import its guard.
    """

    # After this many words, one pass that splits every text into words answers the rest (a project
    # with thousands of must-retain names, such as a long chain of wrappers, would otherwise scan its
    # texts once per name). Splitting costs a few dozen scans, so no tree pays more than a few percent.
    WORD_INDEX_AFTER = 1000
    # A helper is worth its fork (2-5 ms, and a message per question) from this much text on.
    HELPER_MIN_BYTES = 2_000_000
    # A question about a few files is answered here: a message to the helper and back costs about
    # what scanning this much text does.
    ASK_MIN_BYTES = 256_000

    def __init__(self, texts: list[bytes], paths: list[str] | None = None) -> None:
        self.texts = texts
        self.paths = list(paths) if paths is not None else [""] * len(texts)
        self.position = {path: i for i, path in enumerate(paths or ())}
        # The files this process scans itself: all of them, or those before the helper's.
        self._own = range(len(texts))
        self._helper: _Helper | None = None
        self._memo: dict[str, set[int]] = {}  # word -> every file holding it
        # word -> file -> holds it (for the files asked about)
        self._partial: dict[str, dict[int, bool]] = {}
        self._import_memo: dict[str, set[int]] = {}
        self._lines: dict[int, bytes] = {}  # file -> its import_lines, once cut out
        # This process's files' import lines joined with NUL (which none holds), and where each file's
        # part starts: a word is found in all of them by a scan of one string.
        self._imports: tuple[bytes, list[int]] | None = None
        self._paths: tuple[str, list[int]] | None = None
        self._words: dict[bytes, set[int]] | None = None  # word -> files (see WORD_INDEX_AFTER)

    # -- the helper ------------------------------------------------------------------------------
    def start_helper(self) -> bool:
        """Fork a process to scan the second half of the texts (by size); False when the texts are
        too few to pay for it or no process could be started. ``close`` ends it."""
        sizes = list(map(len, self.texts))
        if (
            self._helper is not None
            or sum(sizes) < self.HELPER_MIN_BYTES
            or not hasattr(os, "fork")
        ):
            return False
        cut = _half_by_size(sizes)
        helper = _Helper.start(self, cut)
        if helper is None:
            return False
        self._helper = helper
        self._own = range(cut)
        stats.add("corpus_helpers")
        return True

    def close(self) -> None:
        """End the helper, if any: this process answers for every file from now on."""
        helper, self._helper = self._helper, None
        if helper is not None:
            helper.stop()
        self._own = range(len(self.texts))
        self._imports = None  # joined over this process's files only: made again over all

    def helper_fds(self) -> tuple[int, ...]:
        """This process's ends of the helper's pipes (another forked process must not hold them)."""
        return self._helper.worker.fds() if self._helper is not None else ()

    def detach(self) -> None:
        """In a process forked from this one that is not the helper: the helper's pipes are the
        parent's, so this process answers every question alone."""
        self._helper = None
        self._own = range(len(self.texts))
        self._imports = None

    def _ask(self, request: tuple) -> Any:
        """Send ``request`` to the helper; ``_answer`` gives its reply."""
        if self._helper is not None and not self._helper.send(request):
            self._lost_helper()

    def _answer(self) -> tuple[bool, Any]:
        """(True, the helper's reply to the last request) or (False, None) when it is gone, whose files
        the caller then answers for (``_others``)."""
        if self._helper is None:
            return False, None
        ok, value = self._helper.receive()
        if not ok:
            self._lost_helper()
        return ok, value

    def _lost_helper(self) -> None:
        self.close()
        stats.add("corpus_helpers_lost")

    def _halves(self, request: tuple, answer: Callable[[range], Any]) -> tuple[Any, Any]:
        """``answer`` for this process's files and for the helper's: ``request`` goes to the helper
        first, and this process answers for its own files meanwhile (for the helper's too when it is
        gone)."""
        own, others = self._own, self._others()
        self._ask(request)
        mine = answer(own)
        ok, theirs = self._answer()
        return mine, theirs if ok else answer(others)

    def _others(self) -> range:
        """The helper's files, for this process to answer for when it is gone."""
        return range(self._own.stop, len(self.texts))

    # -- questions -------------------------------------------------------------------------------
    def files_with(self, word: str, within: set[int] | None = None) -> set[int]:
        """The files whose text contains ``word`` (among ``within`` when given); once the word index
        is built, those where it stands as a whole word (all that the exact tests accept)."""
        found = self._memo.get(word)
        if found is None and self._words is None:
            if len(self._memo) + len(self._partial) >= self.WORD_INDEX_AFTER:
                self.close()
                self._words = {}
                for i, text in enumerate(self.texts):
                    for token in set(_WORD.findall(text)):
                        self._words.setdefault(token, set()).add(i)
        if found is None and self._words is not None:
            found = self._memo[word] = self._words.get(word.encode(), set())
        if found is not None:
            return found if within is None else found & within
        if within is None:
            self.scan([word])
            return self._memo[word]
        # Asked again and again about the same files: whether all are known is a test at C speed.
        known = self._partial.get(word)
        if known is None or not known.keys() >= within:
            self.scan_within([(word, within)])
            known = self._partial[word]
        return {i for i in within if known[i]}

    def scan(self, words: Iterable[str]) -> None:
        """Find the files holding each of ``words`` (``files_with`` then answers from memory): one
        question to the helper for all of them, while this process scans its own files."""
        todo = [w for w in dict.fromkeys(words) if w not in self._memo]
        if not todo or self._words is not None:
            return
        # No more than ``files_with`` would scan for before it builds the word index.
        del todo[max(0, self.WORD_INDEX_AFTER - len(self._memo) - len(self._partial)) :]
        # Shorter words first: a text holding a word holds every part of it, so a part's files narrow
        # the scan for the whole (``_start`` before ``_start_daily_spend_commit``).
        todo.sort(key=len)
        found, theirs = self._halves(("words", todo), lambda files: self._holding(todo, files))
        for word in todo:
            self._memo[word] = found[word] | theirs[word]

    def _holding(self, words: list[str], files: range) -> dict[str, set[int]]:
        """For each word, the files among ``files`` whose text holds it."""
        texts, memo = self.texts, self._memo
        found: dict[str, set[int]] = {}
        # The words no part of which was scanned for (before, or earlier in this batch) are looked for
        # together, text by text: a text is read from memory once for all of them and stays in the
        # processor's cache for the others (13 words over litellm's 44 MB: 180 ms, against 300 ms a word
        # at a time).
        whole = [
            word
            for at, word in enumerate(words)
            if not any(w in word for w in memo) and not any(w in word for w in words[:at])
        ]
        if len(whole) > 1:
            needles = [(word.encode(), found.setdefault(word, set())) for word in whole]
            for i in files:
                text = texts[i]
                for needle, holding in needles:
                    if needle in text:
                        holding.add(i)
        for word in words:
            if word in found:
                continue
            needle = word.encode()
            # Where a part of the word was scanned for already (here or in this batch), only the files
            # holding that part are looked at.
            narrowest = min(
                (f for w, f in (*memo.items(), *found.items()) if w in word),
                key=len,
                default=None,
            )
            if narrowest is None:
                found[word] = {i for i in files if needle in texts[i]}
            else:
                found[word] = {i for i in narrowest if i in files and needle in texts[i]}
        return found

    def scan_within(self, questions: Iterable[tuple[str, set[int]]]) -> None:
        """For each (word, files): which of those files hold the word (``files_with(word, files)``
        then answers from memory)."""
        if self._words is not None:
            return  # ``files_with`` answers from the word index
        mine: list[tuple[str, list[int]]] = []
        theirs: list[tuple[str, list[int]]] = []
        own = self._own
        for word, within in questions:
            known = self._partial.setdefault(word, {})
            todo = [i for i in within if i not in known]
            mine.append((word, [i for i in todo if i in own]))
            theirs.append((word, [i for i in todo if i not in own]))
        texts = self.texts
        asked = sum(len(texts[i]) for _, files in theirs for i in files) >= self.ASK_MIN_BYTES
        if not asked:
            mine = [
                (word, [*files, *other])
                for (word, files), (_, other) in zip(mine, theirs, strict=True)
            ]
        else:
            self._ask(("within", theirs))
        results = [self._within(mine)]
        if asked:
            ok, answers = self._answer()
            results.append(answers if ok else self._within(theirs))
        for answers in results:
            for word, held in answers.items():
                self._partial[word].update(held)

    def _within(self, questions: list[tuple[str, list[int]]]) -> dict[str, dict[int, bool]]:
        texts = self.texts
        answers: dict[str, dict[int, bool]] = {}
        for word, files in questions:
            needle = word.encode()
            answers.setdefault(word, {}).update((i, needle in texts[i]) for i in files)
        return answers

    def import_lines_of(self, i: int) -> bytes:
        """``import_lines`` of file ``i``, cut out once."""
        lines = self._lines.get(i)
        if lines is None:
            if i not in self._own and self._helper is not None:
                self._fetch_lines()
                lines = self._lines.get(i)
            if lines is None:
                lines = self._lines[i] = import_lines(self.texts[i])
        return lines

    def _fetch_lines(self) -> None:
        """The helper's files' import lines, all at once (it cut them out for its first question
        about imports, or does now)."""
        self._ask(("lines",))
        ok, lines = self._answer()
        if ok:
            self._lines.update(lines)

    def has(self, i: int, word: str) -> bool:
        """Can file ``i`` contain ``word``? (Its text holds it: answered from what the scans for
        ``files_with`` found, else looked at once and remembered.)"""
        found = self._memo.get(word)
        if found is not None:
            return i in found
        known = self._partial.setdefault(word, {})
        answer = known.get(i)
        if answer is None:
            answer = known[i] = word.encode() in self.texts[i]
        return answer

    def files_importing(self, word: str) -> set[int]:
        """The files whose import statements contain ``word``, and those that are part of the module or
        package ``word`` (``prefilter.within_package``)."""
        found = self._import_memo.get(word)
        if found is None:
            self.scan_imports([word])
            found = self._import_memo[word]
        return found

    def scan_imports(self, words: Iterable[str]) -> None:
        """``files_importing`` for each of ``words``, asked of the helper at once."""
        todo = [w for w in dict.fromkeys(words) if w not in self._import_memo]
        if not todo:
            return
        found, theirs = self._halves(
            ("importing", todo), lambda files: self._importing(todo, files)
        )
        if self._paths is None:
            self._paths = _joined(self.paths, "\0")
        paths, starts = self._paths
        for word in todo:
            holding = found[word] | theirs[word]
            if f"{os.sep}{word}" in paths:  # some file may be the module itself
                holding |= _parts_holding(paths, starts, f"{os.sep}{word}{os.sep}")
                holding |= _parts_holding(paths + "\0", starts, f"{os.sep}{word}.py\0")
            self._import_memo[word] = holding

    def _importing(self, words: list[str], files: range) -> dict[str, set[int]]:
        """For each word, the files among ``files`` whose import lines hold it."""
        if files != self._own:  # the helper's, when it is gone: once
            joined, starts = _joined([self.import_lines_of(i) for i in files], b"\0")
        else:
            if self._imports is None:
                self._imports = _joined([self.import_lines_of(i) for i in files], b"\0")
            joined, starts = self._imports
        first = files.start
        return {
            word: {first + i for i in _parts_holding(joined, starts, word.encode())}
            for word in words
        }

    def passing(self, test: Prefilter, files: list[int]) -> list[int]:
        """The files (in the order given) whose text passes ``test``, given their import lines."""
        own = self._own
        theirs = [i for i in files if i not in own]
        if sum(len(self.texts[i]) for i in theirs) < self.ASK_MIN_BYTES:
            return self._passing(test, files)
        self._ask(("passing", test, theirs))
        passed = set(self._passing(test, [i for i in files if i in own]))
        ok, answer = self._answer()
        passed.update(answer if ok else self._passing(test, theirs))
        return [i for i in files if i in passed]

    def map(
        self, function: Callable[[bytes, Any, Any], Any], items: list[tuple], shared: Any
    ) -> list:
        """``function(text, item, shared)`` for each item, whose first element is its file's number;
        the results in the items' order. A helper takes the items after the middle (by their texts'
        size): it has every text. ``function`` must be a module's own (pickled by its name)."""
        sizes = [len(self.texts[item[0]]) for item in items]
        cut = _half_by_size(sizes)
        if self._helper is None or sum(sizes[cut:]) < self.ASK_MIN_BYTES:
            return self._apply(function, items, shared)
        self._ask(("map", function, items[cut:], shared))
        mine = self._apply(function, items[:cut], shared)
        ok, theirs = self._answer()
        return mine + (theirs if ok else self._apply(function, items[cut:], shared))

    def _apply(
        self, function: Callable[[bytes, Any, Any], Any], items: list[tuple], shared: Any
    ) -> list:
        return [function(self.texts[item[0]], item, shared) for item in items]

    def _passing(self, test: Prefilter, files: list[int]) -> list[int]:
        texts, paths = self.texts, self.paths
        return [i for i in files if test(texts[i], paths[i], self.import_lines_of(i))]

    # -- the helper's side -------------------------------------------------------------------------
    def _serve(self, request: tuple) -> object:
        """The answer to one of the parent's questions, about this (the helper's) half of the files."""
        kind = request[0]
        if kind == "words":
            found = self._holding(request[1], self._own)
            self._memo.update(found)  # its parts narrow later scans here as in the parent
            return found
        if kind == "within":
            return self._within(request[1])
        if kind == "importing":
            return self._importing(request[1], self._own)
        if kind == "lines":
            return {i: self.import_lines_of(i) for i in self._own}
        if kind == "passing":
            return self._passing(request[1], request[2])
        if kind == "map":
            return self._apply(*request[1:])
        raise ValueError(f"unknown question {kind!r}")


class _Helper:
    """The parent's side of a corpus helper: a ``workers.Worker`` whose job pipe carries questions.
    The helper exits when told to stop or when the question pipe ends (the parent closed it, or
    died)."""

    def __init__(self, worker: workers.Worker) -> None:
        self.worker = worker

    @classmethod
    def start(cls, corpus: Corpus, cut: int) -> _Helper | None:
        """Fork the helper (it ignores Ctrl-C, as the workers do); None when no process could be
        made."""
        from keepref_lint import workers

        started: list[workers.Worker] = []
        try:
            workers.fork_with_pipes(
                lambda questions, answers: _helper_main(corpus, cut, questions, answers),
                lambda pid, questions, answers: started.append(
                    workers.Worker(pid, questions, answers)
                ),
            )
        except OSError:
            return None
        return cls(started[0])

    def send(self, request: tuple) -> bool:
        from keepref_lint.workers import send

        try:
            send(self.worker.jobs, request)
        except OSError:
            return False
        return True

    def receive(self) -> tuple[bool, object]:
        from keepref_lint.workers import WorkerDied, receive

        try:
            kind, value = receive(self.worker.answers)  # type: ignore[misc]
        except (WorkerDied, OSError):
            return False, None
        if kind == "raise":
            raise value
        return True, value

    def stop(self) -> None:
        """End the helper as a pool's worker is ended (``workers.stop_worker``)."""
        from keepref_lint.workers import stop_worker

        stop_worker(self.worker)


def _helper_main(corpus: Corpus, cut: int, questions: int, answers: int) -> None:
    """The helper process: answer questions about the files from ``cut`` on until it is told to stop
    or the pipe ends."""
    from keepref_lint import workers

    corpus._helper = None
    corpus._own = range(cut, len(corpus.texts))
    corpus._imports = None
    while True:
        try:
            request = workers.receive(questions)
        except (workers.WorkerDied, OSError):
            return
        if request == workers.STOP:
            return
        try:
            answer: tuple = ("ok", corpus._serve(request))  # type: ignore[arg-type]
        except Exception as exc:  # an internal error: the parent raises it
            answer = ("raise", exc)
        try:
            workers.send(answers, answer)
        except OSError:
            return


def _half_by_size(sizes: list[int]) -> int:
    """Where a list whose items have these sizes splits into halves by size: the first index of the
    second half."""
    total, size, cut = sum(sizes), 0, 0
    while cut < len(sizes) and size < total // 2:
        size += sizes[cut]
        cut += 1
    return cut


def _joined(parts: list, separator: Any) -> tuple[Any, list[int]]:
    """The parts joined by ``separator``, and where each starts."""
    starts = []
    at = 0
    for part in parts:
        starts.append(at)
        at += len(part) + 1
    return separator.join(parts), starts


def _parts_holding(joined: Any, starts: list[int], needle: Any) -> set[int]:
    """The indices of the parts of ``joined`` (see _joined) that contain ``needle``, which holds no
    separator (or only a separator at its end, standing for the part's end)."""
    found: set[int] = set()
    at = joined.find(needle)
    while at != -1:
        part = bisect_right(starts, at) - 1
        found.add(part)
        following = part + 1
        if following == len(starts):
            break
        at = joined.find(needle, starts[following])
    return found
