"""decision-service: lead-to-cash rules as YAML policies, decided with reasons.

The public API is small::

    from decision_service import load

    with load("policies") as policies:
        decision = policies.decide("authorization", deal)
        decision.outputs["required_level"], decision.reasons

``load`` reads a policy directory; ``PolicySet.from_texts`` takes the texts
when the files come from elsewhere.  Bad policies raise ``PolicyError``
(``file:line:col: code: message``), bad inputs ``InputError`` (one problem per
field).  See ARCHITECTURE.md for how the pieces fit.
"""

from decision_service.decision import Decision, Reason
from decision_service.errors import (
    EvaluationError,
    FieldProblem,
    InputError,
    PolicyError,
    PolicyProblem,
    Position,
    UnknownPolicyError,
)
from decision_service.policy_files import load_policy_dir as load
from decision_service.policyset import PolicySet

__all__ = [
    "Decision",
    "EvaluationError",
    "FieldProblem",
    "InputError",
    "PolicyError",
    "PolicyProblem",
    "PolicySet",
    "Position",
    "Reason",
    "UnknownPolicyError",
    "load",
]
