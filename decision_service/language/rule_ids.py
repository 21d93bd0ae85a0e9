"""Rule ids are the names reasons, cases, the decision log and the CRM use:
each must be written out and unique in its policy, so inserting or moving a
rule never renames another one."""

from __future__ import annotations

from decision_service.errors import Position, Problems
from decision_service.language.model import Policy


def check_rule_ids(policy: Policy, problems: Problems) -> None:
    """Report every rule id used twice in ``policy`` (all its tables)."""
    first_seen: dict[str, Position] = {}
    for table in policy.tables:
        for rule in table.rules:
            earlier = first_seen.get(rule.id)
            if earlier is None:
                first_seen[rule.id] = rule.position
                continue
            problems.add(rule.position, "duplicate_rule_id",
                         f"rule id {rule.id!r} is already used at {earlier}: every rule of "
                         f"policy {policy.meta.id} needs its own id")
