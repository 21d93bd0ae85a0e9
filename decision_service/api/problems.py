"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the service answers goes through ``Problem``: handlers below turn
Starlette's own errors (unknown route, wrong method), FastAPI's parameter
validation and any unexpected exception into the same shape, so a client never
has to parse two error formats. Only a real bug yields a 500, and it is logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from decision_service.errors import FieldProblem, PolicyProblem

PROBLEM_TYPE = "application/problem+json"
TYPE_BASE = "urn:decision-service:problem:"

_TITLES = {
    "malformed-json": "Malformed JSON",
    "invalid-input": "Invalid input",
    "body-too-large": "Request body too large",
    "unknown-policy": "Unknown policy",
    "unknown-decision": "Unknown decision",
    "unknown-unit": "Unknown unit",
    "idempotency-key-reused": "Idempotency key used for another request",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "unauthorized": "Missing or unknown API key",
    "forbidden": "API key lacks the scope",
    "invalid-policies": "Invalid policy set",
    "cannot-decide": "The policy cannot decide this input",
    "store-unavailable": "Decision log unavailable",
    "unsupported-media-type": "Unsupported media type",
    "internal-error": "Internal error",
}

class Problem(Exception):
    """An error answer. ``errors`` name the fields (or policy file positions) at fault."""

    def __init__(self, status: int, slug: str, detail: str,
                 errors: Iterable[Mapping[str, Any]] = (),
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.errors = [dict(e) for e in errors]
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": _TITLES.get(self.slug, self.slug.replace("-", " ").capitalize()),
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        return body

    def response(self, request_id: str | None = None) -> Response:
        body = self.body()
        if request_id:
            body["request_id"] = request_id
        return Response(orjson.dumps(body), status_code=self.status, media_type=PROBLEM_TYPE,
                        headers=self.headers)


MAX_PROBLEMS = 50  # listed in one answer; a hostile body must not make a huge answer


def invalid_input(problems: Iterable[FieldProblem], detail: str = "") -> Problem:
    items = [p.as_dict() for p in problems]
    more = len(items) - MAX_PROBLEMS
    items = items[:MAX_PROBLEMS]
    fields = ", ".join(sorted({i["field"] or "<body>" for i in items}))
    if more > 0:
        fields += f" and {more} more"
    return Problem(422, "invalid-input", detail or f"invalid input: {fields}", items)


def invalid_policies(problems: Iterable[PolicyProblem]) -> Problem:
    items = [p.as_dict() for p in problems]
    return Problem(422, "invalid-policies",
                   f"{len(items)} problem(s) in the policy directory; the active set stays",
                   items)


def _request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return exc.response(_request_id(request))


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(
        exc.status_code, "http-error")
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such endpoint: {request.method} {request.url.path}"
    problem = Problem(exc.status_code, slug, detail, headers=exc.headers)
    return problem.response(_request_id(request))


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for item in exc.errors():
        loc = [str(p) for p in item.get("loc", ())]
        errors.append({"field": ".".join(loc[1:]) or ".".join(loc), "code": "type",
                       "message": str(item.get("msg", "invalid"))})
    problem = Problem(422, "invalid-input", "invalid request parameters", errors)
    return problem.response(_request_id(request))


def internal_error() -> Problem:
    """For real bugs only (see ``logging.RequestContext``, which catches and logs them)."""
    return Problem(500, "internal-error",
                   "an internal error occurred; quote the request id when reporting it")


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
