"""The CRM contract, version 2, on both stores: safe retries with an
Idempotency-Key, deals decided again (deal_id), previews that log nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from apikit import AppMaker
from fastapi.testclient import TestClient
from samples import deal, new_customer

URL = "/v1/decisions/authorization"


def _atc(customer: str, value: float = 12_000_000, **changes: object) -> dict[str, object]:
    return deal(decision_point="ATC", customer_id=customer, contract_value_usd=value,
                **changes)


def _prior(answer: dict[str, object]) -> object:
    history = answer["history"]
    assert isinstance(history, dict)
    return history["prior_atc_total_usd"]


def _count(client: TestClient) -> int:
    return client.app.state.ctx.store.count()  # type: ignore[attr-defined,no-any-return]


def test_the_same_deal_posted_three_times_with_its_deal_id_stays_at_office(
        shared_client: TestClient) -> None:
    # The issue: OFFICE, REGION, REGION (prior 0 -> 12M -> 24M) for one 12M deal.
    raw = _atc(new_customer(), deal_id="D-1")
    levels = [shared_client.post(URL, json=raw).json()["required_level"] for _ in range(3)]
    assert levels == ["OFFICE", "OFFICE", "OFFICE"]


def test_a_retry_with_the_key_returns_the_first_answer_and_logs_nothing(
        shared_client: TestClient) -> None:
    raw = _atc(new_customer())  # no deal_id: only the key makes the retry safe
    headers = {"Idempotency-Key": f"k-{raw['customer_id']}"}
    first = shared_client.post(URL, json=raw, headers=headers)
    logged = _count(shared_client)
    retries = [shared_client.post(URL, json=raw, headers=headers) for _ in range(2)]
    assert "Idempotent-Replayed" not in first.headers
    for retry in retries:
        assert retry.status_code == 200
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.json() == first.json()
    assert _count(shared_client) == logged
    assert first.json()["required_level"] == "OFFICE"


def test_the_same_key_with_another_body_is_422(shared_client: TestClient) -> None:
    raw = _atc(new_customer())
    headers = {"Idempotency-Key": f"k2-{raw['customer_id']}"}
    assert shared_client.post(URL, json=raw, headers=headers).status_code == 200
    other = shared_client.post(URL, json={**raw, "contract_value_usd": 1}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"


def test_a_key_that_is_not_visible_ascii_is_422(shared_client: TestClient) -> None:
    answer = shared_client.post(URL, json=deal(), headers={"Idempotency-Key": "a b"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "Idempotency-Key"


def test_two_concurrent_requests_with_one_key_make_one_decision(make_client: AppMaker) -> None:
    client = make_client()
    for attempt in range(3):
        raw = _atc(new_customer())
        headers = {"Idempotency-Key": f"race-{attempt}"}
        gate = threading.Barrier(4)

        def send(_: int, raw: dict[str, object] = raw, headers: dict[str, str] = headers,
                 gate: threading.Barrier = gate) -> dict[str, object]:
            gate.wait(30)
            answer = client.post(URL, json=raw, headers=headers)
            assert answer.status_code == 200, answer.text
            return answer.json()  # type: ignore[no-any-return]

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(send, range(4)))
        assert len({a["decision_id"] for a in answers}) == 1
        assert all(_prior(a) == 0.0 for a in answers)
    assert _count(client) == 3


def test_a_batch_retried_with_its_key_is_answered_from_the_log(
        shared_client: TestClient) -> None:
    customer = new_customer()
    body = {"items": [_atc(customer), _atc(customer), {"office": "XX"}]}
    headers = {"Idempotency-Key": f"b-{customer}"}
    first = shared_client.post(f"{URL}/batch", json=body, headers=headers)
    logged = _count(shared_client)
    again = shared_client.post(f"{URL}/batch", json=body, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and _count(shared_client) == logged
    other = shared_client.post(f"{URL}/batch", json={"items": body["items"][:1]},
                               headers=headers)
    assert other.status_code == 422


def test_a_redecided_deal_replaces_its_earlier_decision_and_other_deals_still_count(
        shared_client: TestClient) -> None:
    customer = new_customer()
    first = shared_client.post(URL, json=_atc(customer, 12_000_000, deal_id="D-A")).json()
    assert _prior(first) == 0.0
    # The salesperson edits deal A: its earlier decision no longer counts.
    edited = shared_client.post(URL, json=_atc(customer, 15_000_000, deal_id="D-A")).json()
    assert _prior(edited) == 0.0 and edited["required_level"] == "OFFICE"
    # Another deal of the same customer and office counts A's latest decision only.
    other = shared_client.post(URL, json=_atc(customer, 6_000_000, deal_id="D-B")).json()
    assert _prior(other) == 15_000_000.0 and other["required_level"] == "REGION"
    # A decision without a deal_id counts both deals, and itself every time it is sent.
    loose = [shared_client.post(URL, json=_atc(customer, 1_000_000)).json() for _ in range(2)]
    assert [_prior(a) for a in loose] == [21_000_000.0, 22_000_000.0]
    # Deal A decided again sees B and the loose ones, never itself.
    again = shared_client.post(URL, json=_atc(customer, 15_000_000, deal_id="D-A")).json()
    assert _prior(again) == 8_000_000.0


def test_a_deal_redecided_as_denied_stops_counting(shared_client: TestClient) -> None:
    customer = new_customer()
    shared_client.post(URL, json=_atc(customer, 12_000_000, deal_id="D-X"))
    denied = shared_client.post(URL, json=_atc(customer, 12_000_000, deal_id="D-X",
                                               trade_compliance="FAIL")).json()
    assert denied["outcome"] == "deny"
    later = shared_client.post(URL, json=_atc(customer, 1_000_000, deal_id="D-Y")).json()
    assert _prior(later) == 0.0


def test_one_deal_twice_in_a_batch_counts_once(shared_client: TestClient) -> None:
    customer = new_customer()
    items = [_atc(customer, deal_id="D-1"), _atc(customer, deal_id="D-1"),
             _atc(customer, 1_000_000, deal_id="D-2")]
    results = shared_client.post(f"{URL}/batch", json={"items": items}).json()["results"]
    assert [_prior(r) for r in results] == [0.0, 0.0, 12_000_000.0]


def test_preview_logs_nothing_adds_nothing_and_reads_the_prior_total(
        shared_client: TestClient) -> None:
    customer = new_customer()
    shared_client.post(URL, json=_atc(customer, 12_000_000, deal_id="D-1"))
    logged = _count(shared_client)
    previews = [shared_client.post(f"{URL}/preview", json=_atc(customer, 12_000_000,
                                                                deal_id="D-2"))
                for _ in range(2)]
    for preview in previews:
        assert preview.status_code == 200
        body = preview.json()
        assert "decision_id" not in body and _prior(body) == 12_000_000.0
        assert body["required_level"] == "REGION"
    own = shared_client.post(f"{URL}/preview", json=_atc(customer, 12_000_000,
                                                          deal_id="D-1")).json()
    assert _prior(own) == 0.0  # a deal never counts against itself, in a preview too
    assert _count(shared_client) == logged
    after = shared_client.post(URL, json=_atc(customer, 1_000_000)).json()
    assert _prior(after) == 12_000_000.0


def test_preview_rejects_bad_input_like_a_decision(shared_client: TestClient) -> None:
    answer = shared_client.post(f"{URL}/preview", json={"office": "CN-BJ"})
    assert answer.status_code == 422


def test_explain_false_leaves_out_reasons_and_explanation(shared_client: TestClient) -> None:
    full = shared_client.post(URL, json=deal()).json()
    short = shared_client.post(URL, params={"explain": "false"}, json=deal()).json()
    assert "explanation" in full and "reasons" in full
    assert set(short) == {"decision_id", "policy_version", "outcome", "required_level",
                          "approver_unit"}
    assert {k: full[k] for k in short if k != "decision_id"} == \
        {k: v for k, v in short.items() if k != "decision_id"}


@pytest.mark.slow
def test_a_10000_item_batch_without_explanations_answers_in_under_2_mb(
        shared_client: TestClient) -> None:
    items = [deal(customer_id=f"C-{n}", contract_value_usd=1_000 * n) for n in range(10_000)]
    answer = shared_client.post(f"{URL}/batch", json={"items": items, "explain": False})
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert len(results) == 10_000 and all("decision_id" in r for r in results)
    assert len(answer.content) < 2_000_000, len(answer.content)


def test_an_integral_float_is_an_integer_and_a_fraction_is_refused_saying_what_came(
        shared_client: TestClient) -> None:
    whole = shared_client.post(URL, json=deal(payment_term_days=90.0))
    assert whole.status_code == 200
    logged = shared_client.get(f"/v1/decisions/{whole.json()['decision_id']}").json()
    assert logged["input"]["payment_term_days"] == 90
    half = shared_client.post(URL, json=deal(payment_term_days=30.5))
    assert half.status_code == 422
    error = half.json()["errors"][0]
    assert error["field"] == "payment_term_days" and "received number 30.5" in error["message"]
    text = shared_client.post(URL, json=deal(payment_term_days="90")).json()["errors"][0]
    assert 'received string "90"' in text["message"]


def test_a_form_encoded_body_is_415(shared_client: TestClient) -> None:
    for path in (URL, f"{URL}/batch", f"{URL}/preview", "/v1/authority/check"):
        answer = shared_client.post(path, data={"office": "CN-BJ"})
        assert answer.status_code == 415, path
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_today_is_the_date_in_the_business_time_zone(make_client: AppMaker) -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    client = make_client(timezone="Asia/Shanghai")
    undated = {k: v for k, v in deal().items() if k != "as_of"}
    answer = client.post(URL, json=undated).json()
    assert answer["decision_date"] == dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def test_an_unknown_time_zone_is_refused_naming_the_setting() -> None:
    from decision_service.api import ServiceSettings
    from decision_service.api.settings import SettingsError

    with pytest.raises(SettingsError, match="DECISION_SERVICE_TIMEZONE"):
        ServiceSettings(timezone="Mars/Olympus")
    env = {"DECISION_SERVICE_TIMEZONE": "Asia/Shanghai"}
    assert ServiceSettings.from_options(environ=env).timezone == "Asia/Shanghai"


def test_the_org_lists_units_with_names_region_and_watch_list(
        shared_client: TestClient) -> None:
    body = shared_client.get("/v1/org").json()
    units = {u["code"]: u for u in body["units"]}
    assert units["CN-BJ"]["region"] == "CHN" and units["CN-BJ"]["kind"] == "office"
    assert units["CHN"]["name"] == {"zh": "中国地区部", "en": "China"}
    assert any(u["watchlist"] for u in units.values())
    assert shared_client.get("/v1/org/DE").json()["code"] == "DE"


def test_an_unknown_unit_is_404_with_the_closest_codes(shared_client: TestClient) -> None:
    answer = shared_client.get("/v1/org/de")
    assert answer.status_code == 404
    assert answer.json()["errors"][0]["closest"][0] == "DE"
    assert "did you mean DE" in answer.json()["detail"]
    by_name = shared_client.get("/v1/org/Germany").json()
    assert by_name["errors"][0]["closest"][0] == "DE"


def test_an_unknown_office_in_a_decision_names_the_closest_codes(
        shared_client: TestClient) -> None:
    answer = shared_client.post(URL, json=deal(office="de"))
    assert answer.status_code == 422
    error = answer.json()["errors"][0]
    assert error["field"] == "office" and "did you mean DE" in error["message"]
