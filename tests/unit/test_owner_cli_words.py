"""explain and show as a process owner reads them: levels and units by name,
show as JSON, and show --diff in the form the guide writes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from decision_service.cli import app

MEA_DEAL = {"decision_point": "ATB", "office": "AE", "customer_id": "C-1", "customer_tier": "S",
            "contract_value_usd": 25_000_000, "gross_margin_pct": 31, "payment_term_days": 30,
            "advance_payment_pct": 15, "trade_compliance": "PASS", "as_of": "2026-11-23"}


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), terminal_width=200)


def _explain(tmp_path: Path, lang: str) -> list[str]:
    deal = tmp_path / "deal.json"
    deal.write_text(json.dumps(MEA_DEAL))
    result = cli("explain", "authorization", "--input", str(deal), "--lang", lang)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_explain_header_and_dimensions_name_levels_and_units_in_chinese(tmp_path: Path) -> None:
    lines = _explain(tmp_path, "zh")
    assert lines[0].startswith("交易授权 v1 (2026-11-23): ")
    assert "审批层级 = 地区部" in lines[0] and "审批单位 = 中东地区部" in lines[0]
    assert " * A1 合同金额: 地区部" in lines and "   A2 毛利率: 代表处" in lines
    assert not any(code in line for line in lines for code in ("REGION", "OFFICE",
                                                                "SYSTEM_DEPT"))


def test_explain_header_and_dimensions_name_levels_in_english(tmp_path: Path) -> None:
    lines = _explain(tmp_path, "en")
    assert "approval level = region" in lines[0] and "approving unit = Middle East" in lines[0]
    assert " * A1 Contract value: region" in lines
    assert "   A2 Gross margin: country office" in lines


def test_show_diff_takes_the_policy_and_two_versions_as_the_guide_writes_it() -> None:
    result = cli("show", "--diff", "authorization", "1", "2", "--lang", "zh")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["代表处金额上限：2,000万美元 → 3,000万美元",
                                          "代表处毛利率下限：30% → 28%"]


def test_show_diff_of_an_unknown_version_or_one_version_exits_2() -> None:
    assert cli("show", "--diff", "authorization", "1", "9").exit_code == 2
    result = cli("show", "--diff", "authorization", "1")
    assert result.exit_code == 2 and "two versions" in result.stderr


def test_show_format_json_gives_the_figures_and_grids_of_a_unit() -> None:
    result = cli("show", "authorization", "--unit", "DE", "--version", "1", "--format", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["policy"], body["version"], body["unit"]) == ("authorization", "1", "DE")
    limit = next(f for f in body["figures"] if f["value"] == "USD 50M")
    assert "setting for DE Germany" in limit["set_in"]
    a1 = next(t for t in body["tables"] if t["title"].startswith("A1"))
    assert a1["columns"][-1] == "approval level"
    assert ["A1.office", "<= USD 50M", "country office"] in a1["rows"]


def test_show_diff_format_json_lists_the_changes() -> None:
    body = json.loads(cli("show", "--diff", "authorization", "1", "2", "--format",
                          "json").stdout)
    assert body["from"] == "1" and body["to"] == "2"
    assert body["changes"][0] == "country-office value limit: USD 20M → USD 30M"
