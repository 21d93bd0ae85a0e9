"""Reasons written from the cells, so a changed figure can never leave a stale text.

For a table that asks for a level, the reason cites the threshold that decided:
the one the deal *missed* (the nearest rule of a lower level), or, at the lowest
level, the one it met; with the figure as this unit sees it and where it is
set (a unit setting and its note, or the version). A derived value is spelled
out: 合同金额 2,400万美元（本单金额 1,200万美元 + 近90天同客户同代表处已签 1,200万美元）.

Everything that does not depend on the deal's own value is rendered once per
(table, rule, unit) and kept; a decision only formats its value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from decision_service.compiler.compile import CompiledPolicy
from decision_service.compiler.figures import FigureSource, describe_units, sources_for
from decision_service.decision import new_text
from decision_service.language.cells import CellSyntaxError, CellTest, parse_cell
from decision_service.language.model import Measure, Text
from decision_service.wording import amount, amounts, figure, label, level_name, measure_of

# operator -> (zh, en) as met, and as missed
_MET = {"<=": ("不超过", "within"), "<": ("低于", "below"), ">=": ("不低于", "at least"),
        ">": ("超过", "above"), "==": ("为", "")}
_MISSED = {"<=": ("超过", "above"), "<": ("不低于", "not below"), ">=": ("低于", "below"),
           ">": ("不超过", "not above"), "==": ("不是", "not")}
MAX_TEMPLATES = 100_000


# what follows a plain figure in each language, by measure (USD is worded apart)
_SUFFIXES: dict[Measure | None, tuple[str, str]] = {
    "percent": ("%", "%"), "days": ("天", " days"), None: ("", "")}


@dataclass(frozen=True, slots=True)
class Template:
    """A reason with a hole for the deal's value of ``field``: the field's measure
    and, for a derived field, its parts and their labels are bound when the
    template is made, so rendering only formats the deal's figures."""

    field: str
    zh: tuple[str, str]
    en: tuple[str, str]
    measure: Measure | None = None
    parts: tuple[tuple[str, str, str], ...] = ()  # a derived field's (part, zh, en label)
    # what follows the figure in zh and en, when a plain figure is all there is to
    # write (no parts, not USD); None: ``amounts`` words the value
    suffix: tuple[str, str] | None = None

    def render(self, values: dict[str, Any]) -> Text:
        """The reason with the deal's value (and a derived value's parts) filled in."""
        value = values.get(self.field)
        suffix = self.suffix
        if suffix is not None:
            # the common case, written in one step: a figure and its unit
            plain = figure(value)
            if plain is not None:
                zh, en = self.zh, self.en
                return new_text(f"{zh[0]}{plain}{suffix[0]}{zh[1]}",
                                f"{en[0]}{plain}{suffix[1]}{en[1]}")
        zh_value, en_value = amounts(value, self.measure)
        if self.parts:
            zh_value, en_value = self._with_parts(zh_value, en_value, values)
        return new_text(f"{self.zh[0]}{zh_value}{self.zh[1]}",
                        f"{self.en[0]}{en_value}{self.en[1]}")

    def _with_parts(self, zh_value: str, en_value: str,
                    values: dict[str, Any]) -> tuple[str, str]:
        """A derived value spelled out, when more than one of its parts is not zero."""
        nonzero = 0
        for name, _, _ in self.parts:
            value = values.get(name)
            if isinstance(value, int | float) and value:
                nonzero += 1
        if nonzero < 2:
            return zh_value, en_value
        zh_parts, en_parts = [], []
        for name, zh, en in self.parts:
            value_zh, value_en = amounts(values.get(name), self.measure)
            zh_parts.append(f"{zh} {value_zh}")
            en_parts.append(f"{en} {value_en}")
        return (zh_value + "（" + " + ".join(zh_parts) + "）",
                en_value + " (" + " + ".join(en_parts) + ")")


def _derived_parts(compiled: CompiledPolicy, name: str) -> tuple[tuple[str, str, str], ...]:
    """A derived field's parts with their labels; () for any other field."""
    derived = compiled.policy.derived.get(name)
    if derived is None:
        return ()
    policy = compiled.policy
    return tuple((part, label(policy, part, "zh"), label(policy, part, "en"))
                 for part in derived.sum_of)


