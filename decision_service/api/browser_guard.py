"""Without API keys the service is open on loopback; this keeps browsers out of it.

A web page the operator visits could otherwise post to 127.0.0.1 (a "simple"
cross-site request: text/plain or a form, no preflight) or reach it through
DNS rebinding (a hostile name resolving to 127.0.0.1). So, when no keys are
set: the Host header must name a loopback address, an Origin header must be
the service's own, and a body must be declared JSON (415 otherwise).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from decision_service.api.problems import Problem

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
_BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[:host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def refusal(scope: Scope) -> Problem | None:
    """Why this request is refused on an open loopback service, or None."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    host = headers.get("host", "")
    # Starlette's in-process test client is no socket peer and resolves no names.
    in_process = (scope.get("client") or ("",))[0] == "testclient"
    if not in_process and _host_name(host).lower() not in _LOOPBACK_HOSTS:
        return Problem(421, "host-not-loopback", "without API keys the service answers only "
                       "requests addressed to 127.0.0.1, localhost or [::1]")
    origin = headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1].lower() != host.lower():
        return Problem(403, "cross-origin", "cross-site requests are refused")
    method = scope.get("method", "GET").encode()
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if method in _BODY_METHODS and content_type not in ("application/json", ""):
        return Problem(415, "unsupported-media-type", "send JSON: Content-Type: "
                       "application/json", [{"field": "", "code": "content_type",
                                             "message": f"{content_type!r} is not JSON"}])
    return None


class BrowserGuard:
    """ASGI middleware: see the module docstring. Added only when no keys are set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = refusal(scope)
            if problem is not None:
                response: Any = problem.response(None)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
