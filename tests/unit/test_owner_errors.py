"""Errors as a process owner meets them: the root problem first and its echoes
marked, YAML mistakes in plain words with the line to look at, unit codes
suggested by name, every problem in Chinese, and answer field names refused
as output names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from policykit import POLICY, at, only, problems, replace_once, where
from problem_codes import codes_in_source
from samples import POLICIES
from typer.testing import CliRunner

from decision_service.cli import app
from decision_service.errors import InputError, PolicyError, PolicyProblem
from decision_service.language.model import ANSWER_FIELDS
from decision_service.language.units import suggest_unit
from decision_service.policy_files import read_policy_dir
from decision_service.policyset import PolicySet
from decision_service.problem_texts import CATALOGUE, in_chinese

pytestmark = pytest.mark.real_loads  # tests of loading itself: every load in full

V1 = "authorization/authorization.v1.yaml"


def _shipped_problems(edits: dict[str, tuple[str, str]],
                      extra: dict[str, str] | None = None) -> list[PolicyProblem]:
    texts = read_policy_dir(POLICIES)
    for file, (old, new) in edits.items():
        texts[file] = replace_once(texts[file], old, new)
    texts.update(extra or {})
    with pytest.raises(PolicyError) as info:
        PolicySet.from_texts(texts, ("compiled",))
    return info.value.problems


# -- root first, follow-ons marked -------------------------------------------------


def test_a_policy_file_that_does_not_parse_comes_first_and_its_cases_follow_from_it() -> None:
    found = _shipped_problems({V1: ("id: authorization\n", "id: authorization\n  oops: [\n")})
    assert found[0].code == "yaml_syntax" and found[0].position.file == V1
    assert found[0].follows is None
    echoes = [p for p in found if p.code in ("unknown_policy", "unknown_base")]
    assert {p.position.file for p in echoes} == {"authorization/authorization.cases.yaml",
                                                 "authorization/authorization.v2.yaml"}
    assert all(p.follows == found[0].position for p in echoes)
    assert found.index(echoes[0]) > found.index(found[0])
    assert f"follows from the problem at {found[0].position}" in str(echoes[0])


def test_validate_counts_follow_on_problems_in_its_summary(tmp_path: Path) -> None:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    path = target / V1
    path.write_text(path.read_text().replace("id: authorization\n",
                                             "id: authorization\n  oops: [\n", 1))
    result = CliRunner().invoke(app, ["validate", str(target)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert "yaml_syntax" in lines[1]
    assert "3 problem(s), 2 of them follow-on" in lines[-1]


# -- YAML in plain words -------------------------------------------------------------


def test_a_tab_used_for_indentation_is_named_with_the_line_to_look_at() -> None:
    text = replace_once(POLICY, "  unit: office\n", "\tunit: office\n")
    problem = only(problems(text), "yaml_syntax")
    line = at(text, "\tunit")[0]
    assert problem.position.line == line
    assert f"look at line {line}" in problem.message and "tab" in problem.message
    assert "cannot start any token" not in problem.message
    said, complete = in_chinese(problem)
    assert f"请看第 {line} 行" in said and "Tab" in said and complete


def test_an_unclosed_list_names_the_line_that_opened_it() -> None:
    text = replace_once(POLICY, "  unit: office\n", "  owners: [a, b\n  unit: office\n")
    problem = only(problems(text), "yaml_syntax")
    opened = at(text, "owners: [")[0]
    assert f"opened on line {opened} is not closed" in problem.message
    assert f"第 {opened} 行开始的 [ ] 列表没有关闭" in in_chinese(problem)[0]


def test_a_second_colon_on_a_line_asks_for_quotes() -> None:
    text = replace_once(POLICY, "  unit: office\n", "  unit: office\n  owner: ops: team\n")
    problem = only(problems(text), "yaml_syntax")
    assert where(problem) == at(text, ": team")
    assert "'owner: ops: team'" in problem.message and "quotes" in problem.message


# -- units by name -------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "meant"), [("UAE", "AE"), ("uae", "AE"), ("germany", "DE"),
                                              ("Germany", "DE"), ("de", "DE"),
                                              ("德国代表处", "DE"), ("Frnace", "FR")])
def test_a_unit_is_found_by_code_or_name_ignoring_case(shipped: PolicySet, typed: str,
                                                       meant: str) -> None:
    unit = suggest_unit(shipped.org, typed)
    assert unit is not None and unit.code == meant


def test_a_setting_for_uae_suggests_ae_united_arab_emirates() -> None:
    found = _shipped_problems({V1: ("  - units: [AR, CR]\n", "  - units: [UAE]\n")})
    problem = only(found, "unknown_unit")
    assert "did you mean AE (United Arab Emirates, 阿联酋代表处)?" in problem.message
    assert "是否指 AE（阿联酋代表处，United Arab Emirates）" in in_chinese(problem)[0]


def test_rollout_with_a_unit_by_its_name_suggests_the_code() -> None:
    rollout = 'activation:\n  - {policy: authorization, version: "2", units: [germany]}\n'
    problem = only(_shipped_problems({}, {"rollout.yaml": rollout}), "unknown_unit")
    assert problem.position.file == "rollout.yaml"
    assert "did you mean DE (Germany, 德国代表处)?" in problem.message


def test_an_input_office_by_name_suggests_the_code(shipped: PolicySet) -> None:
    deal = {"decision_point": "ATB", "office": "germany", "customer_id": "C-1",
            "customer_tier": "S", "contract_value_usd": 1_000_000, "gross_margin_pct": 40,
            "payment_term_days": 30, "advance_payment_pct": 30, "trade_compliance": "PASS",
            "as_of": "2026-11-23"}
    with pytest.raises(InputError) as info:
        shipped.decide("authorization", deal)
    (problem,) = info.value.problems
    assert problem.field == "office"
    assert "did you mean DE (Germany, 德国代表处)?" in problem.message


# -- every problem in Chinese ------------------------------------------------------


def test_every_problem_code_of_the_code_base_has_a_chinese_text() -> None:
    missing = codes_in_source() - set(CATALOGUE)
    assert not missing, f"codes without a Chinese text in problem_texts: {sorted(missing)}"


def test_validate_lang_zh_prints_every_problem_in_chinese(tmp_path: Path) -> None:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    path = target / V1
    text = path.read_text().replace("  - units: [AR, CR]\n", "  - units: [UAE]\n", 1)
    path.write_text(text.replace("\noutputs:\n", "\noutputs:\n  engine: {type: string}\n", 1))
    result = CliRunner().invoke(app, ["validate", str(target), "--lang", "zh"])
    assert result.exit_code == 2
    problem_lines = [line for line in result.stderr.splitlines()
                     if line.startswith("authorization/")]
    assert problem_lines, result.stderr
    for line in problem_lines:
        message = line.split(": ", 2)[2]
        assert any("\u4e00" <= char <= "\u9fff" for char in message), line
    assert any("输出名「engine」与每个回答自带的字段重名" in line for line in problem_lines)
    assert "没有加载任何策略" in result.stderr.splitlines()[-1]


def test_validate_json_with_lang_zh_adds_the_chinese_message(tmp_path: Path) -> None:
    import orjson

    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    path = target / V1
    path.write_text(path.read_text().replace("  - units: [AR, CR]\n", "  - units: [UAE]\n", 1))
    result = CliRunner().invoke(app, ["validate", str(target), "--lang", "zh",
                                      "--format", "json"])
    (problem,) = orjson.loads(result.stdout)["problems"]
    assert problem["params"]["unit"] == "UAE"
    assert problem["message_zh"].startswith("组织树里没有单元「UAE」")


# -- output names the answer uses ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(ANSWER_FIELDS))
def test_an_output_named_like_an_answer_field_is_refused_at_its_position(name: str) -> None:
    text = replace_once(POLICY, "outputs:\n", f"outputs:\n  {name}: {{type: string}}\n")
    problem = only(problems(text), "reserved_output")
    assert where(problem) == (at(text, f"  {name}: {{type")[0], 3)
    assert f"output {name!r}" in problem.message


def test_answer_fields_cover_every_field_a_decision_answer_carries(shipped: PolicySet) -> None:
    deal = {"decision_point": "ATC", "office": "DE", "customer_id": "C-1",
            "customer_tier": "S", "contract_value_usd": 1_000_000, "gross_margin_pct": 40,
            "payment_term_days": 30, "advance_payment_pct": 30, "trade_compliance": "PASS",
            "as_of": "2026-11-23"}
    decision = shipped.decide("authorization", deal, history={"prior_atc_total_usd": 5.0})
    carried = set(decision.as_dict()) - set(decision.outputs)
    assert carried <= ANSWER_FIELDS
    assert {"decision_id", "shadow"} <= ANSWER_FIELDS  # the API's answer adds these

