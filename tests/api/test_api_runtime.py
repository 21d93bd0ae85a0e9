"""``--pin-cpu``: every thread of a worker on one CPU, a CPU of its own per worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Pins itself (a thread already running included), prints its CPU and whether it has
# it alone and each thread's allowed CPUs, then holds its claim until stdin closes.
_WORKER = textwrap.dedent("""
    import json, os, sys, threading
    from pathlib import Path
    from decision_service.api.runtime import pin_to_one_cpu
    stop = threading.Event()
    threading.Thread(target=stop.wait).start()
    cpu, alone = pin_to_one_cpu(Path(sys.argv[1]))
    masks = [sorted(os.sched_getaffinity(int(t))) for t in os.listdir("/proc/self/task")]
    print(json.dumps({"cpu": cpu, "alone": alone, "masks": masks}), flush=True)
    sys.stdin.read()
    stop.set()
""")

needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"),
                                     reason="Linux only")


def _worker(lock_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _WORKER, str(lock_dir)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


@needs_affinity
def test_pinned_workers_each_keep_every_thread_on_a_cpu_of_their_own(tmp_path: Path) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    workers: list[subprocess.Popen[str]] = []
    seen = []
    try:
        # One after the other, each holding its claim: the order of claims is known.
        for _ in range(len(cpus) + 1):
            workers.append(_worker(tmp_path))
            assert workers[-1].stdout is not None
            seen.append(json.loads(workers[-1].stdout.readline()))
    finally:
        for worker in workers:
            worker.communicate("")
    for worker in seen:  # both threads, the one started before pinning too
        assert len(worker["masks"]) == 2
        assert worker["masks"] == [[worker["cpu"]]] * 2
    # A CPU each while there are CPUs to claim; the one worker too many shares, and says so.
    assert [worker["cpu"] for worker in seen[:-1]] == cpus
    assert [worker["alone"] for worker in seen] == [True] * len(cpus) + [False]
