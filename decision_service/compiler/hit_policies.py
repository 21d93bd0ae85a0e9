"""What a table contributes once its matching rules are known: the hit policies.

Written once, plainly, and used by the reference engine (and through it the
durable backend) and by the static checks; the compiled backend generates its
own code for the same meaning, and the differential tests hold them together.
"""

from __future__ import annotations

from typing import Any

from decision_service.compiler.compile import CompiledRule, CompiledTable
from decision_service.errors import EvaluationError, EvaluationProblem


# One branch per hit policy, as the policy language defines them: the complexity is the
# specification (the compiled engine's emitters mirror it one to one).
def contribution(  # noqa: C901
        table: CompiledTable, hits: list[CompiledRule],
) -> tuple[dict[str, Any], list[CompiledRule]]:
    """Apply the table's hit policy to its matching rules (in rule order)."""
    name = table.table.id
    hit = table.table.hit
    if hit == "first":
        return dict(hits[0].then), [hits[0]]
    if hit == "unique":
        if len(hits) > 1:
            raise EvaluationError(EvaluationProblem(
                name, f"unique table, but rules {hits[0].rule.id} and {hits[1].rule.id} "
                      "both match"))
        return dict(hits[0].then), [hits[0]]
    if hit == "any":
        for other in hits[1:]:
            if other.then != hits[0].then:
                raise EvaluationError(EvaluationProblem(
                    name, f"hit policy any, but rules {hits[0].rule.id} and {other.rule.id} "
                          "match with different outputs"))
        return dict(hits[0].then), hits
    first_output = table.table.outputs[0]
    if hit == "priority":
        winner = hits[0]
        for rule in hits[1:]:
            if rule.then[first_output] > winner.then[first_output]:
                winner = rule
        return dict(winner.then), [winner]
    if hit == "collect-max":
        return {first_output: max(rule.then[first_output] for rule in hits)}, hits
    if hit == "collect":
        collected: dict[str, Any] = {}
        for out in table.table.outputs:
            values: list[Any] = []
            for rule in hits:
                if out in rule.then and rule.then[out] not in values:
                    values.append(rule.then[out])
            collected[out] = tuple(values)
        return collected, hits
    # scorecard
    total = sum(rule.score or 0 for rule in hits)
    result: dict[str, Any] = {first_output: total}
    if table.table.band_output is not None:
        result[table.table.band_output] = band_value(table, total)
    return result, hits


def band_value(table: CompiledTable, total: float) -> Any:
    for at_least, value in table.bands:
        if at_least is None or total >= at_least:
            return value
    return None  # pragma: no cover - the loader always adds an `else` band
