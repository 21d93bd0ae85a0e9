"""A shadow week as the corpus: the log's shadowed decisions, as recorded.

With ``corpus: {log: {url, shadow: true}}`` nothing is decided again. For each
decision of the policy that has a shadow result, the baseline is the answer the
service gave (as logged, whichever version gave it) and the candidate is the
shadow's recorded outputs. Rows are tallied exactly as ``worker`` tallies
decided rows, so phases, segments, guards, summary.json, changed.csv and the
report come out of the same ``figures``: in phase k a row whose unit the phase
has reached shows the shadow's answer, any other row keeps the logged answer.

A shadow that failed (it raised or ran past its budget) has no answer: its row
is a bad row, with the recorded error. So is a shadow run by another version
than the scenario's candidate names, when it names one. Rows are numbered by
their place among the policy's shadowed decisions in log order; bad rows and
changed.csv also give the decision id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from decision_service.simulation.core import PolicyError, PolicyProblem
from decision_service.simulation.plan import Plan
from decision_service.simulation.worker import ChangedRow, PartitionResult, RowKeys


@dataclass
class ShadowCorpus:
    """The tallies of a shadow log, and what was read besides."""

    result: PartitionResult
    rows: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)  # as the shadows name them
    failed: int = 0  # shadows that recorded an error


def _outputs(plan: Plan, found: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(tuple(v) if isinstance(v, list) else v
                 for v in (found.get(name) for name in plan.outputs))


def _shadowed(plan: Plan) -> Iterator[tuple[int, Any, dict[str, Any]]]:
    """(row number, record, shadow) for each shadowed decision of the plan's dates."""
    from decision_service.store import StoreError, open_store

    spec = plan.scenario.corpus
    assert spec.url is not None
    try:
        store = open_store(spec.url)
    except (StoreError, OSError) as exc:
        raise PolicyError([PolicyProblem(spec.position, "bad_corpus",
                                         f"cannot open the decision log {spec.url}: {exc}")]
                          ) from None
    try:
        for number, (record, shadow) in enumerate(
                store.iter_shadowed(policy=plan.policy), 1):
            on = record.decision_date
            if (spec.date_from and on < spec.date_from) or (spec.date_to and on > spec.date_to):
                continue
            yield number, record, shadow
    except StoreError as exc:
        raise PolicyError([PolicyProblem(spec.position, "bad_corpus",
                                         f"decision log {spec.url}: {exc}")]) from None
    finally:
        store.close()


def _problem(plan: Plan, shadow: dict[str, Any]) -> str | None:
    """Why a shadow gives no candidate answer for this run; None when it does."""
    if "error" in shadow:
        return f"the shadow failed / 影子评估失败: {shadow['error']}"
    if not isinstance(shadow.get("outputs"), dict):
        return "the shadow recorded no outputs / 影子评估没有记录输出"
    wanted = plan.candidate_version
    if wanted is not None and str(shadow.get("policy_version")) != wanted:
        return (f"the shadow ran version {shadow.get('policy_version')}, the scenario's "
                f"candidate is version {wanted} / 影子评估版本与场景的候选版本不符")
    return None


def _changed(plan: Plan, number: int, record: Any, shadow: dict[str, Any],
             outputs: tuple[tuple[Any, ...], tuple[Any, ...]], values: dict[str, Any],
             unit: Any) -> ChangedRow:
    reasons = tuple((str(r.get("rule", "")), str(r.get("message_zh", "")),
                     str(r.get("message", ""))) for r in record.reasons)
    rules = tuple(str(rule) for rule in shadow.get("rules", ()))
    history = dict(record.output.get("history") or {})  # the shadow saw the same totals
    return ChangedRow(
        number, plan.first_phase(unit), unit, outputs[0], outputs[1],
        tuple(r[0] for r in reasons), rules, record.policy_version,
        str(shadow.get("policy_version")), history, history, values,
        decision_id=record.decision_id, recorded=(reasons, rules))


def read_shadow_corpus(plan: Plan) -> ShadowCorpus:
    """Tally the plan's shadow log as ``worker`` tallies decided rows."""
    corpus = ShadowCorpus(PartitionResult())
    keys = RowKeys(plan)
    counted: dict[tuple[Any, ...], int] = {}
    phases = len(plan.phase_names)
    for number, record, shadow in _shadowed(plan):
        corpus.rows += 1
        named = dict(shadow.get("candidate") or {})
        if named not in corpus.candidates:
            corpus.candidates.append(named)
        problem = _problem(plan, shadow)
        if problem is not None:
            corpus.failed += "error" in shadow
            corpus.bad.append((number, f"decision {record.decision_id}: {problem}"))
            continue
        values = dict(record.input)
        if plan.date_input is not None and values.get(plan.date_input) is None:
            values[plan.date_input] = record.decision_date.isoformat()
        base, cand = _outputs(plan, record.output), _outputs(plan, shadow["outputs"])
        key = keys.key(values, base, cand)
        counted[key] = counted.get(key, 0) + 1
        unit = values.get(plan.unit_input) if plan.unit_input else None
        if base != cand and plan.first_phase(unit) < phases:
            corpus.result.changed.append(
                _changed(plan, number, record, shadow, (base, cand), values, unit))
    tally = corpus.result.tally
    for key, times in counted.items():
        signature = (*keys.signature(key[:-2]), key[-2], key[-1])
        tally[signature] = tally.get(signature, 0) + times
    corpus.result.rows = corpus.rows
    return corpus
