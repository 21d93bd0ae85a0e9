"""Deciding one partition: every row by the baseline and by the candidate.

Two runs per row suffice. A (customer, office) pair lies wholly inside or
wholly outside the units a phase has reached, so in phase k a row is decided
exactly as in the all-candidate run when its office was reached by phase k,
and exactly as in the baseline run otherwise: each run keeps its own A10
history (the deals *it* routed), and the phases are put together afterwards
from the row's first phase (see ``figures``).

The hot path validates each row once (baseline and candidate share the input
model when their declarations agree), calls the compiled engine directly and
turns its ranks into output values through a small cache: no reasons are
rendered here. Reasons are written out only for the few changed deals the
report shows.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from decision_service.simulation.conditions import Predicate, compile_condition
from decision_service.simulation.core import (
    EvaluationError,
    InputError,
    PolicySet,
    PolicyVersion,
    final_outputs,
    validate_input,
)
from decision_service.simulation.partition import read_partition
from decision_service.simulation.plan import Plan, Segment, policy_sets

Signature = tuple[Any, ...]


@dataclass
class ChangedRow:
    """A row whose outputs differ from the baseline's in some phase."""

    line: int
    first_phase: int
    unit: Any
    baseline: tuple[Any, ...]
    candidate: tuple[Any, ...]
    baseline_rules: tuple[str, ...]
    candidate_rules: tuple[str, ...]
    baseline_version: str
    candidate_version: str
    baseline_history: dict[str, float]
    candidate_history: dict[str, float]
    input: dict[str, Any]


@dataclass
class PartitionResult:
    """What a partition gives back: tallies by row signature, never rows."""

    tally: dict[Signature, int] = field(default_factory=dict)
    bad: list[tuple[int, str]] = field(default_factory=list)
    changed: list[ChangedRow] = field(default_factory=list)
    rows: int = 0

    def merge(self, other: PartitionResult) -> None:
        tally = self.tally
        for key, count in other.tally.items():
            tally[key] = tally.get(key, 0) + count
        self.bad.extend(other.bad)
        self.changed.extend(other.changed)
        self.rows += other.rows


