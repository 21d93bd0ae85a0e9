"""report.html (placeholder until the charts land)."""

from __future__ import annotations

from decision_service.simulation.runner import Outcome


def render_report(outcome: Outcome) -> str:
    return f"<!doctype html><title>{outcome.summary['scenario']}</title>"
