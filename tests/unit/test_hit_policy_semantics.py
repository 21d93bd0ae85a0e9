"""Corners of hit policies and stages where the generated code and the
reference interpreter (evaluate.run, used by the durable engine) once
disagreed. Each policy here is decided by both engines and must give the same
answer, and the answer the language documents."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from policykit import ORG, durable_paths

from decision_service.compiler.ir import Compare, Field
from decision_service.engines.compiled import CompiledEngine
from decision_service.engines.durable import DurableEngine
from decision_service.errors import PolicyError
from decision_service.policyset import PolicySet

pytestmark = pytest.mark.real_loads  # tests of loading itself: every load in full

HEADER = """\
policy: {id: p, version: "1"}
inputs:
  x: {type: integer, min: 0, max: 100}
  flag: {type: boolean}
"""


def both(policy: str, raw: dict[str, Any]) -> dict[str, Any]:
    policies = PolicySet.from_texts({"org.yaml": ORG, "p.yaml": HEADER + policy})
    try:
        bodies = [policies.decide("p", raw, engine=e).as_dict() for e in ("compiled", "durable")]
        generated, interpreted = durable_paths(policies, "p", raw)
    finally:
        policies.close()
    assert generated == interpreted
    for body in bodies:
        body.pop("engine")
    assert bodies[0] == bodies[1], f"engines disagree: {bodies}"
    return bodies[0]


SCORECARD_WHEN = """\
outputs:
  s: {type: number, default: -1}
  g: {type: enum, ordering: grades}
tables:
  - id: sc
    title: {zh: 分, en: Score}
    hit: scorecard
    when: {flag: true}
    outputs: [s]
    bands: {output: g, at_least: [[10, A]], else: D}
    rules:
      - {id: R1, when: {x: ">= 50"}, score: 10}
"""


def test_a_scorecard_whose_when_fails_is_skipped_entirely() -> None:
    body = both(SCORECARD_WHEN, {"x": 5, "flag": False})
    assert (body["s"], body["g"]) == (-1, None)


def test_a_scorecard_whose_when_holds_scores_zero_and_takes_its_lowest_band() -> None:
    body = both(SCORECARD_WHEN, {"x": 5, "flag": True})
    assert (body["s"], body["g"]) == (0, "D")


def test_a_final_scorecard_decides_alone() -> None:
    policy = """\
outputs:
  s: {type: number}
  g: {type: enum, ordering: grades}
tables:
  - id: sc
    title: {zh: 分, en: Score}
    hit: scorecard
    final: true
    outputs: [s]
    bands: {output: g, at_least: [[10, A]], else: D}
    rules:
      - {id: r1, when: {x: ">= 5"}, score: 10}
  - id: after
    title: {zh: 后, en: After}
    hit: first
    outputs: [s]
    rules:
      - {id: a1, when: {}, then: 99}
"""
    body = both(policy, {"x": 5, "flag": True})
    assert (body["s"], body["g"], [r["rule"] for r in body["reasons"]]) == (10, "A", ["r1"])


def test_a_rule_that_sets_only_some_outputs_leaves_the_others_alone() -> None:
    policy = """\
outputs:
  a: {type: string}
  b: {type: string, default: kept}
tables:
  - id: t
    title: {zh: 表, en: Table}
    hit: any
    outputs: [a, b]
    rules:
      - {id: R2, when: {x: ">= 0"}, then: {a: one}}
"""
    body = both(policy, {"x": 1, "flag": True})
    assert (body["a"], body["b"]) == ("one", "kept")


def test_an_output_reset_to_null_is_not_seen_by_the_next_stage() -> None:
    policy = """\
outputs:
  l: {type: enum, ordering: levels, combine: max}
  m: {type: string, default: fresh}
tables:
  - id: set
    title: {zh: 设, en: Set}
    hit: first
    outputs: [l]
    rules:
      - {id: R3, when: {}, then: OFFICE}
  - id: reset
    title: {zh: 清, en: Reset}
    hit: first
    override: true
    outputs: [l]
    rules:
      - {id: R4, when: {l: OFFICE, flag: true}, then: null}
  - id: read
    title: {zh: 读, en: Read}
    hit: first
    outputs: [m]
    rules:
      - {id: R5, when: {l: OFFICE}, then: stale}
