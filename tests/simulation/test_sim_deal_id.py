"""A10 with `deal_id`: a deal decided again replaces its earlier decision and
never counts against itself (for policies that declare the input)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from simkit import deal, simulate, summary, write_jsonl

from decision_service.locations import default_policies_dir


@pytest.mark.slow  # a whole simulation
def test_a_deal_decided_again_replaces_itself(tmp_path: Path) -> None:
    mine = tmp_path / "policies"
    shutil.copytree(default_policies_dir(), mine)
    v1 = mine / "authorization" / "authorization.v1.yaml"
    if "\n  deal_id:" not in v1.read_text():  # the shipped policy declares it now
        v1.write_text(v1.read_text().replace(
            "  requester_id: {type: string, required: false}\n",
            "  requester_id: {type: string, required: false}\n"
            "  deal_id: {type: string, required: false}\n"))
    write_jsonl(tmp_path / "deals.jsonl", [
        deal("FR", "C1", 12_000_000, "2026-01-10", deal_id="D1"),
        # D1 again: not against itself → 14M OFFICE (26M, REGION, if it counted)
        deal("FR", "C1", 14_000_000, "2026-01-20", deal_id="D1"),
        # only D1's latest counts: 14M + 8M = 22M → v2 OFFICE (34M, REGION, if both did)
        deal("FR", "C1", 8_000_000, "2026-02-01", deal_id="D2"),
    ])
    (tmp_path / "s.yaml").write_text(
        "scenario: deal-id\npolicy: authorization\n"
        'baseline: {policies: policies, version: "1"}\n'
        'candidate: {policies: policies, version: "2"}\n'
        "corpus: {file: deals.jsonl}\nphases: [{name: all, units: all}]\n")
    code, _, err = simulate(str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out"))
    assert code == 0, err
    (phase,) = summary(tmp_path / "out")["phases"]
    assert phase["baseline"]["required_level"] == {"OFFICE": 2, "REGION": 1}
    assert phase["candidate"]["required_level"] == {"OFFICE": 3}
