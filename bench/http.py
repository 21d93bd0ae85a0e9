# ruff: noqa: E402  (imports follow the sys.path fix below, on purpose)
"""HTTP benchmark: the decision API against a constant-JSON endpoint of the same server.

    python bench/http.py [--requests 3000] [--concurrency 16] [--batch 10000] [--db URL]

In one run it starts the real server (``python -m decision_service.api``, uvicorn,
one worker, SQLite log in a temporary directory unless --db is given) with
DECISION_SERVICE_BENCH=1, which adds POST /bench/constant: same front layer
(guard, request id, metrics, access line) and the same bounded body read, no
JSON parsing, no decision and no log write. Then, with one client (plain
asyncio sockets on uvloop, keep-alive, so the client costs little and the same
for every endpoint) at one concurrency:

1. single authorization decision vs the constant endpoint, same request body:
   p50 / p99 latency and throughput, the server's and the client's CPU time per
   request, and their ratios (goal: p50 within 1.3x);
2. N deals in one batch request vs the same N deals as single requests
   (goal: the batch at least 20x faster);
3. with ``--shadow``: a second server whose policy directory adds a rollout.yaml
   shadowing authorization with version 2; the same single decisions against
   both servers, interleaved: p50 / p99 latency and server CPU per decision
   (the process's user + system time, every thread, the shadow runner's
   included, counted until every shadow is written) (goal: one shadow costs
   under 10% more server CPU per decision).

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
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import orjson
from benchkit import ROOT, Connection, Run, cpu_seconds, deals, free_port, run, start_server

SHADOW_ROLLOUT = "shadow:\n  - {policy: authorization, candidate: {version: \"2\"}}\n"


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


async def bench(port: int, pid: int, args: argparse.Namespace) -> None:
    single = [orjson.dumps(d) for d in deals(args.requests, args.seed)]
    warm = single[: max(200, args.concurrency * 10)]
    await load(port, "/bench/constant", warm, args.concurrency)
    await load(port, "/v1/decisions/authorization", warm, args.concurrency)

    print(f"1. single authorization decision vs constant endpoint "
          f"({args.requests} requests, concurrency {args.concurrency})")
    # Interleave rounds so drift (page cache, CPU frequency) hits both alike.
    constant = Run([], 0.0, 0)
    decision = Run([], 0.0, 0)
    # CPU seconds of the server (every thread) and of this client, per endpoint: on a
    # shared machine they move far less than latencies and rates do.
    cpu = {"constant": [0.0, 0.0], "decision": [0.0, 0.0]}
    logged = {"commits": 0.0, "records": 0.0, "writer_busy_seconds": 0.0, "gc_pauses": 0.0,
              "gc_pause_seconds": 0.0}
    rounds = 3
    for part in range(rounds):
        chunk = single[part::rounds]
        for name, target, path in (("constant", constant, "/bench/constant"),
                                   ("decision", decision, "/v1/decisions/authorization")):
            # read before the CPU count starts: a /metrics answer is not a decision's cost
            log_before = await _log_figures(port) if name == "decision" else None
            server, client = cpu_seconds(pid), time.process_time()
            run = await load(port, path, chunk, args.concurrency)
            cpu[name][0] += cpu_seconds(pid) - server
            cpu[name][1] += time.process_time() - client
            if log_before is not None:
                log_after = await _log_figures(port)
                for figure in logged:
                    logged[figure] += log_after[figure] - log_before[figure]
            target.latencies += run.latencies
            target.seconds += run.seconds
            target.errors += run.errors
    for name, label, run in (("constant", "constant JSON", constant),
                             ("decision", "decision (logged)", decision)):
        server, client = (seconds / len(run.latencies) * 1e6 for seconds in cpu[name])
        print(row(label, run) + f"   CPU server {server:4.0f} us, client {client:3.0f} us")
    p50 = decision.pct(0.5) / constant.pct(0.5)
    p99 = decision.pct(0.99) / constant.pct(0.99)
    tput = constant.throughput / decision.throughput
    per_request = (cpu["decision"][0] / len(decision.latencies)) / (
        cpu["constant"][0] / len(constant.latencies))
    print(f"  ratio decision/constant: p50 {p50:.2f}x   p99 {p99:.2f}x   "
          f"throughput {tput:.2f}x slower   server CPU {per_request:.2f}x   "
          f"(goal: p50 <= 1.30x)")
    print(f"  the log under the decisions: {logged['records']:.0f} records in "
          f"{logged['commits']:.0f} group commits ({logged['records'] / logged['commits']:.1f} "
          f"per commit), writer thread busy {logged['writer_busy_seconds']:.2f} s of "
          f"{decision.seconds:.2f} s; {logged['gc_pauses']:.0f} collector pauses, "
          f"{logged['gc_pause_seconds'] * 1e3:.1f} ms in all")

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


async def _get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 "Connection: close\r\n\r\n".encode())
    body = await reader.read()
    writer.close()
    return body


async def _log_figures(port: int) -> dict[str, float]:
    """The log writer's counters (decision_service_log_*_total) and the collector's
    pauses, all generations (gc_pauses, gc_pause_seconds), from /metrics."""
    text = (await _get(port, "/metrics")).decode()
    prefix, suffix = "decision_service_log_", "_total "
    figures = {line[len(prefix):line.index(suffix)]: float(line.rsplit(" ", 1)[1])
               for line in text.splitlines() if line.startswith(prefix) and suffix in line}
    for name, series in (("gc_pauses", "_count{"), ("gc_pause_seconds", "_sum{")):
        figures[name] = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                            if line.startswith("decision_service_gc_pause_seconds" + series))
    return figures


async def _shadows_written(port: int, expected: int) -> None:
    """Poll /metrics until ``expected`` shadows are counted (a bench may wait; tests don't)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = (await _get(port, "/metrics")).decode()
        done = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(("decision_service_shadowed_decisions_total{",
                                       "decision_service_shadow_failures_total{")))
        if done >= expected:
            return
        await asyncio.sleep(0.25)
    raise SystemExit(f"shadows not written after 120 s ({expected} expected)")


