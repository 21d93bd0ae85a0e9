"""Policy listing, health, readiness, metrics, OpenAPI and docs."""

from __future__ import annotations

from apikit import assert_problem
from fastapi.testclient import TestClient
from samples import deal


def test_policies_are_listed_with_versions_and_where_to_decide(
        shared_client: TestClient) -> None:
    body = shared_client.get("/v1/policies").json()
    assert len(body["bundle_hash"]) == 64
    by_id = {p["id"]: p for p in body["policies"]}
    assert set(by_id) == {"authorization", "authority-check", "customer-qualification",
                          "project-grading"}
    authorization = by_id["authorization"]
    assert authorization["current_version"] == "1"
    assert [v["version"] for v in authorization["versions"]] == ["1", "2"]
    assert authorization["versions"][1]["effective_from"] == "2027-01-01"
    assert authorization["decide"] == "/v1/decisions/authorization"
    assert by_id["authority-check"]["decide"] == "/v1/authority/check"
    assert authorization["title"]["zh"] and authorization["title"]["en"]


def test_a_policy_shows_its_input_schema(shared_client: TestClient) -> None:
    body = shared_client.get("/v1/policies/authorization").json()
    schema = body["input_schema"]
    assert schema["additionalProperties"] is False
    assert "contract_value_usd" in schema["properties"]
    assert set(schema["required"]) >= {"decision_point", "office", "contract_value_usd"}
    assert body["outputs"] == ["outcome", "required_level", "approver_unit"]


def test_an_unknown_policy_is_404_when_read(shared_client: TestClient) -> None:
    assert_problem(shared_client.get("/v1/policies/nope"), 404)


def test_health_and_readiness(shared_client: TestClient) -> None:
    assert shared_client.get("/healthz").json() == {"status": "ok"}
    ready = shared_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["store"] is True and ready.json()["policies"] is True


def test_readiness_fails_without_the_store(make_client: object) -> None:
    client: TestClient = make_client()  # type: ignore[operator]
    store = client.app.state.ctx.store  # type: ignore[attr-defined]
    store.close()  # writes now fail with StoreClosedError

    def unreachable(_id: str) -> None:
        raise RuntimeError("database gone")

    store.get = unreachable  # and so does the readiness probe
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["store"] is False
    assert_problem(client.post("/v1/decisions/authorization", json=deal()), 503)


def test_metrics_count_decisions_by_policy_and_outcome(shared_client: TestClient) -> None:
    shared_client.post("/v1/decisions/authorization", json=deal(trade_compliance="FAIL"))
    text = shared_client.get("/metrics").text
    assert 'decision_service_decisions_total{outcome="deny",policy="authorization"}' in text
    assert "decision_service_decision_seconds_bucket" in text
    assert 'decision_service_http_request_seconds_count{method="POST",' \
           'route="/v1/decisions/{policy}"' in text


def test_openapi_and_docs_are_served(shared_client: TestClient) -> None:
    document = shared_client.get("/openapi.json").json()
    paths = document["paths"]
    for path in ("/v1/decisions/authorization", "/v1/decisions/authorization/batch",
                 "/v1/decisions/authorization/preview", "/v1/decisions/{decision_id}",
                 "/v1/authority/check", "/v1/policies", "/v1/policies/{policy}", "/healthz",
                 "/readyz", "/metrics", "/v1/admin/reload", "/v1/org", "/v1/org/{code}"):
        assert path in paths, path
    responses = paths["/v1/decisions/authorization"]["post"]["responses"]
    assert "application/problem+json" in responses["422"]["content"]
    assert "AuthorityRequest" in document["components"]["schemas"]
    assert "/bench/constant" not in paths
    docs = shared_client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def _sample(text: str, name: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


def test_metrics_show_the_log_group_commits_as_the_writer_counts_them(
        make_client: object) -> None:
    client: TestClient = make_client()  # type: ignore[operator]
    before = client.get("/metrics").text
    for customer in ("M-1", "M-2", "M-3"):
        assert client.post("/v1/decisions/authorization",
                           json=deal(customer_id=customer)).status_code == 200
    batch = {"items": [deal(customer_id=f"M-B{i}") for i in range(5)]}
    assert client.post("/v1/decisions/authorization/batch", json=batch).status_code == 200
    text = client.get("/metrics").text
    records = _sample(text, "decision_service_log_records_total")
    commits = _sample(text, "decision_service_log_commits_total")
    # Eight decisions logged since the first scrape; the batch was one group of five.
    assert records - _sample(before, "decision_service_log_records_total") == 8
    assert 1 <= commits - _sample(before, "decision_service_log_commits_total") <= 4
    assert _sample(text, "decision_service_log_largest_group") >= 5
    assert _sample(text, "decision_service_log_failed_groups_total") == 0
    assert _sample(text, "decision_service_log_writer_busy_seconds_total") > _sample(
        before, "decision_service_log_writer_busy_seconds_total")
