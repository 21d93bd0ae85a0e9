"""front.Front: the hot endpoints answered before FastAPI, the rest handed on, the
same answers either way, and a bug that escapes a handler answered as a problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apikit import assert_problem
from databases import fresh_store_url
from fastapi.testclient import TestClient
from samples import POLICIES, deal, new_customer

from decision_service.api import ServiceSettings, create_app
from decision_service.api.app import ServiceApp


@pytest.fixture
def app(tmp_path: Path) -> Iterator[ServiceApp]:
    with fresh_store_url("sqlite", tmp_path) as url:
        built = create_app(ServiceSettings(policies_dir=POLICIES, db_url=url))
        assert isinstance(built, ServiceApp)
        yield built


def test_fastapi_s_own_route_answers_a_decision_as_front_does(app: ServiceApp) -> None:
    raw = deal(customer_id=new_customer())
    key = {"Idempotency-Key": "front-and-fastapi-1"}
    with TestClient(app) as front:
        first = front.post("/v1/decisions/authorization", json=raw, headers=key)
        # The FastAPI stack alone (no Front): its registered route, same service.
        fastapi = TestClient(app.stack)
        again = fastapi.post("/v1/decisions/authorization", json=raw, headers=key)
        other = fastapi.post("/v1/decisions/authorization?explain=false",
                             json=deal(customer_id=new_customer()))
    assert first.status_code == again.status_code == other.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert "reasons" not in other.json()


def test_the_fast_path_keeps_its_checks_in_order(app: ServiceApp) -> None:
    with TestClient(app) as client:
        url = "/v1/decisions/authorization"
        assert_problem(client.post(url + "?explain=maybe", json=deal()), 422, "explain")
        assert_problem(client.post(url, content=b"{", headers={
            "Content-Type": "application/json"}), 400)
        assert_problem(client.post(url, json=deal(), headers={"Idempotency-Key": "a b"}),
                       422, "Idempotency-Key")
        assert_problem(client.post("/v1/decisions/no-such-policy", json=deal()), 404)
        # Not a single segment after the prefix: FastAPI's routing, not the fast path.
        assert client.post(url + "/", json=deal(), follow_redirects=False).status_code == 307


def test_a_bug_escaping_a_handler_is_a_problem_500_with_the_request_id(
        app: ServiceApp, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    with TestClient(app) as client:
        ctx = app.state.ctx
        monkeypatch.setattr(ctx.service, "decide_async", broken)  # the fast path
        monkeypatch.setattr(ctx.service, "get", broken)  # a route FastAPI answers
        fast = client.post("/v1/decisions/authorization", json=deal(),
                           headers={"X-Request-ID": "bug-fast-1"})
        routed = client.get("/v1/decisions/" + "0" * 32, headers={"X-Request-ID": "bug-get-1"})
        assert_problem(fast, 500)
        assert_problem(routed, 500)
        assert fast.headers["x-request-id"] == "bug-fast-1"
        assert routed.headers["x-request-id"] == "bug-get-1"
        # Both counted under their route templates.
        text = client.get("/metrics").text
        assert 'method="POST",route="/v1/decisions/{policy}",status="500"' in text
        assert 'method="GET",route="/v1/decisions/{decision_id}",status="500"' in text
