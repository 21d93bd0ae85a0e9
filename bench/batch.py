"""Batch benchmark: one 10,000-deal batch, with and without explanations, against the
same deals as single requests, on the real server.

    python bench/batch.py [--batch 10000] [--rounds 3] [--concurrency 16] [--db URL]

Starts the server as bench/http.py does (uvicorn, one worker, SQLite log in a
temporary directory unless --db is given) and, in one run, times:

1. the batch with explanations (the default answer) and with ``?explain=false``,
   ``--rounds`` times each, interleaved, fresh deals every time: the fastest of
   each, wall time and the server's CPU time (user + system, every thread);
2. the same number of deals as single requests at ``--concurrency``.

It prints the ratios singles/batch (goal: >= 20x) by wall time, as bench/http.py
does, and by server CPU, which moves less with the machine's other load; and
explain=false against explain=true (goal: no dearer). Every decision is logged
before it is answered, which is part of what is measured. Nothing is asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).parent))

import argparse
import asyncio
import tempfile
import time

import orjson
from benchkit import Connection, cpu_seconds, deals, free_port, start_server

URL = "/v1/decisions/authorization"


async def one_batch(port: int, pid: int, body: bytes, query: str) -> tuple[float, float, int]:
    """Wall seconds, server CPU seconds, and the items that failed."""
    conn = await Connection.open(port)
    cpu, started = cpu_seconds(pid), time.perf_counter()
    status, answer = await conn.post(f"{URL}/batch{query}", body)
    wall, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
    conn.close()
    results = orjson.loads(answer)["results"] if status == 200 else [None]
    return wall, cpu, sum(not isinstance(r, dict) or "decision_id" not in r for r in results)


async def singles(port: int, pid: int, bodies: list[bytes],
                  concurrency: int) -> tuple[float, float, int]:
    connections = [await Connection.open(port) for _ in range(concurrency)]
    errors, next_index = 0, 0

    async def worker(conn: Connection) -> None:
        nonlocal next_index, errors
        while next_index < len(bodies):
            body = bodies[next_index]
            next_index += 1
            status, _ = await conn.post(URL, body)
            errors += status != 200

    cpu, started = cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    wall, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
    for conn in connections:
        conn.close()
    return wall, cpu, errors


async def bench(port: int, pid: int, args: argparse.Namespace) -> None:
    await one_batch(port, pid, orjson.dumps({"items": deals(500, args.seed)}), "")  # warm up
    best: dict[str, tuple[float, float]] = {}
    failed = 0
    for round_ in range(args.rounds):
        for variant, (name, query) in enumerate((("explain", ""),
                                                 ("explain=false", "?explain=false"))):
            items = deals(args.batch, args.seed + 1 + 2 * round_ + variant)
            wall, cpu, bad = await one_batch(port, pid, orjson.dumps({"items": items}), query)
            failed += bad
            best[name] = min(best.get(name, (wall, cpu)), (wall, cpu))
    bodies = [orjson.dumps(d) for d in deals(args.batch, args.seed + 99)]
    single_wall, single_cpu, errors = await singles(port, pid, bodies, args.concurrency)
    n = args.batch
    print(f"{n} deals; batch: fastest of {args.rounds}, {failed} items failed; singles: "
          f"concurrency {args.concurrency}, {errors} errors")
    for name, (wall, cpu) in best.items():
        print(f"  batch, {name:<14} {wall:6.2f} s   server CPU {cpu:6.2f} s "
              f"({cpu / n * 1e6:5.0f} us/decision)")
    print(f"  single requests        {single_wall:6.2f} s   server CPU {single_cpu:6.2f} s "
          f"({single_cpu / n * 1e6:5.0f} us/decision)")
    wall, cpu = best["explain"]
    print(f"  ratio singles/batch: wall {single_wall / wall:.1f}x, server CPU "
          f"{single_cpu / cpu:.1f}x (goal: >= 20x)")
    short_wall, short_cpu = best["explain=false"]
    print(f"  explain=false / explain: wall {short_wall / wall:.2f}x, server CPU "
          f"{short_cpu / cpu:.2f}x (goal: <= 1.00x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--db", help="store URL (default: SQLite in a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        db_url = args.db or f"sqlite:///{Path(tmp) / 'decisions.db'}"
        port = free_port()
        process = start_server(port, db_url)
        try:
            print(f"server: uvicorn, 1 worker, engine compiled, log {db_url}")
            asyncio.run(bench(port, process.pid, args))
        finally:
            process.terminate()
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
