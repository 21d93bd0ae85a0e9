"""One side of a simulation (baseline or candidate) deciding rows in date order.

Each run keeps its own A10 history: the deals *it* routed, per (customer,
office) pair, in a window of the policy's days. Outputs are numbered (one
numbering shared by both runs), so a row is tallied by two small integers and
"did this row change?" is an integer comparison.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from decision_service.simulation.conditions import Predicate, compile_condition
from decision_service.simulation.core import PolicySet, PolicyVersion, final_outputs

Fired = list[tuple[int, int]]


def _remembered(test: Predicate) -> Predicate:
    """``test`` answered once per distinct value: A10's filters test a few enum
    values (a decision point, an outcome) on every row of both runs."""
    seen: dict[tuple[type, Any], bool] = {}

    def check(value: Any) -> bool:
        key = (type(value), value)  # True and 1 are one dict key, not one value
        try:
            found = seen.get(key)
        except TypeError:  # unhashable (a list): tested each time
            return test(value)
        if found is None:
            found = seen[key] = test(value)
        return found

    return check


def _all_of(tests: tuple[tuple[str, Predicate], ...]) -> Callable[[dict[str, Any]], bool]:
    """Whether every (name, test) holds on a row (or on final outputs)."""
    remembered = tuple((name, _remembered(test)) for name, test in tests)
    if not remembered:
        return lambda values: True
    if len(remembered) == 1:
        (only, single), = remembered
        return lambda values: single(values.get(only))

    return lambda values: all(test(values.get(name)) for name, test in remembered)


@dataclass(frozen=True)
class _History:
    name: str
    sum_field: str
    group_by: tuple[str, ...]
    applies: Callable[[dict[str, Any]], bool]  # where_input, on the row
    counts: Callable[[dict[str, Any]], bool]  # where_output, on the final outputs
    window: dt.timedelta

    def key(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return (self.name, *[values.get(g) for g in self.group_by])


class OutputNumbers:
    """Output tuples by number; the same tuple always gets the same number."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[Any, ...], int] = {}
        self.values: list[tuple[Any, ...]] = []

    def number(self, outputs: tuple[Any, ...]) -> int:
        found = self.numbers.get(outputs)
        if found is None:
            found = self.numbers[outputs] = len(self.values)
            self.values.append(outputs)
        return found


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _lookup_inputs(policy: Any) -> tuple[str, ...]:
    """Inputs that lookup outputs read (approver_unit from office, business_group)."""
    names: list[str] = []
    for decl in policy.outputs.values():
        for value in decl.lookup_map.values():
            ref = getattr(value, "field", None)
            if isinstance(ref, str) and ref.split(".")[0] not in names:
                names.append(ref.split(".")[0])
    return tuple(names)


def _reader(names: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    """Several inputs of a row at once (a validated row holds every input it declares)."""
    if not names:
        return lambda values: None
    fast = itemgetter(*names)

    def read(values: dict[str, Any]) -> Any:
        try:
            return fast(values)
        except KeyError:
            return tuple([values.get(n) for n in names])

    return read


class _Decider:
    """One policy version: its engine, and its final outputs cached by engine outputs
    and the inputs lookups read (a few hundred distinct answers in a year of deals)."""

    def __init__(self, version: PolicyVersion, outputs: tuple[str, ...],
                 lookup_inputs: tuple[str, ...], numbers: OutputNumbers) -> None:
        self.version = version
        self.evaluate: Callable[..., Any] = version.engines["compiled"].evaluate
        self.outputs = outputs
        self.read_lookups = _reader(lookup_inputs)
        self.numbers = numbers
        self.memo: dict[Any, tuple[int, dict[str, Any]]] = {}

    def decide(self, values: dict[str, Any], totals: dict[str, float]
               ) -> tuple[int, dict[str, Any], Fired]:
        evaluation = self.evaluate(values, totals)
        key = (tuple(evaluation.outputs.items()), self.read_lookups(values))
        found = self.memo.get(key)
        if found is None:
            final = final_outputs(self.version.compiled, evaluation, values)
            number = self.numbers.number(tuple(_tuple(final[o]) for o in self.outputs))
            found = self.memo[key] = (number, final)
        return found[0], found[1], evaluation.fired


class Run:
    """One side deciding rows in date order, with its own A10 history."""

    def __init__(self, policies: PolicySet, name: str, version: str | None,
                 outputs: tuple[str, ...], numbers: OutputNumbers) -> None:
        self.policies = policies
        self.name = name
        self.fixed = policies.version(name, version) if version else None
        self.by_date: dict[dt.date, PolicyVersion] = {}
        self.outputs = outputs
        self.numbers = numbers
        self.deciders: dict[int, _Decider] = {}
        latest = policies.versions[name][-1].compiled.policy
        self.histories = tuple(
            _History(h.name, h.sum_field, h.group_by,
                     _all_of(tuple((k, compile_condition(v)) for k, v in h.where_input.items())),
                     _all_of(tuple((k, compile_condition(v))
                                   for k, v in h.where_output.items())),
                     dt.timedelta(days=h.window_days))
            for h in latest.history.values())
        self.windows: dict[Any, deque[tuple[dt.date, float, Any]]] = {}
        self.totals: dict[str, float] = {}
        self.lookup_inputs = _lookup_inputs(latest)
        self.has_deal_id = "deal_id" in latest.inputs

    def version(self, on: dt.date) -> PolicyVersion:
        if self.fixed is not None:
            return self.fixed
        found = self.by_date.get(on)
        if found is None:
            found = self.by_date[on] = self.policies.version_for(self.name, on)
        return found

    def decide(self, version: PolicyVersion, values: dict[str, Any],
               on: dt.date) -> tuple[int, Fired, dict[str, float]]:
        """The row's output number, the rules that fired and its A10 totals (a dict
        the next call reuses: copy it to keep it)."""
        decider = self.deciders.get(id(version))
        if decider is None:
            decider = self.deciders[id(version)] = _Decider(
                version, self.outputs, self.lookup_inputs, self.numbers)
        # On the hot path: plain loops, no generators; each A10 test evaluated once.
        totals = self.totals
        deal = values.get("deal_id") if self.has_deal_id else None
        applying: list[tuple[_History, Any]] | None = None
        for hist in self.histories:
            total: float = 0.0
            if hist.applies(values):
                key = hist.key(values)
                if applying is None:
                    applying = []
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
        number, final, fired = decider.decide(values, totals)
        if applying is not None:
            self._remember(applying, values, final, on, deal)
        return number, fired, totals

    def _remember(self, applying: list[tuple[_History, Any]], values: dict[str, Any],
                  final: dict[str, Any], on: dt.date, deal: Any) -> None:
        for hist, key in applying:
            window = self.windows.get(key)
            if window is None:
                window = self.windows[key] = deque()
            elif deal is not None:
                # a deal decided again replaces its earlier decision (A10)
                for entry in [e for e in window if e[2] == deal]:
                    window.remove(entry)
            worth = values.get(hist.sum_field)
            if isinstance(worth, int | float) and hist.counts(final):
                window.append((on, float(worth), deal))

    def rule_ids(self, version: PolicyVersion, fired: Fired) -> tuple[str, ...]:
        tables = version.compiled.tables
        return tuple(tables[t].rules[r].rule.id for t, r in fired)
