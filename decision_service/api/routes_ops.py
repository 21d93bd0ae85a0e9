"""Operations: health, readiness, metrics, policy reload, and the benchmark's baseline."""

from __future__ import annotations

import os
import signal

import structlog
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from decision_service.api.auth import secured
from decision_service.api.bodies import JSONBody, read_body
from decision_service.api.context import AppContext
from decision_service.api.front import Call, FastRoute, Reply
from decision_service.api.openapi import problems
from decision_service.api.problems import invalid_policies
from decision_service.api.registry import ReloadResult
from decision_service.api.schemas import Health, Ready, ReloadOut
from decision_service.api.service import problem_of
from decision_service.errors import PolicyError
from decision_service.store import StoreError

log = structlog.get_logger("decision_service.api")
_CONSTANT = b'{"outcome":"route","required_level":"OFFICE","approver_unit":"CN-BJ"}'


def reload_policies(ctx: AppContext, allow_removal: bool = False) -> ReloadResult:
    """Reload this process's set; with several workers, have the supervisor restart them
    all (uvicorn restarts workers on SIGHUP) once this one has proven the set valid."""
    try:
        result = ctx.registry.reload(allow_removal)
    except PolicyError as exc:
        ctx.metrics.reloads.labels("rejected").inc()
        log.warning("policy_reload_rejected", problems=[str(p) for p in exc.problems])
        raise invalid_policies(exc.problems) from None
    except StoreError as exc:
        ctx.metrics.reloads.labels("rejected").inc()
        raise problem_of(exc) from None
    ctx.metrics.reloads.labels("ok").inc()
    if ctx.settings.workers > 1:
        os.kill(os.getppid(), signal.SIGHUP)
    return result


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(tags=["operations"])

    @api.get("/healthz", response_class=JSONBody, responses={200: {"model": Health}},
             summary="The process is up")
    async def healthz() -> JSONBody:
        return JSONBody({"status": "ok"})

    @api.get("/readyz", response_class=JSONBody,
             responses={200: {"model": Ready}, 503: {"model": Ready,
                                                     "description": "Not ready"}},
             summary="Policies loaded and the decision log reachable")
    def readyz() -> JSONBody:
        store_ok = True
        try:
            ctx.store.ping()  # one trivial query: cheap, needs the database
        except Exception as exc:  # any failure means "not ready", never a 500
            log.warning("readyz_store_unreachable", error=repr(exc))
            store_ok = False
        policies_ok = bool(ctx.registry.current.names())
        ready = store_ok and policies_ok
        return JSONBody({"status": "ready" if ready else "not_ready", "policies": policies_ok,
                         "store": store_ok, "bundle_hash": ctx.registry.current.bundle_hash},
                        status_code=200 if ready else 503)

    @api.get("/metrics", response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Prometheus text format"}},
             summary="Prometheus metrics")
    def metrics() -> Response:
        body = ctx.metrics.render(lambda: ctx.store.pending_writes, ctx.store.stats)
        return Response(body, media_type=CONTENT_TYPE)

    @api.post("/v1/admin/reload", response_class=JSONBody,
              responses={200: {"model": ReloadOut}, **problems(401, 403, 422)},
              openapi_extra=secured("admin"),
              summary="Load the policy directory again; an invalid set is rejected and the "
                      "active set stays")
    async def reload(request: Request) -> JSONBody:
        ctx.keyring.check(request, "admin")
        allow_removal = request.query_params.get("allow_removal", "false").lower() == "true"
        result = await run_in_threadpool(reload_policies, ctx, allow_removal)
        return JSONBody({"bundle_hash": result.bundle_hash,
                         "previous_bundle_hash": result.previous_bundle_hash,
                         "changed": result.changed, "policies": result.policies})

    if ctx.settings.bench_endpoints:
        # The baseline of bench/http.py (POST: see ``fast_routes``).
        @api.get("/bench/constant", include_in_schema=False)
        async def constant_get() -> Response:
            return Response(_CONSTANT, media_type="application/json")

    return api


def fast_routes(ctx: AppContext) -> list[FastRoute]:
    """POST /bench/constant, the baseline of bench/http.py: the same layer as a decision
    (``front.Front``: guard, request id, metrics, access line) and the same bounded
    body read, then a constant answer: no JSON parsing, no decision, no log write."""
    if not ctx.settings.bench_endpoints:
        return []
    limit = ctx.settings.max_body_bytes

    async def constant(call: Call) -> Reply:
        await read_body(call.headers, call.receive, limit)
        return 200, _CONSTANT, []

    return [FastRoute("POST", "/bench/constant", constant)]
