# ruff: noqa: E402  (imports follow the sys.path fix below, on purpose)
"""HTTP benchmark: the decision API against a constant-JSON endpoint of the same server.

    python bench/http.py [--requests 3000] [--concurrency 16] [--batch 10000] [--db URL]

In one run it starts the real server (``python -m decision_service.api``, uvicorn,
one worker, SQLite log in a temporary directory unless --db is given) with
DECISION_SERVICE_BENCH=1, which adds POST /bench/constant: same stack, same
middleware and access log, no decision and no log write. Then, with one client
(plain asyncio sockets, keep-alive, so the client costs little and the same for
every endpoint) at one concurrency:

1. single authorization decision vs the constant endpoint, same request body:
   p50 / p99 latency and throughput, and their ratios (goal: p50 within 1.3x);
2. N deals in one batch request vs the same N deals as single requests
   (goal: the batch at least 20x faster).

Every decision is durably logged before it is answered (group commit), which is
part of what is measured. Nothing is asserted; the figures are printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/http.py` puts bench/ first on sys.path, where this file would
# shadow the standard library's `http` package for everything imported below.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

# Shared helpers live beside this file; appended, so the standard library still wins.
sys.path.append(str(Path(__file__).parent))

import argparse
import asyncio
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import orjson
from benchkit import Connection, Run, deals, free_port, start_server


async def load(port: int, path: str, bodies: Sequence[bytes], concurrency: int) -> Run:
    connections = [await Connection.open(port) for _ in range(concurrency)]
    latencies: list[float] = []
    errors = 0
    next_index = 0

    async def worker(conn: Connection) -> None:
        nonlocal next_index, errors
        while next_index < len(bodies):
            body = bodies[next_index]
            next_index += 1
            started = time.perf_counter()
            status, _ = await conn.post(path, body)
            latencies.append(time.perf_counter() - started)
            errors += status != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    for conn in connections:
        conn.close()
    return Run(latencies, elapsed, errors)


async def one_batch(port: int, items: list[dict[str, Any]]) -> tuple[float, int, int]:
    conn = await Connection.open(port)
    body = orjson.dumps({"items": items})
    started = time.perf_counter()
    status, answer = await conn.post("/v1/decisions/authorization/batch", body)
    elapsed = time.perf_counter() - started
    conn.close()
    results = orjson.loads(answer)["results"] if status == 200 else []
    return elapsed, status, sum("decision_id" not in r for r in results)


def row(name: str, run: Run) -> str:
    return (f"  {name:<22} p50 {run.pct(0.5) * 1000:7.2f} ms   p99 {run.pct(0.99) * 1000:7.2f} ms"
            f"   {run.throughput:8.0f} req/s   errors {run.errors}")


async def bench(port: int, args: argparse.Namespace) -> None:
    single = [orjson.dumps(d) for d in deals(args.requests, args.seed)]
    warm = single[: max(200, args.concurrency * 10)]
    await load(port, "/bench/constant", warm, args.concurrency)
    await load(port, "/v1/decisions/authorization", warm, args.concurrency)

    print(f"1. single authorization decision vs constant endpoint "
          f"({args.requests} requests, concurrency {args.concurrency})")
    # Interleave rounds so drift (page cache, CPU frequency) hits both alike.
    constant = Run([], 0.0, 0)
    decision = Run([], 0.0, 0)
    rounds = 3
    for part in range(rounds):
        chunk = single[part::rounds]
        for target, path in ((constant, "/bench/constant"),
                             (decision, "/v1/decisions/authorization")):
            run = await load(port, path, chunk, args.concurrency)
            target.latencies += run.latencies
            target.seconds += run.seconds
            target.errors += run.errors
    print(row("constant JSON", constant))
    print(row("decision (logged)", decision))
    p50 = decision.pct(0.5) / constant.pct(0.5)
    p99 = decision.pct(0.99) / constant.pct(0.99)
    tput = constant.throughput / decision.throughput
    print(f"  ratio decision/constant: p50 {p50:.2f}x   p99 {p99:.2f}x   "
          f"throughput {tput:.2f}x slower   (goal: p50 <= 1.30x)")

    items = deals(args.batch, args.seed + 1)
    print(f"\n2. {args.batch} deals: one batch request vs {args.batch} single requests "
          f"(concurrency {args.concurrency})")
    batch_seconds, status, failed = await one_batch(port, items)
    singles = await load(port, "/v1/decisions/authorization", [orjson.dumps(d) for d in items],
                         args.concurrency)
    print(f"  one batch              {batch_seconds:7.2f} s    status {status}, "
          f"{failed} items failed")
    print(f"  single requests        {singles.seconds:7.2f} s    errors {singles.errors}")
    print(f"  ratio singles/batch: {singles.seconds / batch_seconds:.1f}x faster as a batch "
          f"(goal: >= 20x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--db", help="store URL (default: SQLite in a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        db_url = args.db or f"sqlite:///{Path(tmp) / 'decisions.db'}"
        port = free_port()
        process = start_server(port, db_url)
        try:
            print(f"server: uvicorn, 1 worker, engine compiled, log {db_url}\n")
            asyncio.run(bench(port, args))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