"""
    assert both(policy, {"x": 1, "flag": True})["m"] == "fresh"
    assert both(policy, {"x": 1, "flag": False})["m"] == "stale"


@pytest.mark.parametrize(("hit", "outputs", "then", "code"), [
    ("collect-max", "[l, m]", "{l: OFFICE}", "one_output"),
    ("priority", "[l]", "null", "missing_then"),
])
def test_tables_an_engine_could_not_rank_are_refused_at_load(
        hit: str, outputs: str, then: str, code: str) -> None:
    policy = f"""\
outputs:
  l: {{type: enum, ordering: levels}}
  m: {{type: string}}
tables:
  - id: t
    title: {{zh: 表, en: Table}}
    hit: {hit}
    outputs: {outputs}
    rules:
      - {{id: r1, when: {{}}, then: {then}}}
"""
    with pytest.raises(PolicyError) as caught:
        PolicySet.from_texts({"org.yaml": ORG, "p.yaml": HEADER + policy}, engines=("compiled",))
    assert code in {p.code for p in caught.value.problems}


LATER_STAGE = """\
outputs:
  s: {{type: number, default: 0}}
  t: {{type: number, default: 0}}
  l: {{type: enum, ordering: levels, combine: max}}
tables:
  - id: score
    title: {{zh: 分, en: Score}}
    hit: first
    outputs: [s, t]
    rules:
      - {{id: S1, when: {{x: ">= 20"}}, then: {{s: 30, t: 5}}}}
      - {{id: S2, when: {{x: ">= 10"}}, then: {{s: 10, t: 15}}}}
  - id: level
    title: {{zh: 级, en: Level}}
    hit: first
    outputs: [l]
    rules:
      - {{id: L1, when: {{s: "{test}", flag: true}}, then: REGION}}
      - {{id: L2, when: {{}}, then: OFFICE}}
"""


def test_a_later_stage_reading_outputs_is_decided_without_a_second_assert() -> None:
    policy = LATER_STAGE.format(test="> 20")
    policies = PolicySet.from_texts({"org.yaml": ORG, "p.yaml": HEADER + policy})
    try:
        assert policies.version("p", "1").engines["durable"].source is not None  # type: ignore[attr-defined]
    finally:
        policies.close()
    levels = {(x, flag): both(policy, {"x": x, "flag": flag})["l"]
              for x in (5, 10, 15, 20, 25) for flag in (True, False)}
    assert {key for key, level in levels.items() if level == "REGION"} == {
        (20, True), (25, True)}


def test_a_later_stage_comparing_an_output_with_an_input_is_interpreted() -> None:
    # The static checks refuse such a rule today (they cannot place it); were one to
    # load, the durable engine would assert every stage and interpret (reference.run).
    policies = PolicySet.from_texts(
        {"org.yaml": ORG, "p.yaml": HEADER + LATER_STAGE.format(test="> 20")})
    compiled = policies.version("p", "1").compiled
    s_key, x_key = compiled.fields["s"].key, compiled.fields["x"].key
    level = next(table for table in compiled.tables if table.table.id == "level")
    first = level.rules[0]
    atoms = tuple(Compare(s_key, ">", Field(x_key)) if atom.field == s_key else atom
                  for atom in first.atoms)
    changed = replace(compiled, tables=tuple(
        replace(table, rules=(replace(first, atoms=atoms), *table.rules[1:]))
        if table is level else table for table in compiled.tables))
    durable, oracle = DurableEngine(changed), CompiledEngine(changed)
    try:
        assert durable.source is None
        seen = set()
        for x in (5, 10, 15, 20, 25, 30, 35):
            for flag in (True, False):
                values = policies.prepare("p", {"x": x, "flag": flag}).values
                mine, theirs = durable.evaluate(values, {}), oracle.evaluate(values, {})
                assert (mine.outputs, list(mine.fired)) == (theirs.outputs, list(theirs.fired))
                seen.add(mine.outputs.get("l"))
        assert seen == {1, 2}  # OFFICE and REGION: the rule on s > x holds and fails
    finally:
        durable.close()
        policies.close()
