"""Handing decisions to the log without blocking a thread per decision.

``DecisionStore.log_decision`` blocks until the group commit holding the record
lands. That is right for one decision in a worker thread, but a 10,000-item
batch would then need 10,000 waiting threads to fill the writer's groups, and
a single decision on the event loop would need a thread just to wait. So the API
submits and gets a future: the event loop awaits it, a batch waits for all.

The store has no public non-blocking call yet, so ``submit`` uses the writer's
queue the same way ``GroupCommitWriter.submit`` does (same lock, same closed
check), minus the wait. When the store grows ``submit(aggregate, decide) ->
Future``, that is used instead and this fallback can go.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, cast

from decision_service.store import AggregateQuery, DecisionRecord, DecisionStore, DraftRecord
from decision_service.store.errors import StoreClosedError
from decision_service.store.writer import _Request

Decide = Callable[[float], DraftRecord]


def submit(store: DecisionStore, aggregate: AggregateQuery | None,
           decide: Decide) -> Future[DecisionRecord]:
    public = getattr(store, "submit", None)
    if callable(public):
        return cast("Future[DecisionRecord]", public(aggregate, decide))
    writer: Any = store._writer
    future: Future[DecisionRecord] = Future()
    with writer._lock:
        if writer._closed:
            raise StoreClosedError("the decision store is closed")
        writer._queue.put(_Request(aggregate, decide, future))
    return future
