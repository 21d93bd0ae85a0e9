"""Figures checked for every unit and every version of the shipped authorization
policy: each contradiction is found, with its unit, version, figures and position."""

from __future__ import annotations

import pytest
from policykit import at, where
from samples import POLICIES

from decision_service.errors import PolicyError, PolicyProblem
from decision_service.policy_files import read_policy_dir
from decision_service.policyset import PolicySet

pytestmark = pytest.mark.real_loads  # tests of loading itself: every load in full

V1 = "authorization/authorization.v1.yaml"
V2 = "authorization/authorization.v2.yaml"


def _problems(**changes: str) -> list[PolicyProblem]:
    texts = read_policy_dir(POLICIES)
    for key, text in changes.items():
        texts[{"v1": V1, "v2": V2}[key]] = text
    with pytest.raises(PolicyError) as info:
        PolicySet.from_texts(texts, engines=("compiled",))
    return info.value.problems


def _shipped(key: str) -> str:
    return (POLICIES / {"v1": V1, "v2": V2}[key]).read_text(encoding="utf-8")


def _with_code(found: list[PolicyProblem], code: str) -> list[PolicyProblem]:
    matching = [p for p in found if p.code == code]
    assert matching, f"no {code!r} problem in {[str(p) for p in found]}"
    return matching


def test_swapped_value_limits_are_found_at_the_figure_with_both_figures_named() -> None:
    v1 = _shipped("v1").replace("country-office value limit}, type: number, default: 20000000}",
                                "country-office value limit}, type: number, default: 30000000}")
    v1 = v1.replace("region value limit}, type: number, default: 100000000}",
                    "region value limit}, type: number, default: 20000000}")
    found = _problems(v1=v1)
    ordering = [p for p in _with_code(found, "ordering") if "office_value_limit must be below "
                "region_value_limit" in p.message]
    assert ordering, [str(p) for p in found]
    problem = ordering[0]
    assert problem.position.file == V1
    assert "office_value_limit = 30000000 (default of version 1" in problem.message
    assert "region_value_limit = 20000000 (default of version 1" in problem.message
    unreachable = _with_code(found, "unreachable_rule")
    assert any("rule A1.region can never fire" in p.message and
               where(p) == at(v1, "id: A1.region") for p in unreachable)


def test_a_regions_office_margin_floor_above_the_system_dept_floor_names_the_region() -> None:
    v1 = _shipped("v1").replace(
        "settings:\n",
        "settings:\n  - units: [MEA]\n    set: {office_margin_floor: 36}\n"
        "    note: {zh: 中东毛利要求, en: Middle East margin rule}\n", 1)
    found = _problems(v1=v1)
    ordering = _with_code(found, "ordering")
    problem = next(p for p in ordering if "office_margin_floor" in p.message)
    assert where(problem) == at(v1, "units: [MEA]")
    assert "version 1, for MEA Middle East and the units below" in problem.message
    assert "office_margin_floor = 36 (setting for MEA Middle East (Middle East margin rule)" \
        in problem.message
    unreachable = [p for p in _with_code(found, "unreachable_rule")
                   if "A2.office" in p.message]
    # the setting holds in both versions: each version reports it
    assert sorted(p.message.split(",")[0] for p in unreachable) == ["version 1", "version 2"]
    assert all(where(p) == at(v1, "units: [MEA]") for p in unreachable)
    assert all("for MEA Middle East" in p.message for p in unreachable)


def test_version_two_figures_out_of_order_are_found_in_the_version_file() -> None:
    v2 = _shipped("v2").replace("office_value_limit: 30000000", "office_value_limit: 120000000")
    found = _problems(v2=v2)
    ordering = [p for p in _with_code(found, "ordering") if "version 2" in p.message]
    assert ordering
    assert {p.position.file for p in ordering} == {V2}
    assert all(where(p) == at(v2, "120000000") for p in ordering)
    # WEU raises its REGION limit to 150M, so only the other units are named
    assert not any("WEU" in p.message for p in ordering)
    assert "office_value_limit = 120000000 (default of version 2" in ordering[0].message


def test_the_shipped_figures_are_in_order_for_every_unit_and_version() -> None:
    with PolicySet.from_texts(read_policy_dir(POLICIES), engines=("compiled",)) as policies:
        assert len(policies.versions["authorization"]) == 2
        assert len(policies.versions["authorization"][0].compiled.policy.orderings) == 4
