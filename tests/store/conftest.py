"""Fixtures that run every store test against SQLite and PostgreSQL for real
(``databases``: one schema per test, dropped afterwards)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import STORE_KINDS, fresh_pg_url, fresh_store_url

from decision_service.store import DecisionStore, open_store


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty decision log of each kind."""
    with fresh_store_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def pg_store_url() -> Iterator[str]:
    """For the few behaviours only a database server has (dropped connections);
    tests using it carry ``@pytest.mark.pg``."""
    with fresh_pg_url() as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[DecisionStore]:
    s = open_store(store_url)
    yield s
    s.close()
