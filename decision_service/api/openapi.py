"""The OpenAPI document: error answers as problem+json, hand-parsed bodies described.

Decision endpoints read their bodies themselves (see ``bodies``), so FastAPI
can't infer those schemas: they are declared with ``openapi_extra`` and their
models added to the components here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from decision_service.api import typed_operations
from decision_service.api.auth import SECURITY_SCHEMES
from decision_service.api.problems import PROBLEM_TYPE
from decision_service.api.registry import PolicyRegistry
from decision_service.api.schemas import ProblemOut
from decision_service.policyset import PolicySet

_REF = "#/components/schemas/{model}"
_DESCRIPTIONS = {
    400: "Malformed JSON",
    401: "Missing or unknown API key",
    403: "The API key lacks the scope",
    404: "Unknown policy or decision",
    413: "Request body over the limit",
    415: "The body is not JSON (send Content-Type: application/json)",
    422: "Invalid input: one entry per field in `errors`",
    503: "The decision log is unavailable; nothing was decided",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ProblemOut, "description": _DESCRIPTIONS[code]} for code in codes}


def json_body(ref: str | None = None, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = ({"$ref": _REF.format(model=ref)} if ref else
                              {"type": "object", "additionalProperties": True})
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": schema}}}}


def install(app: FastAPI, body_models: list[type[BaseModel]],
            registry: PolicyRegistry) -> None:
    """Serve the document from ``openapi()``: built once per policy bundle, so a
    reload that changes a policy changes the document."""
    built: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        with registry.lease() as policies:
            document = built.get(policies.bundle_hash)
            if document is None:
                document = _document(app, body_models, policies)
                built.clear()
                built[policies.bundle_hash] = document
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _document(app: FastAPI, body_models: list[type[BaseModel]],
              policies: PolicySet) -> dict[str, Any]:
    document = get_openapi(title=app.title, version=app.version,
                           description=app.description, routes=app.routes)
    _, defs = models_json_schema([(m, "validation") for m in body_models],
                                 ref_template=_REF)
    components = document.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    for name, schema in defs.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    typed_operations.add(document, policies)
    for path in document.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content[PROBLEM_TYPE] = content.pop("application/json")
    return document
