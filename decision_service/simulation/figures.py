"""Phase figures and summary.json from the merged tallies of every partition.

A partition tallies rows by signature: (first phase reaching the row's unit,
its segment values, the input part of each guard's `where`, baseline outputs,
candidate outputs). In phase k a row shows its candidate outputs when its
first phase is at most k, its baseline outputs otherwise, so every phase's
figures come from the same tally. Sums of counts do not depend on how the
rows were partitioned: any number of workers gives the same summary.
"""

from __future__ import annotations

from typing import Any

from decision_service.simulation.guards import GuardRow, evaluate_guard
from decision_service.simulation.plan import Plan
from decision_service.simulation.worker import PartitionResult, dimensions


def value_key(value: Any) -> str:
    """An output value as a summary key: null as "null", a list joined by `|`."""
    if value is None:
        return "null"
    if isinstance(value, tuple | list):
        return "|".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _counts(plan: Plan, rows: list[tuple[int, tuple[Any, ...]]]) -> dict[str, dict[str, int]]:
    # added up by outputs first: a few hundred distinct tuples for thousands of rows
    by_outputs: dict[tuple[Any, ...], int] = {}
    for count, outs in rows:
        by_outputs[outs] = by_outputs.get(outs, 0) + count
    counts: dict[str, dict[str, int]] = {name: {} for name in plan.outputs}
    for outs, count in by_outputs.items():
        for name, value in zip(plan.outputs, outs, strict=True):
            bucket = counts[name]
            key = value_key(value)
            bucket[key] = bucket.get(key, 0) + count
    return {name: dict(sorted(bucket.items())) for name, bucket in counts.items()}


def max_bad_rows(plan: Plan, rows: int) -> int:
    """The scenario's limit, else 1% of the rows."""
    limit = plan.scenario.max_bad_rows
    return limit if limit is not None else rows // 100


class _Groups:
    """The tally added up, in one pass, by what each figure reads, keeping the row's
    first phase: a phase's figures are then worked out from a few hundred groups
    instead of every signature (tens of thousands) once per phase. In phase k a
    group shows its candidate outputs when its first phase is at most k."""

    def __init__(self, plan: Plan, entries: list[tuple[tuple[Any, ...], int]]) -> None:
        dims = dimensions(plan)
        n_dims = len(dims)
        at = [dims.index(s) for s in plan.segments]
        per_at = [dims.index(g.per) if g.per is not None else None for g in plan.guards]
        # (first, baseline outputs, candidate outputs)
        self.outputs: dict[tuple[int, Any, Any], int] = {}
        # per segment: (value, first, changed by the candidate)
        self.segments: list[dict[tuple[Any, int, bool], int]] = [{} for _ in at]
        # per guard: (unit, its where's input bit, baseline, candidate, first)
        self.guards: list[dict[tuple[Any, bool, Any, Any, int], int]] = [
            {} for _ in plan.guards]
        for signature, count in entries:
            first, before, cand = signature[0], signature[-2], signature[-1]
            key = (first, before, cand)
            self.outputs[key] = self.outputs.get(key, 0) + count
            changed = before != cand
            for cells, index in zip(self.segments, at, strict=True):
                cell = (signature[1 + index], first, changed)
                cells[cell] = cells.get(cell, 0) + count
            for g, (groups, unit_at) in enumerate(zip(self.guards, per_at, strict=True)):
                unit = signature[1 + unit_at] if unit_at is not None else None
                group = (unit, signature[1 + n_dims + g], before, cand, first)
                groups[group] = groups.get(group, 0) + count

    def shown(self, k: int) -> list[tuple[int, Any, Any]]:
        """(count, baseline outputs, this phase's outputs)."""
        return [(count, before, cand if first <= k else before)
                for (first, before, cand), count in self.outputs.items()]


def _transitions(plan: Plan, shown: list[tuple[int, Any, Any]]
                 ) -> dict[str, dict[str, dict[str, int]]]:
    transitions: dict[str, dict[str, dict[str, int]]] = {}
    for output in plan.enum_outputs:
        index = plan.outputs.index(output)
        matrix: dict[str, dict[str, int]] = {}
        for count, before, after in shown:
            row = matrix.setdefault(value_key(before[index]), {})
            key = value_key(after[index])
            row[key] = row.get(key, 0) + count
        transitions[output] = {b: dict(sorted(r.items())) for b, r in sorted(matrix.items())}
    return transitions


def _segments(plan: Plan, groups: _Groups, k: int) -> dict[str, dict[str, dict[str, int]]]:
    segments: dict[str, dict[str, dict[str, int]]] = {}
    for segment, cells in zip(plan.segments, groups.segments, strict=True):
        table: dict[str, dict[str, int]] = {}
        for (value, first, changed), count in cells.items():
            key = value if type(value) is str else value_key(value)
            cell = table.get(key)
            if cell is None:
                cell = table[key] = {"rows": 0, "changed": 0}
            cell["rows"] += count
            if changed and first <= k:
                cell["changed"] += count
        segments[segment.name] = dict(sorted(table.items()))
    return segments


def _guards(plan: Plan, groups: _Groups, k: int) -> list[dict[str, Any]]:
    guards = []
    for guard, table in zip(plan.guards, groups.guards, strict=True):
        rows: list[GuardRow] = [(count, unit, bit, before, cand if first <= k else before)
                                for (unit, bit, before, cand, first), count in table.items()]
        guards.append(evaluate_guard(guard, plan, rows))
    return guards


def summarize(plan: Plan, result: PartitionResult, bad_rows: int, total_rows: int
              ) -> dict[str, Any]:
    """summary.json, as DESIGN.md fixes it (plus per-phase transitions and segments)."""
    # In whatever order the partitions finished: every figure below is a sum of counts,
    # and every table is sorted before it is written, so the order cannot show.
    groups = _Groups(plan, list(result.tally.items()))
    phases: list[dict[str, Any]] = []
    for k, name in enumerate(plan.phase_names):
        shown = groups.shown(k)
        units = plan.phase_units[k]
        phases.append({
            "name": name,
            "units": list(units) if units is not None else "all",
            "changed": sum(c for c, before, after in shown if before != after),
            "baseline": _counts(plan, [(c, before) for c, before, _ in shown]),
            "candidate": _counts(plan, [(c, after) for c, _, after in shown]),
            "transitions": _transitions(plan, shown),
            "segments": _segments(plan, groups, k),
            "guards": _guards(plan, groups, k),
        })
    scenario = plan.scenario
    return {
        "scenario": scenario.name,
        "title": {"zh": scenario.title_zh, "en": scenario.title_en},
        "policy": plan.policy,
        "baseline": {"version": plan.baseline_version},
        "candidate": {"version": plan.candidate_version},
        "rows": total_rows,
        "bad_rows": bad_rows,
        "max_bad_rows": max_bad_rows(plan, total_rows),
        "deals": sum(groups.outputs.values()),
        "phases": phases,
        "guards_hold": all(bool(g["holds"]) for p in phases for g in p["guards"]),
    }


def region_changes(plan: Plan, result: PartitionResult) -> dict[str, list[int]]:
    """Changed rows per region in each phase (for the report's chart)."""
    dims = dimensions(plan)
    at = next((i for i, d in enumerate(dims) if d.kind == "region"), None)
    out: dict[str, list[int]] = {}
    if at is None:
        return out
    for signature, count in result.tally.items():
        region = value_key(signature[1 + at])
        figures = out.setdefault(region, [0] * len(plan.phase_names))
        if signature[-2] != signature[-1]:
            for k in range(signature[0], len(plan.phase_names)):
                figures[k] += count
    return dict(sorted(out.items()))
