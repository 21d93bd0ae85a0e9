"""Reasons in business words, and the nearest change that lowers a level.

Messages are the rules' own zh/en texts with ``{field}`` filled in (plain
substitution of declared names, never ``str.format`` on policy text). For an
ordered output combined by ``max`` (the required level), the explanation names
each dimension's level and, for the binding ones, the next lower rule of that
table with its parameters resolved: "advance payment 15% needs REGION; from
20% OFFICE would do".

Everything about a rule that does not depend on the input is worked out once
per policy version (``plan``): a message without placeholders is a ready
``Reason`` (one decisive, one not), a message with placeholders is split once,
a generated reason is a template per (table, rule, unit) with only the deal's
value left to format, and each dimension is a ready ``Dimension``. A decision
then looks things up and formats its own figures, in one pass over the rules
that fired (``explain``; bench/engine.py (d) times it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from decision_service.compiler.compile import CompiledPolicy, derived_total
from decision_service.compiler.figures import FigureSource, sources_by_unit, sources_for
from decision_service.decision import (
    Dimension,
    LowerRoute,
    Reason,
    new_reason,
    new_route,
    new_text,
)
from decision_service.engines.reference import Evaluation, field_value
from decision_service.generated import MAX_TEMPLATES, Template, template_for
from decision_service.language.cells import parse_cell
from decision_service.language.model import Ref, Text

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
MAX_CHANGE_TEXTS = 100_000
# Templates are kept per unit: a unit is a validated code, so their number is
# the org's; past this many units (never, for a real org) they are not kept.
MAX_TEMPLATE_UNITS = 10_000


def format_value(value: Any) -> str:
    """A value as a person reads it in a reason (numbers grouped, codes as they are)."""
    if type(value) is str:  # the common case, first
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return f"{int(value):,}"
        return f"{value:,}"  # shortest exact form: 9.999999999 never shows as 10
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value) or "-"
    if value is None:
        return "-"
    return str(value)


@lru_cache(maxsize=8192)
def _template(text: str) -> tuple[str, ...]:
    """A message split once into literal parts (even indexes) and names (odd)."""
    return tuple(_PLACEHOLDER.split(text))


def _fill_parts(parts: tuple[str, ...], values: dict[str, Any], compiled: CompiledPolicy) -> str:
    return "".join(
        part if i % 2 == 0 else format_value(field_value(compiled, part, values))
        for i, part in enumerate(parts)
    )


def fill(text: str, values: dict[str, Any], compiled: CompiledPolicy) -> str:
    """A rule's message with its ``{field}`` placeholders replaced by the decision's values."""
    parts = _template(text)
    if len(parts) == 1:
        return text
    return _fill_parts(parts, values, compiled)


@dataclass(frozen=True, slots=True)
class RulePlan:
    """One rule as its reasons and dimensions see it, whatever the input."""

    rule: str  # its id
    table: str  # its table's id
    slot: int  # its place among all the policy's rules (the key of its templates)
    rank: int | None  # the target level it asks for
    always_decisive: bool  # no target, a final table or a cap: decisive whenever it fires
    dimension: bool  # its table asks for a level of the target (not a cap)
    cap: bool  # its table is an override of the target
    # A message without placeholders: its reason, not decisive and decisive.
    fixed: tuple[Reason, Reason] | None
    # A message with placeholders: zh and en split into literals and names.
    parts: tuple[tuple[str, ...], tuple[str, ...]] | None


@dataclass(frozen=True, slots=True)
class ExplainPlan:
    """What explaining a decision needs that does not depend on the input,
    worked out once per policy version instead of on every decision."""

    target: str | None  # the first ordered output combined by max
    tables: frozenset[int]  # tables that ask for a value of it (not caps)
    caps: frozenset[int]  # override tables on it
    lower: dict[tuple[int, int], tuple[int, int]]  # (table, value) -> (rule, lower value)
    # The change text of a lower route depends only on the unit's parameters:
    # rendered once per (table, value, unit) and kept.
    change_texts: dict[tuple[int, int, Any], str]
    # Generated reasons, rendered once per (table, rule, unit) up to their value:
    # unit -> rule slot -> template.
    templates: dict[Any, dict[int, Template | Text]] = field(default_factory=dict)
    rules: tuple[tuple[RulePlan, ...], ...] = ()  # by table index, then rule index
    unit_input: str | None = None  # the input naming the unit whose settings apply
    derived: tuple[tuple[str, tuple[str, ...]], ...] = ()  # derived name -> its parts
    # table -> for each value of the target, its Dimension (not binding, binding):
    # there are few, and they are immutable
    dimension_pairs: dict[int, tuple[tuple[Dimension, Dimension], ...]] = field(
        default_factory=dict)
    # Where each parameter's figure comes from, per unit: worked out on the first
    # generated reason (every unit at once), then read by every template.
    figure_sources: dict[str, dict[str, FigureSource]] = field(default_factory=dict)
    # Each distinct template once: units that see the same figures share their
    # templates, so a decision reads a few hot objects, not one per unit.
    interned: dict[Any, Any] = field(default_factory=dict)  # templates, change texts
    # unit -> the parameters as it sees them, by name and in the policy's words
    named_parameters: dict[Any, dict[str, Any]] = field(default_factory=dict)
    # Whether a message, a lookup or a rule's cells name a parameter: if none
    # does, the context leaves them out (a lower route's change text, which
    # states a parameter's value, adds them itself).
    parameters_read: bool = True

    def sources(self, compiled: CompiledPolicy, unit: Any) -> dict[str, FigureSource]:
        """Every parameter as ``unit`` sees it (``figures.sources_for``), computed once."""
        if unit is None:
            return sources_for(compiled.policy, compiled.org, None)
        if not self.figure_sources:
            self.figure_sources.update(sources_by_unit(compiled.policy, compiled.org))
        found = self.figure_sources.get(unit)
        return found if found is not None else sources_for(compiled.policy, compiled.org, None)

    def unit_templates(self, unit: Any) -> dict[int, Template | Text]:
        """The generated reasons made so far for ``unit``, by rule slot."""
        found = self.templates.get(unit)
        if found is None:
            found = {}
            if len(self.templates) < MAX_TEMPLATE_UNITS:
                self.templates[unit] = found
        return found


def context(compiled: CompiledPolicy, explain_plan: ExplainPlan, values: dict[str, Any],
            totals: dict[str, float]) -> dict[str, Any]:
    """Every name a message may mention, in the policy's own words: the input, the
    parameters as its unit sees them, the history totals and the derived values."""
    result = dict(values)
    if explain_plan.parameters_read:
        result.update(named_parameters(compiled, explain_plan, values))
    if totals:
        result.update(totals)
    for name, parts in explain_plan.derived:
        total = derived_total(result, parts)
        if total is not None:
            result[name] = total
    return result


def named_parameters(compiled: CompiledPolicy, explain_plan: ExplainPlan,
                     values: dict[str, Any]) -> dict[str, Any]:
    """The parameters as the input's unit sees them, by name, in the policy's words."""
    unit_input = explain_plan.unit_input
    unit = values.get(unit_input) if unit_input else None
    named = explain_plan.named_parameters.get(unit)
    if named is None:
        named = _named_parameters(compiled, values)
        if unit is None or unit in compiled.parameters_by_unit:  # a bounded cache
            explain_plan.named_parameters[unit] = named
    return named


def _named_parameters(compiled: CompiledPolicy, values: dict[str, Any]) -> dict[str, Any]:
    params = compiled.parameters_for(values)
    named: dict[str, Any] = {}
    for name in compiled.policy.parameters:
        info = compiled.fields[name]
        value = params.get(info.key)
        if info.ordering is not None and isinstance(value, int):
            value = info.ordering.values[value]
        named[name] = value
    return named


def plan(compiled: CompiledPolicy) -> ExplainPlan:
    """What explaining a decision of this policy needs, worked out once when it is loaded."""
    target = next((name for name, decl in compiled.policy.outputs.items()
                   if decl.combine == "max" and name in compiled.output_orderings), None)
    if target is None:
        tables: frozenset[int] = frozenset()
        caps: frozenset[int] = frozenset()
        lower: dict[tuple[int, int], tuple[int, int]] = {}
    else:
        tables = frozenset(t.index for t in compiled.tables
                           if target in t.table.outputs and not t.table.override)
        caps = frozenset(t.index for t in compiled.tables
                         if target in t.table.outputs and t.table.override)
        lower = _lower_rules(compiled, target, tables)
    return ExplainPlan(
        target, tables, caps, lower, {},
        rules=_rule_plans(compiled, target, tables, caps),
        unit_input=compiled.policy.meta.unit_input,
        derived=tuple((name, d.sum_of) for name, d in compiled.policy.derived.items()),
        dimension_pairs=_dimension_pairs(compiled, target, tables),
        parameters_read=not _names_read(compiled).isdisjoint(compiled.policy.parameters),
    )


def _names_read(compiled: CompiledPolicy) -> frozenset[str]:
    """Every name the explanation or the lookups may read from a decision's context."""
    names: set[str] = set()
    for table in compiled.tables:
        for compiled_rule in table.rules:
            rule = compiled_rule.rule
            names.update(rule.when)
            if rule.message is not None:
                names.update(_template(rule.message.zh)[1::2])
                names.update(_template(rule.message.en)[1::2])
    pending: list[Any] = [value for decl in compiled.policy.outputs.values()
                          for value in decl.lookup_map.values()]
    while pending:
        value = pending.pop()
        if isinstance(value, Ref):
            names.add(value.field)
        elif isinstance(value, tuple):
            pending.extend(value)
    return frozenset(names)


