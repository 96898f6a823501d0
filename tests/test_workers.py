"""The fork pool (workers.py) on its own: real forked processes and real pipes, with tasks that answer,
raise, or end the process that runs them."""

from __future__ import annotations

import os
import time

import pytest

from keepref_lint import workers

pytestmark = pytest.mark.skipif(not workers.can_fork(), reason="needs os.fork")


def pid_of(index: int) -> list:
    return [index, os.getpid()]


def never_lost(index: int, status: int | None) -> list:
    raise AssertionError(f"chunk {index} was lost (exit status {status})")


def alive(pid: int) -> bool:
    """False once ``pid`` is gone or a zombie (in_workers reaps its own, so a zombie is a bug too)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_answers_come_in_chunk_order_from_other_processes() -> None:
    def slow_for_the_first(index: int) -> list:
        if index == 0:
            time.sleep(0.3)  # answered last, yielded first
        return pid_of(index)

    answers = list(workers.in_workers(range(9), slow_for_the_first, 2, never_lost))
    assert [index for index, _ in answers] == list(range(9))
    pids = {pid for _, pid in answers}
    assert os.getpid() not in pids
    assert len(pids) == 2
    assert not any(alive(pid) for pid in pids)


def test_an_exception_in_a_task_is_raised_in_the_parent_and_the_workers_end() -> None:
    started: list[int] = []

    def fails_on_three(index: int) -> list:
        if index == 3:
            time.sleep(0.3)  # by then the chunks before it are answered (else it may win the race)
            raise ValueError(f"chunk {index} is bad")
        return pid_of(index)

    results = workers.in_workers(range(8), fails_on_three, 2, never_lost)
    with pytest.raises(ValueError, match="chunk 3 is bad"):
        for _, pid in results:
            started.append(pid)
    assert started  # chunks before the bad one were answered
    time.sleep(0.1)
    assert not any(alive(pid) for pid in set(started))


def test_a_worker_that_dies_costs_the_chunk_it_was_checking_only() -> None:
    parent = os.getpid()

    def dies_on_two(index: int) -> list:
        if index == 2 and os.getpid() != parent:
            os._exit(7)
        return pid_of(index)

    lost: list[tuple[int, int | None]] = []

    def record(index: int, status: int | None) -> list:
        lost.append((index, status))
        return [index, "lost"]

    answers = list(workers.in_workers(range(10), dies_on_two, 2, record))
    assert lost == [(2, 7)]
    assert [index for index, _ in answers] == list(range(10))
    assert answers[2] == [2, "lost"]


def test_when_every_worker_dies_the_rest_is_computed_here() -> None:
    parent = os.getpid()

    def workers_die(index: int) -> list:
        if os.getpid() != parent:
            os._exit(3)
        return pid_of(index)

    lost: list[int] = []
    answers = list(
        workers.in_workers(range(6), workers_die, 2, lambda i, s: lost.append(i) or [i, "lost"])
    )
    assert len(lost) == 2  # the chunk each worker was checking
    assert [index for index, _ in answers] == list(range(6))
    assert all(answers[i] == [i, parent] for i in range(6) if i not in lost)


def test_a_chunk_a_worker_answered_is_not_computed_again_when_every_worker_is_gone() -> None:
    parent = os.getpid()
    here: list[int] = []  # the chunks computed in this process

    def dies_on_its_second_chunk(index: int) -> list:
        if os.getpid() == parent:
            here.append(index)
        elif index in (0, 3):  # worker one is given 0 and 1, worker two 2 and 3
            os._exit(5)
        return pid_of(index)

    answers = list(
        workers.in_workers(range(6), dies_on_its_second_chunk, 2, lambda i, s: [i, "lost"])
    )
    assert [index for index, _ in answers] == list(range(6))
    assert answers[2][1] not in (parent, "lost")  # the second worker answered it before dying
    assert 2 not in here
    assert sorted(here) == [i for i in range(6) if answers[i][1] == parent]


def test_closing_early_kills_the_workers() -> None:
    def slow(index: int) -> list:
        time.sleep(0.05)
        return pid_of(index)

    results = workers.in_workers(range(100), slow, 2, never_lost)
    first = next(results)
    pids = [first[1]]
    pids.append(next(r for r in results if r[1] != first[1])[1])
    began = time.monotonic()
    results.close()
    assert time.monotonic() - began < 2  # killed, not left to finish a hundred chunks
    assert not any(alive(pid) for pid in pids)


def test_worker_count_is_capped_by_cpus_and_files() -> None:
    cpus = len(os.sched_getaffinity(0))
    assert workers.worker_count(None, 1000) == cpus
    assert workers.worker_count(cpus + 5, 1000) == cpus
    assert workers.worker_count(None, 1) == 1
    assert workers.worker_count(1, 1000) == 1


# -- Batch: one process that works through its items alone until it is ended ---------------------------


def wait_for(path: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_a_batch_answers_every_item_once_it_is_done(tmp_path) -> None:
    batch = workers.Batch.start(5, pid_of)
    assert batch is not None
    assert batch.worker.reap(30)  # it ends by itself after the last item
    results = batch.finish()
    assert sorted(results) == list(range(5))
    assert {pid for _, pid in results.values()} == {batch.worker.pid}
    assert batch.worker.pid != os.getpid()


def test_finish_ends_a_batch_midway_and_keeps_what_it_answered(tmp_path) -> None:
    reached = str(tmp_path / "reached")

    def stuck_on_three(index: int) -> list:
        if index == 3:
            open(reached, "w").close()
            time.sleep(120)
        return pid_of(index)

    batch = workers.Batch.start(6, stuck_on_three)
    assert batch is not None
    wait_for(reached)
    began = time.monotonic()
    results = batch.finish()
    assert time.monotonic() - began < 10  # ended, not waited for
    assert sorted(results) == [0, 1, 2]
    assert not alive(batch.worker.pid)
    assert batch.finish() is results  # asked again: the same answers


def test_a_batch_that_fails_or_dies_keeps_the_items_before(tmp_path) -> None:
    def raises_on_two(index: int) -> list:
        if index == 2:
            raise ValueError("bad item")
        return pid_of(index)

    def dies_on_two(index: int) -> list:
        if index == 2:
            os._exit(9)
        return pid_of(index)

    for task in (raises_on_two, dies_on_two):
        batch = workers.Batch.start(5, task)
        assert batch is not None
        assert batch.worker.reap(30)
        assert sorted(batch.finish()) == [0, 1], task.__name__


def big(index: int) -> bytes:
    return bytes([index]) * 200_000


def test_a_batch_answering_faster_than_it_is_read_keeps_every_answer(tmp_path) -> None:
    # 40 answers of 200 KB, 8 MB: more than any pipe holds, written while nobody reads them.
    batch = workers.Batch.start(40, big)
    assert batch is not None
    if batch.stored is None:
        pytest.skip("no anonymous file here (memfd_create): the answers go down the pipe")
    assert batch.worker.reap(30)  # it never waited for a reader
    results = batch.finish()
    assert sorted(results) == list(range(40))
    assert all(answer == bytes([index]) * 200_000 for index, answer in results.items())


def test_without_an_anonymous_file_the_pipe_takes_the_answers(tmp_path, monkeypatch) -> None:
    # Where there is no memfd_create: the batch waits to write once the pipe is full; ended then,
    # what it wrote whole is read, and the answer it was writing is not taken half.
    monkeypatch.setattr(workers, "_anonymous_file", lambda: None)
    batch = workers.Batch.start(40, big)
    assert batch is not None and batch.stored is None
    time.sleep(0.5)
    results = batch.finish()
    assert len(results) < 40
    assert sorted(results) == list(range(len(results)))
    assert all(answer == bytes([index]) * 200_000 for index, answer in results.items())
    assert not alive(batch.worker.pid)


def test_an_answer_cut_off_at_the_end_is_not_read(tmp_path) -> None:
    path = tmp_path / "answers"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        for item in range(2):
            workers.send(fd, (item, f"answer {item}", None))
        whole = os.lseek(fd, 0, os.SEEK_CUR)
        workers.send(fd, (2, "x" * 10_000, None))
        os.ftruncate(fd, whole + 5_000)  # the writer was killed halfway through the third
        os.lseek(fd, 0, os.SEEK_SET)
        assert list(workers.read_answers(fd)) == [(0, "answer 0", None), (1, "answer 1", None)]
    finally:
        os.close(fd)


def test_a_stopped_batch_is_gone(tmp_path) -> None:
    batch = workers.Batch.start(3, lambda index: time.sleep(120))
    assert batch is not None
    batch.stop()
    assert not alive(batch.worker.pid)
    assert batch.finish() == {}
