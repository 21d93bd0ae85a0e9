"""Shadow evaluation off the answer's path: after the decision is logged, a
candidate decides the same input in a background thread and the result is
attached to the logged decision.

Nothing the request does waits for a shadow: the request only enqueues a job
(a few microseconds, the bound the answer pays; bench/http.py measures it), so a
shadow that raises, runs long or hangs can never fail or delay an answer. A
shadow that raises is recorded with its error; one that runs past ``budget``
is recorded as a timeout, its result discarded; while one hangs, the jobs
behind it queue up to ``max_pending`` and any more are dropped and counted.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import structlog

from decision_service.api.metrics import Metrics
from decision_service.decision import Decision
from decision_service.policyset import PolicySet, Prepared
from decision_service.staging import ShadowPlan
from decision_service.store import DecisionStore

log = structlog.get_logger("decision_service.api")

_WRITE_BATCH = 1024


@dataclass(frozen=True, slots=True)
class ShadowJob:
    decision_id: str
    policies: PolicySet  # the set that answered (a compiled engine needs no lease)
    plan: ShadowPlan
    prepared: Prepared
    decision: Decision


class ShadowRunner:
    """One background thread evaluating shadows and writing them in batches."""

    def __init__(self, store: DecisionStore, metrics: Metrics, *, budget: float = 0.25,
                 max_pending: int = 10_000, collect_for: float = 0.05) -> None:
        self.store = store
        self.metrics = metrics
        self.budget = budget
        self.max_pending = max_pending
        self.collect_for = collect_for  # how long the first job of a burst waits for more
        self._stopping = threading.Event()
        self._queue: queue.SimpleQueue[ShadowJob | None] = queue.SimpleQueue()
        self._idle = threading.Condition()
        self._pending = 0  # accepted and not yet written (or given up)
        self._thread = threading.Thread(target=self._run, name="shadow-runner", daemon=True)
        self._thread.start()

    def submit(self, job: ShadowJob) -> bool:
        """Queue ``job``; False (and counted) when too many wait already."""
        with self._idle:
            if self._pending >= self.max_pending:
                self.metrics.shadow_dropped(job.decision.policy)
                return False
            self._pending += 1
        self._queue.put(job)
        return True

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every accepted job is written; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            # Gather a burst: one wake-up of this thread and one transaction for many
            # shadows, instead of a thread switch (and GIL hand-over) per decision.
            self._stopping.wait(self.collect_for)
            jobs, stop = [first], False
            while len(jobs) < _WRITE_BATCH:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
            self._write([(job.decision_id, self._evaluate(job)) for job in jobs])
            if stop:
                return

    def _evaluate(self, job: ShadowJob) -> dict[str, Any]:
        policy = job.decision.policy
        started = time.perf_counter()
        try:
            result = job.policies.shadow(job.plan, job.prepared, job.decision)
        except Exception as exc:  # a broken candidate must not stop the runner
            self.metrics.shadow_failed(policy, "error")
            return {"candidate": job.plan.describe(), "error": f"{type(exc).__name__}: {exc}"}
        elapsed = time.perf_counter() - started
        if elapsed > self.budget:
            self.metrics.shadow_failed(policy, "timeout")
            return {"candidate": job.plan.describe(),
                    "error": f"timeout: took {elapsed * 1000:.0f} ms, budget "
                             f"{self.budget * 1000:.0f} ms"}
        self.metrics.observe_shadow(policy, result["outputs"], result["differs"])
        return result

    def _write(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        if not batch:
            return
        try:
            self.store.record_shadows(batch)
        except Exception:  # shadows are advisory: a failed write loses them, nothing else
            log.exception("shadow_write_failed", count=len(batch))
            self.metrics.shadow_write_failed()
        with self._idle:
            self._pending -= len(batch)
            self._idle.notify_all()
