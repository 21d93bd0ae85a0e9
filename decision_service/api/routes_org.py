"""GET /v1/org and GET /v1/org/{code}: the units a CRM may name (offices, regions,
business groups, headquarters), with their names and watch-list flag."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from decision_service.api.auth import secured
from decision_service.api.bodies import JSONBody
from decision_service.api.context import AppContext
from decision_service.api.openapi import problems
from decision_service.api.problems import Problem
from decision_service.api.schemas import OrgOut, UnitOut
from decision_service.language.model import OrgTree, Unit


def unit_view(org: OrgTree, unit: Unit) -> dict[str, Any]:
    return {
        "code": unit.code,
        "kind": unit.kind,
        "name": {"zh": unit.name.zh, "en": unit.name.en},
        "parent": unit.parent,
        "region": org.region_of(unit.code),
        "watchlist": unit.watchlist,
        "business_group": unit.business_group,
    }


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(prefix="/v1/org", tags=["org"])

    @api.get("", response_class=JSONBody,
             responses={200: {"model": OrgOut}, **problems(401, 403)},
             openapi_extra=secured("read"),
             summary="Every unit: code, names (zh, en), parent, region, watch list")
    def list_units(request: Request) -> JSONBody:
        ctx.keyring.check(request, "read")
        with ctx.registry.lease() as policies:
            org = policies.org
            return JSONBody({"version": org.version,
                             "units": [unit_view(org, u) for u in org.units.values()]})

    @api.get("/{code}", response_class=JSONBody,
             responses={200: {"model": UnitOut}, **problems(401, 403, 404)},
             openapi_extra=secured("read"),
             summary="One unit; an unknown code is answered with the closest codes")
    def get_unit(code: str, request: Request) -> JSONBody:
        ctx.keyring.check(request, "read")
        with ctx.registry.lease() as policies:
            org = policies.org
            unit = org.units.get(code)
            if unit is None:
                closest = org.closest(code)
                hint = f"; did you mean {', '.join(closest)}?" if closest else ""
                raise Problem(404, "unknown-unit", f"no unit {code!r}{hint}",
                              [{"field": "code", "code": "not_found",
                                "message": f"unknown unit{hint}", "closest": closest}])
            return JSONBody(unit_view(org, unit))

    return api
