"""Shared by the HTTP benchmarks: realistic deals, a small keep-alive client, the server.

The client is plain asyncio sockets (keep-alive, no parsing beyond the status and
length) so that it costs little and the same for every endpoint it is compared on.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
OFFICES = ("CN-BJ", "CN-SH", "DE", "TH", "IN", "JP")
POINTS = ("ATI", "ATB", "ATC", "CHANGE")


def deals(n: int, seed: int) -> list[dict[str, Any]]:
    """Valid authorization deals of every decision point, values across all levels."""
    rng = random.Random(seed)
    return [{
        "decision_point": POINTS[i % len(POINTS)],
        "office": rng.choice(OFFICES),
        "customer_id": f"C-{rng.randrange(5000):05d}",
        "customer_tier": rng.choice("SABC"),
        "contract_value_usd": rng.choice((500_000, 5_000_000, 30_000_000, 150_000_000)),
        "gross_margin_pct": rng.choice((40, 32, 25, 15, 5)),
        "payment_term_days": rng.choice((30, 75, 120, 240)),
        "advance_payment_pct": rng.choice((40, 25, 15, 5)),
        "trade_compliance": "PASS",
    } for i in range(n)]


# -- a minimal HTTP/1.1 keep-alive client ---------------------------------------


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run the client on uvloop: half the client CPU per request of asyncio's own loop
    (measured against a bare ASGI app), which on a 2-core machine is CPU the server
    gets back."""
    return uvloop.run(main)



class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 port: int) -> None:
        self.reader, self.writer, self.port = reader, writer, port

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**26)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, port)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(int(line.split(":", 1)[1]) for line in lines[1:]
                      if line.lower().startswith("content-length:"))
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


@dataclass
class Run:
    latencies: list[float]
    seconds: float
    errors: int

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the server -----------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, db_url: str, workers: int = 1,
                 policies: Path = ROOT / "policies") -> subprocess.Popen[bytes]:
    env = {**os.environ, "DECISION_SERVICE_BENCH": "1", "PYTHONPATH": str(ROOT)}
    env.pop("DECISION_SERVICE_API_KEYS", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "decision_service.api", "--port", str(port), "--db", db_url,
         "--policies", str(policies), "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start within 60 s")
