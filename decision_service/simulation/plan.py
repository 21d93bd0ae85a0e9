"""A scenario checked against its policies and turned into a plan workers can run.

Everything a worker needs travels in the plan as plain data (policy texts, not
paths), so a Dask worker on another machine needs nothing but the package.
Every problem found here points at the scenario line that caused it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decision_service.language.model import OrgTree
from decision_service.simulation.conditions import ConditionError, compile_condition
from decision_service.simulation.core import (
    PolicyError,
    PolicySet,
    Position,
    Problems,
    default_policies_dir,
    read_policy_dir,
)
from decision_service.simulation.scenario import GuardSpec, Scenario, SegmentSpec

# value bands of a money input when a scenario names `value_band` without edges
DEFAULT_VALUE_EDGES = (1_000_000.0, 2_000_000.0, 20_000_000.0, 100_000_000.0, 300_000_000.0)
SEGMENT_ALIASES = {"tier": "customer_tier"}


@dataclass(frozen=True)
class Segment:
    """How a row's segment value is found: from the region of its unit, an input,
    or a band of a number input."""

    name: str
    kind: str  # region | input | band
    input: str | None
    edges: tuple[float, ...] = ()


@dataclass(frozen=True)
class Guard:
    spec: GuardSpec
    per: Segment | None


@dataclass(frozen=True)
class Plan:
    scenario: Scenario
    policy: str
    baseline_texts: dict[str, str]
    candidate_texts: dict[str, str]
    baseline_version: str | None
    candidate_version: str | None
    unit_input: str | None
    date_input: str | None
    outputs: tuple[str, ...]
    output_orderings: dict[str, tuple[str, ...]]  # ordered outputs, lowest first
    enum_outputs: tuple[str, ...]  # outputs with a small fixed set of values
    input_types: dict[str, str]  # for reading CSV cells
    group_by: tuple[str, ...]  # A10: rows sharing these values are decided together
    money_input: str | None  # the value a deal is worth, for "top changed deals"
    office_phase: dict[str, int]  # office -> index of the first phase that reaches it
    everyone_from: int | None  # first phase with units: all
    phase_names: tuple[str, ...]
    phase_units: tuple[tuple[str, ...] | None, ...]
    region_of: dict[str, str]
    unit_names: dict[str, tuple[str, str]]  # code -> (zh, en)
    segments: tuple[Segment, ...]
    guards: tuple[Guard, ...]
    today: dt.date

    def first_phase(self, office: Any) -> int:
        """Index of the first phase whose units hold this office; len(phases) if none."""
        found = self.office_phase.get(office)
        if found is None:
            return self.everyone_from if self.everyone_from is not None else len(
                self.phase_names)
        if self.everyone_from is not None:
            return min(found, self.everyone_from)
        return found


def _texts(side_dir: Path | None, problems: Problems, where: Position) -> dict[str, str]:
    directory = side_dir or default_policies_dir()
    try:
        return read_policy_dir(directory)
    except PolicyError as exc:
        for problem in exc.problems:
            problems.add(where, problem.code, f"{directory}: {problem.message}")
        return {}


_COMPILED: dict[int, tuple[PolicySet, PolicySet]] = {}


def policy_sets(baseline: dict[str, str], candidate: dict[str, str]) -> tuple[PolicySet,
                                                                              PolicySet]:
    """Baseline and candidate compiled once per process: compiling and checking a
    policy set costs seconds, and a run needs it to plan, decide and report."""
    key = hash((tuple(sorted(baseline.items())), tuple(sorted(candidate.items()))))
    found = _COMPILED.get(key)
    if found is None:
        base = PolicySet.from_texts(baseline, ("compiled",))
        cand = base if candidate == baseline else PolicySet.from_texts(candidate, ("compiled",))
        found = _COMPILED[key] = (base, cand)
    return found


def make_plan(scenario: Scenario) -> Plan:
    """Check ``scenario`` against its policies; ``PolicyError`` at its lines if not runnable."""
    problems = Problems()
    pos = scenario.positions
    top = scenario.position
    base_texts = _texts(scenario.baseline.policies, problems, scenario.baseline.position)
    cand_texts = _texts(scenario.candidate.policies, problems, scenario.candidate.position)
    problems.raise_if_any()
    # a broken policy set raises with its own positions
    baseline, candidate = policy_sets(base_texts, cand_texts)
    return _plan(scenario, baseline, candidate, base_texts, cand_texts, problems,
                 pos.get("policy", top))


def _plan(scenario: Scenario, baseline: PolicySet, candidate: PolicySet,
          base_texts: dict[str, str], cand_texts: dict[str, str], problems: Problems,
          policy_at: Position) -> Plan:
    """The plan in stages: the policy and versions named exist, the phases' units,
    the A10 grouping the phases must keep, segments and guards, the corpus."""
    name = scenario.policy
    _check_policy_and_versions(scenario, baseline, candidate, problems, policy_at)
    latest = baseline.versions[name][-1].compiled
    policy = latest.policy
    org = baseline.org
    offices = set(org.codes("office"))
    unit_input = policy.meta.unit_input
    office_phase, everyone_from = _phase_of_offices(scenario, org, unit_input, problems)
    history = list(policy.history.values())
    group_by: tuple[str, ...] = history[0].group_by if history else ()
    if history and unit_input is not None and unit_input not in group_by and office_phase:
        problems.add(scenario.positions.get("phases", scenario.position), "phases_split_a10",
                     f"A10 totals of {name} are not grouped by {unit_input}: a phase by "
                     "units would split them")
    outputs = tuple(policy.outputs)
    orderings = {o: tuple(latest.output_orderings[o].values) for o in latest.output_orderings}
    enum_outputs = tuple(o for o, d in policy.outputs.items()
                         if d.type == "enum" or o in orderings)
    input_types = {n: str(d.type) for n, d in policy.inputs.items()}
    segment_names = _segment_names(policy.inputs, unit_input)
    segments = tuple(s for s in (_segment(spec, segment_names, policy.inputs, unit_input,
                                          problems) for spec in scenario.segments) if s)
    guards = tuple(_guard(g, policy, orderings, segment_names, unit_input, problems)
                   for g in scenario.guards)
    corpus = scenario.corpus
    if corpus.kind == "file" and (corpus.path is None or not corpus.path.is_file()):
        problems.add(corpus.position, "missing_corpus", f"no such corpus file: {corpus.path}")
    problems.raise_if_any()
    money = history[0].sum_field if history else next(
        (n for n, d in policy.inputs.items() if d.type == "number"), None)
    today = scenario.today or dt.datetime.now(dt.UTC).date()
    return Plan(
        scenario=scenario, policy=name, baseline_texts=base_texts, candidate_texts=cand_texts,
        baseline_version=scenario.baseline.version,
        candidate_version=scenario.candidate.version, unit_input=unit_input,
        date_input=policy.meta.decision_date_input, outputs=outputs,
        output_orderings=orderings, enum_outputs=enum_outputs, input_types=input_types,
        group_by=group_by, money_input=money, office_phase=office_phase,
        everyone_from=everyone_from, phase_names=tuple(p.name for p in scenario.phases),
        phase_units=tuple(p.units for p in scenario.phases),
        region_of={o: org.region_of(o) or "" for o in offices},
        unit_names={code: (u.name.zh, u.name.en) for code, u in org.units.items()},
        segments=segments, guards=guards, today=today)


def _check_policy_and_versions(scenario: Scenario, baseline: PolicySet,
                               candidate: PolicySet, problems: Problems,
                               policy_at: Position) -> None:
    name = scenario.policy
    for policies in (baseline, candidate):
        if name not in policies.versions:
            problems.add(policy_at, "unknown_policy",
                         f"unknown policy {name!r}; known: {', '.join(policies.names())}")
            problems.raise_if_any()
    for side, policies in ((scenario.baseline, baseline), (scenario.candidate, candidate)):
        if side.version is not None and (name, side.version) not in {
                (n, v.compiled.version) for n, vs in policies.versions.items() for v in vs}:
            known = ", ".join(v.compiled.version for v in policies.versions[name])
            problems.add(side.position, "unknown_version",
                         f"{name} has no version {side.version!r}; known: {known}")
    problems.raise_if_any()


def _phase_of_offices(scenario: Scenario, org: OrgTree, unit_input: str | None,
                      problems: Problems) -> tuple[dict[str, int], int | None]:
    """The phase each office joins in (a region's phase for its offices), and the first
    phase that takes everyone."""
    offices = set(org.codes("office"))
    regions = {code: [o for o in offices if org.region_of(o) == code]
               for code in org.codes("region")}
    office_phase: dict[str, int] = {}
    everyone_from: int | None = None
    seen: dict[str, str] = {}
    for index, phase in enumerate(scenario.phases):
        if phase.units is None:
            everyone_from = index if everyone_from is None else everyone_from
            continue
        if unit_input is None:
            problems.add(phase.position, "no_unit",
                         f"policy {scenario.policy} has no unit input: its phases can only "
                         "be `all`")
            continue
        for unit, at in zip(phase.units, phase.unit_positions, strict=True):
            if unit in seen:
                problems.add(at, "duplicate_unit",
                             f"unit {unit} is listed twice (already in phase {seen[unit]!r})")
                continue
            seen[unit] = phase.name
            if unit in offices:
                office_phase.setdefault(unit, index)
            elif unit in regions:
                for office in regions[unit]:
                    office_phase.setdefault(office, index)
            else:
                problems.add(at, "unknown_unit",
                             f"unknown unit {unit!r}: a phase lists offices or regions")
    if len({p.name for p in scenario.phases}) != len(scenario.phases):
        problems.add(scenario.positions.get("phases", scenario.position), "duplicate_phase",
                     "two phases have the same name")
    return office_phase, everyone_from


def _segment_names(inputs: dict[str, Any], unit_input: str | None) -> set[str]:
    names = set(inputs) | {"value_band"}
    if unit_input is not None:
        names |= {"region", "unit"}
    names |= {alias for alias, target in SEGMENT_ALIASES.items() if target in inputs}
    return names


def _segment(spec: SegmentSpec, known: set[str], inputs: dict[str, Any],
             unit_input: str | None, problems: Problems) -> Segment | None:
    if spec.input is not None:
        decl = inputs.get(spec.input)
        if decl is None or (spec.edges and decl.type not in ("number", "integer")):
            problems.add(spec.position, "unknown_segment",
                         f"segment {spec.name!r}: no input {spec.input!r}"
                         + (" that is a number" if decl is not None else ""))
            return None
        return Segment(spec.name, "band" if spec.edges else "input", spec.input,
                       tuple(sorted(spec.edges)))
    return resolve_segment(spec.name, known, inputs, unit_input, spec.position, problems)


def resolve_segment(name: str, known: set[str], inputs: dict[str, Any], unit_input: str | None,
                    where: Position, problems: Problems) -> Segment | None:
    if name not in known:
        problems.add(where, "unknown_segment",
                     f"unknown segment {name!r}; known: {', '.join(sorted(known))}")
        return None
    if name == "region":
        return Segment("region", "region", unit_input)
    if name == "unit":
        return Segment("unit", "input", unit_input)
    if name == "value_band":
        money = next((n for n, d in inputs.items() if d.type == "number"), None)
        if money is None:
            problems.add(where, "unknown_segment", "value_band needs a number input")
            return None
        return Segment("value_band", "band", money, DEFAULT_VALUE_EDGES)
    return Segment(name, "input", SEGMENT_ALIASES.get(name, name))


def _guard(spec: GuardSpec, policy: Any, orderings: dict[str, tuple[str, ...]],
           segment_names: set[str], unit_input: str | None, problems: Problems) -> Guard:
    """One guard checked: its shape for its metric, the values it names, its `where`."""
    _check_guard_shape(spec, policy, problems)
    _check_guard_values(spec, policy.outputs, orderings, problems)
    _check_guard_where(spec, policy, problems)
    per = None
    if spec.per is not None:
        per = resolve_segment(spec.per, segment_names, policy.inputs, unit_input,
                              spec.position, problems)
    return Guard(spec, per)


def _check_guard_shape(spec: GuardSpec, policy: Any, problems: Problems) -> None:
    outputs = policy.outputs
    if spec.output is not None and spec.output not in outputs:
        problems.add(spec.position, "unknown_output",
                     f"guard {spec.name!r}: {policy.meta.id} has no output {spec.output!r}; "
                     f"outputs: {', '.join(outputs)}")
    if spec.metric in ("share", "count"):
        if spec.output is None or (spec.at_least is None) == (not spec.has_value):
            problems.add(spec.position, "guard_shape",
                         f"guard {spec.name!r}: {spec.metric} needs an output and one of "
                         "value or at_least")
        allowed = {"share": ("max_rise_points",), "count": ("max_rise_pct", "max")}
        if spec.limit_kind not in allowed[spec.metric]:
            problems.add(spec.position, "guard_limit",
                         f"guard {spec.name!r}: {spec.metric} takes "
                         f"{' or '.join(allowed[spec.metric])}")
    elif spec.limit_kind not in ("max", "max_pct"):
        problems.add(spec.position, "guard_limit",
                     f"guard {spec.name!r}: changed takes max or max_pct")


def _check_guard_values(spec: GuardSpec, outputs: Any, orderings: dict[str, tuple[str, ...]],
                        problems: Problems) -> None:
    if spec.at_least is not None and spec.output is not None and spec.output in outputs:
        ordering = orderings.get(spec.output)
        if ordering is None:
            problems.add(spec.position, "not_ordered",
                         f"guard {spec.name!r}: output {spec.output} has no order for at_least")
        elif spec.at_least not in ordering:
            problems.add(spec.position, "unknown_value",
                         f"guard {spec.name!r}: {spec.at_least!r} is not one of "
                         f"{', '.join(ordering)}")
    if spec.has_value and spec.output is not None and spec.output in outputs:
        values = outputs[spec.output].values or orderings.get(spec.output, ())
        if values and spec.value is not None and spec.value not in values:
            problems.add(spec.position, "unknown_value",
                         f"guard {spec.name!r}: {spec.value!r} is not a value of "
                         f"{spec.output}: {', '.join(values)}")


def _check_guard_where(spec: GuardSpec, policy: Any, problems: Problems) -> None:
    outputs = policy.outputs
    for key, written in spec.where.items():
        at = spec.where_positions.get(key, spec.position)
        side, _, bare = key.partition(".") if key.startswith(("baseline.", "candidate.")) \
            else ("", "", key)
        if bare not in policy.inputs and bare not in outputs:
            problems.add(at, "unknown_field",
                         f"guard {spec.name!r}: where {key!r} names no input or output")
        elif side and bare not in outputs:
            problems.add(at, "unknown_output", f"guard {spec.name!r}: {bare!r} is not an output")
        try:
            compile_condition(written)
        except ConditionError as exc:
            problems.add(at, "bad_condition", f"guard {spec.name!r}: {exc}")
