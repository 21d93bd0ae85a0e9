"""Static checks of compiled tables: rules that can never fire, gaps and
overlaps in ``unique`` tables, conflicting ``any`` tables, and declared
monotonicity ("a larger contract value never needs a lower level").

Cells are unions of intervals and sets, so a table's behaviour only changes at
the values its cells mention. Testing every combination of those values, the
points just beside them, and "absent" for optional fields, under every distinct
set of unit parameters, decides these questions exactly for the tables we
write. Tables whose combinations exceed ``MAX_POINTS`` are left unchecked
rather than slowing every load.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from decision_service.compiler.compile import CompiledPolicy, CompiledRule, CompiledTable, FieldInfo
from decision_service.compiler.figures import (
    FigureSource,
    UnitGroup,
    describe_units,
    figure_list,
    regroup,
    unit_groups,
)
from decision_service.compiler.hit_policies import contribution
from decision_service.compiler.ir import AnyOf, Atom, Const, Fact, Field, holds
from decision_service.errors import EvaluationError, Position, Problems

MAX_POINTS = 60_000
_ABSENT = object()


def _field_index(compiled: CompiledPolicy) -> dict[str, FieldInfo]:
    index = {info.key: info for info in compiled.fields.values()}
    for info in compiled.fields.values():
        if info.kind == "list":
            for member in info.values:
                index[f"{info.key}__{member}"] = FieldInfo(
                    f"{info.name} contains {member}", f"{info.key}__{member}", "boolean",
                    "input", optional=info.optional)
    return index


def _samples(info: FieldInfo, constants: set[Any]) -> list[Any]:
    values: list[Any]
    if info.kind in ("number", "integer", "date"):
        step = 1 if info.kind in ("integer", "date") else 0.001
        values = sorted({v + d for v in constants for d in (-step, 0, step)})
        values = values or [0]
    elif info.kind == "boolean":
        values = [True, False]
    elif info.kind == "ordered":
        assert info.ordering is not None
        values = list(range(len(info.ordering.values)))
    else:
        values = sorted(constants, key=str)
        others = [v for v in info.values if v not in constants][:1] or ["\0other"]
        values += others
    if info.optional:
        values.append(_ABSENT)
    return values


def _within_bounds(info: FieldInfo, samples: list[Any],
                   bounds: dict[str, tuple[Any, Any]]) -> list[Any]:
    """Drop samples an input's declared min/max make impossible (no false gaps)."""
    low, high = bounds.get(info.name, (None, None))
    return [s for s in samples
            if not isinstance(s, int | float) or isinstance(s, bool)
            or ((low is None or s >= low) and (high is None or s <= high))]


def _bounds(compiled: CompiledPolicy) -> dict[str, tuple[Any, Any]]:
    return {
        name: (decl.minimum if isinstance(decl.minimum, int | float) else None,
               decl.maximum if isinstance(decl.maximum, int | float) else None)
        for name, decl in compiled.policy.inputs.items()
    }


def _constants(table: CompiledTable,
               parameter_sets: list[dict[str, Any]]) -> dict[str, set[Any]]:
    """Each field's values the table's rules compare it with (parameters in every set)."""
    constants: dict[str, set[Any]] = {}
    for rule in table.rules:
        for atom in rule.atoms:
            bucket = constants.setdefault(atom.field, set())
            if isinstance(atom, AnyOf):
                bucket.update(atom.values)
            elif isinstance(atom.operand, Const):
                bucket.add(atom.operand.value)
            elif isinstance(atom.operand, Field):
                bucket.update(p[atom.operand.name] for p in parameter_sets
                              if atom.operand.name in p)
    return constants


@dataclass(frozen=True, slots=True)
class _Grid:
    """Every combination of a table's samples under one set of figures: each point as
    its axis values (``_ABSENT`` where an optional field is left out) and the rules it
    fires. A point's fact is built only where a problem names it."""

    keys: list[str]  # the axes: fields the table's rules compare, figures apart
    params: dict[str, Any]  # the figures, as the engines hold them
    points: list[tuple[tuple[Any, ...], list[CompiledRule]]]

    def fact(self, values: tuple[Any, ...]) -> Fact:
        fact: Fact = dict(self.params)
        for key, value in zip(self.keys, values, strict=True):
            if value is not _ABSENT:
                fact[key] = value
        return fact


