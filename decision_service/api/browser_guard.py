"""Without API keys the service is open on loopback; this keeps browsers out of it.

A web page the operator visits could otherwise post to 127.0.0.1 (a "simple"
cross-site request: text/plain or a form, no preflight) or reach it through
DNS rebinding (a hostile name resolving to 127.0.0.1). So, when no keys are
set: the Host header must name a loopback address, an Origin header must be
the service's own, and a body must be declared JSON (415 otherwise).
``front.Front`` asks ``refusal`` before anything else when no keys are set.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Scope

from decision_service.api.problems import Problem

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[:host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def header_map(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by (lower-case, as ASGI sends them) name; of a repeated
    header, the first, as Starlette's ``Headers.get`` reads it."""
    return dict(reversed(scope["headers"]))


def refusal(scope: Scope, headers: Mapping[bytes, bytes] | None = None) -> Problem | None:
    """Why this request is refused on an open loopback service, or None.
    ``headers``: ``header_map(scope)``, when the caller has it already."""
    if headers is None:
        headers = header_map(scope)
    host = headers.get(b"host", b"").decode("latin-1")
    # Starlette's in-process test client is no socket peer and resolves no names.
    in_process = (scope.get("client") or ("",))[0] == "testclient"
    if not in_process and _host_name(host).lower() not in _LOOPBACK_HOSTS:
        return Problem(421, "host-not-loopback", "without API keys the service answers only "
                       "requests addressed to 127.0.0.1, localhost or [::1]")
    origin = headers.get(b"origin")
    if origin is not None and origin.decode("latin-1").split("://", 1)[-1].lower() != host.lower():
        return Problem(403, "cross-origin", "cross-site requests are refused")
    if scope.get("method", "GET") not in _BODY_METHODS:
        return None
    declared = headers.get(b"content-type", b"").decode("latin-1")
    content_type = declared.split(";", 1)[0].strip().lower()
    if content_type not in ("application/json", ""):
        return Problem(415, "unsupported-media-type", "send JSON: Content-Type: "
                       "application/json", [{"field": "", "code": "content_type",
                                             "message": f"{content_type!r} is not JSON"}])
    return None
