"""Values and names as a salesperson reads them: 2,500万美元 / USD 25M, 31%,
120天, 地区部 / region, 德国代表处. No glossary needed."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from decision_service.language.model import Measure, OrgTree, Policy, Text


def _plain(number: float) -> str:
    if float(number).is_integer():
        whole = int(number)
        # below 1,000 there is nothing to group, and str() is the same text, faster
        return str(whole) if -1000 < whole < 1000 else f"{whole:,}"
    return repr(number) if -1000 < number < 1000 else f"{number:,}"


def _short(number: float, unit: float, decimals: int) -> str | None:
    """``number / unit`` if it is exact to ``decimals`` places, written plainly."""
    # Most figures are not round: farther from a multiple of the grain than the
    # test below allows, even counting the floats' rounding (1e-15 of the figure
    # is generous), they fail it, and the costly round() is not needed to know.
    grain = unit / 10**decimals
    rest = math.fmod(abs(number), grain)
    if min(rest, grain - rest) > 1e-6 + abs(number) * 1e-15:
        return None
    scaled = round(number / unit, decimals)
    if abs(scaled * unit - number) > 1e-6:
        return None
    return _plain(scaled)


def amount(value: Any, measure: Measure | None, language: str) -> str:
    """One value with its measure: 2,500万美元, USD 25M, 31%, 120天."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    zh = language == "zh"
    if measure == "usd":
        if zh:
            if abs(value) >= 100_000_000 and (text := _short(value, 100_000_000, 4)):
                return f"{text}亿美元"
            if abs(value) >= 10_000 and (text := _short(value, 10_000, 2)):
                return f"{text}万美元"
            return f"{_plain(value)}美元"
        if abs(value) >= 1_000_000_000 and (text := _short(value, 1_000_000_000, 3)):
            return f"USD {text}B"
        if abs(value) >= 1_000_000 and (text := _short(value, 1_000_000, 3)):
            return f"USD {text}M"
        return f"USD {_plain(value)}"
    if measure == "percent":
        return f"{_plain(value)}%"
    if measure == "days":
        return f"{_plain(value)}天" if zh else f"{_plain(value)} days"
    return _plain(value)


def amounts(value: Any, measure: Measure | None) -> tuple[str, str]:
    """``amount`` in zh and in en at once (a reason carries both): the same texts,
    with the work both share done once."""
    return _PAIRS[measure](value)


def figure(value: Any) -> str | None:
    """``_plain(value)`` for a number, None for anything else; floats and ints,
    what reasons format on every decision, first."""
    kind = type(value)
    if kind is float:
        if -1000 < value < 1000:
            return str(int(value)) if value.is_integer() else repr(value)
        return f"{int(value):,}" if value.is_integer() else f"{value:,}"
    if kind is int:
        return str(value) if -1000 < value < 1000 else f"{value:,}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return _plain(value)


def _other(value: Any) -> tuple[str, str]:
    text = "-" if value is None else str(value)
    return text, text


def _percent(value: Any) -> tuple[str, str]:
    plain = figure(value)
    if plain is None:
        return _other(value)
    text = plain + "%"
    return text, text


def _days(value: Any) -> tuple[str, str]:
    plain = figure(value)
    if plain is None:
        return _other(value)
    return plain + "天", plain + " days"


def _number(value: Any) -> tuple[str, str]:
    plain = figure(value)
    if plain is None:
        return _other(value)
    return plain, plain


def _usd(value: Any) -> tuple[str, str]:
    """``amount(value, "usd", ...)`` in zh and en; the plain figure written once."""
    plain = figure(value)
    if plain is None:
        return _other(value)
    size = abs(value)
    if size >= 100_000_000 and (text := _short(value, 100_000_000, 4)):
        zh = f"{text}亿美元"
    elif size >= 10_000 and (text := _short(value, 10_000, 2)):
        zh = f"{text}万美元"
    else:
        zh = plain + "美元"
    if size >= 1_000_000_000 and (text := _short(value, 1_000_000_000, 3)):
        en = f"USD {text}B"
    elif size >= 1_000_000 and (text := _short(value, 1_000_000, 3)):
        en = f"USD {text}M"
    else:
        en = "USD " + plain
    return zh, en


_PAIRS: dict[Measure | None, Callable[[Any], tuple[str, str]]] = {
    "usd": _usd, "percent": _percent, "days": _days, None: _number}


def level_name(org: OrgTree, code: Any, language: str) -> str:
    text = org.level_names.get(str(code))
    return text.in_language(language) if text is not None else str(code)


def label(policy: Policy, name: str, language: str) -> str:
    """A field's short name: its label, else its description, else its name."""
    text: Text | None = None
    if name in policy.inputs:
        decl = policy.inputs[name]
        text = decl.label or decl.description
    elif name in policy.derived:
        text = policy.derived[name].label
    elif name in policy.history:
        text = policy.history[name].label
    elif name in policy.parameters:
        text = policy.parameters[name].description
    return text.in_language(language) if text is not None else name


def measure_of(policy: Policy, name: str) -> Measure | None:
    if name in policy.inputs:
        return policy.inputs[name].measure
    if name in policy.derived:
        return policy.derived[name].measure
    if name in policy.history:
        return "usd" if name.endswith("_usd") else None
    if name in policy.parameters:
        return policy.parameters[name].measure or _compared_with(policy, name)
    return None


def _compared_with(policy: Policy, parameter: str) -> Measure | None:
    """A parameter is measured like the field a cell compares it with."""
    for table in policy.tables:
        for rule in table.rules:
            for field, cell in rule.when.items():
                if isinstance(cell, str) and parameter in cell.replace("..", " ").split():
                    return measure_of(policy, field)
    return None


def output_label(policy: Policy, name: str, language: str) -> str:
    """An output's name for people: its description, else its name."""
    decl = policy.outputs.get(name)
    if decl is None or decl.description is None:
        return name
    return decl.description.in_language(language)


def output_value(policy: Policy, org: OrgTree, name: str, value: Any, language: str) -> str:
    """An output's value for people: a level or a unit by its name (地区部, 中东地区部)."""
    decl = policy.outputs.get(name)
    if value is None:
        return "-"
    if decl is not None and decl.ordering == "levels":
        return level_name(org, value, language)
    unit = org.units.get(value) if isinstance(value, str) else None
    if unit is not None:
        return unit.name.in_language(language)
    return amount(value, None, language) if isinstance(value, int | float) else str(value)
