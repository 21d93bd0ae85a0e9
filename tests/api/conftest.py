"""Fixtures: the app over HTTP on each real store (``databases``: SQLite, and
PostgreSQL with one schema per app, dropped afterwards)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apikit import AppMaker
from databases import STORE_KINDS, fresh_store_url
from fastapi.testclient import TestClient
from samples import POLICIES

from decision_service.api import ServiceSettings, create_app


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module", params=STORE_KINDS)
def shared_client(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app per store kind for a whole module: loading policies takes about a second.
    Tests using it keep to their own customers and decision ids."""
    with fresh_store_url(request.param, tmp_path_factory.mktemp("log")) as url, \
            TestClient(create_app(ServiceSettings(policies_dir=POLICIES, db_url=url))) as client:
        yield client




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
