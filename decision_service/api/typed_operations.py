"""One typed OpenAPI operation per policy and endpoint kind.

The routes are generic (``POST /v1/decisions/{policy}``); the document instead
lists ``POST /v1/decisions/authorization`` and so on, each with the request and
answer schemas generated from that policy, so a client generated from the
document is typed.  The generic operations serve as templates (parameters,
security, error answers) and are then removed from the document.
"""

from __future__ import annotations

import copy
from typing import Any

from decision_service.api.policy_schemas import (
    REF,
    answer_schema,
    authority_request_schema,
    input_schema,
    model_name,
    public_policies,
)
from decision_service.ltc.policies import DEAL_POLICY
from decision_service.policyset import PolicySet

_GENERIC = "/v1/decisions/{policy}"
# (path suffix, verb, request schema suffix, answer schema suffix)
_KINDS = (
    ("", "decide", "Input", "Decision"),
    ("/batch", "decide_batch", "Batch", "BatchResults"),
    ("/preview", "preview", "Input", "Preview"),
)


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(model=ref)}}}


def _policy_schemas(policies: PolicySet, name: str) -> dict[str, Any]:
    prefix = model_name(name)
    return {
        f"{prefix}Input": input_schema(policies, name),
        f"{prefix}Decision": answer_schema(policies, name, decided=True),
        f"{prefix}Preview": answer_schema(policies, name, decided=False),
        f"{prefix}Batch": {
            "type": "object", "additionalProperties": False, "required": ["items"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": REF.format(model=f"{prefix}Input")}},
                "explain": {"type": "boolean", "default": True,
                            "description": "false: answers without reasons or explanation"},
            }},
        f"{prefix}BatchResults": {
            "type": "object", "required": ["results"],
            "properties": {"results": {"type": "array", "items": {"anyOf": [
                {"$ref": REF.format(model=f"{prefix}Decision")},
                {"$ref": REF.format(model="BatchItemProblem")}]}}}},
    }


def _operation(template: dict[str, Any], name: str, verb: str, request: str,
               answer: str) -> dict[str, Any]:
    operation = copy.deepcopy(template)
    operation["operationId"] = f"{verb}_{name.replace('-', '_')}"
    operation["parameters"] = [p for p in operation.get("parameters", [])
                               if not (p.get("in") == "path" and p.get("name") == "policy")]
    operation["requestBody"] = {"required": True, "content": _json(request)}
    operation["responses"]["200"] = {"description": "The answer", "content": _json(answer)}
    operation["tags"] = [name]
    return operation


def add(document: dict[str, Any], policies: PolicySet) -> None:
    """Replace the generic decision operations with one typed operation per policy,
    and type the authority check's request."""
    paths = document.setdefault("paths", {})
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    templates = {suffix: paths.pop(_GENERIC + suffix)["post"] for suffix, *_ in _KINDS}
    for name in public_policies(policies):
        schemas.update(_policy_schemas(policies, name))
        prefix = model_name(name)
        for suffix, verb, request, answer in _KINDS:
            paths[f"/v1/decisions/{name}{suffix}"] = {"post": _operation(
                templates[suffix], name, verb, prefix + request, prefix + answer)}
    authority, referred = authority_request_schema(
        policies, REF.format(model=f"{model_name(DEAL_POLICY)}Input"))
    schemas.update(referred)
    schemas["AuthorityRequest"] = authority
