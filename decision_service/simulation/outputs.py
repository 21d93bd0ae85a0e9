"""Writing a run's files: changed.csv, bad_rows.csv, report.html, summary.json.

summary.json is what CI and scripts read as "the run finished", so it is
written last and atomically (a temporary file renamed over it), and an
earlier run's summary is removed before a run starts: an interrupted run
leaves none behind, never a half-written or stale one.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from decision_service.simulation.figures import value_key
from decision_service.simulation.runner import Outcome

SUMMARY = "summary.json"


def clear_summary(out_dir: Path) -> None:
    """Before a run: no summary from an earlier run may pass for this one's."""
    (out_dir / SUMMARY).unlink(missing_ok=True)


def write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a report is for readers
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def summary_bytes(summary: dict[str, Any]) -> bytes:
    return orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_changed(path: Path, outcome: Outcome) -> None:
    plan = outcome.plan
    # a shadow log's rows are decisions: their ids say which, beside the row number
    logged = plan.scenario.corpus.shadow
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", *(["decision_id"] if logged else []), "first_phase", "unit",
                         *[f"{o}_before" for o in plan.outputs],
                         *[f"{o}_after" for o in plan.outputs],
                         "rules_before", "rules_after"])
        for row in outcome.result.changed:
            writer.writerow([row.line, *([row.decision_id] if logged else []),
                             plan.phase_names[row.first_phase], row.unit or "",
                             *[value_key(v) for v in row.baseline],
                             *[value_key(v) for v in row.candidate],
                             " ".join(row.baseline_rules), " ".join(row.candidate_rules)])


def write_bad_rows(path: Path, outcome: Outcome) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "problem"])
        writer.writerows(outcome.bad)


def write_outputs(out_dir: Path, outcome: Outcome) -> None:
    """Every file of a finished run; summary.json last, and only if the run counts."""
    from decision_service.simulation.report import render_report

    out_dir.mkdir(parents=True, exist_ok=True)
    write_bad_rows(out_dir / "bad_rows.csv", outcome)
    if outcome.too_many_bad_rows:
        return  # bad_rows.csv says why; nothing may look like a complete report
    write_changed(out_dir / "changed.csv", outcome)
    write_atomically(out_dir / "report.html", render_report(outcome).encode("utf-8"))
    write_atomically(out_dir / SUMMARY, summary_bytes(outcome.summary))
