"""Bad decision input: every problem is an ``InputError`` naming the field, with
a stable code (missing | unknown_field | type | range | enum | format |
constraint) and a message the CRM can show beside the field."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from samples import DEAL, project

from decision_service.errors import FieldProblem, InputError
from decision_service.inputs import validate_input
from decision_service.ltc import authority
from decision_service.policyset import PolicySet

PROJECT = project(contract_value_usd=1, countries=2, gross_margin_pct=20)
_DROP = object()


def rejected(policies: PolicySet, policy: str, base: dict[str, Any],
             **changes: Any) -> list[FieldProblem]:
    raw = {**base, **changes}
    raw = {k: v for k, v in raw.items() if v is not _DROP}
    with pytest.raises(InputError) as info:
        policies.decide(policy, raw)
    return info.value.problems


def one(problems: list[FieldProblem]) -> FieldProblem:
    assert len(problems) == 1, [p.as_dict() for p in problems]
    return problems[0]


def test_the_base_deal_of_these_tests_is_valid(shipped: PolicySet) -> None:
    assert shipped.decide("authorization", DEAL).outputs["required_level"] == "SYSTEM_DEPT"
    assert shipped.decide("project-grading", PROJECT).outputs["grade"] == "D"


def test_unknown_field_is_named(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, colour="red"))
    assert (problem.field, problem.code) == ("colour", "unknown_field")
    assert "unknown field 'colour'" in problem.message


def test_missing_required_field_is_named(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, customer_id=_DROP))
    assert (problem.field, problem.code) == ("customer_id", "missing")


def test_wrong_type_for_an_enum_is_named(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, customer_tier=3))
    assert (problem.field, problem.code) == ("customer_tier", "enum")


def test_string_for_a_number_is_a_type_error_not_a_conversion(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, contract_value_usd="1000"))
    assert (problem.field, problem.code) == ("contract_value_usd", "type")
    assert "valid number" in problem.message


def test_bool_for_a_number_is_a_type_error(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, contract_value_usd=True))
    assert (problem.field, problem.code) == ("contract_value_usd", "type")


def test_bool_for_an_integer_is_a_type_error(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, payment_term_days=False))
    assert (problem.field, problem.code) == ("payment_term_days", "type")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")],
                         ids=["nan", "inf", "-inf"])
def test_nan_and_infinity_are_rejected(shipped: PolicySet, value: float) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, gross_margin_pct=value))
    assert (problem.field, problem.code) == ("gross_margin_pct", "type")
    assert "finite" in problem.message


def test_nan_for_an_integer_field_is_rejected(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, payment_term_days=float("nan")))
    assert problem.field == "payment_term_days"


def test_unknown_office_is_named(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, office="XX"))
    assert (problem.field, problem.code) == ("office", "enum")
    assert "unknown office 'XX'" in problem.message


def test_a_region_code_is_not_an_office(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, office="WEU"))
    assert (problem.field, problem.code) == ("office", "enum")


def test_unknown_enum_value_is_named(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, trade_compliance="MAYBE"))
    assert (problem.field, problem.code) == ("trade_compliance", "enum")
    assert "'PASS'" in problem.message


def test_unknown_non_standard_term_is_bad_input_not_a_silent_pass(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL,
                           non_standard_terms=["IP_TRANSFER", "FREE_LUNCH"]))
    assert (problem.field, problem.code) == ("non_standard_terms.1", "enum")


def test_non_standard_terms_given_as_text_instead_of_a_list_is_a_type_error(
        shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, non_standard_terms="IP_TRANSFER"))
    assert (problem.field, problem.code) == ("non_standard_terms", "type")


@pytest.mark.parametrize("value", ["2026/11/23", "23-11-2026", "2026-11-23T10:00:00",
                                   "2026-11-23T00:00:00Z", "2026-11-23+01:00", "20261123",
                                   "2026-11-23 ", 20261123])
def test_malformed_date_time_of_day_or_offset_is_a_format_error(shipped: PolicySet,
                                                                value: object) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, as_of=value))
    assert (problem.field, problem.code) == ("as_of", "format")
    assert "YYYY-MM-DD" in problem.message


def test_a_date_that_does_not_exist_is_a_format_error(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, as_of="2026-02-30"))
    assert (problem.field, problem.code) == ("as_of", "format")
    assert "2026-02-30 is not a calendar date" in problem.message


def test_a_datetime_object_is_not_a_date(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, as_of=dt.datetime(2026, 11, 23, 9)))
    assert (problem.field, problem.code) == ("as_of", "format")


def test_integer_field_given_90_point_0_takes_it_as_90(shipped: PolicySet) -> None:
    decision = shipped.decide("authorization", {**DEAL, "payment_term_days": 90.0})
    assert decision.input["payment_term_days"] == 90
    assert isinstance(decision.input["payment_term_days"], int)


def test_integer_field_given_30_point_5_is_a_type_error_saying_what_came(
        shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, payment_term_days=30.5))
    assert (problem.field, problem.code) == ("payment_term_days", "type")
    assert "integer" in problem.message and "received number 30.5" in problem.message


def test_an_integer_beyond_64_bits_in_a_text_field_is_a_type_error_not_a_crash(
        shipped: PolicySet) -> None:
    # orjson cannot write such an int; the message falls back to Python's digits.
    problem = one(rejected(shipped, "authorization", DEAL, customer_id=2**70))
    assert (problem.field, problem.code) == ("customer_id", "type")
    assert f"received number {2**70}" in problem.message


@pytest.mark.parametrize(("field", "value"), [
    ("contract_value_usd", -0.01), ("gross_margin_pct", 100.01), ("gross_margin_pct", -100.01),
    ("payment_term_days", 3651), ("payment_term_days", -1), ("advance_payment_pct", 100.5),
    ("advance_payment_pct", -0.01),
])
def test_value_outside_its_range_is_a_range_error(shipped: PolicySet, field: str,
                                                  value: float) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, **{field: value}))
    assert (problem.field, problem.code) == (field, "range")


def test_range_ends_are_valid_input(shipped: PolicySet) -> None:
    deal = {**DEAL, "gross_margin_pct": -100, "payment_term_days": 3650,
            "advance_payment_pct": 100, "contract_value_usd": 0}
    assert shipped.decide("authorization", deal).outputs["outcome"] == "route"


@pytest.mark.parametrize("field", ["gross_margin_pct", "payment_term_days",
                                   "advance_payment_pct"])
def test_terms_may_be_omitted_at_ati(shipped: PolicySet, field: str) -> None:
    deal = {k: v for k, v in DEAL.items() if k != field}
    decision = shipped.decide("authorization", {**deal, "decision_point": "ATI"})
    assert decision.outputs["outcome"] == "route"


@pytest.mark.parametrize("point", ["ATB", "ATC", "CHANGE"])
@pytest.mark.parametrize("field", ["gross_margin_pct", "payment_term_days",
                                   "advance_payment_pct"])
def test_terms_are_required_after_ati(shipped: PolicySet, field: str, point: str) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, decision_point=point,
                           **{field: _DROP}))
    assert (problem.field, problem.code) == (field, "missing")
    assert "ATI" in problem.message


def test_terms_given_at_ati_are_still_validated(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "authorization", DEAL, decision_point="ATI",
                           gross_margin_pct="high"))
    assert (problem.field, problem.code) == ("gross_margin_pct", "type")


def test_several_bad_fields_are_all_reported(shipped: PolicySet) -> None:
    problems = rejected(shipped, "authorization", DEAL, office="XX", customer_tier="Z",
                        colour="red")
    assert {p.field for p in problems} == {"office", "customer_tier", "colour"}


def test_input_that_is_not_an_object_is_rejected_as_a_whole(shipped: PolicySet) -> None:
    with pytest.raises(InputError) as info:
        shipped.decide("authorization", [DEAL])
    assert [(p.field, p.code) for p in info.value.problems] == [("", "type")]


def test_more_regions_than_countries_is_a_constraint_error_on_regions(
        shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "project-grading", PROJECT, countries=2, regions=3))
    assert (problem.field, problem.code) == ("regions", "constraint")
    assert "3 is more than countries (2)" in problem.message


def test_as_many_regions_as_countries_is_valid(shipped: PolicySet) -> None:
    decision = shipped.decide("project-grading", {**PROJECT, "countries": 3, "regions": 3})
    assert decision.outputs["grade"] == "B"


def test_zero_countries_is_a_range_error(shipped: PolicySet) -> None:
    problem = one(rejected(shipped, "project-grading", PROJECT, countries=0, regions=1))
    assert (problem.field, problem.code) == ("countries", "range")


def test_unknown_industry_is_bad_input(shipped: PolicySet) -> None:
    customer = {"kyc_complete": True, "sanctions_hit": False, "country": "DE",
                "industry": "RETAIL", "integrity_incidents_3y": 0, "credit_rating": "A",
                "annual_revenue_potential_usd": 1, "relationship_years": 2.5}
    problem = one(rejected(shipped, "customer-qualification", customer))
    assert (problem.field, problem.code) == ("industry", "enum")


# -- authority requests (B) ------------------------------------------------------------

APPROVER = {"id": "u-1", "level": "REGION", "unit": "WEU"}
DELEGATION = {"id": "boss", "level": "BG", "unit": "BG-CARRIER",
              "valid_from": "2026-11-01", "valid_to": "2026-11-30"}


def bad_request(shipped: PolicySet, raw: object) -> list[FieldProblem]:
    with pytest.raises(InputError) as info:
        authority.parse_request(raw, shipped.org)
    return info.value.problems


def test_a_valid_authority_request_parses(shipped: PolicySet) -> None:
    request = authority.parse_request(
        {"decision_id": "d-1", "approver": APPROVER, "acting_for": DELEGATION}, shipped.org)
    assert request.acting_for is not None
    assert request.acting_for.valid_to == dt.date(2026, 11, 30)


def test_nested_acting_for_is_bad_input_a_delegate_cannot_delegate(shipped: PolicySet) -> None:
    problem = one(bad_request(shipped, {"decision_id": "d-1", "approver": APPROVER,
                                        "acting_for": {**DELEGATION,
                                                       "acting_for": DELEGATION}}))
    assert (problem.field, problem.code) == ("acting_for.acting_for", "unknown_field")
    assert "cannot delegate again" in problem.message


def test_delegation_ending_before_it_starts_is_rejected_on_the_delegation(
        shipped: PolicySet) -> None:
    problem = one(bad_request(shipped, {"decision_id": "d-1", "approver": APPROVER,
                                        "acting_for": {**DELEGATION,
                                                       "valid_to": "2026-10-31"}}))
    assert problem.field.startswith("acting_for")
    assert "valid_to is before valid_from" in problem.message


def test_delegation_of_a_single_day_is_valid(shipped: PolicySet) -> None:
    request = authority.parse_request(
        {"decision_id": "d-1", "approver": APPROVER,
         "acting_for": {**DELEGATION, "valid_to": DELEGATION["valid_from"]}}, shipped.org)
    assert request.acting_for is not None


def test_delegation_ending_before_it_starts_names_valid_to_as_a_constraint(
        shipped: PolicySet) -> None:
    problem = one(bad_request(shipped, {"decision_id": "d-1", "approver": APPROVER,
                                        "acting_for": {**DELEGATION,
                                                       "valid_to": "2026-10-31"}}))
    assert (problem.field, problem.code) == ("acting_for.valid_to", "constraint")


@pytest.mark.parametrize("deal_part", [
    {"decision_id": "d-1", "deal": DEAL},
    {},
], ids=["both", "neither"])
def test_authority_request_needs_exactly_one_of_decision_id_and_deal(
        shipped: PolicySet, deal_part: dict[str, Any]) -> None:
    problem = one(bad_request(shipped, {**deal_part, "approver": APPROVER}))
    assert "exactly one of decision_id and deal" in problem.message


def test_unknown_approver_level_and_unit_are_named(shipped: PolicySet) -> None:
    problems = bad_request(shipped, {"decision_id": "d-1",
                                     "approver": {"id": "u", "level": "KING", "unit": "MARS"}})
    assert {(p.field, p.code) for p in problems} == {("approver.level", "enum"),
                                                     ("approver.unit", "enum")}


def test_unknown_delegator_unit_is_named(shipped: PolicySet) -> None:
    problem = one(bad_request(shipped, {"decision_id": "d-1", "approver": APPROVER,
                                        "acting_for": {**DELEGATION, "unit": "MARS"}}))
    assert (problem.field, problem.code) == ("acting_for.unit", "enum")


def test_authority_request_with_a_time_in_as_of_is_a_format_error(shipped: PolicySet) -> None:
    problem = one(bad_request(shipped, {"decision_id": "d-1", "approver": APPROVER,
                                        "as_of": "2026-11-23T00:00"}))
    assert (problem.field, problem.code) == ("as_of", "format")


def test_authority_request_missing_the_approver_names_it(shipped: PolicySet) -> None:
    problem = one(bad_request(shipped, {"decision_id": "d-1"}))
    assert (problem.field, problem.code) == ("approver", "missing")


def test_inline_deal_errors_are_prefixed_with_deal(shipped: PolicySet) -> None:
    request = authority.parse_request({"deal": {**DEAL, "office": "XX"}, "approver": APPROVER},
                                      shipped.org)
    with pytest.raises(InputError) as info:
        authority.decide_inline_deal(shipped, request, dt.date(2026, 11, 23))
    assert [(p.field, p.code) for p in info.value.problems] == [("deal.office", "enum")]


@pytest.mark.parametrize("raw", [
    DEAL, {**DEAL, "contract_value_usd": 5_000_000, "gross_margin_pct": 31},
    {**DEAL, "decision_point": "ATI", "gross_margin_pct": None, "as_of": "2027-02-01"},
    {**DEAL, "business_group": "ENTERPRISE", "non_standard_terms": ["IP_TRANSFER"]},
])
def test_prepare_validates_through_the_fast_path_to_what_the_model_gives(
        shipped: PolicySet, raw: dict[str, Any]) -> None:
    # The service validates through ``fastinputs`` (generated from the declarations);
    # the model is the contract: the same values, types included, and the same version.
    prepared = shipped.prepare("authorization", raw)
    version = shipped.version("authorization", prepared.policy.version)
    expected = validate_input(version.model, raw)
    assert prepared.values == expected
    assert [type(v) for v in prepared.values.values()] == [type(v) for v in expected.values()]
    assert shipped.input_check(version).__name__ == "fast"  # the generated path, not the model
