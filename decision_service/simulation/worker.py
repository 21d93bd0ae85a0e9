"""Deciding one partition: every row by the baseline and by the candidate.

Two runs per row suffice. A (customer, office) pair lies wholly inside or
wholly outside the units a phase has reached, so in phase k a row is decided
exactly as in the all-candidate run when its office was reached by phase k,
and exactly as in the baseline run otherwise: each run keeps its own A10
history (the deals *it* routed), and the phases are put together afterwards
from the row's first phase (see ``figures``).

The hot path validates each row once (baseline and candidate share the input
model when their declarations agree; ordinary rows through the model's fast
path, ``fastinputs``), calls the compiled engine and numbers its outputs
through a cache kept for the worker process: no reasons are rendered here.
What depends only on a row's date (the versions in force, their validation,
the A10 window) is looked up once per date. A row is
counted by the raw inputs its segments read and its two output numbers; the
segment values (region names, value bands) are worked out once per distinct
key at the end of the partition, not once per row. Reasons are written out only
for the few changed deals the report shows.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from operator import itemgetter
from typing import Any

import orjson

from decision_service.collector import collector_paused
from decision_service.simulation.conditions import Predicate, compile_condition
from decision_service.simulation.core import (
    EvaluationError,
    InputError,
    PolicySet,
    PolicyVersion,
)
from decision_service.simulation.partition import (
    DATE_LEN,
    JSON_AT,
    Partition,
    read_partition,
)
from decision_service.simulation.plan import Plan, Segment, policy_sets
from decision_service.simulation.runs import OutputNumbers, Run, decide_both, same_totals

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
    # From a shadow log (``shadowed``): the decision's id, and the reasons as recorded,
    # (rule, zh, en) of the answer and the rule ids of the shadow; None when decided here.
    decision_id: str | None = None
    recorded: tuple[tuple[tuple[str, str, str], ...], tuple[str, ...]] | None = None


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


def band_label(value: Any, edges: tuple[float, ...]) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "null"
    low = None
    for edge in edges:
        if value < edge:
            return f"<{_short(edge)}" if low is None else f"{_short(low)}–{_short(edge)}"
        low = edge
    return f"≥{_short(edges[-1])}" if edges else "all"


def band_labels(edges: tuple[float, ...]) -> list[str]:
    """``band_label`` of every band, by ``bisect_right(edges, value)``."""
    if not edges:
        return ["all"]
    inner = [f"{_short(low)}–{_short(high)}" for low, high in pairwise(edges)]
    return [f"<{_short(edges[0])}", *inner, f"≥{_short(edges[-1])}"]


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
    if isinstance(value, list | tuple):
        return "|".join(value) if value else "none"
    if isinstance(value, dt.date):
        return value.isoformat()
    return "null" if value is None else value


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class RowKeys:
    """A row's share of its tally key, read per row as cheaply as it can be: the raw
    inputs segments read (unit first), the band index of each banded number, the
    input tests of each guard's `where`. ``signature`` turns a key into the values
    ``figures`` expects (first phase, segment values, guard bits), once per key."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        dims = dimensions(plan)
        names: list[str] = [plan.unit_input] if plan.unit_input is not None else []
        for dim in dims:
            if dim.kind != "band" and dim.input is not None and dim.input not in names:
                names.append(dim.input)
        self.names = tuple(names)
        self.bands = tuple((d.input or "", d.edges) for d in dims if d.kind == "band")
        self.where = _where_inputs(plan)
        self.read_inputs = _tuple_reader(self.names, plan.input_types)
        self.tested = [g for g, tests in enumerate(self.where) if tests]
        # read per row besides the inputs: band indexes, then the guards' input tests
        self.extra = [*[_band_reader(name, edges) for name, edges in self.bands],
                      *[_where_reader(self.where[g]) for g in self.tested]]
        self.finishers = [self._finisher(d) for d in dims]

        self.key = self._key_reader()

    def _key_reader(self) -> Callable[[dict[str, Any], Any, Any], tuple[Any, ...]]:
        """A row's tally key, flat (one tuple to build and hash): the raw inputs, what
        the extra readers read, then the baseline's and the candidate's outputs."""
        read_inputs, extra = self.read_inputs, self.extra
        if not extra:
            return lambda values, base, cand: (*read_inputs(values), base, cand)
        if len(extra) == 1:
            (only,) = extra
            return lambda values, base, cand: (*read_inputs(values), only(values), base, cand)
        return lambda values, base, cand: (*read_inputs(values),
                                           *[read(values) for read in extra], base, cand)

    def _finisher(self, dim: Segment) -> Callable[[tuple[Any, ...], tuple[int, ...]], Any]:
        if dim.kind == "band":
            at = [d for d, _ in self.bands].index(dim.input or "")
            labels = band_labels(dim.edges)
            return lambda raw, bands: labels[bands[at]] if bands[at] >= 0 else "null"
        index = self.names.index(dim.input or "")
        if dim.kind == "region":
            regions = self.plan.region_of
            return lambda raw, bands: regions.get(str(raw[index]), "null")
        return lambda raw, bands: _plain(raw[index])

    def signature(self, key: tuple[Any, ...]) -> tuple[Any, ...]:
        """The values ``figures`` expects of a tally key without its two outputs."""
        raw, extra = key[:len(self.names)], key[len(self.names):]
        bands = extra[:len(self.bands)]
        bits = [True] * len(self.where)  # a `where` without input tests holds
        for g, bit in zip(self.tested, extra[len(self.bands):], strict=True):
            bits[g] = bit
        unit = raw[0] if self.plan.unit_input is not None else None
        return (self.plan.first_phase(unit), *[f(raw, bands) for f in self.finishers], *bits)


