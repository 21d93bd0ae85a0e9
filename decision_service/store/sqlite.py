"""The embedded decision log: one SQLite file in WAL mode.

Durability: ``synchronous=FULL`` (the default) makes every COMMIT fsync the WAL, so
a record is on disk before ``log_decision`` returns (kill -9 or power loss after
that keeps it).  ``synchronous="normal"`` (``?synchronous=normal`` in the URL) is an
explicit, weaker choice: COMMIT writes the WAL without an fsync, so an acknowledged
record survives the process being killed but not the machine losing power or the
kernel crashing before the next checkpoint; it takes the disk's fsync out of every
answer's latency (bench/load.py measures both).

Checkpoints (copying the WAL into the database file, then fsyncing that file) run
in a thread of their own, not inside the writer's COMMIT: SQLite's automatic
checkpoint would make one group commit in every few hundred wait for a whole
checkpoint and its fsync (bench/load.py).  The writer keeps an automatic checkpoint
at a much larger WAL size only as a backstop, should the checkpoint thread fall
behind.  A checkpoint never makes a record less durable: the records are already
synced in the WAL, and the WAL is only reused once the database file is synced.
Several processes may share the file: appends take SQLite's write lock with
``BEGIN IMMEDIATE`` (waiting up to ``busy_timeout``), which serialises the chain
and the prior-total reads across processes the same way threads are serialised.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from . import migrate
from .base import (
    COLUMN_NAMES,
    COLUMNS,
    AggregateQuery,
    AppendSession,
    DecisionStore,
    StoredRow,
    readable,
    row_values,
    stored_row,
)
from .errors import StoreError
from .pool import DEFAULT_MAX_SIZE, ConnectionPool
from .record import DATE, GENESIS_HASH, JSON, TIMESTAMP, DecisionRecord
from .writer import PriorTotal

# No ON CONFLICT: the writer has checked the ids under the write lock, so a
# conflict is a bug and must fail the batch rather than leave a gap in the chain.
_INSERT = f"INSERT INTO decisions ({COLUMNS}) VALUES ({', '.join('?' * len(COLUMN_NAMES))})"
# Every aggregate of a batch in one statement: the queries go in as one JSON array
# of [key, since, until]; the join is a range search on the partial index
# ix_decisions_agg (agg_key, decision_date).  A record of a subject counts only
# while no later record of that subject exists (ix_decisions_subject); its
# amount comes back per subject, so the writer can leave out the query's own.
_PRIOR_TOTALS = (
    "SELECT q.key, d.agg_subject, SUM(d.agg_amount) FROM json_each(?) AS q "
    "JOIN decisions d ON d.agg_key = json_extract(q.value, '$[0]') "
    "AND d.decision_date BETWEEN json_extract(q.value, '$[1]') AND json_extract(q.value, '$[2]') "
    "WHERE d.agg_subject IS NULL OR NOT EXISTS (SELECT 1 FROM decisions e "
    "WHERE e.agg_subject = d.agg_subject AND e.seq > d.seq) "
    "GROUP BY q.key, d.agg_subject"
)
# The durability levels offered (see the module docstring): full is the default.
SYNCHRONOUS = ("full", "normal")
# Well below SQLITE_MAX_VARIABLE_NUMBER (999 before SQLite 3.32).
_IDS_PER_QUERY = 500
# How often the writer tries again for a write lock another process holds.  SQLite's
# own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, ... ms between tries, so a writer
# slept on for up to tens of ms after the other process's commit had ended: with
# two workers, the tail of every answer (bench/load.py).
_LOCK_POLL = 0.0005
# The checkpoint thread runs at most this often, and only after commits.
_CHECKPOINT_INTERVAL = 0.5
# WAL pages after which the writer's own COMMIT checkpoints (SQLite's default is
# 1000): only reached if the checkpoint thread cannot keep up.
_BACKSTOP_CHECKPOINT_PAGES = 20_000


def _timestamp(value: datetime) -> str:
    # Fixed width with microseconds, always UTC: text order == time order.
    return value.astimezone(UTC).isoformat(timespec="microseconds")


# By column kind: SQLite keeps timestamps, dates and JSON as text.
_DECODERS = {TIMESTAMP: datetime.fromisoformat, DATE: date.fromisoformat, JSON: orjson.loads}
_ENCODERS: dict[str, Callable[[Any], Any]] = {
    TIMESTAMP: _timestamp,
    DATE: date.isoformat,
    JSON: lambda value: orjson.dumps(value).decode(),
}


def _row(values: tuple[Any, ...]) -> StoredRow:
    return stored_row(values, _DECODERS)


def _prior_totals(conn: sqlite3.Connection,
                  queries: Sequence[AggregateQuery]) -> list[PriorTotal]:
    if not queries:
        return []
    spec = orjson.dumps([(q.key, q.since, q.until) for q in queries]).decode()
    totals = [PriorTotal(0.0, {}) for _ in queries]
    for index, subject, total in conn.execute(_PRIOR_TOTALS, (spec,)):
        if subject is None:
            totals[index] = totals[index]._replace(plain=float(total))
        else:
            totals[index].by_subject[subject] = float(total)
    return totals


class _Checkpointer:
    """Checkpoints the WAL from its own thread and connection, after commits.

    PASSIVE: it copies what no reader still needs and never waits for, nor blocks,
    the writer.  A failed checkpoint is tried again after the next commits; the
    writer's backstop checkpoint keeps the WAL bounded meanwhile.  The connection is
    opened here, at once, so that it can never create a new file where the log was
    removed.
    """

    def __init__(self, conn: sqlite3.Connection, name: str) -> None:
        self._conn = conn
        self._committed = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def committed(self) -> None:
        self._committed.set()

    def _run(self) -> None:
        while True:
            self._committed.wait()
            # Let a few hundred commits gather; wake at once to stop.
            if self._stopping.wait(_CHECKPOINT_INTERVAL):
                break
            self._committed.clear()
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self._conn.close()

    def close(self) -> None:
        self._stopping.set()
        self._committed.set()
        self._thread.join()


def _busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


class _SQLiteAppend(AppendSession):
    def __init__(self, conn: sqlite3.Connection, check_file: Callable[[], None],
                 committed: Callable[[], None], busy_timeout: float) -> None:
        self._conn = conn
        self._check_file = check_file
        self._committed = committed
        self._busy_timeout = busy_timeout
        conn.execute(f"PRAGMA wal_autocheckpoint={_BACKSTOP_CHECKPOINT_PAGES}")
        # The write lock is waited for in _lock; once it is held, nothing else a
        # batch does waits for another connection (WAL: readers never block it).
        conn.execute("PRAGMA busy_timeout=0")

    def _lock(self) -> None:
        """BEGIN IMMEDIATE, trying again every _LOCK_POLL until busy_timeout."""
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(_LOCK_POLL)

    def begin(self) -> tuple[int, str]:
        self._check_file()
        self._lock()
        tip = self._conn.execute(
            "SELECT seq, record_hash FROM decisions ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return (0, GENESIS_HASH) if tip is None else (int(tip[0]), str(tip[1]))

    def prior_totals(self, queries: Sequence[AggregateQuery]) -> list[PriorTotal]:
        return _prior_totals(self._conn, queries)

    def existing_keys(self, keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        found: dict[str, tuple[str, str | None]] = {}
        for start in range(0, len(keys), _IDS_PER_QUERY):
            chunk = keys[start : start + _IDS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            rows = self._conn.execute(
                "SELECT idempotency_key, decision_id, request_hash FROM decisions "
                f"WHERE idempotency_key IN ({marks})", chunk)
            found.update((key, (decision_id, digest)) for key, decision_id, digest in rows)
        return found

    def existing_ids(self, decision_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(decision_ids), _IDS_PER_QUERY):
            chunk = decision_ids[start : start + _IDS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT decision_id FROM decisions WHERE decision_id IN ({marks})", chunk
            )
            found.update(row[0] for row in rows)
        return found

    def insert_many(self, first_seq: int, records: Sequence[DecisionRecord]) -> None:
        self._conn.executemany(
            _INSERT,
            [row_values(seq, record, _ENCODERS) for seq, record in enumerate(records, first_seq)],
        )

    def commit(self) -> None:
        self._conn.execute("COMMIT")
        # A commit into a file that was deleted or replaced meanwhile keeps nothing:
        # it must fail, so that nobody is told the decision was logged.
        self._check_file()
        self._committed()

    def rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()


class SQLiteStore(DecisionStore):
    """Decision log in the SQLite file at ``path`` (created, with parents, if missing)."""

    def __init__(
        self, path: str | Path, *, busy_timeout: float = 5.0, max_batch: int = 512,
        pool_max_size: int = DEFAULT_MAX_SIZE, synchronous: str = "full",
    ) -> None:
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise StoreError("the SQLite decision log needs a file path")
        if synchronous.lower() not in SYNCHRONOUS:
            raise StoreError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}, "
                             f"not {synchronous!r}")
        self.synchronous = synchronous.lower()
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._enable_wal()
            migrate.upgrade_sqlite(self._connect)
            self._identity = self._file_identity()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open SQLite decision log {self.path}: {exc}") from exc
        self._readers: ConnectionPool[sqlite3.Connection] = ConnectionPool(
            self._connect, sqlite3.Connection.close, max_size=pool_max_size,
            timeout=busy_timeout,
        )
        self._checkpointer = _Checkpointer(self._connect(), f"{type(self).__name__}-checkpoint")
        super().__init__(
            lambda: _SQLiteAppend(self._connect(), self._check_file,
                                  self._checkpointer.committed, busy_timeout),
            max_batch=max_batch)

    def _file_identity(self) -> tuple[int, int]:
        status = self.path.stat()
        return status.st_dev, status.st_ino

    def _check_file(self) -> None:
        """The log file is still the one opened (checked at each group commit)."""
        try:
            same = self._file_identity() == self._identity
        except OSError:
            same = False
        if not same:
            raise StoreError(f"the decision log file {self.path} was removed or replaced "
                             "while in use; nothing more can be logged to it")

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit BEGINs; we issue BEGIN IMMEDIATE ourselves.
        # check_same_thread=False: the pool moves reader connections between threads
        # (one at a time).
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        return conn

    def _enable_wal(self) -> None:
        # WAL is a property of the file and persists; switching needs an exclusive
        # lock, so a process racing another one on a new file may have to retry.
        deadline = time.monotonic() + self._busy_timeout
        while True:
            conn = self._connect()
            try:
                (mode,) = conn.execute("PRAGMA journal_mode=WAL").fetchone()
                if str(mode).lower() == "wal":
                    return
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
            finally:
                conn.close()
            if time.monotonic() > deadline:
                raise StoreError(f"could not switch {self.path} to WAL mode")
            time.sleep(0.05)

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with self._readers.connection() as conn:
            try:
                yield conn
            except sqlite3.Error as exc:
                raise StoreError(f"reading the decision log failed: {exc}") from exc

    def get(self, decision_id: str) -> DecisionRecord | None:
        with self._reader() as conn:
            values = conn.execute(
                f"SELECT {COLUMNS} FROM decisions WHERE decision_id = ?", (decision_id,)
            ).fetchone()
        return None if values is None else readable(_row(values))

    def _read_prior_totals(self, queries: Sequence[AggregateQuery]) -> list[PriorTotal]:
        with self._reader() as conn:
            return _prior_totals(conn, queries)

    def get_by_keys(self, keys: Sequence[str]) -> dict[str, DecisionRecord]:
        found: dict[str, DecisionRecord] = {}
        with self._reader() as conn:
            for start in range(0, len(keys), _IDS_PER_QUERY):
                chunk = keys[start : start + _IDS_PER_QUERY]
                marks = ", ".join("?" * len(chunk))
                for values in conn.execute(
                        f"SELECT {COLUMNS} FROM decisions WHERE idempotency_key IN ({marks})",
                        chunk):
                    record = readable(_row(values))
                    assert record.idempotency_key is not None
                    found[record.idempotency_key] = record
        return found

    def _ping(self) -> None:
        # Reads the database header (a shared lock on the file), not just the library.
        self._check_file()
        with self._reader() as conn:
            conn.execute("PRAGMA schema_version").fetchone()

    def count(self) -> int:
        with self._reader() as conn:
            (n,) = conn.execute("SELECT COUNT(*) FROM decisions").fetchone()
        return int(n)

    def _fetch_page(
        self, after_seq: int, limit: int, since: datetime | None, policy: str | None
    ) -> list[StoredRow]:
        sql = f"SELECT {COLUMNS} FROM decisions WHERE seq > ?"
        params: list[Any] = [after_seq]
        if since is not None:
            sql += " AND decided_at >= ?"
            params.append(_timestamp(since))
        if policy is not None:
            sql += " AND policy = ?"
            params.append(policy)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        with self._reader() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_row(values) for values in rows]

    def _tip(self) -> tuple[int, str] | None:
        with self._reader() as conn:
            row = conn.execute(
                "SELECT seq, record_hash FROM decisions ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def _save_bundle(self, bundle_hash: str, payload: str, stored_at: datetime) -> None:
        with self._reader() as conn:
            conn.execute("INSERT OR IGNORE INTO bundles (bundle_hash, texts, stored_at) "
                         "VALUES (?, ?, ?)", (bundle_hash, payload, _timestamp(stored_at)))

    def _get_bundle(self, bundle_hash: str) -> Any:
        with self._reader() as conn:
            row = conn.execute("SELECT texts FROM bundles WHERE bundle_hash = ?",
                               (bundle_hash,)).fetchone()
        return None if row is None else row[0]

    def _close_readers(self) -> None:
        self._checkpointer.close()
        self._readers.close()

    # -- shadows -------------------------------------------------------------

    def record_shadows(self, shadows: Sequence[tuple[str, dict[str, Any]]]) -> None:
        rows = [(orjson.dumps(shadow).decode(), decision_id) for decision_id, shadow in shadows]
        with self._reader() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("UPDATE decisions SET shadow = ? WHERE decision_id = ?", rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def shadows_of(self, decision_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(decision_ids), _IDS_PER_QUERY):
            chunk = list(decision_ids[start : start + _IDS_PER_QUERY])
            marks = ", ".join("?" * len(chunk))
            with self._reader() as conn:
                rows = conn.execute(
                    f"SELECT decision_id, shadow FROM decisions WHERE decision_id IN ({marks}) "
                    "AND shadow IS NOT NULL", chunk).fetchall()
            found.update((decision_id, orjson.loads(shadow)) for decision_id, shadow in rows)
        return found
