"""Engines evaluate a compiled policy for one fact. The engine is a setting.

Both engines implement the same small interface; a policy's cases run on both
and must agree (tests/policies), so either can serve and each checks the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from decision_service.compiler.compile import CompiledPolicy
from decision_service.engines.reference import Evaluation

ENGINES = ("compiled", "durable")


class Engine(Protocol):
    name: str

    def evaluate(self, values: Mapping[str, Any], history: Mapping[str, float]) -> Evaluation:
        """Decide a validated input (``history``: the A10 totals from the log)."""

    def close(self) -> None: ...


def make_engine(name: str, compiled: CompiledPolicy) -> Engine:
    if name == "compiled":
        from decision_service.engines.compiled import CompiledEngine

        return CompiledEngine(compiled)
    if name == "durable":
        from decision_service.engines.durable import DurableEngine

        return DurableEngine(compiled)
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
