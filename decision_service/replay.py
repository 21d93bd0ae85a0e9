"""Replaying the decision log: does every logged decision still reproduce?

Each record is decided again with the policy version that made it, on its own
decision date and with the A10 history total it saw, and compared field by
field (outputs and reasons). A version no longer in the policy set, or any
difference, is reported; `decision-service replay` exits 1 when there is one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from decision_service.decision import Decision
from decision_service.errors import EvaluationError, InputError, UnknownPolicyError
from decision_service.policyset import PolicySet
from decision_service.store import DecisionRecord


@dataclass(frozen=True, slots=True)
class ReplayResult:
    decision_id: str
    policy: str
    policy_version: str
    ok: bool
    differences: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "policy": self.policy,
            "policy_version": self.policy_version,
            "ok": self.ok,
            "differences": list(self.differences),
        }


def redecide(policies: PolicySet, record: DecisionRecord,
             engine: str | None = None) -> Decision:
    """The record's decision made again by the same policy version."""
    history = record.output.get("history") or {}
    prepared = policies.prepare(record.policy, record.input, today=record.decision_date,
                                version=record.policy_version)
    decision = policies.evaluate(prepared, history, engine or record.engine)
    if history:
        # `evaluate` reports history only when a lookup was due; keep the record's.
        decision = dataclasses.replace(decision, history=dict(history))
    return decision


def compare(record: DecisionRecord, decision: Decision) -> list[str]:
    differences = []
    for name, value in decision.outputs.items():
        logged = record.output.get(name, "<absent>")
        if logged != value:
            differences.append(f"{name}: logged {logged!r}, now {value!r}")
    now = [r.as_dict() for r in decision.reasons]
    if [dict(r) for r in record.reasons] != now:
        differences.append(f"reasons: logged {[r.get('rule') for r in record.reasons]}, "
                           f"now {[r['rule'] for r in now]}")
    return differences


def replay(policies: PolicySet, records: Iterable[DecisionRecord],
           engine: str | None = None) -> Iterator[ReplayResult]:
    for record in records:
        try:
            decision = redecide(policies, record, engine)
            differences = compare(record, decision)
        except UnknownPolicyError:
            differences = [f"policy {record.policy} version {record.policy_version} is not in "
                           "the loaded policy set"]
        except (InputError, EvaluationError, ValueError) as exc:
            differences = [f"cannot decide the logged input again: {exc}"]
        yield ReplayResult(record.decision_id, record.policy, record.policy_version,
                           not differences, tuple(differences))


def parse_since(value: str | None) -> dt.datetime | None:
    """`--since 2026-11-01` or a full ISO timestamp; naive means UTC."""
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
