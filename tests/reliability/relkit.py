"""Helpers for the reliability tests: the shipped policies, a deal, apps on each store
(with API keys when a test needs scopes), PostgreSQL schemas of their own."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from fastapi.testclient import TestClient

from decision_service.api import ServiceSettings, create_app

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
PG_URL = os.environ.get("DECISION_SERVICE_TEST_PG_URL",
                        "postgresql://postgres@127.0.0.1:5432/test")
URL = "/v1/decisions/authorization"
# Keys for tests that need scopes: each named after what it may do.
KEYS = {"decide-only": frozenset({"decide"}), "decide-read": frozenset({"decide", "read"}),
        "loader": frozenset({"decide", "read", "backdate"}),
        "admin": frozenset({"decide", "read", "admin"})}


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def days_ago(days: int) -> str:
    return (today() - dt.timedelta(days=days)).isoformat()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_customer() -> str:
    return f"C-{uuid.uuid4().hex[:12]}"


def deal(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "decision_point": "ATB", "office": "CN-BJ", "customer_id": new_customer(),
        "customer_tier": "S", "contract_value_usd": 1_000_000, "gross_margin_pct": 40,
        "payment_term_days": 30, "advance_payment_pct": 30, "trade_compliance": "PASS",
    }
    return {**base, **changes}


def atc(customer: str, value: float, as_of: str | None = None, **changes: Any) -> dict[str, Any]:
    raw = deal(decision_point="ATC", customer_id=customer, contract_value_usd=value, **changes)
    if as_of is not None:
        raw["as_of"] = as_of
    return raw


def drop_schema(url: str) -> None:
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = dict(query)["schema"]
    base = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query
                                                       if k != "schema"])))
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


def pg_base(url: str) -> str:
    """The URL without its schema option, for a plain psycopg connection."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode(
        [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"])))


def pg_schema(url: str) -> str:
    return dict(parse_qsl(urlsplit(url).query))["schema"]


@contextmanager
def store_url(kind: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'log-{uuid.uuid4().hex[:8]}' / 'decisions.db'}"
        return
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}schema=rel_{uuid.uuid4().hex[:20]}"
    try:
        yield url
    finally:
        drop_schema(url)


@contextmanager
def client(db_url: str, policies: Path = POLICIES, **settings: Any) -> Iterator[TestClient]:
    values: dict[str, Any] = {"policies_dir": policies, "db_url": db_url, **settings}
    with TestClient(create_app(ServiceSettings(**values))) as test_client:
        yield test_client
