"""The production decision log in PostgreSQL (psycopg 3).

Appends from every process serialise on a transaction-scoped advisory lock keyed
by the schema (the "chain lock"): the lock holder reads the chain tip and prior
totals, inserts and commits; the next holder's READ COMMITTED statements then see
those rows.  That makes "read prior total, then insert" atomic across processes.
Every session runs with ``synchronous_commit=on`` so a returned commit is durable
whatever the server default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

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
from .record import GENESIS_HASH, JSON, DecisionRecord
from .writer import BatchStart, PriorTotal

Connection = psycopg.Connection[tuple[Any, ...]]

# First key of pg_advisory_xact_lock(int, int); the second is hashtext(schema).
CHAIN_LOCK_CLASS = 0x44534C47  # "DSLG"

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# A large batch's rows go in with one COPY: about twice as fast per row as
# executemany (pipelined INSERTs), but COPY takes round trips of its own and cannot
# join a pipeline.  A small batch is latency-bound, not row-bound: its INSERTs go in
# the same pipeline as the COMMIT, one round trip for both (bench/load.py).
# No ON CONFLICT is needed: the writer has checked the ids under the chain lock, so
# a conflict is a bug and fails the batch rather than leaving a gap.
_COPY = f"COPY decisions ({COLUMNS}) FROM STDIN"
_INSERT = f"INSERT INTO decisions ({COLUMNS}) VALUES ({', '.join(['%s'] * len(COLUMN_NAMES))})"
_PIPELINED_ROWS = 64
_LOCK = "SELECT pg_advisory_xact_lock(%s, %s)"
_TIP = "SELECT seq, record_hash FROM decisions ORDER BY seq DESC LIMIT 1"
# Every aggregate of a batch in one round trip; the join is an index range scan on
# the partial index ix_decisions_agg.  A record of a subject counts only while no
# later record of that subject exists (ix_decisions_subject); its amount comes
# back per subject, so the writer can leave out the query's own.
_PRIOR_TOTALS = (
    "SELECT q.n, d.agg_subject, SUM(d.agg_amount)::float8 "
    "FROM unnest(%s::text[], %s::date[], %s::date[]) WITH ORDINALITY AS q(k, s, u, n) "
    "JOIN decisions d ON d.agg_key = q.k AND d.decision_date BETWEEN q.s AND q.u "
    "WHERE d.agg_subject IS NULL OR NOT EXISTS (SELECT 1 FROM decisions e "
    "WHERE e.agg_subject = d.agg_subject AND e.seq > d.seq) "
    "GROUP BY q.n, d.agg_subject"
)
_EXISTING_KEYS = ("SELECT idempotency_key, decision_id, request_hash FROM decisions "
                  "WHERE idempotency_key = ANY(%s::text[])")
# By column kind: psycopg adapts the rest; JSON goes in as text (``json`` keeps it).
_ENCODERS: dict[str, Callable[[Any], Any]] = {JSON: lambda value: orjson.dumps(value).decode()}
_EXISTING_IDS = "SELECT decision_id FROM decisions WHERE decision_id = ANY(%s::text[])"


def _params(queries: Sequence[AggregateQuery]) -> tuple[list[Any], ...]:
    return [q.key for q in queries], [q.since for q in queries], [q.until for q in queries]


def _prior_totals(queries: Sequence[AggregateQuery],
                  rows: Sequence[tuple[Any, ...]]) -> list[PriorTotal]:
    totals = [PriorTotal(0.0, {}) for _ in queries]
    for number, subject, total in rows:
        index = int(number) - 1
        if subject is None:
            totals[index] = totals[index]._replace(plain=float(total))
        else:
            totals[index].by_subject[subject] = float(total)
    return totals


def _tip(row: tuple[Any, ...] | None) -> tuple[int, str]:
    return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))


def _claims(rows: Sequence[tuple[Any, ...]]) -> dict[str, tuple[str, str | None]]:
    return {key: (decision_id, digest) for key, decision_id, digest in rows}


def _row(values: tuple[Any, ...]) -> StoredRow:
    return stored_row(values)


class _PostgresAppend(AppendSession):
    def __init__(self, conn: Connection, chain_key: int) -> None:
        self._conn = conn
        self._chain_key = chain_key

    def begin(self) -> tuple[int, str]:
        # autocommit is off: this first statement opens the transaction, and the
        # lock is held until its COMMIT/ROLLBACK.
        self._conn.execute(_LOCK, (CHAIN_LOCK_CLASS, self._chain_key))
        return _tip(self._conn.execute(_TIP).fetchone())

    def open_batch(self, queries: Sequence[AggregateQuery],
                   keys: Sequence[str]) -> BatchStart:
        # One round trip instead of one per statement (BEGIN included): while the
        # lock is held every other process's batch waits for this one.  The
        # statements still run in order, so the reads see the log under the lock.
        with self._conn.pipeline():
            self._conn.execute(_LOCK, (CHAIN_LOCK_CLASS, self._chain_key))
            tip = self._conn.execute(_TIP)
            totals = self._conn.execute(_PRIOR_TOTALS, _params(queries)) if queries else None
            claimed = self._conn.execute(_EXISTING_KEYS, (list(keys),)) if keys else None
        seq, tip_hash = _tip(tip.fetchone())
        return BatchStart(
            seq, tip_hash,
            [] if totals is None else _prior_totals(queries, totals.fetchall()),
            {} if claimed is None else _claims(claimed.fetchall()))

    def prior_totals(self, queries: Sequence[AggregateQuery]) -> list[PriorTotal]:
        if not queries:
            return []
        rows = self._conn.execute(_PRIOR_TOTALS, _params(queries)).fetchall()
        return _prior_totals(queries, rows)

    def existing_keys(self, keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        return _claims(self._conn.execute(_EXISTING_KEYS, (list(keys),)).fetchall())

    def existing_ids(self, decision_ids: Sequence[str]) -> set[str]:
        rows = self._conn.execute(_EXISTING_IDS, (list(decision_ids),)).fetchall()
        return {row[0] for row in rows}

    def insert_many(self, first_seq: int, records: Sequence[DecisionRecord]) -> None:
        with self._conn.cursor() as cursor, cursor.copy(_COPY) as copy:
            write_row = copy.write_row
            for seq, record in enumerate(records, first_seq):
                write_row(row_values(seq, record, _ENCODERS))

    def commit(self) -> None:
        self._conn.commit()

    def write(self, first_seq: int, records: Sequence[DecisionRecord]) -> None:
        if len(records) > _PIPELINED_ROWS:
            self.insert_many(first_seq, records)
            self.commit()
            return
        rows = [row_values(seq, record, _ENCODERS) for seq, record in enumerate(records, first_seq)]
        # A failed INSERT aborts the pipeline: the COMMIT then raises, nothing is kept.
        with self._conn.pipeline(), self._conn.cursor() as cursor:
            cursor.executemany(_INSERT, rows)
            self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def close(self) -> None:
        self._conn.close()


class PostgresStore(DecisionStore):
    """Decision log in PostgreSQL at ``conninfo`` (URL or key=value string).

    ``schema`` puts the log (and its ``alembic_version``) into that schema, created
    if missing; without it the connection's default search_path decides.
    """

    def __init__(self, conninfo: str, *, schema: str | None = None, max_batch: int = 512,
                 timeout: float = 5.0, pool_min_size: int = 1, pool_max_size: int = 8) -> None:
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise StoreError(f"invalid schema name {schema!r}: use [a-z_][a-z0-9_]*")
        self.schema = schema
        self._conninfo = conninfo
        try:
            params = conninfo_to_dict(conninfo)
        except psycopg.ProgrammingError as exc:
            raise StoreError(f"invalid PostgreSQL connection string: {exc}") from exc
        options = str(params.get("options") or "")
        # Names this log's sessions in pg_stat_activity unless the URL names them.
        self._application_name = str(params.get("application_name")
                                     or f"decision-service/{schema or 'default'}")
        self._timeout = timeout
        options += " -c TimeZone=UTC -c synchronous_commit=on"
        # A locked table or a stuck statement answers a fast 503, not a request held
        # for as long as the lock.
        millis = max(1, int(timeout * 1000))
        options += f" -c lock_timeout={millis} -c statement_timeout={millis}"
        if schema is not None:
            options += f" -c search_path={schema}"
        self._options = options.strip()
        try:
            migrate.upgrade_postgres(lambda: self._connect(autocommit=False), schema)
            with self._connect(autocommit=True) as conn:
                row = conn.execute("SELECT hashtext(current_schema())").fetchone()
        except psycopg.Error as exc:
            raise StoreError(f"cannot open PostgreSQL decision log: {exc}") from exc
        if row is None or row[0] is None:
            raise StoreError("no current schema for the decision log")
        chain_key = int(row[0])
        self._readers = self._reader_pool(pool_min_size, pool_max_size)
        super().__init__(
            lambda: _PostgresAppend(self._connect(autocommit=False), chain_key),
            max_batch=max_batch,
        )

    def _connect(self, *, autocommit: bool) -> Connection:
        conn = psycopg.connect(self._conninfo, autocommit=autocommit, options=self._options,
                               application_name=self._application_name)
        set_json_loads(orjson.loads, conn)  # same parser as the canonical form
        return conn

    def _reader_pool(self, min_size: int, max_size: int) -> ConnectionPool[Connection]:
        """At most ``max_size`` reader sessions, each with the log's session settings
        (search_path, lock and statement timeouts, UTC, synchronous commit); a reader
        beyond that waits up to the store timeout for one, then gets a StoreError."""
        if max_size < 1 or not 0 <= min_size <= max_size:
            raise StoreError(f"reader pool sizes must satisfy 0 <= pool_min_size ({min_size}) "
                             f"<= pool_max_size ({max_size}) and pool_max_size >= 1")

        def configure(conn: Connection) -> None:
            set_json_loads(orjson.loads, conn)

        return ConnectionPool(
            self._conninfo, min_size=min_size, max_size=max_size, timeout=self._timeout,
            kwargs={"autocommit": True, "options": self._options,
                    "application_name": self._application_name},
            configure=configure, name=f"{self._application_name}/readers", open=True,
        )

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._readers.connection() as conn:
                return conn.execute(sql, params).fetchall()
        except PoolTimeout as exc:
            raise StoreError(self._pool_exhausted()) from exc
        except psycopg.OperationalError:
            # Idle pooled connections may have been dropped by the server (restart,
            # idle timeout); the pool discards a broken one when it comes back and
            # checks the others.  Reads are idempotent: retry once.
            self._readers.check()
        except psycopg.Error as exc:
            raise StoreError(f"reading the decision log failed: {exc}") from exc
        try:
            with self._readers.connection() as conn:
                return conn.execute(sql, params).fetchall()
        except PoolTimeout as exc:
            raise StoreError(self._pool_exhausted()) from exc
        except psycopg.Error as exc:
            raise StoreError(f"reading the decision log failed: {exc}") from exc

    def _pool_exhausted(self) -> str:
        return (f"no reader connection to the decision log came free within "
                f"{self._timeout:g} s (all {self._readers.max_size} in use)")

    def get(self, decision_id: str) -> DecisionRecord | None:
        rows = self._query(
            f"SELECT {COLUMNS} FROM decisions WHERE decision_id = %s", (decision_id,)
        )
        return readable(_row(rows[0])) if rows else None

    def _read_prior_totals(self, queries: Sequence[AggregateQuery]) -> list[PriorTotal]:
        return _prior_totals(queries, self._query(_PRIOR_TOTALS, _params(queries)))

    def get_by_keys(self, keys: Sequence[str]) -> dict[str, DecisionRecord]:
        rows = self._query(
            f"SELECT {COLUMNS} FROM decisions WHERE idempotency_key = ANY(%s::text[])",
            (list(keys),))
        records = [readable(_row(values)) for values in rows]
        return {r.idempotency_key: r for r in records if r.idempotency_key is not None}

    def _ping(self) -> None:
        self._query("SELECT 1")

    def count(self) -> int:
        return int(self._query("SELECT count(*) FROM decisions")[0][0])

    def _fetch_page(
        self, after_seq: int, limit: int, since: datetime | None, policy: str | None
    ) -> list[StoredRow]:
        sql = f"SELECT {COLUMNS} FROM decisions WHERE seq > %s"
        params: list[Any] = [after_seq]
        if since is not None:
            sql += " AND decided_at >= %s"
            params.append(since)
        if policy is not None:
            sql += " AND policy = %s"
            params.append(policy)
        sql += " ORDER BY seq LIMIT %s"
        params.append(limit)
        return [_row(values) for values in self._query(sql, params)]

    def _tip(self) -> tuple[int, str] | None:
        rows = self._query("SELECT seq, record_hash FROM decisions ORDER BY seq DESC LIMIT 1")
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def _save_bundle(self, bundle_hash: str, payload: str, stored_at: datetime) -> None:
        self._query("INSERT INTO bundles (bundle_hash, texts, stored_at) VALUES (%s, %s, %s) "
                    "ON CONFLICT (bundle_hash) DO NOTHING RETURNING 1",
                    (bundle_hash, payload, stored_at))

    def _get_bundle(self, bundle_hash: str) -> Any:
        rows = self._query("SELECT texts FROM bundles WHERE bundle_hash = %s", (bundle_hash,))
        return rows[0][0] if rows else None

    def _close_readers(self) -> None:
        self._readers.close()

    # -- shadows -------------------------------------------------------------

    def record_shadows(self, shadows: Sequence[tuple[str, dict[str, Any]]]) -> None:
        rows = [(orjson.dumps(shadow).decode(), decision_id) for decision_id, shadow in shadows]
        try:
            with self._readers.connection() as conn, conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "UPDATE decisions SET shadow = %s::json WHERE decision_id = %s", rows)
        except psycopg.Error as exc:
            raise StoreError(f"recording shadow results failed: {exc}") from exc

    def shadows_of(self, decision_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = self._query(
            "SELECT decision_id, shadow FROM decisions WHERE decision_id = ANY(%s::text[]) "
            "AND shadow IS NOT NULL", (list(decision_ids),))
        return {decision_id: shadow for decision_id, shadow in rows}
