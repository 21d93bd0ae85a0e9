"""Each guard holding and failing, with the exit codes 0 and 3; bad scenarios exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from simkit import simulate, summary, write_jsonl, write_scenario
from test_sim_figures import ROWS


def _run(tmp_path: Path, guard: str, baseline: str = "1", candidate: str = "2"
         ) -> tuple[int, dict[str, object]]:
    write_jsonl(tmp_path / "deals.jsonl", ROWS)
    scenario = write_scenario(tmp_path, "deals.jsonl", guards=f"  - {guard}",
                              baseline=baseline, candidate=candidate)
    code, _, _ = simulate(str(scenario), "--out", str(tmp_path / "out"))
    return code, summary(tmp_path / "out")


@pytest.mark.parametrize(("guard", "code", "values"), [
    ("{name: g, metric: changed, max: 4}", 0, [1, 3, 4]),
    ("{name: g, metric: changed, max: 2}", 3, [1, 3, 4]),
    ("{name: g, metric: changed, max_pct: 10}", 3, [10, 30, 40]),
    ("{name: g, metric: changed, where: {outcome: deny}, max: 0}", 0, [0, 0, 0]),
    ("{name: g, metric: changed, where: {office: FR}, max: 1}", 3, [0, 2, 2]),
    ("{name: g, metric: changed, where: {candidate.required_level: OFFICE}, max: 4}", 0,
     [1, 3, 4]),
])
def test_changed_guard(tmp_path: Path, guard: str, code: int, values: list[float]) -> None:
    exit_code, s = _run(tmp_path, guard)
    assert exit_code == code
    assert [p["guards"][0]["value"] for p in s["phases"]] == values  # type: ignore[index]
    assert s["guards_hold"] is (code == 0)


@pytest.mark.parametrize(("limit", "code"), [(40, 0), (39.9, 3)])
def test_share_guard(tmp_path: Path, limit: float, code: int) -> None:
    # v2 → v1: REGION and above rise from 1 of 10 rows to 5 of 10: +40 points
    exit_code, s = _run(tmp_path, f"{{name: g, metric: share, output: required_level, "
                                  f"at_least: REGION, max_rise_points: {limit}}}", "2", "1")
    assert exit_code == code
    assert s["phases"][-1]["guards"][0]["value"] == 40.0  # type: ignore[index]


@pytest.mark.parametrize(("limit", "code"), [(200, 0), (199, 3)])
def test_per_region_guard(tmp_path: Path, limit: float, code: int) -> None:
    # v2 → v1: WEU's REGION approvals go from 1 (r3) to 3 (r2, r3, r6): +200%
    exit_code, s = _run(tmp_path, f"{{name: g, metric: count, output: required_level, "
                                  f"at_least: REGION, per: region, max_rise_pct: {limit}}}",
                        "2", "1")
    assert exit_code == code
    guard = s["phases"][1]["guards"][0]  # type: ignore[index]
    assert (guard["unit"], guard["value"]) == ("WEU", 200.0)


BAD = [
    ("policy: authorization", "policy: nonesuch", "unknown_policy"),
    ('candidate: {version: "2"}', 'candidate: {version: "9"}', "unknown_version"),
    ("units: [DE, AR, CR]", "units: [DE, XX, CR]", "unknown_unit"),
    ("units: [DE, AR, CR]", "units: [DE, AR, DE]", "duplicate_unit"),
    ("units: [DE, AR, CR]", "units: []", "empty_phase"),
    ("segments: [region, decision_point, value_band]", "segments: [region, colour]",
     "unknown_segment"),
    ("guards: []", "guards:\n  - {name: g, metric: share, output: level, at_least: BG, "
     "max_rise_points: 1}", "unknown_output"),
    ("corpus: {file: deals.jsonl}", "corpus: {file: missing.jsonl}", "missing_corpus"),
    ("phases:", "phase:", "unknown_field"),
]


@pytest.mark.parametrize(("old", "new", "code"), BAD, ids=[b[2] for b in BAD])
def test_bad_scenario_exits_2_at_its_line(tmp_path: Path, old: str, new: str, code: str) -> None:
    write_jsonl(tmp_path / "deals.jsonl", ROWS)
    text = write_scenario(tmp_path, "deals.jsonl").read_text()
    assert old in text
    text = text.replace(old, new)
    scenario = write_scenario(tmp_path, "deals.jsonl", text=text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if new.splitlines()[-1] in t)
    exit_code, _, err = simulate(str(scenario), "--out", str(tmp_path / "out"))
    assert exit_code == 2
    assert f"scenario.yaml:{line}:" in err and code in err
    assert not (tmp_path / "out" / "summary.json").exists()
