"""Attack 6: the PostgreSQL reader pool had no bound — a burst of slow reads opened
a session per reader. Now at most ``pool_max_size`` reader sessions exist; readers
beyond them wait up to the store timeout and then get a StoreError (503 over HTTP)
instead of opening more connections; SQLite's pool is bounded the same way."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from relkit import URL, client, deal, pg_base, pg_schema, store_url

from decision_service.store import DecisionStore, StoreError, open_store

READERS = 6
BOUND = 2


def _read_all_at_once(store: DecisionStore) -> list[tuple[str, float]]:
    """READERS threads each read once, all started together: (outcome, seconds)."""
    outcomes: list[tuple[str, float]] = []
    start = threading.Barrier(READERS)

    def read() -> None:
        start.wait()
        began = time.monotonic()
        try:
            store.count()
            outcome = "ok"
        except StoreError as exc:
            outcome = str(exc)
        outcomes.append((outcome, time.monotonic() - began))

    threads = [threading.Thread(target=read) for _ in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@contextmanager
def _locked_pg_table(db: str) -> Iterator[None]:
    with psycopg.connect(pg_base(db)) as conn:
        conn.execute(f"LOCK TABLE {pg_schema(db)}.decisions IN ACCESS EXCLUSIVE MODE".encode())
        yield
        conn.rollback()


def _sessions(db: str) -> Callable[[], int]:
    name = f"decision-service/{pg_schema(db)}"

    def count() -> int:
        with psycopg.connect(pg_base(db), autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity "
                               "WHERE application_name = %s AND wait_event_type = 'Lock'",
                               (name,)).fetchone()
        return int(row[0]) if row else 0

    return count


@pytest.mark.pg
def test_readers_beyond_the_postgresql_pool_bound_wait_then_fail_fast(tmp_path: Path) -> None:
    """The table locked: every reader holding a session waits on the lock, so the
    sessions waiting on it are exactly the readers the pool let through."""
    with store_url("postgresql", tmp_path) as db:
        store = open_store(f"{db}&pool_max_size={BOUND}&pool_min_size=0", timeout=1.0)
        try:
            count_waiting = _sessions(db)
            outcomes: list[tuple[str, float]] = []
            readers = threading.Thread(target=lambda: outcomes.extend(_read_all_at_once(store)))
            most_waiting = 0
            with _locked_pg_table(db):
                readers.start()
                while readers.is_alive():
                    most_waiting = max(most_waiting, count_waiting())
                readers.join()
            assert most_waiting == BOUND
            assert len(outcomes) == READERS and all(o != "ok" for o, _ in outcomes)
            # The pool's wait and the lock's wait share one timeout: a session freed by
            # its lock timeout can be handed to a waiter in the same instant, which then
            # fails on the lock instead of on the pool. Never more than BOUND do.
            came_free = sum("came free" in outcome for outcome, _ in outcomes)
            assert READERS - 2 * BOUND <= came_free <= READERS - BOUND
            assert max(seconds for _, seconds in outcomes) < 4
            assert store.count() == 0  # the pool serves again once the lock is gone
        finally:
            store.close()


@pytest.mark.pg
def test_the_pooled_postgresql_readers_keep_the_logs_session_settings(tmp_path: Path) -> None:
    with store_url("postgresql", tmp_path) as db:
        store = open_store(db, timeout=1.5)
        try:
            with store._readers.connection() as conn:  # type: ignore[attr-defined]
                settings = conn.execute(
                    "SELECT current_schema(), current_setting('lock_timeout'), "
                    "current_setting('statement_timeout'), current_setting('TimeZone'), "
                    "current_setting('synchronous_commit')").fetchone()
            assert settings == (pg_schema(db), "1500ms", "1500ms", "UTC", "on")
        finally:
            store.close()


@pytest.mark.pg
def test_an_exhausted_postgresql_pool_answers_503_over_http(tmp_path: Path) -> None:
    with store_url("postgresql", tmp_path) as db, \
            client(f"{db}&pool_max_size=1&pool_min_size=0", store_timeout=0.5) as app:
        decision_id = app.post(URL, json=deal()).json()["decision_id"]
        store = app.app.state.ctx.store  # type: ignore[attr-defined]
        with store._readers.connection():
            started = time.monotonic()
            answer = app.get(f"/v1/decisions/{decision_id}")
            assert answer.status_code == 503
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert time.monotonic() - started < 4
        assert app.get(f"/v1/decisions/{decision_id}").status_code == 200


def test_readers_beyond_the_sqlite_pool_bound_wait_then_fail_fast(tmp_path: Path) -> None:
    path = tmp_path / "decisions.db"
    store = open_store(f"sqlite:///{path}?pool_max_size={BOUND}", timeout=0.5)
    try:
        with store._readers.connection(), store._readers.connection():  # type: ignore[attr-defined]
            outcomes = _read_all_at_once(store)
        assert all("came free" in outcome for outcome, _ in outcomes)
        assert max(seconds for _, seconds in outcomes) < 4
        assert store.count() == 0
    finally:
        store.close()


def test_pool_options_in_a_store_url_are_checked(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="pool_max_size"):
        open_store(f"sqlite:///{tmp_path / 'a.db'}?pool_max_size=many")
    with pytest.raises(StoreError, match="pool_min_size"):
        open_store(f"sqlite:///{tmp_path / 'b.db'}?pool_min_size=1")
    with pytest.raises(StoreError, match="pool_max_size"):
        open_store(f"sqlite:///{tmp_path / 'c.db'}?pool_max_size=0")
