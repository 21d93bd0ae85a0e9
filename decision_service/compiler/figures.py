"""Where each figure comes from, for every unit: the default of a version, or
a unit setting and its note.

Checks, ``show`` and the reasons all need the same answer to "which value does
this unit see, and who set it". Units that see the same values form one group,
so a check runs once per distinct set of figures, not once per office.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from decision_service.errors import Position
from decision_service.language.model import OrgTree, Policy, Scalar, Text, Unit, UnitSetting


@dataclass(frozen=True, slots=True)
class FigureSource:
    """One parameter's value for a unit, and where it is written."""

    name: str
    value: Scalar
    position: Position
    version: str | None  # the version whose file writes it
    setting: UnitSetting | None = None  # None: the policy's default

    def where(self, org: OrgTree, language: str = "en") -> str:
        """"default of version 2 (file:line)" / "setting for DE 德国代表处: note (file:line)"."""
        zh = language == "zh"
        if self.setting is None:
            what = f"第{self.version}版默认值" if zh else f"default of version {self.version}"
        else:
            units = "、".join(unit_name(org, u, language) for u in self.setting.units)
            what = f"{units}的单位设置" if zh else f"setting for {units}"
            if self.setting.note is not None:
                what += f"（{self.setting.note.zh}）" if zh else f" ({self.setting.note.en})"
            if self.version is not None:
                what += f"，第{self.version}版" if zh else f", version {self.version}"
        return f"{what} {self.position}"


@dataclass(frozen=True, slots=True)
class UnitGroup:
    """Units that see the same figures."""

    units: tuple[str, ...]
    figures: dict[str, FigureSource]

    def values(self) -> dict[str, Scalar]:
        return {name: source.value for name, source in self.figures.items()}


def unit_name(org: OrgTree, code: str, language: str = "en") -> str:
    """"DE 德国代表处" / "DE Germany": a unit by code and name."""
    unit = org.units.get(code)
    if unit is None:
        return code
    return f"{code} {_name_in(unit, language)}"


def _name_in(unit: Unit, language: str) -> str:
    name = unit.name.in_language(language)
    if language == "zh" and not _has_chinese(name):
        suffix = {"office": "代表处", "region": "地区部"}.get(unit.kind, "")
        return f"{name}{suffix}"
    return name


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def sources_for(policy: Policy, org: OrgTree, unit: str | None) -> dict[str, FigureSource]:
    """Every parameter as ``unit`` sees it (defaults when ``unit`` is None)."""
    if unit is None:
        return _defaults(policy)
    return sources_by_unit(policy, org).get(unit, _defaults(policy))


def _defaults(policy: Policy) -> dict[str, FigureSource]:
    return {name: FigureSource(name, decl.default, decl.position,
                               policy.version_of_file(decl.position.file))
            for name, decl in policy.parameters.items()}


def sources_by_unit(policy: Policy, org: OrgTree) -> dict[str, dict[str, FigureSource]]:
    defaults = _defaults(policy)
    per_unit: dict[str, dict[str, FigureSource]] = {}
    for setting in policy.settings:  # in order: a later version's setting wins
        version = policy.version_of_file(setting.position.file)
        for unit in setting.units:
            target = per_unit.setdefault(unit, {})
            for name, value in setting.values.items():
                target[name] = FigureSource(name, value, setting.position, version, setting)
    by_unit: dict[str, dict[str, FigureSource]] = {}
    for code in org.units:
        resolved = dict(defaults)
        for ancestor in org.chain(code):
            resolved.update(per_unit.get(ancestor, {}))
        by_unit[code] = resolved
    return by_unit


def unit_groups(policy: Policy, org: OrgTree) -> list[UnitGroup]:
    """Units grouped by the figures they see; the group holding HQ comes first."""
    by_unit = sources_by_unit(policy, org)
    grouped: dict[tuple[tuple[str, Any], ...], list[str]] = {}
    sources: dict[tuple[tuple[str, Any], ...], dict[str, FigureSource]] = {}
    for code, figures in by_unit.items():
        key = tuple(sorted((n, (s.value, s.position)) for n, s in figures.items()))
        grouped.setdefault(key, []).append(code)
        sources.setdefault(key, figures)
    groups = [UnitGroup(tuple(units), sources[key]) for key, units in grouped.items()]
    hq = next((u.code for u in org.units.values() if u.parent is None), None)
    groups.sort(key=lambda g: hq not in g.units)
    return groups


def regroup(groups: list[UnitGroup], names: list[str]) -> list[UnitGroup]:
    """Groups merged where they agree on ``names``: a table or an ordering is
    checked once per distinct set of the figures it reads."""
    merged: dict[tuple[tuple[Any, Position], ...], UnitGroup] = {}
    for group in groups:
        key = tuple((group.figures[n].value, group.figures[n].position) for n in names)
        found = merged.get(key)
        merged[key] = group if found is None else UnitGroup(found.units + group.units,
                                                            found.figures)
    return list(merged.values())


def describe_units(org: OrgTree, units: tuple[str, ...], language: str = "en") -> str:
    """The topmost units of a group, by name: "MEA 中东地区部 and the units below it"."""
    members = set(units)
    top = [u for u in units if org.units[u].parent not in members]
    if any(org.units[u].parent is None for u in top):
        return "所有未单独设置的单位" if language == "zh" else "every unit without its own setting"
    shown = [unit_name(org, u, language) for u in top[:6]]
    more = len(top) - len(shown)
    below = any(org.units[u].kind != "office" for u in top)
    if language == "zh":
        text = "、".join(shown) + (f"等{len(top)}个单位" if more else "")
        return text + ("及其下属单位" if below else "")
    text = ", ".join(shown) + (f" and {more} more" if more else "")
    return text + (" and the units below" if below else "")


def figure_list(org: OrgTree, figures: list[FigureSource], language: str = "en") -> str:
    """"office_margin_floor = 36 (setting for MEA ..., file:line)", joined."""
    parts = [f"{f.name} = {f.value} ({f.where(org, language)})" if language != "zh"
             else f"{f.name} = {f.value}（{f.where(org, language)}）" for f in figures]
    return "; ".join(parts)


def describe_text(text: Text | None, language: str) -> str:
    return "" if text is None else text.in_language(language)
