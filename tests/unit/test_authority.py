"""Exercising authority (B1-B5) on the real org tree: which unit is above which,
when a delegation is in force, what it cannot carry, and self-approval; end to
end from a deal decided by ``PolicySet.decide`` to ``authority.check``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from samples import TODAY, deal

from decision_service.decision import Decision
from decision_service.ltc import authority
from decision_service.policyset import PolicySet

DAY = dt.date.fromisoformat(TODAY)
DEAL = deal(office="DE", requester_id="seller-1")
WINDOW = {"valid_from": "2026-11-01", "valid_to": "2026-11-30"}


def covers(shipped: PolicySet, unit: str, target: str, group: str | None = "CARRIER") -> bool:
    return authority.covers(shipped.org, unit, target, group)


# -- B2 on the org tree ----------------------------------------------------------------


def test_a_unit_covers_itself(shipped: PolicySet) -> None:
    assert covers(shipped, "DE", "DE")
    assert covers(shipped, "WEU", "WEU")


def test_an_office_is_covered_by_its_region_and_by_headquarters(shipped: PolicySet) -> None:
    assert covers(shipped, "WEU", "DE")
    assert covers(shipped, "HQ", "DE")
    assert covers(shipped, "HQ", "WEU")


def test_every_office_is_covered_by_its_own_region_and_by_no_other(shipped: PolicySet) -> None:
    org = shipped.org
    regions = org.codes("region")
    offices = org.codes("office")
    assert (len(regions), len(offices)) == (17, 169)
    for office in offices:
        own = org.region_of(office)
        assert [r for r in regions if covers(shipped, r, office)] == [own], office


def test_an_office_is_not_above_its_region(shipped: PolicySet) -> None:
    assert not covers(shipped, "DE", "WEU")


def test_a_region_is_not_above_another_regions_office(shipped: PolicySet) -> None:
    assert shipped.org.region_of("AR") != "WEU"
    assert not covers(shipped, "WEU", "AR")
    assert not covers(shipped, "LAS", "DE")


def test_an_office_is_not_above_another_office(shipped: PolicySet) -> None:
    assert not covers(shipped, "DE", "FR")


def test_bg_carrier_is_above_regions_and_offices_of_carrier_deals(shipped: PolicySet) -> None:
    assert covers(shipped, "BG-CARRIER", "WEU", "CARRIER")
    assert covers(shipped, "BG-CARRIER", "DE", "CARRIER")
    assert covers(shipped, "BG-CARRIER", "AF", "CARRIER")


def test_bg_carrier_is_not_above_units_of_enterprise_deals(shipped: PolicySet) -> None:
    assert not covers(shipped, "BG-CARRIER", "WEU", "ENTERPRISE")
    assert not covers(shipped, "BG-CARRIER", "DE", "ENTERPRISE")
    assert covers(shipped, "BG-ENTERPRISE", "DE", "ENTERPRISE")


def test_a_bg_is_not_above_the_other_bg_nor_headquarters(shipped: PolicySet) -> None:
    assert not covers(shipped, "BG-CARRIER", "BG-ENTERPRISE", "ENTERPRISE")
    assert not covers(shipped, "BG-CARRIER", "HQ", "CARRIER")


def test_regions_and_offices_are_not_above_a_bg_or_headquarters(shipped: PolicySet) -> None:
    assert not covers(shipped, "WEU", "BG-CARRIER")
    assert not covers(shipped, "DE", "HQ")
    assert covers(shipped, "HQ", "BG-ENTERPRISE", "ENTERPRISE")


# -- end to end: deal → check ---------------------------------------------------------------


def deal(shipped: PolicySet, **changes: Any) -> Decision:
    return shipped.decide("authorization", {**DEAL, **changes}, today=DAY)


def check(shipped: PolicySet, decision: Decision, approver: tuple[str, str, str],
          acting_for: tuple[str, str, str] | None = None, as_of: str | None = None,
          window: dict[str, str] = WINDOW) -> tuple[bool, list[str]]:
    raw: dict[str, Any] = {"decision_id": "d-1", "approver": dict(
        zip(("id", "level", "unit"), approver, strict=True))}
    if acting_for is not None:
        raw["acting_for"] = {**dict(zip(("id", "level", "unit"), acting_for, strict=True)),
                             **window}
    if as_of is not None:
        raw["as_of"] = as_of
    request = authority.parse_request(raw, shipped.org)
    result = authority.check(shipped, decision, request, DAY)
    return result.outputs["allowed"], [r.rule for r in result.reasons]


@pytest.fixture(scope="module")
def region_deal(shipped: PolicySet) -> Decision:
    """DE, USD 60,000,000: above DE's OFFICE limit of 50,000,000 → REGION at WEU."""
    decision = deal(shipped, contract_value_usd=60_000_000)
    assert (decision.outputs["required_level"], decision.outputs["approver_unit"]) == \
        ("REGION", "WEU")
    return decision


