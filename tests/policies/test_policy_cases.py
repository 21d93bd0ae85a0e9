"""Every case of every shipped policy (``policies/**/*.cases.yaml``) on every
engine, each its own pytest item, and all engines giving identical answers.

The cases are read at collection time only to name the items; the shipped set
is loaded and run once per module through ``policy_cases.run_cases``, the same
runner as ``decision-service test``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from decision_service.engines import ENGINES
from decision_service.engines.reference import Evaluation
from decision_service.errors import EvaluationError, InputError
from decision_service.language.model import PolicyCase
from decision_service.language.parse import load_cases
from decision_service.policy_cases import CaseResult, run_cases
from decision_service.policy_files import read_policy_dir
from decision_service.policyset import PolicySet

POLICIES = Path(__file__).resolve().parents[2] / "policies"
TEXTS = read_policy_dir(POLICIES)
TODAY = dt.date(2026, 11, 23)  # the case runner's "today" when a case gives none


def _collect() -> list[tuple[str, str, PolicyCase]]:
    found = []
    for file, text in sorted(TEXTS.items()):
        if not file.endswith(".cases.yaml"):
            continue
        policy, cases = load_cases(text, file)
        found.extend((file, policy, case) for case in cases)
    return found


CASES = _collect()
ITEMS = [
    pytest.param(file, case.position.line, engine,
                 id=f"{policy}:{case.position.line}:{case.name}[{engine}]")
    for file, policy, case in CASES
    for engine in ENGINES
]


@pytest.fixture(scope="module")
def shipped() -> Iterator[PolicySet]:
    policies = PolicySet.from_texts(TEXTS, engines=ENGINES)
    yield policies
    policies.close()


@pytest.fixture(scope="module")
def results(shipped: PolicySet) -> dict[tuple[str, int, str], CaseResult]:
    return {(r.file, r.case.position.line, r.engine): r for r in run_cases(shipped, ENGINES)}


def test_every_policy_has_cases_and_both_engines_are_covered() -> None:
    policies = {policy for _, policy, _ in CASES}
    assert policies == {"authorization", "authority-check", "project-grading",
                        "customer-qualification"}
    assert len(CASES) >= 150
    assert ENGINES == ("compiled", "durable")


def test_the_runner_ran_every_collected_case_on_every_engine(
        results: dict[tuple[str, int, str], CaseResult]) -> None:
    assert len(results) == len(ITEMS)


@pytest.mark.parametrize(("file", "line", "engine"), ITEMS)
def test_case(results: dict[tuple[str, int, str], CaseResult], file: str, line: int,
              engine: str) -> None:
    result = results[(file, line, engine)]
    assert result.ok, f"{file}:{line} [{engine}] {result.case.name}:\n  " + \
        "\n  ".join(result.failures)


def _answer(shipped: PolicySet, policy: str, case: PolicyCase, engine: str) -> Any:
    """The whole answer body (minus the engine's name), or the rejected fields."""
    try:
        prepared = shipped.prepare(policy, case.input, today=case.today or TODAY)
        history = {}
        if prepared.history_query is not None:
            history[prepared.history_query.name] = case.prior_total
        body = shipped.evaluate(prepared, history, engine).as_dict()
    except InputError as exc:
        return ("input_error", sorted((p.field, p.code, p.message) for p in exc.problems))
    except EvaluationError as exc:
        return ("evaluation_error", str(exc))
    assert body.pop("engine") == engine
    return body


def test_every_engine_returns_identical_bodies_for_every_case(shipped: PolicySet) -> None:
    differences = []
    for file, policy, case in CASES:
        answers = {engine: _answer(shipped, policy, case, engine) for engine in ENGINES}
        reference = answers[ENGINES[0]]
        for engine, answer in answers.items():
            if answer != reference:
                differences.append(f"{file}:{case.position.line} {case.name}: {engine} "
                                   f"{answer} != {ENGINES[0]} {reference}")
    assert not differences, "\n".join(differences[:10])


def test_the_runner_reports_an_engine_that_disagrees(shipped: PolicySet,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The differential check itself can fail: an engine that flips one output
    of the authorization policy is caught on every case it changes."""
    version = shipped.version("authorization", "1")
    honest = version.engines["durable"]

    class Flipping:
        name = "durable"

        def evaluate(self, values: Any, history: Any) -> Evaluation:
            real = honest.evaluate(values, history)
            outputs = dict(real.outputs)
            if outputs.get("required_level") == 0:
                outputs["required_level"] = 1
            return Evaluation(outputs=outputs, fired=real.fired)

        def close(self) -> None:
            pass

    monkeypatch.setitem(version.engines, "durable", Flipping())
    found = run_cases(shipped, ENGINES, policy="authorization")
    disagreeing = [r for r in found if r.engine == "durable"
                   and any("disagrees with compiled" in f for f in r.failures)]
    assert disagreeing
    assert all(r.ok for r in found if r.engine == "compiled")

