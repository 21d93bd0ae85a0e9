"""Prometheus metrics: decisions by policy and outcome, and latencies.

Each app has its own ``CollectorRegistry`` so several apps in one process (tests)
never share or clash over counters. Labels are bounded: route templates, not
paths; policy names only once the policy is known; outcomes are policy enums.
With ``--workers N`` each worker counts for itself (no multiprocess mode).

The three series every request or decision touches (request latency, decision
count, decision latency) are tallied in plain Python lists under one lock and
turned into Prometheus samples only when /metrics is read: prometheus_client's
own ``labels()`` and ``observe()`` take several locks and walk every bucket per
call, several times what the tally costs (bench/http.py's request path). The
exposition is the same: names, types, help, labels, buckets and ``_created``.
"""

from __future__ import annotations

import bisect
import collections
import gc
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from decision_service.ltc.policies import headline_label
from decision_service.store import WriteStats

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)
_PAUSE_BUCKETS = (0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5)


class _Tally(Collector):
    """A counter (no buckets) or a histogram per label set, exposed like prometheus_client's.

    A series is a list: one count per bucket (the last one for +Inf; a counter has
    only that one), then the sum, then the creation time."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...],
                 lock: threading.Lock, buckets: tuple[float, ...] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.bounds = list(buckets)
        self.lock = lock
        self.series: dict[tuple[str, ...], list[float]] = {}

    def add(self, labels: tuple[str, ...], value: float = 1.0, times: int = 1) -> None:
        """Count ``times`` observations of ``value`` (a histogram), or add ``value``
        ``times`` (a counter)."""
        with self.lock:
            series = self.series.get(labels)
            if series is None:
                series = self.series[labels] = [0.0] * (len(self.bounds) + 1) + [0.0,
                                                                                   time.time()]
            series[bisect.bisect_left(self.bounds, value) if self.bounds else 0] += times
            series[-2] += value * times

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            snapshot = [(labels, list(series)) for labels, series in self.series.items()]
        if not self.bounds:
            counter = CounterMetricFamily(self.name, self.documentation,
                                          labels=self.labelnames)
            for labels, series in snapshot:
                counter.add_metric(labels, series[-2], created=series[-1])
            yield counter
            return
        histogram = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        # prometheus_client's spelling of a bound (repr of the float, for these bounds)
        edges = [repr(float(b)) for b in self.bounds] + ["+Inf"]
        created = Metric(self.name + "_created", self.documentation, "gauge")
        for labels, series in snapshot:
            cumulative, total = [], 0.0
            for edge, count in zip(edges, series, strict=False):
                total += count
                cumulative.append((edge, total))
            histogram.add_metric(labels, cumulative, series[-2])
            created.samples.append(Sample(self.name + "_created",
                                          dict(zip(self.labelnames, labels, strict=True)),
                                          series[-1]))
        yield histogram
        if created.samples:
            yield created


class _LogWriter(Collector):
    """The log's group commit as its writer thread counts it, read at scrape time:
    commits and records (their ratio is the group size, what the fsync is shared
    by), failed groups, the largest group and the writer's busy seconds (near one
    per second: the writer, not the event loop, bounds the throughput)."""

    def __init__(self) -> None:
        self.read: Callable[[], WriteStats] | None = None

    def collect(self) -> Iterator[Metric]:
        if self.read is None:
            return
        stats = self.read()
        for name, documentation, value in (
                ("commits", "Group commits of the decision log (each one fsync)", stats.commits),
                ("records", "Decisions committed to the log", stats.records),
                ("failed_groups", "Groups rolled back because the database failed",
                 stats.failed_batches),
                ("writer_busy_seconds", "Seconds the log's writer thread spent writing groups",
                 stats.busy_seconds)):
            yield CounterMetricFamily(f"decision_service_log_{name}", documentation,
                                      value=value)
        largest = Metric("decision_service_log_largest_group",
                         "Most decisions written in one group commit", "gauge")
        largest.add_sample("decision_service_log_largest_group", {}, stats.largest_batch)
        yield largest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        lock = threading.Lock()
        self.decisions = _Tally(
            "decision_service_decisions", "Decisions answered (and logged), by policy and outcome",
            ("policy", "outcome"), lock)
        self.registry.register(self.decisions)
        self.rejected = Counter(
            "decision_service_rejected_inputs", "Decision inputs rejected as invalid, by policy",
            ["policy"], registry=self.registry)
        self.decision_seconds = _Tally(
            "decision_service_decision_seconds",
            "Time to validate, decide and durably log one decision (batch items included)",
            ("policy",), lock, _LATENCY_BUCKETS)
        self.registry.register(self.decision_seconds)
        self.request_seconds = _Tally(
            "decision_service_http_request_seconds", "HTTP request latency by route and status",
            ("method", "route", "status"), lock, _LATENCY_BUCKETS)
        self.registry.register(self.request_seconds)
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
        self.log_writer = _LogWriter()
        self.registry.register(self.log_writer)
        self.gc_pauses = _Tally(
            "decision_service_gc_pause_seconds",
            "Pauses of Python's cyclic garbage collector (every thread waits), by generation",
            ("generation",), lock, _PAUSE_BUCKETS)
        self.registry.register(self.gc_pauses)
        # Filled by the collector's callback, emptied into gc_pauses when read: the
        # callback runs inside any allocation, maybe one made while the tally's lock
        # is held, so it must not take that lock (a deque's append needs none).
        self._pauses: collections.deque[tuple[str, float]] = collections.deque(maxlen=100_000)
        self._pause_started = 0.0

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
        self.request_seconds.add((method, route, _STATUS.get(status) or str(status)), seconds)

    def observe_decision(self, policy: str, outputs: Mapping[str, Any], seconds: float) -> None:
        self.decisions.add((policy, headline_label(outputs)))
        self.decision_seconds.add((policy,), seconds)

    def observe_decisions(self, policy: str, outcomes: Mapping[str, int],
                          seconds_each: float) -> None:
        """A batch's decisions at once: ``outcomes`` counts them by headline label,
        each took ``seconds_each`` (its share of the batch)."""
        for label, count in outcomes.items():
            self.decisions.add((policy, label), times=count)
        total = sum(outcomes.values())
        if total:
            self.decision_seconds.add((policy,), seconds_each, times=total)

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

    def watch_collector(self) -> Callable[[], None]:
        """Time every cyclic collection of this process into ``gc_pauses`` (a served
        worker: one app per process); returns the call that stops it."""

        def on_collection(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                self._pause_started = time.perf_counter()
            else:
                self._pauses.append((_GENERATIONS[info["generation"]],
                                     time.perf_counter() - self._pause_started))

        gc.callbacks.append(on_collection)
        return lambda: gc.callbacks.remove(on_collection)

    def render(self, pending_writes: Callable[[], int] | None = None,
               write_stats: Callable[[], WriteStats] | None = None) -> bytes:
        """The exposition; the log's figures read from the two callables, if given."""
        if pending_writes is not None:
            self.pending_writes.set(pending_writes())
        self.log_writer.read = write_stats
        while self._pauses:
            generation, seconds = self._pauses.popleft()
            self.gc_pauses.add((generation,), seconds)
        return generate_latest(self.registry)


_STATUS = {status: str(status) for status in range(100, 600)}
_GENERATIONS = ("0", "1", "2")
