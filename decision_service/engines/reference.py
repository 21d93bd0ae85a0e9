"""The meaning of hit policies, stages and outputs, written once, plainly.

``run`` walks the compiled tables (its ``Plan``) stage by stage and asks a *matcher* which
rules hold for the fact; everything after matching (hit policies, combining
outputs, final tables, defaults, lookups) is here. The durable backend uses
this with durable-rules as the matcher; the compiled backend generates its
own code for the same semantics, and the differential tests hold the two
together.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from decision_service.compiler.compile import (
    CompiledPolicy,
    CompiledRule,
    fact_key,
)
from decision_service.compiler.hit_policies import contribution
from decision_service.compiler.ir import Fact
from decision_service.language.model import Ref

Matcher = Callable[[int, Fact], frozenset[str]]


class Evaluation(NamedTuple):
    """What an engine returns: outputs in engine form and the rules that fired.

    A NamedTuple rather than a frozen dataclass: it is built on every decision
    and a frozen dataclass's __init__ costs a microsecond here.
    """

    outputs: dict[str, Any]  # ordered outputs as ranks; unset outputs absent
    fired: Sequence[tuple[int, int]]  # (table index, rule index), in firing order


@functools.cache
def _output_key(name: str) -> str:
    return fact_key("o." + name)


class Plan:
    """What ``run`` looks up for every decision, prepared once per policy version."""

    def __init__(self, compiled: CompiledPolicy) -> None:
        self.compiled = compiled
        self.stage_tables = tuple(
            tuple(table for table in compiled.tables if table.stage == stage)
            for stage in range(compiled.stage_count))
        # match key -> its rule (keys of scorecards' `when` are not rules)
        self.rules = {rule.key: rule for table in compiled.tables for rule in table.rules}
        # per table, the outputs it combines by max (an override table replaces)
        self.combined = {table.index: frozenset(
            () if table.table.override else
            (name for name, decl in compiled.policy.outputs.items() if decl.combine == "max"))
            for table in compiled.tables}
        self.output_keys = tuple((name, _output_key(name)) for name in compiled.policy.outputs)


def _rule_index(rule: CompiledRule) -> int:
    return rule.index


def run(plan: Plan, fact: Fact, matcher: Matcher) -> Evaluation:
    """Decide ``fact``, asking ``matcher`` which rules hold in each stage. From the
    second stage on, the outputs so far are added to ``fact`` (which run owns)."""
    outputs: dict[str, Any] = {}
    fired: list[tuple[int, int]] = []
    for stage, tables in enumerate(plan.stage_tables):
        if stage > 0:
            # Set again each stage: an output reset to null since must not linger.
            for name, key in plan.output_keys:
                value = outputs.get(name)
                if value is not None and not isinstance(value, tuple):
                    fact[key] = value
                else:
                    fact.pop(key, None)
        matched = matcher(stage, fact)
        by_table: dict[int, list[CompiledRule]] = {}
        for key in matched:
            rule = plan.rules.get(key)
            if rule is not None:
                by_table.setdefault(rule.table_index, []).append(rule)
        for table in tables:
            hits = by_table.get(table.index, [])
            if len(hits) > 1:
                hits.sort(key=_rule_index)  # in rule order, as the hit policies expect
            if not hits and (table.table.hit != "scorecard" or
                             (table.when_atoms and table.when_key not in matched)):
                continue
            values, winners = contribution(table, hits)
            if table.table.final:
                return Evaluation(
                    outputs=values,
                    fired=tuple((table.index, rule.index) for rule in winners),
                )
            merge(plan.combined[table.index], outputs, values)
            for rule in winners:
                fired.append((table.index, rule.index))
    return Evaluation(outputs=outputs, fired=tuple(fired))


def merge(combined: frozenset[str], outputs: dict[str, Any], values: dict[str, Any]) -> None:
    """Combine a table's values into the outputs: ``combined`` ones by max."""
    for name, value in values.items():
        if name in combined and value is not None:
            current = outputs.get(name)
            if current is not None and current >= value:
                continue
        outputs[name] = value


class OutputPlan:
    """What ``final_outputs`` looks up for every decision, prepared once per version."""

    def __init__(self, compiled: CompiledPolicy) -> None:
        outputs = compiled.policy.outputs
        # (name, default, codes of its ordering or None), outputs set by the tables
        self.plain = tuple(
            (name, decl.default, ordering.values if ordering is not None else None)
            for name, decl in outputs.items() if decl.lookup is None
            for ordering in (compiled.output_orderings.get(name),))
        # (name, the output it looks up, its map), outputs filled after them
        self.lookups = tuple((name, decl.lookup, decl.lookup_map)
                             for name, decl in outputs.items() if decl.lookup is not None)


def final_outputs(compiled: CompiledPolicy, evaluation: Evaluation,
                  values: dict[str, Any], plan: OutputPlan | None = None) -> dict[str, Any]:
    """Engine outputs → the answer's fields: codes instead of ranks, defaults,
    lookups. Shared by every engine: it is presentation, not decision.
    ``plan``: the version's ``OutputPlan``, if the caller keeps one."""
    plan = plan or OutputPlan(compiled)
    outputs = evaluation.outputs
    result: dict[str, Any] = {}
    for name, default, codes in plan.plain:
        value = outputs.get(name, default)
        if codes is not None and isinstance(value, int) and not isinstance(value, bool):
            value = codes[value]
        if isinstance(value, tuple):
            value = list(value)
        result[name] = value
    for name, lookup, lookup_map in plan.lookups:
        key = result.get(lookup)
        if key is None:
            result[name] = None
            continue
        result[name] = resolve_value(compiled, lookup_map.get(str(key)), values)
    return result


def resolve_value(compiled: CompiledPolicy, value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, Ref):
        raw = field_value(compiled, value.field, values)
        return None if raw is None else f"{value.prefix}{raw}"
    if isinstance(value, tuple):
        return [resolve_value(compiled, v, values) for v in value]
    return value


def field_value(compiled: CompiledPolicy, name: str, values: dict[str, Any]) -> Any:
    """A field's value for messages and lookups, in the policy's own words."""
    if name in values:
        return values[name]
    if "." in name:
        base, attr = name.split(".", 1)
        unit = values.get(base)
        if unit is None:
            return None
        if attr == "region":
            return compiled.org.region_of(unit)
        if attr == "watchlist":
            return compiled.org.units[unit].watchlist
    return None
