"""Baseline and candidate decided together (``runs.decide_both``) keep one A10 window
per (customer, office) while they agree on which deals count, and one each once
they part: every row gets the outputs and totals it gets when the two runs are
decided apart, each with its own history."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

from simkit import deal

from decision_service.policy_files import read_policy_dir
from decision_service.policyset import PolicySet
from decision_service.simulation.runs import OutputNumbers, Run, decide_both, same_totals

POLICIES = Path(__file__).resolve().parents[2] / "policies"
OUTPUTS = ("outcome", "required_level", "approver_unit")


@cache
def _policies() -> PolicySet:
    return PolicySet.from_texts(read_policy_dir(POLICIES), ("compiled",))


def _rows() -> list[dict[str, Any]]:
    """ATC deals of three customers in one office, a few days apart, some sent again
    under the same deal id, so that windows fill, age and replace entries."""
    rows = []
    start = dt.date(2026, 1, 1)
    for i in range(240):
        customer = f"C{i % 3}"
        extra = {"deal_id": f"d{i // 4}"} if i % 5 == 0 else {}
        rows.append(deal("FR", customer, (1 + i % 7) * 1_000_000,
                         (start + dt.timedelta(days=i)).isoformat(), **extra))
    return rows


def _runs() -> tuple[Run, Run]:
    numbers = OutputNumbers()
    base = Run(_policies(), "authorization", "1", OUTPUTS, numbers)
    cand = Run(_policies(), "authorization", "2", OUTPUTS, numbers)
    real = cand.outputs_of

    def parting(values: dict[str, Any], totals: dict[str, float], lookups: Any
                ) -> tuple[int, dict[str, Any], Any]:
        # The candidate denies some deals the baseline routes: those count for A10 in
        # the baseline's history and not in the candidate's, so the groups part.
        number, final, fired = real(values, totals, lookups)
        if values["contract_value_usd"] in (3_000_000, 6_000_000):
            final = {**final, "outcome": "deny"}
            number = numbers.number(("deny", number))
        return number, final, fired

    cand.outputs_of = parting  # type: ignore[method-assign]
    return base, cand


def _decided(together: bool) -> list[tuple[Any, ...]]:
    base, cand = _runs()
    assert same_totals(base, cand)
    version = _policies().version("authorization", "1")
    check = _policies().input_check(version)
    out = []
    for raw in _rows():
        values = check(raw)
        on = values["as_of"]
        if together:
            b, _, b_totals, c, _, c_totals = decide_both(base, cand, values, on)
        else:
            b, _, b_totals = base.decide(base.fixed, values, on)  # type: ignore[arg-type]
            c, _, c_totals = cand.decide(cand.fixed, values, on)  # type: ignore[arg-type]
        out.append((b, dict(b_totals), c, dict(c_totals)))
    return out


def test_runs_decided_together_give_what_runs_decided_apart_give() -> None:
    apart, together = _decided(False), _decided(True)
    assert together == apart
    # the case is worth its name: the two histories did part, and totals were read
    assert any(b_totals != c_totals for _, b_totals, _, c_totals in apart)
    assert sum(1 for _, b_totals, _, _ in apart if b_totals["prior_atc_total_usd"]) > 100


def test_a_deal_sent_again_replaces_its_entry_in_a_shared_window() -> None:
    base, cand = _runs()
    version = _policies().version("authorization", "1")
    check = _policies().input_check(version)
    first = check(deal("FR", "C9", 5_000_000, "2026-03-01", deal_id="again"))
    second = check(deal("FR", "C9", 4_000_000, "2026-03-02", deal_id="again"))
    other = check(deal("FR", "C9", 1_000_000, "2026-03-03"))
    decide_both(base, cand, first, first["as_of"])
    _, _, b_totals, _, _, c_totals = decide_both(base, cand, second, second["as_of"])
    assert b_totals == c_totals == {"prior_atc_total_usd": 0.0}  # its own decision: not counted
    _, _, b_totals, _, _, c_totals = decide_both(base, cand, other, other["as_of"])
    assert b_totals == c_totals == {"prior_atc_total_usd": 4_000_000.0}
