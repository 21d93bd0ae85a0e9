"""The DecisionStore contract, shared by the SQLite and PostgreSQL stores.

Everything that does not depend on the database lives here: the group-commit
writer (see ``writer.py``), paging through the log in chain order, and chain
verification.  A dialect supplies an ``AppendSession`` for the writer thread and a
few read queries.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Literal, NamedTuple, Self

import orjson

from .checkpoints import Checkpoint
from .errors import StoreClosedError, StoreError
from .record import GENESIS_HASH, RECORD_FIELDS, DecisionRecord, DraftRecord, chain_hash
from .writer import (
    AppendSession,
    Decide,
    GroupCommitWriter,
    LogRequest,
    Outcome,
    PriorTotal,
    WriteStats,
)

__all__ = [
    "AggregateQuery",
    "AppendSession",
    "ChainProblem",
    "Decide",
    "DecisionStore",
    "IdempotencyClaim",
    "StoredRow",
    "WriteStats",
]

_PAGE_SIZE = 500


@dataclass(frozen=True)
class AggregateQuery:
    """Sum of agg_amount where ``agg_key == key`` and ``since <= decision_date <= until``.

    A record with an ``agg_subject`` counts only while it is the latest record of
    its subject, and never towards a query of the same ``subject``: a deal decided
    again replaces its earlier decision and is never counted against itself.
    """

    key: str
    since: date
    until: date
    subject: str | None = None


@dataclass(frozen=True)
class IdempotencyClaim:
    """A request's ``idempotency_key`` and the digest of the request that carried it.

    The writer checks the claim under the chain lock: a key already logged (or
    claimed earlier in the same group commit) makes the request fail with
    ``IdempotencyKeyUsedError`` instead of deciding again.
    """

    key: str
    request_hash: str


@dataclass(frozen=True)
class ChainProblem:
    """One defect found by ``verify_chain``."""

    decision_id: str
    seq: int
    kind: Literal["hash_mismatch", "broken_link", "unreadable", "truncated", "rechained"]
    detail: str


class StoredRow(NamedTuple):
    """A row as read for paging; ``record`` is None when the row can't be decoded."""

    seq: int
    decision_id: str
    prev_hash: str
    record_hash: str
    record: DecisionRecord | None
    error: str | None


# The columns every store selects and inserts, in this order: seq, then the
# record's fields as ``RECORD_FIELDS`` defines them.
COLUMN_NAMES = ("seq", *(f.name for f in RECORD_FIELDS))
COLUMNS = ", ".join(COLUMN_NAMES)


def stored_row(values: tuple[Any, ...],
               decoders: Mapping[str, Callable[[Any], Any]] | None = None) -> StoredRow:
    """(seq, *RECORD_FIELDS) as a StoredRow; ``decoders`` by column kind, for the
    kinds the database does not return as Python values already."""
    named = dict(zip(COLUMN_NAMES, values, strict=True))
    seq, decision_id = named.pop("seq"), named["decision_id"]
    prev_hash, record_hash = named["prev_hash"], named["record_hash"]
    decoders = decoders or {}
    try:
        for spec in RECORD_FIELDS:
            decode = decoders.get(spec.kind)
            if decode is not None and named[spec.name] is not None:
                named[spec.name] = decode(named[spec.name])
        record = DecisionRecord(**named)
    except (ValueError, TypeError) as exc:  # orjson.JSONDecodeError is a ValueError
        return StoredRow(seq, decision_id, prev_hash, record_hash, None, repr(exc))
    return StoredRow(seq, decision_id, prev_hash, record_hash, record, None)


def readable(row: StoredRow) -> DecisionRecord:
    """The row's record; ``StoreError`` if it can't be decoded."""
    if row.record is None:
        raise StoreError(f"record {row.decision_id} is unreadable: {row.error}")
    return row.record