def _dimension_pairs(compiled: CompiledPolicy, target: str | None, tables: frozenset[int],
                     ) -> dict[int, tuple[tuple[Dimension, Dimension], ...]]:
    if target is None:
        return {}
    values = compiled.output_orderings[target].values
    pairs = {}
    for t_index in tables:
        table = compiled.tables[t_index].table
        pairs[t_index] = tuple((Dimension(table.id, table.title, value, False),
                                Dimension(table.id, table.title, value, True))
                               for value in values)
    return pairs


def _lower_rules(compiled: CompiledPolicy, target: str,
                 tables: frozenset[int]) -> dict[tuple[int, int], tuple[int, int]]:
    """(table, value) -> (rule, value) of the nearest rule asking for less."""
    lower: dict[tuple[int, int], tuple[int, int]] = {}
    for t_index in tables:
        table = compiled.tables[t_index]
        if table.table.hit not in ("first", "unique"):
            # In a collect-max or priority table a lower level is reached by
            # dropping what matched (a term), not by meeting another rule.
            continue
        ranks = {r.index: _rank(r.then.get(target)) for r in table.rules}
        outs = {i: v for i, v in ranks.items() if v is not None}
        for value in set(outs.values()):
            candidates = [(v, i) for i, v in outs.items()
                          if v < value and table.rules[i].rule.when]
            if candidates:
                # the highest level still below: the nearest change
                best_value, best_rule = max(candidates, key=lambda c: (c[0], -c[1]))
                lower[(t_index, value)] = (best_rule, best_value)
    return lower


