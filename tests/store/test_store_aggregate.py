"""The prior total covers exactly [since, until] for the key (deal-splitting window)."""

from __future__ import annotations

from datetime import timedelta

from storekit import DAY, KEY, draft, fixed, recording, window

from decision_service.store import AggregateQuery, DecisionStore


def test_window_includes_d_minus_90_and_d_but_not_d_minus_91_or_the_future(
    store: DecisionStore,
) -> None:
    # Distinct powers of two: the sum tells exactly which records were counted.
    for days, amount in [(-91, 1.0), (-90, 2.0), (0, 4.0), (1, 8.0)]:
        on = DAY + timedelta(days=days)
        store.log_decision(None, fixed(decision_date=on, agg_amount=amount))
    store.log_decision(None, lambda p: draft(agg_key="other-deal", agg_amount=16.0))
    store.log_decision(None, lambda p: draft(agg_key=None, agg_amount=None))

    seen: list[float] = []
    store.log_decision(window(DAY), recording(seen))
    assert seen == [2.0 + 4.0]


def test_prior_is_zero_without_aggregate_or_without_matching_records(
    store: DecisionStore,
) -> None:
    store.log_decision(None, lambda p: draft(agg_amount=50.0))
    seen: list[float] = []
    store.log_decision(None, recording(seen))
    empty = AggregateQuery(key="no-such-deal", since=DAY - timedelta(days=90), until=DAY)
    store.log_decision(empty, recording(seen))
    assert seen == [0.0, 0.0]


def test_each_decision_sees_the_ones_before_it(store: DecisionStore) -> None:
    priors = [
        store.log_decision(window(), lambda p: draft(p, agg_amount=10.0)).output["prior"]
        for _ in range(4)
    ]
    assert priors == [0.0, 10.0, 20.0, 30.0]
    assert window().key == KEY
