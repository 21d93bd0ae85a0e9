"""A decision log as the corpus: SQLite and PostgreSQL, for real."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import fresh_pg_url
from simkit import simulate, summary, write_jsonl, write_scenario
from test_sim_figures import ROWS

from decision_service.policy_files import load_policy_dir
from decision_service.store import DraftRecord, open_store


def _fill(url: str) -> None:
    """Log ROWS as the service would have (decided by v1, A10 totals irrelevant here:
    the simulator recomputes them from the corpus)."""
    policies = load_policy_dir("policies", ("compiled",))
    with open_store(url) as store:
        for row in ROWS:
            decision = policies.decide("authorization", row, version="1")
            record = DraftRecord(
                decision_id=uuid.uuid4().hex, policy="authorization",
                policy_version="1", bundle_hash=policies.bundle_hash, engine="compiled",
                decided_at=dt.datetime(2026, 7, 1, tzinfo=dt.UTC),
                decision_date=decision.decision_date, request_id=None,
                input={k: v for k, v in decision.input.items() if v is not None},
                output=decision.outputs, reasons=[r.as_dict() for r in decision.reasons])
            store.log_decision(None, lambda _prior, r=record: r)
    policies.close()


def _compare_with_file(tmp_path: Path, url: str) -> None:
    _fill(url)
    write_jsonl(tmp_path / "deals.jsonl", ROWS)
    scenario = write_scenario(tmp_path, "deals.jsonl")
    code, _, err = simulate(str(scenario), "--out", str(tmp_path / "file"))
    assert code == 0, err
    text = scenario.read_text().replace("corpus: {file: deals.jsonl}",
                                        f'corpus: {{log: {{url: "{url}", from: 2026-01-01}}}}')
    code, _, err = simulate(str(write_scenario(tmp_path, "", text=text)),
                            "--out", str(tmp_path / "log"))
    assert code == 0, err
    from_file, from_log = summary(tmp_path / "file"), summary(tmp_path / "log")
    # the log orders rows by when they were logged, the file by line: same figures
    assert from_log["phases"] == from_file["phases"]
    assert from_log["deals"] == 10


@pytest.mark.slow  # fills a log through the app, then simulates
def test_sqlite_log_corpus(tmp_path: Path) -> None:
    _compare_with_file(tmp_path, f"sqlite:///{tmp_path / 'decisions.db'}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_url() as url:
        yield url


@pytest.mark.pg
def test_postgres_log_corpus(tmp_path: Path, pg_url: str) -> None:
    _compare_with_file(tmp_path, pg_url)


def test_unreachable_log_is_a_bad_corpus(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "deals.jsonl", ROWS)
    text = write_scenario(tmp_path, "deals.jsonl").read_text().replace(
        "corpus: {file: deals.jsonl}", 'corpus: {log: {url: "nosuch://x"}}')
    code, _, err = simulate(str(write_scenario(tmp_path, "", text=text)))
    assert code == 2 and "scenario.yaml:6:" in err
