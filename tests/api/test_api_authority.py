"""POST /v1/authority/check by logged decision id or inline deal (B1-B5)."""

from __future__ import annotations

from apikit import assert_problem
from fastapi.testclient import TestClient
from samples import CUSTOMER, deal, new_customer

REGION_APPROVER = {"id": "u-2", "level": "REGION", "unit": "CHN"}


def _logged_region_deal(client: TestClient) -> str:
    body = client.post("/v1/decisions/authorization",
                       json=deal(customer_id=new_customer(), contract_value_usd=30_000_000,
                                 requester_id="u-1")).json()
    assert body["required_level"] == "REGION" and body["approver_unit"] == "CHN"
    return str(body["decision_id"])


def test_a_regional_approver_may_approve_a_logged_regional_deal(
        shared_client: TestClient) -> None:
    deal_id = _logged_region_deal(shared_client)
    response = shared_client.post("/v1/authority/check",
                                  json={"decision_id": deal_id, "approver": REGION_APPROVER})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["allowed"] is True and body["deal_decision_id"] == deal_id
    assert body["policy"] == "authority-check" and body["reasons"]
    logged = shared_client.get(f"/v1/decisions/{body['decision_id']}").json()
    assert logged["output"] == {"allowed": True, "request": {
        "decision_id": deal_id, "approver": REGION_APPROVER}}
    assert logged["input"]["approver_id"] == "u-2"


def test_an_office_approver_and_the_requester_are_refused(shared_client: TestClient) -> None:
    deal_id = _logged_region_deal(shared_client)
    low = {"id": "u-3", "level": "OFFICE", "unit": "CN-BJ"}
    own = {"id": "u-1", "level": "REGION", "unit": "CHN"}
    for approver in (low, own):
        body = shared_client.post("/v1/authority/check",
                                  json={"decision_id": deal_id, "approver": approver}).json()
        assert body["allowed"] is False, body
        assert body["reasons"]


def test_a_delegation_in_force_lends_its_authority(shared_client: TestClient) -> None:
    deal_id = _logged_region_deal(shared_client)
    request = {"decision_id": deal_id, "approver": {"id": "u-4", "level": "OFFICE",
                                                    "unit": "CN-BJ"},
               "acting_for": {"id": "boss", "level": "REGION", "unit": "CHN",
                              "valid_from": "2026-11-01", "valid_to": "2026-11-30"},
               "as_of": "2026-11-23"}
    assert shared_client.post("/v1/authority/check", json=request).json()["allowed"] is True
    request["as_of"] = "2026-12-01"
    assert shared_client.post("/v1/authority/check", json=request).json()["allowed"] is False


def test_an_inline_deal_is_decided_then_checked(shared_client: TestClient) -> None:
    body = shared_client.post("/v1/authority/check", json={
        "deal": deal(contract_value_usd=30_000_000), "approver": REGION_APPROVER}).json()
    assert body["allowed"] is True
    assert "deal_decision_id" not in body
    logged = shared_client.get(f"/v1/decisions/{body['decision_id']}").json()
    assert logged["output"]["request"]["deal"]["contract_value_usd"] == 30_000_000
    assert logged["output"]["request"]["approver"] == REGION_APPROVER


def test_a_bad_inline_deal_names_its_fields_under_deal(shared_client: TestClient) -> None:
    raw = deal(contract_value_usd="lots")
    del raw["office"]
    response = shared_client.post("/v1/authority/check",
                                  json={"deal": raw, "approver": REGION_APPROVER})
    assert_problem(response, 422, "deal.contract_value_usd", "deal.office")


def test_an_unknown_decision_id_is_404_naming_decision_id(shared_client: TestClient) -> None:
    response = shared_client.post("/v1/authority/check",
                                  json={"decision_id": "f" * 32, "approver": REGION_APPROVER})
    assert_problem(response, 404, "decision_id")


def test_a_decision_that_is_no_deal_authorization_is_422(shared_client: TestClient) -> None:
    other = shared_client.post("/v1/decisions/customer-qualification", json=CUSTOMER).json()
    response = shared_client.post("/v1/authority/check", json={
        "decision_id": other["decision_id"], "approver": REGION_APPROVER})
    body = assert_problem(response, 422, "decision_id")
    assert "customer-qualification" in body["errors"][0]["message"]


def test_bad_check_requests_are_422_per_field(shared_client: TestClient) -> None:
    url = "/v1/authority/check"
    assert_problem(shared_client.post(url, json={"approver": REGION_APPROVER}), 422,
                   "decision_id")  # give exactly one of decision_id and deal
    assert_problem(shared_client.post(url, json={
        "deal": deal(), "decision_id": "x", "approver": REGION_APPROVER}), 422, "decision_id")
    assert_problem(shared_client.post(url, json={
        "deal": deal(), "approver": {"id": "u", "level": "KING", "unit": "MARS"}}), 422,
        "approver.level", "approver.unit")
    assert_problem(shared_client.post(url, json={"deal": deal()}), 422, "approver")
    assert_problem(shared_client.post(url, content=b"[1,"), 400, "")
