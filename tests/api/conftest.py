"""Fixtures: the app over HTTP on each real store, and inputs for each policy.

PostgreSQL: ``DECISION_SERVICE_TEST_PG_URL`` (default
postgresql://postgres@127.0.0.1:5432/test). Every app gets its own schema, dropped
afterwards. ``DECISION_SERVICE_SKIP_PG=1`` skips those tests deliberately; an
unreachable server fails them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

from decision_service.api import ServiceSettings, create_app

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
PG_URL = os.environ.get("DECISION_SERVICE_TEST_PG_URL",
                        "postgresql://postgres@127.0.0.1:5432/test")
TODAY = "2026-11-23"

DEAL: dict[str, Any] = {
    "decision_point": "ATB", "office": "CN-BJ", "customer_id": "C-1001", "customer_tier": "S",
    "contract_value_usd": 1_000_000, "gross_margin_pct": 40, "payment_term_days": 30,
    "advance_payment_pct": 30, "trade_compliance": "PASS", "as_of": TODAY,
}
PROJECT: dict[str, Any] = {
    "office": "CN-BJ", "contract_value_usd": 500_000, "strategic_customer": False,
    "countries": 1, "regions": 1, "new_product": False, "risk_level": "LOW",
    "gross_margin_pct": 30,
}
CUSTOMER: dict[str, Any] = {
    "kyc_complete": True, "sanctions_hit": False, "country": "DE",
    "industry": "TELECOM_OPERATOR", "integrity_incidents_3y": 0, "credit_rating": "B",
    "annual_revenue_potential_usd": 5_000_000, "relationship_years": 1,
}


def deal(**changes: Any) -> dict[str, Any]:
    return {**DEAL, **changes}


def new_customer() -> str:
    """A customer id of its own, so A10 totals of tests sharing a log never mix."""
    return f"C-{uuid.uuid4().hex[:12]}"


def _drop_schema(url: str) -> None:
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = dict(query)["schema"]
    base = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query
                                                       if k != "schema"])))
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


@contextmanager
def fresh_store_url(kind: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'log-{uuid.uuid4().hex[:8]}' / 'decisions.db'}"
        return
    if os.environ.get("DECISION_SERVICE_SKIP_PG") == "1":
        pytest.skip("DECISION_SERVICE_SKIP_PG=1")
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}schema=api_{uuid.uuid4().hex[:20]}"
    try:
        yield url
    finally:
        _drop_schema(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_client(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app per store kind for a whole module: loading policies takes about a second.
    Tests using it keep to their own customers and decision ids."""
    with fresh_store_url(request.param, tmp_path_factory.mktemp("log")) as url, \
            TestClient(create_app(ServiceSettings(policies_dir=POLICIES, db_url=url))) as client:
        yield client


AppMaker = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path, store_kind: str) -> Iterator[AppMaker]:
    """A fresh app on a fresh store of ``store_kind``, with settings overridden."""
    stack: list[Any] = []

    def make(**overrides: Any) -> TestClient:
        url_cm = fresh_store_url(store_kind, tmp_path)
        url = url_cm.__enter__()
        stack.append(url_cm)
        settings = ServiceSettings(**{"policies_dir": POLICIES, "db_url": url, **overrides})
        client = TestClient(create_app(settings))
        client.__enter__()
        stack.append(client)
        return client

    yield make
    for item in reversed(stack):
        item.__exit__(None, None, None)


@pytest.fixture
def policies_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped policies, to edit and reload."""
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    return target


def assert_problem(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """An RFC 9457 answer with ``status`` whose ``errors`` name exactly ``fields``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:decision-service:problem:")
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    if fields:
        assert sorted(e["field"] for e in body["errors"]) == sorted(fields), body
    return body
