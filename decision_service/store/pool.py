"""A small, bounded, thread-safe pool of SQLite reader connections.

Reads (get, iter_records, verify_chain, count) come from any thread of the HTTP
server; a sqlite3 connection may not be used by two threads at once, and opening
one per call costs its pragmas.  At most ``max_size`` connections are out at once:
a caller beyond that waits up to ``timeout`` seconds for one to come back, then
gets a ``StoreError`` (a 503), so a burst of readers can neither open file
handles without end nor wait without end.  The writer thread has its own
connection and never uses this pool.  (PostgreSQL readers use psycopg_pool.)
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from .errors import StoreError

C = TypeVar("C")

DEFAULT_MAX_SIZE = 8


class ConnectionPool(Generic[C]):
    """Hands out idle connections, opening new ones up to ``max_size`` in use."""

    def __init__(self, connect: Callable[[], C], close: Callable[[C], None], *,
                 max_size: int = DEFAULT_MAX_SIZE, timeout: float = 5.0) -> None:
        if max_size < 1:
            raise StoreError(f"pool_max_size must be at least 1, not {max_size}")
        self._connect = connect
        self._close = close
        self._max_size = max_size
        self._timeout = timeout
        self._slots = threading.BoundedSemaphore(max_size)
        self._idle: queue.LifoQueue[C] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[C]:
        if not self._slots.acquire(timeout=self._timeout):
            raise StoreError(f"no reader connection to the decision log came free within "
                             f"{self._timeout:g} s (all {self._max_size} in use)")
        try:
            with self._checked_out() as conn:
                yield conn
        finally:
            self._slots.release()

    @contextmanager
    def _checked_out(self) -> Iterator[C]:
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
                keep = healthy and not self._closed
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
