"""A seeded generator of realistic inputs for any policy, from its input declarations.

What a sales book looks like: contract values log-normal (many small deals, a
few very large ones), offices weighted by region, most deals clean and a tail
of red lines, unqualified customers and non-standard terms, and customers that
come back to the same office within weeks, so A10 deal splitting matters.

Each field can be set in the scenario (``corpus.generate.fields``):
``{value: X}``, ``{choices: [...]}``, ``{weights: {A: 3, B: 1}}``,
``{lognormal: {median: M, sigma: S}}``, ``{uniform: [low, high]}``,
``{empty: 0.9}`` (lists: share of rows with none) and ``{absent: 0.1}``
(optional fields: share of rows without it).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from typing import Any

from decision_service.simulation.plan import Plan, policy_sets

# Share of deals by region: large home market, then the big regions; others share the rest.
REGION_WEIGHTS = {"CHN": 30.0, "WEU": 12.0, "SEA": 8.0, "LAS": 7.0, "MEA": 6.0, "SAS": 5.0}
OTHER_REGION_WEIGHT = 3.0
# Known fields get the distribution a sales book has; others a plain one by type.
ENUM_WEIGHTS: dict[str, dict[str, float]] = {
    "decision_point": {"ATI": 20, "ATB": 25, "ATC": 40, "CHANGE": 15},
    "customer_tier": {"S": 8, "A": 30, "B": 37, "C": 20, "X": 5},
    "trade_compliance": {"PASS": 96, "PENDING": 3, "FAIL": 1},
    "business_group": {"CARRIER": 65, "ENTERPRISE": 35},
    "credit_rating": {"A": 25, "B": 35, "C": 25, "D": 10, "E": 5},
    "risk_level": {"LOW": 60, "MEDIUM": 30, "HIGH": 10},
}
LIST_EMPTY = 0.85  # most deals have standard terms
CUSTOMERS_PER_OFFICE = 40  # so the same customer comes back to an office
RETURNING = 0.7  # share of deals from the office's regular customers


def _money(rng: random.Random, median: float, sigma: float) -> float:
    return round(rng.lognormvariate(math.log(median), sigma), -3)


class _Field:
    """How one input is drawn."""

    def __init__(self, name: str, decl: Any, setting: dict[str, Any], offices: list[str],
                 office_weights: list[float]) -> None:
        self.name, self.decl, self.setting = name, decl, setting
        self.offices, self.office_weights = offices, office_weights

    def draw(self, rng: random.Random, row: dict[str, Any]) -> Any:
        s, decl, name = self.setting, self.decl, self.name
        if "value" in s:
            return s["value"]
        if "choices" in s:
            return rng.choice(list(s["choices"]))
        if "weights" in s:
            keys = list(s["weights"])
            return rng.choices(keys, [float(s["weights"][k]) for k in keys])[0]
        kind = decl.type
        if kind == "unit":
            return rng.choices(self.offices, self.office_weights)[0]
        if kind == "enum":
            values = list(decl.values)
            weights = ENUM_WEIGHTS.get(name, {})
            return rng.choices(values, [float(weights.get(v, 1.0)) for v in values])[0]
        if kind == "list":
            if rng.random() < float(s.get("empty", LIST_EMPTY)):
                return []
            # later terms are rarer (the list runs from mild to severe)
            rarity = [1.0 / (i + 1) for i in range(len(decl.values))]
            picked = {rng.choices(list(decl.values), rarity)[0]
                      for _ in range(1 + int(rng.random() < 0.2))}
            return [v for v in decl.values if v in picked]
        if kind == "boolean":
            return rng.random() < float(s.get("true", 0.3))
        if kind in ("number", "integer"):
            return self._number(rng, row)
        if kind == "string":
            return self._identifier(rng, row)
        return None

    def _number(self, rng: random.Random, row: dict[str, Any]) -> float | int:
        s, decl, name = self.setting, self.decl, self.name
        low = decl.minimum if isinstance(decl.minimum, int | float) else None
        high = decl.maximum if isinstance(decl.maximum, int | float) else None
        if isinstance(decl.maximum, str) and decl.maximum in row:
            high = row[decl.maximum]
        if "uniform" in s:
            value: float = rng.uniform(float(s["uniform"][0]), float(s["uniform"][1]))
        elif "lognormal" in s:
            value = _money(rng, float(s["lognormal"]["median"]), float(s["lognormal"]["sigma"]))
        elif name.endswith("_usd"):
            value = _money(rng, 3_000_000.0, 1.5)
        elif name.endswith("_pct"):
            value = round(rng.gauss(34.0, 9.0), 1) if "margin" in name else \
                rng.choices([0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0], [4, 5, 12, 14, 25, 30, 10])[0]
        elif name.endswith("_days"):
            value = rng.choices([30, 45, 60, 90, 120, 180, 270, 365, 540],
                                [15, 15, 25, 20, 10, 8, 4, 2, 1])[0]
        elif name.endswith("_years"):
            value = round(rng.expovariate(1 / 4.0), 1)
        else:
            value = rng.choices([1, 2, 3, 5], [50, 25, 15, 10])[0]
        if low is not None:
            value = max(value, low)
        if high is not None:
            value = min(value, high)
        return round(value) if decl.type == "integer" else float(value)

    def _identifier(self, rng: random.Random, row: dict[str, Any]) -> str:
        if self.name.startswith("customer"):
            office = next((v for v in row.values() if v in self.offices), "X")
            if rng.random() < RETURNING:
                return f"{office}-C{rng.randrange(CUSTOMERS_PER_OFFICE):03d}"
            return f"C{rng.randrange(10**9):09d}"
        return f"{self.name.removesuffix('_id')}-{rng.randrange(10**6):06d}"


def generate_rows(plan: Plan, count: int, seed: int, date_from: dt.date | None,
                  date_to: dt.date | None, settings: dict[str, dict[str, Any]]
                  ) -> Iterator[dict[str, Any]]:
    """``count`` inputs for the plan's policy, the same for the same seed."""
    policies, _ = policy_sets(plan.baseline_texts, plan.candidate_texts)
    policy = policies.versions[plan.policy][-1].compiled.policy
    org = policies.org
    offices = sorted(org.codes("office"))
    weights = [REGION_WEIGHTS.get(org.region_of(o) or "", OTHER_REGION_WEIGHT) /
               max(1, sum(1 for p in offices if org.region_of(p) == org.region_of(o)))
               for o in offices]
    fields = [_Field(n, d, settings.get(n, {}), offices, weights)
              for n, d in _ordered(policy.inputs).items()]
    start = date_from or dt.date(2026, 1, 1)
    days = max(0, ((date_to or start + dt.timedelta(days=364)) - start).days)
    rng = random.Random(seed)
    date_input = policy.meta.decision_date_input
    for _ in range(count):
        row: dict[str, Any] = {}
        for f in fields:
            setting, decl = f.setting, f.decl
            if f.name == date_input:
                if "value" in setting:
                    row[f.name] = setting["value"]
                else:
                    row[f.name] = (start + dt.timedelta(days=rng.randint(0, days))).isoformat()
                continue
            optional = not decl.required or decl.default is not None
            if optional and rng.random() < float(setting.get("absent", 0.5)):
                continue
            may_omit = decl.optional_when and all(row.get(k) == v
                                                  for k, v in decl.optional_when.items())
            if may_omit and rng.random() < float(setting.get("absent", 0.8)):
                continue
            row[f.name] = f.draw(rng, row)
        yield row


def _ordered(inputs: dict[str, Any]) -> dict[str, Any]:
    """Units first (customers belong to an office), bounds before what they bound."""
    first = {n: d for n, d in inputs.items() if d.type == "unit"}
    later = {n: d for n, d in inputs.items() if n not in first and isinstance(d.maximum, str)}
    rest = {n: d for n, d in inputs.items() if n not in first and n not in later}
    return {**first, **rest, **later}
