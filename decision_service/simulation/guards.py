"""Guards: the limits a rollout must stay within, checked phase by phase.

- ``changed``: rows whose outputs differ from the baseline's, optionally only
  those a ``where`` selects (inputs; outputs on either side; or
  ``baseline.X`` / ``candidate.X`` for one side); limit ``max`` rows or
  ``max_pct`` of the rows.
- ``share``: the share of rows with an output ``value`` (or ``at_least`` a value
  of an ordered output) may rise by at most ``max_rise_points`` percentage points.
- ``count``: the number of such rows may rise by at most ``max_rise_pct`` percent
  (against at least one row), or by ``max`` rows.

With ``per: region`` (or any segment) the guard holds for every unit on its own
and its value is the worst unit's: "no region's approvals at BG and above rise
by more than 20%".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from decision_service.simulation.conditions import Predicate, compile_condition
from decision_service.simulation.plan import Guard, Plan

# One row group as the guards see it: (count, unit of `per`, input bits of the
# guard's where, baseline outputs, this phase's outputs)
GuardRow = tuple[int, Any, bool, tuple[Any, ...], tuple[Any, ...]]


def output_matcher(guard: Guard, plan: Plan) -> Callable[[tuple[Any, ...]], bool]:
    """Does an outputs tuple count for this guard (value, or at least a value)?"""
    spec = guard.spec
    index = plan.outputs.index(spec.output) if spec.output in plan.outputs else 0
    if spec.at_least is not None:
        order = plan.output_orderings[spec.output or ""]
        floor = order.index(spec.at_least)
        ranks = {value: rank for rank, value in enumerate(order)}
        return lambda outs: ranks.get(outs[index], -1) >= floor
    expected = spec.value
    return lambda outs: outs[index] == expected


def _output_tests(guard: Guard, plan: Plan) -> list[tuple[str, int, Predicate]]:
    tests = []
    inputs = set(plan.input_types)
    for key, written in guard.spec.where.items():
        if key in inputs:
            continue  # tested per row by the worker
        side, _, bare = key.partition(".") if key.startswith(("baseline.", "candidate.")) \
            else ("either", "", key)
        tests.append((side, plan.outputs.index(bare), compile_condition(written)))
    return tests


def _where_outputs(tests: list[tuple[str, int, Predicate]], before: tuple[Any, ...],
                   after: tuple[Any, ...]) -> bool:
    for side, index, test in tests:
        if side == "baseline" and not test(before[index]):
            return False
        if side == "candidate" and not test(after[index]):
            return False
        if side == "either" and not (test(before[index]) or test(after[index])):
            return False
    return True


def evaluate_guard(guard: Guard, plan: Plan, rows: Iterable[GuardRow]) -> dict[str, Any]:
    """The guard's figure in one phase: {name, holds, value, limit[, unit]}."""
    spec = guard.spec
    tests = _output_tests(guard, plan)
    matcher = output_matcher(guard, plan) if spec.output is not None else None
    # per unit: [rows, changed, matched before, matched after]
    units: dict[Any, list[int]] = {}
    for count, unit, bits, before, after in rows:
        if not bits or not _where_outputs(tests, before, after):
            continue
        figures = units.setdefault(unit, [0, 0, 0, 0])
        figures[0] += count
        if before != after:
            figures[1] += count
        if matcher is not None:
            figures[2] += count if matcher(before) else 0
            figures[3] += count if matcher(after) else 0
    values = {unit: _value(spec.metric, spec.limit_kind, f) for unit, f in units.items()}
    # the worst unit; ties go to the first by name, so every run names the same one
    ranked = sorted(values, key=lambda u: (-values[u], str(u)))
    worst_unit = ranked[0] if ranked else None
    value = values[worst_unit] if ranked else 0.0
    entry: dict[str, Any] = {"name": spec.name, "metric": spec.metric,
                             "holds": value <= spec.limit, "value": value,
                             "limit": spec.limit, "limit_kind": spec.limit_kind}
    if guard.per is not None:
        entry["per"] = guard.per.name
        entry["unit"] = worst_unit
    return entry


def _value(metric: str, limit_kind: str, figures: list[int]) -> float:
    rows, changed, before, after = figures
    if metric == "changed":
        if limit_kind == "max_pct":
            return round(100.0 * changed / rows, 4) if rows else 0.0
        return float(changed)
    if metric == "share":
        return round(100.0 * (after - before) / rows, 4) if rows else 0.0
    if limit_kind == "max":
        return float(after - before)
    return round(100.0 * (after - before) / max(before, 1), 4)
