"""The decision endpoints' query and header parameters, read straight from the request.

FastAPI's per-request dependency solving (one pydantic validation per declared
parameter) was a tenth of the event loop's time per decision in a profile under
load (bench/http.py); these endpoints read ``explain`` and ``Idempotency-Key``
themselves and document them with ``DOCUMENTED``, as FastAPI would have. A bad
``explain`` gets the same 422 FastAPI's validation gave.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

from decision_service.api.idempotency import HEADER, checked_key
from decision_service.api.problems import Problem

KEY_DOC = ("A client-chosen key (visible ASCII, at most 200 characters): a retry with the "
           "same key and body gets the first answer with Idempotent-Replayed: true and logs "
           "nothing; the same key with another body is 422. Kept with the decision in the "
           "log (at least 24 hours).")

# pydantic's lax booleans, which FastAPI applied to the query parameter
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})

EXPLAIN_PARAMETER: dict[str, Any] = {
    "name": "explain", "in": "query", "required": False,
    "schema": {"type": "boolean", "default": True, "title": "Explain"}}
KEY_PARAMETER: dict[str, Any] = {
    "name": HEADER, "in": "header", "required": False, "description": KEY_DOC,
    "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": KEY_DOC,
               "title": HEADER}}


def explain_of(request: Request) -> bool:
    """``?explain=`` (default true); 422 naming the field for anything not a boolean."""
    return explain_in(request.scope.get("query_string", b""))


def explain_in(query_string: bytes) -> bool:
    """``explain_of`` given the raw query string."""
    if not query_string:
        return True
    raw = QueryParams(query_string).get("explain")
    if raw is None:
        return True
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Problem(422, "invalid-input", "invalid request parameters",
                  [{"field": "explain", "code": "type",
                    "message": "Input should be a valid boolean, unable to interpret input"}])


def idempotency_key_of(request: Request) -> str | None:
    """The ``Idempotency-Key`` header, checked; None without one."""
    return checked_key(request.headers.get(HEADER))


def idempotency_key_in(headers: Mapping[bytes, bytes]) -> str | None:
    """``idempotency_key_of`` given the headers by lower-case name."""
    value = headers.get(_KEY_NAME)
    return None if value is None else checked_key(value.decode("latin-1"))


_KEY_NAME = HEADER.lower().encode("latin-1")
