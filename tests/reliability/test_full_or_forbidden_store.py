"""Attack 3: /readyz said ready while every decision got 503 — disk full, privileges
revoked, a read-only role. Each now answers decisions with a fast 503
problem+json, /readyz is not ready, and every decision answered 200 before is in
the log."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from relkit import URL, client, deal, pg_base, pg_schema, store_url
from relserver import start_server

from decision_service.store import open_store

PROBLEM = "application/problem+json"


def _assert_refused_fast(answer: Any, started: float) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert time.monotonic() - started < 5


def _assert_all_kept(db: str, acknowledged: list[str]) -> None:
    store = open_store(db)
    try:
        assert [d for d in acknowledged if store.get(d) is None] == []
        assert store.verify_chain() == []
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_full_disk_under_the_sqlite_log_answers_503_and_readyz_not_ready(
        tmp_path: Path) -> None:
    """A full disk, for real, without root or a mount: the server process runs with
    RLIMIT_FSIZE, so the kernel refuses (EFBIG) every write that would grow a file
    past the limit — the WAL's next frames included — just as a full disk refuses
    with ENOSPC. Decisions are sent one after another until the first 503."""
    db = f"sqlite:///{tmp_path / 'log' / 'decisions.db'}"
    open_store(db).close()  # the schema made without the limit; the log then grows
    server = start_server(tmp_path / "run", db, file_size_limit=1024 * 1024)
    acknowledged: list[str] = []
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            for _ in range(5000):
                started = time.monotonic()
                answer = http.post(URL, json=deal())
                if answer.status_code != 200:
                    break
                acknowledged.append(answer.json()["decision_id"])
            _assert_refused_fast(answer, started)
            started = time.monotonic()
            _assert_refused_fast(http.post(URL, json=deal()), started)
            assert http.get("/readyz").status_code == 503
    finally:
        server.stop()
    assert len(acknowledged) > 10, server.output()
    _assert_all_kept(db, acknowledged)


@contextmanager
def _pg_role(db: str, *grants: str, **role_settings: str) -> Iterator[str]:
    """A login role (trust auth) with these privileges on the log's schema; its URL."""
    role = f"rel_{uuid.uuid4().hex[:12]}"
    schema = pg_schema(db)
    with psycopg.connect(pg_base(db), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN".encode())
        conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}".encode())
        for grant in grants:
            conn.execute(f"GRANT {grant} TO {role}".encode())
        for name, value in role_settings.items():
            conn.execute(f"ALTER ROLE {role} SET {name} = {value}".encode())
    try:
        yield db.replace("postgres@", f"{role}@", 1)
    finally:
        with psycopg.connect(pg_base(db), autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}".encode())
            conn.execute(f"DROP ROLE {role}".encode())


@pytest.mark.pg
def test_revoking_insert_on_the_decisions_table_answers_503_and_readyz_not_ready(
        tmp_path: Path) -> None:
    with store_url("postgresql", tmp_path) as db:
        open_store(db).close()
        schema = pg_schema(db)
        tables = f"ALL TABLES IN SCHEMA {schema}"
        with _pg_role(db, f"SELECT, INSERT ON {tables}") as role_db, client(role_db) as app:
            acknowledged = [app.post(URL, json=deal()).json()["decision_id"] for _ in range(3)]
            with psycopg.connect(pg_base(db), autocommit=True) as conn:
                conn.execute(f"REVOKE INSERT ON {schema}.decisions FROM {_role(role_db)}"
                             .encode())
            started = time.monotonic()
            _assert_refused_fast(app.post(URL, json=deal()), started)
            assert app.get("/readyz").status_code == 503
        _assert_all_kept(db, acknowledged)


def _role(url: str) -> str:
    return url.split("://", 1)[1].split("@", 1)[0]


@pytest.mark.pg
def test_a_read_only_role_answers_503_and_readyz_not_ready(tmp_path: Path) -> None:
    with store_url("postgresql", tmp_path) as db:
        with client(db) as app:
            acknowledged = [app.post(URL, json=deal()).json()["decision_id"] for _ in range(3)]
        tables = f"ALL TABLES IN SCHEMA {pg_schema(db)}"
        with _pg_role(db, f"SELECT, INSERT ON {tables}",
                      default_transaction_read_only="on") as role_db, client(role_db) as app:
            started = time.monotonic()
            _assert_refused_fast(app.post(URL, json=deal()), started)
            assert app.get("/readyz").status_code == 503
        _assert_all_kept(db, acknowledged)
