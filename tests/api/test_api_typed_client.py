"""A client generated from /openapi.json (datamodel-code-generator) is typed, and
the service answers it: every policy round-trips through the generated models."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from apikit import AppMaker
from datamodel_code_generator import DataModelType, InputFileType, generate
from fastapi.testclient import TestClient


def _generated_models(client: TestClient, directory: Path) -> ModuleType:
    document = client.get("/openapi.json").json()
    source = generate(json.dumps(document), input_file_type=InputFileType.OpenAPI,
                      output_model_type=DataModelType.PydanticV2BaseModel)
    assert isinstance(source, str)
    path = directory / "crm_models.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("crm_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["crm_models"] = module
    spec.loader.exec_module(module)
    return module


def _body(model: Any) -> Any:
    return model.model_dump(mode="json", exclude_none=True, by_alias=True)


def test_a_generated_client_round_trips_every_policy(make_client: AppMaker,
                                                     tmp_path: Path) -> None:
    client = make_client()
    models = _generated_models(client, tmp_path)
    document = client.get("/openapi.json").json()
    policies = [p["id"] for p in client.get("/v1/policies").json()["policies"]
                if p["decide"] and p["decide"].startswith("/v1/decisions/")]
    assert policies == ["authorization", "customer-qualification", "project-grading"]
    decided: dict[str, str] = {}
    for policy in policies:
        prefix = "".join(part.capitalize() for part in policy.split("-"))
        example = document["components"]["schemas"][f"{prefix}Input"]["examples"][0]
        request = getattr(models, f"{prefix}Input").model_validate(example)
        answer = client.post(f"/v1/decisions/{policy}", json=_body(request))
        assert answer.status_code == 200, answer.text
        decision = getattr(models, f"{prefix}Decision").model_validate(answer.json())
        assert decision.policy == policy and decision.decision_id
        decided[policy] = decision.decision_id
        preview = client.post(f"/v1/decisions/{policy}/preview", json=_body(request))
        getattr(models, f"{prefix}Preview").model_validate(preview.json())
        batch = getattr(models, f"{prefix}Batch")(items=[request], explain=False)
        results = client.post(f"/v1/decisions/{policy}/batch", json=_body(batch))
        parsed = getattr(models, f"{prefix}BatchResults").model_validate(results.json())
        assert len(parsed.results) == 1
    check = models.AuthorityRequest.model_validate({
        "decision_id": decided["authorization"],
        "approver": {"id": "u-9", "level": "COMPANY", "unit": "HQ"}})
    answer = client.post("/v1/authority/check", json=_body(check))
    assert answer.status_code == 200, answer.text
    assert models.AuthorityOut.model_validate(answer.json()).allowed is True


def test_the_document_types_inputs_answers_and_the_authority_request(
        make_client: AppMaker) -> None:
    client = make_client()
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "/v1/decisions/{policy}" not in document["paths"]
    deal = schemas["AuthorizationInput"]
    assert deal["properties"]["decision_point"]["enum"] == ["ATI", "ATB", "ATC", "CHANGE"]
    assert "DE" in deal["properties"]["office"]["enum"]
    assert deal["allOf"] == [{
        "if": {"not": {"properties": {"decision_point": {"const": "ATI"}},
                       "required": ["decision_point"]}},
        "then": {"required": ["gross_margin_pct", "payment_term_days",
                              "advance_payment_pct"]}}]
    answer = schemas["AuthorizationDecision"]["properties"]
    assert answer["required_level"]["anyOf"][0]["enum"][0] == "SYSTEM_DEPT"
    assert "explanation" in answer and "history" in answer
    authority = schemas["AuthorityRequest"]["properties"]
    assert authority["deal"]["anyOf"][0] == {"$ref": "#/components/schemas/AuthorizationInput"}
    assert schemas["Approver"]["properties"]["level"]["enum"][0] == "SYSTEM_DEPT"


def test_the_policy_endpoints_publish_what_the_crm_sends(make_client: AppMaker) -> None:
    client = make_client()
    deal = client.get("/v1/policies/authorization").json()["input_schema"]
    assert {"payment_term_days"} <= set(deal["allOf"][0]["then"]["required"])
    check = client.get("/v1/policies/authority-check").json()["input_schema"]
    assert set(check["properties"]) == {"decision_id", "deal", "approver", "acting_for",
                                        "as_of"}


def test_the_document_is_rebuilt_when_a_reload_changes_a_policy(
        make_client: AppMaker, policies_copy: Path) -> None:
    client = make_client(policies_dir=policies_copy)
    path = policies_copy / "authorization" / "authorization.v1.yaml"

    def tiers() -> list[str]:
        document = client.get("/openapi.json").json()
        schema = document["components"]["schemas"]["AuthorizationInput"]
        return list(schema["properties"]["customer_tier"]["enum"])

    assert tiers() == ["S", "A", "B", "C", "X"]
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("values: [S, A, B, C, X]", "values: [S, A, B, C, D, X]"),
                    encoding="utf-8")
    assert client.post("/v1/admin/reload").status_code == 200
    assert tiers() == ["S", "A", "B", "C", "D", "X"]
