"""Helpers for the simulation tests: write corpora and scenarios, run the command."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from decision_service.cli import app

CLEAN = {"customer_tier": "A", "gross_margin_pct": 40, "payment_term_days": 30,
         "advance_payment_pct": 30, "trade_compliance": "PASS"}


def deal(office: str, customer: str, value: float, on: str, point: str = "ATC",
         **extra: Any) -> dict[str, Any]:
    return {"decision_point": point, "office": office, "customer_id": customer,
            "contract_value_usd": value, "as_of": on, **CLEAN, **extra}


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    names = sorted({k for r in rows for k in r})
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for row in rows:
            writer.writerow(["|".join(row[n]) if isinstance(row.get(n), list) else
                             ("" if row.get(n) is None else row[n]) for n in names])
    return path


SCENARIO = """\
scenario: office-limit-test
title: {{zh: 测试, en: Test}}
policy: authorization
baseline: {{version: "{baseline}"}}
candidate: {{version: "{candidate}"}}
corpus: {{file: {corpus}}}
max_bad_rows: {max_bad}
phases:
  - {{name: pilot, units: [DE, AR, CR]}}
  - {{name: regions, units: [WEU, LAS]}}
  - {{name: everyone, units: all}}
segments: [region, decision_point, value_band]
guards:
{guards}
"""


def write_scenario(directory: Path, corpus: str, guards: str = "  []", baseline: str = "1",
                   candidate: str = "2", max_bad: int = 0, text: str | None = None) -> Path:
    path = directory / "scenario.yaml"
    body = text if text is not None else SCENARIO.format(
        baseline=baseline, candidate=candidate, corpus=corpus, guards=guards, max_bad=max_bad)
    if guards.strip() == "[]" and text is None:
        body = body.replace("guards:\n  []\n", "guards: []\n")
    path.write_text(body)
    return path


def simulate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["simulate", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def summary(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "summary.json").read_text()))
