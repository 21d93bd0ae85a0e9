"""The real server in a subprocess (``python -m decision_service.api``) for the
reliability tests: started, waited for until ready, killed with SIGKILL or stopped."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from relkit import POLICIES


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    output_file: Path

    def output(self) -> str:
        return self.output_file.read_text(errors="replace")

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


def start_server(workdir: Path, db_url: str, *args: str, file_size_limit: int | None = None,
                 timeout: float = 90) -> Server:
    """``file_size_limit``: RLIMIT_FSIZE of the server process, in bytes — no file it
    writes may grow past it (the kernel answers EFBIG, as a full disk answers ENOSPC)."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir / f"server-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "decision_service.api", "--port", str(port),
               "--db", db_url, "--policies", str(POLICIES), *args]
    with output.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   env=dict(os.environ),
                                   preexec_fn=lambda: _file_size_limit(file_size_limit))
    server = Server(process, f"http://127.0.0.1:{port}", output)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a starting process: there is nothing to wait on
    server.stop()
    raise RuntimeError(f"server did not become ready:\n{server.output()}")
