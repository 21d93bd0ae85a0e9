"""Which unit a process owner meant when a code is not in the org tree.

One place for every report of an unknown unit (policy settings, rollout.yaml,
simulation scenarios, decision inputs): a code is matched by its code, its
English and Chinese names and the initials of its English name, all ignoring
case, so ``UAE`` finds AE (United Arab Emirates) and ``germany`` finds DE.
"""

from __future__ import annotations

from collections.abc import Iterable

from decision_service.language.model import OrgTree, Unit


def suggest_unit(org: OrgTree, text: str, kinds: Iterable[str] | None = None) -> Unit | None:
    """The unit ``text`` most likely means (of ``kinds`` only, when given), or None."""
    wanted = set(kinds) if kinds is not None else None
    for code in org.closest(text, None, limit=len(org.units)):
        if wanted is None or org.units[code].kind in wanted:
            return org.units[code]
    return None


def unit_hint(org: OrgTree, text: str, kinds: Iterable[str] | None = None) -> str:
    """``; did you mean AE (United Arab Emirates, 阿联酋代表处)?`` or ``""``."""
    unit = suggest_unit(org, text, kinds)
    if unit is None or unit.code == text:
        return ""
    return f"; did you mean {unit.code} ({_names(unit.name.en, unit.name.zh)})?"


def unit_hint_zh(org: OrgTree, text: str, kinds: Iterable[str] | None = None) -> str:
    """``；是否指 AE（阿联酋代表处，United Arab Emirates）？`` or ``""``."""
    unit = suggest_unit(org, text, kinds)
    if unit is None or unit.code == text:
        return ""
    return f"；是否指 {unit.code}（{_names(unit.name.zh, unit.name.en, '，')}）？"


def _names(first: str, second: str, between: str = ", ") -> str:
    return first if first == second else f"{first}{between}{second}"
