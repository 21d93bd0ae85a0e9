"""Records survive the round trip unchanged and are linked by the chain rule."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from storekit import draft

from decision_service.store import (
    GENESIS_HASH,
    DecisionRecord,
    DecisionStore,
    canonical_bytes,
)


def test_round_trip_keeps_every_field(store: DecisionStore) -> None:
    sent = draft(
        request_id="req-7",
        input={"deal": {"amount": 0.1, "lines": [1, 2.5, None, "x"]}, "ünï": "中文"},
        output={"approved": False, "limit": 1e-7},
        reasons=[{"rule": "r1"}, {"rule": "r2", "args": {"n": 3}}],
        agg_amount=123.456,
    )
    logged = store.log_decision(None, lambda prior: sent)
    fetched = store.get(sent.decision_id)
    assert fetched == logged
    assert [r for r in store.iter_records()] == [logged]
    for field in dataclasses.fields(sent):
        assert getattr(fetched, field.name) == getattr(sent, field.name), field.name
    assert fetched is not None and fetched.decided_at.utcoffset() == timedelta(0)


def test_round_trip_keeps_nulls(store: DecisionStore) -> None:
    sent = draft(request_id=None, agg_key=None, agg_amount=None, reasons=[])
    store.log_decision(None, lambda prior: sent)
    fetched = store.get(sent.decision_id)
    assert fetched is not None
    assert (fetched.request_id, fetched.agg_key, fetched.agg_amount) == (None, None, None)
    assert fetched.reasons == []


def test_non_utc_decided_at_is_stored_as_the_same_instant_in_utc(store: DecisionStore) -> None:
    local = datetime(2024, 6, 30, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    logged = store.log_decision(None, lambda prior: draft(decided_at=local))
    fetched = store.get(logged.decision_id)
    assert fetched is not None
    assert fetched.decided_at == local and fetched.decided_at.tzinfo == UTC


def test_unknown_id_gives_none(store: DecisionStore) -> None:
    assert store.get("0" * 32) is None


def test_records_link_from_genesis_by_the_chain_rule(store: DecisionStore) -> None:
    logged = [store.log_decision(None, lambda prior: draft()) for _ in range(3)]
    assert logged[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(logged):
        assert after.prev_hash == before.record_hash
    for record in logged:
        expected = hashlib.sha256(record.prev_hash.encode() + canonical_bytes(record))
        assert record.record_hash == expected.hexdigest()
    assert list(store.iter_records()) == logged
    assert store.count() == 3


def test_iter_records_filters_by_time_and_policy(store: DecisionStore) -> None:
    t0 = datetime(2024, 6, 1, tzinfo=UTC)
    a = store.log_decision(None, lambda p: draft(policy="a", decided_at=t0))
    b = store.log_decision(None, lambda p: draft(policy="b", decided_at=t0 + timedelta(hours=1)))
    c = store.log_decision(None, lambda p: draft(policy="a", decided_at=t0 + timedelta(hours=2)))
    assert list(store.iter_records(policy="a")) == [a, c]
    assert list(store.iter_records(since=t0 + timedelta(hours=1))) == [b, c]
    assert list(store.iter_records(since=t0 + timedelta(microseconds=1), policy="a")) == [c]


@pytest.mark.slow  # thousands of records
def test_iter_records_pages_through_long_logs_in_chain_order(store: DecisionStore) -> None:
    for _ in range(1203):  # more than two pages of 500
        store.log_decision(None, lambda p: draft())
    records = list(store.iter_records())
    assert len(records) == 1203 == store.count()
    assert all(b.prev_hash == a.record_hash for a, b in itertools.pairwise(records))


def test_canonical_bytes_ignore_key_order_and_hash_fields() -> None:
    one = draft(input={"a": 1, "b": {"y": 2, "x": 1}})
    two = dataclasses.replace(one, input={"b": {"x": 1, "y": 2}, "a": 1})
    assert canonical_bytes(one) == canonical_bytes(two)
    sealed = DecisionRecord(
        **{f.name: getattr(one, f.name) for f in dataclasses.fields(one)},
        prev_hash="1" * 64,
        record_hash="2" * 64,
    )
    assert canonical_bytes(sealed) == canonical_bytes(one)


def test_draft_normalises_values_the_database_would_change() -> None:
    d = draft(agg_amount=5, input={"t": (1, 2)}, decision_date=date(2024, 1, 2))
    assert isinstance(d.agg_amount, float) and d.input == {"t": [1, 2]}
