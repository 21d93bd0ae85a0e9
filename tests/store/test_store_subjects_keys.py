"""Subjects (a deal decided again replaces its earlier record in the totals) and
idempotency keys (a key already logged is never decided again), on both stores,
across commits and inside one group commit."""

from __future__ import annotations

import pytest
from storekit import DAY, KEY, draft, fixed, one_batch, outcome, recording, window

from decision_service.store import (
    AggregateQuery,
    DecisionRecord,
    DecisionStore,
    IdempotencyClaim,
    IdempotencyKeyUsedError,
    open_store,
)


def deal_window(subject: str | None) -> AggregateQuery:
    base = window()
    return AggregateQuery(base.key, base.since, base.until, subject)


def test_only_the_latest_record_of_a_subject_counts(store: DecisionStore) -> None:
    store.log_decision(None, fixed(agg_subject="deal-1", agg_amount=10.0))
    store.log_decision(None, fixed(agg_subject="deal-1", agg_amount=30.0))
    store.log_decision(None, fixed(agg_amount=5.0))  # no subject: counts every time
    store.log_decision(None, fixed(agg_amount=5.0))
    seen: list[float] = []
    store.log_decision(deal_window("deal-2"), recording(seen, agg_amount=None))
    assert seen == [30.0 + 5.0 + 5.0]


def test_a_subject_never_counts_against_itself(store: DecisionStore) -> None:
    store.log_decision(None, fixed(agg_subject="deal-1", agg_amount=10.0))
    store.log_decision(None, fixed(agg_subject="deal-2", agg_amount=7.0))
    seen: list[float] = []
    store.log_decision(deal_window("deal-1"), recording(seen, agg_subject="deal-1"))
    assert seen == [7.0]


def test_a_later_record_outside_the_key_or_without_amount_replaces_the_earlier(
        store: DecisionStore) -> None:
    store.log_decision(None, fixed(agg_subject="deal-1", agg_amount=10.0))
    store.log_decision(None, fixed(agg_subject="deal-1", agg_key=None, agg_amount=None))
    store.log_decision(None, fixed(agg_subject="deal-3", agg_amount=4.0))
    store.log_decision(None, fixed(agg_subject="deal-3", agg_key="other", agg_amount=4.0))
    seen: list[float] = []
    store.log_decision(deal_window(None), recording(seen, agg_amount=None))
    assert seen == [0.0]


def test_in_one_group_commit_a_subject_decided_again_replaces_its_logged_record(
        store: DecisionStore) -> None:
    store.log_decision(None, fixed(agg_subject="deal-1", agg_amount=10.0))
    seen: list[float] = []
    with one_batch(store):
        futures = [
            store.submit(deal_window("deal-1"), recording(seen, agg_subject="deal-1",
                                                          agg_amount=12.0)),  # sees 0
            store.submit(deal_window("deal-2"), recording(seen, agg_subject="deal-2",
                                                          agg_amount=3.0)),  # sees 12
            store.submit(deal_window("deal-1"), recording(seen, agg_subject="deal-1",
                                                          agg_amount=20.0)),  # sees 3
            store.submit(deal_window(None), recording(seen, agg_amount=1.0)),  # sees 23
        ]
    assert all(isinstance(outcome(f), DecisionRecord) for f in futures)
    assert seen == [0.0, 12.0, 3.0, 23.0]
    after: list[float] = []
    store.log_decision(deal_window(None), recording(after, agg_amount=None))
    assert after == [24.0]


def test_a_logged_key_is_not_decided_again(store: DecisionStore) -> None:
    claim = IdempotencyClaim("k-1", "h-1")
    first = store.submit(None, fixed(idempotency_key="k-1", request_hash="h-1"), claim).result()
    calls: list[float] = []
    for digest, same in (("h-1", True), ("h-2", False)):
        retry = store.submit(None, recording(calls), IdempotencyClaim("k-1", digest))
        error = outcome(retry)
        assert isinstance(error, IdempotencyKeyUsedError)
        assert error.decision_id == first.decision_id and error.same_request is same
    assert calls == [] and store.count() == 1
    assert store.get_by_keys(["k-1", "k-2"]) == {"k-1": first}


def test_one_key_twice_in_one_group_commit_makes_one_record(store: DecisionStore) -> None:
    claim = IdempotencyClaim("k-1", "h-1")
    with one_batch(store):
        futures = [store.submit(window(), fixed(idempotency_key="k-1", request_hash="h-1"),
                                claim) for _ in range(3)]
    first, *others = [outcome(f) for f in futures]
    assert isinstance(first, DecisionRecord)
    for other in others:
        assert isinstance(other, IdempotencyKeyUsedError)
        assert other.decision_id == first.decision_id and other.same_request
    assert store.count() == 2  # the holder and one decision


@pytest.mark.pg
def test_two_stores_sharing_postgresql_make_one_record_per_key(pg_store_url: str) -> None:
    with open_store(pg_store_url) as one, open_store(pg_store_url) as two:
        claim = IdempotencyClaim("k-9", "h")
        futures = [s.submit(None, fixed(idempotency_key="k-9", request_hash="h"), claim)
                   for s in (one, two, one, two)]
        outcomes = [outcome(f) for f in futures]
        records = [o for o in outcomes if isinstance(o, DecisionRecord)]
        assert len(records) == 1 and one.count() == 1
        assert all(o.decision_id == records[0].decision_id for o in outcomes
                   if isinstance(o, IdempotencyKeyUsedError))


def test_records_without_the_new_fields_keep_their_hash() -> None:
    from decision_service.store import canonical_bytes

    plain = draft(agg_key=KEY, decision_date=DAY)
    assert b"idempotency_key" not in canonical_bytes(plain)
    assert b"agg_subject" in canonical_bytes(draft(agg_subject="d"))


@pytest.mark.pg
def test_two_stores_sharing_postgresql_count_a_subject_by_its_latest_record(
        pg_store_url: str) -> None:
    seen: list[float] = []
    with open_store(pg_store_url) as one, open_store(pg_store_url) as two:
        futures = [store.submit(deal_window("deal-1"), recording(
            seen, agg_subject="deal-1", agg_amount=float(amount)))
            for amount, store in zip(range(1, 21), [one, two] * 10, strict=True)]
        for future in futures:
            future.result(60)
        after: list[float] = []
        one.log_decision(deal_window(None), recording(after, agg_amount=None))
        chain = [r for r in one.iter_records() if r.agg_subject == "deal-1"]
    assert seen == [0.0] * 20  # never against itself, from either store
    assert len(chain) == 20 and after == [chain[-1].agg_amount]
