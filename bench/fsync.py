"""fsync latency of the disk under a data directory: what a group commit waits for.

    python bench/fsync.py [--dir DIR] [--count 300] [--size 4096] [--interval-ms 2] [--append]

Writes ``--size`` bytes into a scratch file in ``--dir`` and calls ``fdatasync``
(what SQLite's WAL commit and PostgreSQL's ``wal_sync_method=fdatasync`` do),
``--count`` times, ``--interval-ms`` apart (a stream of commits), then prints
p50/p99/max.  The writes go one after another into a file written once before,
the way both databases reuse their WAL files; ``--append`` grows the file
instead, which makes every sync a metadata (journal) commit too.  A p99 near the
load goal means the log cannot hold the goal whatever the code does:
bench/load.py runs this probe before each store and prints it beside its figures.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

_WAL_SIZE = 4 << 20  # SQLite's WAL at its default checkpoint size


def probe(directory: str, count: int, size: int, interval: float,
          append: bool = False) -> list[float]:
    """Seconds each fdatasync took."""
    block = os.urandom(size)
    times: list[float] = []
    with tempfile.NamedTemporaryFile(dir=directory, prefix="fsync-probe-") as handle:
        fd = handle.fileno()
        if not append:
            os.write(fd, bytes(_WAL_SIZE))
            os.fsync(fd)
        for index in range(count):
            if not append:
                os.lseek(fd, index * size % _WAL_SIZE, os.SEEK_SET)
            os.write(fd, block)
            started = time.perf_counter()
            os.fdatasync(fd)
            times.append(time.perf_counter() - started)
            time.sleep(interval)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return (f"p50 {pct(0.5):.2f} ms   p90 {pct(0.9):.2f} ms   p99 {pct(0.99):.2f} ms   "
            f"max {pct(1.0):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--interval-ms", type=float, default=2)
    parser.add_argument("--append", action="store_true")
    args = parser.parse_args()
    times = probe(args.dir, args.count, args.size, args.interval_ms / 1000, args.append)
    how = "appends" if args.append else "writes into a written file"
    print(f"fdatasync after {args.size} B {how} in {args.dir}, {args.count} times: "
          f"{summary(times)}")


if __name__ == "__main__":
    main()
