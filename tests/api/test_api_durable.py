"""The durable-rules engine behind the API: same answers, reload closes old rulesets."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from samples import deal, new_customer

URL = "/v1/decisions/authorization"


@pytest.mark.slow
@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_the_durable_engine_answers_like_the_compiled_one(make_client: Any) -> None:
    durable: TestClient = make_client(engine="durable")
    compiled: TestClient = make_client(engine="compiled")
    customer = new_customer()
    raws = [deal(contract_value_usd=v, customer_id=customer, decision_point="ATC")
            for v in (1_000_000, 15_000_000, 30_000_000)]
    for raw in raws:
        got = durable.post(URL, json=raw).json()
        want = compiled.post(URL, json=raw).json()
        assert got["engine"] == "durable" and want["engine"] == "compiled"
        for field in ("outcome", "required_level", "approver_unit", "history"):
            assert got[field] == want[field], field
        assert [r["rule"] for r in got["reasons"]] == [r["rule"] for r in want["reasons"]]
    batch = durable.post(f"{URL}/batch", json={"items": raws}).json()["results"]
    assert [r["engine"] for r in batch] == ["durable"] * 3


@pytest.mark.slow
@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_durable_rulesets_survive_reloads_while_deciding(make_client: Any) -> None:
    client: TestClient = make_client(engine="durable")
    for _ in range(2):
        assert client.post("/v1/admin/reload").status_code == 200
        answer = client.post(URL, json=deal())
        assert answer.status_code == 200, answer.text
        check = client.post("/v1/authority/check", json={
            "decision_id": answer.json()["decision_id"],
            "approver": {"id": "u-9", "level": "OFFICE", "unit": "CN-BJ"}})
        assert check.status_code == 200 and check.json()["engine"] == "durable"
