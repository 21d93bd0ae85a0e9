"""Load benchmark: a steady rate of logged decisions, and the highest rate held under a p99 goal.

    python bench/load.py [--seconds 60] [--rate 500] [--workers 1 2] [--pg URL] [--no-sqlite]
                         [--sqlite-synchronous full|normal]

For each store (SQLite in a temporary directory; PostgreSQL when --pg is given)
and each worker count, it starts the real server and:

1. holds ``--rate`` authorization decisions per second for ``--seconds``
   (open loop: requests leave on a fixed schedule whatever the answers do, and
   latency counts from the scheduled start, so a stalled server cannot hide
   its queue — no coordinated omission), then reports p50/p99/max and errors;
2. steps the rate up (``--step`` per round of ``--probe-seconds``) until p99
   goes over ``--p99-ms`` or errors appear twice in a row at one rate (a round
   that misses is run once more: one stall of a shared machine is not the
   server's limit), and reports the highest rate held.

The run is bounded: every round has a fixed length and the search stops at
``--max-rate``. Nothing is asserted; the figures are printed against the goal
(500/s for 60 s with p99 under 20 ms and no errors).

Every commit waits for an fsync, so before each store the disk's fsync latency
is probed in the same run (bench/fsync.py, in the data directory's file system):
a p99 near the goal there leaves the log no room. Each round also prints the
server's CPU time per decision and the longest stall of the client's own event
loop: on a shared machine a starved client or server shows there, not as a
slower log.  With one worker, the steady round also prints the server's own
decision latency (its /metrics histogram: validation, decision and the durable
log write, without the HTTP stack and the client).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Shared helpers live beside this file; appended, so the standard library still wins.
sys.path.append(str(Path(__file__).parent))

import argparse
import asyncio
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import orjson
import psycopg
from benchkit import Connection, cpu_seconds, deals, free_port, start_server
from fsync import probe as fsync_probe
from fsync import summary as fsync_summary

PATH = "/v1/decisions/authorization"


@dataclass
class Round:
    rate: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    late: int = 0  # requests that could not even leave on time (client saturated)
    client_stall: float = 0.0  # longest the client's loop overslept a 1 ms timer
    server_cpu: float = 0.0  # seconds of CPU the server (all processes) used

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("inf")

    def line(self) -> str:
        ms = 1000
        return (f"  {self.rate:6d}/s x {self.seconds:4.0f} s   p50 {self.pct(0.5) * ms:7.2f} ms   "
                f"p99 {self.pct(0.99) * ms:7.2f} ms   max {self.pct(1.0) * ms:8.2f} ms   "
                f"answers {len(self.latencies)}   errors {self.errors}\n"
                f"  {'':17}server CPU {self.server_cpu * 1e6 / max(1, len(self.latencies)):5.0f}"
                f" µs/decision   client stall max {self.client_stall * ms:6.1f} ms"
                f"   late {self.late}")


def server_histogram(port: int) -> dict[float, float]:
    """The server's own decision latency histogram (validate, decide, log durably):
    cumulative count per bucket bound, ``inf`` the total.  One worker's figures."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(1 << 16):
            data += chunk
    counts: dict[float, float] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith("decision_service_decision_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            key = float("inf") if bound == "+Inf" else float(bound)
            counts[key] = counts.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return counts


def server_line(before: dict[float, float], after: dict[float, float], goal_ms: float) -> str:
    delta = {bound: after.get(bound, 0.0) - before.get(bound, 0.0) for bound in after}
    total = delta.get(float("inf"), 0.0)
    if not total:
        return ""
    p99 = min(bound for bound, count in delta.items() if count >= 0.99 * total)
    within = delta.get(goal_ms / 1000, float("nan")) / total
    return (f"  {'':17}server side (validate, decide, log durably): p99 <= {p99 * 1000:g} ms, "
            f"{within:.1%} within {goal_ms:g} ms")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (uvicorn's workers), Linux /proc."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = children.read_text().split() if children.exists() else []
    return cpu_seconds(pid) + sum(tree_cpu(int(kid)) for kid in kids)


async def watch_stalls(result: Round) -> None:
    """The client's own loop stalls (a 1 ms sleep overslept), until cancelled."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.001)
        result.client_stall = max(result.client_stall, time.perf_counter() - started - 0.001)


async def open_loop(port: int, bodies: list[bytes], rate: int, seconds: float,
                    connections: int, server: int) -> Round:
    """Send ``rate`` requests a second on a fixed schedule over a pool of connections."""
    result = Round(rate, seconds)
    watcher = asyncio.create_task(watch_stalls(result))
    cpu_before = tree_cpu(server)
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
    result.server_cpu = tree_cpu(server) - cpu_before
    watcher.cancel()
    while not idle.empty():
        idle.get_nowait().close()
    return result


async def measure(port: int, server: int, args: argparse.Namespace) -> None:
    # Distinct customers per request: A10 totals stay small and every deal stays valid.
    bodies = [orjson.dumps(d) for d in deals(20_000, args.seed)]
    await open_loop(port, bodies, min(args.rate, 200), 2, args.connections, server)  # warm up

    before = server_histogram(port)
    steady = await open_loop(port, bodies, args.rate, args.seconds, args.connections, server)
    after = server_histogram(port)
    verdict = ("holds" if steady.pct(0.99) * 1000 < args.p99_ms and not steady.errors
               else "MISSES")
    print(f" steady {args.rate}/s for {args.seconds:.0f} s ({verdict} the goal p99 < "
          f"{args.p99_ms:.0f} ms, 0 errors)")
    print(steady.line())
    if args.workers_now == 1:  # /metrics answers for the worker it reaches
        print(server_line(before, after, args.p99_ms))

    print(f" highest rate with p99 < {args.p99_ms:.0f} ms (rounds of {args.probe_seconds:.0f} s)")
    best = 0
    rate = args.step
    while rate <= args.max_rate:
        if not await _held(port, bodies, rate, server, args):
            break
        best = rate
        rate += args.step
    print(f"  held: {best}/s\n")


async def _held(port: int, bodies: list[bytes], rate: int, server: int,
                args: argparse.Namespace) -> bool:
    """One round at ``rate``, and one more if it missed: a single stall of the machine
    (the client's loop stalls with it, on a shared 2-core box) must not end the
    search at a rate the server holds. Both rounds are printed."""
    for attempt in range(2):
        probe = await open_loop(port, bodies, rate, args.probe_seconds, args.connections,
                                server)
        if attempt:
            print("   missed: once more at the same rate")
        print(probe.line())
        if not (probe.errors or probe.pct(0.99) * 1000 >= args.p99_ms
                or probe.late > rate // 10):
            return True
    return False


def print_fsync(directory: str) -> None:
    times = fsync_probe(directory, 300, 4096, 0.002)
    print(f" disk: fdatasync after 4 KiB writes in {directory}: {fsync_summary(times)}")


def run_one(db_url: str, workers: int, args: argparse.Namespace) -> None:
    port = free_port()
    process: subprocess.Popen[bytes] = start_server(port, db_url, workers)
    try:
        print(f"== store {db_url.split(':')[0]}, {workers} worker(s)"
              + (f", synchronous={args.sqlite_synchronous}" if db_url.startswith("sqlite") else ""))
        print_fsync(args.fsync_dir)
        args.workers_now = workers
        asyncio.run(measure(port, process.pid, args))
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
    parser.add_argument("--sqlite-synchronous", choices=["full", "normal"], default="full",
                        help="the SQLite log's durability (normal: no fsync per commit, "
                        "survives kill -9 but not a power loss; see store/sqlite.py)")
    parser.add_argument("--fsync-dir", help="where to probe fsync (default: the SQLite "
                        "log's temporary directory; PostgreSQL's data directory may differ)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        args.fsync_dir = args.fsync_dir or tmp
        for workers in args.workers:
            if not args.no_sqlite:
                path = Path(tmp) / f"decisions-{workers}.db"
                run_one(f"sqlite:///{path}?synchronous={args.sqlite_synchronous}", workers, args)
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
