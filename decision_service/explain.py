"""Reasons in business words, and the nearest change that lowers a level.

Messages are the rules' own zh/en texts with ``{field}`` filled in (plain
substitution of declared names, never ``str.format`` on policy text). For an
ordered output combined by ``max`` (the required level), the explanation names
each dimension's level and, for the binding ones, the next lower rule of that
table with its parameters resolved: "advance payment 15% needs REGION; from
20% OFFICE would do".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from decision_service.compiler.compile import CompiledPolicy
from decision_service.decision import Dimension, LowerRoute, Reason
from decision_service.engines.reference import Evaluation, field_value
from decision_service.generated import MAX_TEMPLATES, Template, template_for
from decision_service.language.cells import parse_cell
from decision_service.language.model import Text

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


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


def fill(text: str, values: dict[str, Any], compiled: CompiledPolicy) -> str:
    """A rule's message with its ``{field}`` placeholders replaced by the decision's values."""
    parts = _template(text)
    if len(parts) == 1:
        return text
    return "".join(
        part if i % 2 == 0 else format_value(field_value(compiled, part, values))
        for i, part in enumerate(parts)
    )


def reasons(compiled: CompiledPolicy, evaluation: Evaluation, values: dict[str, Any],
            explain_plan: ExplainPlan | None = None) -> tuple[Reason, ...]:
    """Every fired rule's reason; ``decisive`` marks those that set the result."""
    explain_plan = explain_plan or plan(compiled)
    target = explain_plan.target
    final = _rank(evaluation.outputs.get(target)) if target else None
    unit_input = compiled.policy.meta.unit_input
    unit = values.get(unit_input) if unit_input else None
    out = []
    for t_index, r_index in evaluation.fired:
        table = compiled.tables[t_index]
        compiled_rule = table.rules[r_index]
        rule = compiled_rule.rule
        rank = _rank(compiled_rule.then.get(target)) if target else None
        if rule.message is not None:
            message = Text(fill(rule.message.zh, values, compiled),
                           fill(rule.message.en, values, compiled))
        else:
            message = _generated(compiled, explain_plan, t_index, r_index, rank, unit, values)
        decisive = (target is None or table.table.final or t_index in explain_plan.caps
                    or (rank is not None and rank == final))
        out.append(Reason(rule=rule.id, table=table.table.id, message=message,
                          decisive=decisive))
    return tuple(out)


def _generated(compiled: CompiledPolicy, explain_plan: ExplainPlan, t_index: int, r_index: int,
               rank: int | None, unit: Any, values: dict[str, Any]) -> Text:
    key = (t_index, r_index, unit)
    template = explain_plan.templates.get(key)
    if template is None:
        lower = explain_plan.lower.get((t_index, rank)) if rank is not None else None
        template = template_for(compiled, t_index, r_index, lower, explain_plan.target, unit)
        if len(explain_plan.templates) < MAX_TEMPLATES:
            explain_plan.templates[key] = template
    return template.render(compiled, values) if isinstance(template, Template) else template


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


@dataclass(frozen=True, slots=True)
class ExplainPlan:
    """What ``dimensions`` needs that does not depend on the input, worked out
    once per policy version instead of on every decision."""

    target: str | None  # the first ordered output combined by max
    tables: frozenset[int]  # tables that ask for a value of it (not caps)
    caps: frozenset[int]  # override tables on it
    lower: dict[tuple[int, int], tuple[int, int]]  # (table, value) -> (rule, lower value)
    # The change text of a lower route depends only on the unit's parameters:
    # rendered once per (table, value, unit) and kept.
    change_texts: dict[tuple[int, int, Any], str]
    # Generated reasons, rendered once per (table, rule, unit) up to their value.
    templates: dict[tuple[int, int, Any], Template | Text] = field(default_factory=dict)


def plan(compiled: CompiledPolicy) -> ExplainPlan:
    """What explaining a decision of this policy needs, worked out once when it is loaded."""
    target = next((name for name, decl in compiled.policy.outputs.items()
                   if decl.combine == "max" and name in compiled.output_orderings), None)
    if target is None:
        return ExplainPlan(None, frozenset(), frozenset(), {}, {})
    tables = frozenset(t.index for t in compiled.tables
                       if target in t.table.outputs and not t.table.override)
    caps = frozenset(t.index for t in compiled.tables
                     if target in t.table.outputs and t.table.override)
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
    return ExplainPlan(target, tables, caps, lower, {})


def _rank(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def dimensions(compiled: CompiledPolicy, explain_plan: ExplainPlan, evaluation: Evaluation,
               values: dict[str, Any]) -> tuple[tuple[Dimension, ...], tuple[LowerRoute, ...]]:
    """Per-table levels and lower routes for the plan's target output."""
    target = explain_plan.target
    if target is None:
        return (), ()
    final = _rank(evaluation.outputs.get(target))
    if final is None:
        return (), ()
    ordering = compiled.output_orderings[target]
    asked: dict[int, int] = {}
    for t_index, r_index in evaluation.fired:
        if t_index in explain_plan.caps:
            return (), ()  # a cap decided; the dimensions do not explain the result alone
        if t_index in explain_plan.tables:
            value = _rank(compiled.tables[t_index].rules[r_index].then.get(target))
            if value is not None:
                asked[t_index] = max(asked.get(t_index, value), value)
    dims = tuple(
        Dimension(compiled.tables[t].table.id, compiled.tables[t].table.title,
                  ordering.values[v], v == final)
        for t, v in asked.items()
    )
    routes = []
    for t_index, value in asked.items():
        if value != final or (t_index, value) not in explain_plan.lower:
            continue
        table = compiled.tables[t_index]
        rule_index, lower_value = explain_plan.lower[(t_index, value)]
        rule = table.rules[rule_index].rule
        now = ", ".join(f"{name} {format_value(field_value(compiled, name, values))}"
                        for name in rule.when)
        unit_input = compiled.policy.meta.unit_input
        cache_key = (t_index, value, values.get(unit_input) if unit_input else None)
        change = explain_plan.change_texts.get(cache_key)
        if change is None:
            change = " and ".join(f"{name} {_cell_text(cell, values, compiled)}"
                                  for name, cell in rule.when.items())
            if len(explain_plan.change_texts) < 100_000:
                explain_plan.change_texts[cache_key] = change
        others = max((v for t, v in asked.items() if t != t_index), default=0)
        if max(lower_value, others) >= final:
            continue  # another dimension still asks for this level: no hint
        current, lower = ordering.values[value], ordering.values[lower_value]
        title = table.table.title
        routes.append(LowerRoute(
            table=table.table.id,
            message=Text(
                zh=f"{title.zh}：{now} 需 {current}；若 {change}，则 {lower} 即可",
                en=f"{title.en}: {now} needs {current}; with {change}, {lower} would do",
            ),
            would_give=ordering.values[max(lower_value, others)],
        ))
    return dims, tuple(routes)
