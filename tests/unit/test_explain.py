"""Explanations: the reasons of every fired rule in zh and en with the unit's
own figures, the dimensions that set the level, and the nearest change that
would lower it ("advance payment 15% needs REGION; from 20% OFFICE would do")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from samples import POLICIES, TODAY, deal

from decision_service.decision import Decision
from decision_service.policy_files import read_policy_dir
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


def test_lowering_one_of_two_binding_dimensions_gives_no_would_do_hint(
        shipped: PolicySet) -> None:
    decision = decide(shipped, advance_payment_pct=15, gross_margin_pct=25)
    assert decision.outputs["required_level"] == "REGION"
    assert decision.lower_routes == ()


def test_lower_route_for_margin_names_the_next_floor_up(shipped: PolicySet) -> None:
    [route] = decide(shipped, gross_margin_pct=25).lower_routes
    assert route.table == "A2"
    assert "25 needs REGION" in route.message.en
    assert ">= 30, OFFICE would do" in route.message.en


def test_a_decision_at_the_lowest_level_has_no_lower_route(shipped: PolicySet) -> None:
    decision = decide(shipped)
    assert decision.outputs["required_level"] == "SYSTEM_DEPT"
    assert decision.lower_routes == ()


def test_value_reason_in_de_cites_its_own_office_limit_and_the_setting(
        shipped: PolicySet) -> None:
    decision = decide(shipped, office="DE", contract_value_usd=60_000_000)
    assert decision.outputs["required_level"] == "REGION"
    en, zh = reason(decision, "A1")
    assert en == ("contract value USD 60M is above the country-office value limit USD 50M "
                  "(setting for DE Germany: Germany, the LTC pilot office): the region approves")
    assert zh == ("合同金额 6,000万美元 超过代表处金额上限 5,000万美元"
                  "（DE 德国代表处的设置：德国代表处（LTC试点）），须地区部审批")


def test_value_reason_elsewhere_cites_the_default_limit(shipped: PolicySet) -> None:
    decision = decide(shipped, contract_value_usd=40_000_000)
    assert decision.outputs["required_level"] == "REGION"
    assert reason(decision, "A1")[0] == ("contract value USD 40M is above the country-office "
                                         "value limit USD 20M: the region approves")


def test_lowest_level_reason_cites_the_threshold_it_met(shipped: PolicySet) -> None:
    en, zh = reason(decide(shipped), "A1")
    assert en == ("contract value USD 1M is within the system-department value limit USD 2M: "
                  "the system department can approve")
    assert zh == "合同金额 100万美元 不超过系统部金额上限 200万美元，系统部即可审批"


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
    decision = decide(shipped, office="FR", contract_value_usd=160_000_000)
    assert decision.outputs["required_level"] == "BG"
    en, zh = reason(decision, "A1")
    assert "above the region value limit USD 150M (setting for WEU Western Europe" in en
    assert "超过地区部金额上限 1.5亿美元（WEU 西欧地区部及其下属单位的设置" in zh


def test_payment_term_reason_in_ar_shows_120_days(shipped: PolicySet) -> None:
    decision = decide(shipped, office="AR", payment_term_days=130)
    assert decision.outputs["required_level"] == "REGION"
    assert reason(decision, "A3")[1].startswith("账期 130天 超过代表处账期上限 120天（")


def test_version_2_reasons_name_the_version_and_de_keeps_its_own(shipped: PolicySet) -> None:
    v2 = {"as_of": "2027-01-01", "contract_value_usd": 35_000_000}
    ordinary = decide(shipped, **v2)
    assert (ordinary.policy_version, ordinary.outputs["required_level"]) == ("2", "REGION")
    assert reason(ordinary, "A1")[0] == ("contract value USD 35M is above the country-office "
                                         "value limit USD 30M (version 2): the region approves")
    assert "（第2版）" in reason(ordinary, "A1")[1]
    de = decide(shipped, office="DE", **{**v2, "contract_value_usd": 55_000_000})
    assert "USD 50M (setting for DE Germany" in reason(de, "A1")[0]


def test_fractional_figures_are_shown_as_written(shipped: PolicySet) -> None:
    decision = decide(shipped, advance_payment_pct=0.01)
    assert reason(decision, "A4")[0] == ("advance payment 0.01% is below the region "
                                         "advance-payment floor 10%: the business group approves")


def test_reasons_that_set_the_level_are_marked_decisive(shipped: PolicySet) -> None:
    decision = decide(shipped, advance_payment_pct=15)
    assert {r.rule: r.decisive for r in decision.reasons} == {
        "A1.system-dept": False, "A2.system-dept": False, "A3.system-dept": False,
        "A4.region": True}
    assert decision.as_dict()["reasons"][3]["decisive"] is True


def test_a10_total_is_spelled_out_as_this_deal_plus_the_earlier_ones(
        shipped: PolicySet) -> None:
    decision = shipped.decide("authorization",
                              deal(decision_point="ATC", contract_value_usd=12_000_000),
                              today=DAY, history={"prior_atc_total_usd": 12_000_000})
    zh = reason(decision, "A1")[1]
    assert zh.startswith("合同金额 2,400万美元（本单金额 1,200万美元 + "
                         "近90天同客户同代表处已签 1,200万美元） 超过代表处金额上限 2,000万美元")


def test_a_mea_deal_below_the_middle_east_floor_names_33_percent_and_the_setting() -> None:
    texts = read_policy_dir(POLICIES)
    v1 = "authorization/authorization.v1.yaml"
    texts[v1] = texts[v1].replace(
        "settings:\n", "settings:\n  - units: [MEA]\n    set: {office_margin_floor: 33}\n"
        "    note: {zh: 中东地区部毛利要求, en: Middle East margin rule}\n", 1)
    with PolicySet.from_texts(texts, engines=("compiled",)) as policies:
        decision = policies.decide("authorization", deal(office="SA", gross_margin_pct=31),
                                   today=DAY)
    assert decision.outputs["required_level"] == "REGION"
    en, zh = reason(decision, "A2")
    assert zh == ("毛利率 31% 低于代表处毛利率下限 33%（MEA 中东地区部及其下属单位的设置："
                  "中东地区部毛利要求），须地区部审批")
    assert "20%" not in zh
    assert en == ("gross margin 31% is below the country-office margin floor 33% (setting for "
                  "MEA Middle East and the units below: Middle East margin rule): "
                  "the region approves")
