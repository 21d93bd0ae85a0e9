"""GET /v1/rollout: what rollout.yaml stages and shadows in the active policy set."""

from __future__ import annotations

from fastapi import APIRouter, Request

from decision_service.api.auth import secured
from decision_service.api.bodies import JSONBody
from decision_service.api.context import AppContext
from decision_service.api.openapi import problems
from decision_service.api.schemas import RolloutOut


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(prefix="/v1/rollout", tags=["policies"])

    @api.get("", response_class=JSONBody,
             responses={200: {"model": RolloutOut}, **problems(401, 403)},
             openapi_extra=secured("read"),
             summary="Versions held to units, and shadow candidates, now in force")
    def get_rollout(request: Request) -> JSONBody:
        ctx.keyring.check(request, "read")
        with ctx.registry.lease() as policies:
            return JSONBody({"bundle_hash": policies.bundle_hash,
                             **policies.staging.describe()})

    return api