def template_for(compiled: CompiledPolicy, t_index: int, r_index: int,
                 lower: tuple[int, int] | None, target: str | None,
                 unit: str | None,
                 sources: dict[str, FigureSource] | None = None) -> Template | Text:
    """The reason of rule ``r_index`` of table ``t_index`` for ``unit``; ``sources``:
    the parameters as ``unit`` sees them, if the caller has them at hand."""
    table = compiled.tables[t_index]
    rule = table.rules[r_index].rule
    org = compiled.org
    level = rule.then.get(target) if target else None
    cited, missed = (table.rules[lower[0]].rule, True) if lower else (rule, False)
    single = _single_compare(cited.when)
    if level is None or single is None:
        return _generic(compiled, t_index, r_index)
    field, test = single
    op = test.op
    words = (_MISSED if missed else _MET).get(op)
    if words is None:
        return _generic(compiled, t_index, r_index)
    if sources is None:
        sources = sources_for(compiled.policy, org, unit)
    threshold_zh, threshold_en = _threshold(compiled, field, test, sources)
    level_zh, level_en = level_name(org, level, "zh"), level_name(org, level, "en")
    policy = compiled.policy
    head_zh = f"{label(policy, field, 'zh')} "
    head_en = f"{label(policy, field, 'en')} "
    if missed:
        tail_zh = f" {words[0]}{threshold_zh}，须{level_zh}审批"
        tail_en = f" is {words[1]} {threshold_en}: the {level_en} approves"
    else:
        tail_zh = f" {words[0]}{threshold_zh}，{level_zh}即可审批"
        tail_en = f" is {words[1]} {threshold_en}: the {level_en} can approve"
    measure, parts = measure_of(policy, field), _derived_parts(compiled, field)
    return Template(field, (head_zh, tail_zh), (head_en, tail_en), measure, parts,
                    None if parts else _SUFFIXES.get(measure))


def _single_compare(when: dict[str, Any]) -> tuple[str, CellTest] | None:
    if len(when) != 1:
        return None
    [(field, cell)] = when.items()
    try:
        test = parse_cell(cell)
    except CellSyntaxError:
        return None
    if test.kind != "compare" or len(test.operands) != 1:
        return None
    return field, test


def _threshold(compiled: CompiledPolicy, field: str, test: CellTest,
               sources: dict[str, FigureSource]) -> tuple[str, str]:
    """"代表处毛利率下限 33%（MEA 中东地区部单位设置：…）" and its English."""
    policy = compiled.policy
    token = test.operands[0]
    measure = measure_of(policy, field)
    if token.kind != "word" or token.text not in policy.parameters:
        number = float(token.text) if token.kind == "number" else token.text
        return f" {amount(number, measure, 'zh')}", amount(number, measure, "en")
    name = token.text
    source = sources[name]
    param_measure = measure_of(policy, name) or measure
    value_zh = amount(source.value, param_measure, "zh")
    value_en = amount(source.value, param_measure, "en")
    where_zh, where_en = _where(compiled, source)
    return (f"{label(policy, name, 'zh')} {value_zh}{where_zh}",
            f"the {label(policy, name, 'en')} {value_en}{where_en}")


def _where(compiled: CompiledPolicy, source: FigureSource) -> tuple[str, str]:
    first_version = compiled.policy.lineage[0][0] if compiled.policy.lineage else None
    if source.setting is not None:
        units_zh = describe_units(compiled.org, source.setting.units, "zh")
        units_en = describe_units(compiled.org, source.setting.units, "en")
        note = source.setting.note
        return (f"（{units_zh}的设置" + (f"：{note.zh}" if note else "") + "）",
                f" (setting for {units_en}" + (f": {note.en}" if note else "") + ")")
    if source.version is not None and source.version != first_version:
        return f"（第{source.version}版）", f" (version {source.version})"
    return "", ""


def _generic(compiled: CompiledPolicy, t_index: int, r_index: int) -> Text:
    """A rule with several cells: its title, its cells and its result."""
    table = compiled.tables[t_index]
    rule = table.rules[r_index].rule
    policy = compiled.policy
    cells_zh = "，".join(f"{label(policy, n, 'zh')} {c}" for n, c in rule.when.items())
    cells_en = ", ".join(f"{label(policy, n, 'en')} {c}" for n, c in rule.when.items())
    outs_zh = "、".join(level_name(compiled.org, v, "zh") for v in rule.then.values())
    outs_en = ", ".join(level_name(compiled.org, v, "en") for v in rule.then.values())
    title = table.table.title
    return Text(f"{title.zh}：{cells_zh} → {outs_zh}", f"{title.en}: {cells_en} → {outs_en}")
