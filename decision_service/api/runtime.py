"""Interpreter settings for a served worker: garbage collection, thread switching and
(``--pin-cpu``) the CPU it runs on.

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

import contextlib
import fcntl
import gc
import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

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


# Open for the worker's lifetime: the lock on its file is the worker's claim on a CPU.
_claims: list[TextIO] = []


def pin_to_one_cpu(lock_dir: Path | None = None) -> tuple[int, bool]:
    """Keep every thread of this worker on one CPU (``--pin-cpu``); returns the CPU and
    whether the worker has it to itself among pinned workers.

    The event loop and the log's writer take turns holding the GIL; left to the
    scheduler they run on different CPUs, and every turn moves the interpreter to a
    CPU whose caches hold none of its state. On one CPU the same work costs a fifth
    less CPU time (bench/http.py: about 3,000 against 3,650 logged decisions per
    second, one worker on two cores). Each worker claims the first CPU no other
    pinned worker holds (a lock on a file per CPU, dropped when the process ends);
    when there are more workers than CPUs, they share by process id."""
    allowed = sorted(os.sched_getaffinity(0))
    where = lock_dir or Path(tempfile.gettempdir())
    for cpu in allowed:
        claim = (where / f"decision-service-cpu-{cpu}.lock").open("a")
        try:
            fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            claim.close()
            continue
        _claims.append(claim)
        _pin_threads(cpu)
        return cpu, True
    cpu = allowed[os.getpid() % len(allowed)]
    _pin_threads(cpu)
    return cpu, False


def _pin_threads(cpu: int) -> None:
    # sched_setaffinity(0) moves only the calling thread; the log's writer and
    # checkpoint threads are already running, so each is moved by its thread id
    # (threads started later inherit the mask).
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(ProcessLookupError):  # a thread that just ended
            os.sched_setaffinity(int(task), {cpu})
