"""Explanations: the reasons of every fired rule in zh and en with the unit's
own figures, the dimensions that set the level, and the nearest change that
would lower it ("advance payment 15% needs REGION; from 20% OFFICE would do")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from samples import TODAY, deal

from decision_service.decision import Decision
from decision_service.policyset import PolicySet

DAY = dt.date.fromisoformat(TODAY)


def decide(shipped: PolicySet, **changes: Any) -> Decision:
    return shipped.decide("authorization", deal(**changes), today=DAY)


def reason(decision: Decision, table: str) -> tuple[str, str]:
    found = [r for r in decision.reasons if r.table == table]
    assert len(found) == 1, [r.rule for r in decision.reasons]
    return found[0].message.en, found[0].message.zh


def test_advance_15_needs_region_and_from_20_office_would_do(shipped: PolicySet) -> None:
    decision = decide(shipped, advance_payment_pct=15)
    assert decision.outputs["required_level"] == "REGION"
    [route] = decision.lower_routes
    assert (route.table, route.would_give) == ("A4", "OFFICE")
    en = route.message.en
    assert en.startswith("Advance payment: ")
    assert "15 needs REGION" in en
    assert ">= 20, OFFICE would do" in en


def test_lower_route_is_given_in_chinese_too(shipped: PolicySet) -> None:
    [route] = decide(shipped, advance_payment_pct=15).lower_routes
    zh = route.message.zh
    assert zh.startswith("预付款比例：")
    assert "15 需 REGION" in zh
    assert ">= 20" in zh and "OFFICE 即可" in zh
    assert zh != route.message.en


def test_dimensions_mark_only_the_tables_that_set_the_level_as_binding(
        shipped: PolicySet) -> None:
    decision = decide(shipped, advance_payment_pct=15)
    assert {(d.table, d.value, d.binding) for d in decision.dimensions} == {
        ("A1", "SYSTEM_DEPT", False), ("A2", "SYSTEM_DEPT", False),
        ("A3", "SYSTEM_DEPT", False), ("A4", "REGION", True),
    }


def test_lowering_one_of_two_binding_dimensions_would_not_lower_the_result(
        shipped: PolicySet) -> None:
    decision = decide(shipped, advance_payment_pct=15, gross_margin_pct=25)
    routes = {r.table: r.would_give for r in decision.lower_routes}
    assert routes == {"A2": "REGION", "A4": "REGION"}


def test_lower_route_for_margin_names_the_next_floor_up(shipped: PolicySet) -> None:
    [route] = decide(shipped, gross_margin_pct=25).lower_routes
    assert route.table == "A2"
    assert "25 needs REGION" in route.message.en
    assert ">= 30, OFFICE would do" in route.message.en


def test_a_decision_at_the_lowest_level_has_no_lower_route(shipped: PolicySet) -> None:
    decision = decide(shipped)
    assert decision.outputs["required_level"] == "SYSTEM_DEPT"
    assert decision.lower_routes == ()


def test_value_reason_in_de_shows_its_own_office_limit_50_000_000(shipped: PolicySet) -> None:
    decision = decide(shipped, office="DE", contract_value_usd=40_000_000)
    assert decision.outputs["required_level"] == "OFFICE"
    en, zh = reason(decision, "A1")
    assert en == "value USD 40,000,000 ≤ 50,000,000: OFFICE"
    assert zh == "金额 40,000,000 美元 ≤ 50,000,000：代表处"


def test_value_reason_elsewhere_shows_the_default_limits(shipped: PolicySet) -> None:
    decision = decide(shipped, contract_value_usd=40_000_000)
    assert decision.outputs["required_level"] == "REGION"
    assert reason(decision, "A1")[0] == "value USD 40,000,000 ≤ 100,000,000: REGION"


def test_lower_route_in_de_is_its_own_office_limit(shipped: PolicySet) -> None:
    decision = decide(shipped, office="DE", contract_value_usd=60_000_000)
    [route] = decision.lower_routes
    assert route.would_give == "OFFICE"
    assert "60,000,000 needs REGION" in route.message.en
    assert "<= 50,000,000, OFFICE would do" in route.message.en
    assert "<= 50,000,000" in route.message.zh


def test_lower_route_in_an_ordinary_office_is_the_default_limit(shipped: PolicySet) -> None:
    [route] = decide(shipped, contract_value_usd=25_000_000).lower_routes
    assert "<= 20,000,000, OFFICE would do" in route.message.en


def test_region_setting_of_weu_reaches_its_offices_messages(shipped: PolicySet) -> None:
    decision = decide(shipped, office="FR", contract_value_usd=120_000_000)
    assert decision.outputs["required_level"] == "REGION"
    assert reason(decision, "A1")[0] == "value USD 120,000,000 ≤ 150,000,000: REGION"


def test_payment_term_reason_in_ar_shows_120_days(shipped: PolicySet) -> None:
    decision = decide(shipped, office="AR", payment_term_days=100)
    assert decision.outputs["required_level"] == "OFFICE"
    assert reason(decision, "A3")[0] == "payment term 100 days ≤ 120: OFFICE"


def test_version_2_messages_show_its_limits_and_de_keeps_its_own(shipped: PolicySet) -> None:
    v2 = {"as_of": "2027-01-01", "contract_value_usd": 25_000_000}
    ordinary = decide(shipped, **v2)
    assert (ordinary.policy_version, ordinary.outputs["required_level"]) == ("2", "OFFICE")
    assert reason(ordinary, "A1")[0] == "value USD 25,000,000 ≤ 30,000,000: OFFICE"
    de = decide(shipped, office="DE", **v2)
    assert reason(de, "A1")[0] == "value USD 25,000,000 ≤ 50,000,000: OFFICE"
    margin = decide(shipped, as_of="2027-01-01", gross_margin_pct=28)
    assert reason(margin, "A2")[0] == "margin 28% ≥ 28%: OFFICE"


def test_fractional_figures_are_shown_as_written(shipped: PolicySet) -> None:
    decision = decide(shipped, advance_payment_pct=0.01)
    assert reason(decision, "A4")[0] == "advance payment 0.01% below 10%: BG"


def test_reasons_follow_the_tables_in_order_and_every_matching_term_appears(
        shipped: PolicySet) -> None:
    decision = decide(shipped, non_standard_terms=["EXTENDED_WARRANTY_OVER_3Y", "IP_TRANSFER"],
                      customer_tier="B", trade_compliance="PENDING")
    assert [r.rule for r in decision.reasons] == \
        ["A1.1", "A2.1", "A3.1", "A4.1", "A5.1", "A5.5", "A6.1", "A7.1"]


def test_a_deny_has_only_its_reasons_and_no_levels_to_explain(shipped: PolicySet) -> None:
    decision = decide(shipped, trade_compliance="FAIL", customer_tier="X")
    assert decision.outputs == {"outcome": "deny", "required_level": None,
                                "approver_unit": None}
    assert [r.rule for r in decision.reasons] == ["A7.fail", "A6.tier-x"]
    assert decision.dimensions == () and decision.lower_routes == ()
    assert "explanation" not in decision.as_dict()


def test_an_ati_capped_at_region_is_explained_by_the_cap_not_the_dimensions(
        shipped: PolicySet) -> None:
    decision = decide(shipped, decision_point="ATI", contract_value_usd=400_000_000)
    assert decision.outputs["required_level"] == "REGION"
    assert [r.rule for r in decision.reasons] == ["A1.5", "A8.1"]
    assert reason(decision, "A8") == ("ATI is decided at REGION level at most",
                                      "立项最高在地区部决策")
    assert decision.dimensions == () and decision.lower_routes == ()


def test_watch_listed_office_reason_names_the_office(shipped: PolicySet) -> None:
    decision = decide(shipped, office="AF")
    assert decision.outputs["required_level"] == "REGION"
    en, zh = reason(decision, "A9.watchlist")
    assert en == "office AF is watch-listed and holds no authority of its own: at least REGION"
    assert "AF" in zh
    binding = [d.table for d in decision.dimensions if d.binding]
    assert binding == ["A9.watchlist"]


def test_explanation_in_the_answer_body_has_dimensions_and_lower_routes(
        shipped: PolicySet) -> None:
    body = decide(shipped, advance_payment_pct=15).as_dict()
    explanation = body["explanation"]
    assert [d["table"] for d in explanation["dimensions"]] == ["A1", "A2", "A3", "A4"]
    [lower] = explanation["lower"]
    assert set(lower) == {"table", "message", "message_zh", "would_give"}
    assert lower["would_give"] == "OFFICE"
    assert {"message", "message_zh"} <= set(body["reasons"][0])


def test_grading_messages_substitute_the_inputs(shipped: PolicySet) -> None:
    decision = shipped.decide("project-grading", {
        "office": "DE", "contract_value_usd": 1, "strategic_customer": False, "countries": 4,
        "regions": 2, "new_product": False, "risk_level": "LOW", "gross_margin_pct": 12.5})
    messages = {r.rule: r.message for r in decision.reasons}
    assert messages["C.multi-region"].en == "spans 2 regions: at least B"
    assert messages["S.countries"].en == "4 countries: +10"
    assert messages["S.low-margin"].en == "margin 12.5% below 15%: +10"
    assert messages["S.low-margin"].zh == "毛利率 12.5% 低于15% +10"