def _rule_plans(compiled: CompiledPolicy, target: str | None, tables: frozenset[int],
                caps: frozenset[int]) -> tuple[tuple[RulePlan, ...], ...]:
    plans = []
    slot = 0
    for table in compiled.tables:
        always = target is None or table.table.final or table.index in caps
        row = []
        for compiled_rule in table.rules:
            rule = compiled_rule.rule
            fixed: tuple[Reason, Reason] | None = None
            parts: tuple[tuple[str, ...], tuple[str, ...]] | None = None
            if rule.message is not None:
                zh, en = _template(rule.message.zh), _template(rule.message.en)
                if len(zh) == 1 and len(en) == 1:
                    fixed = (Reason(rule.id, table.table.id, rule.message, False),
                             Reason(rule.id, table.table.id, rule.message, True))
                else:
                    parts = (zh, en)
            row.append(RulePlan(
                rule=rule.id, table=table.table.id, slot=slot,
                rank=_rank(compiled_rule.then.get(target)) if target else None,
                always_decisive=always, dimension=table.index in tables,
                cap=table.index in caps, fixed=fixed, parts=parts))
            slot += 1
        plans.append(tuple(row))
    return tuple(plans)


Explanation = tuple[tuple[Reason, ...], tuple[Dimension, ...], tuple[LowerRoute, ...]]


