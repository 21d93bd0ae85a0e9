"""One side of a simulation (baseline or candidate) deciding rows in date order.

Each run keeps its own A10 history: the deals *it* routed, per (customer,
office) pair, in a window of the policy's days. Outputs are numbered (one
numbering shared by both runs), so a row is tallied by two small integers and
"did this row change?" is an integer comparison.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from decision_service.simulation.conditions import Predicate, compile_condition
from decision_service.simulation.core import (
    HistoryTotal,
    PolicySet,
    PolicyVersion,
    final_outputs,
)

Fired = list[tuple[int, int]]
_NUMBERS = (int, float)  # a tuple: `int | float` builds a union object at every call


def _remembered(tests: tuple[tuple[str, Predicate], ...]
                ) -> Callable[[dict[str, Any]], bool]:
    """Whether every (name, test) holds on a row (or on final outputs), answered once
    per distinct value: A10's filters test a few enum values (a decision point, an
    outcome) on every row of both runs."""
    if not tests:
        return lambda values: True
    if len(tests) > 1:
        parts = [_remembered((test,)) for test in tests]
        return lambda values: all(part(values) for part in parts)
    ((name, test),) = tests
    seen: dict[tuple[type, Any], bool] = {}
    texts: dict[str, bool] = {}  # the usual case (an enum's code), without building a key

    def holds(values: dict[str, Any]) -> bool:
        value = values.get(name)
        if type(value) is str:
            known = texts.get(value)
            if known is None:
                known = texts[value] = test(value)
            return known
        key = (type(value), value)  # True and 1 are one dict key, not one value
        try:
            found = seen.get(key)
        except TypeError:  # unhashable (a list): tested each time
            return test(value)
        if found is None:
            found = seen[key] = test(value)
        return found

    return holds


class _History:
    """One A10 total as a run keeps it: its filters, and the deals in each group's window."""

    __slots__ = ("applies", "counts", "defined_as", "group_by", "low", "name", "read_group",
                 "split", "sum_field", "window", "windows")

    def __init__(self, total: HistoryTotal) -> None:
        self.name = total.name
        self.defined_as = (total.name, total.sum_field, total.group_by,
                           sorted(total.where_input.items()),
                           sorted(total.where_output.items()), total.window_days,
                           total.latest_per)
        self.sum_field = total.sum_field
        self.group_by = total.group_by
        self.applies = _remembered(tuple((k, compile_condition(v))
                                         for k, v in total.where_input.items()))
        self.counts = _remembered(tuple((k, compile_condition(v))
                                        for k, v in total.where_output.items()))
        self.window = dt.timedelta(days=total.window_days)
        self.low = dt.date.min  # the window's first day, for the date being decided
        # a group's window; runs decided together (``decide_both``) keep one for both
        # while they agree on the group, and one each (baseline, candidate) once not
        self.windows: dict[Any, Window] = {}
        self.split: dict[Any, tuple[Window, Window]] = {}  # paired runs that disagree
        self.read_group = _reader(total.group_by)


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


Memo = dict[Any, tuple[int, dict[str, Any]]]
_MEMOS: dict[tuple[int, int], tuple[PolicyVersion, OutputNumbers, Memo]] = {}


def _memo(version: PolicyVersion, numbers: OutputNumbers) -> Memo:
    """A version's final outputs by engine outputs and lookups, kept for the process:
    a worker decides many partitions, and each would otherwise work them out again."""
    key = (id(version), id(numbers))
    found = _MEMOS.get(key)
    if found is None or found[0] is not version or found[1] is not numbers:
        found = _MEMOS[key] = (version, numbers, {})
    return found[2]


# A group's deals in a run's window, oldest first: (date, amount, deal id). A plain
# list, not a deque: most groups hold one deal or none (a deque costs 600 bytes).
Window = list[tuple[dt.date, float, Any]]


def _window_total(window: Window, low: dt.date, deal: Any) -> tuple[float, bool]:
    """The deals of a group still in the window (from ``low``), but ``deal``'s own; and
    whether ``deal`` is in it (decided before, so its entry is replaced)."""
    if window[0][0] < low:
        stale = 1
        while stale < len(window) and window[stale][0] < low:
            stale += 1
        del window[:stale]
    # summed in date order each time: the same figure whatever the partitioning,
    # and no drift from running subtractions
    total = 0.0
    again = False
    for _, amount, other in window:
        if deal is None or other != deal:
            total += amount
        else:
            again = True
    return total, again