def _grid(table: CompiledTable, index: dict[str, FieldInfo], params: dict[str, Any],
          bounds: dict[str, tuple[Any, Any]]) -> _Grid | None:
    constants = _constants(table, [params])
    keys = sorted(k for k in constants if k not in params)
    axes = [_within_bounds(index[k], _samples(index[k], constants[k]), bounds) for k in keys]
    size = 1
    for axis in axes:
        size *= len(axis)
    if size > MAX_POINTS:
        return None
    grid = _Grid(keys, params, [])
    masks = _RuleMasks(table.rules, keys, axes, params)
    # Two products over the same lengths, in step: a point's values and their masks.
    for values, column_masks in zip(itertools.product(*axes),
                                    itertools.product(*masks.columns), strict=True):
        fired = masks.always
        for mask in column_masks:
            fired &= mask
        grid.points.append((values, masks.hits(fired, values, grid)))
    return grid


class _RuleMasks:
    """Which rules each sample allows, as bit masks, so a point's hits are an AND of
    one mask per axis instead of every atom of every rule tested at every point.

    Exact, because an atom reads at most its field and its operand field, and every
    other field of a point is a figure (fixed here) or absent: an atom on one axis
    is decided per sample of that axis, one on none once; the rare atom comparing
    two axes (an input with another input) is left to ``holds`` at each point."""

    def __init__(self, rules: Sequence[CompiledRule], keys: list[str], axes: list[list[Any]],
                 params: dict[str, Any]) -> None:
        self.rules = rules
        every = (1 << len(rules)) - 1
        self.always = every
        self.columns = [[every] * len(axis) for axis in axes]
        self.residual: list[tuple[int, list[Atom]]] = []  # (bit, atoms over two axes)
        axis_of = {key: n for n, key in enumerate(keys)}
        for position, rule in enumerate(rules):
            bit = 1 << position
            pairs = []
            for atom in rule.atoms:
                names = {atom.field}
                if not isinstance(atom, AnyOf) and isinstance(atom.operand, Field):
                    names.add(atom.operand.name)
                on = [axis_of[name] for name in names if name in axis_of]
                if len(on) > 1:
                    pairs.append(atom)
                elif not on and not holds(atom, dict(params)):
                    self.always &= ~bit
                elif on:
                    self._narrow(on[0], axes, keys, atom, params, bit)
            if pairs:
                self.residual.append((bit, pairs))

    def _narrow(self, axis: int, axes: list[list[Any]], keys: list[str], atom: Atom,
                params: dict[str, Any], bit: int) -> None:
        column = self.columns[axis]
        for n, value in enumerate(axes[axis]):
            fact = dict(params)
            if value is not _ABSENT:
                fact[keys[axis]] = value
            if not holds(atom, fact):
                column[n] &= ~bit

    def hits(self, fired: int, values: tuple[Any, ...], grid: _Grid) -> list[CompiledRule]:
        fact = None
        for bit, atoms in self.residual:
            if fired & bit:
                fact = fact or grid.fact(values)
                if not all(holds(atom, fact) for atom in atoms):
                    fired &= ~bit
        found = []
        while fired:
            low = fired & -fired
            found.append(self.rules[low.bit_length() - 1])
            fired ^= low
        return found


def _describe(fact: Fact, index: dict[str, FieldInfo], table: CompiledTable) -> str:
    used = {a.field for r in table.rules for a in r.atoms}
    parts = []
    for key in sorted(used):
        info = index.get(key)
        if info is None or info.source == "parameter":
            continue
        value = fact.get(key, "absent")
        if info.ordering is not None and isinstance(value, int):
            value = info.ordering.values[value]
        parts.append(f"{info.name}={value}")
    return ", ".join(parts)


