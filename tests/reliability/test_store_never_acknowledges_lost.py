"""Attacks 2 and 3: a store that acknowledged what it did not keep. The SQLite log's
directory removed while serving kept answering 200; /readyz said ready while every
decision got 503; the server started with the decisions table missing; a locked log
held requests for 60 s or for as long as the lock."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import psycopg
import pytest
from relkit import URL, client, deal, pg_base, pg_schema, store_url

from decision_service.store import StoreError, open_store


def test_removing_the_sqlite_log_directory_while_serving_answers_503(tmp_path: Path) -> None:
    with client(f"sqlite:///{tmp_path / 'data' / 'decisions.db'}") as app:
        assert app.post(URL, json=deal()).status_code == 200
        shutil.rmtree(tmp_path / "data")
        answers = {app.post(URL, json=deal()).status_code for _ in range(5)}
        assert answers == {503}
        assert app.get("/readyz").status_code == 503


def test_replacing_the_sqlite_log_file_while_serving_answers_503(tmp_path: Path) -> None:
    path = tmp_path / "decisions.db"
    with client(f"sqlite:///{path}") as app:
        assert app.post(URL, json=deal()).status_code == 200
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        sqlite3.connect(path).close()  # a new, empty file in its place
        assert app.post(URL, json=deal()).status_code == 503


def _drop_table(db: str) -> None:
    if db.startswith("sqlite"):
        with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
            conn.execute("ALTER TABLE decisions RENAME TO decisions_gone")
        return
    with psycopg.connect(pg_base(db), autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {pg_schema(db)}.decisions RENAME TO decisions_gone".encode())


def test_readyz_is_not_ready_after_a_failed_commit_until_a_write_succeeds(
        tmp_path: Path, store_kind: str) -> None:
    with store_url(store_kind, tmp_path) as db, client(db) as app:
        assert app.post(URL, json=deal()).status_code == 200
        _drop_table(db)
        assert app.post(URL, json=deal()).status_code == 503
        ready = app.get("/readyz")
        assert ready.status_code == 503 and ready.json()["store"] is False


def test_the_server_does_not_start_with_the_decisions_table_missing(
        tmp_path: Path, store_kind: str) -> None:
    with store_url(store_kind, tmp_path) as db:
        open_store(db).close()
        _drop_table(db)
        with pytest.raises(StoreError):
            open_store(db)


def test_a_locked_sqlite_log_answers_503_within_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "decisions.db"
    with client(f"sqlite:///{path}", store_timeout=0.5) as app:
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            assert app.post(URL, json=deal()).status_code == 503
            assert time.monotonic() - started < 5
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert app.post(URL, json=deal()).status_code == 200
        assert app.get("/readyz").status_code == 200


@pytest.mark.pg
def test_a_locked_postgresql_table_answers_503_within_the_timeout(tmp_path: Path) -> None:
    with store_url("postgresql", tmp_path) as db, client(db, store_timeout=0.5) as app:
        assert app.post(URL, json=deal()).status_code == 200
        locked = threading.Event()
        release = threading.Event()

        def hold_lock() -> None:
            with psycopg.connect(pg_base(db)) as conn:
                conn.execute(f"LOCK TABLE {pg_schema(db)}.decisions IN ACCESS EXCLUSIVE MODE"
                             .encode())
                locked.set()
                release.wait(30)

        holder = threading.Thread(target=hold_lock)
        holder.start()
        try:
            assert locked.wait(10)
            started = time.monotonic()
            assert app.post(URL, json=deal()).status_code == 503
            assert time.monotonic() - started < 5
        finally:
            release.set()
            holder.join()
        assert app.post(URL, json=deal()).status_code == 200
