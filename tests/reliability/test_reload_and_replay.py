"""Attack 5: a reload that silently dropped a whole policy, and a figure edited without
a new version, after which replay could never pass again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from relkit import KEYS, URL, atc, bearer, client, deal, new_customer
from typer.testing import CliRunner

from decision_service.cli import app as cli

PROJECT = {"office": "CN-BJ", "contract_value_usd": 500_000, "strategic_customer": False,
           "countries": 1, "regions": 1, "new_product": False, "risk_level": "LOW",
           "gross_margin_pct": 30}


@pytest.mark.slow  # several reloads
def test_reload_refuses_to_drop_a_policy_unless_asked(tmp_path: Path,
                                                      policies_copy: Path) -> None:
    with client(f"sqlite:///{tmp_path / 'decisions.db'}", policies_copy, api_keys=KEYS) as app:
        for path in (policies_copy / "grading").iterdir():
            path.unlink()
        refused = app.post("/v1/admin/reload", headers=bearer("admin"))
        assert refused.status_code == 422, refused.text
        assert [e["code"] for e in refused.json()["errors"]] == ["policy_removed"]
        assert "project-grading" in refused.json()["errors"][0]["message"]
        grading = app.post("/v1/decisions/project-grading", json=PROJECT,
                           headers=bearer("decide-only"))
        assert grading.status_code == 200, grading.text
        allowed = app.post("/v1/admin/reload?allow_removal=true", headers=bearer("admin"))
        assert allowed.status_code == 200, allowed.text
        assert "project-grading" not in allowed.json()["policies"]


@pytest.mark.slow  # reloads, then replays through the CLI
def test_replay_uses_the_bundle_that_decided_after_a_figure_is_edited_in_place(
        tmp_path: Path, policies_copy: Path) -> None:
    db = f"sqlite:///{tmp_path / 'decisions.db'}"
    v1 = policies_copy / "authorization" / "authorization.v1.yaml"
    with client(db, policies_copy) as app:
        first = app.post(URL, json=atc(new_customer(), 15_000_000)).json()
        assert first["required_level"] == "OFFICE"
        v1.write_text(v1.read_text().replace("default: 20000000", "default: 10000000"))
        assert app.post("/v1/admin/reload").status_code == 200
        assert app.post(URL, json=atc(new_customer(), 15_000_000)).json()[
            "required_level"] == "REGION"
    result = CliRunner().invoke(cli, ["replay", "--db", db, "--policies", str(policies_copy)])
    assert result.exit_code == 0, result.output
    assert "2/2 logged decisions reproduce" in result.output


def _logged_sqlite(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "decisions.db"
    with client(f"sqlite:///{path}") as app:
        for _ in range(3):
            assert app.post(URL, json=deal()).status_code == 200
    return f"sqlite:///{path}", path


def test_verify_log_and_replay_report_a_missing_table_cleanly_with_exit_2(
        tmp_path: Path) -> None:
    db, path = _logged_sqlite(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE decisions RENAME TO decisions_gone")
    for command in (["verify-log", "--db", db], ["replay", "--db", db]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2, (command, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output


def test_replay_reports_an_unreadable_row_cleanly_with_exit_2(tmp_path: Path) -> None:
    db, path = _logged_sqlite(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE decisions SET input = '{not json' WHERE seq = 2")
    replayed = CliRunner().invoke(cli, ["replay", "--db", db])
    assert replayed.exit_code == 2, replayed.output
    assert isinstance(replayed.exception, SystemExit)
    verified = CliRunner().invoke(cli, ["verify-log", "--db", db])
    assert verified.exit_code == 1, verified.output
    assert "unreadable at record 2" in verified.output
