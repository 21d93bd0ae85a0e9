"""Every way a process owner can break a policy, reported with its code, its
exact line and column, and words they can act on; and nothing half-loaded.

Each test starts from the valid ``policykit.POLICY`` and breaks one thing.
Expected positions are computed from the text (``at``), never copied."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from policykit import (
    ORG,
    POLICY,
    at,
    load,
    only,
    problems,
    replace_once,
    where,
)

from decision_service.errors import PolicyError

pytestmark = pytest.mark.real_loads  # tests of loading itself: every load in full


def test_the_base_policy_of_these_tests_is_valid() -> None:
    policies = load({"org.yaml": ORG, "limits.yaml": POLICY})
    decision = policies.decide("limits", {"office": "DE", "value": 21, "kind": "NEW",
                                          "urgent": False})
    assert decision.outputs["level"] == "REGION"


# -- one broken thing, one problem at one place ------------------------------------------
#
# Each row breaks POLICY by replacing ``old`` with ``new``; ``▶`` in ``new`` marks where the
# problem must point and is not part of the policy. The test expects exactly one problem
# with the row's code, reading ``limits.yaml:<line>:<column>: <code>: ...`` with the line
# and column of the mark, and its message to contain each of the row's words.

MARK = "▶"
CELL = '{value: "<= office_limit"}'


def _row(case_id: str, old: str, new: str, code: str, *words: str) -> Any:
    return pytest.param(old, new, code, words, id=case_id)


BROKEN = [
    # YAML itself
    _row("yaml-syntax", "  unit: office\n", "  unit: office\n  owner: ops▶: team\n",
         "yaml_syntax", "a second ': ' on one line"),
    _row("duplicate-key-in-a-cell", CELL, '{value: "<= office_limit", ▶value: "> 1"}',
         "duplicate_key", "'value' appears twice"),
    # shape (cerberus)
    _row("unknown-top-level-field", "tables:\n", "▶colour: red\ntables:\n",
         "unknown_field", "unknown field 'colour'"),
    _row("unknown-field-in-a-table", "    hit: first\n", "    hit: first\n    ▶colour: red\n",
         "unknown_field", "'colour'"),
    _row("unknown-field-in-a-rule", "        then: REGION\n",
         "        then: REGION\n        ▶colour: red\n", "unknown_field", "'colour'"),
    _row("unknown-hit-policy-lists-the-allowed", "hit: first", "hit: ▶firstest",
         "unknown_value", "'firstest'",
         "first, unique, any, priority, collect, collect-max, scorecard"),
    _row("version-as-a-number", 'version: "1"', "version: ▶1", "type",
         "'version' must be of type string"),
    _row("min-a-word-that-is-no-input", "value: {type: number, min: 0}",
         'value: ▶{type: number, min: "abc"}', "unknown_field",
         "bound 'abc' is not an input"),
    _row("min-a-list", "value: {type: number, min: 0}", "value: {type: number, min: ▶[0]}",
         "type", "'min'"),
    _row("code-NO-read-by-yaml-as-false", "values: [NEW, CHANGE]", "values: [NEW, ▶NO]",
         "type", "False", "put the code in quotes"),
    _row("unknown-input-type", "urgent: {type: boolean}", "urgent: {type: ▶bool}",
         "unknown_value", "'bool'"),
    # cells
    _row("unknown-field-in-a-cell", CELL, '{valeu: ▶"<= office_limit"}', "unknown_field",
         "unknown field 'valeu'", "did you mean 'value'?"),
    _row("unknown-enum-value-in-a-cell", CELL, "{kind: ▶NEWW}", "unknown_value",
         "'NEWW' is not a value of 'kind'", "did you mean 'NEW'?"),
    _row("number-compared-with-text-field", CELL, '{value: ▶"<= kind"}', "type",
         "'value' is a number; 'kind' is not"),
    _row("number-compared-with-a-bare-word", CELL, '{value: ▶"<= abc"}', "unknown_name",
         "'abc'"),
    _row("boolean-compared-with-a-number", CELL, "{urgent: ▶3}", "type",
         "'urgent' is true or false"),
    _row("cell-syntax", CELL, '{value: ▶"<=> 2"}', "cell_syntax",
         "value: ", "neither a number nor a name"),
    _row("unclosed-range", CELL, '{value: ▶"[1..5"}', "cell_syntax"),
    _row("exponent-as-text", CELL, '{value: ▶"<= 2e7"}', "cell_syntax", "plain digits"),
    _row("exponent-read-as-float-printed-with-e", CELL, "{value: ▶1.0e+20}",
         "number_format", "plain digits"),
    _row("exponent-read-as-float-whatever-its-repr", CELL, "{value: ▶2.5e+7}",
         "number_format"),
    # static checks
    _row("self-contradicting-rule", '- id: T.region\n        when: {value: "<= region_limit"}',
         '- ▶id: T.region\n        when: {value: "[50..40]"}', "unreachable_rule",
         "rule T.region can never fire: its conditions cannot all hold"),
    # settings
    _row("unknown-unit-in-settings", "outputs:\n  level",
         "settings:\n  - ▶units: [DEU]\n    set: {office_limit: 10}\noutputs:\n  level",
         "unknown_unit", "unknown unit 'DEU' (not in the org tree); did you mean DE (Germany)?"),
    _row("unknown-parameter-in-settings", "outputs:\n  level",
         "settings:\n  - ▶units: [DE]\n    set: {office_limt: 10}\noutputs:\n  level",
         "unknown_parameter", "unknown parameter 'office_limt'; did you mean 'office_limit'?"),
]


@pytest.mark.parametrize(("old", "new", "code", "words"), BROKEN)
def test_one_broken_thing_is_one_problem_at_its_file_line_and_column(
        old: str, new: str, code: str, words: tuple[str, ...]) -> None:
    marked = replace_once(POLICY, old, new)
    assert marked.count(MARK) == 1
    text = marked.replace(MARK, "")
    line, column = at(marked, MARK)
    problem = only(problems(text), code)
    assert str(problem).startswith(f"limits.yaml:{line}:{column}: {code}: "), str(problem)
    for word in words:
        assert word in problem.message


# -- YAML itself ---------------------------------------------------------------


def test_yaml_unclosed_flow_mapping_is_a_syntax_error_on_its_line() -> None:
    text = replace_once(POLICY, "title: {zh: 金额, en: Value}", "title: {zh: 金额, en: Value")
    problem = only(problems(text), "yaml_syntax")
    assert problem.position.line == at(text, "hit: first")[0]
    opened = at(text, "title: {zh: 金额, en: Value")[0]
    assert f"a {{ }} mapping opened on line {opened} is not closed" in problem.message


def test_duplicate_key_points_at_the_second_key_and_names_the_first_line() -> None:
    text = replace_once(POLICY, "  unit: office\n", "  unit: office\n  unit: region\n")
    problem = only(problems(text), "duplicate_key")
    assert where(problem) == at(text, "unit:", nth=2)
    assert "'unit' appears twice" in problem.message
    assert f"first at line {at(text, 'unit:')[0]}" in problem.message


# -- shape (cerberus) --------------------------------------------------------------


# -- cells -------------------------------------------------------------------------


def test_ordering_comparison_on_an_unordered_enum_is_a_type_error() -> None:
    text = replace_once(POLICY, '{value: "<= office_limit"}', '{kind: "> NEW"}')
    problem = only(problems(text), "type")
    assert "'kind' has no order" in problem.message


def test_cells_false_and_zero_point_zero_in_one_policy_are_both_understood() -> None:
    text = replace_once(POLICY, '      - id: T.office\n        when: {value: "<= office_limit"}\n',
                        "      - id: T.zero\n"
                        "        when: {urgent: false, value: 0.0}\n        then: OFFICE\n"
                        '      - id: T.office\n        when: {value: "<= office_limit"}\n')
    text = text.replace("    monotonic: {value: increasing}\n", "")
    policies = load({"org.yaml": ORG, "limits.yaml": text})
    assert policies.decide("limits", {"office": "FR", "value": 0, "kind": "NEW",
                                      "urgent": False}).outputs["level"] == "OFFICE"


# -- static checks ---------------------------------------------------------------------


def test_rule_after_a_catch_all_in_a_first_table_can_never_fire() -> None:
    text = replace_once(POLICY, '{value: "<= office_limit"}', '{value: "-"}')
    found = [p for p in problems(text) if p.code == "unreachable_rule"]
    assert [where(p) for p in found] == [at(text, "id: T.region"), at(text, "id: T.company")]
    assert "rule T.region can never fire" in found[0].message
    assert "earlier rules of table T match every case it matches" in found[0].message


def _unique(rules: str) -> str:
    text = POLICY.replace("hit: first", "hit: unique").replace(
        "    monotonic: {value: increasing}\n", "")
    head, _ = text.split("    rules:\n")
    return head + "    rules:\n" + rules


def test_unique_table_with_a_gap_names_a_value_no_rule_covers() -> None:
    text = _unique('      - id: R3\n'
                   '        when: {value: "<= office_limit"}\n        then: OFFICE\n'
                   '      - id: R4\n'
                   '        when: {value: "(office_limit..region_limit)"}\n        then: REGION\n'
                   '      - id: R5\n'
                   '        when: {value: "> region_limit"}\n        then: COMPANY\n')
    problem = only(problems(text), "unique_gap")
    assert where(problem) == at(text, "id: T")
    assert "table T is unique but no rule matches value=100" in problem.message


def test_unique_table_with_an_overlap_is_reported_at_the_second_rule() -> None:
    text = _unique('      - id: R6\n'
                   '        when: {value: "<= office_limit"}\n        then: OFFICE\n'
                   '      - id: R7\n'
                   '        when: {value: "[office_limit..region_limit]"}\n        then: REGION\n'
                   '      - id: R8\n'
                   '        when: {value: "> region_limit"}\n        then: COMPANY\n')
    problem = only(problems(text), "overlap")
    assert where(problem) == at(text, "id: R7")
    assert "rules R6 and R7 both match" in problem.message
    assert "value=20" in problem.message


def test_unique_table_covering_every_valid_value_has_no_gap() -> None:
    text = _unique('      - id: R9\n'
                   '        when: {value: "<= office_limit"}\n        then: OFFICE\n'
                   '      - id: R10\n'
                   '        when: {value: "(office_limit..region_limit]"}\n        then: REGION\n'
                   '      - id: R11\n'
                   '        when: {value: "> region_limit"}\n        then: COMPANY\n')
    policies = load({"org.yaml": ORG, "limits.yaml": text})
    assert policies.names() == ["limits"]


def test_unique_table_covering_the_declared_range_from_its_min_has_no_gap() -> None:
    text = _unique('      - id: R12\n'
                   '        when: {value: "[0..office_limit]"}\n        then: OFFICE\n'
                   '      - id: R13\n'
                   '        when: {value: "(office_limit..region_limit]"}\n        then: REGION\n'
                   '      - id: R14\n'
                   '        when: {value: "> region_limit"}\n        then: COMPANY\n')
    policies = load({"org.yaml": ORG, "limits.yaml": text})
    assert policies.names() == ["limits"]


def test_overlapping_unique_table_declared_monotonic_is_a_policy_error_not_a_crash() -> None:
    text = _unique('      - id: R15\n'
                   '        when: {value: "<= office_limit"}\n        then: OFFICE\n'
                   '      - id: R16\n'
                   '        when: {value: "[office_limit..region_limit]"}\n        then: REGION\n'
                   '      - id: R17\n'
                   '        when: {value: "> region_limit"}\n        then: COMPANY\n')
    text = replace_once(text, "    outputs: [level]\n",
                        "    outputs: [level]\n    monotonic: {value: increasing}\n")
    found = problems(text)
    assert "overlap" in {p.code for p in found}


def test_any_table_with_conflicting_outputs_is_reported() -> None:
    text = _unique('      - id: R18\n'
                   '        when: {value: "<= office_limit"}\n        then: OFFICE\n'
                   '      - id: R19\n'
                   '        when: {value: "[office_limit..region_limit]"}\n        then: REGION\n'
                   '      - id: R20\n'
                   '        when: {value: "> region_limit"}\n        then: COMPANY\n')
    text = text.replace("hit: unique", "hit: any")
    problem = only(problems(text), "overlap")
    assert where(problem) == at(text, "id: R19")
    assert "hit policy any, but rules R18 and R19 match with different outputs" in problem.message


def test_any_table_whose_overlapping_rules_agree_is_valid() -> None:
    text = _unique('      - id: R21\n'
                   '        when: {value: "<= office_limit"}\n        then: OFFICE\n'
                   '      - id: R22\n'
                   '        when: {value: "[office_limit..region_limit]"}\n        then: OFFICE\n'
                   '      - id: R23\n'
                   '        when: {value: "> region_limit"}\n        then: COMPANY\n')
    policies = load({"org.yaml": ORG, "limits.yaml": text.replace("hit: unique", "hit: any")})
    assert policies.names() == ["limits"]


_BAND = ('      - id: R24\n        when: {value: "[pilot_from..pilot_to]"}\n        then: OFFICE\n'
         '      - id: R25\n        when: {value: "<= office_limit"}\n        then: OFFICE\n'
         '      - id: R26\n        when: {value: "<= region_limit"}\n        then: REGION\n'
         '      - id: R27\n        when: {value: "> region_limit"}\n        then: COMPANY\n')


def _banded(settings: str = "") -> str:
    head, _ = POLICY.split("    rules:\n")
    text = head + "    rules:\n" + _BAND
    text = replace_once(text, "  region_limit: {type: number, default: 100}\n",
                        "  region_limit: {type: number, default: 100}\n"
                        "  pilot_from: {type: number, default: 0}\n"
                        "  pilot_to: {type: number, default: 0}\n")
    return replace_once(text, "outputs:\n  level", settings + "outputs:\n  level")


def test_table_monotonic_with_default_parameters_is_valid() -> None:
    assert load({"org.yaml": ORG, "limits.yaml": _banded()}).names() == ["limits"]


def test_unit_setting_that_breaks_declared_monotonicity_is_reported_at_the_setting() -> None:
    text = _banded("settings:\n  - units: [DE]\n    set: {pilot_from: 150, pilot_to: 200}\n")
    problem = only(problems(text), "not_monotonic")
    assert where(problem) == at(text, "units: [DE]")
    assert "version 1, for DE Germany:" in problem.message
    assert "pilot_from = 150 (setting for DE Germany, version 1 limits.yaml:" in problem.message
    assert "table T is declared increasing in value" in problem.message
    assert "value=150 gives OFFICE" in problem.message
    assert "gives COMPANY" in problem.message


def test_table_that_is_not_monotonic_without_any_setting_is_reported() -> None:
    text = replace_once(POLICY, "        then: REGION\n", "        then: BG\n")
    text = replace_once(text, "        then: COMPANY\n", "        then: REGION\n")
    problem = only(problems(text), "not_monotonic")
    assert "gives REGION where value=" in problem.message and "gives BG" in problem.message


# -- settings and versions ---------------------------------------------------------------


def _with_settings(settings: str) -> str:
    return replace_once(POLICY, "outputs:\n  level", f"settings:\n{settings}outputs:\n  level")


def test_setting_a_number_parameter_to_text_is_a_type_error() -> None:
    text = _with_settings("  - units: [DE]\n    set: {office_limit: lots}\n")
    problem = only(problems(text), "type")
    assert "parameter 'office_limit' must be a number" in problem.message


V2 = """\
policy:
  id: limits
  version: "2"
  extends: "1"
  effective_from: 2027-01-01
