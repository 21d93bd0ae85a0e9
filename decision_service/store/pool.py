"""A tiny thread-safe pool of reader connections.

Reads (get, iter_records, verify_chain, count) come from any thread of the HTTP
server; neither sqlite3 nor psycopg connections may be used by two threads at
once, and opening one per call costs a round trip (PostgreSQL) or pragmas
(SQLite).  The writer thread has its own connection and never uses this pool.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

C = TypeVar("C")


class ConnectionPool(Generic[C]):
    """Hands out idle connections, opening new ones when none is idle."""

    def __init__(
        self, connect: Callable[[], C], close: Callable[[C], None], max_idle: int = 8
    ) -> None:
        self._connect = connect
        self._close = close
        self._max_idle = max_idle
        self._idle: queue.LifoQueue[C] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[C]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
        healthy = False
        try:
            yield conn
            healthy = True
        finally:
            # A connection that saw an error may be broken or mid-transaction:
            # drop it rather than hand it to the next caller.
            with self._lock:
                keep = healthy and not self._closed and self._idle.qsize() < self._max_idle
                if keep:
                    self._idle.put(conn)
            if not keep:
                self._close(conn)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.discard_idle()

    def discard_idle(self) -> None:
        """Close every idle connection (e.g. after the server dropped them all)."""
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return
            self._close(conn)
