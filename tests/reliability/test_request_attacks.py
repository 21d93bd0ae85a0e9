"""Attack 6: requests. 300,000 unknown fields, a body that stops half way, cross-site
browser requests to the open loopback service, a decide-only key reading a logged
deal's level through the authority check."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from relkit import URL, bearer, deal

from decision_service.api.browser_guard import refusal


def test_300000_unknown_fields_are_refused_fast_with_a_small_answer(
        open_sqlite: TestClient) -> None:
    raw = {**deal(), **{f"f{i}": 0 for i in range(300_000)}}
    started = time.monotonic()
    response = open_sqlite.post(URL, content=orjson.dumps(raw),
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert len(response.content) < 10_000
    assert time.monotonic() - started < 5


def test_an_answer_lists_at_most_50_problems_and_says_how_many_more(
        open_sqlite: TestClient) -> None:
    raw = {**deal(), **{f"f{i}": 0 for i in range(500)}}
    body = open_sqlite.post(URL, json=raw).json()
    assert len(body["errors"]) == 50
    assert "and 450 more" in body["detail"]


def _scope(host: str, origin: str | None = None, content_type: str = "application/json",
           method: str = "POST") -> dict[str, object]:
    headers = [(b"host", host.encode()), (b"content-type", content_type.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "http", "method": method, "headers": headers, "client": ("127.0.0.1", 5)}


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000",
                                  "localhost"])
def test_loopback_hosts_are_served(host: str) -> None:
    assert refusal(_scope(host)) is None


@pytest.mark.parametrize(("scope", "status"), [
    (_scope("evil.example:8000"), 421),                      # DNS rebinding
    (_scope("127.0.0.1.evil.example"), 421),
    (_scope("127.0.0.1:8000", origin="https://evil.example"), 403),
    (_scope("127.0.0.1:8000", content_type="text/plain"), 415),
    (_scope("127.0.0.1:8000", content_type="application/x-www-form-urlencoded"), 415),
    (_scope("127.0.0.1:8000", content_type="multipart/form-data; boundary=x"), 415),
], ids=["rebinding", "lookalike", "cross-origin", "text-plain", "form", "multipart"])
def test_cross_site_browser_requests_are_refused(scope: dict[str, object],
                                                 status: int) -> None:
    problem = refusal(scope)  # type: ignore[arg-type]
    assert problem is not None and problem.status == status


def test_a_text_plain_post_to_the_open_service_is_415(open_sqlite: TestClient) -> None:
    response = open_sqlite.post(URL, content=orjson.dumps(deal()),
                                headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


def test_a_decide_only_key_cannot_read_a_deal_through_the_authority_check(
        keyed: TestClient) -> None:
    logged = keyed.post(URL, json=deal(decision_point="ATC"), headers=bearer("decide-only"))
    check = {"decision_id": logged.json()["decision_id"],
             "approver": {"id": "E-1", "level": "OFFICE", "unit": "CN-BJ"}}
    refused = keyed.post("/v1/authority/check", json=check, headers=bearer("decide-only"))
    assert refused.status_code == 403, refused.text
    allowed = keyed.post("/v1/authority/check", json=check, headers=bearer("decide-read"))
    assert allowed.status_code == 200, allowed.text


@pytest.mark.slow  # waits out the body timeout
@pytest.mark.subprocess
def test_a_body_that_stops_half_way_is_answered_408(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
    from serving import start_server

    from decision_service.api import bodies

    server = start_server(tmp_path, f"sqlite:///{tmp_path / 'd.db'}",
                          Path(__file__).resolve().parents[2] / "policies")
    try:
        port = int(server.base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(b"POST /v1/decisions/authorization HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"a\"")
            started = time.monotonic()
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408"), answer
            assert time.monotonic() - started < bodies.BODY_DEADLINE + 10
    finally:
        server.stop()