def static_checks(compiled: CompiledPolicy, problems: Problems) -> None:
    """Check every table and declared ordering with the figures of every unit.

    Units that see the same figures are checked once. A problem that every
    unit has is reported once at the rule; one that only some units have is
    reported where their figures are set, naming the units, the version and
    each figure with the place that sets it.
    """
    index = _field_index(compiled)
    bounds = _bounds(compiled)
    all_groups = unit_groups(compiled.policy, compiled.org)
    for table in compiled.tables:
        groups = regroup(all_groups, _table_parameters(compiled, table))
        found: dict[tuple[str, Position], tuple[str, list[int]]] = {}
        for g_index, group in enumerate(groups):
            grid = _grid(table, index, _engine_parameters(compiled, group), bounds)
            if grid is None:
                continue
            local = Problems()
            _check_table(compiled, table, grid, index, local)
            for item in local.items:
                entry = found.setdefault((item.code, item.position), (item.message, []))
                entry[1].append(g_index)
        for (code, position), (message, members) in found.items():
            _report(compiled, groups, members, table, code, position, message, problems)
    check_orderings(compiled, all_groups, problems)


def _check_table(compiled: CompiledPolicy, table: CompiledTable,
                 grid: _Grid, index: dict[str, FieldInfo], problems: Problems) -> None:
    hit = table.table.hit
    ever_matched: set[int] = set()
    ever_won: set[int] = set()
    reported: set[str] = set()
    for values, hits in grid.points:
        ever_matched.update(r.index for r in hits)
        if hits:
            ever_won.add(hits[0].index)
        if hit == "unique" and not table.table.when and not hits and "gap" not in reported:
            reported.add("gap")
            problems.add(table.table.position, "unique_gap",
                         f"table {table.table.id} is unique but no rule matches "
                         f"{_describe(grid.fact(values), index, table)}")
        if hit in ("unique", "any") and len(hits) > 1:
            try:
                contribution(table, hits)
            except EvaluationError as exc:
                key = f"{hits[0].index}-{hits[1].index}"
                if key not in reported:
                    reported.add(key)
                    problems.add(hits[1].rule.position, "overlap",
                                 f"{exc.problem.message}, e.g. for "
                                 f"{_describe(grid.fact(values), index, table)}")
    for rule in table.rules:
        if rule.index not in ever_matched:
            problems.add(rule.rule.position, "unreachable_rule",
                         f"rule {rule.rule.id} can never fire: its conditions cannot all hold")
        elif hit == "first" and rule.index not in ever_won:
            problems.add(rule.rule.position, "unreachable_rule",
                         f"rule {rule.rule.id} can never fire: earlier rules of table "
                         f"{table.table.id} match every case it matches")
    for field_name, direction in table.table.monotonic.items():
        _check_monotonic(compiled, table, grid, field_name, direction, problems)


def _check_monotonic(compiled: CompiledPolicy, table: CompiledTable,
                     grid: _Grid, field_name: str, direction: str, problems: Problems) -> None:
    info = compiled.fields.get(field_name)
    output = table.table.outputs[0]
    if info is None or table.ordered_output is None:
        problems.add(table.table.position, "bad_monotonic",
                     f"table {table.table.id}: monotonic needs a known field and an output "
                     "with an ordering")
        return
    # Points alike but for the field form one series; the figures are one set here.
    axis = grid.keys.index(info.key) if info.key in grid.keys else None
    groups: dict[tuple[Any, ...], list[tuple[Any, int]]] = {}
    for values, hits in grid.points:
        value = grid.params.get(info.key) if axis is None else values[axis]
        if value is None or value is _ABSENT or not hits:
            continue
        try:
            result = contribution(table, hits)[0].get(output)
        except EvaluationError:
            continue  # an overlap, reported by _check_table already
        if not isinstance(result, int):
            continue
        rest = values if axis is None else values[:axis] + values[axis + 1:]
        groups.setdefault(rest, []).append((value, result))
    ordering = table.ordered_output
    for series in groups.values():
        series.sort()
        for (v1, r1), (v2, r2) in itertools.pairwise(series):
            wrong = r2 < r1 if direction == "increasing" else r2 > r1
            if wrong:
                problems.add(table.table.position, "not_monotonic",
                             f"table {table.table.id} is declared {direction} in {field_name}, "
                             f"but {field_name}={v2} gives {ordering.values[r2]} where "
                             f"{field_name}={v1} gives {ordering.values[r1]}")
                return


