"""An empty decision log of each kind, for the store and API tests.

SQLite is a file under the test's temporary directory. PostgreSQL is the real
server at ``DECISION_SERVICE_TEST_PG_URL`` (default
postgresql://postgres@127.0.0.1:5432/test), one schema per log, dropped
afterwards; an unreachable server fails the test, ``DECISION_SERVICE_SKIP_PG=1``
skips it deliberately. Every test that may reach PostgreSQL carries the ``pg``
mark (``STORE_KINDS`` puts it on the postgresql parameter), so
``pytest -m "not pg"`` needs no database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest

PG_URL = os.environ.get("DECISION_SERVICE_TEST_PG_URL",
                        "postgresql://postgres@127.0.0.1:5432/test")

# Parameters for fixtures and tests that run on both kinds of log.
STORE_KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)]


def split_pg_url(url: str) -> tuple[str, str]:
    """(libpq URL without ?schema=, schema) for a test PostgreSQL store URL."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = dict(query)["schema"]
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


@contextmanager
def fresh_pg_url() -> Iterator[str]:
    """A PostgreSQL store URL on a schema of its own, dropped afterwards."""
    if os.environ.get("DECISION_SERVICE_SKIP_PG") == "1":
        pytest.skip("DECISION_SERVICE_SKIP_PG=1")
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}schema=t_{uuid.uuid4().hex[:20]}"
    try:
        yield url
    finally:
        base, schema = split_pg_url(url)
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


@contextmanager
def fresh_store_url(kind: str, directory: Path) -> Iterator[str]:
    """The URL of an empty decision log of ``kind`` (sqlite or postgresql)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'log-{uuid.uuid4().hex[:8]}' / 'decisions.db'}"
        return
    with fresh_pg_url() as url:
        yield url
