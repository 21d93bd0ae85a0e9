"""The command line: exit codes (0 ok, 1 failing cases, 2 invalid policy or
input), ``file:line:col`` on broken policies, ``eval`` printing exactly the
decision body, standard input, ``--format json`` and ``schema``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from policykit import at
from samples import POLICIES, deal
from typer.testing import CliRunner, Result

from decision_service.cli import app

# Every command loads the policies afresh, as a real run does: about a second each. The fast
# lane keeps one test per exit code (0 validate, 1 test, 2 a broken policy) and eval; the
# rest carry `slow`.
from decision_service.policyset import PolicySet

DEAL = deal(office="DE", contract_value_usd=60_000_000, advance_payment_pct=15)


def cli(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin)


@pytest.fixture()
def policies_copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    return target


def edit(path: Path, old: str, new: str) -> str:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return text


# -- validate -------------------------------------------------------------------------


def test_validate_shipped_policies_exits_0() -> None:
    result = cli("validate", str(POLICIES))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 4 policies, 5 versions, ")


@pytest.mark.slow
def test_validate_json_reports_policies_versions_cases_and_bundle_hash() -> None:
    result = cli("validate", str(POLICIES), "--format", "json")
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    assert body["ok"] is True
    assert body["policies"] == ["authority-check", "authorization", "customer-qualification",
                                "project-grading"]
    assert body["versions"] == 5
    assert body["cases"] >= 150
    assert len(body["bundle_hash"]) == 64


def test_validate_broken_copy_exits_2_with_file_line_column(policies_copy: Path) -> None:
    path = policies_copy / "authorization" / "authorization.v1.yaml"
    text = edit(path, "    hit: first\n    outputs: [required_level]\n    monotonic",
                "    hit: firstest\n    outputs: [required_level]\n    monotonic")
    line, column = at(text, "firstest")
    result = cli("validate", str(policies_copy))
    assert result.exit_code == 2
    expected = f"authorization/authorization.v1.yaml:{line}:{column}: unknown_value: 'hit'"
    assert expected in result.stderr
    assert "nothing was loaded" in result.stderr


@pytest.mark.slow
def test_validate_broken_copy_json_lists_each_problem(policies_copy: Path) -> None:
    path = policies_copy / "authorization" / "authorization.v1.yaml"
    group = "  customer_id: {type: string, description: {zh: 客户编码, en: Customer id}}\n"
    text = edit(path, group, group + group)
    result = cli("validate", str(policies_copy), "--format", "json")
    assert result.exit_code == 2
    body = json.loads(result.stdout)
    assert body["ok"] is False
    [problem] = [p for p in body["problems"] if p["code"] == "duplicate_key"]
    line, column = at(text, "customer_id:", nth=2)
    assert problem == {"file": "authorization/authorization.v1.yaml", "line": line,
                       "column": column, "code": "duplicate_key",
                       "message": problem["message"]}
    assert "'customer_id' appears twice" in problem["message"]


@pytest.mark.slow
def test_validate_prints_each_problem_on_one_line_whatever_its_length(
        policies_copy: Path) -> None:
    path = policies_copy / "authorization" / "authorization.v1.yaml"
    text = edit(path, "    hit: first\n    outputs: [required_level]\n    monotonic",
                "    hit: firstest\n    outputs: [required_level]\n    monotonic")
    line, column = at(text, "firstest")
    result = cli("validate", str(policies_copy))
    assert result.exit_code == 2
    expected = (f"authorization/authorization.v1.yaml:{line}:{column}: unknown_value: 'hit': "
                "unknown value 'firstest'; allowed: first, unique, any, priority, collect, "
                "collect-max, scorecard")
    assert expected in result.stderr.splitlines()


def test_validate_a_missing_directory_exits_2(tmp_path: Path) -> None:
    result = cli("validate", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "no such policy directory" in result.stderr


# -- test -----------------------------------------------------------------------------


@pytest.mark.slow  # every case on both engines
def test_test_shipped_policies_passes_on_both_engines() -> None:
    result = cli("test", str(POLICIES))
    assert result.exit_code == 0, result.stderr
    assert "case runs passed on compiled, durable" in result.stdout


def _break_first_case(policies_copy: Path) -> int:
    path = policies_copy / "authorization" / "authorization.cases.yaml"
    text = edit(path, "    expect: {outcome: route, required_level: SYSTEM_DEPT",
                "    expect: {outcome: route, required_level: OFFICE")
    return at(text, "  - name: 'baseline")[0]


def test_test_exits_1_on_a_failing_case_and_names_it(policies_copy: Path) -> None:
    line = _break_first_case(policies_copy)
    result = cli("test", str(policies_copy), "--engine", "compiled")
    assert result.exit_code == 1
    assert f"FAIL authorization/authorization.cases.yaml:{line} [compiled] baseline" in \
        result.stderr
    assert "required_level: expected 'OFFICE', got 'SYSTEM_DEPT'" in result.stderr


@pytest.mark.slow
def test_test_json_shape_counts_failures(policies_copy: Path) -> None:
    _break_first_case(policies_copy)
    result = cli("test", str(policies_copy), "--engine", "compiled", "--format", "json",
                 "--policy", "authorization")
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert (body["ok"], body["failed"]) == (False, 1)
    assert body["total"] == len(body["results"]) > 100
    [failed] = [r for r in body["results"] if not r["ok"]]
    assert set(failed) == {"file", "line", "policy", "case", "engine", "ok", "failures"}
    assert failed["engine"] == "compiled" and failed["policy"] == "authorization"


@pytest.mark.slow
def test_test_exits_2_not_1_when_the_policy_itself_is_invalid(policies_copy: Path) -> None:
    edit(policies_copy / "grading" / "project-grading.yaml", "hit: collect-max",
         "hit: collect-most")
    result = cli("test", str(policies_copy), "--engine", "compiled")
    assert result.exit_code == 2


# -- eval -----------------------------------------------------------------------------------


def test_eval_prints_exactly_the_decision_body(shipped: PolicySet, tmp_path: Path) -> None:
    deal_file = tmp_path / "deal.json"
    deal_file.write_text(json.dumps(DEAL), encoding="utf-8")
    result = cli("eval", "authorization", "--input", str(deal_file), "--engine", "compiled")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == shipped.decide("authorization", DEAL).as_dict()
    assert "decision_id" not in json.loads(result.stdout)


@pytest.mark.slow
def test_eval_reads_standard_input_with_dash(shipped: PolicySet) -> None:
    result = cli("eval", "authorization", "--input", "-", "--engine", "compiled",
                 stdin=json.dumps(DEAL))
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body == shipped.decide("authorization", DEAL).as_dict()
    assert (body["required_level"], body["approver_unit"]) == ("REGION", "WEU")


@pytest.mark.slow
def test_eval_on_the_durable_engine_prints_the_same_body_but_its_engine(
        shipped: PolicySet) -> None:
    result = cli("eval", "authorization", "--input", "-", "--engine", "durable",
                 stdin=json.dumps(DEAL))
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body.pop("engine") == "durable"
    expected = shipped.decide("authorization", DEAL).as_dict()
    expected.pop("engine")
    assert body == expected


@pytest.mark.slow
def test_eval_today_option_decides_the_version_without_as_of() -> None:
    deal = {k: v for k, v in DEAL.items() if k != "as_of"}
    deal.update(office="CN-BJ", contract_value_usd=25_000_000, advance_payment_pct=30)
    before = json.loads(cli("eval", "authorization", "--input", "-", "--engine", "compiled",
                            "--today", "2026-12-31", stdin=json.dumps(deal)).stdout)
    after = json.loads(cli("eval", "authorization", "--input", "-", "--engine", "compiled",
                           "--today", "2027-01-01", stdin=json.dumps(deal)).stdout)
    assert (before["policy_version"], before["required_level"]) == ("1", "REGION")
    assert (after["policy_version"], after["required_level"]) == ("2", "OFFICE")
    assert after["decision_date"] == "2027-01-01"


@pytest.mark.slow
def test_eval_bad_input_exits_2_with_one_entry_per_field() -> None:
    result = cli("eval", "authorization", "--input", "-", "--engine", "compiled",
                 stdin=json.dumps({**DEAL, "office": "XX", "colour": "red"}))
    assert result.exit_code == 2
    body = json.loads(result.stdout)
    assert (body["ok"], body["error"]) == (False, "invalid input")
    assert {(d["field"], d["code"]) for d in body["details"]} == {("office", "enum"),
                                                                  ("colour", "unknown_field")}


@pytest.mark.slow
def test_eval_bad_input_in_text_format_goes_to_stderr_naming_the_field() -> None:
    result = cli("eval", "authorization", "--input", "-", "--engine", "compiled",
                 "--format", "text", stdin=json.dumps({**DEAL, "gross_margin_pct": "40"}))
    assert result.exit_code == 2
    assert "gross_margin_pct: type: " in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("args", "stdin", "fragment"), [
    (("eval", "nonsense", "--input", "-"), json.dumps(DEAL), "unknown policy 'nonsense'"),
    (("eval", "authorization", "--input", "-"), "{not json", "not valid JSON"),
    (("eval", "authorization", "--input", "/nonexistent/deal.json"), None, "cannot read input"),
    (("eval", "authorization", "--input", "-", "--today", "23.11.2026"), json.dumps(DEAL),
     "is not a date"),
], ids=["unknown-policy", "invalid-json", "missing-file", "bad-today"])
def test_eval_problems_exit_2_with_a_json_error(args: tuple[str, ...], stdin: str | None,
                                                fragment: str) -> None:
    result = cli(*args, "--engine", "compiled", stdin=stdin)
    assert result.exit_code == 2
    body = json.loads(result.stdout)
    assert body["ok"] is False
    assert fragment in body["error"]


@pytest.mark.slow
@pytest.mark.subprocess
def test_eval_through_the_installed_command_reads_stdin(shipped: PolicySet) -> None:
    command = Path(sys.executable).parent / "decision-service"
    argv = [str(command)] if command.exists() else [sys.executable, "-m", "decision_service.cli"]
    done = subprocess.run([*argv, "eval", "authorization", "--input", "-", "--engine",
                           "compiled"], input=json.dumps(DEAL).encode(), capture_output=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout) == shipped.decide("authorization", DEAL).as_dict()


# -- explain and schema -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "fragments"), [
    ("en", ["advance payment 15% is below the country-office advance-payment floor 20%: "
            "the region approves", "the LTC pilot office"]),
    ("zh", ["预付款比例 15% 低于代表处预付款下限 20%，须地区部审批", "德国代表处（LTC试点）"]),
])
def test_explain_prints_reasons_and_lower_routes_in_the_language_asked(
        lang: str, fragments: list[str]) -> None:
    result = CliRunner(env={"COLUMNS": "250"}).invoke(
        app, ["explain", "authorization", "--input", "-", "--engine", "compiled", "--lang", lang],
        input=json.dumps(DEAL))
    assert result.exit_code == 0, result.output
    for fragment in fragments:
        assert fragment in result.stdout


@pytest.mark.slow
def test_schema_of_authorization_is_a_json_schema_of_its_inputs() -> None:
    result = cli("schema", "authorization")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {
        "decision_point", "office", "business_group", "customer_id", "customer_tier",
        "contract_value_usd", "gross_margin_pct", "payment_term_days", "advance_payment_pct",
        "non_standard_terms", "trade_compliance", "requester_id", "deal_id", "as_of"}
    assert {"decision_point", "office", "customer_id", "customer_tier", "contract_value_usd",
            "trade_compliance"} <= set(schema["required"])
    assert not {"business_group", "requester_id", "as_of", "non_standard_terms",
                "gross_margin_pct"} & set(schema["required"])
    assert schema["properties"]["decision_point"]["enum"] == ["ATI", "ATB", "ATC", "CHANGE"]
    term = schema["properties"]["payment_term_days"]
    assert {"type": "integer", "minimum": 0, "maximum": 3650}.items() <= \
        next(b for b in term.get("anyOf", [term]) if b.get("type") == "integer").items()


@pytest.mark.slow
def test_schema_of_an_unknown_policy_exits_2() -> None:
    result = cli("schema", "nonsense")
    assert result.exit_code == 2


def test_show_resolves_figures_per_unit_so_fr_and_de_differ_where_de_sets_them() -> None:
    wide = CliRunner(env={"COLUMNS": "250"})
    fr = wide.invoke(app, ["show", "authorization", "--unit", "FR", "--version", "1"])
    de = wide.invoke(app, ["show", "authorization", "--unit", "DE", "--version", "1"])
    assert fr.exit_code == de.exit_code == 0, fr.output + de.output
    assert "USD 20M" in fr.stdout and "USD 50M" not in fr.stdout
    assert "USD 50M" in de.stdout and "setting for DE Germany" in de.stdout
    assert "<= USD 50M" in de.stdout and "<= USD 20M" in fr.stdout
    fr_lines = set(fr.stdout.splitlines())
    de_lines = set(de.stdout.splitlines())
    assert any("25%" in line for line in de_lines - fr_lines)


def test_show_diff_says_what_version_2_changes_in_business_words() -> None:
    result = cli("show", "authorization", "--diff", "1", "--diff", "2", "--lang", "zh")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["代表处金额上限：2,000万美元 → 3,000万美元",
                                          "代表处毛利率下限：30% → 28%"]


def test_cli_reads_policies_of_the_current_directory_and_says_which(
        policies_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(policies_copy.parent)
    result = cli("validate")
    assert result.exit_code == 0, result.output
    assert f"policies: {policies_copy.resolve()} (bundle " in result.stderr
    body = json.loads(cli("validate", "--format", "json").stdout)
    assert body["policies_dir"] == str(policies_copy.resolve())
