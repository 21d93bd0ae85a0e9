"""One worker, two local workers and a Dask LocalCluster give the same summary.json."""

from __future__ import annotations

from pathlib import Path

import pytest
from simkit import simulate

SCENARIO = """\
scenario: workers
policy: authorization
baseline: {version: "1"}
candidate: {version: "2"}
corpus: {generate: {count: 6000, seed: 11, from: 2026-01-01, to: 2026-06-30}}
phases:
  - {name: pilot, units: [DE, AR, CR]}
  - {name: regions, units: [WEU, LAS]}
  - {name: everyone, units: all}
segments: [region, value_band, tier]
guards:
  - {name: red-lines-hold, metric: changed, where: {outcome: deny}, max: 0}
  - {name: regions-steady, metric: count, output: required_level, at_least: REGION,
     per: region, max_rise_pct: 0}
"""


@pytest.mark.subprocess
@pytest.mark.slow
def test_workers_and_dask_agree(tmp_path: Path) -> None:
    from distributed import LocalCluster

    scenario = tmp_path / "workers.yaml"
    scenario.write_text(SCENARIO)
    code, _, err = simulate(str(scenario), "--out", str(tmp_path / "one"))
    assert code == 0, err
    code, _, err = simulate(str(scenario), "--out", str(tmp_path / "two"), "--workers", "2")
    assert code == 0, err
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        code, _, err = simulate(str(scenario), "--out", str(tmp_path / "dask"),
                                "--dask", cluster.scheduler_address)
    assert code == 0, err
    one = (tmp_path / "one" / "summary.json").read_bytes()
    assert one == (tmp_path / "two" / "summary.json").read_bytes()
    assert one == (tmp_path / "dask" / "summary.json").read_bytes()
    changed = (tmp_path / "one" / "changed.csv").read_bytes()
    assert changed == (tmp_path / "two" / "changed.csv").read_bytes()
    assert changed == (tmp_path / "dask" / "changed.csv").read_bytes()
    assert b'"deals": 6000' in one
