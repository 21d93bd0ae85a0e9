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
from collections.abc import Iterator
from typing import Any

from decision_service.compiler.compile import CompiledPolicy, CompiledRule, CompiledTable, FieldInfo
from decision_service.compiler.hit_policies import contribution
from decision_service.compiler.ir import AnyOf, Const, Fact, Field, holds
from decision_service.errors import EvaluationError, Problems

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


def _parameter_sets(compiled: CompiledPolicy) -> list[dict[str, Any]]:
    distinct: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
    for params in [compiled.default_parameters, *compiled.parameters_by_unit.values()]:
        distinct.setdefault(tuple(sorted(params.items())), params)
    return list(distinct.values())


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


def _points(table: CompiledTable, index: dict[str, FieldInfo],
            parameter_sets: list[dict[str, Any]],
            bounds: dict[str, tuple[Any, Any]]) -> Iterator[tuple[Fact, dict[str, Any]]] | None:
    constants = _constants(table, parameter_sets)
    parameter_keys = {k for params in parameter_sets for k in params}
    keys = sorted(k for k in constants if k not in parameter_keys)
    axes = [_within_bounds(index[k], _samples(index[k], constants[k]), bounds) for k in keys]
    size = len(parameter_sets)
    for axis in axes:
        size *= len(axis)
    if size > MAX_POINTS:
        return None

    def generate() -> Iterator[tuple[Fact, dict[str, Any]]]:
        for params in parameter_sets:
            for combo in itertools.product(*axes):
                fact: Fact = dict(params)
                for key, value in zip(keys, combo, strict=True):
                    if value is not _ABSENT:
                        fact[key] = value
                yield fact, params

    return generate()


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
    index = _field_index(compiled)
    parameter_sets = _parameter_sets(compiled)
    bounds = _bounds(compiled)
    for table in compiled.tables:
        points = _points(table, index, parameter_sets, bounds)
        if points is None:
            continue
        _check_table(compiled, table, list(points), index, problems)


def _check_table(compiled: CompiledPolicy, table: CompiledTable,
                 points: list[tuple[Fact, dict[str, Any]]], index: dict[str, FieldInfo],
                 problems: Problems) -> None:
    hit = table.table.hit
    ever_matched: set[int] = set()
    ever_won: set[int] = set()
    reported: set[str] = set()
    for fact, _params in points:
        hits = [rule for rule in table.rules if matches_rule(rule, fact)]
        ever_matched.update(r.index for r in hits)
        if hits:
            ever_won.add(hits[0].index)
        if hit == "unique" and not table.table.when and not hits and "gap" not in reported:
            reported.add("gap")
            problems.add(table.table.position, "unique_gap",
                         f"table {table.table.id} is unique but no rule matches "
                         f"{_describe(fact, index, table)}")
        if hit in ("unique", "any") and len(hits) > 1:
            try:
                contribution(table, hits)
            except EvaluationError as exc:
                key = f"{hits[0].index}-{hits[1].index}"
                if key not in reported:
                    reported.add(key)
                    problems.add(hits[1].rule.position, "overlap",
                                 f"{exc.problem.message}, e.g. for "
                                 f"{_describe(fact, index, table)}")
    for rule in table.rules:
        if rule.index not in ever_matched:
            problems.add(rule.rule.position, "unreachable_rule",
                         f"rule {rule.rule.id} can never fire: its conditions cannot all hold")
        elif hit == "first" and rule.index not in ever_won:
            problems.add(rule.rule.position, "unreachable_rule",
                         f"rule {rule.rule.id} can never fire: earlier rules of table "
                         f"{table.table.id} match every case it matches")
    for field_name, direction in table.table.monotonic.items():
        _check_monotonic(compiled, table, points, index, field_name, direction, problems)


def matches_rule(rule: CompiledRule, fact: Fact) -> bool:
    return all(holds(atom, fact) for atom in rule.atoms)


def _check_monotonic(compiled: CompiledPolicy, table: CompiledTable,
                     points: list[tuple[Fact, dict[str, Any]]], index: dict[str, FieldInfo],
                     field_name: str, direction: str, problems: Problems) -> None:
    info = compiled.fields.get(field_name)
    output = table.table.outputs[0]
    if info is None or table.ordered_output is None:
        problems.add(table.table.position, "bad_monotonic",
                     f"table {table.table.id}: monotonic needs a known field and an output "
                     "with an ordering")
        return
    groups: dict[tuple[Any, ...], list[tuple[Any, int]]] = {}
    for fact, params in points:
        value = fact.get(info.key)
        if value is None:
            continue
        hits = [rule for rule in table.rules if matches_rule(rule, fact)]
        if not hits:
            continue
        try:
            result = contribution(table, hits)[0].get(output)
        except EvaluationError:
            continue  # an overlap, reported by _check_table already
        if not isinstance(result, int):
            continue
        rest = tuple(sorted((k, v) for k, v in fact.items() if k != info.key))
        groups.setdefault(rest, []).append((value, result))
        del params
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