@dataclass(frozen=True)
class _History:
    name: str
    sum_field: str
    group_by: tuple[str, ...]
    where_input: tuple[tuple[str, Predicate], ...]
    where_output: tuple[tuple[str, Predicate], ...]
    window: dt.timedelta


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class _Run:
    """One side (baseline or candidate) deciding rows in date order, with its own A10."""

    def __init__(self, policies: PolicySet, name: str, version: str | None,
                 outputs: tuple[str, ...]) -> None:
        self.policies = policies
        self.name = name
        self.fixed = policies.version(name, version) if version else None
        self.by_date: dict[dt.date, PolicyVersion] = {}
        self.outputs = outputs
        self.memo: dict[Any, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        latest = policies.versions[name][-1].compiled.policy
        self.histories = tuple(
            _History(h.name, h.sum_field, h.group_by,
                     tuple((k, compile_condition(v)) for k, v in h.where_input.items()),
                     tuple((k, compile_condition(v)) for k, v in h.where_output.items()),
                     dt.timedelta(days=h.window_days))
            for h in latest.history.values())
        self.windows: dict[Any, deque[tuple[dt.date, float, Any]]] = {}
        self.lookup_inputs = _lookup_inputs(latest)
        self.has_deal_id = "deal_id" in latest.inputs

    def version(self, on: dt.date) -> PolicyVersion:
        if self.fixed is not None:
            return self.fixed
        found = self.by_date.get(on)
        if found is None:
            found = self.by_date[on] = self.policies.version_for(self.name, on)
        return found

    def decide(  # noqa: C901 - the hot path in one function on purpose (bench/simulate.py)
            self, version: PolicyVersion, values: dict[str, Any],
            on: dt.date) -> tuple[tuple[Any, ...], Any, dict[str, float]]:
        # On the hot path: plain loops, no generators; each A10 test evaluated once.
        totals: dict[str, float] = {}
        deal = values.get("deal_id") if self.has_deal_id else None
        applying: list[tuple[_History, Any]] = []
        for hist in self.histories:
            applies = True
            for name, test in hist.where_input:
                if not test(values.get(name)):
                    applies = False
                    break
            total: float = 0.0
            if applies:
                key = (hist.name, *[values.get(g) for g in hist.group_by])
                applying.append((hist, key))
                window = self.windows.get(key)
                if window:
                    low = on - hist.window
                    while window and window[0][0] < low:
                        window.popleft()
                    # summed in date order each time: the same figure whatever the
                    # partitioning, and no drift from running subtractions
                    for _, amount, other in window:
                        if deal is None or other != deal:
                            total += amount
            totals[hist.name] = total
        evaluation = version.engines["compiled"].evaluate(values, totals)
        compiled = version.compiled
        memo_key = (compiled.version, tuple(evaluation.outputs.items()),
                    *[values.get(n) for n in self.lookup_inputs])
        found = self.memo.get(memo_key)
        if found is None:
            final = final_outputs(compiled, evaluation, values)
            found = self.memo[memo_key] = (tuple(_tuple(final[o]) for o in self.outputs), final)
        outputs, final = found
        for hist, key in applying:
            window = self.windows.get(key)
            if window is None:
                window = self.windows[key] = deque()
            if deal is not None:
                # a deal decided again replaces its earlier decision (A10)
                for entry in [e for e in window if e[2] == deal]:
                    window.remove(entry)
            worth = values.get(hist.sum_field)
            if not isinstance(worth, int | float):
                continue
            counts = True
            for name, test in hist.where_output:
                if not test(final.get(name)):
                    counts = False
                    break
            if counts:
                window.append((on, float(worth), deal))
        return outputs, evaluation, totals

    def rule_ids(self, version: PolicyVersion, evaluation: Any) -> tuple[str, ...]:
        tables = version.compiled.tables
        return tuple(tables[t].rules[r].rule.id for t, r in evaluation.fired)


def _lookup_inputs(policy: Any) -> tuple[str, ...]:
    """Inputs that lookup outputs read (approver_unit from office, business_group)."""
    names: list[str] = []
    for decl in policy.outputs.values():
        for value in decl.lookup_map.values():
            ref = getattr(value, "field", None)
            if isinstance(ref, str) and ref.split(".")[0] not in names:
                names.append(ref.split(".")[0])
    return tuple(names)


def band_label(value: Any, edges: tuple[float, ...]) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "null"
    low = None
    for edge in edges:
        if value < edge:
            return f"<{_short(edge)}" if low is None else f"{_short(low)}–{_short(edge)}"
        low = edge
    return f"≥{_short(edges[-1])}" if edges else "all"


def _short(number: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(number) >= size:
            return f"{number / size:g}{suffix}"
    return f"{number:g}"


def dimensions(plan: Plan) -> tuple[Segment, ...]:
    """Segments and the `per` of guards, each once: the row's signature holds their values."""
    found: list[Segment] = []
    if plan.unit_input is not None:  # the report always shows change by region
        found.append(Segment("region", "region", plan.unit_input))
    for segment in (*plan.segments, *(g.per for g in plan.guards if g.per is not None)):
        if segment not in found:
            found.append(segment)
    return tuple(found)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return "|".join(value) if value else "none"
    if isinstance(value, dt.date):
        return value.isoformat()
    return "null" if value is None else value


def dimension_reader(segment: Segment, plan: Plan) -> Callable[[dict[str, Any]], Any]:
    """A function giving a row's value of one segment (read once per row)."""
    name = segment.input or ""
    if segment.kind == "region":
        regions = plan.region_of
        return lambda values: regions.get(str(values.get(name)), "null")
    if segment.kind == "band":
        edges = segment.edges
        return lambda values: band_label(values.get(name), edges)
    return lambda values: _plain(values.get(name))


def _json_ready(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in values.items()}


def compiled_policies(plan: Plan) -> tuple[PolicySet, PolicySet]:
    """The plan's policy sets, compiled once per process (workers decide many partitions)."""
    return policy_sets(plan.baseline_texts, plan.candidate_texts)


def _same_inputs(a: PolicyVersion, b: PolicyVersion) -> bool:
    """Whether a row valid for one is valid, with the same values, for the other."""
    if a.model is b.model:
        return True
    return bool(a.model.model_json_schema() == b.model.model_json_schema()
                and a.compiled.org.units.keys() == b.compiled.org.units.keys())


def decide_partition(plan: Plan, data: bytes) -> PartitionResult:
    """Decide every row of one spilled partition (see ``partition``)."""
    baseline_set, candidate_set = compiled_policies(plan)
    base = _Run(baseline_set, plan.policy, plan.baseline_version, plan.outputs)
    cand = _Run(candidate_set, plan.policy, plan.candidate_version, plan.outputs)
    result = PartitionResult()
    tally = result.tally
    readers = [dimension_reader(d, plan) for d in dimensions(plan)]
    where_inputs = _where_inputs(plan)
    phases = len(plan.phase_names)
    unit_input, date_input, today = plan.unit_input, plan.date_input, plan.today
    share_cache: dict[tuple[int, int], bool] = {}
    loads = orjson.loads
    for _, line, payload in read_partition(data):
        result.rows += 1
        raw = loads(payload)
        on = today
        try:
            if date_input is not None and raw.get(date_input) is not None:
                # the date picks the version; a bad date fails validation below
                try:
                    on = dt.date.fromisoformat(raw[date_input])
                except (TypeError, ValueError):
                    on = today
            base_version = base.version(on)
            cand_version = cand.version(on)
            values = validate_input(base_version.model, raw)
            pair = (id(base_version), id(cand_version))
            shared = share_cache.get(pair)
            if shared is None:
                shared = share_cache[pair] = _same_inputs(base_version, cand_version)
            cand_values = values if shared else validate_input(cand_version.model, raw)
            base_out, base_eval, base_hist = base.decide(base_version, values, on)
            cand_out, cand_eval, cand_hist = cand.decide(cand_version, cand_values, on)
        except InputError as exc:
            result.bad.append((line, "; ".join(f"{p.field or '<row>'}: {p.message}"
                                               for p in exc.problems)))
            continue
        except EvaluationError as exc:
            result.bad.append((line, f"cannot be decided: {exc}"))
            continue
        unit = values.get(unit_input) if unit_input else None
        first = plan.first_phase(unit)
        signature = (first, *[read(values) for read in readers],
                     *[all([test(values.get(k)) for k, test in tests])
                       for tests in where_inputs],
                     base_out, cand_out)
        tally[signature] = tally.get(signature, 0) + 1
        if first < phases and base_out != cand_out:
            result.changed.append(ChangedRow(
                line, first, unit, base_out, cand_out, base.rule_ids(base_version, base_eval),
                cand.rule_ids(cand_version, cand_eval), base_version.compiled.version,
                cand_version.compiled.version, base_hist, cand_hist, _json_ready(values)))
    return result


def _where_inputs(plan: Plan) -> list[tuple[tuple[str, Predicate], ...]]:
    """Per guard, the tests of its `where` that read inputs (outputs are tested later)."""
    out = []
    inputs = set(plan.input_types)
    for guard in plan.guards:
        tests = tuple((k, compile_condition(v)) for k, v in guard.spec.where.items()
                      if k in inputs)
        out.append(tests)
    return out
