"""Forked worker processes that check chunks of a run's files, answering in the chunks' order.

Made from ``os.fork`` and pipes, not ``multiprocessing``: importing that package and starting its
processes cost 12-25 ms of every cold run here, more than some small trees' whole check. What a worker
needs (the project, its index, the chunks) it inherits from the fork, so a job is a chunk's number and
only answers are pickled.

Each worker has two pipes: jobs down, answers up. Only the worker holds the write end of its answer
pipe, so the end of that pipe is how the parent learns that it died (killed, out of memory). Workers
ignore Ctrl-C (the parent decides, and kills them), and each exits by itself when the parent dies: it
watches a pipe whose only write end the parent holds.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence

from keepref_lint import stats

_HEADER = struct.Struct("<Q")  # each message: its pickle's length, then the pickle
STOP = -1  # the job that tells a worker to exit


def worker_count(jobs: int | None, files: int) -> int:
    """Processes worth starting: what was asked (else one per CPU), never more than the CPUs this process
    may run on, nor than the files."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(jobs or cpus, cpus, files))


def can_fork() -> bool:
    return hasattr(os, "fork")


class WorkerDied(Exception):
    """A worker's answer pipe ended (or broke off inside a message): the worker is gone."""


def send(fd: int, message: object) -> None:
    """Write one message; BrokenPipeError when the reader is gone (Python ignores SIGPIPE)."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    data = memoryview(_HEADER.pack(len(body)) + body)
    while data:
        data = data[os.write(fd, data) :]


def _read_exactly(fd: int, size: int) -> bytes:
    parts: list[bytes] = []
    while size:
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            raise WorkerDied
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def receive(fd: int) -> object:
    """Read one message; WorkerDied at the end of the pipe, before or inside a message."""
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    return pickle.loads(_read_exactly(fd, size))


class Worker:
    """The parent's side of one worker: its process id, the write end of its job pipe and the read end
    of its answer pipe."""

    def __init__(self, pid: int, jobs: int, answers: int) -> None:
        self.pid = pid
        self.jobs = jobs
        self.answers = answers
        self.status: int | None = None  # the exit status, once reaped

    def reap(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the process to end; True once it has (its status is kept). It is
        asked at growing intervals, from 0.1 ms: a worker told to stop exits within a millisecond or two,
        and a fixed 5 ms between asks was most of the time a small tree's workers cost."""
        deadline = time.monotonic() + seconds
        pause = 0.0001
        while self.status is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: nothing is left to wait for
                self.status = -1
                break
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.005)
        return True

    def fds(self) -> tuple[int, int]:
        return self.jobs, self.answers

    def close(self) -> None:
        for fd in self.fds():
            with contextlib.suppress(OSError):
                os.close(fd)


def fork_with_pipes(
    child: Callable[[int, int], None], record: Callable[[int, int, int], None]
) -> None:
    """Fork a process that ignores Ctrl-C, with a pipe down to it and a pipe up from it. The child runs
    ``child(down, up)`` (the read end of the one, the write end of the other) and exits, with status 0
    if it returned; this process calls ``record(pid, down, up)`` (the other ends) before Ctrl-C is
    unblocked: the child never sees one before it ignores them, and one that arrives meanwhile is
    delivered here right after, when the child is recorded to be stopped. OSError when no process
    could be made (the pipes are closed)."""
    down_read, down_write = os.pipe()
    up_read, up_write = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered is left for the child to write again
        with contextlib.suppress(Exception):
            stream.flush()
    block = hasattr(signal, "pthread_sigmask")
    if block:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        try:
            pid = os.fork()
        except OSError:
            for fd in (down_read, down_write, up_read, up_write):
                os.close(fd)
            raise
        if pid == 0:  # the child never returns from here
            status = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                if block:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
                os.close(down_write)
                os.close(up_read)
                child(down_read, up_write)
                status = 0
            finally:
                os._exit(status)
        record(pid, down_write, up_read)
        os.close(down_read)
        os.close(up_write)
    finally:
        if block:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _start(task: Callable[[int], list], lifeline: tuple[int, int], started: list[Worker]) -> None:
    """Fork one more worker and add it to ``started`` (before Ctrl-C is unblocked: see
    ``fork_with_pipes``); OSError when no process could be made."""
    inherited = [fd for worker in started for fd in worker.fds()]
    fork_with_pipes(
        lambda jobs, answers: _worker_main(task, jobs, answers, lifeline, inherited),
        lambda pid, jobs, answers: started.append(Worker(pid, jobs, answers)),
    )


