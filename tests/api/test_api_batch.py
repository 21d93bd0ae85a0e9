"""A batch as one unit of work: one commit for all its decisions, the same
decisions with or without explanations, metrics for each decision."""

from __future__ import annotations

import gc
import re
from typing import Any

from fastapi.testclient import TestClient
from samples import deal, new_customer

from decision_service.collector import collector_paused

URL = "/v1/decisions/authorization/batch"


def _ctx(client: TestClient) -> Any:
    return client.app.state.ctx  # type: ignore[attr-defined]


def _items(customer: str) -> list[object]:
    """Deals of every decision point, A10 ones included, and two bad items."""
    points = ("ATI", "ATB", "ATC", "CHANGE")
    items: list[object] = [
        deal(decision_point=points[n % 4], customer_id=customer,
             contract_value_usd=1_000_000 * (n + 1)) for n in range(700)]
    items[3] = {"office": "CN-BJ"}
    items[650] = "not an object"
    return items


def test_a_batch_is_logged_in_one_commit_before_it_is_answered(
        shared_client: TestClient) -> None:
    store = _ctx(shared_client).store
    commits, count = store.stats().commits, store.count()
    results = shared_client.post(URL, json={"items": _items(new_customer())}).json()["results"]
    assert store.stats().commits == commits + 1  # 698 decisions, more than a group holds
    assert [r.get("index") for r in results if "decision_id" not in r] == [3, 650]
    decided = [r for r in results if "decision_id" in r]
    assert store.count() == count + len(decided) == count + 698
    priors = [r["history"]["prior_atc_total_usd"] for r in decided if "history" in r]
    assert priors == sorted(priors) and priors[0] == 0.0 and priors[-1] > 0  # in order
    assert store.verify_chain() == []


def test_without_explanations_a_batch_decides_and_logs_the_same(
        shared_client: TestClient) -> None:
    full = shared_client.post(URL, json={"items": _items(new_customer())}).json()["results"]
    short = shared_client.post(URL, params={"explain": "false"},
                               json={"items": _items(new_customer())}).json()["results"]
    for long_answer, short_answer in zip(full, short, strict=True):
        if "decision_id" not in long_answer:
            assert short_answer == long_answer
            continue
        assert "reasons" not in short_answer and "explanation" not in short_answer
        assert {k: long_answer[k] for k in short_answer if k != "decision_id"} == \
            {k: v for k, v in short_answer.items() if k != "decision_id"}
    logged = shared_client.get(f"/v1/decisions/{short[0]['decision_id']}").json()
    assert logged["reasons"] == full[0]["reasons"]  # the log keeps them either way


def _metric(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{name}{{{labels}}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_each_decision_of_a_batch(shared_client: TestClient) -> None:
    def counts() -> tuple[float, float, float]:
        text = shared_client.get("/metrics").text
        return (_metric(text, "decision_service_decisions_total",
                        'outcome="deny",policy="authorization"'),
                _metric(text, "decision_service_decision_seconds_count",
                        'policy="authorization"'),
                _metric(text, "decision_service_rejected_inputs_total",
                        'policy="authorization"'))

    before = counts()
    items = [deal(trade_compliance="FAIL"), deal(), {"office": "CN-BJ"}, deal()]
    shared_client.post(URL, json={"items": items})
    after = counts()
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 3, 1]


def test_the_collector_runs_again_after_batches_however_they_overlap_or_end(
        shared_client: TestClient) -> None:
    assert gc.isenabled()
    with collector_paused():
        with collector_paused():  # another batch, in another thread
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    assert shared_client.post("/v1/decisions/nope/batch", json={"items": [deal()]}
                              ).status_code == 404
    shared_client.post(URL, json={"items": [deal(), {"office": "CN-BJ"}]})
    assert gc.isenabled()
