"""Schemas generated from the loaded policies: each policy's input and answer, and
the authority check's request, for the OpenAPI document and GET /v1/policies/{id}.

They are built from the policy set the registry holds, so a reload that changes
an input (a new enum value, a range) changes the document too.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pydantic.json_schema import models_json_schema

from decision_service.inputs import input_json_schema
from decision_service.language.model import OutputDecl
from decision_service.ltc.authority import AuthorityRequest
from decision_service.ltc.policies import DEAL_POLICY, INTERNAL_POLICIES
from decision_service.policyset import PolicySet, PolicyVersion
from decision_service.staging import BY_ACTIVATION, BY_DATE, HELD_BACK

REF = "#/components/schemas/{model}"
EXAMPLES = 2  # cases shown as examples per policy


def model_name(policy_id: str) -> str:
    """``project-grading`` -> ``ProjectGrading``: the prefix of its schema names."""
    return "".join(part.capitalize() for part in re.split(r"[-_]", policy_id))


def public_policies(policies: PolicySet) -> list[str]:
    return [name for name in policies.names() if name not in INTERNAL_POLICIES]


def in_force(policies: PolicySet, name: str) -> PolicyVersion:
    """The latest version: a client sending as_of may need its fields."""
    return policies.versions[name][-1]


def input_schema(policies: PolicySet, name: str) -> dict[str, Any]:
    """The JSON Schema of a policy's input, examples taken from its cases."""
    version = in_force(policies, name)
    examples = [dict(case.input) for _, case in policies.cases.get(name, [])
                if not case.expect_error and case.prior_total == 0][:EXAMPLES]
    schema = input_json_schema(version.compiled.policy, version.model, examples)
    schema["additionalProperties"] = False
    return schema


def _output_schema(decl: OutputDecl, policies: PolicySet) -> dict[str, Any]:
    description = {"description": decl.description.en} if decl.description else {}
    if decl.type == "enum":
        values = list(decl.values) or (list(policies.org.orderings[decl.ordering].values)
                                       if decl.ordering else [])
        if decl.lookup is not None or not values:
            return {"type": ["string", "null"], **description}
        return {"anyOf": [{"enum": values}, {"type": "null"}], **description}
    kinds = {"string": "string", "number": "number", "integer": "integer",
             "boolean": "boolean"}
    if decl.type == "list":
        return {"type": "array", "items": {"type": "string"}, **description}
    return {"type": [kinds[decl.type], "null"], **description}


def answer_schema(policies: PolicySet, name: str, *, decided: bool) -> dict[str, Any]:
    """A decision's answer (``decided``: with its decision id) or a preview's."""
    version = in_force(policies, name)
    outputs = version.compiled.policy.outputs
    properties: dict[str, Any] = {}
    if decided:
        properties["decision_id"] = {"type": "string"}
    properties.update({
        "policy": {"const": name},
        "policy_version": {"type": "string"},
        **{out: _output_schema(decl, policies) for out, decl in outputs.items()},
        "reasons": {"type": "array", "items": {"$ref": REF.format(model="ReasonOut")},
                    "description": "Absent with explain=false"},
        "decision_date": {"type": "string", "format": "date"},
        "engine": {"type": "string"},
        "version_reason": {"enum": [BY_DATE, BY_ACTIVATION, HELD_BACK],
                           "description": "Why this version decided: `date` (its effective "
                                          "dates), or a staged activation (rollout.yaml)"},
        "history": {"type": "object", "additionalProperties": {"type": "number"},
                    "description": "The A10 totals from the decision log this decision "
                                   "saw (reserved: only policies with history)"},
        "explanation": {"$ref": REF.format(model="ExplanationOut")},
    })
    required = ["decision_id"] if decided else []
    required += ["policy_version", *outputs]
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False,
            "title": f"{model_name(name)}{'Decision' if decided else 'Preview'}"}


def authority_request_schema(policies: PolicySet,
                             deal_ref: str | None = None) -> tuple[dict[str, Any],
                                                                   dict[str, Any]]:
    """The authority check's request as the CRM sends it, and the schemas it refers
    to: ``deal`` typed as the deal authorization's input, levels as the org's enum,
    units as the org's codes."""
    _, defs = models_json_schema([(AuthorityRequest, "validation")],
                                 ref_template=REF if deal_ref else "#/$defs/{model}")
    schemas: dict[str, Any] = copy.deepcopy(defs.get("$defs", {}))
    levels = list(policies.org.orderings["levels"].values)
    units = list(policies.org.units)
    for holder in ("Approver", "Delegation"):
        props = schemas[holder]["properties"]
        props["level"] = {"enum": levels, "description": "An approval level"}
        props["unit"] = {"enum": units, "description": "A unit code (GET /v1/org)"}
    request = schemas.pop("AuthorityRequest")
    deal = {"$ref": deal_ref} if deal_ref else input_schema(policies, DEAL_POLICY)
    request["properties"]["deal"] = {"anyOf": [deal, {"type": "null"}], "default": None,
                                     "description": "The deal itself, decided inline"}
    request["properties"]["decision_id"]["description"] = "A logged deal's decision id"
    request["oneOf"] = [{"required": ["decision_id"]}, {"required": ["deal"]}]
    request["description"] = ("Give exactly one of decision_id (a logged deal) and deal "
                              "(an inline deal, decided but not logged)")
    return request, schemas
