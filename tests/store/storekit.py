"""Helpers shared by the store tests and by their spawned worker processes.

Kept in a plain module (not conftest) so ``multiprocessing`` with the spawn start
method can import the worker functions in the child process.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from databases import split_pg_url

from decision_service.store import (
    AggregateQuery,
    DecisionRecord,
    DecisionStore,
    DraftRecord,
    open_store,
)

DAY = date(2024, 6, 30)  # the "today" (as_of) of most tests
KEY = "deal-42"


def draft(prior: float = 0.0, **overrides: Any) -> DraftRecord:
    """A complete draft; ``prior`` lands in the output so tests can see what decide saw."""
    values: dict[str, Any] = {
        "decision_id": uuid.uuid4().hex,
        "policy": "discount-approval",
        "policy_version": "2024.06.1",
        "bundle_hash": "b" * 64,
        "engine": "durable",
        "decided_at": datetime(2024, 6, 30, 9, 15, 30, 123456, tzinfo=UTC),
        "decision_date": DAY,
        "request_id": "req-1",
        "input": {"deal": {"amount": 1200.5, "currency": "EUR"}, "seller": "ann"},
        "output": {"approved": True, "prior": prior},
        "reasons": [{"rule": "r1", "text": "under limit"}],
        "agg_key": KEY,
        "agg_amount": 100.0,
    }
    values.update(overrides)
    return DraftRecord(**values)


def recording(priors: list[float], **overrides: Any) -> Callable[[float], DraftRecord]:
    """A decide() that notes the prior it was given, then returns a draft."""

    def decide(prior: float) -> DraftRecord:
        priors.append(prior)
        return draft(prior, **overrides)

    return decide


def fixed(**overrides: Any) -> Callable[[float], DraftRecord]:
    """A decide() that ignores the prior and returns a draft with ``overrides``."""
    return lambda prior: draft(prior, **overrides)


class Refused(Exception):
    """What a decide that blows up raises (see ``refuse``)."""


def refuse(prior: float) -> DraftRecord:
    """A decide that fails: the store must hand its error to that caller alone."""
    raise Refused("policy engine blew up")


def window(day: date = DAY, key: str = KEY) -> AggregateQuery:
    return AggregateQuery(key=key, since=day - timedelta(days=90), until=day)


@contextmanager
def one_batch(store: DecisionStore) -> Iterator[None]:
    """Everything submitted inside the block is written as one batch, in order."""
    inside, release = threading.Event(), threading.Event()

    def hold(prior: float) -> DraftRecord:
        inside.set()
        release.wait(60)
        return draft(prior, agg_key="holder")

    held = store.submit(None, hold)
    assert inside.wait(60)
    try:
        yield
    finally:
        release.set()
        held.result(60)


def outcome(future: Future[DecisionRecord]) -> DecisionRecord | BaseException:
    error = future.exception(60)
    return future.result() if error is None else error


def raw_execute(url: str, sql: str) -> None:
    """Run SQL behind the store's back (to tamper with rows or break the schema)."""
    if url.startswith("sqlite:///"):
        with closing(sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)) as conn:
            conn.execute(sql)
        return
    base, schema = split_pg_url(url)
    with psycopg.connect(base, autocommit=True, options=f"-c search_path={schema}") as conn:
        conn.execute(sql.encode())


def raw_query(url: str, sql: str) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite:///"):
        with closing(sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)) as conn:
            return list(conn.execute(sql).fetchall())
    base, schema = split_pg_url(url)
    with psycopg.connect(base, autocommit=True, options=f"-c search_path={schema}") as conn:
        return list(conn.execute(sql.encode()).fetchall())


def log_same_key_worker(url: str, threads: int, per_thread: int, start: Any, results: Any) -> None:
    """Child process: open the store, wait for the sibling, log decisions for KEY.

    Puts the list of priors its decisions saw on ``results`` (or the first error,
    as a string, so the parent fails at once instead of waiting for a report).
    """
    store = open_store(url)
    priors: list[float] = []
    errors: list[str] = []
    try:
        start.wait()

        def one() -> None:
            try:
                for _ in range(per_thread):
                    store.log_decision(window(), recording(priors, agg_amount=100.0))
            except Exception as exc:
                errors.append(repr(exc))

        workers = [threading.Thread(target=one) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        store.close()
    results.put(errors[0] if errors else priors)


def open_and_close_worker(url: str, start: Any, results: Any) -> None:
    """Child process: open (and so migrate) the store at the same moment as siblings."""
    start.wait()
    try:
        store = open_store(url)
        store.close()
        results.put("ok")
    except Exception as exc:
        results.put(repr(exc))


def log_until_killed_worker(url: str, acks: Any) -> None:
    """Child process: log decisions forever, sending each id only once it is acknowledged."""
    store = open_store(url)
    while True:
        acks.send(store.log_decision(window(), fixed()).decision_id)
