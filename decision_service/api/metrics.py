"""Prometheus metrics: decisions by policy and outcome, and latencies.

Each app has its own ``CollectorRegistry`` so several apps in one process (tests)
never share or clash over counters. Labels are bounded: route templates, not
paths; policy names only once the policy is known; outcomes are policy enums.
With ``--workers N`` each worker counts for itself (no multiprocess mode).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from decision_service.ltc.policies import headline_label

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "decision_service_decisions", "Decisions answered (and logged), by policy and outcome",
            ["policy", "outcome"], registry=self.registry)
        self.rejected = Counter(
            "decision_service_rejected_inputs", "Decision inputs rejected as invalid, by policy",
            ["policy"], registry=self.registry)
        self.decision_seconds = Histogram(
            "decision_service_decision_seconds",
            "Time to validate, decide and durably log one decision (batch items included)",
            ["policy"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.request_seconds = Histogram(
            "decision_service_http_request_seconds", "HTTP request latency by route and status",
            ["method", "route", "status"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.reloads = Counter(
            "decision_service_policy_reloads", "Policy reloads, by result", ["result"],
            registry=self.registry)
        self.shadowed = Counter(
            "decision_service_shadowed_decisions",
            "Decisions a shadow candidate also decided, by policy and the candidate's outcome",
            ["policy", "outcome"], registry=self.registry)
        self.disagreements = Counter(
            "decision_service_shadow_disagreements",
            "Shadowed decisions where the candidate's output differs, by policy and output",
            ["policy", "output"], registry=self.registry)
        self.shadow_failures = Counter(
            "decision_service_shadow_failures",
            "Shadows that raised, ran past their budget, were dropped (queue full) or "
            "could not be written, by policy and kind", ["policy", "kind"],
            registry=self.registry)
        self.pending_writes = Gauge(
            "decision_service_log_pending_writes", "Decisions waiting for the log's writer",
            registry=self.registry)

        # ``labels()`` takes locks and checks tuples on every call; the label sets are
        # few and bounded, so their children are looked up once and kept.
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric._name, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._child(self.request_seconds, method, route, str(status)).observe(seconds)

    def observe_decision(self, policy: str, outputs: Mapping[str, Any], seconds: float) -> None:
        self._child(self.decisions, policy, headline_label(outputs)).inc()
        self._child(self.decision_seconds, policy).observe(seconds)

    def observe_decisions(self, policy: str, outcomes: Mapping[str, int],
                          seconds_each: float) -> None:
        """A batch's decisions at once: ``outcomes`` counts them by headline label,
        each took ``seconds_each`` (its share of the batch)."""
        for label, count in outcomes.items():
            self._child(self.decisions, policy, label).inc(count)
        _observe_many(self._child(self.decision_seconds, policy), seconds_each,
                      sum(outcomes.values()))

    def observe_shadow(self, policy: str, outputs: Mapping[str, Any],
                       differs: list[str]) -> None:
        self._child(self.shadowed, policy, headline_label(outputs)).inc()
        for output in differs:
            self._child(self.disagreements, policy, output).inc()

    def shadow_failed(self, policy: str, kind: str) -> None:
        self._child(self.shadow_failures, policy, kind).inc()

    def shadow_dropped(self, policy: str) -> None:
        self.shadow_failed(policy, "dropped")

    def shadow_write_failed(self) -> None:
        self.shadow_failed("*", "write")

    def rejected_input(self, policy: str) -> None:
        self._child(self.rejected, policy).inc()

    def render(self, pending_writes: Callable[[], int] | None = None) -> bytes:
        if pending_writes is not None:
            self.pending_writes.set(pending_writes())
        return generate_latest(self.registry)


def _observe_many(histogram: Any, amount: float, count: int) -> None:
    """``count`` observations of ``amount``: what ``observe`` does ``count`` times, in
    one step (prometheus_client has no bulk observe; its internals are pinned)."""
    buckets = getattr(histogram, "_buckets", None)
    bounds = getattr(histogram, "_upper_bounds", None)
    if buckets is None or bounds is None:
        for _ in range(count):
            histogram.observe(amount)
        return
    histogram._sum.inc(amount * count)
    for bucket, bound in zip(buckets, bounds, strict=True):
        if amount <= bound:
            bucket.inc(count)
            break
