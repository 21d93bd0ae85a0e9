"""The durable-rules backend: durable-rules matches, ``evaluate`` decides.

Each stage of a compiled policy becomes one durable-rules matcher (see
``durable_driver`` for how its hazards are handled: one lock, assert and
retract, strict typing, plain numbers, rule sets split under its limits).
Everything after matching is the shared, plainly written ``evaluate.run``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from decision_service.compiler.compile import CompiledPolicy
from decision_service.compiler.ir import Fact
from decision_service.engines.durable_driver import DurableMatcher
from decision_service.engines.reference import Evaluation, run


class DurableEngine:
    name = "durable"

    def __init__(self, compiled: CompiledPolicy) -> None:
        self.compiled = compiled
        # Rulesets are named by policy, version and content so a reloaded,
        # changed policy never meets the state of its predecessor.
        digest = hashlib.sha256(repr([t.rules for t in compiled.tables]).encode()).hexdigest()[:12]
        self._matchers = [
            DurableMatcher(f"{compiled.id}-v{compiled.version}-s{stage}-{digest}",
                           compiled.match_rules(stage))
            for stage in range(compiled.stage_count)
        ]

    def _match(self, stage: int, fact: Fact) -> frozenset[str]:
        return self._matchers[stage].match(fact)

    def evaluate(self, values: Mapping[str, Any], history: Mapping[str, float]) -> Evaluation:
        return run(self.compiled, self.compiled.fact(values, history), self._match)

    def close(self) -> None:
        for matcher in self._matchers:
            matcher.close()
