"""An acknowledged decision survives kill -9 of the process that logged it, and
SQLite fsyncs every commit unless the URL asks for less."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from storekit import fixed, log_until_killed_worker

from decision_service.store import DecisionStore, StoreError, open_store
from decision_service.store.sqlite import SQLiteStore

# PRAGMA synchronous answers 2 for FULL and 1 for NORMAL.
FULL, NORMAL = 2, 1


@pytest.mark.slow  # starts processes
def test_acknowledged_decisions_survive_kill_9(store: DecisionStore, store_url: str) -> None:
    _acknowledged_survive_kill_9(store, store_url)


@pytest.mark.slow  # starts processes
def test_with_synchronous_normal_acknowledged_decisions_survive_kill_9(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/normal.db?synchronous=normal"
    with open_store(url) as store:
        _acknowledged_survive_kill_9(store, url)


@pytest.mark.parametrize(("query", "level"), [("", FULL), ("?synchronous=full", FULL),
                                              ("?synchronous=NORMAL", NORMAL)])
def test_sqlite_syncs_every_commit_unless_normal_is_asked_for(
        tmp_path: Path, query: str, level: int) -> None:
    with open_store(f"sqlite:///{tmp_path}/sync.db{query}") as store:
        assert isinstance(store, SQLiteStore)
        # Every connection of the store, the writer's included, is made here.
        conn = store._connect()
        try:
            assert conn.execute("PRAGMA synchronous").fetchone() == (level,)
        finally:
            conn.close()


@pytest.mark.parametrize("value", ["off", "extra", ""])
def test_sqlite_refuses_other_synchronous_levels(tmp_path: Path, value: str) -> None:
    with pytest.raises(StoreError, match="synchronous"):
        open_store(f"sqlite:///{tmp_path}/sync.db?synchronous={value}")


def _acknowledged_survive_kill_9(store: DecisionStore, store_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=log_until_killed_worker, args=(store_url, sender))
    proc.start()
    sender.close()
    acked: list[str] = []
    try:
        while len(acked) < 40:
            assert receiver.poll(120), "worker stopped acknowledging"
            acked.append(receiver.recv())
    finally:
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: a batch is likely in flight
        proc.join(60)
    while True:  # acknowledgements already in the pipe count too
        try:
            acked.append(receiver.recv())
        except EOFError:
            break
    assert proc.exitcode == -signal.SIGKILL
    missing = [i for i in acked if store.get(i) is None]
    assert missing == []
    assert store.count() >= len(acked)
    assert store.verify_chain() == []


def test_sqlite_checkpoint_thread_copies_the_wal_into_the_database_file(
        tmp_path: Path) -> None:
    """A few records are far below SQLite's own checkpoint size (1000 pages): only
    the store's checkpoint thread copies them into the database file, while the
    store is open."""
    path = tmp_path / "ckpt.db"
    with open_store(f"sqlite:///{path}") as store:
        empty = path.stat().st_size
        for _ in range(20):
            store.log_decision(None, fixed())
        deadline = time.monotonic() + 60
        while path.stat().st_size == empty and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size > empty
        assert store.count() == 20


def test_sqlite_writer_waits_for_another_connections_write_lock(tmp_path: Path) -> None:
    """The writer polls for the lock itself (SQLite's busy handler would sleep in
    ever longer steps): it still waits, up to the store timeout, and then writes."""
    path = tmp_path / "locked.db"
    with open_store(f"sqlite:///{path}") as store:
        locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        locker.execute("BEGIN IMMEDIATE")
        future = store.submit(None, fixed())
        time.sleep(0.2)  # the writer is waiting for the lock meanwhile
        assert not future.done()
        locker.execute("ROLLBACK")
        locker.close()
        assert future.result(60).decision_id
        assert store.count() == 1
