"""Interpreter settings for a served worker: garbage collection and thread switching.

Measured under load with bench/http.py and ``gc.callbacks``:

- A full (generation 2) collection walks every object the worker ever made —
  the compiled policies, pydantic models, FastAPI's routes — and stalled the
  event loop and the log's writer for a whole p99. ``gc.freeze()`` after
  start-up moves those long-lived objects out of the collector's sight; a
  larger first threshold lets the short-lived objects of a request die by
  reference count before a young collection has to look at them.
- The log's writer thread wakes from its fsync needing the GIL back from a busy
  event loop; CPython makes it wait up to the switch interval (5 ms by default)
  while every request of the commit group waits with it. A shorter interval
  keeps the group commit's cycle near the fsync time.
"""

from __future__ import annotations

import gc
import sys

YOUNG_THRESHOLD = 10_000  # objects allocated (net) before a generation-0 collection
SWITCH_INTERVAL = 0.001  # seconds a thread may hold the GIL while another waits


def tune_served_worker() -> None:
    """Call once the app has started (policies loaded, store open), in a served worker
    only: frozen objects are never cycle-collected, which a test process that builds
    many apps must not pay for."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    sys.setswitchinterval(SWITCH_INTERVAL)
