"""Exercising authority (行权, B1-B5): may this approver approve this deal?

The request names a routed deal (the caller resolves a decision id to the
logged decision, or decides an inline deal), the approver and optionally a
delegation. This module derives the facts the `authority-check` policy decides
on (levels compared, units above one another on the org tree, delegation in
force, reserved powers); the policy's tables hold the rules and the messages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from decision_service.decision import Decision
from decision_service.errors import FieldProblem, InputError
from decision_service.inputs import Identifier, IsoDate, problems_of
from decision_service.language.model import OrgTree
from decision_service.ltc.policies import AUTHORITY_POLICY, DEAL_POLICY
from decision_service.policyset import PolicySet

Text = Identifier


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Approver(_Strict):
    id: Text
    level: Text
    unit: Text


class Delegation(_Strict):
    """The delegator's authority, lent to the approver for a period (B4).

    A nested ``acting_for`` is an unknown field here: a delegate cannot delegate.
    """

    id: Text
    level: Text
    unit: Text
    valid_from: IsoDate
    valid_to: IsoDate

    @model_validator(mode="after")
    def _period(self) -> Delegation:
        if self.valid_to < self.valid_from:
            raise PydanticCustomError(
                "cross_field", "{field}: valid_to is before valid_from ({to} < {start})",
                {"field": "acting_for.valid_to", "to": self.valid_to.isoformat(),
                 "start": self.valid_from.isoformat()})
        return self


class AuthorityRequest(_Strict):
    decision_id: Text | None = None
    deal: dict[str, Any] | None = None
    approver: Approver
    acting_for: Delegation | None = None
    as_of: IsoDate | None = None

    @model_validator(mode="after")
    def _one_deal(self) -> AuthorityRequest:
        if (self.decision_id is None) == (self.deal is None):
            raise PydanticCustomError(
                "cross_field", "{field}: give exactly one of decision_id and deal",
                {"field": "decision_id"})
        return self


def parse_request(raw: object, org: OrgTree) -> AuthorityRequest:
    if not isinstance(raw, dict):
        raise InputError([FieldProblem("", "type", "the request must be a JSON object")])
    try:
        request = AuthorityRequest.model_validate(raw)
    except ValidationError as exc:
        problems = problems_of(exc)
        for problem in problems:
            if problem.field.endswith("acting_for.acting_for"):
                problems[problems.index(problem)] = FieldProblem(
                    problem.field, "unknown_field",
                    "a delegate cannot delegate again: nested acting_for is not allowed")
        raise InputError(problems) from None
    levels = org.orderings["levels"].values
    problems = []
    for path, person in (("approver", request.approver), ("acting_for", request.acting_for)):
        if person is None:
            continue
        if person.level not in levels:
            problems.append(FieldProblem(f"{path}.level", "enum",
                                         f"unknown level {person.level!r}; one of "
                                         f"{', '.join(levels)}"))
        if person.unit not in org.units:
            problems.append(FieldProblem(f"{path}.unit", "enum",
                                         f"unknown unit {person.unit!r}"))
    if problems:
        raise InputError(problems)
    return request


def covers(org: OrgTree, unit: str, target: str, business_group: str | None) -> bool:
    """B2: ``unit`` is ``target`` or above it. A BG is above the regions and
    offices of deals of its own business group only; HQ is above everything."""
    if unit == target:
        return True
    kind = org.units[unit].kind
    if kind == "company":
        return True
    if kind == "bg":
        return org.units[unit].business_group == business_group and \
            org.units.get(target) is not None and org.units[target].kind in ("region", "office")
    return target in org.units and unit in org.chain(target)


def facts(org: OrgTree, deal: Decision, request: AuthorityRequest, on: dt.date) -> dict[str, Any]:
    """The inputs of the `authority-check` policy for this request."""
    levels = org.orderings["levels"]
    outputs = deal.outputs
    required = outputs.get("required_level")
    target = outputs.get("approver_unit")
    group = deal.input.get("business_group")

    def level_ok(level: str) -> bool:
        return required is not None and levels.rank(level) >= levels.rank(required)

    def unit_ok(unit: str) -> bool:
        return target is not None and covers(org, unit, target, group)

    delegation = request.acting_for
    in_force = delegation is not None and delegation.valid_from <= on <= delegation.valid_to
    reserved = required == levels.values[-1] or (
        deal.input.get("decision_point") == "CHANGE" and deal.input.get("customer_tier") == "X"
    )
    values: dict[str, Any] = {
        "deal_outcome": outputs.get("outcome"),
        "approver_id": request.approver.id,
        "approver_level": request.approver.level,
        "approver_unit": request.approver.unit,
        # B3: nobody approves their own request, also not as someone's delegate
        # nor through a delegate acting for them.
        "is_requester": deal.input.get("requester_id") is not None and
        deal.input.get("requester_id") in (request.approver.id,
                                           delegation.id if delegation else None),
        "own_level_ok": level_ok(request.approver.level),
        "own_unit_ok": unit_ok(request.approver.unit),
        "delegation": "none" if delegation is None else ("in_force" if in_force
                                                         else "not_in_force"),
        "delegated_level_ok": delegation is not None and level_ok(delegation.level),
        "delegated_unit_ok": delegation is not None and unit_ok(delegation.unit),
        "reserved_power": reserved,
        "as_of": on.isoformat(),
    }
    if required is not None:
        values["required_level"] = required
    if target is not None:
        values["approving_unit"] = target
    if delegation is not None:
        values["delegator_id"] = delegation.id
    return values


def check(policies: PolicySet, deal: Decision, request: AuthorityRequest,
          today: dt.date, engine: str = "compiled") -> Decision:
    """Decide B1-B5 for a deal already decided (logged, or decided inline)."""
    on = request.as_of or today
    return policies.decide(AUTHORITY_POLICY, facts(policies.org, deal, request, on),
                           today=on, engine=engine)


def decide_inline_deal(policies: PolicySet, request: AuthorityRequest, today: dt.date,
                       engine: str = "compiled") -> Decision:
    """An inline deal is decided as `eval` would, at its own as_of (else today)."""
    assert request.deal is not None
    try:
        return policies.decide(DEAL_POLICY, request.deal, today=today, engine=engine)
    except InputError as exc:
        raise InputError([FieldProblem(f"deal.{p.field}" if p.field else "deal", p.code,
                                       p.message) for p in exc.problems]) from None
