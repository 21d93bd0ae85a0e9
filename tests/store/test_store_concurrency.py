"""Prior-total reads and inserts are one atomic step, across threads and processes,
and concurrent callers share commits (group commit)."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable

import pytest
from storekit import log_same_key_worker, recording, window

from decision_service.store import DecisionStore, DraftRecord

AMOUNT = 100.0


def _recording(priors: list[float]) -> Callable[[float], DraftRecord]:
    return recording(priors, agg_amount=AMOUNT)


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    # A bounded wait for a state, not a timing assertion: it only fails if the
    # state never comes.
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def test_fifty_threads_on_one_key_each_see_a_different_prior(store: DecisionStore) -> None:
    priors: list[float] = []
    start = threading.Barrier(50)

    def worker() -> None:
        start.wait()
        store.log_decision(window(), _recording(priors))

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(priors) == [i * AMOUNT for i in range(50)]
    assert store.count() == 50 and store.verify_chain() == []


@pytest.mark.slow  # starts processes
def test_two_processes_on_one_key_never_see_the_same_prior(
    store: DecisionStore, store_url: str
) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    results: multiprocessing.Queue[list[float] | str] = ctx.Queue()
    procs = [
        ctx.Process(target=log_same_key_worker, args=(store_url, 5, 5, start, results))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    try:
        seen = [results.get(timeout=120) for _ in procs]
    except queue.Empty:
        raise AssertionError("a worker process did not report") from None
    finally:
        for p in procs:
            p.join(timeout=60)
    assert all(p.exitcode == 0 for p in procs)
    first, second = seen
    assert isinstance(first, list) and isinstance(second, list), seen
    assert len(first) == len(second) == 25
    priors = first + second
    assert sorted(priors) == [i * AMOUNT for i in range(50)]
    assert store.count() == 50 and store.verify_chain() == []


def test_concurrent_callers_share_commits(store: DecisionStore) -> None:
    # Hold the writer inside the first decide() until 99 more callers are queued:
    # they must then all go into one transaction, in arrival order.
    inside, release = threading.Event(), threading.Event()
    priors: list[float] = []

    def first(prior: float) -> DraftRecord:
        inside.set()
        release.wait(60)
        return _recording(priors)(prior)

    threads = [threading.Thread(target=store.log_decision, args=(window(), first))]
    threads[0].start()
    inside.wait(60)
    for _ in range(99):
        threads.append(
            threading.Thread(target=store.log_decision, args=(window(), _recording(priors)))
        )
        threads[-1].start()
    _wait_until(lambda: store.pending_writes == 99, "99 queued callers")
    release.set()
    for t in threads:
        t.join()

    stats = store.stats()
    assert stats.records == 100 == store.count()
    assert stats.commits == 2 < stats.records
    assert stats.largest_batch == 99
    # Within the batch each request saw the rows inserted before it.
    assert sorted(priors) == [i * AMOUNT for i in range(100)]
    assert store.verify_chain() == []
