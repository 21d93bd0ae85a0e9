"""One group commit: futures, in-batch prior totals, duplicates and unstorable values
that fail only their own request, and bulk inserts that keep every byte."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta

import pytest
from storekit import DAY, KEY, draft, fixed, one_batch, outcome, recording, window

from decision_service.store import (
    AggregateQuery,
    DecisionRecord,
    DecisionStore,
    DraftRecord,
    DuplicateDecisionError,
    StoreClosedError,
    StoreError,
    UnstorableValueError,
    open_store,
)


def test_submit_does_not_wait_and_resolves_in_arrival_order(store: DecisionStore) -> None:
    futures = [store.submit(None, fixed()) for _ in range(300)]
    records = [f.result(60) for f in futures]
    assert all(b.prev_hash == a.record_hash for a, b in itertools.pairwise(records))
    assert list(store.iter_records()) == records
    assert store.stats().commits < 300 and store.verify_chain() == []


def test_prior_totals_include_earlier_rows_of_the_batch_in_window_and_key(
    store: DecisionStore,
) -> None:
    store.log_decision(None, fixed(agg_amount=1.0))
    seen: list[float] = []
    with one_batch(store):
        futures = [
            store.submit(window(), recording(seen, agg_amount=10.0)),  # sees 1
            store.submit(None, fixed(decision_date=DAY - timedelta(days=91), agg_amount=20.0)),
            store.submit(None, fixed(decision_date=DAY + timedelta(days=1), agg_amount=40.0)),
            store.submit(None, fixed(agg_key="other", agg_amount=80.0)),
            store.submit(None, fixed(agg_amount=None)),
            store.submit(None, fixed(agg_key=None, agg_amount=None)),
            store.submit(window(), recording(seen, agg_amount=100.0)),  # sees 1 + 10
            store.submit(window(key="other"), recording(seen, agg_key="x")),  # sees 80
            store.submit(window(), recording(seen)),  # sees 1 + 10 + 100
        ]
    assert all(isinstance(outcome(f), DecisionRecord) for f in futures)
    assert seen == [1.0, 11.0, 80.0, 111.0]
    # What the database says afterwards agrees with what the batch computed.
    after: list[float] = []
    store.log_decision(window(), recording(after, agg_amount=0.0))
    assert after == [1.0 + 10.0 + 100.0 + 100.0]
    assert store.verify_chain() == []


def test_a_duplicate_in_a_batch_fails_alone_and_is_not_counted(store: DecisionStore) -> None:
    logged = store.log_decision(None, fixed(agg_amount=100.0))
    seen: list[float] = []
    with one_batch(store):
        futures = [
            store.submit(None, fixed(decision_id=logged.decision_id, agg_amount=5.0)),
            store.submit(window(), recording(seen, decision_id="new-1", agg_amount=7.0)),
            store.submit(window(), recording(seen, decision_id="new-1", agg_amount=9.0)),
            store.submit(window(), recording(seen, decision_id="new-2", agg_amount=1.0)),
        ]
    outcomes = [outcome(f) for f in futures]
    assert isinstance(outcomes[0], DuplicateDecisionError)
    assert isinstance(outcomes[2], DuplicateDecisionError)
    assert isinstance(outcomes[1], DecisionRecord) and isinstance(outcomes[3], DecisionRecord)
    # The refused records count for nobody; each decide() still saw the totals so far.
    assert seen == [100.0, 107.0, 107.0]
    assert store.count() == 4 and store.verify_chain() == []
    assert store.get(logged.decision_id) == logged


UNSTORABLE: list[tuple[str, Callable[[float], DraftRecord]]] = [
    ("agg_key", fixed(agg_key="deal\x0042")),
    ("input value", fixed(input={"deal": {"note": "a\x00b"}})),
    ("input key", fixed(input={"a\x00": 1})),
    ("output in a list", fixed(output={"lines": ["ok", "nul\x00"]})),
    ("reasons", fixed(reasons=[{"text": "\x00"}])),
    ("decision_id", fixed(decision_id="id\x00")),
    ("request_id", fixed(request_id="\x00")),
    ("lone surrogate", fixed(policy="p\ud800")),
    ("not a string", fixed(engine=7)),
]


@pytest.mark.parametrize(("where", "bad"), UNSTORABLE, ids=[w for w, _ in UNSTORABLE])
def test_unstorable_value_fails_only_its_caller(
    store: DecisionStore, where: str, bad: Callable[[float], DraftRecord]
) -> None:
    seen: list[float] = []
    with one_batch(store):
        before = store.submit(window(), recording(seen, agg_amount=10.0))
        refused = store.submit(window(), lambda p: bad(p))
        after = store.submit(window(), recording(seen, agg_amount=10.0))
    error = outcome(refused)
    assert isinstance(error, UnstorableValueError) and isinstance(error, StoreError), where
    assert isinstance(outcome(before), DecisionRecord)
    assert isinstance(outcome(after), DecisionRecord)
    assert seen == [0.0, 10.0]  # the refused draft's amount counted for nobody
    assert store.count() == 3 and store.verify_chain() == []


def test_nul_in_an_aggregate_key_is_refused_at_submit(store: DecisionStore) -> None:
    query = AggregateQuery("deal\x00", DAY - timedelta(days=90), DAY)
    with pytest.raises(UnstorableValueError, match="NUL"):
        store.submit(query, fixed())
    with pytest.raises(UnstorableValueError):
        store.log_decision(query, fixed())
    assert store.log_decision(window(), fixed()).agg_key == KEY
    assert store.count() == 1


# PostgreSQL writes a small batch with INSERTs pipelined with the COMMIT and a large
# one with COPY: a batch of each size.
@pytest.mark.parametrize("others", [0, 100])
def test_text_that_only_looks_special_is_stored_as_it_is(
        store: DecisionStore, others: int) -> None:
    # Escapes of the bulk insert (COPY: backslash, tab, newline, \N) and a literal
    # backslash-u0000, which is not a NUL.
    tricky = "a\\b\tc\nd\re \\N \\u0000 \\x00 'q' \"dq\" ünï 中文 \U0001f600"
    sent = draft(
        policy=tricky,
        policy_version=tricky,
        engine=tricky,
        request_id=tricky,
        agg_key=tricky,
        input={tricky: tricky, "n": [tricky, {"k": tricky}]},
        output={"o": tricky},
        reasons=[{"text": tricky}],
    )
    with one_batch(store):
        future = store.submit(None, lambda p: sent)
        rest = [store.submit(None, fixed()) for _ in range(others)]
    logged = future.result(60)
    fetched = store.get(sent.decision_id)
    assert fetched == logged
    assert fetched is not None and fetched.input == sent.input and fetched.policy == tricky
    assert [f.result(60) for f in rest] == list(store.iter_records())[2:]
    assert store.stats().largest_batch == 1 + others  # after the batch holding the writer
    assert store.verify_chain() == []


def test_ping_answers_until_closed(store_url: str) -> None:
    store = open_store(store_url)
    store.ping()
    store.close()
    with pytest.raises(StoreClosedError):
        store.ping()


def test_submit_after_close_raises_at_once(store_url: str) -> None:
    store = open_store(store_url)
    store.close()
    with pytest.raises(StoreClosedError):
        store.submit(None, fixed())


