"""Handing decisions to the log without blocking a thread per decision.

``DecisionStore.log_decision`` blocks until the group commit holding the record
lands. That is right for one decision in a worker thread, but a 10,000-item
batch would then need 10,000 waiting threads to fill the writer's groups, and
a single decision on the event loop would need a thread just to wait. So the API
submits and gets a future (``DecisionStore.submit``): the event loop awaits it, a
batch waits for all.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

from decision_service.store import (
    AggregateQuery,
    DecisionRecord,
    DecisionStore,
    DraftRecord,
    IdempotencyClaim,
)

Decide = Callable[[float], DraftRecord]


def submit(store: DecisionStore, aggregate: AggregateQuery | None,
           decide: Decide, claim: IdempotencyClaim | None = None) -> Future[DecisionRecord]:
    """Queue ``decide`` for the log; raises ``StoreClosedError`` once the store is closed."""
    return store.submit(aggregate, decide, claim)
