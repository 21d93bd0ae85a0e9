"""GET /v1/policies and GET /v1/policies/{policy}: what can be decided, on which inputs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request

from decision_service.api.auth import secured
from decision_service.api.bodies import JSONBody
from decision_service.api.context import AppContext
from decision_service.api.openapi import problems
from decision_service.api.policy_schemas import authority_request_schema, input_schema
from decision_service.api.problems import Problem
from decision_service.api.schemas import PolicyDetail, PolicyList
from decision_service.errors import InputError
from decision_service.ltc.policies import AUTHORITY_POLICY, INTERNAL_POLICIES
from decision_service.policyset import PolicySet, PolicyVersion


def _in_force(policies: PolicySet, name: str, today: dt.date) -> PolicyVersion | None:
    try:
        return policies.version_for(name, today)
    except InputError:  # no version in force today (e.g. all start later)
        return None


def _summary(policies: PolicySet, name: str, today: dt.date) -> dict[str, Any]:
    versions = policies.versions[name]
    current = _in_force(policies, name, today)
    meta = (current or versions[-1]).compiled.policy.meta
    return {
        "id": name,
        "title": {"zh": meta.title.zh, "en": meta.title.en},
        "owner": meta.owner,
        "current_version": current.compiled.version if current else None,
        "versions": [
            {
                "version": v.compiled.version,
                "effective_from": _iso(v.compiled.policy.meta.effective_from),
                "effective_to": _iso(v.compiled.policy.meta.effective_to),
                "in_force": v is current,
            }
            for v in versions
        ],
        "decide": ("/v1/authority/check" if name in INTERNAL_POLICIES
                   else f"/v1/decisions/{name}"),
    }


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _published_input(policies: PolicySet, name: str) -> dict[str, Any]:
    """What a client sends to decide ``name``: the policy's input with its
    conditional fields as if/then; for the authority check (whose policy decides
    on derived facts), the request POST /v1/authority/check takes."""
    if name == AUTHORITY_POLICY:
        request, referred = authority_request_schema(policies)
        return {**request, "$defs": referred}
    return input_schema(policies, name)


def router(ctx: AppContext) -> APIRouter:
    api = APIRouter(prefix="/v1/policies", tags=["policies"])

    @api.get("", response_class=JSONBody,
             responses={200: {"model": PolicyList}, **problems(401, 403)},
             openapi_extra=secured("read"), summary="Every policy with its versions")
    def list_policies(request: Request) -> JSONBody:
        ctx.keyring.check(request, "read")
        with ctx.registry.lease() as policies:
            today = ctx.service.today()
            return JSONBody({"bundle_hash": policies.bundle_hash,
                             "policies": [_summary(policies, n, today) for n in policies.names()]})

    @api.get("/{policy}", response_class=JSONBody,
             responses={200: {"model": PolicyDetail}, **problems(401, 403, 404)},
             openapi_extra=secured("read"),
             summary="A policy's metadata and the JSON Schema of its input (version in force)")
    def get_policy(policy: str, request: Request) -> JSONBody:
        ctx.keyring.check(request, "read")
        with ctx.registry.lease() as policies:
            if policy not in policies.versions:
                raise Problem(404, "unknown-policy", f"unknown policy {policy!r}; known: "
                              f"{', '.join(policies.names())}")
            today = ctx.service.today()
            version = _in_force(policies, policy, today) or policies.versions[policy][-1]
            body = _summary(policies, policy, today)
            body["bundle_hash"] = policies.bundle_hash
            body["outputs"] = list(version.compiled.policy.outputs)
            body["input_schema"] = _published_input(policies, policy)
            return JSONBody(body)

    return api
