"""The API's plain-Python tallies expose exactly what prometheus_client's own
Counter and Histogram would, for the same observations."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from decision_service.api.metrics import _LATENCY_BUCKETS, Metrics

OBSERVED = [0.0001, 0.0005, 0.0007, 0.002, 0.0031, 0.05, 0.05, 7.5, 11.0]


def _without_created_values(text: bytes) -> list[str]:
    # _created holds the creation time of each series: equal in kind, not in value.
    return [line.rsplit(" ", 1)[0] if "_created{" in line else line
            for line in text.decode().splitlines()]


def test_tallies_render_as_prometheus_client_would() -> None:
    ours = Metrics()
    reference = CollectorRegistry()
    histogram = Histogram("decision_service_http_request_seconds",
                          "HTTP request latency by route and status",
                          ["method", "route", "status"], buckets=_LATENCY_BUCKETS,
                          registry=reference)
    counter = Counter("decision_service_decisions",
                      "Decisions answered (and logged), by policy and outcome",
                      ["policy", "outcome"], registry=reference)
    for seconds in OBSERVED:
        ours.observe_request("POST", "/v1/decisions/{policy}", 200, seconds)
        histogram.labels("POST", "/v1/decisions/{policy}", "200").observe(seconds)
    ours.observe_request("GET", "/healthz", 503, 0.001)
    histogram.labels("GET", "/healthz", "503").observe(0.001)
    ours.observe_decision("authorization", {"outcome": "route"}, 0.001)
    ours.observe_decisions("authorization", {"route": 2, "deny": 3}, 0.002)
    counter.labels("authorization", "route").inc(3)
    counter.labels("authorization", "deny").inc(3)

    rendered = _without_created_values(ours.render())
    for family in (histogram, counter):
        expected = CollectorRegistry()
        expected.register(family)
        block = _without_created_values(generate_latest(expected))
        start = rendered.index(block[0])
        assert rendered[start:start + len(block)] == block


def _pause_count(text: str, generation: str) -> float:
    prefix = f'decision_service_gc_pause_seconds_count{{generation="{generation}"}} '
    return sum(float(line[len(prefix):]) for line in text.splitlines()
               if line.startswith(prefix))


def test_collector_pauses_are_timed_by_generation_until_the_watch_stops() -> None:
    metrics = Metrics()
    stop = metrics.watch_collector()
    try:
        gc.collect(0)
        gc.collect(2)
        # Allocations inside the collector's callback while the tally's lock is held
        # must not deadlock: record a request while collections run.
        for _ in range(2_000):
            metrics.observe_request("POST", "/v1/decisions/{policy}", 200, 0.001)
            [[] for _ in range(50)]
    finally:
        stop()
    text = metrics.render().decode()
    assert _pause_count(text, "0") >= 1 and _pause_count(text, "2") >= 1
    assert "decision_service_gc_pause_seconds_bucket" in text
    gc.collect(2)  # no longer watched: not counted
    assert _pause_count(metrics.render().decode(), "2") == _pause_count(text, "2")
