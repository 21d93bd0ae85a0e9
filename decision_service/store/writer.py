"""Group commit: one writer thread per store appends every decision to the log.

Why one thread: the hash chain is a single sequence, so appends are serial anyway;
letting one thread own the write connection turns N concurrent callers into one
transaction and one fsync instead of N.  Callers enqueue a request and get a future
that resolves once the transaction holding their record has committed.

Per batch the writer:
  1. opens a transaction that holds the chain lock (``AppendSession.begin``) —
     the lock also spans other processes, which is what makes "read prior total,
     then insert" atomic across processes;
  2. reads the database totals of every aggregate the batch asks for, in one go
     (per subject where records have one), and which of the batch's idempotency
     keys are already logged (``open_batch``: PostgreSQL sends step 1 and these
     reads in one round trip);
  3. for each request, in arrival order: refuses a claimed idempotency key
     (``IdempotencyKeyUsedError``: logged before, or earlier in this batch), else
     computes the prior total (database total plus the amounts of the batch's
     earlier records in the same window, kept in memory, so a later request sees
     an earlier one's record; a subject counts by its latest record only, and
     never towards its own query) and calls ``decide``;
  4. checks the new decision ids against the log (one query for the whole batch;
     sooner, and only then, if a later request's prior total would include a record
     not yet checked; not for ids the caller minted for the request, ``fresh_id``:
     the API's, so its groups skip that round trip, which on PostgreSQL was a third
     of a group's time), seals the accepted drafts onto the chain in arrival order,
     inserts them in bulk and commits once (``write``; SQLite: one executemany,
     PostgreSQL: INSERTs pipelined with the COMMIT, or one COPY for a large batch);
  5. resolves the futures.

A batch of the API (``submit_many``) is queued as one entry with one future: its
requests join one transaction together, in order, however many they are (the
writer's ``max_batch`` never splits them), and its future resolves to each
request's outcome, so 10,000 decisions cost one commit and one wait.

A ``decide`` that raises, returns something the log can't store, or repeats a
logged decision id only fails its own caller: its draft never enters the chain or
the running totals (a ``fresh_id`` that repeats one after all is refused by the
unique index: the whole batch fails).  A database error fails the whole batch.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, NamedTuple

from .errors import (
    DuplicateDecisionError,
    IdempotencyKeyUsedError,
    StoreClosedError,
    StoreError,
    UnstorableValueError,
    WriteFailedError,
)
from .record import DecisionRecord, DraftRecord, link, storable_bytes

if TYPE_CHECKING:
    from .base import AggregateQuery, IdempotencyClaim

Decide = Callable[[float], DraftRecord]


class PriorTotal(NamedTuple):
    """A window's logged total: records without a subject summed, and each
    subject's latest record where it lies in the window (subject -> amount)."""

    plain: float
    by_subject: dict[str, float]


class BatchStart(NamedTuple):
    """What a batch's transaction reads first, under the chain lock."""

    seq: int  # the tip: last seq, 0 for an empty log
    tip: str  # its record_hash (GENESIS_HASH for an empty log)
    totals: list[PriorTotal]  # one per query, in order
    claimed: dict[str, tuple[str, str | None]]  # logged idempotency keys