def _worker_main(
    task: Callable[[int], list],
    jobs: int,
    answers: int,
    lifeline: tuple[int, int],
    inherited: list[int],
) -> None:
    """A worker process: take chunk numbers from ``jobs``, answer each on ``answers`` with the chunk's
    results (and the stats counted meanwhile), until told to stop or the parent is gone."""
    _as_child((lifeline[1], *inherited), lifeline[0])
    while True:
        try:
            job = receive(jobs)
        except (WorkerDied, OSError):
            break
        if job == STOP:
            break
        assert isinstance(job, int)
        try:
            started = stats.clock()
            answer: tuple = ("ok", task(job))
            stats.since("cpu.workers", started)
            answer += (stats.take(),)  # None unless KEEPREF_LINT_STATS is set
        except Exception as exc:  # an internal error: the parent raises it
            answer = ("raise", exc)
        try:
            send(answers, answer)
        except OSError:
            break
        except Exception as exc:  # not picklable: say what it was
            send(answers, ("raise", RuntimeError(f"{type(exc).__name__}: {exc}")))


def _as_child(parents: Iterable[int], lifeline: int) -> None:
    """A forked process's start: close the file descriptors only the parent may hold (``parents``),
    exit at once when the pipe ``lifeline`` ends (a thread waits for it), and leave what the parent
    had counted before the fork for the parent to report."""
    for fd in parents:
        with contextlib.suppress(OSError):
            os.close(fd)
    import threading

    threading.Thread(target=_exit_when_parent_dies, args=(lifeline,), daemon=True).start()
    stats.take()


def _exit_when_parent_dies(lifeline: int) -> None:
    """A worker's watch on its parent: the read end of a pipe whose only write end the parent holds
    returns nothing once the parent is gone (killed included), and the worker then exits at once."""
    while True:
        try:
            if not os.read(lifeline, 1):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    os._exit(1)


def _stop(workers: list[Worker], lifeline: tuple[int, int] | None, at_once: bool) -> None:
    """End every worker: asked to stop after a complete run, killed on an interrupt or an error (they
    never write files, so nothing is lost), and waited for either way."""
    for worker in workers:
        if not at_once:
            with contextlib.suppress(OSError):
                send(worker.jobs, STOP)
        worker.close()
    for end in lifeline or ():  # closing the write end: a worker that missed everything else exits
        with contextlib.suppress(OSError):
            os.close(end)
    for worker in workers:
        # One reaped already (it died during the run) is not signalled: its pid may be another's now.
        if worker.status is None and (at_once or not worker.reap(5)):
            with contextlib.suppress(OSError):
                os.kill(worker.pid, signal.SIGKILL)
    for worker in workers:
        worker.reap(5)


def stop_worker(worker: Worker) -> None:
    """End one worker that is not part of a pool (the index's corpus helper): told to stop, its pipes
    closed, waited for, and killed if it does not end within 5 s."""
    _stop([worker], None, at_once=False)


def in_workers(
    chunks: Sequence[object],
    task: Callable[[int], list],
    jobs: int,
    lost: Callable[[int, int | None], list],
    order: Sequence[int] | None = None,
) -> Iterator[list]:
    """``task(i)`` for each chunk number ``i``, in order, computed in ``jobs`` forked workers, which
    are given the chunks in ``order`` (a permutation of their numbers; the default, their own).

    A worker that dies costs the chunk it was working on, which is answered by ``lost(i, status)``
    (its exit status); a chunk it had been given but not started goes to another worker, and when
    every worker is gone the rest are computed here. An exception in a task is raised here. Closing
    the generator (an interrupt, an error, or the caller stopping early) kills the workers."""
    workers: list[Worker] = []
    lifeline = os.pipe()
    finished = False
    try:
        for _ in range(jobs):
            try:
                _start(task, lifeline, workers)
            except OSError:  # no more processes (EAGAIN, ENOMEM): those started, or this one, do it
                break
        pending = deque(range(len(chunks)) if order is None else order)  # not given out yet
        busy: dict[int, list[int]] = {}  # worker -> chunks it was given, in order
        answers: dict[int, list] = {}
        live = dict(enumerate(workers))

        def give(worker: int) -> bool:
            """Send the next chunk to ``worker``; False (the chunk stays first in line) when its pipe
            is closed: it died after its last answer, which the end of its answer pipe will say."""
            try:
                send(live[worker].jobs, pending[0])
            except OSError:  # BrokenPipeError
                return False
            busy.setdefault(worker, []).append(pending.popleft())
            return True

        next_chunk = 0
        while next_chunk < len(chunks):
            while next_chunk in answers:
                yield answers.pop(next_chunk)
                next_chunk += 1
            if next_chunk >= len(chunks):
                break
            if not live:  # every worker died: the rest here (not what a worker answered already)
                for index in range(next_chunk, len(chunks)):
                    if index not in answers:
                        answers[index] = task(index)
                continue
            for worker in live:  # two chunks each: a worker never waits for its next one
                while pending and len(busy.setdefault(worker, [])) < 2:
                    if not give(worker):
                        break
            ready = select.select([live[w].answers for w in live], [], [])[0]
            for worker in list(live):
                if live[worker].answers not in ready:
                    continue
                try:
                    kind, value, *counted = receive(live[worker].answers)  # type: ignore[misc]
                except (WorkerDied, OSError):
                    kind, value, counted = "died", None, []
                if counted:
                    stats.merge(counted[0])
                if kind == "raise":
                    raise value
                if kind == "ok":
                    answers[busy[worker].pop(0)] = value
                    continue
                # The worker died: the chunk it was checking is lost, the one it had not started
                # goes to another worker.
                gone = live.pop(worker)
                if not gone.reap(1):
                    with contextlib.suppress(OSError):
                        os.kill(gone.pid, signal.SIGKILL)
                    gone.reap(5)
                given = busy.pop(worker, [])
                pending.extendleft(reversed(given[1:]))
                for index in given[:1]:
                    answers[index] = lost(index, gone.status)
        finished = True
    finally:
        _stop(workers, lifeline, at_once=not finished)


