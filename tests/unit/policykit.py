"""Helpers shared by the unit tests: the shipped policies, a small org tree and
policy written inline, and a way to find where a piece of text sits in a file
(so expected error positions are computed from the text, not copied from the
implementation's output)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from decision_service.errors import PolicyError, PolicyProblem
from decision_service.policyset import PolicySet

# A small org: two regions, a watch-listed office, both business groups.
ORG = """\
org:
  version: "test"
  levels: [SYSTEM_DEPT, OFFICE, REGION, BG, COMPANY]
  grades: [D, C, B, A]
  headquarters: {code: HQ, name: {zh: 总部, en: Headquarters}}
  business_groups:
    - {code: BG-CARRIER, group: CARRIER}
    - {code: BG-ENTERPRISE, group: ENTERPRISE}
  regions:
    - code: WEU
      offices:
        - {code: DE, name: {en: Germany}}
        - {code: FR, name: {en: France}}
    - code: LAS
      offices:
        - {code: AR, name: {en: Argentina}}
        - {code: AF, name: {en: Afghanistan}, watchlist: true}
"""

# A valid policy every error test starts from; each test breaks one thing.
POLICY = """\
policy:
  id: limits
  version: "1"
  title: {zh: 金额授权, en: Value limits}
  unit: office
inputs:
  office: {type: unit, level: office}
  value: {type: number, min: 0}
  kind: {type: enum, values: [NEW, CHANGE]}
  urgent: {type: boolean}
parameters:
  office_limit: {type: number, default: 20}
  region_limit: {type: number, default: 100}
outputs:
  level: {type: enum, ordering: levels, combine: max}
tables:
  - id: T
    title: {zh: 金额, en: Value}
    hit: first
    outputs: [level]
    monotonic: {value: increasing}
    rules:
      - id: T.office
        when: {value: "<= office_limit"}
        then: OFFICE
      - id: T.region
        when: {value: "<= region_limit"}
        then: REGION
      - id: T.company
        when: {value: "> region_limit"}
        then: COMPANY
"""


def load(texts: Mapping[str, str]) -> PolicySet:
    return PolicySet.from_texts(texts, engines=("compiled",))


def problems(policy: str, extra: Mapping[str, str] | None = None,
             file: str = "limits.yaml") -> list[PolicyProblem]:
    """The problems of the small org plus ``policy`` (and ``extra`` files)."""
    with pytest.raises(PolicyError) as info:
        load({"org.yaml": ORG, file: policy, **(extra or {})})
    return info.value.problems


def only(found: list[PolicyProblem], code: str) -> PolicyProblem:
    """The single problem with ``code``; fails listing everything otherwise."""
    matching = [p for p in found if p.code == code]
    assert len(matching) == 1, f"expected one {code!r} problem, got: {[str(p) for p in found]}"
    return matching[0]


def at(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the ``nth`` occurrence of ``needle`` in ``text``."""
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def where(problem: PolicyProblem) -> tuple[int, int]:
    return problem.position.line, problem.position.column


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def durable_paths(policies: PolicySet, name: str, raw: object,
                  history: Mapping[str, float] | None = None) -> tuple[object, object]:
    """What the durable engine's generated path and its interpreted path (its oracle:
    ``reference.run`` over a durable match per stage) make of one input: outputs in
    their order and the rules fired, or the error."""
    from decision_service.errors import EvaluationError

    prepared = policies.prepare(name, raw)
    engine = policies.version(prepared.policy.id, prepared.policy.version).engines["durable"]
    given = (history or {}) if prepared.history_query is not None else {}
    totals = {key: float(given.get(key, 0.0)) for key in prepared.policy.policy.history}

    def outcome(evaluate: object) -> object:
        try:
            evaluation = evaluate(prepared.values, totals)  # type: ignore[operator]
        except (EvaluationError, ValueError) as exc:
            return (type(exc).__name__, str(exc))
        return list(evaluation.outputs.items()), list(evaluation.fired)

    return outcome(engine.evaluate), outcome(engine.evaluate_interpreted)

