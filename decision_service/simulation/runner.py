"""Running a plan: stream the corpus into partitions, decide them, add up.

Partitions are decided in this process (one worker), in local worker
processes (``workers > 1``) or on a Dask cluster (``dask_address``); each gives
back tallies, which add up the same whatever ran them.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decision_service.simulation.corpus import iter_corpus
from decision_service.simulation.figures import max_bad_rows, summarize
from decision_service.simulation.partition import (
    estimate_rows,
    partition_count,
    spill,
)
from decision_service.simulation.plan import Plan
from decision_service.simulation.worker import (
    PartitionResult,
    compiled_policies,
    decide_partition,
)


@dataclass
class Outcome:
    """A finished run: the summary and what the report and CSV files need."""

    plan: Plan
    summary: dict[str, Any]
    result: PartitionResult  # merged; `changed` sorted by line
    bad: list[tuple[int, str]]  # sorted by line
    too_many_bad_rows: bool


class Progress:
    """Callbacks for a progress display; the default shows nothing (CI, tests)."""

    def rows_read(self, count: int) -> None: ...

    def partitions(self, total: int) -> None: ...

    def partition_done(self) -> None: ...


def decide_partition_file(plan: Plan, path: str) -> PartitionResult:
    """A worker's task: read one spilled partition and decide it."""
    return decide_partition(plan, Path(path).read_bytes())


def _local(plan: Plan, paths: list[Path], workers: int) -> Iterator[PartitionResult]:
    if workers <= 1:
        for path in paths:
            yield decide_partition_file(plan, str(path))
        return
    # fork where there is one: workers inherit the policies compiled here (compiling
    # costs seconds) instead of compiling them again; spawn elsewhere.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    compiled_policies(plan)
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers,
                                                mp_context=context) as pool:
        futures = [pool.submit(decide_partition_file, plan, str(p)) for p in paths]
        try:
            for future in concurrent.futures.as_completed(futures):
                yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _dask(plan: Plan, paths: list[Path], address: str) -> Iterator[PartitionResult]:
    from distributed import Client, as_completed

    # The partition's bytes travel with the task, so workers on other machines
    # need no shared disk; the plan (policy texts included) is sent once.
    with Client(address) as client:  # type: ignore[no-untyped-call]
        plan_future = client.scatter(plan, broadcast=True)
        futures = [client.submit(decide_partition, plan_future, p.read_bytes(),
                                 pure=False) for p in paths]
        try:
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                yield future.result()
        finally:
            client.cancel(futures)


def run_plan(plan: Plan, workers: int = 1, dask_address: str | None = None,
             progress: Progress | None = None) -> Outcome:
    """Decide the plan's corpus by baseline and candidate; figures for every phase."""
    progress = progress or Progress()
    parts = partition_count(estimate_rows(plan), workers)
    merged = PartitionResult()
    with tempfile.TemporaryDirectory(prefix="simulate-") as tmp:
        spilled = spill(iter_corpus(plan), plan, parts, Path(tmp), progress.rows_read)
        progress.partitions(len(spilled.paths))
        source: Callable[[], Iterator[PartitionResult]]
        if dask_address:
            def source() -> Iterator[PartitionResult]:
                return _dask(plan, spilled.paths, dask_address)
        else:
            def source() -> Iterator[PartitionResult]:
                return _local(plan, spilled.paths, workers)
        for part in source():
            merged.merge(part)
            progress.partition_done()
    merged.changed.sort(key=lambda row: row.line)
    bad = sorted(spilled.bad + merged.bad)
    summary = summarize(plan, merged, len(bad), spilled.rows)
    return Outcome(plan, summary, merged, bad, len(bad) > max_bad_rows(plan, spilled.rows))
