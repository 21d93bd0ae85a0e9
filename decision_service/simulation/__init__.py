"""The change team's dry run of a rollout (`decision-service simulate`).

A shell over the core, like the API: a scenario names a policy, a baseline
and a candidate, a corpus and rollout phases; the runner decides every row by
both and reports, phase by phase, what would change and whether the guards hold.
"""

from __future__ import annotations

from decision_service.simulation.outputs import write_outputs
from decision_service.simulation.plan import Plan, make_plan
from decision_service.simulation.runner import Outcome, Progress, run_plan
from decision_service.simulation.scenario import Scenario, load_scenario, quick_scenario

__all__ = [
    "Outcome",
    "Plan",
    "Progress",
    "Scenario",
    "load_scenario",
    "make_plan",
    "quick_scenario",
    "run_plan",
    "write_outputs",
]
