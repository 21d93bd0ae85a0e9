"""Load benchmark: a steady rate of logged decisions, and the highest rate held under a p99 goal.

    python bench/load.py [--seconds 60] [--rate 500] [--workers 1 2] [--pg URL] [--no-sqlite]

For each store (SQLite in a temporary directory; PostgreSQL when --pg is given)
and each worker count, it starts the real server and:

1. holds ``--rate`` authorization decisions per second for ``--seconds``
   (open loop: requests leave on a fixed schedule whatever the answers do, and
   latency counts from the scheduled start, so a stalled server cannot hide
   its queue — no coordinated omission), then reports p50/p99/max and errors;
2. steps the rate up (``--step`` per round of ``--probe-seconds``) until p99
   goes over ``--p99-ms`` or errors appear, and reports the highest rate held.

The run is bounded: every round has a fixed length and the search stops at
``--max-rate``. Nothing is asserted; the figures are printed against the goal
(500/s for 60 s with p99 under 20 ms and no errors).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Shared helpers live beside this file; appended, so the standard library still wins.
sys.path.append(str(Path(__file__).parent))

import argparse
import asyncio
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import orjson
import psycopg
from benchkit import Connection, deals, free_port, start_server

PATH = "/v1/decisions/authorization"


@dataclass
class Round:
    rate: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    late: int = 0  # requests that could not even leave on time (client saturated)

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("inf")

    def line(self) -> str:
        ms = 1000
        return (f"  {self.rate:6d}/s x {self.seconds:4.0f} s   p50 {self.pct(0.5) * ms:7.2f} ms   "
                f"p99 {self.pct(0.99) * ms:7.2f} ms   max {self.pct(1.0) * ms:8.2f} ms   "
                f"answers {len(self.latencies)}   errors {self.errors}")


async def open_loop(port: int, bodies: list[bytes], rate: int, seconds: float,
                    connections: int) -> Round:
    """Send ``rate`` requests a second on a fixed schedule over a pool of connections."""
    result = Round(rate, seconds)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Connection.open(port))
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05
    tasks: list[asyncio.Task[None]] = []

    async def one(index: int, due: float) -> None:
        conn = await idle.get()
        try:
            status, _ = await conn.post(PATH, bodies[index % len(bodies)])
        except (OSError, asyncio.IncompleteReadError):
            result.errors += 1
            conn = await Connection.open(port)
        else:
            result.errors += status != 200
            result.latencies.append(time.perf_counter() - due)
        idle.put_nowait(conn)

    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.01:
            result.late += 1
        tasks.append(asyncio.create_task(one(index, due)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().close()
    return result


async def measure(port: int, args: argparse.Namespace) -> None:
    # Distinct customers per request: A10 totals stay small and every deal stays valid.
    bodies = [orjson.dumps(d) for d in deals(20_000, args.seed)]
    await open_loop(port, bodies, min(args.rate, 200), 2, args.connections)  # warm up

    steady = await open_loop(port, bodies, args.rate, args.seconds, args.connections)
    verdict = ("holds" if steady.pct(0.99) * 1000 < args.p99_ms and not steady.errors
               else "MISSES")
    print(f" steady {args.rate}/s for {args.seconds:.0f} s ({verdict} the goal p99 < "
          f"{args.p99_ms:.0f} ms, 0 errors)")
    print(steady.line())

    print(f" highest rate with p99 < {args.p99_ms:.0f} ms (rounds of {args.probe_seconds:.0f} s)")
    best = 0
    rate = args.step
    while rate <= args.max_rate:
        probe = await open_loop(port, bodies, rate, args.probe_seconds, args.connections)
        print(probe.line())
        if probe.errors or probe.pct(0.99) * 1000 >= args.p99_ms or probe.late > rate // 10:
            break
        best = rate
        rate += args.step
    print(f"  held: {best}/s\n")


def run_one(db_url: str, workers: int, args: argparse.Namespace) -> None:
    port = free_port()
    process: subprocess.Popen[bytes] = start_server(port, db_url, workers)
    try:
        print(f"== store {db_url.split(':')[0]}, {workers} worker(s)")
        asyncio.run(measure(port, args))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pg", help="also run on this PostgreSQL URL (a schema of its own)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--p99-ms", type=float, default=20)
    parser.add_argument("--step", type=int, default=250)
    parser.add_argument("--probe-seconds", type=float, default=10)
    parser.add_argument("--max-rate", type=int, default=6000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seed", type=int, default=20261129)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        for workers in args.workers:
            if not args.no_sqlite:
                run_one(f"sqlite:///{Path(tmp) / f'decisions-{workers}.db'}", workers, args)
            if args.pg:
                schema = f"bench_load_{workers}_{int(time.time())}"
                sep = "&" if "?" in args.pg else "?"
                try:
                    run_one(f"{args.pg}{sep}schema={schema}", workers, args)
                finally:
                    with psycopg.connect(args.pg, autocommit=True) as conn:
                        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


if __name__ == "__main__":
    main()
