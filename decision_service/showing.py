"""What `decision-service show` prints: a policy's tables as a process owner reads
a DMN table, with the figures resolved for one unit and where each is set; and
what one version changes against another, in business words."""

from __future__ import annotations

from dataclasses import dataclass

from decision_service.compiler.figures import sources_for, unit_name
from decision_service.language.cells import CellSyntaxError, parse_cell
from decision_service.language.model import OrgTree, Policy
from decision_service.wording import amount, label, level_name, measure_of, output_label


@dataclass(frozen=True, slots=True)
class Grid:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _cell(policy: Policy, org: OrgTree, field: str, cell: object, unit: str | None,
          language: str) -> str:
    try:
        test = parse_cell(cell)
    except CellSyntaxError:
        return str(cell)
    figures = sources_for(policy, org, unit)
    parts = []
    for token in test.operands:
        if token.kind == "word" and token.text in figures:
            measure = measure_of(policy, token.text) or measure_of(policy, field)
            parts.append(amount(figures[token.text].value, measure, language))
        else:
            parts.append(token.text)
    if test.kind == "compare":
        return f"{'=' if test.op == '==' else test.op} {parts[0]}"
    if test.kind == "any":
        return "-"
    return f"{cell!s}" if not parts else f"{test.kind.replace('_', ' ')} {', '.join(parts)}"


def grids(policy: Policy, org: OrgTree, unit: str | None, language: str) -> list[Grid]:
    """Every table as rows of resolved cells, its outputs, and the rule id."""
    out = []
    for table in policy.tables:
        fields = list(dict.fromkeys(f for rule in table.rules for f in rule.when))
        columns = ("id", *(label(policy, f, language) for f in fields),
                   *(output_label(policy, o, language) for o in table.outputs))
        rows = []
        for rule in table.rules:
            cells = [_cell(policy, org, f, rule.when[f], unit, language) if f in rule.when
                     else "-" for f in fields]
            outs = [level_name(org, rule.then.get(o), language) if o in rule.then else
                    (str(rule.score) if rule.score is not None else "") for o in table.outputs]
            rows.append((rule.id, *cells, *outs))
        out.append(Grid(f"{table.id} {table.title.in_language(language)} ({table.hit})",
                        columns, tuple(rows)))
    return out


def figure_rows(policy: Policy, org: OrgTree, unit: str | None,
                language: str) -> list[tuple[str, str, str]]:
    """(figure, value, where it is set) for every parameter as ``unit`` sees it."""
    rows = []
    for name, source in sources_for(policy, org, unit).items():
        measure = measure_of(policy, name)
        rows.append((label(policy, name, language), amount(source.value, measure, language),
                     source.where(org, language)))
    return rows


def diff(old: Policy, new: Policy, org: OrgTree, language: str) -> list[str]:
    """What ``new`` changes against ``old``: figures, unit settings, rules, inputs."""
    zh = language == "zh"
    lines = []
    for name, decl in new.parameters.items():
        before = old.parameters.get(name)
        measure = measure_of(new, name)
        if before is None:
            value = amount(decl.default, measure, language)
            lines.append(f"新增参数 {label(new, name, language)}：{value}" if zh else
                         f"new figure {label(new, name, language)}: {value}")
        elif before.default != decl.default:
            was, now = (amount(before.default, measure, language),
                        amount(decl.default, measure, language))
            lines.append(f"{label(new, name, language)}：{was} → {now}" if zh else
                         f"{label(new, name, language)}: {was} → {now}")
    for setting in new.settings[len(old.settings):]:
        units = "、".join(unit_name(org, u, language) for u in setting.units)
        values = ", ".join(f"{label(new, n, language)} {amount(v, measure_of(new, n), language)}"
                           for n, v in setting.values.items())
        lines.append(f"新增单位设置 {units}：{values}" if zh else
                     f"new unit setting for {units}: {values}")
    old_rules = {r.id: r for t in old.tables for r in t.rules}
    new_rules = {r.id: r for t in new.tables for r in t.rules}
    for rule_id in new_rules.keys() - old_rules.keys():
        lines.append(f"新增规则 {rule_id}" if zh else f"new rule {rule_id}")
    for rule_id in old_rules.keys() - new_rules.keys():
        lines.append(f"删除规则 {rule_id}" if zh else f"rule {rule_id} removed")
    for rule_id in old_rules.keys() & new_rules.keys():
        a, b = old_rules[rule_id], new_rules[rule_id]
        if (a.when, a.then, a.message) != (b.when, b.then, b.message):
            lines.append(f"修改规则 {rule_id}" if zh else f"rule {rule_id} changed")
    for name, input_decl in new.inputs.items():
        before_values = old.inputs[name].values if name in old.inputs else ()
        added = [v for v in input_decl.values if v not in before_values]
        if name not in old.inputs:
            lines.append(f"新增输入 {name}" if zh else f"new input {name}")
        elif added:
            lines.append(f"{label(new, name, language)} 新增取值：{', '.join(added)}" if zh else
                         f"{label(new, name, language)}: new values {', '.join(added)}")
    return lines
