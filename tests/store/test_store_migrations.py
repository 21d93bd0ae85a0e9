"""Migrations run on open, are recorded, are idempotent, and tolerate racing openers."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from storekit import draft, open_and_close_worker, raw_query

from decision_service.store import DecisionStore, open_store
from decision_service.store.migrate import head_revision


def test_open_records_the_head_revision(store: DecisionStore, store_url: str) -> None:
    assert raw_query(store_url, "SELECT version_num FROM alembic_version") == [(head_revision(),)]


def test_reopening_applies_nothing_and_keeps_the_data(store: DecisionStore, store_url: str) -> None:
    logged = store.log_decision(None, lambda p: draft())
    for _ in range(2):
        again = open_store(store_url)
        again.close()
    assert raw_query(store_url, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert store.get(logged.decision_id) == logged and store.count() == 1


def _indexed_columns(url: str) -> set[tuple[str, ...]]:
    if url.startswith("sqlite"):
        names = [r[1] for r in raw_query(url, "PRAGMA index_list(decisions)")]
        found = {
            tuple(c[2] for c in raw_query(url, f"PRAGMA index_info({name})")) for name in names
        }
        # seq is declared INTEGER PRIMARY KEY: it *is* the rowid, the table's own order.
        found |= {(r[1],) for r in raw_query(url, "PRAGMA table_info(decisions)") if r[5] == 1}
        return found
    rows = raw_query(
        url,
        "SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i "
        "JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) ON true "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = 'decisions'::regclass GROUP BY i.indexrelid",
    )
    return {tuple(r[0]) for r in rows}


def test_indexes_for_lookup_aggregate_and_chain_order_exist(
    store: DecisionStore, store_url: str
) -> None:
    indexed = _indexed_columns(store_url)
    assert {("decision_id",), ("agg_key", "decision_date"), ("seq",)} <= indexed


def test_sqlite_aggregate_query_uses_the_partial_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/plan.db"
    open_store(url).close()
    plan = raw_query(
        url,
        "EXPLAIN QUERY PLAN SELECT SUM(agg_amount) FROM decisions "
        "WHERE agg_key = 'k' AND decision_date BETWEEN '2024-01-01' AND '2024-03-31'",
    )
    assert any("ix_decisions_agg" in str(row[-1]) for row in plan)


@pytest.mark.slow  # starts processes
def test_several_processes_opening_a_new_database_at_once(store_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(3)
    results: multiprocessing.Queue[str] = ctx.Queue()
    procs = [
        ctx.Process(target=open_and_close_worker, args=(store_url, start, results))
        for _ in range(3)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert outcomes == ["ok"] * 3
    assert raw_query(store_url, "SELECT version_num FROM alembic_version") == [(head_revision(),)]


def test_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/wal.db"
    open_store(url).close()
    assert raw_query(url, "PRAGMA journal_mode") == [("wal",)]
