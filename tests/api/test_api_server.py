"""The real server process: serving, SIGHUP reload, and kill -9 losing nothing acknowledged."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from databases import STORE_KINDS, fresh_store_url
from samples import POLICIES, deal, new_customer
from serving import Server, start_server, wait_until

from decision_service.store import open_store

# Each test starts the server as a process of its own and waits for it: seconds each.
pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


def test_the_server_process_serves_decisions_and_says_where_the_docs_are(
        tmp_path: Path) -> None:
    with fresh_store_url("sqlite", tmp_path) as url:
        server = start_server(tmp_path, url, POLICIES)
        try:
            response = httpx.post(f"{server.base_url}/v1/decisions/authorization", json=deal())
            assert response.status_code == 200
            assert response.headers["x-request-id"]
            assert httpx.get(f"{server.base_url}/docs").status_code == 200
        finally:
            server.stop()
        assert f"{server.base_url}/docs" in server.stdout.read_text()
        # One JSON object a line, each request's line with its request id.
        lines = [line for line in server.stderr.read_text().splitlines() if '"request"' in line]
        assert any(response.headers["x-request-id"] in line for line in lines)


def test_a_forwarded_for_header_does_not_pass_the_browser_guard(tmp_path: Path) -> None:
    """A DNS-rebinding page talks to the open service same-origin, so it may send any
    header: X-Forwarded-For must not make it the in-process test client (uvicorn's
    proxy headers are off; the service trusts no proxy)."""
    with fresh_store_url("sqlite", tmp_path) as url:
        server = start_server(tmp_path, url, POLICIES)
        try:
            response = httpx.post(f"{server.base_url}/v1/decisions/authorization", json=deal(),
                                  headers={"Host": "evil.example", "X-Forwarded-For": "testclient",
                                           "Origin": "http://evil.example"})
            assert response.status_code == 421
        finally:
            server.stop()


def test_sighup_reloads_and_an_invalid_set_is_kept_out(tmp_path: Path,
                                                       policies_copy: Path) -> None:
    with fresh_store_url("sqlite", tmp_path) as url:
        server = start_server(tmp_path, url, policies_copy)
        try:
            def bundle() -> str:
                return str(httpx.get(f"{server.base_url}/v1/policies").json()["bundle_hash"])

            first = bundle()
            limits = policies_copy / "authorization" / "authorization.v1.yaml"
            text = limits.read_text(encoding="utf-8")
            limits.write_text(text.replace("default: 20000000}", "default: 40000000}"),
                              encoding="utf-8")
            server.process.send_signal(signal.SIGHUP)
            wait_until(lambda: bundle() != first, "the bundle hash to change after SIGHUP")
            second = bundle()
            limits.write_text(text.replace("hit: first", "hit: sometimes", 1), encoding="utf-8")
            server.process.send_signal(signal.SIGHUP)
            wait_until(lambda: server.log_has("policy_reload_rejected"),
                       "the invalid set to be rejected")
            assert bundle() == second
            assert server.process.poll() is None
        finally:
            server.stop()



@pytest.mark.parametrize("store_kind", STORE_KINDS)
def test_kill_9_then_restart_finds_every_acknowledged_decision(
        tmp_path: Path, store_kind: str) -> None:
    with fresh_store_url(store_kind, tmp_path) as url:
        server = start_server(tmp_path, url, POLICIES)
        acknowledged: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def send() -> None:
            with httpx.Client(base_url=server.base_url, timeout=10) as client:
                while not stop.is_set():
                    raw = deal(decision_point="ATC", customer_id=new_customer())
                    try:
                        response = client.post("/v1/decisions/authorization", json=raw)
                    except httpx.HTTPError:
                        return  # the server died mid-request: that one was never acknowledged
                    if response.status_code == 200:
                        with lock:
                            acknowledged.append(response.json()["decision_id"])

        threads = [threading.Thread(target=send) for _ in range(8)]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: len(acknowledged) >= 200, "200 acknowledged decisions")
            server.kill9()  # while requests are still in flight
        finally:
            stop.set()
            for thread in threads:
                thread.join()
            server.stop()
        restarted = start_server(tmp_path, url, POLICIES)
        try:
            with httpx.Client(base_url=restarted.base_url) as client:
                missing = [d for d in acknowledged
                           if client.get(f"/v1/decisions/{d}").status_code != 200]
        finally:
            restarted.stop()
        assert missing == []
        with open_store(url) as store:
            assert store.verify_chain() == []


def test_a_bad_start_is_a_message_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "policies"
    bad.mkdir()
    (bad / "broken.yaml").write_text("policy: [\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "decision_service.api", "--policies",
                             str(bad), "--db", f"sqlite:///{tmp_path / 'x.db'}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "broken.yaml" in result.stderr and "Traceback" not in result.stderr
    exposed = subprocess.run([sys.executable, "-m", "decision_service.api", "--host", "0.0.0.0",
                              "--policies", str(POLICIES)], capture_output=True, text=True,
                             timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert exposed.returncode == 2 and "without API keys" in exposed.stderr


def test_several_workers_reload_together_and_survive_an_invalid_set(
        tmp_path: Path, policies_copy: Path) -> None:
    with fresh_store_url("sqlite", tmp_path) as url:
        server = start_server(tmp_path, url, policies_copy, "--workers", "2")
        try:
            def bundles() -> set[str]:
                # Connections spread over the workers: ask a few times on fresh ones.
                return {httpx.get(f"{server.base_url}/v1/policies").json()["bundle_hash"]
                        for _ in range(8)}

            workers = _all_workers(server)
            first = bundles()
            assert len(first) == 1
            limits = policies_copy / "authorization" / "authorization.v1.yaml"
            text = limits.read_text(encoding="utf-8")
            limits.write_text(text.replace("default: 20000000}", "default: 40000000}"),
                              encoding="utf-8")
            assert httpx.post(f"{server.base_url}/v1/admin/reload",
                              timeout=30).status_code == 200
            workers = _all_replaced(server, workers)  # the supervisor restarts them one by one
            second = bundles()
            assert len(second) == 1 and second != first
            limits.write_text(text.replace("hit: first", "hit: sometimes", 1), encoding="utf-8")
            server.process.send_signal(signal.SIGHUP)  # the supervisor restarts every worker
            _all_replaced(server, workers)
            assert server.process.poll() is None
            assert bundles() == second  # restarted onto the last good set
            answer = httpx.post(f"{server.base_url}/v1/decisions/authorization", json=deal())
            assert answer.status_code == 200
        finally:
            server.stop()


def _all_workers(server: Server, count: int = 2) -> set[int]:
    wait_until(lambda: len(server.worker_pids()) == count, f"{count} worker processes")
    return server.worker_pids()


def _all_replaced(server: Server, old: set[int]) -> set[int]:
    """Wait until every worker in ``old`` has been replaced by a new, ready one (uvicorn
    stops an old worker only once its replacement answers); the new pids."""
    def replaced() -> bool:
        now = server.worker_pids()
        return len(now) == len(old) and not now & old
    try:
        wait_until(replaced, f"workers {sorted(old)} to be replaced", timeout=150)
    except AssertionError as exc:
        supervisor = [line for line in server.stderr.read_text().splitlines()
                      if "uvicorn.error" in line]
        raise AssertionError(f"{exc}; now {sorted(server.worker_pids())}; the supervisor "
                             "said:\n" + "\n".join(supervisor)) from None
    return server.worker_pids()
