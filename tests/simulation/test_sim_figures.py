"""A small scenario's figures against figures worked out by hand.

Office limit USD 20M (v1) → 30M (v2). FR is in WEU, AR in LAS, DE is the pilot
with its own 50M limit. The FR/C1 chain only comes out right with A10 totals
taken from the corpus itself, in date order and file order within a date.
"""

from __future__ import annotations

import json
from pathlib import Path

from simkit import deal, simulate, summary, write_jsonl, write_scenario

ROWS = [
    # file order is not date order: r2 (line 1) is decided after r1 (line 2)
    # r2: 12M + r1's 12M = 24M → v1 REGION, v2 OFFICE
    deal("FR", "C1", 12_000_000, "2026-02-01"),
    # r1: OFFICE in both
    deal("FR", "C1", 12_000_000, "2026-01-10"),
    # denied at ATC while screening is pending: never counts for A10
    deal("FR", "C1", 13_000_000, "2026-02-15", trade_compliance="PENDING"),
    # r3: 24M + 10M = 34M → REGION in both
    deal("FR", "C1", 10_000_000, "2026-03-01"),
    # r4: the window starts 02-14, so only r3 counts: 10M + 5M → OFFICE in both
    deal("FR", "C1", 5_000_000, "2026-05-15"),
    # r5: OFFICE in both
    deal("FR", "C2", 15_000_000, "2026-06-01"),
    # r6: the same date, after r5 in the file: 30M → v1 REGION, v2 OFFICE (≤ 30M)
    deal("FR", "C2", 15_000_000, "2026-06-01"),
    # DE keeps its own 50M / 25% (A9 overrides v2): OFFICE in both
    deal("DE", "C3", 40_000_000, "2026-06-01", gross_margin_pct=26),
    # AR, a pilot office: v1 REGION, v2 OFFICE
    deal("AR", "C4", 25_000_000, "2026-06-01"),
    # CN-BJ, reached by `everyone`: margin 29% → v1 REGION, v2 OFFICE
    deal("CN-BJ", "C5", 25_000_000, "2026-06-01", point="ATB", gross_margin_pct=29),
]


def test_figures_match_hand_computation(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "deals.jsonl", ROWS)
    scenario = write_scenario(tmp_path, "deals.jsonl")
    code, _, _ = simulate(str(scenario), "--out", str(tmp_path / "out"))
    assert code == 0
    s = summary(tmp_path / "out")
    assert (s["rows"], s["bad_rows"], s["deals"]) == (10, 0, 10)
    baseline = {"OFFICE": 4, "REGION": 5, "null": 1}
    pilot, regions, everyone = s["phases"]
    assert [p["changed"] for p in s["phases"]] == [1, 3, 4]
    for phase in s["phases"]:
        assert phase["baseline"]["required_level"] == baseline
        assert phase["baseline"]["outcome"] == {"deny": 1, "route": 9}
    assert pilot["candidate"]["required_level"] == {"OFFICE": 5, "REGION": 4, "null": 1}
    assert regions["candidate"]["required_level"] == {"OFFICE": 7, "REGION": 2, "null": 1}
    assert everyone["candidate"]["required_level"] == {"OFFICE": 8, "REGION": 1, "null": 1}
    assert everyone["candidate"]["approver_unit"] == {
        "AR": 1, "CN-BJ": 1, "DE": 1, "FR": 5, "WEU": 1, "null": 1}
    assert regions["transitions"]["required_level"]["REGION"] == {"OFFICE": 3, "REGION": 2}
    # seven FR rows and DE (also in WEU)
    assert regions["segments"]["region"]["WEU"] == {"rows": 8, "changed": 2}
    assert everyone["segments"]["decision_point"]["ATB"] == {"rows": 1, "changed": 1}
    changed = (tmp_path / "out" / "changed.csv").read_text().splitlines()
    # rows are file lines: r2 is line 1, r6 line 7, AR line 9, CN-BJ line 10
    assert [line.split(",")[:2] for line in changed[1:]] == [
        ["1", "regions"], ["7", "regions"], ["9", "pilot"], ["10", "everyone"]]
    assert "A1.region" in changed[1] and "A1.office" in changed[1]


def test_summary_does_not_depend_on_the_order_partitions_finish_in(tmp_path: Path) -> None:
    # Workers hand their tallies back in whatever order they finish: the summary adds
    # them up unsorted, so every table it writes must be sorted on its own.
    from decision_service.simulation import make_plan, run_plan
    from decision_service.simulation.figures import summarize
    from decision_service.simulation.scenario import parse_scenario
    from decision_service.simulation.worker import PartitionResult

    write_jsonl(tmp_path / "deals.jsonl", ROWS)
    guards = ("  - {name: per-region, metric: count, output: required_level, "
              "at_least: REGION, per: region, max_rise_pct: 0}")
    path = write_scenario(tmp_path, "deals.jsonl", guards=guards)
    plan = make_plan(parse_scenario(path.read_text(), str(path), tmp_path))
    tally = run_plan(plan).result.tally
    assert len(tally) > 5
    texts = set()
    for order in (list(tally.items()), list(reversed(tally.items())),
                  sorted(tally.items(), key=lambda kv: repr(kv[0]))):
        result = PartitionResult(tally=dict(order))
        texts.add(json.dumps(summarize(plan, result, 0, len(ROWS))))
    assert len(texts) == 1
