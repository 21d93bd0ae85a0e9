"""verify_chain finds rows changed, re-hashed or deleted behind the store's back."""

from __future__ import annotations

from storekit import draft, raw_execute

from decision_service.store import DecisionStore


def _log_three(store: DecisionStore) -> list[str]:
    return [store.log_decision(None, lambda p: draft()).decision_id for _ in range(3)]


def test_untouched_chain_verifies(store: DecisionStore) -> None:
    _log_three(store)
    assert store.verify_chain() == []


def test_empty_log_verifies(store: DecisionStore) -> None:
    assert store.verify_chain() == []


def test_row_updated_through_sql_is_reported_with_its_id(
    store: DecisionStore, store_url: str
) -> None:
    ids = _log_three(store)
    raw_execute(
        store_url,
        f"""UPDATE decisions SET output = '{{"approved": false}}' WHERE decision_id = '{ids[1]}'""",
    )
    problems = store.verify_chain()
    assert [(p.decision_id, p.kind) for p in problems] == [(ids[1], "hash_mismatch")]


def test_tampered_row_with_recomputed_hash_breaks_the_next_link(
    store: DecisionStore, store_url: str
) -> None:
    ids = _log_three(store)
    raw_execute(
        store_url,
        f"UPDATE decisions SET engine = 'forged', record_hash = '{'f' * 64}' "
        f"WHERE decision_id = '{ids[0]}'",
    )
    problems = {(p.decision_id, p.kind) for p in store.verify_chain()}
    assert problems == {(ids[0], "hash_mismatch"), (ids[1], "broken_link")}


def test_deleted_row_breaks_the_link_of_its_successor(store: DecisionStore, store_url: str) -> None:
    ids = _log_three(store)
    raw_execute(store_url, f"DELETE FROM decisions WHERE decision_id = '{ids[1]}'")
    problems = store.verify_chain()
    assert [(p.decision_id, p.kind) for p in problems] == [(ids[2], "broken_link")]


def test_undecodable_row_is_reported_not_raised(store: DecisionStore, store_url: str) -> None:
    ids = _log_three(store)
    raw_execute(store_url, f"UPDATE decisions SET reasons = '42' WHERE decision_id = '{ids[2]}'")
    problems = store.verify_chain()
    assert [(p.decision_id, p.kind) for p in problems] == [(ids[2], "unreadable")]
