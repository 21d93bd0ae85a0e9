"""Failures stay with the caller that caused them; database errors are never silent."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from storekit import Refused, draft, raw_execute, raw_query, refuse, window

from decision_service.store import (
    DecisionRecord,
    DecisionStore,
    DraftRecord,
    DuplicateDecisionError,
    StoreClosedError,
    StoreError,
    WriteFailedError,
    open_store,
)


def test_raising_decide_writes_nothing_and_reaches_its_caller(store: DecisionStore) -> None:
    with pytest.raises(Refused):
        store.log_decision(window(), refuse)
    assert store.count() == 0
    after = store.log_decision(window(), lambda p: draft(p))
    assert after.output["prior"] == 0.0 and store.verify_chain() == []


def test_raising_decide_does_not_disturb_the_rest_of_its_batch(store: DecisionStore) -> None:
    inside, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def hold(prior: float) -> DraftRecord:
        inside.set()
        release.wait(60)
        return draft(prior)

    def call(name: str, decide: Callable[[float], DraftRecord]) -> None:
        try:
            outcomes[name] = store.log_decision(window(), decide)
        except Exception as exc:
            outcomes[name] = exc

    first = threading.Thread(target=call, args=("first", hold))
    first.start()
    inside.wait(60)
    # These three queue up behind the held one and are written as one batch.
    rest = [
        threading.Thread(target=call, args=(name, fn))
        for name, fn in [
            ("good1", lambda p: draft(p)),
            ("bad", refuse),
            ("good2", lambda p: draft(p)),
        ]
    ]
    for t in rest:
        t.start()
        # Keep arrival order deterministic: wait until this one is queued.
        n = rest.index(t) + 1
        while store.pending_writes < n:
            threading.Event().wait(0.01)
    release.set()
    for t in [first, *rest]:
        t.join()

    assert isinstance(outcomes["bad"], Refused)
    good = [outcomes[n] for n in ("first", "good1", "good2")]
    assert all(isinstance(r, DecisionRecord) for r in good)
    assert [r.output["prior"] for r in good if isinstance(r, DecisionRecord)] == [0.0, 100.0, 200.0]
    assert store.count() == 3 and store.verify_chain() == []
    assert store.stats().largest_batch == 3


def test_duplicate_decision_id_is_refused_and_the_log_stays_intact(
    store: DecisionStore,
) -> None:
    first = store.log_decision(None, lambda p: draft())
    with pytest.raises(DuplicateDecisionError):
        store.log_decision(None, lambda p: draft(decision_id=first.decision_id))
    store.log_decision(None, lambda p: draft())
    assert store.count() == 2 and store.verify_chain() == []


def test_non_json_input_fails_only_that_caller(store: DecisionStore) -> None:
    with pytest.raises(TypeError):
        store.log_decision(None, lambda p: draft(input={"x": object()}))
    with pytest.raises(TypeError):
        store.log_decision(None, lambda p: "not a draft")  # type: ignore[arg-type,return-value]
    store.log_decision(None, lambda p: draft())
    assert store.count() == 1


def test_database_error_fails_the_callers_and_the_writer_recovers(
    store: DecisionStore, store_url: str
) -> None:
    store.log_decision(None, lambda p: draft())
    raw_execute(store_url, "ALTER TABLE decisions RENAME TO decisions_away")
    with pytest.raises(WriteFailedError):
        store.log_decision(window(), lambda p: draft(p))
    assert store.stats().failed_batches == 1
    raw_execute(store_url, "ALTER TABLE decisions_away RENAME TO decisions")
    store.log_decision(window(), lambda p: draft(p))
    assert store.count() == 2 and store.verify_chain() == []


def test_decide_must_not_call_back_into_the_store(store: DecisionStore) -> None:
    def reentrant(prior: float) -> DraftRecord:
        store.log_decision(None, lambda p: draft())
        return draft()

    with pytest.raises(StoreError, match="inside decide"):
        store.log_decision(None, reentrant)
    assert store.count() == 0


def test_close_drains_pending_writes_then_refuses_new_ones(store_url: str) -> None:
    store = open_store(store_url)
    done: list[DecisionRecord] = []
    threads = [
        threading.Thread(target=lambda: done.append(store.log_decision(None, lambda p: draft())))
        for _ in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreClosedError):
        store.log_decision(None, lambda p: draft())
    reopened = open_store(store_url)
    try:
        assert reopened.count() == 20 == len(done)
    finally:
        reopened.close()


@pytest.mark.parametrize(
    "url",
    ["", "mysql://x/y", "sqlite://", "sqlite:///", "sqlite:///:memory:", "decisions.db"],
)
def test_unsupported_urls_raise_store_error(url: str) -> None:
    with pytest.raises(StoreError):
        open_store(url)


def test_unreachable_postgres_raises_store_error() -> None:
    with pytest.raises(StoreError):
        open_store("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")


@pytest.mark.pg
def test_store_reconnects_after_the_server_drops_its_connections(pg_store_url: str) -> None:
    store_url = pg_store_url
    app = f"ds_test_{uuid.uuid4().hex[:12]}"  # tags this store's connections only
    store = open_store(f"{store_url}&application_name={app}")
    try:
        store.log_decision(None, lambda p: draft())
        assert store.count() == 1
        killed = raw_query(
            store_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE application_name = '{app}'",
        )
        assert len(killed) >= 2  # the writer's and a reader's
        store.log_decision(None, lambda p: draft())
        assert store.count() == 2 and store.verify_chain() == []
    finally:
        store.close()