class AppendSession(ABC):
    """The writer thread's connection: one transaction at a time, never shared."""

    @abstractmethod
    def begin(self) -> tuple[int, str]:
        """Start a transaction holding the chain lock; return the tip (seq, record_hash).

        An empty log has tip ``(0, GENESIS_HASH)``.
        """

    @abstractmethod
    def prior_totals(self, queries: Sequence[AggregateQuery]) -> list[PriorTotal]:
        """Each query's window total inside the current transaction (the query's
        own subject is left to the caller, which sees it in ``by_subject``)."""

    @abstractmethod
    def existing_ids(self, decision_ids: Sequence[str]) -> set[str]:
        """Those of ``decision_ids`` already in the log."""

    @abstractmethod
    def existing_keys(self, keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """Those of the idempotency ``keys`` already logged: key -> (decision_id,
        request_hash)."""

    @abstractmethod
    def insert_many(self, first_seq: int, records: Sequence[DecisionRecord]) -> None:
        """Insert ``records`` at first_seq, first_seq + 1, ...; any conflict raises."""

    @abstractmethod
    def commit(self) -> None: ...

    def open_batch(self, queries: Sequence[AggregateQuery],
                   keys: Sequence[str]) -> BatchStart:
        """``begin``, then ``prior_totals(queries)`` and ``existing_keys(keys)`` (when
        there are any).  A dialect whose every statement is a round trip to a server
        overrides it to send them all at once."""
        seq, tip = self.begin()
        totals = self.prior_totals(queries) if queries else []
        claimed = self.existing_keys(keys) if keys else {}
        return BatchStart(seq, tip, totals, claimed)

    def write(self, first_seq: int, records: Sequence[DecisionRecord]) -> None:
        """``insert_many`` then ``commit``: the records are durable when it returns."""
        self.insert_many(first_seq, records)
        self.commit()

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
    # Wall time the writer thread spent writing groups (deciding A10 requests,
    # sealing, inserting, committing): its busy share is this over elapsed time.
    busy_seconds: float = 0.0


class LogRequest(NamedTuple):
    """One decision of a ``submit_many``: what ``submit`` takes."""

    aggregate: AggregateQuery | None
    decide: Decide
    claim: IdempotencyClaim | None = None
    fresh_id: bool = False


Outcome = DecisionRecord | BaseException


class _Bulk:
    """The requests of one ``submit_many``: one future for all their outcomes, set
    once the last is settled (by the writer thread only)."""

    __slots__ = ("future", "outcomes", "requests", "waiting")

    def __init__(self, count: int) -> None:
        self.future: Future[list[Outcome]] = Future()
        self.outcomes: list[Outcome | None] = [None] * count
        self.requests: list[_Request] = []
        self.waiting = count

    def settle(self, index: int, outcome: Outcome) -> None:
        self.outcomes[index] = outcome
        self.waiting -= 1
        if self.waiting == 0:
            self.future.set_result([_done(o) for o in self.outcomes])


class _Slot:
    """Stands in for a request's own future inside a ``_Bulk``."""

    __slots__ = ("bulk", "index")

    def __init__(self, bulk: _Bulk, index: int) -> None:
        self.bulk, self.index = bulk, index

    def set_result(self, record: DecisionRecord) -> None:
        self.bulk.settle(self.index, record)

    def set_exception(self, error: BaseException) -> None:
        self.bulk.settle(self.index, error)


def _done(outcome: Outcome | None) -> Outcome:
    assert outcome is not None  # every request got a record or an error
    return outcome


@dataclass(slots=True)
class _Request:
    aggregate: AggregateQuery | None
    decide: Decide
    future: Future[DecisionRecord] | _Slot
    claim: IdempotencyClaim | None = None
    # The draft's decision id was minted for this request (``submit``'s fresh_id):
    # not looked up in the log, which is a round trip per group commit.
    fresh_id: bool = False


def _requests(entry: _Request | _Bulk) -> list[_Request]:
    return entry.requests if isinstance(entry, _Bulk) else [entry]


class GroupCommitWriter:
    """Owns the writer thread and the queue of pending requests."""

    def __init__(
        self, session_factory: Callable[[], AppendSession], *, max_batch: int, name: str
    ) -> None:
        self._session_factory = session_factory
        self._session: AppendSession | None = None
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Request | _Bulk | None] = queue.SimpleQueue()
        # Guards _closed together with the enqueue, so no request can land behind
        # the stop sentinel and wait forever.
        self._lock = threading.Lock()
        self._closed = False
        self._commits = 0
        self._records = 0
        self._failed_batches = 0
        self._largest_batch = 0
        self._busy_seconds = 0.0
        # The failure of the last batch written, None once one commits again.
        self.write_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- caller side ---------------------------------------------------------

    def submit(self, aggregate: AggregateQuery | None, decide: Decide,
               claim: IdempotencyClaim | None = None,
               fresh_id: bool = False) -> Future[DecisionRecord]:
        """Queue a request; the future resolves once its record is committed.

        Raises at once (nothing queued) if the store is closed, if called from inside
        a ``decide`` or if the aggregate query can't be run.
        """
        if threading.current_thread() is self._thread:
            # decide() runs on the writer thread; waiting on it from there deadlocks.
            raise StoreError("log_decision must not be called from inside decide()")
        if aggregate is not None:
            _check_query(aggregate)
        future: Future[DecisionRecord] = Future()
        with self._lock:
            if self._closed:
                raise StoreClosedError("the decision store is closed")
            self._queue.put(_Request(aggregate, decide, future, claim, fresh_id))
        return future

    def submit_many(self, requests: Sequence[LogRequest]) -> Future[list[Outcome]]:
        """Queue ``requests`` to be written in one transaction, in order.

        The one future resolves, once that transaction has committed (or failed),
        to each request's outcome: its record, or the exception ``submit``'s future
        would raise for it (a query the log can't run fails its own request only);
        the future itself never raises. Raises at once, nothing queued, if the
        store is closed or if called from inside a ``decide``.
        """
        if threading.current_thread() is self._thread:
            raise StoreError("log_decision must not be called from inside decide()")
        bulk = _Bulk(len(requests))
        for index, (aggregate, decide, claim, fresh_id) in enumerate(requests):
            slot = _Slot(bulk, index)
            if aggregate is not None:
                try:
                    _check_query(aggregate)
                except (UnstorableValueError, TypeError) as exc:
                    slot.set_exception(exc)
                    continue
            bulk.requests.append(_Request(aggregate, decide, slot, claim, fresh_id))
        if bulk.requests:
            with self._lock:
                if self._closed:
                    raise StoreClosedError("the decision store is closed")
                self._queue.put(bulk)
        elif not requests:
            bulk.future.set_result([])
        return bulk.future

    @property
    def pending(self) -> int:
        """Requests waiting for the writer (not counting the batch being written)."""
        return self._queue.qsize()

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> WriteStats:
        return WriteStats(self._commits, self._records, self._failed_batches, self._largest_batch,
                          self._busy_seconds)

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
                batch = list(_requests(first))
                while len(batch) < self._max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stopping = True
                        break
                    batch.extend(_requests(item))
                started = time.perf_counter()
                self._write_batch(batch)
                self._busy_seconds += time.perf_counter() - started
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
            for request in _requests(item) if item is not None else ():
                request.future.set_exception(StoreClosedError("the decision store is closed"))

    def _write_batch(self, batch: list[_Request]) -> None:
        self._largest_batch = max(self._largest_batch, len(batch))
        outcomes: list[Outcome | None] = [None] * len(batch)
        # One query per window: requests differing only in their subject share it.
        by_window = {_window(r.aggregate): r.aggregate for r in reversed(batch)
                     if r.aggregate is not None}
        keys = [r.claim.key for r in batch if r.claim is not None]
        try:
            session, start = self._begin(list(by_window.values()), keys)
            totals = dict(zip(by_window, start.totals, strict=True))
            accepted = _Batch(session, batch, outcomes, totals, start.claimed).decide_all()
            records: list[DecisionRecord] = []
            tip = start.tip
            for index, (draft, canonical) in accepted.items():  # arrival order
                record = link(draft, tip, canonical)
                tip = record.record_hash
                outcomes[index] = record
                records.append(record)
            if records:
                session.write(start.seq + 1, records)
                self._commits += 1
                self._records += len(records)
                self.write_error = None  # writes work again: ready
            else:
                session.rollback()  # only releases the lock; nothing to make durable
        except BaseException as exc:  # never let the writer thread die with callers waiting
            self._failed_batches += 1
            self.write_error = exc  # not ready until a write succeeds
            self._discard_session()  # may be broken; the next batch reconnects
            for request, own in zip(batch, outcomes, strict=True):
                if isinstance(own, BaseException):
                    request.future.set_exception(own)  # its decide() failed anyway
                else:
                    failure = WriteFailedError(f"decision log write failed: {exc!r}")
                    failure.__cause__ = exc
                    request.future.set_exception(failure)
            return
        for request, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, DecisionRecord):
                request.future.set_result(outcome)
            else:
                assert outcome is not None  # every request got a record or an error
                request.future.set_exception(outcome)

    def _begin(self, queries: list[AggregateQuery],
               keys: list[str]) -> tuple[AppendSession, BatchStart]:
        """Begin a batch transaction, reconnecting once if the kept connection went stale.

        Retrying here is safe: no decide() has run and nothing was written yet.  A
        PostgreSQL restart or idle-connection timeout then costs no caller an error.
        """
        if self._session is not None:
            try:
                return self._session, self._session.open_batch(queries, keys)
            except Exception:
                self._discard_session()
        self._session = self._session_factory()
        return self._session, self._session.open_batch(queries, keys)

    def _discard_session(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        # A broken connection is being thrown away: errors here add nothing.
        with contextlib.suppress(Exception):
            session.rollback()
        with contextlib.suppress(Exception):
            session.close()


def _check_query(query: AggregateQuery) -> None:
    """Refuse, before it is queued, a query that would fail the batch's total read."""
    key = query.key
    if not isinstance(key, str):
        raise UnstorableValueError(f"aggregate key must be a string, not {type(key)!r}")
    if "\x00" in key:
        raise UnstorableValueError(
            "aggregate key contains a NUL character (U+0000), which the decision log "
            "cannot store (PostgreSQL text cannot hold it)"
        )
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnstorableValueError(f"aggregate key is not valid text: {exc}") from None
    for bound in (query.since, query.until):
        if isinstance(bound, datetime) or not isinstance(bound, date):
            raise TypeError("aggregate since and until must be datetime.date values")
    if query.subject is not None and not isinstance(query.subject, str):
        raise UnstorableValueError(
            f"aggregate subject must be a string, not {type(query.subject)!r}")


Window = tuple[str, date, date]


def _window(query: AggregateQuery) -> Window:
    return query.key, query.since, query.until


class _Batch:
    """Steps 3-4 of a batch (the totals and claims read in step 2 given): decide()
    calls, duplicate checks.

    ``decide_all`` fills ``outcomes`` with each failed request's exception and
    returns the accepted requests (index -> draft and its canonical bytes) in
    arrival order, every one checked against the log.
    """

    def __init__(
        self, session: AppendSession, batch: list[_Request], outcomes: list[Outcome | None],
        totals: dict[Window, PriorTotal], claimed: dict[str, tuple[str, str | None]],
    ) -> None:
        self._session = session
        self._batch = batch
        self._outcomes = outcomes
        self._accepted: dict[int, tuple[DraftRecord, bytes]] = {}
        self._ids: set[str] = set()
        self._totals = totals
        # Accepted drafts without a subject: agg_key -> decision_date -> amount.
        self._running: dict[str, dict[date, float]] = {}
        # Accepted drafts with a subject, the latest per subject: (agg_key, date, amount);
        # and the same by agg_key, so a prior total looks at its own key's subjects only
        # (a batch of submit_many can hold thousands of deals).
        self._latest: dict[str, tuple[str | None, date, float | None]] = {}
        self._latest_by_key: dict[str | None, dict[str, tuple[date, float | None]]] = {}
        # Idempotency keys logged before the batch, or claimed by an accepted draft.
        self._claimed = claimed
        # Accepted but not yet checked against the log, their agg_keys and subjects.
        self._unchecked: list[int] = []
        self._unchecked_keys: set[str] = set()
        self._unchecked_subjects: set[str] = set()

    def decide_all(self) -> dict[int, tuple[DraftRecord, bytes]]:
        for index, request in enumerate(self._batch):
            if request.claim is not None and request.claim.key in self._claimed:
                decision_id, request_hash = self._claimed[request.claim.key]
                self._outcomes[index] = IdempotencyKeyUsedError(
                    request.claim.key, decision_id,
                    same_request=request_hash == request.claim.request_hash)
                continue
            query = request.aggregate
            prior = 0.0
            if query is not None:
                if self._affected_by_unchecked(query):
                    # An unchecked draft may count in this prior: if it duplicates a
                    # logged id it must not, so settle that first.
                    self._check_ids()
                prior = self._prior(query)
            self._decide(index, request, prior)
        self._check_ids()
        return self._accepted

    def _affected_by_unchecked(self, query: AggregateQuery) -> bool:
        if query.key in self._unchecked_keys:
            return True
        logged = self._totals[_window(query)].by_subject
        unchecked = self._unchecked_subjects
        if len(unchecked) <= len(logged):  # whichever is smaller is walked
            return any(subject in logged for subject in unchecked)
        return any(subject in unchecked for subject in logged)

    def _prior(self, query: AggregateQuery) -> float:
        """The logged total, minus the subjects decided again in this batch and the
        query's own subject, plus this batch's earlier drafts in the window."""
        logged = self._totals[_window(query)]
        total = logged.plain + sum(
            amount for subject, amount in logged.by_subject.items()
            if subject != query.subject and subject not in self._latest)
        by_date = self._running.get(query.key) or {}
        total += sum(amount for day, amount in by_date.items()
                     if query.since <= day <= query.until)
        total += sum(
            amount for subject, (day, amount) in self._latest_by_key.get(query.key, {}).items()
            if subject != query.subject and amount is not None
            and query.since <= day <= query.until)
        return total

    def _decide(self, index: int, request: _Request, prior: float) -> None:
        try:
            draft = request.decide(prior)
            if not isinstance(draft, DraftRecord):
                raise TypeError(f"decide() must return a DraftRecord, got {type(draft)!r}")
            canonical = storable_bytes(draft)
        except BaseException as exc:  # whatever decide raises belongs to its caller
            self._outcomes[index] = exc
            return
        if draft.decision_id in self._ids:
            self._outcomes[index] = _duplicate(draft)
            return
        self._ids.add(draft.decision_id)
        self._accepted[index] = (draft, canonical)
        self._add_running(draft)
        if request.fresh_id:
            return  # cannot be logged already: nothing to check against the log
        self._unchecked.append(index)
        if draft.agg_key is not None:
            self._unchecked_keys.add(draft.agg_key)
        if draft.agg_subject is not None:
            self._unchecked_subjects.add(draft.agg_subject)

    def _add_running(self, draft: DraftRecord) -> None:
        if draft.idempotency_key is not None:
            self._claimed[draft.idempotency_key] = (draft.decision_id, draft.request_hash)
        if draft.agg_subject is not None:
            subject, key = draft.agg_subject, draft.agg_key
            earlier = self._latest.get(subject)
            if earlier is not None:  # decided again: only its latest draft counts
                del self._latest_by_key[earlier[0]][subject]
            self._latest[subject] = (key, draft.decision_date, draft.agg_amount)
            self._latest_by_key.setdefault(key, {})[subject] = (draft.decision_date,
                                                                 draft.agg_amount)
        elif draft.agg_key is not None and draft.agg_amount is not None:
            by_date = self._running.setdefault(draft.agg_key, {})
            by_date[draft.decision_date] = by_date.get(draft.decision_date, 0.0) \
                + draft.agg_amount

    def _check_ids(self) -> None:
        if not self._unchecked:
            return
        unchecked = self._unchecked
        self._unchecked, self._unchecked_keys, self._unchecked_subjects = [], set(), set()
        logged = self._session.existing_ids(
            [self._accepted[i][0].decision_id for i in unchecked]
        )
        if not logged:
            return
        for index in unchecked:
            draft = self._accepted[index][0]
            if draft.decision_id in logged:
                del self._accepted[index]
                self._outcomes[index] = _duplicate(draft)
                if draft.idempotency_key is not None:
                    self._claimed.pop(draft.idempotency_key, None)
        self._running, self._latest, self._latest_by_key = {}, {}, {}
        for draft, _ in self._accepted.values():
            self._add_running(draft)


def _duplicate(draft: DraftRecord) -> DuplicateDecisionError:
    return DuplicateDecisionError(f"decision {draft.decision_id} is already logged")
