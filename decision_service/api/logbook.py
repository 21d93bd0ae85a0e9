"""Handing decisions to the log without blocking a thread per decision.

``DecisionStore.log_decision`` blocks until the group commit holding the record
lands. That is right for one decision in a worker thread, but a 10,000-item
batch would then need 10,000 waiting threads to fill the writer's groups, and
a single decision on the event loop would need a thread just to wait. So the API
submits and gets a future (``DecisionStore.submit``): the event loop awaits it
(``Landing``), a batch waits for all.
"""

from __future__ import annotations

import asyncio
import collections
import functools
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
    """Queue ``decide`` for the log; raises ``StoreClosedError`` once the store is closed.

    The draft's decision id was minted for this request (``ids.new_id``): the log's
    writer need not look it up (``fresh_id``)."""
    return store.submit(aggregate, decide, claim, fresh_id=True)


class Landing:
    """Where an event loop awaits the log's futures: one loop wake-up per commit group.

    ``asyncio.wrap_future`` has the writer thread schedule a callback on the loop
    for every record of a group, each holding the GIL in the writer and waking the
    loop; here the writer only appends the finished future to a deque, and the first
    of a group schedules one drain that answers them all. A request cancelled while
    it waits does not cancel the write (what is submitted is logged; the writer
    never finds a cancelled future)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._landed: collections.deque[
            tuple[asyncio.Future[DecisionRecord], Future[DecisionRecord]]] = collections.deque()
        self._drain_scheduled = False

    def wait(self, future: Future[DecisionRecord]) -> asyncio.Future[DecisionRecord]:
        """An awaitable for ``future``, on this loop (call from the loop's thread)."""
        waiter: asyncio.Future[DecisionRecord] = self.loop.create_future()
        future.add_done_callback(functools.partial(self._land, waiter))
        return waiter

    def _land(self, waiter: asyncio.Future[DecisionRecord],
              future: Future[DecisionRecord]) -> None:
        # The writer's thread (or the loop's, for a future done already). Append
        # first, then look at the flag: a drain that has cleared the flag is either
        # still to read this entry or is followed by the one scheduled here.
        self._landed.append((waiter, future))
        if not self._drain_scheduled and not self.loop.is_closed():  # closed: nobody waits
            self._drain_scheduled = True
            self.loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        landed = self._landed
        while landed:
            waiter, future = landed.popleft()
            if waiter.cancelled():
                continue
            error = future.exception()
            if error is None:
                waiter.set_result(future.result())
            else:
                waiter.set_exception(error)


_landings: dict[asyncio.AbstractEventLoop, Landing] = {}


def landing() -> Landing:
    """The running loop's ``Landing`` (tests run several loops, one per client)."""
    loop = asyncio.get_running_loop()
    found = _landings.get(loop)
    if found is None:
        for closed in [other for other in _landings if other.is_closed()]:
            del _landings[closed]
        found = _landings[loop] = Landing(loop)
    return found
