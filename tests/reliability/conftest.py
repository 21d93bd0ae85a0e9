"""Fixtures for the reliability tests (helpers in relkit)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import STORE_KINDS
from fastapi.testclient import TestClient
from relkit import KEYS, POLICIES, client, store_url


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module", params=STORE_KINDS)
def keyed(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app with API keys (see relkit.KEYS) per store kind for a module."""
    with store_url(request.param, tmp_path_factory.mktemp("log")) as url, \
            client(url, api_keys=KEYS) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def open_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app without keys (loopback, every scope) on SQLite for a module."""
    with store_url("sqlite", tmp_path_factory.mktemp("log")) as url, client(url) as test_client:
        yield test_client


@pytest.fixture
def policies_copy(tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    return target
