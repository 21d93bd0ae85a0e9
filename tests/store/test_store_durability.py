"""An acknowledged decision survives kill -9 of the process that logged it."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest
from storekit import log_until_killed_worker

from decision_service.store import DecisionStore


@pytest.mark.slow  # starts processes
def test_acknowledged_decisions_survive_kill_9(store: DecisionStore, store_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=log_until_killed_worker, args=(store_url, sender))
    proc.start()
    sender.close()
    acked: list[str] = []
    try:
        while len(acked) < 40:
            assert receiver.poll(120), "worker stopped acknowledging"
            acked.append(receiver.recv())
    finally:
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: a batch is likely in flight
        proc.join(60)
    while True:  # acknowledgements already in the pipe count too
        try:
            acked.append(receiver.recv())
        except EOFError:
            break
    assert proc.exitcode == -signal.SIGKILL
    missing = [i for i in acked if store.get(i) is None]
    assert missing == []
    assert store.count() >= len(acked)
    assert store.verify_chain() == []
