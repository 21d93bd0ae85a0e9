"""Which of the lead-to-cash policies play which part, by name.

The generic core decides any policy; these names are what the shells need to
know about this particular set: which policy decides a deal, which one is only
reached through the authority check, and which output labels the metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEAL_POLICY = "authorization"
AUTHORITY_POLICY = "authority-check"

# Decided only through POST /v1/authority/check, which derives its inputs (facts
# about the deal, the approver and the org tree); posting those facts directly
# would let a client assert "own_level_ok: true".
INTERNAL_POLICIES = frozenset({AUTHORITY_POLICY})

# The one output that says what happened, per policy (all are small enums).
_HEADLINE_OUTPUTS = ("outcome", "allowed", "grade")


def headline_label(outputs: Mapping[str, Any]) -> str:
    """The metric label for a decision's outputs: its outcome, verdict or grade."""
    for name in _HEADLINE_OUTPUTS:
        if name in outputs:
            value = outputs[name]
            return str(value).lower() if isinstance(value, bool) else str(value)
    return "decided"
