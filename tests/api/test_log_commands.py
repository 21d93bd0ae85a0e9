"""``decision-service replay`` and ``verify-log`` on a log the API wrote: a log
that reproduces and verifies exits 0; a logged figure that the bundle which decided
does not give again (replay), or a record altered behind the log's back
(verify-log), is found, named, and exits 1."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from samples import POLICIES, deal
from typer.testing import CliRunner, Result

from decision_service.api import ServiceSettings, create_app
from decision_service.cli import app


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    """A SQLite log holding two authorization decisions made through the API; the URL
    and the decision ids (the second above the shipped office limit). Not to be changed:
    a test that tampers with it works on a copy."""
    url = f"sqlite:///{tmp_path_factory.mktemp('log') / 'decisions.db'}"
    settings = ServiceSettings(policies_dir=POLICIES, db_url=url)
    with TestClient(create_app(settings)) as client:
        answers = [client.post("/v1/decisions/authorization", json=raw)
                   for raw in (deal(), deal(contract_value_usd=30_000_000))]
    assert [a.status_code for a in answers] == [200, 200]
    return url, [a.json()["decision_id"] for a in answers]


@pytest.mark.slow  # the CLI loads the policies; the fast lane keeps the failing cases
def test_a_log_that_reproduces_replays_and_verifies_with_exit_0(
        log: tuple[str, list[str]]) -> None:
    url, _ = log
    replayed = cli("replay", "--db", url, "--policies", str(POLICIES))
    assert (replayed.exit_code, replayed.stdout.strip()) == (0, "2/2 logged decisions reproduce")
    verified = cli("verify-log", "--db", url)
    assert verified.exit_code == 0, verified.output
    assert verified.stdout.startswith("2 records, 0 problem(s)")


def _tampered_copy(log: tuple[str, list[str]], directory: Path, sql: str) -> str:
    """A copy of the shared log with ``sql`` run on its second decision; the copy's URL."""
    shared, ids = log
    copy = directory / "decisions.db"
    shutil.copyfile(shared.removeprefix("sqlite:///"), copy)
    with closing(sqlite3.connect(copy)) as conn, conn:
        assert conn.execute(sql, (ids[1],)).rowcount == 1
    return f"sqlite:///{copy}"


def test_replay_finds_a_logged_figure_that_does_not_reproduce_and_exits_1(
        log: tuple[str, list[str]], tmp_path: Path) -> None:
    _, ids = log
    url = _tampered_copy(log, tmp_path, "UPDATE decisions SET output = json_set(output, "
                         "'$.required_level', 'SYSTEM_DEPT') WHERE decision_id = ?")
    result = cli("replay", "--db", url, "--policies", str(POLICIES), "--format", "json")
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert (body["ok"], body["replayed"], body["failed"]) == (False, 2, 1)
    [failure] = body["failures"]
    assert failure["decision_id"] == ids[1]
    assert any(d.startswith("required_level: logged 'SYSTEM_DEPT', now ")
               for d in failure["differences"]), failure


def test_verify_log_finds_a_record_changed_behind_its_back_and_exits_1(
        log: tuple[str, list[str]], tmp_path: Path) -> None:
    _, ids = log
    url = _tampered_copy(log, tmp_path, "UPDATE decisions SET output = json_set(output, "
                         "'$.required_level', 'SYSTEM_DEPT') WHERE decision_id = ?")
    result = cli("verify-log", "--db", url, "--format", "json")
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert body["ok"] is False
    assert [(p["decision_id"], p["kind"]) for p in body["problems"]] == [(ids[1], "hash_mismatch")]
