"""The one ASGI layer in front of FastAPI, and the endpoints it answers itself.

``Front`` does for every HTTP request, in one pass over the headers, what three
middlewares did one after the other: keeps browsers out of an open service
(``browser_guard``), takes a sane client-sent ``X-Request-ID`` or makes one
(bound into structlog's context variables, which anyio copies into the
threadpool, so lines logged while deciding carry it too; returned as a header),
and afterwards feeds the metrics and queues the access line. A bug that escaped
every handler becomes a logged problem+json 500.

The hot endpoints (a single decision, and the benchmark's constant baseline)
are ``FastRoute``\\ s, answered here directly: routing through FastAPI, its
exception middleware and its request wrapper cost more than a decision
(a profile under bench/http.py). Their FastAPI routes stay registered, and
behave the same, for the OpenAPI document and for any path this layer does not
match (a ``root_path`` deployment, say). Everything else goes on to FastAPI.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import structlog
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from decision_service.api.browser_guard import header_map, refusal
from decision_service.api.ids import new_id
from decision_service.api.logging import REQUEST_ID_HEADER, access
from decision_service.api.metrics import Metrics
from decision_service.api.problems import Problem, internal_error

_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")
_ID_HEADER = REQUEST_ID_HEADER.lower().encode("latin-1")
_JSON = (b"content-type", b"application/json")
UNMATCHED = "<unmatched>"
DISCONNECTED = 499  # the client left before its answer (nginx's code, in logs only)

log = structlog.get_logger("decision_service.api")


@dataclass(frozen=True, slots=True)
class Call:
    """What a ``FastRoute`` handler gets: the request, its headers by lower-case name
    (the first of a repeated one), the path's last segment (for a ``{param}``
    template) and the request id."""

    scope: Scope
    receive: Receive
    headers: Mapping[bytes, bytes]
    param: str
    request_id: str


# status, JSON body, extra headers; a handler raises ``Problem`` for an error answer
Reply = tuple[int, bytes, list[tuple[bytes, bytes]]]
Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class FastRoute:
    """``method`` on ``template``: a fixed path, or a prefix and one ``{param}`` segment."""

    method: str
    template: str
    handler: Handler

    @property
    def prefix(self) -> str | None:
        """The path before the ``{param}`` segment; None for a fixed path."""
        if not self.template.endswith("}"):
            return None
        return self.template[:self.template.rindex("{")]


class Front:
    def __init__(self, app: ASGIApp, metrics: Metrics, guard: bool,
                 routes: list[FastRoute]) -> None:
        """``app``: FastAPI's own stack; ``guard``: refuse browsers (no API keys set)."""
        self.app = app
        self.metrics = metrics
        self.guard = guard
        self._fixed = {(r.method, r.template): r for r in routes if r.prefix is None}
        self._param = {(r.method, r.prefix): r for r in routes if r.prefix is not None}

    def _match(self, method: str, path: str) -> tuple[FastRoute, str] | None:
        fixed = self._fixed.get((method, path))
        if fixed is not None:
            return fixed, ""
        cut = path.rfind("/") + 1
        route = self._param.get((method, path[:cut]))
        if route is None or cut == len(path):
            return None
        return route, path[cut:]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = header_map(scope)
        request_id = _request_id(headers.get(_ID_HEADER))
        scope.setdefault("state", {})["request_id"] = request_id
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        outcome = _Outcome()
        try:
            refused = refusal(scope, headers) if self.guard else None
            if refused is not None:
                outcome.status = await _problem(refused, None, request_id, scope, receive, send)
                return
            match = self._match(scope["method"], scope["path"])
            if match is None:
                await self._forward(scope, receive, send, request_id, outcome)
            else:
                route, param = match
                outcome.route = route.template
                outcome.status = await _answer(
                    route.handler, Call(scope, receive, headers, param, request_id), send)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe_request(scope["method"], outcome.route, outcome.status, elapsed)
            access((time.time(), request_id, scope["method"], scope["path"], outcome.route,
                    outcome.status, elapsed))
            structlog.contextvars.reset_contextvars(**tokens)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, request_id: str,
                       outcome: _Outcome) -> None:
        """Through FastAPI: the request id header added, the status and route noted."""
        id_header = (_ID_HEADER, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome.status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            outcome.status = DISCONNECTED
        finally:
            outcome.route = getattr(scope.get("route"), "path", None) or UNMATCHED


class _Outcome:
    __slots__ = ("route", "status")

    def __init__(self) -> None:
        self.status = 500
        self.route = UNMATCHED


async def _answer(handler: Handler, call: Call, send: Send) -> int:
    """Run a fast route's handler and send its reply (or its problem); the status."""
    try:
        status, body, extra = await handler(call)
    except ClientDisconnect:
        return DISCONNECTED
    except Problem as problem:
        return await _problem(problem, call.request_id, call.request_id, call.scope,
                              call.receive, send)
    except Exception:
        log.exception("unhandled_error", method=call.scope["method"], path=call.scope["path"])
        return await _problem(internal_error(), call.request_id, call.request_id, call.scope,
                              call.receive, send)
    headers = [(b"content-length", b"%d" % len(body)), _JSON, *extra,
               (_ID_HEADER, call.request_id.encode("latin-1"))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


async def _problem(problem: Problem, body_id: str | None, request_id: str, scope: Scope,
                   receive: Receive, send: Send) -> int:
    response = problem.response(body_id)
    response.headers.append(REQUEST_ID_HEADER, request_id)
    await response(scope, receive, send)
    return problem.status


def _request_id(sent: bytes | None) -> str:
    if sent is not None:
        try:
            text = sent.decode("ascii")
        except UnicodeDecodeError:
            return new_id()
        if _SANE_ID.fullmatch(text):
            return text
    return new_id()


class Catch:
    """The innermost user middleware of the FastAPI stack: a bug that escaped every
    handler is logged and answered as a problem+json 500 (FastAPI's own outermost
    layer would answer plain text and drop the connection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting)
        except ClientDisconnect:
            raise  # nobody to answer (``Front`` notes it)
        except Exception:
            log.exception("unhandled_error", method=scope["method"], path=scope["path"])
            if started:
                raise  # too late for a proper answer: let the server drop the connection
            request_id = scope.get("state", {}).get("request_id")
            await internal_error().response(request_id)(scope, receive, send)