def _remember(applying: list[tuple[_History, Any, Window | None, bool]],
              values: dict[str, Any], final: dict[str, Any], on: dt.date, deal: Any) -> None:
    """Add the row to the windows of the totals it applies to, when it counts there."""
    for hist, key, window, again in applying:
        worth = values.get(hist.sum_field)
        _add(hist, key, window, again, isinstance(worth, _NUMBERS) and hist.counts(final),
             (on, worth, deal))


def _add(hist: _History, key: Any, window: Window | None, again: bool, counts: bool,
         entry: tuple[dt.date, Any, Any]) -> None:
    """One row's change to a group's window: its deal's earlier decision out, the row in
    when it counts (``entry``: date, amount, deal)."""
    on, worth, deal = entry
    if again and window is not None:
        # a deal decided again replaces its earlier decision (A10)
        window[:] = [earlier for earlier in window if earlier[2] != deal]
    if counts:
        if window is None:
            hist.windows[key] = [(on, float(worth), deal)]
        else:
            window.append((on, float(worth), deal))


class Run:
    """One side deciding rows in date order, with its own A10 history. Its final
    outputs are cached by engine outputs and the inputs lookups read (a few hundred
    distinct answers in a year of deals)."""

    def __init__(self, policies: PolicySet, name: str, version: str | None,
                 outputs: tuple[str, ...], numbers: OutputNumbers) -> None:
        self.policies = policies
        self.name = name
        self.fixed = policies.version(name, version) if version else None
        self.by_date: dict[dt.date, PolicyVersion] = {}
        self.outputs = outputs
        self.numbers = numbers
        latest = policies.versions[name][-1].compiled.policy
        self.histories = tuple(_History(h) for h in latest.history.values())
        self.totals: dict[str, float] = {}
        self.lookup_names = _lookup_inputs(latest)
        self.read_lookups = _reader(self.lookup_names)
        self.has_deal_id = "deal_id" in latest.inputs
        # the version deciding now (rows come in date order: it seldom changes)
        self.current: PolicyVersion | None = None
        self.on: dt.date | None = None  # the date being decided (rows come in date order)
        self.evaluate: Callable[..., Any] = lambda values, totals: None
        self.memo: dict[Any, tuple[int, dict[str, Any]]] = {}

    def version(self, on: dt.date) -> PolicyVersion:
        if self.fixed is not None:
            return self.fixed
        found = self.by_date.get(on)
        if found is None:
            found = self.by_date[on] = self.policies.version_for(self.name, on)
        return found

    def _use(self, version: PolicyVersion, on: dt.date) -> None:
        if version is not self.current:
            self.current = version
            self.evaluate = version.engines["compiled"].evaluate
            self.memo = _memo(version, self.numbers)
        if on is not self.on:
            self.on = on
            for hist in self.histories:
                hist.low = on - hist.window

    def decide(self, version: PolicyVersion, values: dict[str, Any],
               on: dt.date) -> tuple[int, Fired, dict[str, float]]:
        """The row's output number, the rules that fired and its A10 totals (a dict
        the next call reuses: copy it to keep it)."""
        if version is not self.current or on is not self.on:
            self._use(version, on)
        # On the hot path: plain loops, no generators; each A10 test evaluated once.
        totals = self.totals
        deal = values.get("deal_id") if self.has_deal_id else None
        applying: list[tuple[_History, Any, Window | None, bool]] | None = None
        for hist in self.histories:
            total: float = 0.0
            if hist.applies(values):
                key = hist.read_group(values)
                window = hist.windows.get(key)
                again = False
                if window:
                    total, again = _window_total(window, hist.low, deal)
                if applying is None:
                    applying = []
                applying.append((hist, key, window, again))
            totals[hist.name] = total
        number, final, fired = self.outputs_of(values, totals, self.read_lookups(values))
        if applying is not None:
            _remember(applying, values, final, on, deal)
        return number, fired, totals

    def outputs_of(self, values: dict[str, Any], totals: dict[str, float], lookups: Any
                   ) -> tuple[int, dict[str, Any], Fired]:
        """The row's output number, its final outputs and the rules that fired, by the
        version in use (``_use``) with these A10 totals (``lookups``: the row's inputs
        that lookup outputs read, ``read_lookups``)."""
        evaluation = self.evaluate(values, totals)
        memo_key = (tuple(evaluation.outputs.items()), lookups)
        found = self.memo.get(memo_key)
        if found is None:
            assert self.current is not None
            found = self._final(self.current, evaluation, values, memo_key)
        return found[0], found[1], evaluation.fired

    def _final(self, version: PolicyVersion, evaluation: Any, values: dict[str, Any],
               memo_key: Any) -> tuple[int, dict[str, Any]]:
        final = final_outputs(version.compiled, evaluation, values)
        number = self.numbers.number(tuple(_tuple(final[o]) for o in self.outputs))
        found = self.memo[memo_key] = (number, final)
        return found

    def rule_ids(self, version: PolicyVersion, fired: Fired) -> tuple[str, ...]:
        tables = version.compiled.tables
        return tuple(tables[t].rules[r].rule.id for t, r in fired)


