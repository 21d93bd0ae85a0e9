"""Attack 1: deal splitting (A10) dodged by whoever sets the input. Each dodge is
tried against a real log; the test fails if the second half no longer sees the first."""

from __future__ import annotations

import unicodedata

import pytest
from fastapi.testclient import TestClient
from relkit import URL, atc, bearer, days_ago, new_customer

# One character each, as the attack used them: all passed the old identifier check.
INVISIBLE = ["\u2066", "\u2069", "\u061c", "\u00ad", "\u034f", "\u180e", "\u3164", "\ufe0f",
             "\U000e0041", "\u200b", "\u00a0", "\u2028", "\ue000", "\u0085", "\u1160",
             "\ufe00", "\U000e0100", "\u2800"]


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_an_identifier_with_an_invisible_or_format_character_is_refused(
        open_sqlite: TestClient, char: str) -> None:
    customer = new_customer()
    spoofed = customer[:3] + char + customer[3:]
    response = open_sqlite.post(URL, json=atc(spoofed, 1_000_000))
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["customer_id"]
    assert f"U+{ord(char):04X}" in response.json()["errors"][0]["message"]


def test_an_identifier_with_ordinary_inner_spaces_and_cjk_is_accepted(
        open_sqlite: TestClient) -> None:
    response = open_sqlite.post(URL, json=atc("华为 客户 " + new_customer(), 1_000_000))
    assert response.status_code == 200, response.text


def _second_half_level(client: TestClient, first: str, second: str) -> str:
    assert client.post(URL, json=atc(first, 15_000_000)).status_code == 200
    answer = client.post(URL, json=atc(second, 15_000_000)).json()
    assert answer["history"] == {"prior_atc_total_usd": 15_000_000.0}, answer
    return str(answer["required_level"])


@pytest.mark.parametrize("variant", ["lower", "fullwidth_hyphen", "nfd"])
def test_spelling_variants_of_one_customer_are_one_customer_to_a10(
        open_sqlite: TestClient, variant: str) -> None:
    customer = new_customer() + "-É"
    second = {"lower": customer.lower(), "fullwidth_hyphen": customer.replace("-", "\uff0d"),
              "nfd": unicodedata.normalize("NFD", customer)}[variant]
    assert second != customer
    assert _second_half_level(open_sqlite, customer, second) == "REGION"


def test_the_log_keeps_the_identifier_as_sent_in_nfc(open_sqlite: TestClient) -> None:
    customer = "C-\uff0d" + new_customer() + "-Ë"
    answer = open_sqlite.post(URL, json=atc(unicodedata.normalize("NFD", customer),
                                            1_000_000)).json()
    logged = open_sqlite.get(f"/v1/decisions/{answer['decision_id']}").json()
    assert logged["input"]["customer_id"] == customer  # NFC, fullwidth hyphen kept


def test_a_second_half_dated_yesterday_sees_a_first_half_dated_today(
        keyed: TestClient) -> None:
    customer = new_customer()
    first = keyed.post(URL, json=atc(customer, 15_000_000), headers=bearer("decide-only"))
    assert first.status_code == 200, first.text
    second = keyed.post(URL, json=atc(customer, 15_000_000, days_ago(1)),
                        headers=bearer("decide-only")).json()
    assert second["history"] == {"prior_atc_total_usd": 15_000_000.0}, second
    assert second["required_level"] == "REGION"


@pytest.mark.parametrize("as_of", ["2999-12-31", "2027-01-01"])
def test_a_decision_dated_after_today_is_not_logged(keyed: TestClient, as_of: str) -> None:
    response = keyed.post(URL, json=atc(new_customer(), 25_000_000, as_of),
                          headers=bearer("decide-only"))
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["as_of"]


def test_a_decision_dated_more_than_30_days_ago_needs_backdate(keyed: TestClient) -> None:
    raw = atc(new_customer(), 1_000_000, days_ago(31))
    refused = keyed.post(URL, json=raw, headers=bearer("decide-only"))
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["as_of"]
    assert keyed.post(URL, json=atc(new_customer(), 1_000_000, days_ago(30)),
                      headers=bearer("decide-only")).status_code == 200
    assert keyed.post(URL, json=raw, headers=bearer("loader")).status_code == 200


def test_the_bounds_hold_in_a_batch_item_by_item(keyed: TestClient) -> None:
    items = [atc(new_customer(), 1_000_000), atc(new_customer(), 1_000_000, "2999-01-01")]
    results = keyed.post(f"{URL}/batch", json={"items": items},
                         headers=bearer("decide-only")).json()["results"]
    assert "decision_id" in results[0]
    assert results[1]["status"] == 422 and results[1]["index"] == 1


def test_without_keys_every_scope_is_granted_so_history_can_be_loaded(
        open_sqlite: TestClient) -> None:
    response = open_sqlite.post(URL, json=atc(new_customer(), 1_000_000, "2026-01-05"))
    assert response.status_code == 200, response.text
