"""Helpers for the API tests: what an RFC 9457 problem answer must look like."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

# What the make_client fixture returns: build an app on a store, with settings.
AppMaker = Callable[..., TestClient]


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
