"""Helpers for the reliability tests: a deal dated today, apps on each store (with API
keys when a test needs scopes); the logs come from the shared ``databases``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import samples
from databases import fresh_store_url as store_url
from databases import split_pg_url
from fastapi.testclient import TestClient
from samples import POLICIES, new_customer

from decision_service.api import ServiceSettings, create_app

__all__ = ["POLICIES", "new_customer", "store_url"]

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


def deal(**changes: Any) -> dict[str, Any]:
    """The sample deal for a customer of its own, decided today (no ``as_of``)."""
    raw = samples.deal(**{"customer_id": new_customer(), **changes})
    if "as_of" not in changes:
        del raw["as_of"]
    return raw


def atc(customer: str, value: float, as_of: str | None = None, **changes: Any) -> dict[str, Any]:
    raw = deal(decision_point="ATC", customer_id=customer, contract_value_usd=value, **changes)
    if as_of is not None:
        raw["as_of"] = as_of
    return raw


def pg_base(url: str) -> str:
    """The URL without its schema option, for a plain psycopg connection."""
    return split_pg_url(url)[0]


def pg_schema(url: str) -> str:
    return split_pg_url(url)[1]


@contextmanager
def client(db_url: str, policies: Path = POLICIES, **settings: Any) -> Iterator[TestClient]:
    values: dict[str, Any] = {"policies_dir": policies, "db_url": db_url, **settings}
    with TestClient(create_app(ServiceSettings(**values))) as test_client:
        yield test_client
