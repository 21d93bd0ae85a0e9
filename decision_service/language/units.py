"""Which unit a process owner meant when a code is not in the org tree.

One place for every report of an unknown unit (policy settings, rollout.yaml,
simulation scenarios, decision inputs): a code is matched by its code, its
English and Chinese names and the initials of its English name, all ignoring
case, so ``UAE`` finds AE (United Arab Emirates) and ``germany`` finds DE.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from decision_service.language.model import OrgTree, Unit


def _keys(unit: Unit) -> Iterable[str]:
    yield unit.code.lower()
    yield unit.name.en.lower()
    yield unit.name.zh.lower()
    words = unit.name.en.split()
    if len(words) > 1:
        yield "".join(word[0] for word in words).lower()


def suggest_unit(org: OrgTree, text: str, kinds: Iterable[str] | None = None) -> Unit | None:
    """The unit ``text`` most likely means (of ``kinds`` only, when given), or None."""
    wanted = set(kinds) if kinds is not None else None
    by_key: dict[str, Unit] = {}
    for unit in org.units.values():
        if wanted is None or unit.kind in wanted:
            for key in _keys(unit):
                by_key.setdefault(key, unit)
    needle = text.strip().lower()
    if needle in by_key:
        return by_key[needle]
    close = difflib.get_close_matches(needle, list(by_key), n=1, cutoff=0.75)
    return by_key[close[0]] if close else None


def unit_hint(org: OrgTree, text: str, kinds: Iterable[str] | None = None) -> str:
    """``; did you mean 'AE' (United Arab Emirates, 阿联酋代表处)?`` or ``""``."""
    unit = suggest_unit(org, text, kinds)
    if unit is None or unit.code == text:
        return ""
    return f"; did you mean {unit.code!r} ({_names(unit.name.en, unit.name.zh)})?"


def unit_hint_zh(org: OrgTree, text: str, kinds: Iterable[str] | None = None) -> str:
    """``；是否指 AE（阿联酋代表处，United Arab Emirates）？`` or ``""``."""
    unit = suggest_unit(org, text, kinds)
    if unit is None or unit.code == text:
        return ""
    return f"；是否指 {unit.code}（{_names(unit.name.zh, unit.name.en, '，')}）？"


def _names(first: str, second: str, between: str = ", ") -> str:
    return first if first == second else f"{first}{between}{second}"
