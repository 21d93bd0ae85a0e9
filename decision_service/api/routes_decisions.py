"""POST /v1/decisions/{policy}, its batch form, and GET /v1/decisions/{decision_id}."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive

from decision_service.api.auth import secured
from decision_service.api.bodies import JSONBody, parse_json, read_body, read_json
from decision_service.api.browser_guard import header_map
from decision_service.api.context import AppContext, request_id
from decision_service.api.front import Call, FastRoute, Reply
from decision_service.api.idempotency import REPLAYED_HEADER
from decision_service.api.openapi import json_body, problems
from decision_service.api.params import (
    EXPLAIN_PARAMETER,
    KEY_PARAMETER,
    explain_in,
    explain_of,
    idempotency_key_in,
    idempotency_key_of,
)
from decision_service.api.problems import Problem
from decision_service.api.schemas import BatchOut, DecisionOut, LoggedDecision, PreviewOut

# Read from the request by the handlers (see params), documented here.
_DECIDE_PARAMETERS = {"parameters": [EXPLAIN_PARAMETER, KEY_PARAMETER]}


def _batch_items(body: Any, limit: int) -> tuple[list[Any], bool]:
    """The batch envelope: ``{"items": [...], "explain"?: bool}``, at most ``limit`` items."""
    if not isinstance(body, dict):
        raise Problem(422, "invalid-input", "the body must be an object {\"items\": [...]}",
                      [{"field": "", "code": "type", "message": "expected a JSON object"}])
    unknown = [k for k in body if k not in ("items", "explain")]
    errors = [{"field": k, "code": "unknown_field", "message": f"unknown field {k!r}"}
              for k in unknown]
    items = body.get("items")
    if "items" not in body:
        errors.append({"field": "items", "code": "missing", "message": "field required"})
    elif not isinstance(items, list):
        errors.append({"field": "items", "code": "type", "message": "must be a list"})
    elif len(items) > limit:
        errors.append({"field": "items", "code": "range",
                       "message": f"{len(items)} items; a batch holds at most {limit}"})
    explain = body.get("explain", True)
    if not isinstance(explain, bool):
        errors.append({"field": "explain", "code": "type",
                       "message": f"must be true or false, not {explain!r}"})
    if errors:
        fields = ", ".join(e["field"] for e in errors)
        raise Problem(422, "invalid-input", f"invalid batch: {fields}", errors)
    assert isinstance(items, list)
    return items, explain


def _replayed(body: Any, replayed: bool) -> JSONBody:
    return JSONBody(body, headers={REPLAYED_HEADER: "true"} if replayed else None)


async def decide_one(ctx: AppContext, policy: str, headers: Mapping[bytes, bytes],
                     query_string: bytes, receive: Receive,
                     request_id: str | None) -> tuple[dict[str, Any], bool]:
    """POST /v1/decisions/{policy}: the answer, and whether it replays an earlier one.
    ``headers`` by lower-case name (``browser_guard.header_map``)."""
    explain = explain_in(query_string)
    authorization = headers.get(b"authorization")
    scopes = ctx.keyring.check_header(
        None if authorization is None else authorization.decode("latin-1"), "decide")
    key = idempotency_key_in(headers)
    raw = parse_json(await read_body(headers, receive, ctx.settings.max_body_bytes))
    # The compiled engine decides faster than a thread handoff; durable-rules is
    # slower and serialised by a global lock, so it must not hold up the event loop.
    return await ctx.service.decide_async(policy, raw, request_id, key, explain,
                                          "backdate" in scopes,
                                          in_thread=ctx.settings.engine != "compiled")


_REPLAYED = (REPLAYED_HEADER.lower().encode("latin-1"), b"true")


def fast_routes(ctx: AppContext) -> list[FastRoute]:
    """The single decision, answered by ``front.Front`` without FastAPI's routing."""

    async def decide(call: Call) -> Reply:
        body, replayed = await decide_one(ctx, call.param, call.headers,
                                          call.scope.get("query_string", b""), call.receive,
                                          call.request_id)
        return 200, orjson.dumps(body), [_REPLAYED] if replayed else []

    return [FastRoute("POST", "/v1/decisions/{policy}", decide)]


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(prefix="/v1/decisions", tags=["decisions"])
    limit = ctx.settings.max_body_bytes

    # Answered by front.Front through ``fast_routes``; registered for the OpenAPI
    # document and for a path Front does not match (behind a root_path, say).
    @api.post("/{policy}", response_class=JSONBody,
              responses={200: {"model": DecisionOut}, **problems(400, 401, 403, 404, 413, 415, 422,
                                                                 503)},
              openapi_extra={**json_body(description="The policy's inputs as a flat object; "
                                         "see GET /v1/policies/{policy} for its schema"),
                             **secured("decide"), **_DECIDE_PARAMETERS},
              summary="Decide one input; logged before it is answered")
    async def decide(request: Request) -> JSONBody:
        body, replayed = await decide_one(
            ctx, request.path_params["policy"], header_map(request.scope),
            request.scope.get("query_string", b""), request.receive, request_id(request))
        return _replayed(body, replayed)

    @api.post("/{policy}/batch", response_class=JSONBody,
              responses={200: {"model": BatchOut}, **problems(400, 401, 403, 404, 413, 415, 422,
                                                              503)},
              openapi_extra={**json_body("BatchIn"), **secured("decide"),
                             **_DECIDE_PARAMETERS},
              summary="Decide many inputs: one result or one problem per item, in order")
    async def decide_batch(request: Request) -> JSONBody:
        policy: str = request.path_params["policy"]
        explain = explain_of(request)
        backdate = "backdate" in ctx.keyring.check(request, "decide")
        key = idempotency_key_of(request)
        items, explain_items = _batch_items(await read_json(request, limit),
                                            ctx.settings.max_batch_items)
        results, replayed = await run_in_threadpool(
            ctx.service.decide_batch, policy, items, request_id(request), key,
            explain and explain_items, backdate)
        return _replayed({"results": results}, replayed)

    @api.get("/{decision_id}", response_class=JSONBody,
             responses={200: {"model": LoggedDecision}, **problems(401, 403, 404, 503)},
             openapi_extra=secured("read"),
             summary="A logged decision: input, output, policy version, bundle hash, time")
    def get_decision(decision_id: str, request: Request) -> JSONBody:
        ctx.keyring.check(request, "read")
        return JSONBody(ctx.service.get(decision_id))

    _add_preview(api, ctx)
    return api


def _add_preview(api: APIRouter, ctx: AppContext) -> None:
    """POST /v1/decisions/{policy}/preview: a what-if, answered like a decision."""
    limit = ctx.settings.max_body_bytes

    @api.post("/{policy}/preview", response_class=JSONBody,
              responses={200: {"model": PreviewOut}, **problems(400, 401, 403, 404, 413, 415,
                                                                422, 503)},
              openapi_extra={**json_body(description="The policy's inputs, as for a "
                                         "decision"), **secured("decide")},
              summary="What the decision would be now: not logged, not counted for A10")
    async def preview(policy: str, request: Request, explain: bool = True) -> JSONBody:
        ctx.keyring.check(request, "decide")
        raw = await read_json(request, limit)
        body = await run_in_threadpool(ctx.service.preview, policy, raw, explain)
        return JSONBody(body)