def explain(compiled: CompiledPolicy, explain_plan: ExplainPlan, evaluation: Evaluation,
            values: dict[str, Any], *, explanation: bool = True) -> Explanation:
    """The reasons of every fired rule (``decisive`` marks those that set the result),
    and the dimensions and lower routes of the plan's target output, in one pass.
    ``values``: the decision's ``context`` with its outputs. Without ``explanation``
    only the reasons (an answer that leaves the rest out need not pay for it)."""
    target = explain_plan.target
    final = _rank(evaluation.outputs.get(target)) if target else None
    rules = explain_plan.rules
    templates = None
    reasons = []
    asked: dict[int, int] = {}
    capped = False
    for t_index, r_index in evaluation.fired:
        rule = rules[t_index][r_index]
        rank = rule.rank
        decisive = rule.always_decisive or (rank is not None and rank == final)
        if rule.fixed is not None:
            reasons.append(rule.fixed[decisive])
        else:
            if rule.parts is not None:
                message = Text(_fill_parts(rule.parts[0], values, compiled),
                               _fill_parts(rule.parts[1], values, compiled))
            else:
                if templates is None:
                    unit_input = explain_plan.unit_input
                    templates = explain_plan.unit_templates(
                        values.get(unit_input) if unit_input else None)
                template = templates.get(rule.slot)
                if template is None:
                    template = _template_for(compiled, explain_plan, templates, rule,
                                             t_index, r_index, values)
                message = (template.render(values) if isinstance(template, Template)
                           else template)
            reasons.append(new_reason(rule.rule, rule.table, message, decisive))
        if rule.cap:
            capped = True  # a cap decided; the dimensions do not explain the result alone
        elif rule.dimension and rank is not None:
            before = asked.get(t_index)
            if before is None or rank > before:
                asked[t_index] = rank
    if final is None or capped or target is None or not explanation:
        return tuple(reasons), (), ()
    return (tuple(reasons), *_dimensions(compiled, explain_plan, asked, final, values))


def reasons(compiled: CompiledPolicy, evaluation: Evaluation, values: dict[str, Any],
            explain_plan: ExplainPlan | None = None) -> tuple[Reason, ...]:
    """Every fired rule's reason; ``decisive`` marks those that set the result."""
    return explain(compiled, explain_plan or plan(compiled), evaluation, values)[0]


def dimensions(compiled: CompiledPolicy, explain_plan: ExplainPlan, evaluation: Evaluation,
               values: dict[str, Any]) -> tuple[tuple[Dimension, ...], tuple[LowerRoute, ...]]:
    """Per-table levels and lower routes for the plan's target output."""
    _, dims, routes = explain(compiled, explain_plan, evaluation, values)
    return dims, routes


