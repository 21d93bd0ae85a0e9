"""Corpora: JSONL and CSV agree, bad rows are listed and counted, too many fail
the run, and the quick form needs no scenario file."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from simkit import deal, simulate, summary, write_csv, write_jsonl, write_scenario
from test_sim_figures import ROWS

from decision_service.locations import default_policies_dir

TERMS = deal("FR", "C9", 1_000_000, "2026-07-01",
             non_standard_terms=["CUSTOMER_CURRENCY", "IP_TRANSFER"])


@pytest.mark.slow  # two whole simulations
def test_jsonl_and_csv_agree(tmp_path: Path) -> None:
    rows = [*ROWS, TERMS]
    write_jsonl(tmp_path / "deals.jsonl", rows)
    write_csv(tmp_path / "deals.csv", rows)
    for name in ("deals.jsonl", "deals.csv"):
        scenario = write_scenario(tmp_path, name)
        code, _, err = simulate(str(scenario), "--out", str(tmp_path / f"out-{name}"))
        assert code == 0, err
    from_jsonl = summary(tmp_path / "out-deals.jsonl")
    from_csv = summary(tmp_path / "out-deals.csv")
    assert from_jsonl == from_csv
    assert from_csv["deals"] == 11
    assert from_csv["phases"][0]["baseline"]["required_level"]["COMPANY"] == 1


def test_bad_rows_are_listed_and_the_run_goes_on(tmp_path: Path) -> None:
    rows: list[object] = [*ROWS, "{not json", "[1, 2]",
                          deal("FR", "C1", -5, "2026-01-01"),
                          deal("ZZ", "C1", 5, "2026-01-01"),
                          {**deal("FR", "C1", 5, "2026-01-01"), "colour": "red"}]
    write_jsonl(tmp_path / "deals.jsonl", rows)
    scenario = write_scenario(tmp_path, "deals.jsonl", max_bad=5)
    code, _, _ = simulate(str(scenario), "--out", str(tmp_path / "out"))
    assert code == 0
    s = summary(tmp_path / "out")
    assert (s["rows"], s["bad_rows"], s["deals"]) == (15, 5, 10)
    with (tmp_path / "out" / "bad_rows.csv").open() as handle:
        bad = list(csv.DictReader(handle))
    assert [b["row"] for b in bad] == ["11", "12", "13", "14", "15"]
    assert "not valid JSON" in bad[0]["problem"] and "not an object" in bad[1]["problem"]
    assert "contract_value_usd" in bad[2]["problem"] and "office" in bad[3]["problem"]
    assert "colour" in bad[4]["problem"]


def test_too_many_bad_rows_fail_the_run(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "deals.jsonl", [*ROWS, "{not json", "{nor this"])
    scenario = write_scenario(tmp_path, "deals.jsonl", max_bad=1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("{}")  # an earlier run's: must not survive
    code, _, err = simulate(str(scenario), "--out", str(out))
    assert code == 2 and "bad_rows" in err and "row 11" in err
    assert not (out / "summary.json").exists() and not (out / "report.html").exists()
    assert len((out / "bad_rows.csv").read_text().splitlines()) == 3


def test_default_limit_is_one_percent(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "deals.jsonl", [*ROWS, "{not json"])  # 1 bad in 11: over 1%
    text = write_scenario(tmp_path, "deals.jsonl").read_text().replace("max_bad_rows: 0\n", "")
    code, _, _ = simulate(str(write_scenario(tmp_path, "x", text=text)))
    assert code == 2


@pytest.mark.slow  # a whole simulation from policy directories
def test_quick_form(tmp_path: Path) -> None:
    # a process owner's edit: OFFICE value limit 20M → 25M in a copy of the policies
    mine = tmp_path / "my-policies"
    shutil.copytree(default_policies_dir(), mine)
    v1 = mine / "authorization" / "authorization.v1.yaml"
    lines = v1.read_text().splitlines(keepends=True)
    edited = [line.replace("default: 20000000}", "default: 25000000}")
              if line.lstrip().startswith("office_value_limit:") else line for line in lines]
    assert edited != lines, "the OFFICE value limit's line was not found"
    v1.write_text("".join(edited))
    rows = [deal("FR", "C1", 22_000_000, "2026-03-01"), deal("FR", "C2", 26_000_000, "2026-03-01")]
    corpus = write_jsonl(tmp_path / "deals.jsonl", rows)
    code, stdout, _ = simulate("--policy", "authorization", "--baseline",
                               str(default_policies_dir()), "--candidate", str(mine),
                               "--corpus", str(corpus), "--format", "json")
    assert code == 0
    s = json.loads(stdout)
    (phase,) = s["phases"]
    assert phase["name"] == "everyone" and phase["changed"] == 1
    assert phase["candidate"]["required_level"] == {"OFFICE": 1, "REGION": 1}


def test_quick_form_needs_every_option(tmp_path: Path) -> None:
    code, _, err = simulate("--policy", "authorization")
    assert code == 2 and "--corpus" in err
