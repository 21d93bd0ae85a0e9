"""The shipped policies and inputs for them, one definition for every test.

``deal(**changes)`` is a valid deal for ``authorization`` (an ATB in CN-BJ, well
inside every limit); a test states only what it changes, so what it is about
stands in its own lines.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

POLICIES = Path(__file__).resolve().parents[1] / "policies"
TODAY = "2026-11-23"

DEAL: dict[str, Any] = {
    "decision_point": "ATB", "office": "CN-BJ", "customer_id": "C-1001", "customer_tier": "S",
    "contract_value_usd": 1_000_000, "gross_margin_pct": 40, "payment_term_days": 30,
    "advance_payment_pct": 30, "trade_compliance": "PASS", "as_of": TODAY,
}
PROJECT: dict[str, Any] = {
    "office": "CN-BJ", "contract_value_usd": 500_000, "strategic_customer": False,
    "countries": 1, "regions": 1, "new_product": False, "risk_level": "LOW",
    "gross_margin_pct": 30,
}
CUSTOMER: dict[str, Any] = {
    "kyc_complete": True, "sanctions_hit": False, "country": "DE",
    "industry": "TELECOM_OPERATOR", "integrity_incidents_3y": 0, "credit_rating": "B",
    "annual_revenue_potential_usd": 5_000_000, "relationship_years": 1,
}


def deal(**changes: Any) -> dict[str, Any]:
    """The sample deal with ``changes`` applied."""
    return {**DEAL, **changes}


def project(**changes: Any) -> dict[str, Any]:
    """The sample project with ``changes`` applied."""
    return {**PROJECT, **changes}


def new_customer() -> str:
    """A customer id of its own, so A10 totals of tests sharing a log never mix."""
    return f"C-{uuid.uuid4().hex[:12]}"
