"""JSON logs with the request id on every line, and the middleware that assigns it.

``RequestContext`` is a plain ASGI middleware (no BaseHTTPMiddleware: that one
costs a task and a memory stream per request). It takes a sane client-sent
``X-Request-ID`` or makes one, binds it into structlog's context variables (which
anyio copies into the threadpool, so lines logged while deciding carry it too),
returns it as a header, writes one access line, feeds the metrics, and turns a
bug that escaped every handler into a logged problem+json 500.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import re
import sys
import time
from typing import TYPE_CHECKING

import orjson
import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from decision_service.api.ids import new_id
from decision_service.api.problems import internal_error

if TYPE_CHECKING:
    from decision_service.api.metrics import Metrics

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")

log = structlog.get_logger("decision_service.api")


def _json(value: object, **_: object) -> str:
    return orjson.dumps(value, default=str).decode()


class _PassThroughQueueHandler(logging.handlers.QueueHandler):
    """Hands the record over as it is: the listener's ProcessorFormatter needs
    structlog's event dict in ``record.msg``, not the string QueueHandler makes."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


_listener: logging.handlers.QueueListener | None = None


def _stop_listener() -> None:
    """Write out every queued line (at exit, or before configuring again)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


atexit.register(_stop_listener)


def flush() -> None:
    """Write every line queued so far.  Called at shutdown: uvicorn ends the process by
    re-raising SIGTERM, which skips ``atexit``, so the last lines would be lost."""
    if _listener is not None:
        _listener.stop()  # drains the queue, then joins the thread
        _listener.start()


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
    # Writing to stderr releases the GIL, and getting it back while the log's writer
    # thread is busy can take the whole 5 ms switch interval: a request thread hands
    # its lines to a queue and one listener thread formats and writes them.
    global _listener
    _stop_listener()
    log_queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(log_queue, stream)
    _listener.start()
    root = logging.getLogger()
    # Replace only our own handler: others (pytest's capture, an embedding app's) stay.
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _PassThroughQueueHandler)]
    root.addHandler(_PassThroughQueueHandler(log_queue))
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


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled_error", method=scope["method"], path=scope["path"])
            if response_started:
                raise  # too late for a proper answer: let the server drop the connection
            await internal_error().response(request_id)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            self.metrics.observe_request(scope["method"], template, status, elapsed)
            log.info("request", method=scope["method"], path=scope["path"], route=template,
                     status=status, duration_ms=round(elapsed * 1000, 3))
            structlog.contextvars.reset_contextvars(**tokens)

    @staticmethod
    def _request_id(scope: Scope) -> str:
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                try:
                    text: str = bytes(value).decode("ascii")
                except UnicodeDecodeError:
                    break
                if _SANE_ID.fullmatch(text):
                    return text
                break
        return new_id()
