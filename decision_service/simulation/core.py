"""Everything the simulator takes from the core, imported in one place.

The simulator is a shell over the core, like the API. Keeping every core import
here means a move of a core module changes this file and nothing else.
"""

from __future__ import annotations

from decision_service.engines.reference import final_outputs
from decision_service.errors import (
    EvaluationError,
    FieldProblem,
    InputError,
    PolicyError,
    PolicyProblem,
    Position,
    Problems,
)
from decision_service.inputs import holds_plain, parse_iso_date, validate_input
from decision_service.language.model import HistoryTotal, InputDecl, OrgTree, Policy
from decision_service.language.parse import check_shape
from decision_service.language.yamlpos import PosDict, key_position_of, parse_yaml, position_of
from decision_service.locations import default_policies_dir
from decision_service.policy_files import read_policy_dir
from decision_service.policyset import PolicySet, PolicyVersion, Prepared

__all__ = [
    "EvaluationError",
    "FieldProblem",
    "HistoryTotal",
    "InputDecl",
    "InputError",
    "OrgTree",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "PolicySet",
    "PolicyVersion",
    "PosDict",
    "Position",
    "Prepared",
    "Problems",
    "check_shape",
    "default_policies_dir",
    "final_outputs",
    "holds_plain",
    "key_position_of",
    "parse_iso_date",
    "parse_yaml",
    "position_of",
    "read_policy_dir",
    "validate_input",
]
