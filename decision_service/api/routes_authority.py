"""POST /v1/authority/check: may this approver approve this deal (B1-B5)?"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from decision_service.api.auth import secured
from decision_service.api.bodies import JSONBody, read_json
from decision_service.api.context import AppContext, request_id
from decision_service.api.openapi import json_body, problems
from decision_service.api.schemas import AuthorityOut


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(prefix="/v1/authority", tags=["authority"])

    @api.post("/check", response_class=JSONBody,
              responses={200: {"model": AuthorityOut},
                         **problems(400, 401, 403, 404, 413, 415, 422, 503)},
              openapi_extra={**json_body("AuthorityRequest", "A logged deal (decision_id) or "
                                         "an inline deal, the approver, an optional delegation"),
                             **secured("decide")},
              summary="Check an approver's authority over a deal; logged like any decision")
    async def check(request: Request) -> JSONBody:
        scopes = ctx.keyring.check(request, "decide")
        raw = await read_json(request, ctx.settings.max_body_bytes)
        body = await run_in_threadpool(ctx.service.check_authority, raw, request_id(request),
                                       "read" in scopes)
        return JSONBody(body)

    return api
