"""A10 deal splitting through the API: an ATC sees the routed ATCs of the same
customer and office in the 90 days before it, also when sent at the same moment."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from samples import deal, new_customer

URL = "/v1/decisions/authorization"


def _atc(customer: str, value: float, as_of: str, office: str = "CN-BJ") -> dict[str, object]:
    return deal(decision_point="ATC", customer_id=customer, contract_value_usd=value,
                as_of=as_of, office=office)


def test_the_second_atc_of_a_customer_and_office_sees_the_first(
        shared_client: TestClient) -> None:
    customer = new_customer()
    first = shared_client.post(URL, json=_atc(customer, 15_000_000, "2026-09-01")).json()
    assert first["required_level"] == "OFFICE"
    assert first["history"] == {"prior_atc_total_usd": 0.0}
    second = shared_client.post(URL, json=_atc(customer, 15_000_000, "2026-11-23")).json()
    assert second["history"] == {"prior_atc_total_usd": 15_000_000.0}
    assert second["required_level"] == "REGION"  # 30,000,000 together: over the office limit
    logged = shared_client.get(f"/v1/decisions/{second['decision_id']}").json()
    assert logged["output"]["history"] == {"prior_atc_total_usd": 15_000_000.0}


def test_atcs_outside_the_window_or_of_another_office_are_not_added(
        shared_client: TestClient) -> None:
    customer = new_customer()
    shared_client.post(URL, json=_atc(customer, 15_000_000, "2026-08-01"))  # 114 days before
    shared_client.post(URL, json=_atc(customer, 15_000_000, "2026-11-01", office="CN-SH"))
    shared_client.post(URL, json=deal(customer_id=customer, contract_value_usd=15_000_000))
    later = shared_client.post(URL, json=_atc(customer, 15_000_000, "2026-11-23")).json()
    assert later["history"] == {"prior_atc_total_usd": 0.0}
    assert later["required_level"] == "OFFICE"


def test_a_denied_atc_does_not_count(shared_client: TestClient) -> None:
    customer = new_customer()
    denied = _atc(customer, 15_000_000, "2026-11-01")
    denied["trade_compliance"] = "FAIL"
    assert shared_client.post(URL, json=denied).json()["outcome"] == "deny"
    later = shared_client.post(URL, json=_atc(customer, 1_000_000, "2026-11-23")).json()
    assert later["history"] == {"prior_atc_total_usd": 0.0}


def test_two_halves_sent_at_once_are_both_counted(shared_client: TestClient) -> None:
    for _ in range(5):
        customer = new_customer()
        halves = [_atc(customer, 12_000_000, "2026-11-23") for _ in range(2)]
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda raw: shared_client.post(URL, json=raw).json(),
                                    halves))
        priors = sorted(a["history"]["prior_atc_total_usd"] for a in answers)
        assert priors == [0.0, 12_000_000.0], answers
        assert sorted(a["required_level"] for a in answers) == ["OFFICE", "REGION"]


def test_halves_in_one_batch_see_each_other(shared_client: TestClient) -> None:
    customer = new_customer()
    items = [_atc(customer, 12_000_000, "2026-11-23") for _ in range(3)]
    results = shared_client.post(f"{URL}/batch", json={"items": items}).json()["results"]
    priors = sorted(r["history"]["prior_atc_total_usd"] for r in results)
    assert priors == [0.0, 12_000_000.0, 24_000_000.0]


def test_decisions_logged_through_the_api_replay_exactly(shared_client: TestClient) -> None:
    from decision_service.replay import replay

    customer = new_customer()
    for as_of in ("2026-10-01", "2026-11-23"):
        shared_client.post(URL, json=_atc(customer, 15_000_000, as_of))
    ctx = shared_client.app.state.ctx  # type: ignore[attr-defined]
    results = list(replay(ctx.registry.current, ctx.store.iter_records()))
    assert results and [r for r in results if not r.ok] == []
    assert ctx.store.verify_chain() == []
