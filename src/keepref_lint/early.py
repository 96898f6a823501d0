"""Checking while the index is finished: the files whose checks cannot depend on its last step.

The index's last step (``receivers.build_receiver_types``) works out what other modules state about the
types of receivers (``self.loop.create_task``: what is ``self.loop``?). It was up to a third of a cold
run (litellm: 0.47 s of 2.1 s), on one core, while the other waited for the check to begin. Everything
else a check reads from the index is final by then: the marks, the aliases and wrappers closed over, the
prefilter. So a forked process (``workers.Batch``) checks files meanwhile, smallest first, and stops
when the step is done.

What the step adds reaches a check through two doors only: the type oracle (``scopes.TypeOracle``,
which the forked process sees empty) and the prefilter's files with a receiver hit (``in_file``, which
only adds candidates). Every question the oracle is asked is recorded (``ReceiverTypes.questions``), so
a file whose check asked none gives the same outcome before the step and after it, and is kept; a file
that asked is checked again with the finished index, as is every file the process did not reach. Files
that call a must-retain method name on a receiver (those the step resolves) are left to the check
after: they would ask.
"""

from __future__ import annotations

from collections.abc import Callable

from keepref_lint import stats, workers
from keepref_lint.receivers import call_words, calls_a_receiver

TYPE_CHECKING = False
if TYPE_CHECKING:
    from keepref_lint.analysis import Outcome, Project
    from keepref_lint.index import ProjectIndex
    from keepref_lint.project import SourceFile

# Below this many files to check early, the process costs more than it saves (4 ms to fork on sglang).
EARLY_MIN_FILES = 8
# The step resolves receivers in the texts that call the method names: below this much of such text it
# took 40 ms at most on the corpus, and the process saves half of what it checks meanwhile (the check
# after would share those files between two workers).
EARLY_MIN_BYTES = 1_000_000


class EarlyCheck:
    """The early check of one cold run: ``start`` (given to ``Project`` as ``marks_known``) forks the
    process once the marks are known, ``finish`` takes what it checked. ``analyse(project, path)``
    checks one file, as the run's own check does (``analysis.analyse_for_parent`` with the run's
    flags)."""

    def __init__(
        self,
        targets: list[str],
        analyse: Callable[[Project, str], Outcome],
        wanted: Callable[[SourceFile], bool],
        hold: bool,
    ) -> None:
        """``wanted(file)``: is this read file one the run checks (not generated code, say)? ``hold``:
        the process keeps the trees it is done with until it exits (``engine.held_until_exit``)."""
        self.targets = targets
        self.analyse = analyse
        self.wanted = wanted
        self.hold = hold
        self.paths: list[str] = []
        self.batch: workers.Batch | None = None

    def start(self, project: Project, index: ProjectIndex, names: set[str]) -> None:
        """Fork the process that checks the candidate targets against ``index`` as it stands (the
        tests of which files to leave to the check after are made there, on the other core)."""
        if self.batch is not None:  # built again: what the first process checks may not hold
            self.batch.stop()
            self.batch, self.paths = None, []
        corpus = project.corpus
        if corpus is None:
            return
        calling = set().union(*(corpus.files_with(word) for word in call_words(names)))
        if sum(len(corpus.texts[i]) for i in calling) < EARLY_MIN_BYTES:
            return  # the step is over before the process has paid for itself
        candidates = project.candidates(self.targets, index.prefilter)
        files = [
            file
            for file in map(project.source, (path for path in self.targets if path in candidates))
            if file is not None and self.wanted(file)
        ]
        if len(files) < EARLY_MIN_FILES:
            return
        # Smallest first: the process is ended when the step is done, and the file it is on is lost.
        files.sort(key=lambda file: len(file.data))
        self.paths = [file.path for file in files]
        inherited = corpus.helper_fds()
        self.batch = workers.Batch.start(
            len(self.paths), lambda item: self._check(project, index, names, item), inherited
        )
        if self.batch is not None:
            stats.add("early_files_given", len(self.paths))

    def _check(
        self, project: Project, index: ProjectIndex, names: set[str], item: int
    ) -> Outcome | None:
        """In the forked process: one file's outcome, or None (it is checked again after the build)
        when it calls one of the method ``names`` on a receiver, or its check asked the type oracle
        anything."""
        if item == 0:
            self._begin(project, index)
        file = project.source(self.paths[item])
        assert file is not None  # read before the fork
        data = file.data
        if calls_a_receiver(data, names) or calls_a_receiver(data, names, plain=True):
            stats.add("early_files_left")
            return None
        types = index.receiver_types
        types.questions = set()
        try:
            outcome = self.analyse(project, self.paths[item])
        finally:
            asked, types.questions = types.questions, None
        if asked:
            stats.add("early_files_asked")
            return None
        return outcome

    def _begin(self, project: Project, index: ProjectIndex) -> None:
        """The forked process's set-up before its first file: the index as it stands is the
        project's, and what the parent built lives to the end (the collector never walks it)."""
        import gc

        gc.freeze()
        project.index = index
        if project.corpus is not None:
            project.corpus.detach()
        if self.hold:
            project.cache.held = []

    def finish(self) -> dict[str, Outcome]:
        """End the process and take the outcomes it is sure of, by path (none if it never started
        or died)."""
        if self.batch is None:
            return {}
        done = {
            self.paths[item]: outcome
            for item, outcome in self.batch.finish().items()
            if outcome is not None
        }
        stats.add("early_files_checked", len(done))
        return done

    def stop(self) -> None:
        """End the process if it is still running (the run stopped early)."""
        if self.batch is not None:
            self.batch.stop()
