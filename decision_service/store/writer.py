"""Group commit: one writer thread per store appends every decision to the log.

Why one thread: the hash chain is a single sequence, so appends are serial anyway;
letting one thread own the write connection turns N concurrent callers into one
transaction and one fsync instead of N.  Callers enqueue a request and block on a
future until the transaction holding their record has committed.

Per batch the writer:
  1. opens a transaction that holds the chain lock (``AppendSession.begin``) —
     the lock also spans other processes, which is what makes "read prior total,
     then insert" atomic across processes;
  2. for each request, in arrival order: reads the prior total, calls ``decide``,
     seals the draft onto the chain tip and inserts it, so a later request sees an
     earlier one's row;
  3. commits once, then resolves the futures.

A ``decide`` that raises only fails its own caller: it runs before that request's
insert, so there is nothing to undo.  A database error fails the whole batch.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import DuplicateDecisionError, StoreClosedError, StoreError, WriteFailedError
from .record import DecisionRecord, DraftRecord, seal

if TYPE_CHECKING:
    from .base import AggregateQuery

Decide = Callable[[float], DraftRecord]


class AppendSession(ABC):
    """The writer thread's connection: one transaction at a time, never shared."""

    @abstractmethod
    def begin(self) -> tuple[int, str]:
        """Start a transaction holding the chain lock; return the tip (seq, record_hash).

        An empty log has tip ``(0, GENESIS_HASH)``.
        """

    @abstractmethod
    def prior_total(self, query: AggregateQuery) -> float:
        """SUM(agg_amount) for ``query`` inside the current transaction (0.0 if none)."""

    @abstractmethod
    def insert(self, seq: int, record: DecisionRecord) -> bool:
        """Insert at ``seq``; False (and nothing written) if decision_id already exists."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


@dataclass(frozen=True)
class WriteStats:
    """Counters of the writer thread, for tests and metrics."""

    commits: int  # transactions committed (each one fsync)
    records: int  # records committed
    failed_batches: int  # batches rolled back because the database failed
    largest_batch: int  # most requests handled in one transaction


@dataclass
class _Request:
    aggregate: AggregateQuery | None
    decide: Decide
    future: Future[DecisionRecord]


Outcome = DecisionRecord | BaseException


class GroupCommitWriter:
    """Owns the writer thread and the queue of pending requests."""

    def __init__(
        self, session_factory: Callable[[], AppendSession], *, max_batch: int, name: str
    ) -> None:
        self._session_factory = session_factory
        self._session: AppendSession | None = None
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        # Guards _closed together with the enqueue, so no request can land behind
        # the stop sentinel and wait forever.
        self._lock = threading.Lock()
        self._closed = False
        self._commits = 0
        self._records = 0
        self._failed_batches = 0
        self._largest_batch = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- caller side ---------------------------------------------------------

    def submit(self, aggregate: AggregateQuery | None, decide: Decide) -> DecisionRecord:
        if threading.current_thread() is self._thread:
            # decide() runs on the writer thread; waiting on it from there deadlocks.
            raise StoreError("log_decision must not be called from inside decide()")
        future: Future[DecisionRecord] = Future()
        with self._lock:
            if self._closed:
                raise StoreClosedError("the decision store is closed")
            self._queue.put(_Request(aggregate, decide, future))
        return future.result()

    @property
    def pending(self) -> int:
        """Requests waiting for the writer (not counting the batch being written)."""
        return self._queue.qsize()

    def stats(self) -> WriteStats:
        return WriteStats(self._commits, self._records, self._failed_batches, self._largest_batch)

    def close(self) -> None:
        """Write everything already submitted, then stop the thread."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join()

    # -- writer thread -------------------------------------------------------

    def _run(self) -> None:
        try:
            stopping = False
            while not stopping:
                first = self._queue.get()
                if first is None:
                    break
                batch = [first]
                while len(batch) < self._max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stopping = True
                        break
                    batch.append(item)
                self._write_batch(batch)
        finally:
            self._discard_session()
            self._refuse_remaining()

    def _refuse_remaining(self) -> None:
        # Normally the queue is empty here (close() put the sentinel last); this
        # guards against callers hanging if the thread ever stops another way.
        with self._lock:
            self._closed = True
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item.future.set_exception(StoreClosedError("the decision store is closed"))

    def _write_batch(self, batch: list[_Request]) -> None:
        self._largest_batch = max(self._largest_batch, len(batch))
        outcomes: list[Outcome] = []
        try:
            session, (seq, tip) = self._begin()
            written = 0
            for request in batch:
                outcome = self._append(session, request, seq + 1, tip)
                if isinstance(outcome, DecisionRecord):
                    seq, tip = seq + 1, outcome.record_hash
                    written += 1
                outcomes.append(outcome)
            if written:
                session.commit()
                self._commits += 1
                self._records += written
            else:
                session.rollback()  # only releases the lock; nothing to make durable
        except BaseException as exc:  # never let the writer thread die with callers waiting
            self._failed_batches += 1
            self._discard_session()  # may be broken; the next batch reconnects
            for i, request in enumerate(batch):
                own = outcomes[i] if i < len(outcomes) else None
                if isinstance(own, BaseException):
                    request.future.set_exception(own)  # its decide() failed anyway
                else:
                    failure = WriteFailedError(f"decision log write failed: {exc!r}")
                    failure.__cause__ = exc
                    request.future.set_exception(failure)
            return
        for request, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)

    def _begin(self) -> tuple[AppendSession, tuple[int, str]]:
        """Begin a batch transaction, reconnecting once if the kept connection went stale.

        Retrying here is safe: no decide() has run and nothing was written yet.  A
        PostgreSQL restart or idle-connection timeout then costs no caller an error.
        """
        if self._session is not None:
            try:
                return self._session, self._session.begin()
            except Exception:
                self._discard_session()
        self._session = self._session_factory()
        return self._session, self._session.begin()

    @staticmethod
    def _append(session: AppendSession, request: _Request, seq: int, prev_hash: str) -> Outcome:
        """Append one request; a caller-specific failure is returned, a DB error raised."""
        prior = 0.0 if request.aggregate is None else session.prior_total(request.aggregate)
        try:
            draft = request.decide(prior)
            if not isinstance(draft, DraftRecord):
                raise TypeError(f"decide() must return a DraftRecord, got {type(draft)!r}")
            record = seal(draft, prev_hash)
        except BaseException as exc:  # whatever decide raises belongs to its caller
            return exc
        if not session.insert(seq, record):
            return DuplicateDecisionError(f"decision {record.decision_id} is already logged")
        return record

    def _discard_session(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        # A broken connection is being thrown away: errors here add nothing.
        with contextlib.suppress(Exception):
            session.rollback()
        with contextlib.suppress(Exception):
            session.close()
