"""Engine benchmark: authorization decisions per second, as ratios to a
hand-written Python function of the same rules, timed in the same run over
the same inputs.

    python bench/engine.py [--n 100000] [--durable-n N] [--seed 20261123] [--repeat 3]

1. Generates N random valid authorization deals (seeded; boundary-heavy) and
   validates them once up front (not timed).
2. Checks that the hand-written function and the compiled engine agree on
   required_level for every deal (and reports unit and fired-rule mismatches).
3. Times, on already-validated inputs:
   (a) the hand-written function (the baseline),
   (b) the compiled engine: ``engine.evaluate(values, history)`` on the validated
       input; turning the input into the engines' fact is part of it (the
       compiled engine reads the input directly, the durable engine calls
       ``compiled.fact(values, history)`` and then matches),
   (c) the durable engine the same way (on the first --durable-n deals, default all;
       its ratio is to the baseline timed on those same deals),
   and end to end, on the raw deals:
   (d) the public ``PolicySet.decide`` path (validation, evaluation, reasons)
       against the hand-written function plus a strict pydantic validation.
Ratios are "times slower than the baseline" (1.00x = as fast). Nothing is
asserted: the figures are printed for the issue's goals (compiled within 1.5x,
durable within 10x of the hand-written function).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from decision_service.engines import Engine  # noqa: E402
from decision_service.engines.reference import final_outputs  # noqa: E402
from decision_service.language.model import OrgTree  # noqa: E402
from decision_service.policy_files import read_policy_dir  # noqa: E402
from decision_service.policyset import PolicySet, PolicyVersion  # noqa: E402

TODAY = dt.date(2026, 11, 23)
V2_FROM = dt.date(2027, 1, 1)

# ---------------------------------------------------------------------------
# (a) the hand-written function: A1-A9 with the unit settings, and A11.

SD, OF, RG, BG, CO = range(5)
LEVELS = ("SYSTEM_DEPT", "OFFICE", "REGION", "BG", "COMPANY")
TERM_LEVEL = (  # A5, in the policy's rule order (priority: first of the highest wins)
    ("EXTENDED_WARRANTY_OVER_3Y", OF, "A5.1"),
    ("CUSTOMER_CURRENCY", RG, "A5.2"),
    ("LIQUIDATED_DAMAGES_OVER_10PCT", BG, "A5.3"),
    ("UNLIMITED_LIABILITY", CO, "A5.4"),
    ("IP_TRANSFER", CO, "A5.5"),
)


@dataclass(frozen=True, slots=True)
class Limits:
    """The figures that hold for one office (defaults, then region, then office)."""

    value: tuple[float, float, float, float]  # SYSTEM_DEPT, OFFICE, REGION, BG limits
    margin: tuple[float, float, float, float]  # SYSTEM_DEPT, OFFICE, REGION, BG floors
    term: tuple[int, int, int, int]
    advance: tuple[float, float, float]  # SYSTEM_DEPT, OFFICE, REGION floors
    region: str
    watchlist: bool


def office_limits(org: OrgTree, version: int) -> dict[str, Limits]:
    out: dict[str, Limits] = {}
    for office in org.codes("office"):
        region = org.region_of(office) or office
        office_value = 30_000_000 if version == 2 else 20_000_000
        office_margin = 28 if version == 2 else 30
        region_value = 100_000_000
        office_term = 90
        if region == "WEU":
            region_value = 150_000_000
        if office == "DE":
            office_value, office_margin = 50_000_000, 25
        if office in ("AR", "CR"):
            office_term = 120
        out[office] = Limits(
            value=(2_000_000, office_value, region_value, 300_000_000),
            margin=(35, office_margin, 20, 10),
            term=(60, office_term, 180, 360),
            advance=(30, 20, 10),
            region=region,
            watchlist=org.units[office].watchlist,
        )
    return out


def make_hand_written(org: OrgTree) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    v1, v2 = office_limits(org, 1), office_limits(org, 2)

    def decide(d: dict[str, Any]) -> tuple[str, str | None, str | None, list[str]]:
        point = d["decision_point"]
        compliance = d["trade_compliance"]
        tier = d["customer_tier"]
        # A7 and A6: red lines and unqualified customers decide alone.
        if compliance == "FAIL" or (compliance == "PENDING" and point == "ATC") or (
                tier == "X" and point != "CHANGE"):
            fired = []
            if compliance == "FAIL":
                fired.append("A7.fail")
            if compliance == "PENDING" and point == "ATC":
                fired.append("A7.pending-atc")
            if tier == "X" and point != "CHANGE":
                fired.append("A6.tier-x")
            return "deny", None, None, fired
        office = d["office"]
        as_of = d["as_of"] or TODAY
        lim = (v2 if as_of >= V2_FROM else v1)[office]
        # A1 (A10: the prior ATC total is 0 without a decision log)
        value = d["contract_value_usd"]
        v = lim.value
        if value <= v[0]:
            level, fired = SD, ["A1.1"]
        elif value <= v[1]:
            level, fired = OF, ["A1.2"]
        elif value <= v[2]:
            level, fired = RG, ["A1.3"]
        elif value <= v[3]:
            level, fired = BG, ["A1.4"]
        else:
            level, fired = CO, ["A1.5"]
        if point != "ATI":  # A8: ATI applies only A1, A6 and A7
            margin = d["gross_margin_pct"]
            m = lim.margin
            if margin >= m[0]:
                fired.append("A2.1")
            elif margin >= m[1]:
                level = max(level, OF)
                fired.append("A2.2")
            elif margin >= m[2]:
                level = max(level, RG)
                fired.append("A2.3")
            elif margin >= m[3]:
                level = max(level, BG)
                fired.append("A2.4")
            else:
                level = CO
                fired.append("A2.5")
            days = d["payment_term_days"]
            t = lim.term
            if days <= t[0]:
                fired.append("A3.1")
            elif days <= t[1]:
                level = max(level, OF)
                fired.append("A3.2")
            elif days <= t[2]:
                level = max(level, RG)
                fired.append("A3.3")
            elif days <= t[3]:
                level = max(level, BG)
                fired.append("A3.4")
            else:
                level = CO
                fired.append("A3.5")
            advance = d["advance_payment_pct"]
            a = lim.advance
            if advance >= a[0]:
                fired.append("A4.1")
            elif advance >= a[1]:
                level = max(level, OF)
                fired.append("A4.2")
            elif advance >= a[2]:
                level = max(level, RG)
                fired.append("A4.3")
            elif advance > 0:
                level = max(level, BG)
                fired.append("A4.4")
            else:
                level = CO
                fired.append("A4.5")
            terms = d["non_standard_terms"]
            if terms:
                best, best_rule = -1, ""
                for term, term_level, rule in TERM_LEVEL:
                    if term in terms and term_level > best:
                        best, best_rule = term_level, rule
                if best >= 0:
                    level = max(level, best)
                    fired.append(best_rule)
        if tier == "B":
            level = max(level, OF)
            fired.append("A6.1")
        elif tier == "C":
            level = max(level, RG)
            fired.append("A6.2")
        elif tier == "X":  # CHANGE only: the others were denied above
            level = max(level, RG)
            fired.append("A6.3")
        if compliance == "PENDING":
            level = max(level, OF)
            fired.append("A7.1")
        if lim.watchlist:  # A9: a watch-listed office holds no authority of its own
            level = max(level, RG)
            fired.append("A9.watchlist.1")
        if point == "ATI" and level > RG:  # A8: ATI is decided at REGION at most
            level = RG
            fired.append("A8.1")
        if level <= OF:
            unit = office
        elif level == RG:
            unit = lim.region
        elif level == BG:
            unit = "BG-" + d["business_group"]
        else:
            unit = "HQ"
        return "route", LEVELS[level], unit, fired

    return decide


# ---------------------------------------------------------------------------
# the corpus

TERMS = [t for t, _, _ in TERM_LEVEL]


def _near(rng: random.Random, edges: Iterable[float], step: float) -> float:
    edge = rng.choice(list(edges))
    return round(edge + rng.choice((-step, 0.0, 0.0, step)), 2)


def generate(rng: random.Random, org: OrgTree, n: int) -> list[dict[str, Any]]:
    offices = list(org.codes("office"))
    watch = [o for o in offices if org.units[o].watchlist]
    weu = [o for o in offices if org.region_of(o) == "WEU"]
    special = ["DE", "AR", "CR", *weu, *watch]
    value_edges = [0, 2_000_000, 20_000_000, 30_000_000, 50_000_000, 100_000_000,
                   150_000_000, 300_000_000]
    deals = []
    for i in range(n):
        point = rng.choice(("ATI", "ATB", "ATC", "CHANGE"))
        deal: dict[str, Any] = {
            "decision_point": point,
            "office": rng.choice(special) if rng.random() < 0.4 else rng.choice(offices),
            "customer_id": f"C-{rng.randrange(5000)}",
            "customer_tier": rng.choices("SABCX", weights=(3, 4, 3, 2, 1))[0],
            "trade_compliance": rng.choices(("PASS", "PENDING", "FAIL"),
                                            weights=(90, 7, 3))[0],
            "as_of": (dt.date(2026, 7, 1) + dt.timedelta(days=rng.randrange(365))).isoformat(),
        }
        if rng.random() < 0.5:
            deal["contract_value_usd"] = max(0.0, _near(rng, value_edges, 0.01))
        else:
            deal["contract_value_usd"] = round(10 ** rng.uniform(4, 9), 2)
        if rng.random() < 0.5:
            deal["business_group"] = rng.choice(("CARRIER", "ENTERPRISE"))
        if rng.random() < 0.3:
            deal["requester_id"] = f"u-{rng.randrange(100)}"
        if point != "ATI" or rng.random() < 0.5:
            deal["gross_margin_pct"] = (_near(rng, (35, 30, 28, 25, 20, 10), 0.01)
                                        if rng.random() < 0.5
                                        else round(rng.uniform(-20, 60), 2))
            deal["payment_term_days"] = (int(_near(rng, (60, 90, 120, 180, 360), 1))
                                         if rng.random() < 0.5 else rng.randrange(0, 400))
            deal["advance_payment_pct"] = (max(0.0, _near(rng, (30, 20, 10, 0), 0.01))
                                           if rng.random() < 0.5
                                           else round(rng.uniform(0, 50), 2))
        if rng.random() < 0.3:
            deal["non_standard_terms"] = rng.sample(TERMS, rng.randint(0, 3))
        deals.append(deal)
        del i
    return deals


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="deals in the corpus")
    parser.add_argument("--durable-n", type=int, default=None,
                        help="deals timed on the durable engine (the first ones; default all)")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args(argv)

    texts = read_policy_dir(ROOT / "policies")
    try:
        policies = PolicySet.from_texts(texts, engines=("compiled", "durable"))
        durable_error = None
    except Exception as exc:  # the durable backend may be missing or broken
        policies = PolicySet.from_texts(texts, engines=("compiled",))
        durable_error = f"{type(exc).__name__}: {exc}"
    org = policies.org
    versions: list[PolicyVersion] = policies.versions["authorization"]
    v1 = policies.version("authorization", "1")
    v2 = policies.version("authorization", "2")
    assert [v.compiled.version for v in versions] == ["1", "2"]
    hand = make_hand_written(org)

    print(f"corpus: {args.n:,} authorization deals, seed {args.seed}", flush=True)
    raw = generate(random.Random(args.seed), org, args.n)

    # Validate once, up front (not timed): the engines' inputs.
    start = time.perf_counter()
    prepared = [policies.prepare("authorization", deal, today=TODAY) for deal in raw]
    print(f"  validated up front in {time.perf_counter() - start:.1f} s (not timed)")
    values = [p.values for p in prepared]
    histories = [{name: 0.0 for name in p.policy.policy.history} for p in prepared]
    points = {}
    for v in values:
        points[v["decision_point"]] = points.get(v["decision_point"], 0) + 1
    in_v2 = sum(1 for p in prepared if p.policy.version == "2")
    print(f"  decision points {dict(sorted(points.items()))}; version 2: {in_v2:,}")

    # Agreement before timing.
    c1, c2 = v1.compiled, v2.compiled
    e1, e2 = v1.engines["compiled"], v2.engines["compiled"]
    level_mismatch = unit_mismatch = rule_mismatch = 0
    examples = []
    levels_seen: dict[str | None, int] = {}
    for deal, v, h in zip(raw, values, histories, strict=True):
        cp, eng = (c2, e2) if v["as_of"] >= V2_FROM else (c1, e1)
        evaluation = eng.evaluate(v, h)
        outputs = final_outputs(cp, evaluation, v)
        fired = [cp.tables[t].rules[r].rule.id for t, r in evaluation.fired]
        outcome, level, unit, hand_fired = hand(v)
        levels_seen[level] = levels_seen.get(level, 0) + 1
        if level != outputs["required_level"] or outcome != outputs["outcome"]:
            level_mismatch += 1
            if len(examples) < 5:
                examples.append((deal, (outcome, level), outputs))
        if unit != outputs["approver_unit"]:
            unit_mismatch += 1
        if fired != hand_fired:
            rule_mismatch += 1
    print(f"  levels: {levels_seen}")
    print(f"agreement, hand-written vs compiled engine, all {args.n:,} deals: "
          f"required_level/outcome mismatches {level_mismatch}, approver_unit mismatches "
          f"{unit_mismatch}, fired-rule mismatches {rule_mismatch}")
    for deal, mine, theirs in examples:
        print(f"  MISMATCH {deal}\n    hand {mine}\n    engine {theirs}")

    durable_n = args.n if args.durable_n is None else min(args.durable_n, args.n)
    sub_values, sub_hist = values[:durable_n], histories[:durable_n]
    model = versions[-1].model

    def run_hand(subset: list[dict[str, Any]]) -> Callable[[], None]:
        def run() -> None:
            for v in subset:
                hand(v)
        return run

    def run_engine(name: str, subset_values: list[dict[str, Any]],
                   subset_hist: list[dict[str, float]]) -> Callable[[], None]:
        x1: Engine = v1.engines[name]
        x2: Engine = v2.engines[name]

        def run() -> None:
            for v, h in zip(subset_values, subset_hist, strict=True):
                if v["as_of"] >= V2_FROM:
                    x2.evaluate(v, h)
                else:
                    x1.evaluate(v, h)
        return run

    def run_fact_only() -> None:
        for v, h in zip(values, histories, strict=True):
            (c2 if v["as_of"] >= V2_FROM else c1).fact(v, h)

    def run_validated_hand() -> None:
        for deal in raw:
            hand(dict(model.model_validate(deal)))

    def run_decide() -> None:
        for deal in raw:
            policies.decide("authorization", deal, today=TODAY)

    # Contenders are timed in interleaved rounds (a, b, b', ..., then again), best
    # of each kept, so a busy machine slows baseline and engines alike.
    contenders: list[tuple[str, int, Callable[[], None]]] = [
        ("a", args.n, run_hand(values)),
        ("b", args.n, run_engine("compiled", values, histories)),
        ("b'", args.n, run_fact_only),
        ("d-base", args.n, run_validated_hand),
        ("d", args.n, run_decide),
    ]
    if durable_error is None:
        if durable_n != args.n:
            contenders.append(("a-sub", durable_n, run_hand(sub_values)))
        contenders.append(("c", durable_n, run_engine("durable", sub_values, sub_hist)))
    else:
        print(f"  (c) durable engine: skipped ({durable_error})")
    best: dict[str, float] = {}
    for round_ in range(1, args.repeat + 1):
        line = []
        for key, count, run in contenders:
            gc.collect()
            started = time.perf_counter()
            run()
            seconds = time.perf_counter() - started
            best[key] = min(best.get(key, float("inf")), seconds / count)
            line.append(f"{key} {seconds:.2f}s")
        print(f"  round {round_}: " + ", ".join(line), flush=True)

    base = best["a"]
    rows = [
        ("(a) hand-written Python function (baseline)", base, 1.0),
        ("(b) compiled engine: evaluate(values, history), fact conversion included",
         best["b"], best["b"] / base),
        ("(b') compiled.fact(values, history) alone (what durable builds first)",
         best["b'"], best["b'"] / base),
    ]
    durable_ratio = None
    if "c" in best:
        durable_ratio = best["c"] / best.get("a-sub", base)  # same deals as the baseline
        rows.append((f"(c) durable engine, fact building included [{durable_n:,} deals]",
                     best["c"], durable_ratio))
    print()
    print(f"{'engine figures, validated inputs (' + format(args.n, ',') + ' deals)':<76} "
          f"{'decisions/s':>12} {'vs (a)':>8}")
    for label, per, ratio in rows:
        print(f"{label:<76} {1 / per:>12,.0f} {ratio:>7.2f}x")
    print()
    print(f"{'end-to-end figures, raw deals':<76} {'decisions/s':>12} {'vs base':>8}")
    print(f"{'(d) baseline: strict pydantic validation + hand-written function':<76} "
          f"{1 / best['d-base']:>12,.0f} {1:>7.2f}x")
    print(f"{'(d) PolicySet.decide: validation + compiled engine + reasons':<76} "
          f"{1 / best['d']:>12,.0f} {best['d'] / best['d-base']:>7.2f}x")
    print()
    print(f"goals: compiled within 1.50x of (a): {best['b'] / base:.2f}x; durable within 10x "
          "of (a): " + (f"{durable_ratio:.2f}x" if durable_ratio is not None
                        else "not measured"))
    policies.close()


if __name__ == "__main__":
    main()
