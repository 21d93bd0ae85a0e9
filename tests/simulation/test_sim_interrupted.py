"""An interrupted run leaves no summary.json: not half-written, not an earlier one."""

from __future__ import annotations

from pathlib import Path

import pytest
from simkit import write_jsonl, write_scenario
from test_sim_figures import ROWS

from decision_service.simulation import runner
from decision_service.simulation.command import QuickForm, simulate_command


def test_ctrl_c_leaves_no_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_jsonl(tmp_path / "deals.jsonl", ROWS)
    scenario = write_scenario(tmp_path, "deals.jsonl")
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"stale": true}')

    def interrupted(*_: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "decide_partition_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        simulate_command(scenario, out, 1, None, QuickForm(), "text")
    assert not (out / "summary.json").exists()
    assert not list(out.glob(".summary.json.*"))


def test_summary_is_replaced_whole(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "deals.jsonl", ROWS)
    scenario = write_scenario(tmp_path, "deals.jsonl")
    out = tmp_path / "out"
    assert simulate_command(scenario, out, 1, None, QuickForm(), "json") == 0
    first = (out / "summary.json").read_bytes()
    assert simulate_command(scenario, out, 1, None, QuickForm(), "json") == 0
    assert (out / "summary.json").read_bytes() == first
    assert sorted(p.name for p in out.iterdir()) == [
        "bad_rows.csv", "changed.csv", "report.html", "summary.json"]
