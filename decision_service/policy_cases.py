"""Policy tests written as data: run every case of every policy on every engine.

A case passes when each expected output matches, the expected rules fired (if
given), or the expected fields were rejected (``expect_error``). Every case is
also a differential test: all engines must return the very same outputs and
reasons, whatever the case expects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from decision_service.errors import EvaluationError, InputError
from decision_service.language.model import PolicyCase
from decision_service.policyset import PolicySet


@dataclass(frozen=True, slots=True)
class CaseResult:
    file: str
    policy: str
    case: PolicyCase
    engine: str
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.case.position.line,
            "policy": self.policy,
            "case": self.case.name,
            "engine": self.engine,
            "ok": self.ok,
            "failures": list(self.failures),
        }


def _run_one(policies: PolicySet, policy: str, case: PolicyCase,
             engine: str) -> tuple[dict[str, Any] | None, list[str]]:
    today = case.today or dt.date(2026, 11, 23)
    history = {}
    try:
        prepared = policies.prepare(policy, case.input, today=today)
        if prepared.history_query is not None:
            history[prepared.history_query.name] = case.prior_total
        decision = policies.evaluate(prepared, history, engine)
    except InputError as exc:
        fields = sorted({p.field for p in exc.problems})
        if case.expect_error is None:
            return None, [f"input rejected: {exc}"]
        missing = [f for f in case.expect_error if f not in fields]
        if missing:
            return None, [f"expected errors on {missing}, got errors on {fields}: {exc}"]
        return {"errors": fields}, []
    except EvaluationError as exc:
        return None, [f"evaluation error: {exc}"]
    body = decision.as_dict()
    failures = []
    if case.expect_error is not None:
        failures.append(f"expected errors on {case.expect_error}, but the input was accepted")
    for key, expected in case.expect.items():
        actual = body.get(key, "<absent>")
        if actual != expected:
            failures.append(f"{key}: expected {expected!r}, got {actual!r}")
    fired = [r["rule"] for r in body["reasons"]]
    if case.rules is not None and fired != case.rules:
        failures.append(f"rules: expected {case.rules}, got {fired}")
    comparable = {k: v for k, v in body.items() if k != "engine"}
    return comparable, failures


def run_cases(policies: PolicySet, engines: tuple[str, ...] | None = None,
              policy: str | None = None) -> list[CaseResult]:
    engines = engines or policies.engine_names
    results: list[CaseResult] = []
    for policy_id in sorted(policies.cases):
        if policy is not None and policy_id != policy:
            continue
        for file, case in policies.cases[policy_id]:
            reference: dict[str, Any] | None = None
            for index, engine in enumerate(engines):
                body, failures = _run_one(policies, policy_id, case, engine)
                if index == 0:
                    reference = body
                elif body != reference:
                    failures.append(f"engine {engine} disagrees with {engines[0]}: "
                                    f"{body} != {reference}")
                results.append(CaseResult(file, policy_id, case, engine, tuple(failures)))
    return results
