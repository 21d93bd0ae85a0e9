"""Per-record cost of the decision log: 10,000 records submitted at once (like one
batch request), then awaited; µs per record, on SQLite (in a temporary directory)
and on PostgreSQL, with and without an A10 aggregate.

    python tests/store/bench_store.py [--records 10000] [--repeat 3] [--pg URL] [--no-pg]

Without an aggregate the draft is built on the submitting thread (as the API does);
with one, ``decide`` builds it on the writer thread after reading the prior total.
Each figure is the best of ``--repeat`` runs on a fresh log (the machine is shared).
Not a test: nothing is asserted, the figures are printed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from decision_service.api import logbook
from decision_service.store import (
    AggregateQuery,
    DecisionRecord,
    DecisionStore,
    DraftRecord,
    open_store,
)

# Run as a script: the test helpers' folder is not on the path by itself.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from databases import PG_URL, split_pg_url

DAY = date(2024, 6, 30)


def make_draft(rng: random.Random, customer: str, prior: float) -> DraftRecord:
    value = rng.choice((500_000, 5_000_000, 30_000_000, 150_000_000))
    return DraftRecord(
        decision_id=uuid.uuid4().hex,
        policy="authorization",
        policy_version="2024.06.1",
        bundle_hash="b" * 64,
        engine="compiled",
        decided_at=datetime.now(UTC),
        decision_date=DAY,
        request_id="req-bench",
        input={
            "decision_point": "ATI",
            "office": rng.choice(("CN-BJ", "CN-SH", "DE", "TH", "IN", "JP")),
            "customer_id": customer,
            "customer_tier": rng.choice("SABC"),
            "contract_value_usd": value,
            "gross_margin_pct": rng.choice((40, 32, 25, 15, 5)),
            "payment_term_days": rng.choice((30, 75, 120, 240)),
            "advance_payment_pct": rng.choice((40, 25, 15, 5)),
            "trade_compliance": "PASS",
        },
        output={
            "outcome": "route",
            "required_level": "OFFICE",
            "approver_unit": "CN-BJ",
            "history": {"customer_90d_usd": prior},
        },
        reasons=[
            {"rule": "A3", "text": "合同金额超过办事处授权", "level": "OFFICE"},
            {"rule": "A10", "text": "90 天累计", "total": prior},
        ],
        agg_key=customer,
        agg_amount=float(value),
    )


def run(store: DecisionStore, n: int, aggregates: bool, queued: bool) -> float:
    """µs per record from the first submit to the last commit.

    ``queued``: hold the writer until all n requests are queued, then time only the
    writing (the store's own cost); otherwise time submitting (building the drafts
    that don't depend on the log) and writing together, as a batch request does.
    """
    rng = random.Random(7)
    gate = threading.Event()
    if queued:
        held = logbook.submit(store, None, lambda p: gate.wait(60) and make_draft(rng, "C-0", p))
    started = time.perf_counter()
    futures: list[Future[DecisionRecord]] = []
    for _ in range(n):
        customer = f"C-{rng.randrange(5000):05d}"
        if aggregates:
            query = AggregateQuery(customer, DAY - timedelta(days=90), DAY)

            def decide(prior: float, customer: str = customer) -> DraftRecord:
                return make_draft(rng, customer, prior)

            futures.append(logbook.submit(store, query, decide))
        else:
            draft = make_draft(rng, customer, 0.0)
            fixed: Callable[[float], DraftRecord] = lambda _p, d=draft: d  # noqa: E731
            futures.append(logbook.submit(store, None, fixed))
    if queued:
        gate.set()
        held.result()
        started = time.perf_counter()
    for future in futures:
        future.result()
    elapsed = time.perf_counter() - started
    assert store.count() == n + queued
    return elapsed / n * 1e6


@contextmanager
def fresh_store(kind: str, pg_url: str) -> Iterator[DecisionStore]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(f"sqlite:///{tmp}/decisions.db")
            try:
                yield store
            finally:
                store.close()
        return
    sep = "&" if "?" in pg_url else "?"
    url = f"{pg_url}{sep}schema=bench_{uuid.uuid4().hex[:12]}"
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()
        base, schema = split_pg_url(url)
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


def bench(kind: str, n: int, repeat: int, pg_url: str) -> None:
    for aggregates in (False, True):
        figures = []
        for queued in (False, True):
            best = float("inf")
            for _ in range(repeat):
                with fresh_store(kind, pg_url) as store:
                    best = min(best, run(store, n, aggregates, queued))
                    assert store.verify_chain() == []
            figures.append(best)
        print(
            f"{kind:10}  aggregates={aggregates!s:5}  end-to-end {figures[0]:6.1f} µs/record"
            f"   writer only {figures[1]:6.1f} µs/record"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=PG_URL)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args(argv)
    bench("sqlite", args.records, args.repeat, args.pg)
    if not args.no_pg:
        bench("postgresql", args.records, args.repeat, args.pg)


if __name__ == "__main__":
    main()
