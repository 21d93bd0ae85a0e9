"""API keys: scopes, 401 vs 403, open endpoints, keys never logged; startup checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from apikit import assert_problem
from fastapi.testclient import TestClient
from samples import POLICIES, deal

from decision_service.api import ServiceSettings, SettingsError, create_app
from decision_service.api.auth import KeyRing
from decision_service.api.settings import KEYS_ENV, parse_api_keys

KEYS = {"decider-key-123": frozenset({"decide"}), "reader-key-456": frozenset({"read"}),
        "admin-key-789": frozenset({"admin", "read"})}


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app with API keys, on a SQLite log, for the whole module: the tests only send
    requests, and loading the policies once keeps them quick."""
    log = tmp_path_factory.mktemp("log") / "decisions.db"
    settings = ServiceSettings(policies_dir=POLICIES, db_url=f"sqlite:///{log}", api_keys=KEYS)
    with TestClient(create_app(settings)) as client:
        yield client


def test_without_a_key_every_api_call_is_401(client: TestClient) -> None:
    for method, url in (("POST", "/v1/decisions/authorization"),
                        ("POST", "/v1/decisions/authorization/batch"),
                        ("POST", "/v1/authority/check"), ("GET", "/v1/decisions/" + "0" * 32),
                        ("GET", "/v1/policies"), ("GET", "/v1/policies/authorization"),
                        ("POST", "/v1/admin/reload")):
        response = client.request(method, url, json={})
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_wrong_key_is_401_and_a_key_without_the_scope_403(client: TestClient) -> None:
    url = "/v1/decisions/authorization"
    assert_problem(client.post(url, json=deal(), headers=_auth("decider-key-12")), 401)
    assert_problem(client.post(url, json=deal(), headers={"Authorization": "Basic eDp5"}), 401)
    body = assert_problem(client.post(url, json=deal(), headers=_auth("reader-key-456")), 403)
    assert "decide" in body["detail"]
    assert_problem(client.post("/v1/admin/reload", headers=_auth("decider-key-123")), 403)
    assert_problem(client.get("/v1/policies", headers=_auth("decider-key-123")), 403)


def test_each_scope_opens_its_endpoints(client: TestClient) -> None:
    answer = client.post("/v1/decisions/authorization", json=deal(),
                         headers=_auth("decider-key-123"))
    assert answer.status_code == 200
    decision_id = answer.json()["decision_id"]
    assert client.get(f"/v1/decisions/{decision_id}",
                      headers=_auth("reader-key-456")).status_code == 200
    assert client.get("/v1/policies", headers=_auth("reader-key-456")).status_code == 200
    assert client.post("/v1/admin/reload", headers=_auth("admin-key-789")).status_code == 200


def test_health_metrics_and_docs_need_no_key(client: TestClient) -> None:
    for url in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert client.get(url).status_code == 200, url


def test_keys_never_reach_the_logs(client: TestClient, capfd: pytest.CaptureFixture[str],
                                   caplog: pytest.LogCaptureFixture) -> None:
    client.post("/v1/decisions/authorization", json=deal(), headers=_auth("decider-key-123"))
    client.post("/v1/decisions/authorization", json=deal(), headers=_auth("wrong-key-000"))
    captured = capfd.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert '"request"' in logs or "'request'" in logs  # the access lines were captured
    assert "decider-key-123" not in logs and "wrong-key-000" not in logs


def test_keyring_matches_only_whole_keys() -> None:
    ring = KeyRing(KEYS)
    assert ring.scopes_of("reader-key-456") == {"read"}
    assert ring.scopes_of("reader-key-45") is None
    assert ring.scopes_of("reader-key-4567") is None
    assert ring.scopes_of("ключ") is None
    assert not KeyRing({}).enabled


def test_api_keys_come_from_the_environment() -> None:
    env = {KEYS_ENV: json.dumps({"k1": ["decide", "read"]})}
    settings = ServiceSettings.from_options(environ=env, policies_dir=POLICIES)
    assert settings.api_keys == {"k1": frozenset({"decide", "read"})}
    assert "k1" not in repr(settings)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"k": "decide"}', '{"k": ["root"]}',
                                  '{"": ["read"]}'])
def test_malformed_keys_are_a_startup_error_naming_the_variable(text: str) -> None:
    with pytest.raises(SettingsError, match=KEYS_ENV):
        parse_api_keys(text)


def test_without_keys_only_loopback_may_be_bound() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        ServiceSettings(host=host, policies_dir=POLICIES).check_bind()
    with pytest.raises(SettingsError, match=r"refusing to listen on 0\.0\.0\.0 without API keys"):
        ServiceSettings(host="0.0.0.0", policies_dir=POLICIES).check_bind()
    ServiceSettings(host="0.0.0.0", policies_dir=POLICIES,
                    api_keys={"k": frozenset({"read"})}).check_bind()


def test_bad_options_are_settings_errors(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="--engine"):
        ServiceSettings(engine="fast")
    with pytest.raises(SettingsError, match="--workers"):
        ServiceSettings(workers=0)
