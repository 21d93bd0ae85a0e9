"""Holding off Python's cyclic garbage collector for a pass over many objects.

A batch of decisions and a simulation's pass over a corpus each make many short-lived
containers and no reference cycles: reference counting frees them, while the cyclic
collector would run every few hundred allocations and walk everything the process
holds (compiled policies, records, results) again and again. ``collector_paused``
turns it off for such a block, in any thread (the collector is per process): it
runs again when the last of the overlapping blocks ends, and only if it ran when the
first began. It is a context manager and, as ``@collector_paused()``, a decorator.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pause:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.blocks = 0
        self.was_enabled = False


_PAUSE = _Pause()


def _after_fork_in_child() -> None:
    # A lock held by another thread at fork time would never be released in the
    # child; the count is kept (a forked worker inherits the pause, as gc's state).
    _PAUSE.lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block, in any thread; objects freed by
    reference counting are freed as ever."""
    with _PAUSE.lock:
        if _PAUSE.blocks == 0:
            _PAUSE.was_enabled = gc.isenabled()
            gc.disable()
        _PAUSE.blocks += 1
    try:
        yield
    finally:
        with _PAUSE.lock:
            _PAUSE.blocks -= 1
            if _PAUSE.blocks == 0 and _PAUSE.was_enabled:
                gc.enable()
