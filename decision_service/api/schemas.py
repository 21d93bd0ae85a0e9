"""Response and request shapes, for the OpenAPI document only.

Answers are rendered straight from the core's dicts with orjson (validating a
response model per request would cost more than the decision); these models
tell clients, /docs and schemathesis what those dicts look like. Result fields
differ per policy, hence ``extra="allow"``: GET /v1/policies/{policy} has each
policy's exact input schema.
"""

from __future__ import annotations

from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from decision_service.store import DecisionRecord
from decision_service.store.record import SHOWN_FIELDS


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ReasonOut(BaseModel):
    rule: str
    table: str
    message: str
    message_zh: str


class PreviewOut(_Open):
    """A decision's answer without a decision id: nothing was logged."""

    policy: str
    policy_version: str
    reasons: list[ReasonOut]
    decision_date: str
    engine: str


class DimensionOut(BaseModel):
    table: str
    title: str
    value: str
    binding: bool


class LowerRouteOut(BaseModel):
    table: str
    message: str
    message_zh: str
    would_give: str | None


class ExplanationOut(BaseModel):
    """How each table judged the deal, and the nearest changes that would lower it."""

    dimensions: list[DimensionOut]
    lower: list[LowerRouteOut]


class DecisionOut(_Open):
    """The decision and its reasons; the policy's result fields sit beside these
    (authorization: outcome, required_level, approver_unit; project-grading: grade,
    score, managing_level, tracked_by; customer-qualification: outcome, tier)."""

    decision_id: str
    policy: str
    policy_version: str
    version_reason: str = Field(
        description="Why this version decided: `date` (the decision date alone), "
                    "`date+activation` (an activation in rollout.yaml lists the unit), "
                    "`date+activation_held` (it does not: the version before decided)")
    reasons: list[ReasonOut]
    decision_date: str
    engine: str


class ProblemItem(_Open):
    """One field at fault (``field``), or one problem in a policy file (file, line, column)."""

    code: str
    message: str
    field: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None


class ProblemOut(_Open):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemItem] = Field(default_factory=list)
    request_id: str | None = None


class BatchItemProblem(ProblemOut):
    index: int


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, Any]] = Field(
        description="Decision inputs, each as for a single decision; at most the "
                    "service's max_batch_items (10,000 by default)")
    explain: bool = Field(default=True, description="false: answers without `explanation`")


class BatchOut(BaseModel):
    results: list[DecisionOut | BatchItemProblem]


class AuthorityOut(_Open):
    decision_id: str
    allowed: bool
    reasons: list[ReasonOut]
    policy: str
    policy_version: str
    deal_decision_id: str | None = None


def _logged_decision() -> type[BaseModel]:
    """The schema of ``record_view``, derived from the record's one definition."""
    hints = get_type_hints(DecisionRecord)
    fields: dict[str, Any] = {spec.name: (hints[spec.name], ...) for spec in SHOWN_FIELDS}
    fields["shadow"] = (dict[str, Any] | None, Field(
        None, description="The shadow candidate's decision on this input (rollout.yaml), "
                          "recorded after the answer and never answered; null: no shadow"))
    model: type[BaseModel] = create_model(
        "LoggedDecision", __doc__="A logged decision: input, output, policy version, "
        "bundle hash, time, and its link in the hash chain.", **fields)
    return model


LoggedDecision = _logged_decision()
class RolloutOut(BaseModel):
    """What rollout.yaml stages and shadows in the active policy set."""

    bundle_hash: str
    file: str | None
    activation: list[dict[str, Any]]
    shadow: list[dict[str, Any]]


class TitleOut(BaseModel):
    zh: str
    en: str


class UnitOut(BaseModel):
    code: str
    kind: str = Field(description="company, bg, region or office")
    name: TitleOut
    parent: str | None
    region: str | None = Field(description="The region the unit lies in (itself for a region)")
    watchlist: bool = Field(description="A watch-listed office holds no authority of its own")
    business_group: str | None = Field(description="For a BG unit: its group")


class OrgOut(BaseModel):
    version: str
    units: list[UnitOut]


class VersionOut(BaseModel):
    version: str
    effective_from: str | None
    effective_to: str | None
    in_force: bool


class PolicySummary(BaseModel):
    id: str
    title: TitleOut
    owner: str
    current_version: str | None
    versions: list[VersionOut]
    decide: str | None = Field(description="Where to ask for this policy's decisions")


class PolicyList(BaseModel):
    bundle_hash: str
    policies: list[PolicySummary]


class PolicyDetail(PolicySummary):
    bundle_hash: str
    outputs: list[str]
    input_schema: dict[str, Any]


class Health(BaseModel):
    status: str


class Ready(_Open):
    status: str
    policies: bool
    store: bool


class ReloadOut(BaseModel):
    bundle_hash: str
    previous_bundle_hash: str
    changed: bool
    policies: list[str]
