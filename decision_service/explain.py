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
from typing import Any

from decision_service.cells import parse_cell
from decision_service.compile import CompiledPolicy, CompiledTable
from decision_service.decision import Dimension, LowerRoute, Reason
from decision_service.evaluate import Evaluation, field_value
from decision_service.model import Text

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.6f}".rstrip("0").rstrip(".")
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value) or "-"
    if value is None:
        return "-"
    return str(value)


def fill(text: str, values: dict[str, Any], compiled: CompiledPolicy) -> str:
    return _PLACEHOLDER.sub(
        lambda m: format_value(field_value(compiled, m.group(1), values)), text
    )


def reasons(compiled: CompiledPolicy, evaluation: Evaluation,
            values: dict[str, Any]) -> tuple[Reason, ...]:
    out = []
    for t_index, r_index in evaluation.fired:
        table = compiled.tables[t_index]
        rule = table.rules[r_index].rule
        text = rule.message or table.table.title
        message = Text(fill(text.zh, values, compiled), fill(text.en, values, compiled))
        out.append(Reason(rule=rule.id, table=table.table.id, message=message))
    return tuple(out)


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


def dimensions(compiled: CompiledPolicy, evaluation: Evaluation, values: dict[str, Any]
               ) -> tuple[tuple[Dimension, ...], tuple[LowerRoute, ...]]:
    """Per-table levels and lower routes for the first max-combined ordered output."""
    target = next((name for name, decl in compiled.policy.outputs.items()
                   if decl.combine == "max" and name in compiled.output_orderings), None)
    if target is None:
        return (), ()
    final = evaluation.outputs.get(target)
    if not isinstance(final, int) or isinstance(final, bool):
        return (), ()
    ordering = compiled.output_orderings[target]
    asked: dict[int, int] = {}
    for t_index, r_index in evaluation.fired:
        table = compiled.tables[t_index]
        if target not in table.table.outputs or table.table.override:
            continue
        value = table.rules[r_index].then.get(target)
        if isinstance(value, int) and not isinstance(value, bool):
            asked[t_index] = max(asked.get(t_index, value), value)
    if any(compiled.tables[t].table.override and target in compiled.tables[t].table.outputs
           for t, _ in evaluation.fired):
        return (), ()  # a cap decided; the dimensions do not explain the result alone
    dims = tuple(
        Dimension(compiled.tables[t].table.id, compiled.tables[t].table.title,
                  ordering.values[v], v == final)
        for t, v in asked.items()
    )
    routes = []
    for t_index, value in asked.items():
        if value != final or final == 0:
            continue
        others = max((v for t, v in asked.items() if t != t_index), default=0)
        route = _lower_route(compiled.tables[t_index], target, value, values, compiled)
        if route is None:
            continue
        lower_text, lower_value = route
        would_give = ordering.values[max(lower_value, others)]
        current = ordering.values[value]
        lower = ordering.values[lower_value]
        title = compiled.tables[t_index].table.title
        routes.append(LowerRoute(
            table=compiled.tables[t_index].table.id,
            message=Text(
                zh=f"{title.zh}：当前需 {current}；若 {lower_text}，则 {lower} 即可",
                en=f"{title.en}: needs {current} now; with {lower_text}, {lower} would do",
            ),
            would_give=would_give,
        ))
    return dims, tuple(routes)


def _lower_route(table: CompiledTable, target: str, value: int, values: dict[str, Any],
                 compiled: CompiledPolicy) -> tuple[str, int] | None:
    """The rule of ``table`` with the highest output still below ``value``."""
    best = None
    for rule in table.rules:
        out = rule.then.get(target)
        if isinstance(out, int) and not isinstance(out, bool) and out < value and \
                rule.rule.when and (best is None or out > best[1]):
            best = (rule, out)
    if best is None:
        return None
    rule, out = best
    text = " and ".join(f"{name} {_cell_text(cell, values, compiled)}"
                        for name, cell in rule.rule.when.items())
    return text, out
