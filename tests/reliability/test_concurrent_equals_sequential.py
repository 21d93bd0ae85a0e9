"""8 threads and 2 server processes sending 20,000 mixed decisions give exactly the
answers of a sequential run, on each engine (compiled on SQLite, durable on
PostgreSQL; both processes share one log).

What "exactly" means with A10: an ATC's answer depends on the deals of its customer
logged before it, so the order of requests for one customer matters, while the
order between customers does not. Each thread owns its own customers and sends its
requests one after another, so within every A10 group the order is the same in the
concurrent run and in the sequential one (thread 0's requests, then thread 1's, …,
on a fresh log). Every answer is then compared, request by request, leaving out
only what names the record (decision_id, deal_decision_id).

The requests: batches of 100 of the three decision policies (ATC deals of three
customers per thread, A10-heavy, and ATB deals, project gradings, customer
qualifications) and an authority check of an inline deal after each batch."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from relkit import atc, deal, store_url
from relserver import Server, start_server

THREADS = 8
BATCHES = 25
BATCH = 100  # THREADS * BATCHES * BATCH = 20,000 decisions, plus 200 authority checks
APPROVER = {"id": "u-2", "level": "REGION", "unit": "CHN"}
PROJECT = {"office": "CN-BJ", "contract_value_usd": 500_000, "strategic_customer": False,
           "countries": 1, "regions": 1, "new_product": False, "risk_level": "LOW",
           "gross_margin_pct": 30}
CUSTOMER = {"kyc_complete": True, "sanctions_hit": False, "country": "DE",
            "industry": "TELECOM_OPERATOR", "integrity_incidents_3y": 0, "credit_rating": "B",
            "annual_revenue_potential_usd": 5_000_000, "relationship_years": 1}

Request = tuple[str, Any]


def _batch(thread: int, number: int) -> Request:
    kind = number % 4
    if kind == 3:
        items: list[Any] = [{**PROJECT, "contract_value_usd": 100_000 * (i + 1),
                             "countries": 1 + i % 4} for i in range(BATCH)]
        return "/v1/decisions/project-grading/batch", {"items": items}
    if kind == 2:
        items = [{**CUSTOMER, "credit_rating": "ABCD"[i % 4], "relationship_years": i % 7}
                 for i in range(BATCH)]
        return "/v1/decisions/customer-qualification/batch", {"items": items}
    # A10-heavy: a few customers per thread, each deal under a limit alone, over together.
    items = [atc(f"C-T{thread}-{i % 3}", 4_000_000 + 1_000_000 * (i % 5))
             if i % 4 else deal(customer_id=f"C-T{thread}-{i % 3}") for i in range(BATCH)]
    return "/v1/decisions/authorization/batch", {"items": items}


def _requests(thread: int) -> list[Request]:
    requests: list[Request] = []
    for number in range(BATCHES):
        requests.append(_batch(thread, number))
        check_deal = deal(customer_id=f"C-T{thread}-check", contract_value_usd=
                          300_000 * (1 + number % 9))
        requests.append(("/v1/authority/check", {"deal": check_deal, "approver": APPROVER}))
    return requests


def _comparable(answer: Any) -> Any:
    if isinstance(answer, list):
        return [_comparable(item) for item in answer]
    if isinstance(answer, dict):
        return {k: _comparable(v) for k, v in answer.items()
                if k not in ("decision_id", "deal_decision_id")}
    return answer


def _send(base_url: str, requests: list[Request]) -> list[Any]:
    answers = []
    with httpx.Client(base_url=base_url, timeout=300) as http:
        for path, body in requests:
            answer = http.post(path, json=body)
            assert answer.status_code == 200, answer.text
            answers.append(_comparable(answer.json()))
    return answers


def _concurrently(servers: list[Server]) -> list[list[Any]]:
    answers: list[list[Any]] = [[] for _ in range(THREADS)]
    failures: list[BaseException] = []

    def run(thread: int) -> None:
        try:
            answers[thread] = _send(servers[thread % len(servers)].base_url, _requests(thread))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return answers


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize(("engine", "store_kind"), [
    ("compiled", "sqlite"), pytest.param("durable", "postgresql", marks=pytest.mark.pg)])
def test_8_threads_and_2_processes_give_the_answers_of_a_sequential_run(
        tmp_path: Path, engine: str, store_kind: str) -> None:
    with store_url(store_kind, tmp_path / "concurrent") as shared, \
            store_url(store_kind, tmp_path / "sequential") as alone:
        servers = [start_server(tmp_path / f"run{n}", shared, "--engine", engine)
                   for n in range(2)]
        try:
            concurrent = _concurrently(servers)
        finally:
            for server in servers:
                server.stop()
        server = start_server(tmp_path / "run-seq", alone, "--engine", engine)
        try:
            sequential = [_send(server.base_url, _requests(n)) for n in range(THREADS)]
        finally:
            server.stop()
    items = [item for answers in sequential for answer in answers
             for item in answer.get("results", [answer])]
    assert len(items) == THREADS * BATCHES * (BATCH + 1)
    assert all("type" not in item for item in items)  # no problem among them
    # A10 at work: ATCs saw their customer's earlier totals, which moved deals of the
    # same figures to different levels.
    atcs = [item for item in items if "history" in item]
    assert any(item["history"]["prior_atc_total_usd"] > 0 for item in atcs)
    assert len({item["required_level"] for item in atcs}) > 1
    for thread in range(THREADS):
        for number, (got, expected) in enumerate(zip(concurrent[thread], sequential[thread],
                                                     strict=True)):
            assert got == expected, f"thread {thread}, request {number}"
