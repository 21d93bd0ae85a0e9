"""Fixtures that run every store test against SQLite and PostgreSQL for real.

PostgreSQL: ``DECISION_SERVICE_TEST_PG_URL`` (default
postgresql://postgres@127.0.0.1:5432/test).  Each test gets its own schema, dropped
afterwards.  An unreachable server fails the tests; set
``DECISION_SERVICE_SKIP_PG=1`` to skip them deliberately instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from storekit import split_pg_url

from decision_service.store import DecisionStore, open_store

PG_URL = os.environ.get("DECISION_SERVICE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def _fresh_pg_schema() -> Iterator[str]:
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


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty decision log of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'log' / 'decisions.db'}"
    else:
        with _fresh_pg_schema() as url:
            yield url


@pytest.fixture
def pg_store_url() -> Iterator[str]:
    """For the few behaviours only a database server has (dropped connections)."""
    with _fresh_pg_schema() as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[DecisionStore]:
    s = open_store(store_url)
    yield s
    s.close()
