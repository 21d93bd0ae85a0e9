"""POST /v1/decisions/{policy}, batches and GET /v1/decisions/{id}, on both stores."""

from __future__ import annotations

from typing import Any

import pytest
from apikit import assert_problem
from fastapi.testclient import TestClient
from samples import CUSTOMER, PROJECT, TODAY, deal, new_customer


def test_an_authorization_decision_answers_the_contract_fields(shared_client: TestClient) -> None:
    response = shared_client.post("/v1/decisions/authorization", json=deal())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["policy"] == "authorization" and body["policy_version"] == "1"
    assert (body["outcome"], body["required_level"], body["approver_unit"]) == \
        ("route", "SYSTEM_DEPT", "CN-BJ")
    assert len(body["decision_id"]) == 32
    assert {r["rule"] for r in body["reasons"]} >= {"A1.system-dept", "A2.system-dept"}
    assert all(r["message"] for r in body["reasons"])


@pytest.mark.parametrize(("policy", "raw", "fields"), [
    ("project-grading", PROJECT, {"grade": "D", "score": 0, "managing_level": "SYSTEM_DEPT",
                                  "tracked_by": ["CN-BJ"]}),
    ("customer-qualification", CUSTOMER, {"outcome": "qualified", "tier": "B"}),
])
def test_grading_and_qualification_answer_their_result_fields(
        shared_client: TestClient, policy: str, raw: dict[str, Any],
        fields: dict[str, Any]) -> None:
    body = shared_client.post(f"/v1/decisions/{policy}", json=raw).json()
    assert body["policy"] == policy
    assert {k: body[k] for k in fields} == fields


def test_every_answered_decision_is_already_in_the_log(shared_client: TestClient) -> None:
    raw = deal(customer_id=new_customer(), requester_id="u-7")
    answer = shared_client.post("/v1/decisions/authorization", json=raw,
                                headers={"X-Request-ID": "crm-req-0001"}).json()
    logged = shared_client.get(f"/v1/decisions/{answer['decision_id']}")
    assert logged.status_code == 200
    record = logged.json()
    assert record["decision_id"] == answer["decision_id"]
    assert record["input"]["customer_id"] == raw["customer_id"]
    assert record["input"]["non_standard_terms"] == []  # validated input, defaults filled
    assert record["output"] == {"outcome": "route", "required_level": "SYSTEM_DEPT",
                                "approver_unit": "CN-BJ"}
    assert [r["rule"] for r in record["reasons"]] == [r["rule"] for r in answer["reasons"]]
    assert record["request_id"] == "crm-req-0001"
    assert record["engine"] == "compiled" and record["decision_date"] == TODAY
    policies = shared_client.get("/v1/policies").json()
    assert record["bundle_hash"] == policies["bundle_hash"]
    assert len(record["record_hash"]) == 64 and record["decided_at"].endswith("+00:00")


def test_a_sane_request_id_is_kept_and_an_insane_one_replaced(shared_client: TestClient) -> None:
    kept = shared_client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = shared_client.get("/healthz", headers={"X-Request-ID": "bad id\twith junk"})
    assert replaced.headers["x-request-id"] != "bad id\twith junk"
    assert len(replaced.headers["x-request-id"]) == 32


def test_malformed_json_is_400(shared_client: TestClient) -> None:
    for body in (b"{", b'{"office": "CN-BJ",}', b"", b"\xff\xfe", b"NaN"):
        response = shared_client.post("/v1/decisions/authorization", content=body)
        assert_problem(response, 400, "")


def test_a_body_that_is_no_object_is_422(shared_client: TestClient) -> None:
    for body in (b"[]", b'"deal"', b"5", b"null"):
        response = shared_client.post("/v1/decisions/authorization", content=body)
        assert_problem(response, 422, "")


def test_wrong_types_unknown_and_missing_fields_are_422_one_entry_per_field(
        shared_client: TestClient) -> None:
    raw = deal(contract_value_usd="1000000", gross_margin_pct=True, surprise=1)
    del raw["office"]
    body = assert_problem(shared_client.post("/v1/decisions/authorization", json=raw), 422,
                          "contract_value_usd", "gross_margin_pct", "surprise", "office")
    codes = {e["field"]: e["code"] for e in body["errors"]}
    assert codes == {"contract_value_usd": "type", "gross_margin_pct": "type",
                     "surprise": "unknown_field", "office": "missing"}