@pytest.mark.parametrize(("approver", "allowed", "rule"), [
    (("u-2", "REGION", "WEU"), True, "B1B2.own"),
    (("u-3", "BG", "BG-CARRIER"), True, "B1B2.own"),
    (("u-4", "COMPANY", "HQ"), True, "B1B2.own"),
    (("u-5", "OFFICE", "DE"), False, "B1.level"),
    (("u-6", "REGION", "LAS"), False, "B2.unit"),
    (("u-7", "BG", "BG-ENTERPRISE"), False, "B2.unit"),
    (("u-8", "REGION", "DE"), False, "B2.unit"),
])
def test_own_level_and_unit_decide_without_a_delegation(
        shipped: PolicySet, region_deal: Decision, approver: tuple[str, str, str],
        allowed: bool, rule: str) -> None:
    assert check(shipped, region_deal, approver) == (allowed, [rule])


@pytest.mark.parametrize(("as_of", "allowed", "rule"), [
    ("2026-10-31", False, "B4.not-in-force"),
    ("2026-11-01", True, "B4.delegated"),
    ("2026-11-15", True, "B4.delegated"),
    ("2026-11-30", True, "B4.delegated"),
    ("2026-12-01", False, "B4.not-in-force"),
])
def test_delegation_is_in_force_on_both_boundary_days_only(
        shipped: PolicySet, region_deal: Decision, as_of: str, allowed: bool,
        rule: str) -> None:
    result = check(shipped, region_deal, ("deputy", "OFFICE", "DE"),
                   acting_for=("boss", "REGION", "WEU"), as_of=as_of)
    assert result == (allowed, [rule])


def test_delegation_uses_today_when_the_request_has_no_as_of(
        shipped: PolicySet, region_deal: Decision) -> None:
    request = authority.parse_request(
        {"decision_id": "d-1", "approver": {"id": "deputy", "level": "OFFICE", "unit": "DE"},
         "acting_for": {"id": "boss", "level": "REGION", "unit": "WEU", **WINDOW}},
        shipped.org)
    inside = authority.check(shipped, region_deal, request, dt.date(2026, 11, 30))
    outside = authority.check(shipped, region_deal, request, dt.date(2026, 12, 1))
    assert (inside.outputs["allowed"], outside.outputs["allowed"]) == (True, False)


def test_a_single_day_delegation_is_in_force_on_that_day(
        shipped: PolicySet, region_deal: Decision) -> None:
    window = {"valid_from": "2026-11-23", "valid_to": "2026-11-23"}
    result = check(shipped, region_deal, ("deputy", "OFFICE", "DE"),
                   acting_for=("boss", "REGION", "WEU"), as_of="2026-11-23", window=window)
    assert result == (True, ["B4.delegated"])


def test_a_delegation_at_too_low_a_level_does_not_help(
        shipped: PolicySet, region_deal: Decision) -> None:
    allowed, _ = check(shipped, region_deal, ("deputy", "SYSTEM_DEPT", "DE"),
                       acting_for=("boss", "OFFICE", "DE"), as_of="2026-11-15")
    assert allowed is False


def test_a_delegation_from_the_wrong_unit_does_not_help(
        shipped: PolicySet, region_deal: Decision) -> None:
    allowed, _ = check(shipped, region_deal, ("deputy", "OFFICE", "DE"),
                       acting_for=("boss", "REGION", "LAS"), as_of="2026-11-15")
    assert allowed is False


def test_company_level_decisions_are_reserved_and_cannot_be_delegated(
        shipped: PolicySet) -> None:
    company = deal(shipped, contract_value_usd=400_000_000)
    assert company.outputs["required_level"] == "COMPANY"
    assert check(shipped, company, ("deputy", "BG", "BG-CARRIER"),
                 acting_for=("ceo", "COMPANY", "HQ"), as_of="2026-11-15") == \
        (False, ["B4.reserved"])
    assert check(shipped, company, ("ceo", "COMPANY", "HQ")) == (True, ["B1B2.own"])


