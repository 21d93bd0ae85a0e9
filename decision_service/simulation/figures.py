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


# One group of rows as a phase shows it: (count, segment values, input bits of the
# guards' where, baseline outputs, this phase's outputs)
Shown = tuple[int, tuple[Any, ...], tuple[bool, ...], tuple[Any, ...], tuple[Any, ...]]


def _shown(entries: list[tuple[tuple[Any, ...], int]], k: int, n_dims: int,
           n_guards: int) -> list[Shown]:
    shown: list[Shown] = []
    for signature, count in entries:
        first = signature[0]
        dim_values = signature[1:1 + n_dims]
        bits = signature[1 + n_dims:1 + n_dims + n_guards]
        before, cand = signature[-2], signature[-1]
        shown.append((count, dim_values, bits, before, cand if first <= k else before))
    return shown


def _transitions(plan: Plan, shown: list[Shown]) -> dict[str, dict[str, dict[str, int]]]:
    pairs: dict[tuple[Any, Any], int] = {}
    for count, _, _, before, after in shown:
        pairs[before, after] = pairs.get((before, after), 0) + count
    transitions: dict[str, dict[str, dict[str, int]]] = {}
    for output in plan.enum_outputs:
        index = plan.outputs.index(output)
        matrix: dict[str, dict[str, int]] = {}
        for (before, after), count in pairs.items():
            row = matrix.setdefault(value_key(before[index]), {})
            key = value_key(after[index])
            row[key] = row.get(key, 0) + count
        transitions[output] = {b: dict(sorted(r.items())) for b, r in sorted(matrix.items())}
    return transitions


def _segments(seg_index: dict[str, int], shown: list[Shown]
              ) -> dict[str, dict[str, dict[str, int]]]:
    segments: dict[str, dict[str, dict[str, int]]] = {}
    for segment_name, index in seg_index.items():
        table: dict[str, dict[str, int]] = {}
        for count, dim_values, _, before, after in shown:
            value = dim_values[index]
            # a text is its own key: the usual segment value, without a call per row
            key = value if type(value) is str else value_key(value)
            cell = table.get(key)
            if cell is None:
                cell = table[key] = {"rows": 0, "changed": 0}
            cell["rows"] += count
            if before != after:
                cell["changed"] += count
        segments[segment_name] = dict(sorted(table.items()))
    return segments


def _guards(plan: Plan, per_index: list[int | None], shown: list[Shown]
            ) -> list[dict[str, Any]]:
    guards = []
    for g, guard in enumerate(plan.guards):
        unit_at = per_index[g]
        # added up by what the guard reads first: far fewer groups than rows
        grouped: dict[tuple[Any, bool, Any, Any], int] = {}
        for count, dim_values, bits, before, after in shown:
            at = (dim_values[unit_at] if unit_at is not None else None, bits[g], before, after)
            grouped[at] = grouped.get(at, 0) + count
        guard_rows: list[GuardRow] = [(count, *at) for at, count in grouped.items()]
        guards.append(evaluate_guard(guard, plan, guard_rows))
    return guards


def summarize(plan: Plan, result: PartitionResult, bad_rows: int, total_rows: int
              ) -> dict[str, Any]:
    """summary.json, as DESIGN.md fixes it (plus per-phase transitions and segments)."""
    dims = dimensions(plan)
    seg_index = {s.name: dims.index(s) for s in plan.segments}
    per_index = [dims.index(g.per) if g.per is not None else None for g in plan.guards]
    # In whatever order the partitions finished: every figure below is a sum of counts,
    # and every table is sorted before it is written, so the order cannot show (sorting
    # the tally by repr took longer than the rest of the summary).
    entries = list(result.tally.items())
    phases: list[dict[str, Any]] = []
    for k, name in enumerate(plan.phase_names):
        shown = _shown(entries, k, len(dims), len(plan.guards))
        units = plan.phase_units[k]
        phases.append({
            "name": name,
            "units": list(units) if units is not None else "all",
            "changed": sum(c for c, _, _, before, after in shown if before != after),
            "baseline": _counts(plan, [(c, before) for c, _, _, before, _ in shown]),
            "candidate": _counts(plan, [(c, after) for c, _, _, _, after in shown]),
            "transitions": _transitions(plan, shown),
            "segments": _segments(seg_index, shown),
            "guards": _guards(plan, per_index, shown),
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
        "deals": sum(count for _, count in entries),
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
