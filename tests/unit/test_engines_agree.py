"""Differential property test: the compiled engine and the durable engine give
the very same answer (outputs, reasons, explanation) for thousands of random
valid inputs of every shipped policy, with boundary-heavy numbers (each limit
exactly, ±0.01, the unit settings of DE, AR, CR and WEU, watch-listed offices,
both versions of authorization) and numbers Python prints with an exponent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from samples import POLICIES
from samples import deal as sample_deal

from decision_service.errors import EvaluationError, InputError
from decision_service.language.parse import load_org
from decision_service.policy_files import read_policy_dir
from decision_service.policyset import PolicySet

TEXTS = read_policy_dir(POLICIES)
ORG = load_org(TEXTS["org/org.yaml"], "org/org.yaml")
OFFICES = sorted(ORG.codes("office"))
WATCHLISTED = sorted(o for o in OFFICES if ORG.units[o].watchlist)
WEU = sorted(o for o in OFFICES if ORG.region_of(o) == "WEU")
TODAY = dt.date(2026, 11, 23)

# The profile's count (tests/conftest.py); authorization, with the most rules, gets three
# times as many, an authority check (a decision and a check) half as many.
EXAMPLES = settings().max_examples


@pytest.fixture(scope="module")
def both() -> Iterator[PolicySet]:
    policies = PolicySet.from_texts(TEXTS, engines=("compiled", "durable"))
    yield policies
    policies.close()


def answer(policies: PolicySet, policy: str, raw: dict[str, Any], engine: str,
           history: dict[str, float] | None = None) -> Any:
    prepared = policies.prepare(policy, raw, today=TODAY)
    try:
        body = policies.evaluate(prepared, history, engine).as_dict()
    except EvaluationError as exc:
        return ("evaluation_error", str(exc))
    assert body.pop("engine") == engine
    return body


def assert_engines_agree(policies: PolicySet, policy: str, raw: dict[str, Any],
                         history: dict[str, float] | None = None) -> None:
    compiled = answer(policies, policy, raw, "compiled", history)
    durable = answer(policies, policy, raw, "durable", history)
    assert durable == compiled, f"{policy} {raw} history={history}"
    assert_durable_paths_agree(policies, policy, raw, history)


def assert_durable_paths_agree(policies: PolicySet, policy: str, raw: dict[str, Any],
                               history: dict[str, float] | None = None) -> None:
    """The durable engine's generated path decides as its interpreted one, which is
    ``reference.run`` over a durable match per stage: same outputs (in the same
    order), same rules fired, same errors."""
    prepared = policies.prepare(policy, raw, today=TODAY)
    engine = policies.version(prepared.policy.id, prepared.policy.version).engines["durable"]
    given = (history or {}) if prepared.history_query is not None else {}
    totals = {name: float(given.get(name, 0.0)) for name in prepared.policy.policy.history}

    def outcome(evaluate: Any) -> Any:
        try:
            evaluation = evaluate(prepared.values, totals)
        except (EvaluationError, ValueError) as exc:
            return (type(exc).__name__, str(exc))
        return list(evaluation.outputs.items()), list(evaluation.fired)

    assert outcome(engine.evaluate) == outcome(engine.evaluate_interpreted), f"{policy} {raw}"


# -- numbers ---------------------------------------------------------------------------


def near(edges: list[float], steps: tuple[float, ...] = (0, 0.01, -0.01)) -> Any:
    return st.builds(lambda e, s: round(e + s, 2), st.sampled_from(edges),
                     st.sampled_from(steps))


def clamp(strategy: Any, low: float, high: float) -> Any:
    return strategy.map(lambda v: min(max(v, low), high))


VALUE_EDGES = [0, 1_000_000, 2_000_000, 5_000_000, 20_000_000, 30_000_000, 50_000_000,
               100_000_000, 150_000_000, 300_000_000]
MONEY = clamp(st.one_of(
    near(VALUE_EDGES, (0, 0, 0.01, -0.01, 1)),
    st.integers(0, 10**12),
    st.floats(0, 1e12, allow_nan=False, allow_infinity=False),
    st.sampled_from([1e15, 10**15, 2.5e8, 5e8, 1e-7, 5e-324, 2_000_000.000001]),
), 0, 10**15)  # the policies' money limit: USD 10^15
MARGIN = clamp(st.one_of(
    near([35, 30, 28, 25, 20, 15, 10, 0, -100, 100]),
    st.floats(-100, 100, allow_nan=False),
    st.integers(-100, 100),
), -100, 100)
TERM_DAYS = st.one_of(
    st.sampled_from([0, 59, 60, 61, 89, 90, 91, 119, 120, 121, 179, 180, 181, 359, 360, 361,
                     3650]),
    st.integers(0, 3650),
)
ADVANCE = clamp(st.one_of(
    near([30, 20, 10, 0, 100]),
    st.sampled_from([0, 0.0, 0.01, 1e-9]),
    st.floats(0, 100, allow_nan=False),
), 0, 100)
DATES = st.one_of(
    st.sampled_from([dt.date(2026, 12, 31), dt.date(2027, 1, 1), dt.date(2027, 1, 2)]),
    st.dates(dt.date(2026, 1, 1), dt.date(2028, 12, 31)),
).map(dt.date.isoformat)
OFFICE = st.one_of(st.sampled_from(["DE", "AR", "CR", *WEU, *WATCHLISTED]),
                   st.sampled_from(OFFICES))
TERMS = ["EXTENDED_WARRANTY_OVER_3Y", "CUSTOMER_CURRENCY", "LIQUIDATED_DAMAGES_OVER_10PCT",
         "UNLIMITED_LIABILITY", "IP_TRANSFER"]


# -- authorization ------------------------------------------------------------------------


@st.composite
def deals(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, float]]:
    point = draw(st.sampled_from(["ATI", "ATB", "ATC", "CHANGE"]))
    deal: dict[str, Any] = {
        "decision_point": point,
        "office": draw(OFFICE),
        "customer_id": draw(st.sampled_from(["C-1", "C-2", "客户-3"])),
        "customer_tier": draw(st.sampled_from(["S", "A", "B", "C", "X"])),
        "contract_value_usd": draw(MONEY),
        "trade_compliance": draw(st.sampled_from(["PASS", "PASS", "PENDING", "FAIL"])),
    }
    for name, strategy in (("gross_margin_pct", MARGIN), ("payment_term_days", TERM_DAYS),
                           ("advance_payment_pct", ADVANCE)):
        if point != "ATI" or draw(st.booleans()):
            deal[name] = draw(strategy)
    if draw(st.booleans()):
        deal["business_group"] = draw(st.sampled_from(["CARRIER", "ENTERPRISE"]))
    if draw(st.booleans()):
        deal["non_standard_terms"] = draw(st.lists(st.sampled_from(TERMS), max_size=5,
                                                    unique=True))
    if draw(st.booleans()):
        deal["requester_id"] = draw(st.sampled_from(["u-1", "u-2"]))
    if draw(st.integers(0, 9)) > 0:
        deal["as_of"] = draw(DATES)
    prior = draw(st.one_of(st.just(0.0), MONEY)) if point == "ATC" else 0.0
    return deal, {"prior_atc_total_usd": float(prior)}


@settings(max_examples=3 * EXAMPLES)
@given(deals())
def test_engines_agree_on_random_authorization_deals(
        both: PolicySet, case: tuple[dict[str, Any], dict[str, float]]) -> None:
    deal, history = case
    assert_engines_agree(both, "authorization", deal, history)


# -- project grading -------------------------------------------------------------------------


@st.composite
def projects(draw: st.DrawFn) -> dict[str, Any]:
    countries = draw(st.one_of(st.sampled_from([1, 2, 3, 4]), st.integers(1, 300)))
    return {
        "office": draw(OFFICE),
        "contract_value_usd": draw(MONEY),
        "strategic_customer": draw(st.booleans()),
        "countries": countries,
        "regions": draw(st.integers(1, countries)),
        "new_product": draw(st.booleans()),
        "risk_level": draw(st.sampled_from(["LOW", "MEDIUM", "HIGH"])),
        "gross_margin_pct": draw(MARGIN),
    }


@settings(max_examples=EXAMPLES)
@given(projects())
def test_engines_agree_on_random_projects(both: PolicySet, project: dict[str, Any]) -> None:
    assert_engines_agree(both, "project-grading", project)


# -- customer qualification ------------------------------------------------------------------

INDUSTRIES = ["TELECOM_OPERATOR", "ENTERPRISE_ICT", "GOVERNMENT", "FINANCE", "ENERGY",
              "TRANSPORT", "EDUCATION", "HEALTHCARE", "MILITARY", "GAMBLING", "CRYPTO_MINING"]


@st.composite
def customers(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "kyc_complete": draw(st.booleans()),
        "sanctions_hit": draw(st.sampled_from([False, False, False, True])),
        "country": draw(OFFICE),
        "industry": draw(st.sampled_from(INDUSTRIES)),
        "integrity_incidents_3y": draw(st.one_of(st.sampled_from([0, 0, 1, 2]),
                                                 st.integers(0, 10**6))),
        "credit_rating": draw(st.sampled_from(["A", "B", "C", "D", "E"])),
        "annual_revenue_potential_usd": draw(MONEY),
        "relationship_years": draw(clamp(st.one_of(
            near([3, 0, 2.5]), st.floats(0, 100, allow_nan=False)), 0, 100)),
    }


@settings(max_examples=EXAMPLES)
@given(customers())
def test_engines_agree_on_random_customers(both: PolicySet, customer: dict[str, Any]) -> None:
    assert_engines_agree(both, "customer-qualification", customer)


# -- authority check ---------------------------------------------------------------------------

LEVELS = ["SYSTEM_DEPT", "OFFICE", "REGION", "BG", "COMPANY"]


@st.composite
def authority_facts(draw: st.DrawFn) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "deal_outcome": draw(st.sampled_from(["route", "route", "deny"])),
        "approver_id": draw(st.sampled_from(["u-1", "u-2"])),
        "approver_level": draw(st.sampled_from(LEVELS)),
        "approver_unit": draw(st.sampled_from(["DE", "WEU", "BG-CARRIER", "HQ"])),
        "is_requester": draw(st.booleans()),
        "own_level_ok": draw(st.booleans()),
        "own_unit_ok": draw(st.booleans()),
        "delegation": draw(st.sampled_from(["none", "in_force", "not_in_force"])),
        "delegated_level_ok": draw(st.booleans()),
        "delegated_unit_ok": draw(st.booleans()),
        "reserved_power": draw(st.booleans()),
        "as_of": draw(DATES),
    }
    if draw(st.booleans()):
        facts["required_level"] = draw(st.sampled_from(LEVELS))
        facts["approving_unit"] = draw(st.sampled_from(["DE", "WEU", "HQ"]))
    if draw(st.booleans()):
        facts["delegator_id"] = "boss"
    return facts


@settings(max_examples=EXAMPLES // 2)
@given(authority_facts())
def test_engines_agree_on_random_authority_checks(both: PolicySet,
                                                  facts: dict[str, Any]) -> None:
    assert_engines_agree(both, "authority-check", facts)


# -- integers beyond what durable-rules compares ------------------------------------------
# The strategies above keep integer inputs (countries, integrity incidents) below 2**53:
# larger ones are bad input (not exact as a double, which durable-rules compares), tested here.


@pytest.mark.parametrize(("policy", "raw"), [
    ("project-grading", {"office": "DE", "contract_value_usd": 1, "strategic_customer": False,
                         "countries": 2**64 + 1, "regions": 1, "new_product": False,
                         "risk_level": "LOW", "gross_margin_pct": 20}),
    ("customer-qualification", {"kyc_complete": True, "sanctions_hit": False, "country": "DE",
                                "industry": "FINANCE", "integrity_incidents_3y": 2**63,
                                "credit_rating": "A", "annual_revenue_potential_usd": 1,
                                "relationship_years": 1}),
], ids=["countries-2**64+1", "incidents-2**63"])
def test_huge_valid_integers_are_decided_alike_or_rejected_as_bad_input(
        both: PolicySet, policy: str, raw: dict[str, Any]) -> None:
    outcomes = []
    for engine in ("compiled", "durable"):
        try:
            outcomes.append(answer(both, policy, raw, engine))
        except InputError as exc:
            outcomes.append(("input_error", [p.field for p in exc.problems]))
    assert outcomes[0] == outcomes[1]


# -- the property can fail --------------------------------------------------------------------


def test_the_comparison_sees_a_difference_in_any_answer_field(both: PolicySet) -> None:
    deal = sample_deal(office="DE", contract_value_usd=50_000_000, gross_margin_pct=25,
                       payment_term_days=90, advance_payment_pct=20)
    body = answer(both, "authorization", deal, "durable")
    assert body == answer(both, "authorization", deal, "compiled")
    assert body["required_level"] == "OFFICE"
    assert body != answer(both, "authorization", {**deal, "contract_value_usd": 50_000_000.01},
                          "durable")