def test_any_change_for_a_tier_x_customer_is_reserved(shipped: PolicySet) -> None:
    change = deal(shipped, decision_point="CHANGE", customer_tier="X")
    assert (change.outputs["outcome"], change.outputs["required_level"]) == ("route", "REGION")
    assert check(shipped, change, ("deputy", "OFFICE", "DE"),
                 acting_for=("boss", "REGION", "WEU"), as_of="2026-11-15") == \
        (False, ["B4.reserved"])
    assert check(shipped, change, ("boss", "REGION", "WEU")) == (True, ["B1B2.own"])


def test_a_change_for_a_tier_a_customer_is_not_reserved(shipped: PolicySet) -> None:
    change = deal(shipped, decision_point="CHANGE", customer_tier="A",
                  contract_value_usd=60_000_000)
    assert check(shipped, change, ("deputy", "OFFICE", "DE"),
                 acting_for=("boss", "REGION", "WEU"), as_of="2026-11-15") == \
        (True, ["B4.delegated"])


def test_nobody_approves_their_own_request(shipped: PolicySet, region_deal: Decision) -> None:
    assert check(shipped, region_deal, ("seller-1", "REGION", "WEU")) == \
        (False, ["B3.own-request"])


def test_nobody_approves_their_own_request_with_a_delegation_either(
        shipped: PolicySet, region_deal: Decision) -> None:
    assert check(shipped, region_deal, ("seller-1", "OFFICE", "DE"),
                 acting_for=("boss", "REGION", "WEU"), as_of="2026-11-15") == \
        (False, ["B3.own-request"])


def test_a_denied_deal_cannot_be_approved_by_anyone(shipped: PolicySet) -> None:
    denied = deal(shipped, trade_compliance="FAIL")
    assert (denied.outputs["outcome"], denied.outputs["required_level"]) == ("deny", None)
    assert check(shipped, denied, ("ceo", "COMPANY", "HQ")) == (False, ["B5.denied"])


def test_bg_level_enterprise_deal_is_approved_by_its_bg_not_the_other(
        shipped: PolicySet) -> None:
    enterprise = deal(shipped, office="CN-BJ", business_group="ENTERPRISE",
                      contract_value_usd=150_000_000)
    assert (enterprise.outputs["required_level"], enterprise.outputs["approver_unit"]) == \
        ("BG", "BG-ENTERPRISE")
    assert check(shipped, enterprise, ("e", "BG", "BG-ENTERPRISE"))[0] is True
    assert check(shipped, enterprise, ("c", "BG", "BG-CARRIER")) == (False, ["B2.unit"])


def test_reasons_of_a_delegated_approval_name_delegate_delegator_and_date(
        shipped: PolicySet, region_deal: Decision) -> None:
    request = authority.parse_request(
        {"decision_id": "d-1", "approver": {"id": "deputy", "level": "OFFICE", "unit": "DE"},
         "acting_for": {"id": "boss", "level": "REGION", "unit": "WEU", **WINDOW},
         "as_of": "2026-11-15"}, shipped.org)
    result = authority.check(shipped, region_deal, request, DAY)
    message = result.reasons[0].message.en
    assert "deputy" in message and "boss" in message and "2026-11-15" in message


def test_inline_deal_is_decided_at_its_own_as_of(shipped: PolicySet) -> None:
    # USD 25,000,000 in CN-BJ: REGION under version 1, OFFICE under version 2 (A11).
    inline = {**DEAL, "office": "CN-BJ", "contract_value_usd": 25_000_000}
    request_v1 = authority.parse_request(
        {"deal": inline, "approver": {"id": "o", "level": "OFFICE", "unit": "CN-BJ"}},
        shipped.org)
    decided = authority.decide_inline_deal(shipped, request_v1, dt.date(2027, 6, 1))
    assert decided.outputs["required_level"] == "REGION"
    request_v2 = authority.parse_request(
        {"deal": {**inline, "as_of": "2027-01-01"},
         "approver": {"id": "o", "level": "OFFICE", "unit": "CN-BJ"}}, shipped.org)
    decided = authority.decide_inline_deal(shipped, request_v2, DAY)
    assert (decided.policy_version, decided.outputs["required_level"]) == ("2", "OFFICE")
    assert authority.check(shipped, decided, request_v2, DAY).outputs["allowed"] is True


def test_a_delegate_cannot_approve_the_request_of_the_person_they_act_for(
        shipped: PolicySet) -> None:
    decision = deal(shipped, contract_value_usd=60_000_000, requester_id="r-1")
    allowed, rules = check(shipped, decision, ("u-5", "OFFICE", "DE"),
                           acting_for=("r-1", "REGION", "WEU"), as_of="2026-11-15")
    assert (allowed, rules) == (False, ["B3.own-request"])
