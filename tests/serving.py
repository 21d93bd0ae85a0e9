"""Running the real server in a subprocess (``python -m decision_service.api``)."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Return once ``condition()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s: {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()

    def worker_pids(self) -> set[int]:
        """The worker processes of a server started with ``--workers N`` (uvicorn starts
        them with multiprocessing's spawn; its resource tracker is not one)."""
        pids = set()
        for children in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            for pid in children.read_text().split():
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                except FileNotFoundError:
                    continue  # exited meanwhile
                if b"spawn_main" in command:
                    pids.add(int(pid))
        return pids

    def log_has(self, text: str) -> bool:
        return text in self.stderr.read_text()

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()


def _file_size_limit(limit: int | None) -> None:
    if limit is not None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def start_server(workdir: Path, db_url: str, policies: Path, *args: str,
                 env: dict[str, str] | None = None, timeout: float = 60,
                 file_size_limit: int | None = None) -> Server:
    """Start the server and wait until /readyz answers 200. ``file_size_limit``:
    RLIMIT_FSIZE of the server process, in bytes — no file it writes may grow past it
    (the kernel answers EFBIG, as a full disk answers ENOSPC)."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    stamp = time.monotonic_ns()
    stdout, stderr = workdir / f"out-{stamp}.log", workdir / f"err-{stamp}.log"
    command = [sys.executable, "-m", "decision_service.api", "--port", str(port),
               "--db", db_url, "--policies", str(policies), *args]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err,
                                   env={**os.environ, **(env or {})},
                                   preexec_fn=lambda: _file_size_limit(file_size_limit))
    server = Server(process, f"http://127.0.0.1:{port}", stdout, stderr)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not become ready:\n{server.output()}")
