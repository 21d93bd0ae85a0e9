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

from .base import (
    AggregateQuery,
    ChainProblem,
    Decide,
    DecisionStore,
    IdempotencyClaim,
    WriteStats,
)
from .errors import (
    DuplicateDecisionError,
    IdempotencyKeyUsedError,
    StoreClosedError,
    StoreError,
    UnstorableValueError,
    WriteFailedError,
)
from .record import (
    GENESIS_HASH,
    RECORD_FIELDS,
    DecisionRecord,
    DraftRecord,
    FieldSpec,
    canonical_bytes,
    chain_hash,
    record_view,
    seal,
)
from .writer import LogRequest, Outcome

__all__ = [
    "GENESIS_HASH",
    "RECORD_FIELDS",
    "AggregateQuery",
    "ChainProblem",
    "Decide",
    "DecisionRecord",
    "DecisionStore",
    "DraftRecord",
    "DuplicateDecisionError",
    "FieldSpec",
    "IdempotencyClaim",
    "IdempotencyKeyUsedError",
    "LogRequest",
    "Outcome",
    "StoreClosedError",
    "StoreError",
    "UnstorableValueError",
    "WriteFailedError",
    "WriteStats",
    "canonical_bytes",
    "chain_hash",
    "open_store",
    "record_view",
    "seal",
]


def open_store(url: str, timeout: float = 5.0) -> DecisionStore:
    """Open (creating and migrating as needed) the decision log at ``url``.

    - ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's
      convention: the path is what follows the third slash);
    - ``postgresql://user@host:port/db`` (also ``postgres://``, ``postgresql+psycopg://``),
      optionally with ``?schema=name`` to keep the log in its own schema; any other
      query parameters are passed to libpq.

    Both take ``pool_max_size`` (reader connections open at most, default 8) and
    PostgreSQL ``pool_min_size`` (kept open, default 1) as query parameters, e.g.
    ``sqlite:///log.db?pool_max_size=4``.  A reader that finds every connection in
    use waits up to ``timeout`` and then gets a ``StoreError``.

    ``timeout``: seconds a statement may wait for a lock (SQLite busy_timeout,
    PostgreSQL lock_timeout and statement_timeout) before failing fast.
    Raises ``StoreError`` for any other URL or if the database can't be opened.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise StoreError(f"not a store URL: {url!r} (expected sqlite:///... or postgresql://...)")
    if scheme == "sqlite":
        path, _, query_text = rest.partition("?")
        if not path.startswith("/") or len(path) < 2:
            raise StoreError(f"SQLite URL needs a file path: {url!r} (sqlite:///path/to/file.db)")
        query = parse_qsl(query_text, keep_blank_values=True)
        sizes = _pool_sizes(query, url, allowed=("pool_max_size",))
        from .sqlite import SQLiteStore

        return _checked(SQLiteStore(path[1:], busy_timeout=timeout, **sizes))
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schemas = [value for key, value in query if key == "schema"]
        sizes = _pool_sizes(query, url, allowed=("pool_min_size", "pool_max_size"))
        passed = [(k, v) for k, v in query if k != "schema" and k not in _POOL_OPTIONS]
        conninfo = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(passed)))
        from .postgres import PostgresStore

        return _checked(PostgresStore(conninfo, schema=schemas[-1] if schemas else None,
                                      timeout=timeout, **sizes))
    raise StoreError(f"unsupported store URL scheme {scheme!r} in {url!r}")


_POOL_OPTIONS = ("pool_min_size", "pool_max_size")


def _pool_sizes(query: list[tuple[str, str]], url: str,
                allowed: tuple[str, ...]) -> dict[str, int]:
    """The reader pool options of a store URL, each a whole number."""
    sizes: dict[str, int] = {}
    for key, value in query:
        if key in _POOL_OPTIONS and key not in allowed:
            raise StoreError(f"{key} does not apply to {url.partition(':')[0]} URLs")
        if key not in allowed:
            if url.startswith("sqlite"):
                raise StoreError(f"unknown SQLite URL option {key!r} (known: pool_max_size)")
            continue
        if not value.isdigit():
            raise StoreError(f"{key} in the store URL must be a whole number, not {value!r}")
        sizes[key] = int(value)
    return sizes


def _checked(store: DecisionStore) -> DecisionStore:
    """The schema at its head is not enough: the decisions table must answer too."""
    try:
        store.head()
    except BaseException:
        store.close()
        raise
    return store