def _engine_parameters(compiled: CompiledPolicy, group: UnitGroup) -> dict[str, Any]:
    """A group's figures as the engines hold them (fact keys, ordinals)."""
    return compiled.parameters_by_unit.get(group.units[0], compiled.default_parameters)


def _table_parameters(compiled: CompiledPolicy, table: CompiledTable) -> list[str]:
    keys = {atom.operand.name for rule in table.rules for atom in rule.atoms
            if not isinstance(atom, AnyOf) and isinstance(atom.operand, Field)}
    return [name for name in compiled.policy.parameters if compiled.fields[name].key in keys]


def _report(compiled: CompiledPolicy, groups: list[UnitGroup], members: list[int],
            table: CompiledTable, code: str, position: Position, message: str,
            problems: Problems) -> None:
    version = compiled.version
    names = _table_parameters(compiled, table)
    if len(members) == len(groups):
        figures = [groups[0].figures[n] for n in names]
        where = f" (figures: {figure_list(compiled.org, figures)})" if figures else ""
        problems.add(position, code, f"version {version}: {message}{where}")
        return
    for g_index in members:
        group = groups[g_index]
        figures = [group.figures[n] for n in names]
        units = describe_units(compiled.org, group.units)
        problems.add(_latest(figures, position), code,
                     f"version {version}, for {units}: {message} "
                     f"(figures: {figure_list(compiled.org, figures)})")


def _latest(figures: list[FigureSource], fallback: Position) -> Position:
    """Where the owner acts: the unit setting among the figures, else the rule."""
    settings = [f for f in figures if f.setting is not None]
    return settings[-1].position if settings else fallback


def check_orderings(compiled: CompiledPolicy, all_groups: list[UnitGroup],
                    problems: Problems) -> None:
    """Declared orderings of parameters, for every group of units."""
    policy = compiled.policy
    for ordering in policy.orderings:
        unknown = [n for n in ordering.names if n not in policy.parameters]
        for name in unknown:
            problems.add(ordering.position, "unknown_parameter",
                         f"orderings: {name!r} is not a parameter")
        if unknown:
            continue
        failing: dict[tuple[str, str], list[int]] = {}
        groups = regroup(all_groups, list(ordering.names))
        for g_index, group in enumerate(groups):
            for low, high in itertools.pairwise(ordering.names):
                if not _in_order(group.figures[low].value, group.figures[high].value,
                                 ordering.direction, ordering.strict):
                    failing.setdefault((low, high), []).append(g_index)
        for (low, high), members in failing.items():
            _report_ordering(compiled, groups, members, ordering.direction, low, high,
                             problems)


def _in_order(first: Any, second: Any, direction: str, strict: bool) -> bool:
    if direction == "falling":
        first, second = second, first
    return bool(first < second) if strict else bool(first <= second)


def _report_ordering(compiled: CompiledPolicy, groups: list[UnitGroup], members: list[int],
                     direction: str, low: str, high: str, problems: Problems) -> None:
    word = "below" if direction == "rising" else "above"
    every = len(members) == len(groups)
    for g_index in members[:1] if every else members:
        group = groups[g_index]
        figures = [group.figures[low], group.figures[high]]
        units = "every unit" if every else describe_units(compiled.org, group.units)
        position = _culprit(compiled, figures)
        problems.add(position, "ordering",
                     f"version {compiled.version}, for {units}: {low} must be {word} {high} "
                     f"({direction}), but {figure_list(compiled.org, figures)}")


def _culprit(compiled: CompiledPolicy, figures: list[FigureSource]) -> Position:
    """The figure written last: a unit setting, else the latest version's default."""
    versions = [version for version, _ in compiled.policy.lineage]

    def recency(figure: FigureSource) -> tuple[bool, int]:
        rank = versions.index(figure.version) if figure.version in versions else -1
        return figure.setting is not None, rank

    return max(figures, key=recency).position