class Batch:
    """One forked process that works through items ``0 .. count - 1`` on its own, in order, while this
    process does something else, answering each as it is done; ``finish`` ends it wherever it is and
    takes the answers it sent. Nothing it does is needed: an item it was working on, or had not
    reached, is done elsewhere, as are all of them if it dies or cannot be started.

    The answers go to an anonymous file in memory (Linux's ``memfd_create``), which this process reads
    once the batch has ended: however many there are, the batch never waits for a reader. Where there
    is none, they go down the answer pipe, widened where it can be, and a batch whose answers fill it
    waits until ``finish``."""

    def __init__(self, worker: Worker, stored: int | None) -> None:
        self.worker = worker
        self.stored = stored  # the anonymous file, if any
        self.results: dict[int, object] | None = None

    @classmethod
    def start(
        cls, count: int, task: Callable[[int], object], inherited: Sequence[int] = ()
    ) -> Batch | None:
        """Fork the process (None when none could be made). ``inherited``: file descriptors of this
        process's that the child must not hold (another child's pipes, whose ends tell it of this
        process's death)."""
        stored = _anonymous_file()
        started: list[Worker] = []
        try:
            fork_with_pipes(
                lambda jobs, answers: _batch_main(
                    count, task, jobs, answers if stored is None else stored, inherited
                ),
                lambda pid, jobs, answers: started.append(Worker(pid, jobs, answers)),
            )
        except OSError:
            if stored is not None:
                os.close(stored)
            return None
        if stored is None:
            _widen(started[0].answers)
        return cls(started[0], stored)

    def finish(self) -> dict[int, object]:
        """End the process at once and take the answers it sent, by item (the item it was on when
        ended, whose answer may be cut off, is not among them)."""
        if self.results is not None:
            return self.results
        self.results = {}
        self._end()
        if self.stored is not None:
            os.lseek(self.stored, 0, os.SEEK_SET)
        for item, answer, counted in read_answers(
            self.worker.answers if self.stored is None else self.stored
        ):
            self.results[item] = answer
            stats.merge(counted)
        self._close()
        return self.results

    def stop(self) -> None:
        """End the process, whatever it was doing (a run that stops early), and wait for it."""
        if self.results is None:
            self.results = {}
        self._end()
        self._close()

    def _end(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.worker.jobs)  # the end of its job pipe: it exits if it has not yet
        if self.worker.status is None:
            with contextlib.suppress(OSError):
                os.kill(self.worker.pid, signal.SIGKILL)
        self.worker.reap(5)

    def _close(self) -> None:
        self.worker.close()
        if self.stored is not None:
            with contextlib.suppress(OSError):
                os.close(self.stored)
            self.stored = None


def read_answers(fd: int) -> Iterator[tuple]:
    """The whole messages on ``fd`` up to its end; one cut off there (its writer was killed while
    writing it) is not among them."""
    while True:
        try:
            message = receive(fd)
        except (WorkerDied, OSError, ValueError, EOFError, pickle.UnpicklingError):
            return
        yield message  # type: ignore[misc]


def _anonymous_file() -> int | None:
    """A file in memory that no name reaches (Linux), or None."""
    try:
        return os.memfd_create("keepref-lint-batch", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return None


def _widen(fd: int) -> None:
    """Make a pipe hold more than the usual 64 KB (Linux), so that a batch that answers faster than it
    is read goes on working instead of waiting; elsewhere, or when refused, it stays as it was."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass


def _batch_main(
    count: int, task: Callable[[int], object], jobs: int, answers: int, inherited: Sequence[int]
) -> None:
    """A batch's process: each item's answer, with the stats counted for it, until the items run out
    or a task fails (an internal error, left for the check that does the item again to report). Its
    job pipe carries nothing: its end (the parent ended the batch, or is gone) ends the process at
    once, whatever it is doing."""
    _as_child(inherited, jobs)
    for item in range(count):
        started = stats.clock()
        try:
            answer = task(item)
        except Exception:
            return
        stats.since("cpu.workers", started)
        try:
            send(answers, (item, answer, stats.take()))
        except Exception:  # the parent is gone, or the answer cannot be pickled
            return