_NUMBERS = (int, float)


def _band_reader(name: str, edges: tuple[float, ...]) -> Callable[[dict[str, Any]], int]:
    """The band of a number input, as ``bisect_right(edges, value)``; -1 for no number."""
    def read(values: dict[str, Any]) -> int:
        value: Any = values.get(name)
        return bisect_right(edges, value) if type(value) in _NUMBERS else -1
    return read


def _where_reader(tests: tuple[tuple[str, Predicate], ...]
                  ) -> Callable[[dict[str, Any]], bool]:
    return lambda values: all([test(values.get(k)) for k, test in tests])


def _tuple_reader(names: tuple[str, ...], types: dict[str, str]
                  ) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """Read several inputs of a validated row (which holds every input) at once."""
    if not names:
        return lambda values: ()
    if len(names) == 1:
        only = names[0]
        return lambda values: (_hashable(values.get(only)),)
    def slow(values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple([_hashable(values.get(n)) for n in names])

    if any(types.get(n) == "list" for n in names):
        return slow
    fast = itemgetter(*names)

    def read(values: dict[str, Any]) -> tuple[Any, ...]:
        try:
            return fast(values)  # type: ignore[no-any-return]
        except KeyError:  # an input this row's version does not declare
            return slow(values)

    return read


def _json_ready(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in values.items()}


def compiled_policies(plan: Plan) -> tuple[PolicySet, PolicySet]:
    """The plan's policy sets, compiled once per process (workers decide many partitions)."""
    return policy_sets(plan.baseline_texts, plan.candidate_texts)


_SAME_INPUTS: dict[tuple[int, int], tuple[PolicyVersion, PolicyVersion, bool]] = {}


def _same_inputs(a: PolicyVersion, b: PolicyVersion) -> bool:
    """Whether a row valid for one is valid, with the same values, for the other
    (worked out once per pair and process: JSON schemas take milliseconds)."""
    if a.model is b.model:
        return True
    found = _SAME_INPUTS.get((id(a), id(b)))
    if found is None or found[0] is not a or found[1] is not b:
        same = bool(a.model.model_json_schema() == b.model.model_json_schema()
                    and a.compiled.org.units.keys() == b.compiled.org.units.keys())
        found = _SAME_INPUTS[(id(a), id(b))] = (a, b, same)
    return found[2]


def decide_partition(plan: Plan, pieces: list[tuple[bytes, int]]) -> PartitionResult:
    """Decide every row of one spilled partition, given as its pieces (see ``partition``)."""
    # The rows make no reference cycles, but the tens of thousands of records held
    # for sorting would have the cyclic collector walk them over and over: it waits
    # until the partition is decided.
    with collector_paused():
        return _Decider(plan).decide(read_partition(pieces))


_OUTPUT_NUMBERS = OutputNumbers()

# A decision date's share of the work: the date, the version of each side in force
# then, and the validation of each (the candidate's None when it is the baseline's).
_Day = tuple[dt.date, PolicyVersion, PolicyVersion, Callable[[Any], dict[str, Any]],
             Callable[[Any], dict[str, Any]] | None]


_SIGNATURES: dict[str, tuple[Plan, dict[Any, Signature]]] = {}


def _signatures(plan: Plan) -> dict[Any, Signature]:
    """Signatures by row key, kept while a worker decides partitions of one plan (it
    gets a copy of the plan with each): most keys recur in every partition."""
    found = _SIGNATURES.get("plan")
    if found is None or (found[0] is not plan and found[0] != plan):
        found = _SIGNATURES["plan"] = (plan, {})
    return found[1]


class _Decider:
    """One partition decided by baseline and candidate, tallied by row key."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.sets = compiled_policies(plan)
        # one numbering per process, so that Run's memos outlive a partition
        self.numbers = _OUTPUT_NUMBERS
        self.base = Run(self.sets[0], plan.policy, plan.baseline_version, plan.outputs,
                        self.numbers)
        self.cand = Run(self.sets[1], plan.policy, plan.candidate_version, plan.outputs,
                        self.numbers)
        # one fixed version a side, taking the same rows, A10 alike: decided together
        base, cand = self.base.fixed, self.cand.fixed
        self.together = bool(base is not None and cand is not None and _same_inputs(base, cand)
                             and same_totals(self.base, self.cand))
        self.keys = RowKeys(plan)
        self.days: dict[bytes, _Day] = {}
        self.result = PartitionResult()

    def day(self, date: bytes) -> _Day:
        """The versions and validation of a date key (``InputError`` if none is in force)."""
        found = self.days.get(date)
        if found is not None:
            return found
        try:
            on = dt.date.fromisoformat(date.decode())
        except ValueError:  # no date, or a malformed one that validation refuses
            on = self.plan.today
        base, cand = self.base.version(on), self.cand.version(on)
        base_check = self.sets[0].input_check(base)
        cand_check = None if _same_inputs(base, cand) else self.sets[1].input_check(cand)
        found = self.days[date] = (on, base, cand, base_check, cand_check)
        return found

    def decide(self, partition: Partition) -> PartitionResult:
        """Every record, in order: validated once, decided by both sides, counted."""
        result, loads, day = self.result, orjson.loads, self.day
        base_decide, cand_decide, row_key = self.base.decide, self.cand.decide, self.keys.key
        base, cand, together = self.base, self.cand, self.together
        # counted as they come, not listed: a list of every row's key would keep the
        # garbage collector walking far more objects
        counted: dict[tuple[Any, ...], int] = {}
        count_of = counted.get
        # records come in date order: a date's share of the work is looked up when it changes
        last: bytes | None = None
        for record in partition.records:
            raw = loads(record[JSON_AT:])
            try:
                if record[:DATE_LEN] != last:
                    on, base_version, cand_version, base_check, cand_check = day(
                        record[:DATE_LEN])
                    last = record[:DATE_LEN]
                values = base_check(raw)
                if together:
                    base_out, base_fired, base_hist, cand_out, cand_fired, cand_hist = (
                        decide_both(base, cand, values, on))
                else:
                    cand_values = values if cand_check is None else cand_check(raw)
                    base_out, base_fired, base_hist = base_decide(base_version, values, on)
                    cand_out, cand_fired, cand_hist = cand_decide(cand_version, cand_values, on)
            except InputError as exc:
                result.bad.append((partition.line(record), "; ".join(
                    f"{p.field or '<row>'}: {p.message}" for p in exc.problems)))
                continue
            except EvaluationError as exc:
                result.bad.append((partition.line(record), f"cannot be decided: {exc}"))
                continue
            key = row_key(values, base_out, cand_out)
            counted[key] = count_of(key, 0) + 1
            if base_out != cand_out:
                self.changed(partition.line(record), values, (base_version, base_out,
                             base_fired, base_hist), (cand_version, cand_out, cand_fired,
                                                      cand_hist))
        result.rows = len(partition.records)
        self.tally(counted)
        return result

    def changed(self, line: int, values: dict[str, Any], base: tuple[Any, ...],
                cand: tuple[Any, ...]) -> None:
        """Keep a changed row with its reasons, when some phase shows the change."""
        plan = self.plan
        unit = values.get(plan.unit_input) if plan.unit_input else None
        first = plan.first_phase(unit)
        if first >= len(plan.phase_names):
            return
        (base_version, base_out, base_fired, base_hist) = base
        (cand_version, cand_out, cand_fired, cand_hist) = cand
        self.result.changed.append(ChangedRow(
            line, first, unit, self.numbers.values[base_out], self.numbers.values[cand_out],
            self.base.rule_ids(base_version, base_fired),
            self.cand.rule_ids(cand_version, cand_fired), base_version.compiled.version,
            cand_version.compiled.version, dict(base_hist), dict(cand_hist),
            _json_ready(values)))

    def tally(self, counted: dict[tuple[Any, ...], int]) -> None:
        """Row keys and output numbers turned into signatures, once per distinct key."""
        tally, signature, outputs = self.result.tally, self.keys.signature, self.numbers.values
        signatures = _signatures(self.plan)
        for key, times in counted.items():
            row = key[:-2]
            known = signatures.get(row)
            if known is None:
                known = signatures[row] = signature(row)
            found = (*known, outputs[key[-2]], outputs[key[-1]])
            tally[found] = tally.get(found, 0) + times


def _where_inputs(plan: Plan) -> list[tuple[tuple[str, Predicate], ...]]:
    """Per guard, the tests of its `where` that read inputs (outputs are tested later)."""
    out = []
    inputs = set(plan.input_types)
    for guard in plan.guards:
        tests = tuple((k, compile_condition(v)) for k, v in guard.spec.where.items()
                      if k in inputs)
        out.append(tests)
    return out