def _template_for(compiled: CompiledPolicy, explain_plan: ExplainPlan,
                  templates: dict[int, Template | Text], rule: RulePlan, t_index: int,
                  r_index: int, values: dict[str, Any]) -> Template | Text:
    """The generated reason of a rule for the input's unit, made and kept."""
    rank = rule.rank
    lower = explain_plan.lower.get((t_index, rank)) if rank is not None else None
    unit_input = explain_plan.unit_input
    unit = values.get(unit_input) if unit_input else None
    made = template_for(compiled, t_index, r_index, lower, explain_plan.target, unit,
                        explain_plan.sources(compiled, unit))
    template: Template | Text = explain_plan.interned.get(made, made)
    if len(explain_plan.interned) < MAX_TEMPLATES:
        explain_plan.interned.setdefault(template, template)
        templates[rule.slot] = template
    return template


def _cell_text(cell: object, values: dict[str, Any], compiled: CompiledPolicy) -> str:
    """A cell with parameter names replaced by their values for this unit."""
    test = parse_cell(cell)
    parts = []
    for token in test.operands:
        if token.kind == "word" and token.text in compiled.policy.parameters:
            parts.append(format_value(values.get(token.text)))
        else:
            parts.append(token.text)
    if test.kind == "range":
        low, high = test.op.split(",")
        return f"{'[' if low == '>=' else '('}{parts[0]}..{parts[1]}{']' if high == '<=' else ')'}"
    if test.kind == "compare":
        return f"{'=' if test.op == '==' else test.op} {parts[0]}"
    return f"{test.kind.replace('_', ' ')} {', '.join(parts)}"


def _rank(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dimensions(compiled: CompiledPolicy, explain_plan: ExplainPlan, asked: dict[int, int],
                final: int, values: dict[str, Any],
                ) -> tuple[tuple[Dimension, ...], tuple[LowerRoute, ...]]:
    """Each table's level (``asked``, by table) and the routes that would lower ``final``."""
    pairs = explain_plan.dimension_pairs
    lower = explain_plan.lower
    dims = []
    routes = []
    for t_index, value in asked.items():
        binding = value == final
        dims.append(pairs[t_index][value][binding])
        if binding and (t_index, value) in lower:
            route = _lower_route(compiled, explain_plan, asked, t_index, value, final, values)
            if route is not None:
                routes.append(route)
    return tuple(dims), tuple(routes)


def _lower_route(compiled: CompiledPolicy, explain_plan: ExplainPlan, asked: dict[int, int],
                 t_index: int, value: int, final: int,
                 values: dict[str, Any]) -> LowerRoute | None:
    """The nearest change of table ``t_index`` that would lower ``final``, if it would."""
    rule_index, lower_value = explain_plan.lower[(t_index, value)]
    others = 0
    for t, v in asked.items():
        if v > others and t != t_index:
            others = v
    if max(lower_value, others) >= final:
        return None  # another dimension still asks for this level: no hint
    table = compiled.tables[t_index]
    rule = table.rules[rule_index].rule
    unit_input = explain_plan.unit_input
    cache_key = (t_index, value, values.get(unit_input) if unit_input else None)
    change = explain_plan.change_texts.get(cache_key)
    if change is None:
        with_parameters = {**values, **named_parameters(compiled, explain_plan, values)}
        change = " and ".join(f"{name} {_cell_text(cell, with_parameters, compiled)}"
                              for name, cell in rule.when.items())
        if len(explain_plan.change_texts) < MAX_CHANGE_TEXTS:
            # units that see the same figures share one text
            change = explain_plan.change_texts[cache_key] = explain_plan.interned.setdefault(
                change, change)
    now = ", ".join([f"{name} {format_value(field_value(compiled, name, values))}"
                     for name in rule.when])
    codes = compiled.output_orderings[explain_plan.target or ""].values
    current, lower = codes[value], codes[lower_value]
    title = table.table.title
    return new_route(
        table.table.id,
        new_text(f"{title.zh}：{now} 需 {current}；若 {change}，则 {lower} 即可",
                 f"{title.en}: {now} needs {current}; with {change}, {lower} would do"),
        codes[max(lower_value, others)],
    )