parameters:
  office_limit: 30
"""


def test_version_two_extending_version_one_loads_and_decides_by_date() -> None:
    policies = load({"org.yaml": ORG, "limits.yaml": POLICY, "limits.v2.yaml": V2})
    deal = {"office": "FR", "value": 25, "kind": "NEW", "urgent": False}
    assert policies.decide("limits", deal, today=dt.date(2026, 12, 31)).outputs["level"] == \
        "REGION"
    assert policies.decide("limits", deal, today=dt.date(2027, 1, 1)).outputs["level"] == \
        "OFFICE"


def test_unknown_parameter_in_an_extends_file_is_reported_in_that_file() -> None:
    v2 = replace_once(V2, "office_limit: 30", "office_limt: 30")
    problem = only(problems(POLICY, {"limits.v2.yaml": v2}), "unknown_parameter")
    assert problem.position.file == "limits.v2.yaml"
    assert where(problem) == at(v2, "30")
    assert "version 2 sets unknown parameter 'office_limt'" in problem.message


def test_unknown_field_in_an_extends_file_is_reported() -> None:
    v2 = V2 + "tables: []\nrulez: []\n"
    problem = only(problems(POLICY, {"limits.v2.yaml": v2}), "unknown_field")
    assert problem.position.file == "limits.v2.yaml"
    assert where(problem) == at(v2, "rulez:")


def test_extends_of_a_missing_version_is_reported() -> None:
    v2 = replace_once(V2, 'extends: "1"', 'extends: "7"')
    problem = only(problems(POLICY, {"limits.v2.yaml": v2}), "unknown_base")
    assert problem.position.file == "limits.v2.yaml"
    assert where(problem) == at(v2, "id: limits")
    assert "extends version 7, which is not defined" in problem.message


def test_two_versions_taking_effect_on_the_same_date_are_ambiguous() -> None:
    v2 = replace_once(V2, "effective_from: 2027-01-01", "effective_from: null")
    problem = only(problems(POLICY, {"limits.v2.yaml": v2}), "ambiguous_version")
    assert "limits versions 1 and 2 take effect on the same date" in problem.message


def test_an_impossible_date_is_a_policy_error_at_its_position_not_a_crash() -> None:
    v2 = replace_once(V2, "effective_from: 2027-01-01", "effective_from: 2027-13-01")
    problem = only(problems(POLICY, {"limits.v2.yaml": v2}), "date_format")
    assert problem.position.file == "limits.v2.yaml"
    assert where(problem) == at(v2, "2027-13-01")
    assert "2027-13-01 is not a calendar date" in problem.message


def test_the_same_version_defined_twice_is_reported() -> None:
    problem = only(problems(POLICY, {"limits.v2.yaml": V2, "limits.v2b.yaml": V2}),
                   "duplicate_version")
    assert "limits version 2 is defined twice" in problem.message


# -- nothing half-loaded -------------------------------------------------------------------


def test_one_bad_file_among_good_ones_raises_and_yields_no_policy_set() -> None:
    good_other = replace_once(POLICY, "id: limits", "id: other-limits")
    bad = replace_once(POLICY, "hit: first", "hit: firstest")
    result = None
    with pytest.raises(PolicyError) as info:
        result = load({"org.yaml": ORG, "a-good.yaml": good_other, "b-bad.yaml": bad})
    assert result is None
    assert {p.position.file for p in info.value.problems} == {"b-bad.yaml"}


def test_every_bad_file_is_reported_in_one_error_sorted_by_position() -> None:
    bad1 = replace_once(POLICY, "hit: first", "hit: firstest")
    bad2 = replace_once(POLICY, "id: limits", "id: other-limits") + "colour: red\n"
    with pytest.raises(PolicyError) as info:
        load({"org.yaml": ORG, "a.yaml": bad1, "b.yaml": bad2})
    found = [(p.position.file, p.code) for p in info.value.problems]
    assert found == [("a.yaml", "unknown_value"), ("b.yaml", "unknown_field")]
    assert str(info.value).splitlines()[0].startswith(f"a.yaml:{at(bad1, 'firstest')[0]}:")


def test_error_text_reads_file_line_column_code_message() -> None:
    text = replace_once(POLICY, "hit: first", "hit: firstest")
    problem = only(problems(text), "unknown_value")
    line, column = at(text, "firstest")
    assert str(problem).startswith(f"limits.yaml:{line}:{column}: unknown_value: 'hit': ")


def test_a_set_without_an_org_tree_is_refused() -> None:
    with pytest.raises(PolicyError) as info:
        load({"limits.yaml": POLICY})
    assert [p.code for p in info.value.problems] == ["missing_org"]
