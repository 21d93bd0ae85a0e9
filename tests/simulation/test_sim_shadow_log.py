"""A shadow week as the corpus, on both stores: decisions shadowed by the real app, then
simulated from the log as recorded (nothing decided again)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from databases import STORE_KINDS, fresh_store_url
from fastapi.testclient import TestClient
from simkit import SCENARIO, deal, simulate, summary, write_jsonl, write_scenario

from decision_service.api import ServiceSettings, create_app
from decision_service.policyset import PolicySet

POLICIES = Path(__file__).resolve().parents[2] / "policies"
SHADOW = 'shadow:\n  - {policy: authorization, candidate: {version: "2"}}\n'
# Between the office limits of version 1 (20M) and version 2 (30M): the shadow disagrees.
MID = 25_000_000
PILOT = ("AR", "DE", "CR")
DEALS = [("AR", MID), ("AR", 1_000_000), ("DE", MID), ("FR", MID), ("FR", 2_000_000),
         ("MX", MID), ("CN-BJ", 5_000_000)]
FAILED_ON = "2026-06-30"  # the day of the decision whose shadow fails


@dataclass
class ShadowWeek:
    url: str
    inputs: list[dict[str, Any]]  # of the decisions whose shadow answered
    answers: list[dict[str, Any]]  # their logged outputs
    shadows: list[dict[str, Any]]  # their shadows


def _decide(client: TestClient, row: dict[str, Any]) -> str:
    response = client.post("/v1/decisions/authorization", json=row)
    assert response.status_code == 200, response.text
    return str(response.json()["decision_id"])


def _drain(client: TestClient) -> None:
    service = client.app.state.ctx.service  # type: ignore[attr-defined]
    assert service.shadows.drain(timeout=30)


@pytest.fixture(scope="module", params=STORE_KINDS)
def week(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShadowWeek]:
    """Seven decisions shadowed by version 2 through the app, then one whose shadow raises
    (once per store for the module: starting the app loads every policy)."""
    tmp_path = tmp_path_factory.mktemp("week")
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "rollout.yaml").write_text(SHADOW, encoding="utf-8")
    with fresh_store_url(request.param, tmp_path) as url, TestClient(create_app(
            ServiceSettings(policies_dir=policies, db_url=url))) as client, \
            pytest.MonkeyPatch.context() as monkeypatch:
        rows = [deal(office, f"C-{uuid.uuid4().hex[:10]}", value, "2026-07-01")
                for office, value in DEALS]
        ids = [_decide(client, row) for row in rows]
        _drain(client)

        def broken(*_args: Any) -> dict[str, Any]:
            raise RuntimeError("candidate exploded")

        monkeypatch.setattr(PolicySet, "shadow", broken)
        _decide(client, deal("FR", "C-broken", MID, FAILED_ON))
        _drain(client)
        logged = [client.get(f"/v1/decisions/{i}").json() for i in ids]
        yield ShadowWeek(url, rows, [d["output"] for d in logged], [d["shadow"] for d in logged])


def _scenario(tmp_path: Path, corpus: str) -> Path:
    text = SCENARIO.format(baseline="1", candidate="2", corpus="CORPUS", guards="  []",
                           max_bad=1).replace("guards:\n  []\n", "guards: []\n")
    text = text.replace("{file: CORPUS}", corpus)
    return write_scenario(tmp_path, "", text=text)


def _levels(outputs: list[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(o["required_level"] for o in outputs).items()))


def test_a_shadow_log_gives_the_recorded_answers_figures(week: ShadowWeek,
                                                         tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, f'{{log: {{url: "{week.url}", shadow: true}}}}')
    code, _, err = simulate(str(scenario), "--out", str(tmp_path / "out"))
    assert code == 0, err
    got = summary(tmp_path / "out")
    # by hand, from the answers and shadows as the log keeps them
    disagree = [not s["agrees"] for s in week.shadows]
    pilot = [d and row["office"] in PILOT for d, row in zip(disagree, week.inputs, strict=True)]
    assert (got["rows"], got["deals"], got["bad_rows"]) == (8, 7, 1)
    assert got["shadow"] == {"candidates": [{"version": "2"}], "failed": 1}
    first, last = got["phases"][0], got["phases"][-1]
    assert (first["changed"], last["changed"]) == (sum(pilot), sum(disagree)) == (1, 3)
    assert first["baseline"]["required_level"] == _levels(week.answers)
    assert last["candidate"]["required_level"] == _levels([s["outputs"] for s in week.shadows])
    bad = (tmp_path / "out" / "bad_rows.csv").read_text()
    assert "the shadow failed" in bad and "RuntimeError: candidate exploded" in bad
    changed = (tmp_path / "out" / "changed.csv").read_text().splitlines()
    assert changed[0].startswith("row,decision_id,first_phase") and len(changed) == 1 + 3
    assert "the shadow records rule ids only" in (tmp_path / "out" / "report.html").read_text()


def test_a_shadow_week_matches_the_dry_run_made_before_it(week: ShadowWeek,
                                                          tmp_path: Path) -> None:
    write_jsonl(tmp_path / "deals.jsonl", week.inputs)
    code, _, err = simulate(str(_scenario(tmp_path, "{file: deals.jsonl}")),
                            "--out", str(tmp_path / "dry"))
    assert code == 0, err
    code, _, err = simulate(str(_scenario(tmp_path, f'{{log: {{url: "{week.url}", '
                                                    "shadow: true}}")),
                            "--out", str(tmp_path / "shadow"))
    assert code == 0, err
    assert summary(tmp_path / "shadow")["phases"] == summary(tmp_path / "dry")["phases"]


def test_the_quick_form_reads_a_shadow_log_between_dates(week: ShadowWeek) -> None:
    code, out, err = simulate("--policy", "authorization", "--shadow-log", week.url,
                              "--from", "2026-07-01", "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    assert (got["rows"], got["bad_rows"]) == (7, 0)  # the failed shadow's day is left out
    assert [p["name"] for p in got["phases"]] == ["everyone"]
    assert got["phases"][0]["changed"] == sum(not s["agrees"] for s in week.shadows)


def test_a_failed_shadow_past_max_bad_rows_stops_the_quick_form(week: ShadowWeek) -> None:
    code, _, err = simulate("--policy", "authorization", "--shadow-log", week.url)
    assert code == 2 and "the shadow failed" in err


def test_shadow_must_be_true_or_false_at_its_line(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, '{log: {url: "sqlite:///x.db", shadow: sometimes}}')
    code, _, err = simulate(str(scenario))
    assert code == 2 and "scenario.yaml:6:" in err and "shadow" in err


def test_from_without_a_shadow_log_is_a_usage_error() -> None:
    code, _, err = simulate("--policy", "authorization", "--from", "2026-01-01")
    assert code == 2 and "--from and --to go with --shadow-log" in err


def test_a_bad_from_date_names_the_option(tmp_path: Path) -> None:
    code, _, err = simulate("--policy", "authorization", "--shadow-log",
                            f"sqlite:///{tmp_path / 'x.db'}", "--from", "July")
    assert code == 2 and "--from:1:1" in err


def test_a_shadow_of_another_version_than_the_candidate_is_a_bad_row(week: ShadowWeek,
                                                                     tmp_path: Path) -> None:
    text = _scenario(tmp_path, f'{{log: {{url: "{week.url}", shadow: true}}}}').read_text()
    scenario = write_scenario(tmp_path, "", text=text.replace(
        'candidate: {version: "2"}', 'candidate: {version: "1"}'))
    code, _, err = simulate(str(scenario))
    assert code == 2 and "scenario.yaml:6:" in err
    assert "the shadow ran version 2, the scenario's candidate is version 1" in err