def same_totals(base: Run, cand: Run) -> bool:
    """Whether two runs define their A10 totals and the inputs their lookups read alike
    (``decide_both`` needs it, with one fixed version each that take the same
    validated row)."""
    return (base.lookup_names == cand.lookup_names
            and [h.defined_as for h in base.histories] == [h.defined_as for h in cand.histories])


Both = tuple[int, Fired, dict[str, float], int, Fired, dict[str, float]]


def decide_both(base: Run, cand: Run, values: dict[str, Any], on: dt.date) -> Both:
    """``base.decide`` and ``cand.decide`` of one row (see ``same_totals``), with one A10
    window per group for both while they agree on which of its rows count: in a
    change of approval levels they always do, and keeping the window once saves
    half the A10 work. Once they disagree the group gets a window per run, copied
    from the shared one; the baseline's histories hold both."""
    if on is not base.on:
        base._use(base.fixed, on)  # type: ignore[arg-type]  # fixed: see same_totals
        cand._use(cand.fixed, on)  # type: ignore[arg-type]
    deal = values.get("deal_id") if base.has_deal_id else None
    base_totals, cand_totals = base.totals, cand.totals
    applying: list[tuple[_History, Any, Window | None, Window | None, bool, bool]] = []
    for hist in base.histories:
        base_total = cand_total = 0.0
        if hist.applies(values):
            key = hist.read_group(values)
            shared = hist.windows.get(key)
            apart = hist.split.get(key) if shared is None and hist.split else None
            base_again = cand_again = False
            if apart is None:
                if shared:
                    base_total, base_again = _window_total(shared, hist.low, deal)
                    cand_total, cand_again = base_total, base_again
                applying.append((hist, key, shared, None, base_again, cand_again))
            else:
                base_window, cand_window = apart
                if base_window:
                    base_total, base_again = _window_total(base_window, hist.low, deal)
                if cand_window:
                    cand_total, cand_again = _window_total(cand_window, hist.low, deal)
                applying.append((hist, key, base_window, cand_window, base_again, cand_again))
        base_totals[hist.name], cand_totals[hist.name] = base_total, cand_total
    lookups = base.read_lookups(values)  # the candidate's alike: see same_totals
    base_number, base_final, base_fired = base.outputs_of(values, base_totals, lookups)
    cand_number, cand_final, cand_fired = cand.outputs_of(values, cand_totals, lookups)
    if applying:
        _remember_both(applying, values, (base_final, cand_final), on, deal)
    return base_number, base_fired, base_totals, cand_number, cand_fired, cand_totals


def _remember_both(applying: list[tuple[_History, Any, Window | None, Window | None, bool,
                                        bool]],
                   values: dict[str, Any], finals: tuple[dict[str, Any], dict[str, Any]],
                   on: dt.date, deal: Any) -> None:
    """``_remember`` for runs decided together: one window while they agree. A group
    has one window for both (the candidate's given as None) or one each."""
    for hist, key, base_window, cand_window, base_again, cand_again in applying:
        worth = values.get(hist.sum_field)
        number = isinstance(worth, _NUMBERS)
        base_counts = number and hist.counts(finals[0])
        cand_counts = number and hist.counts(finals[1])
        entry = (on, worth, deal)
        if cand_window is None:
            if base_counts == cand_counts:  # still one window for both
                _add(hist, key, base_window, base_again, base_counts, entry)
                continue
            # they part here: each run goes on from its own copy of the window so far
            hist.windows.pop(key, None)
            base_window, cand_window = hist.split[key] = (list(base_window or ()),
                                                          list(base_window or ()))
        assert base_window is not None  # a group apart has a window for each run
        _add(hist, key, base_window, base_again, base_counts, entry)
        _add(hist, key, cand_window, cand_again, cand_counts, entry)