def row_values(seq: int, record: DecisionRecord,
               encoders: Mapping[str, Callable[[Any], Any]]) -> tuple[Any, ...]:
    """The row to insert for ``record`` at ``seq``, in ``COLUMN_NAMES`` order;
    ``encoders`` by column kind (a None stays None)."""
    values = vars(record)
    row: list[Any] = [seq]
    for spec in RECORD_FIELDS:
        value = values[spec.name]
        encode = encoders.get(spec.kind)
        row.append(encode(value) if encode is not None and value is not None else value)
    return tuple(row)


class DecisionStore(ABC):
    """Append-only, hash-chained decision log.

    Thread-safe: any thread may call any method.  ``log_decision`` blocks until the
    record is durably committed; ``submit`` returns a future for it instead.  Call
    ``close()`` (or use ``with``) at shutdown.
    """

    def __init__(
        self, session_factory: Callable[[], AppendSession], *, max_batch: int = 512
    ) -> None:
        self._writer = GroupCommitWriter(
            session_factory, max_batch=max_batch, name=f"{type(self).__name__}-writer"
        )

    # -- writing -------------------------------------------------------------

    def submit(self, aggregate: AggregateQuery | None, decide: Decide,
               claim: IdempotencyClaim | None = None,
               fresh_id: bool = False) -> Future[DecisionRecord]:
        """Queue a decision for the log without waiting; ``log_decision`` is
        ``submit(...).result()``.

        The future resolves to the committed record once its group commit has
        landed, or to the exception ``log_decision`` would raise.  Raises at once
        (nothing queued) ``StoreClosedError`` after ``close()``, ``StoreError`` from
        inside a ``decide``, and ``UnstorableValueError`` (or ``TypeError``) for an
        aggregate query the log can't run.  Submitting many requests before waiting
        on any lets the writer commit them in groups.  With a ``claim``, a key
        already logged resolves the future to ``IdempotencyKeyUsedError`` (naming the
        logged decision) and ``decide`` is not called.

        ``fresh_id``: the caller minted the draft's decision id for this request
        (122 random bits, as the API's ``new_id``), so the writer does not look it
        up in the log, one round trip less per group commit. Should it be logged
        after all, the log's unique index refuses the insert and its whole group
        fails (``WriteFailedError``) instead of this request alone
        (``DuplicateDecisionError``).
        """
        return self._writer.submit(aggregate, decide, claim, fresh_id)

    def submit_many(self, requests: Sequence[LogRequest]) -> Future[list[Outcome]]:
        """Queue many decisions as one: written in one transaction, in order, with
        one future resolving to each request's record or exception (what
        ``submit``'s future would give it); the future itself never raises.

        For a batch of the API: one queue entry, one commit and one wait, however
        many decisions, where ``submit`` per decision would cost a future each and
        split the batch into the writer's groups. Raises at once, nothing queued,
        ``StoreClosedError`` after ``close()`` and ``StoreError`` from inside a
        ``decide``.
        """
        return self._writer.submit_many(requests)

    def log_decision(
        self, aggregate: AggregateQuery | None, decide: Callable[[float], DraftRecord]
    ) -> DecisionRecord:
        """Atomically: read the prior total for ``aggregate``, call ``decide(prior)``,
        append its draft to the chain and commit.  Returns the committed record.

        ``decide`` runs on the writer thread while the chain lock is held (across
        processes too), so it must be quick, must not block on I/O and must not
        call back into the store.  The prior total includes the records committed
        before and those of the same group commit that were decided before this one.
        If ``decide`` raises, nothing is written and the same exception is raised
        here.  Raises ``DuplicateDecisionError`` if the id is already logged,
        ``UnstorableValueError`` if the draft or query holds a value the log can't
        store (a NUL character, say) and ``WriteFailedError`` if the database failed.
        """
        return self.submit(aggregate, decide).result()

    def ping(self) -> None:
        """Cheap readiness probe: raise ``StoreError`` unless the database answers.

        A closed store is not ready either (``StoreClosedError``), nor one whose last
        group commit failed, until a write succeeds again.
        """
        if self._writer.closed:
            raise StoreClosedError("the decision store is closed")
        failure = self._writer.write_error
        if failure is not None:
            raise StoreError(f"the last write to the decision log failed: {failure!r}")
        self._ping()

    @abstractmethod
    def _ping(self) -> None:
        """One trivial round trip on a reader connection."""

    @property
    def pending_writes(self) -> int:
        """Requests queued for the writer thread right now (a gauge for metrics)."""
        return self._writer.pending

    def stats(self) -> WriteStats:
        return self._writer.stats()

    # -- reading -------------------------------------------------------------

    @abstractmethod
    def get(self, decision_id: str) -> DecisionRecord | None:
        """The record with this id, or None."""

    def prior_total(self, query: AggregateQuery) -> float:
        """The total ``query`` would see if it were logged now, read outside the
        chain lock (a what-if: nothing is written, and a decision committed at the
        same moment may or may not be in it)."""
        (logged,) = self._read_prior_totals([query])
        return logged.plain + sum(amount for subject, amount in logged.by_subject.items()
                                  if subject != query.subject)

    @abstractmethod
    def _read_prior_totals(self, queries: Sequence[AggregateQuery]) -> list[PriorTotal]:
        """``AppendSession.prior_totals`` on a reader connection."""

    @abstractmethod
    def get_by_keys(self, keys: Sequence[str]) -> dict[str, DecisionRecord]:
        """The records logged with these idempotency keys, by key."""

    @abstractmethod
    def count(self) -> int:
        """Number of records in the log."""

    @abstractmethod
    def _fetch_page(
        self, after_seq: int, limit: int, since: datetime | None, policy: str | None
    ) -> list[StoredRow]:
        """Up to ``limit`` rows with seq > after_seq matching the filters, by seq."""

    def _rows(self, since: datetime | None, policy: str | None) -> Iterator[StoredRow]:
        # Keyset paging: no cursor or connection is held while the caller iterates,
        # so an abandoned iterator leaks nothing.  The log is append-only, so paging
        # by seq never skips or repeats a row.
        after = 0
        while True:
            page = self._fetch_page(after, _PAGE_SIZE, since, policy)
            yield from page
            if len(page) < _PAGE_SIZE:
                return
            after = page[-1].seq

    def iter_records(
        self, since: datetime | None = None, policy: str | None = None
    ) -> Iterator[DecisionRecord]:
        """Records in chain order, optionally only ``decided_at >= since`` and one policy."""
        if since is not None and since.utcoffset() is None:
            raise ValueError("since must be a timezone-aware datetime")
        for row in self._rows(since, policy):
            if row.record is None:
                raise StoreError(f"record {row.decision_id} is unreadable: {row.error}")
            yield row.record

    # -- shadows: candidates' decisions, written after their decision, outside the chain

    @abstractmethod
    def record_shadows(self, shadows: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Attach each shadow result to the decision with that id (one transaction)."""

    @abstractmethod
    def shadows_of(self, decision_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The shadow results of those decisions that have one, by decision id."""

    def iter_shadowed(
        self, since: datetime | None = None, policy: str | None = None
    ) -> Iterator[tuple[DecisionRecord, dict[str, Any]]]:
        """Each logged decision that has a shadow result, with it, in chain order."""
        page: list[DecisionRecord] = []
        for record in self.iter_records(since, policy):
            page.append(record)
            if len(page) == _PAGE_SIZE:
                yield from self._with_shadows(page)
                page = []
        yield from self._with_shadows(page)

    def _with_shadows(
        self, records: list[DecisionRecord]
    ) -> Iterator[tuple[DecisionRecord, dict[str, Any]]]:
        found = self.shadows_of([r.decision_id for r in records]) if records else {}
        for record in records:
            if record.decision_id in found:
                yield record, found[record.decision_id]

    def verify_chain(self) -> list[ChainProblem]:
        """Recompute every hash and link; an empty list means the log is intact.

        A row edited in place shows as ``hash_mismatch`` on that row; a row whose
        hash was recomputed too, or a deleted row, shows as ``broken_link`` on the
        row after it.
        """
        problems: list[ChainProblem] = []
        expected_prev = GENESIS_HASH
        for row in self._rows(None, None):
            if row.prev_hash != expected_prev:
                problems.append(
                    ChainProblem(
                        row.decision_id,
                        row.seq,
                        "broken_link",
                        f"prev_hash {row.prev_hash} != previous record_hash {expected_prev}",
                    )
                )
            if row.record is None:
                problems.append(
                    ChainProblem(row.decision_id, row.seq, "unreadable", row.error or "unreadable")
                )
            else:
                actual = chain_hash(row.prev_hash, row.record)
                if actual != row.record_hash:
                    problems.append(
                        ChainProblem(
                            row.decision_id,
                            row.seq,
                            "hash_mismatch",
                            f"stored {row.record_hash}, content hashes to {actual}",
                        )
                    )
            expected_prev = row.record_hash
        return problems

    def head(self) -> tuple[int, str]:
        """(seq, record_hash) of the newest record; (0, GENESIS_HASH) for an empty log."""
        tip = self._tip()
        return (0, GENESIS_HASH) if tip is None else tip

    @abstractmethod
    def _tip(self) -> tuple[int, str] | None: ...

    def verify_checkpoint(self, checkpoint: Checkpoint) -> list[ChainProblem]:
        """Does the log still hold the head a signed checkpoint saw? A log cut short
        is ``truncated``; another record at that position means the chain up to it was
        rewritten (``rechained``), however consistent the rewritten chain is."""
        if checkpoint.seq == 0:
            return []
        when = checkpoint.signed_at.isoformat()
        rows = self._fetch_page(checkpoint.seq - 1, 1, None, None)
        if not rows or rows[0].seq != checkpoint.seq:
            last = self.head()[0]
            return [ChainProblem("", checkpoint.seq, "truncated",
                                 f"the checkpoint of {when} covers records 1 to "
                                 f"{checkpoint.seq}; the log ends at record {last}: "
                                 f"records {last + 1} to {checkpoint.seq} are missing")]
        if rows[0].record_hash != checkpoint.record_hash:
            return [ChainProblem(rows[0].decision_id, checkpoint.seq, "rechained",
                                 f"the checkpoint of {when} signed record {checkpoint.seq} as "
                                 f"{checkpoint.record_hash}; the log now has "
                                 f"{rows[0].record_hash}: records 1 to {checkpoint.seq} "
                                 "were rewritten")]
        return []

    # -- policy bundles --------------------------------------------------------

    def save_bundle(self, bundle_hash: str, texts: Mapping[str, str]) -> None:
        """Keep the policy texts behind ``bundle_hash`` (once; saving again does nothing).

        A bundle already kept costs a read, not a write: a log that can no longer be
        written to still starts, and its decisions — not its start — answer 503.
        """
        if self._get_bundle(bundle_hash) is not None:
            return
        payload = orjson.dumps(dict(sorted(texts.items()))).decode()
        self._save_bundle(bundle_hash, payload, datetime.now(UTC))

    def get_bundle(self, bundle_hash: str) -> dict[str, str] | None:
        """The policy texts logged under ``bundle_hash``, or None."""
        payload = self._get_bundle(bundle_hash)
        if payload is None:
            return None
        texts = orjson.loads(payload) if isinstance(payload, str | bytes) else payload
        if not isinstance(texts, dict):
            raise StoreError(f"bundle {bundle_hash} is unreadable")
        return {str(k): str(v) for k, v in texts.items()}

    @abstractmethod
    def _save_bundle(self, bundle_hash: str, payload: str, stored_at: datetime) -> None: ...

    @abstractmethod
    def _get_bundle(self, bundle_hash: str) -> Any: ...

    # -- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        """Finish every write already submitted, stop the writer, close connections.

        Idempotent.  ``log_decision`` afterwards raises ``StoreClosedError``.
        """
        self._writer.close()
        self._close_readers()

    @abstractmethod
    def _close_readers(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