def test_out_of_range_and_unknown_codes_are_422(shared_client: TestClient) -> None:
    raw = deal(gross_margin_pct=101, office="ATLANTIS", as_of="2026-02-30")
    assert_problem(shared_client.post("/v1/decisions/authorization", json=raw), 422,
                   "gross_margin_pct", "office", "as_of")


def test_a_nul_character_is_bad_input_not_a_database_error(shared_client: TestClient) -> None:
    raw = deal(decision_point="ATC", customer_id="C-\u0000-1")
    assert_problem(shared_client.post("/v1/decisions/authorization", json=raw), 422,
                   "customer_id")


def test_an_unknown_policy_is_404(shared_client: TestClient) -> None:
    body = assert_problem(shared_client.post("/v1/decisions/no-such-policy", json=deal()), 404)
    assert "authorization" in body["detail"]


def test_the_internal_authority_check_policy_has_no_decision_endpoint(
        shared_client: TestClient) -> None:
    body = assert_problem(shared_client.post("/v1/decisions/authority-check", json={}), 404)
    assert "/v1/authority/check" in body["detail"]


def test_a_body_over_the_limit_is_413_even_without_content_length(make_client: Any) -> None:
    client: TestClient = make_client(max_body_bytes=4096)
    big = deal(customer_id="C-" + "9" * 150, padding="x" * 5000)
    assert_problem(client.post("/v1/decisions/authorization", json=big), 413, "")

    def chunks() -> Any:  # no Content-Length: the limit holds while streaming
        yield b'{"items": ['
        for _ in range(100):
            yield b'{"a": "' + b"y" * 100 + b'"},'
        yield b"{}]}"

    assert_problem(client.post("/v1/decisions/authorization/batch", content=chunks()), 413, "")


def test_a_batch_answers_one_result_or_problem_per_item_in_order(
        shared_client: TestClient) -> None:
    items = [deal(contract_value_usd=v) for v in (1_000_000, 30_000_000)]
    items.insert(1, {"office": "CN-BJ"})
    items.append("not an object")
    response = shared_client.post("/v1/decisions/authorization/batch", json={"items": items})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 4
    assert results[0]["required_level"] == "SYSTEM_DEPT"
    assert results[1]["status"] == 422 and results[1]["index"] == 1
    assert "decision_point" in {e["field"] for e in results[1]["errors"]}
    assert results[2]["required_level"] == "REGION"
    assert results[3]["status"] == 422 and results[3]["errors"][0]["field"] == ""
    for result in (results[0], results[2]):  # each item is logged
        assert shared_client.get(f"/v1/decisions/{result['decision_id']}").status_code == 200


def test_a_batch_envelope_must_be_items_only(shared_client: TestClient) -> None:
    url = "/v1/decisions/authorization/batch"
    assert_problem(shared_client.post(url, json={}), 422, "items")
    assert_problem(shared_client.post(url, json={"items": {}}), 422, "items")
    assert_problem(shared_client.post(url, json={"items": [], "more": 1}), 422, "more")
    assert_problem(shared_client.post(url, json=[deal()]), 422, "")
    assert shared_client.post(url, json={"items": []}).json() == {"results": []}


def test_a_batch_over_the_item_limit_is_422_naming_items(make_client: Any) -> None:
    client: TestClient = make_client(max_batch_items=3)
    body = assert_problem(client.post("/v1/decisions/authorization/batch",
                                      json={"items": [deal()] * 4}), 422, "items")
    assert "at most 3" in body["errors"][0]["message"]


def test_a_batch_for_an_unknown_policy_is_404(shared_client: TestClient) -> None:
    assert_problem(shared_client.post("/v1/decisions/nope/batch", json={"items": []}), 404)


def test_an_unknown_or_malformed_decision_id_is_404(shared_client: TestClient) -> None:
    for decision_id in ("0" * 32, "no such id", "%00", "x" * 500):
        assert_problem(shared_client.get(f"/v1/decisions/{decision_id}"), 404)


def test_unknown_routes_and_methods_answer_problems(shared_client: TestClient) -> None:
    assert_problem(shared_client.get("/v2/nothing"), 404)
    assert_problem(shared_client.delete("/v1/policies"), 405)
