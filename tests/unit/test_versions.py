"""Dated versions that may change anything, and rule ids that never move."""

from __future__ import annotations

import datetime as dt

import pytest
from policykit import ORG, POLICY, at, load, only, problems, replace_once, where

pytestmark = pytest.mark.real_loads  # tests of loading itself: every load in full

V2 = """\
policy:
  id: limits
  version: "2"
  extends: "1"
  effective_from: 2027-01-01
parameters:
  office_limit: 30
"""

# Version 3 adds a unit setting and a rule, and writes nothing about office_limit.
V3 = """\
policy:
  id: limits
  version: "3"
  extends: "2"
  effective_from: 2027-07-01
settings:
  - units: [DE]
    set: {region_limit: 60}
    note: {zh: 德国试点, en: Germany pilot}
tables:
  - id: T
    rules:
      - id: T.urgent
        before: T.office
        when: {urgent: true}
        then: REGION
"""

DEAL = {"office": "FR", "value": 25, "kind": "NEW", "urgent": False}
V3_DAY = dt.date(2027, 8, 1)


def _three() -> dict[str, str]:
    return {"org.yaml": ORG, "limits.yaml": POLICY, "limits.v2.yaml": V2, "limits.v3.yaml": V3}


def test_version_three_keeps_the_figures_version_two_set() -> None:
    policies = load(_three())
    decision = policies.decide("limits", DEAL, today=V3_DAY)
    assert decision.policy_version == "3"
    assert decision.outputs["level"] == "OFFICE"  # office_limit 30 from version 2


def test_version_three_adds_a_unit_setting_for_that_unit_only() -> None:
    policies = load(_three())
    big = {**DEAL, "value": 80}
    assert policies.decide("limits", big, today=V3_DAY).outputs["level"] == "REGION"
    assert policies.decide("limits", {**big, "office": "DE"}, today=V3_DAY).outputs["level"] == \
        "COMPANY"
    before = policies.decide("limits", {**big, "office": "DE"}, today=dt.date(2027, 2, 1))
    assert before.outputs["level"] == "REGION"


def test_version_three_adds_a_rule_where_it_says_and_earlier_versions_lack_it() -> None:
    policies = load(_three())
    urgent = {**DEAL, "value": 1, "urgent": True}
    v3 = policies.decide("limits", urgent, today=V3_DAY)
    assert [r.rule for r in v3.reasons] == ["T.urgent"]
    v2 = policies.decide("limits", urgent, today=dt.date(2027, 2, 1))
    assert [r.rule for r in v2.reasons] == ["T.office"]


def test_a_version_removes_a_rule_by_id() -> None:
    v2 = V2 + "tables:\n  - id: T\n    rules:\n      - {id: T.company, remove: true}\n"
    policies = load({"org.yaml": ORG, "limits.yaml": POLICY, "limits.v2.yaml": v2})
    rules = policies.version("limits", "2").compiled.policy.tables[0].rules
    assert [r.id for r in rules] == ["T.office", "T.region"]


def test_a_version_adds_values_to_an_enum_input() -> None:
    v2 = V2 + "inputs:\n  kind:\n    values: [RENEWAL]\n"
    policies = load({"org.yaml": ORG, "limits.yaml": POLICY, "limits.v2.yaml": v2})
    decision = policies.decide("limits", {**DEAL, "kind": "RENEWAL"}, today=V3_DAY)
    assert decision.input["kind"] == "RENEWAL"
    assert policies.version("limits", "1").compiled.policy.inputs["kind"].values == \
        ("NEW", "CHANGE")


def test_a_full_copy_as_version_three_is_refused_instead_of_dropping_version_two() -> None:
    copy = replace_once(POLICY, 'version: "1"', 'version: "3"\n  effective_from: 2027-07-01')
    problem = only(problems(POLICY, {"limits.v2.yaml": V2, "limits.v3.yaml": copy}),
                   "full_copy_version")
    assert problem.position.file == "limits.v3.yaml"
    assert "version 3 is a full copy" in problem.message


def test_a_version_that_skips_the_one_before_it_is_refused() -> None:
    v3 = replace_once(V3, 'extends: "2"', 'extends: "1"')
    problem = only(problems(POLICY, {"limits.v2.yaml": V2, "limits.v3.yaml": v3}),
                   "extends_not_previous")
    assert problem.position.file == "limits.v3.yaml"
    assert "the version before it (by effective_from) is 2" in problem.message


def test_a_rule_placed_next_to_an_unknown_rule_is_reported_in_the_version_file() -> None:
    v3 = replace_once(V3, "before: T.office", "before: T.ofice")
    problem = only(problems(POLICY, {"limits.v2.yaml": V2, "limits.v3.yaml": v3}),
                   "unknown_rule")
    assert problem.position.file == "limits.v3.yaml"
    assert where(problem) == at(v3, "id: T.urgent")


def test_a_rule_without_an_id_is_refused_at_the_rule() -> None:
    text = replace_once(POLICY, "      - id: T.region\n        when:", "      - when:")
    problem = only(problems(text), "missing_field")
    assert where(problem) == at(text, 'when: {value: "<= region_limit"}')
    assert "'id'" in problem.message


def test_a_rule_id_used_twice_is_refused_at_the_second_rule() -> None:
    text = replace_once(POLICY, "id: T.region", "id: T.office")
    problem = only(problems(text), "duplicate_rule_id")
    assert where(problem) == at(text, "id: T.office", nth=2)
    assert "already used at limits.yaml:" in problem.message


def test_inserting_a_rule_changes_no_other_rules_id() -> None:
    before = load({"org.yaml": ORG, "limits.yaml": POLICY})
    inserted = replace_once(POLICY, "      - id: T.region\n",
                            "      - id: T.pilot\n        when: {kind: CHANGE, value: '<= 25'}\n"
                            "        then: OFFICE\n      - id: T.region\n")
    after = load({"org.yaml": ORG, "limits.yaml": inserted})
    for value in (10, 50, 500):
        deal = {**DEAL, "value": value}
        assert [r.rule for r in before.decide("limits", deal).reasons] == \
            [r.rule for r in after.decide("limits", deal).reasons]
