"""``submit_many``: a batch of the API as one queue entry, one transaction and one
future, each request with its own outcome; and drafts built from JSON values."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from storekit import (
    DAY,
    KEY,
    Refused,
    draft,
    fixed,
    one_batch,
    outcome,
    raw_execute,
    recording,
    refuse,
    window,
)

from decision_service.store import (
    AggregateQuery,
    DecisionRecord,
    DecisionStore,
    DraftRecord,
    DuplicateDecisionError,
    LogRequest,
    StoreClosedError,
    StoreError,
    UnstorableValueError,
    WriteFailedError,
    canonical_bytes,
    open_store,
)


def test_many_requests_are_one_commit_in_order_each_with_its_own_outcome(
        store: DecisionStore) -> None:
    logged = store.log_decision(None, fixed(agg_amount=1.0))
    commits = store.stats().commits
    seen: list[float] = []
    plenty = [LogRequest(None, fixed(agg_amount=None)) for _ in range(1500)]  # > max_batch
    requests = [
        LogRequest(window(), recording(seen, agg_amount=10.0)),  # sees 1
        LogRequest(window(), refuse),
        LogRequest(None, fixed(decision_id=logged.decision_id)),  # already logged
        LogRequest(AggregateQuery("deal\x00", DAY - timedelta(days=90), DAY), fixed()),
        LogRequest(None, fixed(input={"bad": "nul\x00"})),
        *plenty,
        LogRequest(window(), recording(seen)),  # sees 1 + 10: no refused one counts
    ]
    outcomes = store.submit_many(requests).result(60)
    assert len(outcomes) == len(requests)
    assert isinstance(outcomes[1], Refused)
    assert isinstance(outcomes[2], DuplicateDecisionError)
    assert isinstance(outcomes[3], UnstorableValueError)  # its query, refused alone
    assert isinstance(outcomes[4], UnstorableValueError)
    written = [o for o in outcomes if isinstance(o, DecisionRecord)]
    assert written == [outcomes[0], *outcomes[5:]]
    assert seen == [1.0, 11.0]
    assert store.stats().commits == commits + 1
    assert list(store.iter_records())[1:] == written
    assert store.verify_chain() == []


def test_singles_queued_around_a_bulk_are_written_too(store: DecisionStore) -> None:
    with one_batch(store):
        before = store.submit(None, fixed())
        bulk = store.submit_many([LogRequest(None, fixed()) for _ in range(3)])
        after = store.submit(None, fixed())
    records = [outcome(before), *bulk.result(60), outcome(after)]
    assert all(isinstance(r, DecisionRecord) for r in records)
    assert list(store.iter_records())[1:] == records and store.verify_chain() == []


def test_nothing_to_write_resolves_at_once(store: DecisionStore) -> None:
    assert store.submit_many([]).result(0) == []
    query = AggregateQuery("deal\x00", DAY - timedelta(days=90), DAY)
    (only,) = store.submit_many([LogRequest(query, fixed())]).result(0)
    assert isinstance(only, UnstorableValueError) and store.count() == 0


def test_a_database_error_fails_each_request_and_the_future_still_resolves(
        store: DecisionStore, store_url: str) -> None:
    store.log_decision(None, lambda p: draft())
    raw_execute(store_url, "ALTER TABLE decisions RENAME TO decisions_away")
    outcomes = store.submit_many([LogRequest(None, fixed()) for _ in range(3)]).result(60)
    assert [type(o) for o in outcomes] == [WriteFailedError] * 3
    assert store.stats().failed_batches == 1
    raw_execute(store_url, "ALTER TABLE decisions_away RENAME TO decisions")
    assert store.count() == 1


def test_a_closed_store_or_a_decide_refuses_at_once(store_url: str) -> None:
    store = open_store(store_url)

    def reentrant(prior: float) -> DraftRecord:
        store.submit_many([LogRequest(None, fixed())])
        return draft()

    (error,) = store.submit_many([LogRequest(None, reentrant)]).result(60)
    assert isinstance(error, StoreError) and "inside decide" in str(error)
    store.close()
    with pytest.raises(StoreClosedError):
        store.submit_many([LogRequest(None, fixed())])


def _fields(**overrides: Any) -> dict[str, Any]:
    template = draft()
    return {**{name: getattr(template, name) for name in vars(template)}, **overrides}


def test_a_draft_of_json_values_is_the_draft_the_log_reads_back(store: DecisionStore) -> None:
    values = _fields(input={"n": [1, 2.5, None, True], "s": "中文"},
                     output={"level": "REGION", "history": {"total": 3.0}},
                     reasons=[{"rule": "r", "decisive": False}], agg_amount=5)
    json_draft = DraftRecord.of_json_values(**values)
    assert json_draft == DraftRecord(**values)  # the same checks and normalisation
    assert canonical_bytes(json_draft) == canonical_bytes(DraftRecord(**values))
    record = store.log_decision(None, lambda p: json_draft)
    assert store.get(record.decision_id) == record and store.verify_chain() == []
    # Not JSON after all: refused when the log encodes it, like any unstorable value.
    odd = DraftRecord.of_json_values(**_fields(decision_id="odd", output={"x": {1, 2}}))
    with pytest.raises(UnstorableValueError):
        store.log_decision(None, lambda p: odd)
    assert orjson.loads(orjson.dumps(json_draft.input)) == json_draft.input


def test_a_draft_of_json_values_is_checked_like_any(store: DecisionStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DraftRecord.of_json_values(**_fields(decided_at=draft().decided_at.replace(tzinfo=None)))
    with pytest.raises(TypeError, match="missing"):
        DraftRecord.of_json_values(**{k: v for k, v in _fields().items() if k != "policy"})
    with pytest.raises(TypeError, match="unknown"):
        DraftRecord.of_json_values(**_fields(colour="blue"))
    assert DraftRecord.of_json_values(**_fields(agg_amount=5)).agg_amount == 5.0


def test_a_deal_decided_again_in_a_bulk_counts_once_under_its_latest_key(
        store: DecisionStore) -> None:
    seen: list[float] = []
    requests = [
        LogRequest(window(), fixed(agg_subject="deal-1", agg_amount=10.0)),
        LogRequest(window(), fixed(agg_subject="deal-2", agg_amount=20.0)),
        # deal-1 again, now under another key: it leaves KEY's total
        LogRequest(window(key="other"), fixed(agg_key="other", agg_subject="deal-1",
                                              agg_amount=5.0)),
        LogRequest(window(), recording(seen, agg_subject="deal-3")),  # sees deal-2
        LogRequest(window(key="other"), recording(seen, agg_key="other")),  # deal-1's 5
        LogRequest(AggregateQuery(KEY, DAY - timedelta(days=90), DAY, "deal-2"),
                   recording(seen, agg_subject="deal-2")),  # never itself: deal-3's 100
    ]
    outcomes = store.submit_many(requests).result(60)
    assert all(isinstance(o, DecisionRecord) for o in outcomes)
    assert seen == [20.0, 5.0, 100.0]
    after: list[float] = []
    store.log_decision(window(), recording(after, agg_amount=0.0))
    assert after == [100.0 + 100.0]  # deal-3 and deal-2's latest, as the batch counted


def test_fresh_ids_are_not_looked_up_and_a_repeated_one_fails_its_group(
        store: DecisionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    logged = store.log_decision(None, fixed(agg_amount=1.0))
    # A plain request whose id is logged is refused alone, as ever, beside fresh ones.
    first = store.submit_many([LogRequest(None, fixed(), fresh_id=True),
                               LogRequest(window(), fixed(decision_id=logged.decision_id)),
                               LogRequest(window(), fixed(agg_amount=2.0), fresh_id=True)])
    fresh, duplicate, counted = first.result(60)
    assert isinstance(fresh, DecisionRecord) and isinstance(counted, DecisionRecord)
    assert isinstance(duplicate, DuplicateDecisionError)

    # A group of fresh ids asks the log nothing about them: no lookup runs.
    def no_lookup(*_: object) -> set[str]:
        raise AssertionError("fresh ids were looked up")

    from decision_service.store import postgres, sqlite
    monkeypatch.setattr(sqlite._SQLiteAppend, "existing_ids", no_lookup)
    monkeypatch.setattr(postgres._PostgresAppend, "existing_ids", no_lookup)
    assert isinstance(outcome(store.submit(None, fixed(), fresh_id=True)), DecisionRecord)
    assert isinstance(store.submit_many([LogRequest(window(), fixed(), fresh_id=True)])
                      .result(60)[0], DecisionRecord)

    # Claimed fresh, logged after all: the unique index refuses it, with its group.
    count = store.count()
    repeated = outcome(store.submit(None, fixed(decision_id=logged.decision_id),
                                    fresh_id=True))
    assert isinstance(repeated, WriteFailedError)
    assert store.count() == count and store.verify_chain() == []
    assert isinstance(outcome(store.submit(None, fixed(), fresh_id=True)), DecisionRecord)
