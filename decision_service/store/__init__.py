"""The decision log: every decision is written here, durably, before it is answered.

    store = open_store("sqlite:///data/decisions.db")          # or postgresql://...
    record = store.log_decision(AggregateQuery(key, since, until), decide)
    future = store.submit(AggregateQuery(key, since, until), decide)  # no waiting
    store.ping()                                                       # readiness
    store.close()

``open_store`` applies the schema migrations.  A store is thread-safe and meant to
be shared: one per process (each has one writer thread doing group commit).
This package does not import the web framework; the HTTP API and the CLI both use it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import AggregateQuery, ChainProblem, Decide, DecisionStore, WriteStats
from .errors import (
    DuplicateDecisionError,
    StoreClosedError,
    StoreError,
    UnstorableValueError,
    WriteFailedError,
)
from .record import (
    GENESIS_HASH,
    DecisionRecord,
    DraftRecord,
    canonical_bytes,
    chain_hash,
    seal,
)

__all__ = [
    "GENESIS_HASH",
    "AggregateQuery",
    "ChainProblem",
    "Decide",
    "DecisionRecord",
    "DecisionStore",
    "DraftRecord",
    "DuplicateDecisionError",
    "StoreClosedError",
    "StoreError",
    "UnstorableValueError",
    "WriteFailedError",
    "WriteStats",
    "canonical_bytes",
    "chain_hash",
    "open_store",
    "seal",
]


def open_store(url: str, timeout: float = 5.0) -> DecisionStore:
    """Open (creating and migrating as needed) the decision log at ``url``.

    - ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's
      convention: the path is what follows the third slash);
    - ``postgresql://user@host:port/db`` (also ``postgres://``, ``postgresql+psycopg://``),
      optionally with ``?schema=name`` to keep the log in its own schema; any other
      query parameters are passed to libpq.

    ``timeout``: seconds a statement may wait for a lock (SQLite busy_timeout,
    PostgreSQL lock_timeout and statement_timeout) before failing fast.
    Raises ``StoreError`` for any other URL or if the database can't be opened.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise StoreError(f"not a store URL: {url!r} (expected sqlite:///... or postgresql://...)")
    if scheme == "sqlite":
        if not rest.startswith("/") or len(rest) < 2:
            raise StoreError(f"SQLite URL needs a file path: {url!r} (sqlite:///path/to/file.db)")
        from .sqlite import SQLiteStore

        return _checked(SQLiteStore(rest[1:], busy_timeout=timeout))
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schemas = [value for key, value in query if key == "schema"]
        conninfo = urlunsplit(
            parts._replace(
                scheme="postgresql", query=urlencode([(k, v) for k, v in query if k != "schema"])
            )
        )
        from .postgres import PostgresStore

        return _checked(PostgresStore(conninfo, schema=schemas[-1] if schemas else None,
                                      timeout=timeout))
    raise StoreError(f"unsupported store URL scheme {scheme!r} in {url!r}")


def _checked(store: DecisionStore) -> DecisionStore:
    """The schema at its head is not enough: the decisions table must answer too."""
    try:
        store.head()
    except BaseException:
        store.close()
        raise
    return store
