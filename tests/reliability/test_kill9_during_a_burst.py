"""Nothing acknowledged is ever lost: a server killed with SIGKILL in the middle of
a burst of decisions, on each store, then restarted, holds every decision it
answered 200 for, and its chain (and checkpoint) verifies."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from relkit import URL, atc, deal, new_customer, store_url
from relserver import start_server

from decision_service.store import open_store

CLIENTS = 4
ACKNOWLEDGED_BEFORE_KILL = 200


def _burst(base_url: str, acknowledged: list[str], enough: threading.Event) -> None:
    """Posts decisions until the server is gone, keeping every acknowledged id."""
    customer = new_customer()
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for n in range(100_000):
            body = atc(customer, 40_000 + n) if n % 2 else deal()
            try:
                answer = http.post(URL, json=body)
            except httpx.HTTPError:
                return  # killed
            if answer.status_code == 200:
                acknowledged.append(answer.json()["decision_id"])
                if len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL:
                    enough.set()


@pytest.mark.slow
@pytest.mark.subprocess
def test_kill_9_during_a_burst_loses_no_acknowledged_decision(
        tmp_path: Path, store_kind: str) -> None:
    with store_url(store_kind, tmp_path) as db:
        server = start_server(tmp_path / "run", db)
        acknowledged: list[str] = []
        enough = threading.Event()
        clients = [threading.Thread(target=_burst, args=(server.base_url, acknowledged, enough))
                   for _ in range(CLIENTS)]
        try:
            for client in clients:
                client.start()
            assert enough.wait(120), server.output()
            server.kill9()
        finally:
            server.stop()
            for client in clients:
                client.join(60)
        restarted = start_server(tmp_path / "run", db)
        restarted.stop()
        assert "service_stopped" in restarted.output(), restarted.output()  # a clean stop
        verified = subprocess.run([sys.executable, "-m", "decision_service.cli", "verify-log",
                                   "--db", db], capture_output=True, text=True, timeout=120)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        store = open_store(db)
        try:
            missing = [d for d in acknowledged if store.get(d) is None]
            assert store.count() >= len(acknowledged)
        finally:
            store.close()
        assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL and missing == []
