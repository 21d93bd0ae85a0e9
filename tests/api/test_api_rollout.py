"""rollout.yaml in the live service, on both stores: activation for pilot units (A11),
shadows stored beside their decision and never answered, reload, replay, and
shadows that fail or hang leaving every answer intact."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from samples import deal, new_customer
from typer.testing import CliRunner

from decision_service.api.service import DecisionService
from decision_service.cli import app as cli_app
from decision_service.policyset import PolicySet
from decision_service.replay import replay

URL = "/v1/decisions/authorization"
PILOT = """\
activation:
  - {policy: authorization, version: "2", units: [DE, AR, CR]}
shadow:
  - {policy: authorization, candidate: {version: "2"}}
"""
# Between the office limits of version 1 (20M) and version 2 (30M).
MID = 25_000_000


def _service(client: TestClient) -> DecisionService:
    service: DecisionService = client.app.state.ctx.service  # type: ignore[attr-defined]
    return service


def _drained(client: TestClient) -> None:
    assert _service(client).shadows.drain(timeout=30)


@pytest.fixture
def piloted(make_client: Any, policies_copy: Path) -> TestClient:
    (policies_copy / "rollout.yaml").write_text(PILOT, encoding="utf-8")
    client: TestClient = make_client(policies_dir=policies_copy)
    return client


def _decide(client: TestClient, office: str, as_of: str, **changes: Any) -> dict[str, Any]:
    response = client.post(URL, json=deal(office=office, as_of=as_of,
                                          contract_value_usd=MID, **changes))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_pilot_office_gets_version_2_and_another_office_keeps_version_1(
        piloted: TestClient) -> None:
    ar = _decide(piloted, "AR", "2027-02-01")
    fr = _decide(piloted, "FR", "2027-02-01")
    assert (ar["policy_version"], ar["version_reason"], ar["required_level"]) == \
        ("2", "date+activation", "OFFICE")
    assert (fr["policy_version"], fr["version_reason"], fr["required_level"]) == \
        ("1", "date+activation_held", "REGION")
    logged = piloted.get(f"/v1/decisions/{fr['decision_id']}").json()
    assert (logged["policy_version"], logged["output"]["version_reason"]) == \
        ("1", "date+activation_held")


def test_before_the_effective_date_both_offices_get_version_1(piloted: TestClient) -> None:
    for office in ("AR", "FR"):
        body = _decide(piloted, office, "2026-12-31")
        assert (body["policy_version"], body["version_reason"]) == ("1", "date")


def test_the_shadow_is_stored_and_shown_but_never_answered(piloted: TestClient) -> None:
    body = _decide(piloted, "FR", "2027-02-01")
    assert "shadow" not in body
    _drained(piloted)
    shadow = piloted.get(f"/v1/decisions/{body['decision_id']}").json()["shadow"]
    assert shadow["candidate"] == {"version": "2"}
    assert shadow["policy_version"] == "2"
    assert shadow["outputs"]["required_level"] == "OFFICE"
    assert shadow["differs"] == ["approver_unit", "required_level"]
    metrics = piloted.get("/metrics").text
    assert 'decision_service_shadowed_decisions_total{outcome="route",' \
        'policy="authorization"} 1.0' in metrics
    assert 'decision_service_shadow_disagreements_total{output="required_level",' \
        'policy="authorization"} 1.0' in metrics


def test_a_decision_without_a_shadow_shows_null(make_client: Any) -> None:
    client: TestClient = make_client()
    body = client.post(URL, json=deal()).json()
    assert client.get(f"/v1/decisions/{body['decision_id']}").json()["shadow"] is None


def test_shadows_never_count_for_a10(piloted: TestClient) -> None:
    customer = new_customer()
    first = _decide(piloted, "FR", "2027-02-01", decision_point="ATC", customer_id=customer)
    _drained(piloted)
    second = _decide(piloted, "FR", "2027-02-02", decision_point="ATC", customer_id=customer)
    assert first["outcome"] == "route"
    assert second["history"] == {"prior_atc_total_usd": float(MID)}


def test_get_rollout_says_what_is_staged_and_shadowed(piloted: TestClient) -> None:
    body = piloted.get("/v1/rollout").json()
    assert body["activation"] == [{"policy": "authorization", "version": "2",
                                   "units": ["DE", "AR", "CR"]}]
    assert body["shadow"] == [{"policy": "authorization", "candidate": {"version": "2"}}]
    assert body["bundle_hash"] == piloted.get("/v1/policies").json()["bundle_hash"]


def test_a_shadow_that_raises_leaves_the_answer_intact(
        piloted: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any) -> dict[str, Any]:
        raise RuntimeError("candidate exploded")

    monkeypatch.setattr(PolicySet, "shadow", broken)
    body = _decide(piloted, "AR", "2027-02-01")
    assert (body["policy_version"], body["required_level"]) == ("2", "OFFICE")
    _drained(piloted)
    shadow = piloted.get(f"/v1/decisions/{body['decision_id']}").json()["shadow"]
    assert shadow == {"candidate": {"version": "2"},
                      "error": "RuntimeError: candidate exploded"}


def test_a_shadow_past_its_budget_is_recorded_as_a_timeout(piloted: TestClient) -> None:
    _service(piloted).shadows.budget = 0.0
    body = _decide(piloted, "AR", "2027-02-01")
    assert body["required_level"] == "OFFICE"
    _drained(piloted)
    shadow = piloted.get(f"/v1/decisions/{body['decision_id']}").json()["shadow"]
    assert shadow["error"].startswith("timeout")
    assert "outputs" not in shadow


def test_a_hanging_shadow_delays_no_answer(
        piloted: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    started = threading.Event()
    real = PolicySet.shadow

    def hanging(self: PolicySet, *args: Any) -> dict[str, Any]:
        started.set()
        release.wait()
        return real(self, *args)

    monkeypatch.setattr(PolicySet, "shadow", hanging)
    answers = [_decide(piloted, "AR", "2027-02-01") for _ in range(5)]
    assert started.wait(timeout=30)
    # Every answer came back while the first shadow is still stuck.
    assert [a["required_level"] for a in answers] == ["OFFICE"] * 5
    release.set()
    _drained(piloted)
    shown = [piloted.get(f"/v1/decisions/{a['decision_id']}").json()["shadow"] for a in answers]
    assert all(s["policy_version"] == "2" for s in shown)


def test_replay_reproduces_decisions_made_under_an_activation(piloted: TestClient) -> None:
    made = [_decide(piloted, office, as_of)
            for office in ("AR", "FR", "DE") for as_of in ("2026-12-31", "2027-02-01")]
    _drained(piloted)
    ctx = piloted.app.state.ctx  # type: ignore[attr-defined]
    with ctx.registry.lease() as policies:
        results = list(replay(policies, ctx.store.iter_records(), shadows=ctx.store))
    assert len(results) == len(made)
    assert all(r.ok for r in results), [r.as_dict() for r in results if not r.ok]
    versions = sorted(r.policy_version for r in results)
    assert versions == ["1", "1", "1", "1", "2", "2"]
    assert all(r.shadow is not None and r.shadow.ok for r in results)


def test_reload_changing_the_activation_changes_answers_only_after_the_swap(
        piloted: TestClient, policies_copy: Path) -> None:
    stop = threading.Event()
    seen: list[dict[str, Any]] = []

    def hammer() -> None:
        while not stop.is_set():
            seen.append(_decide(piloted, "FR", "2027-02-01"))

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for worker in workers:
        worker.start()
    before = piloted.get("/v1/policies").json()["bundle_hash"]
    (policies_copy / "rollout.yaml").write_text(PILOT.replace("[DE, AR, CR]", "[DE, AR, CR, WEU]"),
                                                encoding="utf-8")
    reloaded = piloted.post("/v1/admin/reload").json()
    after_swap = [_decide(piloted, "FR", "2027-02-01") for _ in range(3)]
    stop.set()
    for worker in workers:
        worker.join()
    assert reloaded["previous_bundle_hash"] == before != reloaded["bundle_hash"]
    assert all(a["policy_version"] == "2" for a in after_swap)
    expected = {before: "1", reloaded["bundle_hash"]: "2"}
    for answer in seen + after_swap:
        logged = piloted.get(f"/v1/decisions/{answer['decision_id']}").json()
        assert answer["policy_version"] == expected[logged["bundle_hash"]]
        assert logged["policy_version"] == answer["policy_version"]


def test_the_replay_command_reports_shadows_apart(piloted: TestClient,
                                                  policies_copy: Path) -> None:
    for office in ("AR", "FR"):
        _decide(piloted, office, "2027-02-01")
    _drained(piloted)
    ctx = piloted.app.state.ctx  # type: ignore[attr-defined]
    url = ctx.settings.db_url
    result = CliRunner().invoke(cli_app, ["replay", "--db", url, "--policies",
                                          str(policies_copy), "--format", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["replayed"], body["failed"]) == (2, 0)
    assert body["shadows"] == {"replayed": 2, "reproduced": 2, "recorded_errors": 0}
