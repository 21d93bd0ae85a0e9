"""JSON logs, one object a line, with the request id on every line.

Every line leaves the process through one writer thread: a request's thread
never waits on stderr (writing releases the GIL, and getting it back while the
log's writer thread is busy can take a whole switch interval). Two kinds of
line reach that thread:

- structlog and stdlib records (uvicorn's too), queued as records and rendered
  by structlog's ``ProcessorFormatter`` in the writer thread;
- the access line of every request (``access``), which is the one written per
  request: in a served worker (``batch_access_lines``) the request path only
  appends a tuple to a deque (no logging machinery, no formatting, no thread
  wake-up); the writer thread renders and writes what has gathered every
  ``ACCESS_FLUSH_SECONDS``, in one write, in the same JSON shape as structlog's
  lines.
"""

from __future__ import annotations

import atexit
import collections
import datetime as dt
import logging
import logging.handlers
import queue
import sys
import threading
from typing import Any

import orjson
import structlog
from starlette.types import Scope

REQUEST_ID_HEADER = "X-Request-ID"
LOGGER_NAME = "decision_service.api"
# How long an access line may wait to be written; also how often an idle writer wakes.
ACCESS_FLUSH_SECONDS = 0.1
# A burst wakes the writer early rather than letting the deque grow without bound.
ACCESS_WAKE_LINES = 4096

log = structlog.get_logger(LOGGER_NAME)


def _json(value: object, **_: object) -> str:
    return orjson.dumps(value, default=str).decode()


class _PassThroughQueueHandler(logging.handlers.QueueHandler):
    """Hands the record over as it is: the writer's ProcessorFormatter needs
    structlog's event dict in ``record.msg``, not the string QueueHandler makes."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


# (wall time, request id, method, path, route template, status, seconds)
AccessLine = tuple[float, str, str, str, str, int, float]
_access: collections.deque[AccessLine] = collections.deque()
_WAKE = object()  # queued to make the writer write the access lines now
_STOP = object()


_batched = False


def batch_access_lines() -> None:
    """From now on access lines are batched (see the module docstring): for a served
    worker. Until then, as in an in-process test client, each is logged through
    structlog when its request ends, where a test reading the logs finds it."""
    global _batched
    _batched = True


def access(line: AccessLine) -> None:
    """One request's access line: queued for the writer, or logged at once (see
    ``batch_access_lines``)."""
    if not _batched:
        # the request id is bound in the context (``front.Front``), as for every line
        _, _, method, path, route, status, seconds = line
        log.info("request", method=method, path=path, route=route, status=status,
                 duration_ms=round(seconds * 1000, 3))
        return
    _access.append(line)
    if len(_access) >= ACCESS_WAKE_LINES and _writer is not None:
        _writer.queue.put(_WAKE)


def _render_access(line: AccessLine) -> bytes:
    when, request_id, method, path, route, status, seconds = line
    stamp = dt.datetime.fromtimestamp(when, dt.UTC).isoformat().replace("+00:00", "Z")
    # The keys and their order of a structlog line: event fields, then the bound
    # request id, then level, logger and timestamp.
    return orjson.dumps({"method": method, "path": path, "route": route, "status": status,
                         "duration_ms": round(seconds * 1000, 3), "event": "request",
                         "request_id": request_id, "level": "info", "logger": LOGGER_NAME,
                         "timestamp": stamp})


class _Writer(threading.Thread):
    """The one thread that writes log lines (see the module docstring)."""

    def __init__(self, handler: logging.StreamHandler[Any],
                 lines: queue.SimpleQueue[object]) -> None:
        super().__init__(name="log-writer", daemon=True)
        self.queue = lines
        self.handler = handler

    def run(self) -> None:
        while True:
            try:
                item = self.queue.get(timeout=ACCESS_FLUSH_SECONDS)
            except queue.Empty:
                item = _WAKE
            if item is _STOP:
                self.write_access()
                return
            if isinstance(item, logging.LogRecord):
                self.write_access()  # the lines of requests that ended before it
                self.handler.handle(item)
            else:
                self.write_access()

    def write_access(self) -> None:
        waiting = [_access.popleft() for _ in range(len(_access))]
        if not waiting or not logging.getLogger(LOGGER_NAME).isEnabledFor(logging.INFO):
            return
        text = b"\n".join([_render_access(line) for line in waiting]).decode() + "\n"
        self.handler.acquire()  # the lock the records are written under
        try:
            self.handler.stream.write(text)
            self.handler.stream.flush()
        except (OSError, ValueError):
            pass  # stderr gone (closed pipe): nothing else to write the error to
        finally:
            self.handler.release()

    def stop(self) -> None:
        self.queue.put(_STOP)
        self.join()


_writer: _Writer | None = None


def _stop_writer() -> None:
    """Write out every queued line (at exit, or before configuring again)."""
    global _writer
    if _writer is not None:
        _writer.stop()
        _writer = None


atexit.register(_stop_writer)


def flush() -> None:
    """Write every line queued so far.  Called at shutdown: uvicorn ends the process by
    re-raising SIGTERM, which skips ``atexit``, so the last lines would be lost."""
    global _writer
    if _writer is not None:
        writer = _writer
        writer.stop()  # drains the queue, then joins the thread
        _writer = _Writer(writer.handler, writer.queue)  # the queue the root logger feeds
        _writer.start()


def configure(level: str = "info") -> None:
    """structlog and the stdlib loggers (uvicorn's too) all write one JSON object a line."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_json),
        ],
    )
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(formatter)
    global _writer
    _stop_writer()
    _writer = _Writer(stream, queue.SimpleQueue())
    _writer.start()
    root = logging.getLogger()
    # Replace only our own handler: others (pytest's capture, an embedding app's) stay.
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _PassThroughQueueHandler)]
    root.addHandler(_PassThroughQueueHandler(_writer.queue))
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))
    # Our access line carries the request id; uvicorn's would duplicate it without one.
    logging.getLogger("uvicorn.access").disabled = True


def request_id_of(scope: Scope) -> str | None:
    value = scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None