async def bench_shadow(plain: tuple[int, int], shadowed: tuple[int, int],
                       args: argparse.Namespace) -> None:
    bodies = [orjson.dumps(d) for d in deals(args.requests, args.seed + 2)]
    warm = bodies[: max(200, args.concurrency * 10)]
    for port, _ in (plain, shadowed):
        await load(port, "/v1/decisions/authorization", warm, args.concurrency)
    await _shadows_written(shadowed[0], len(warm))
    print(f"\n3. one shadow (authorization version 2) vs none ({args.requests} requests "
          f"each, concurrency {args.concurrency})")
    runs = {"plain": Run([], 0.0, 0), "shadowed": Run([], 0.0, 0)}
    cpu = {"plain": 0.0, "shadowed": 0.0}
    rounds = 3
    for part in range(rounds):
        chunk = bodies[part::rounds]
        for name, (port, pid) in (("plain", plain), ("shadowed", shadowed)):
            before = cpu_seconds(pid)
            run = await load(port, "/v1/decisions/authorization", chunk, args.concurrency)
            if name == "shadowed":
                await _shadows_written(port, len(warm) + sum(len(bodies[i::rounds])
                                                             for i in range(part + 1)))
            else:
                await _get(port, "/metrics")  # the same last look, at the same cost
            cpu[name] += cpu_seconds(pid) - before
            runs[name].latencies += run.latencies
            runs[name].seconds += run.seconds
            runs[name].errors += run.errors
    for name, run in runs.items():
        per = cpu[name] / len(run.latencies) * 1e6
        print(row(name, run) + f"   CPU {per:6.0f} us/decision")
    extra = cpu["shadowed"] / cpu["plain"] - 1
    print(f"  shadow cost: p50 {runs['shadowed'].pct(0.5) / runs['plain'].pct(0.5):.2f}x   "
          f"p99 {runs['shadowed'].pct(0.99) / runs['plain'].pct(0.99):.2f}x   "
          f"server CPU per decision {extra * 100:+.1f}%   (goal: < +10%)")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


def run_shadow(args: argparse.Namespace, tmp: Path) -> None:
    shadowed_dir = tmp / "shadowed-policies"
    shutil.copytree(ROOT / "policies", shadowed_dir)
    (shadowed_dir / "rollout.yaml").write_text(SHADOW_ROLLOUT, encoding="utf-8")
    ports = free_port(), free_port()
    plain = start_server(ports[0], f"sqlite:///{tmp / 'plain.db'}")
    try:
        shadowed = start_server(ports[1], f"sqlite:///{tmp / 'shadowed.db'}",
                                policies=shadowed_dir)
        try:
            run(bench_shadow((ports[0], plain.pid), (ports[1], shadowed.pid), args))
        finally:
            _stop(shadowed)
    finally:
        _stop(plain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--db", help="store URL (default: SQLite in a temporary directory)")
    parser.add_argument("--shadow", action="store_true",
                        help="also measure the cost of one shadow candidate (3.)")
    parser.add_argument("--only-shadow", action="store_true", help="measure 3. alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        if args.only_shadow:
            run_shadow(args, Path(tmp))
            return
        db_url = args.db or f"sqlite:///{Path(tmp) / 'decisions.db'}"
        port = free_port()
        process = start_server(port, db_url)
        try:
            print(f"server: uvicorn, 1 worker, engine compiled, log {db_url}\n")
            run(bench(port, process.pid, args))
        finally:
            _stop(process)
        if args.shadow:
            run_shadow(args, Path(tmp))


if __name__ == "__main__":
    main()
