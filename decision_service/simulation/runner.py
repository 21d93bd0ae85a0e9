"""Running a plan: stream the corpus into partitions, decide them, add up.

Partitions are decided in this process (one worker), in local worker
processes (``workers > 1``) or on a Dask cluster (``dask_address``); each gives
back tallies, which add up the same whatever ran them. With several local
workers a JSONL corpus is also split into partitions by the workers, each
reading its own byte ranges of the file.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from decision_service.collector import collector_paused
from decision_service.simulation.corpus import iter_corpus
from decision_service.simulation.figures import max_bad_rows, summarize
from decision_service.simulation.partition import (
    ChunkSpilled,
    Piece,
    Spilled,
    estimate_rows,
    jsonl_chunks,
    partition_count,
    piece_paths,
    spill_jsonl_chunk,
    spill_rows,
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


def decide_partition_file(plan: Plan, pieces: list[tuple[str, int]]) -> PartitionResult:
    """A worker's task: read one spilled partition (its pieces) and decide it."""
    return decide_partition(plan, [(Path(path).read_bytes(), base) for path, base in pieces])


class _Local:
    """Tasks run in this process (one worker) or in a pool of worker processes."""

    def __init__(self, plan: Plan, workers: int) -> None:
        self.workers = workers
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        if workers > 1:
            # fork where there is one: workers inherit the policies compiled here
            # (compiling costs seconds) instead of compiling them again; spawn elsewhere.
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            compiled_policies(plan)
            self.pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers,
                                                               mp_context=context)

    def __enter__(self) -> _Local:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def run(self, task: Callable[..., Any], calls: list[tuple[Any, ...]]
            ) -> Iterator[tuple[int, Any]]:
        """(index of the call, its result), as the calls finish."""
        if self.pool is None:
            for index, args in enumerate(calls):
                yield index, task(*args)
            return
        futures = {self.pool.submit(task, *args): index for index, args in enumerate(calls)}
        try:
            for future in concurrent.futures.as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _spill(plan: Plan, parts: int, directory: Path, local: _Local,
           progress: Progress) -> Spilled:
    spec = plan.scenario.corpus
    chunks: list[tuple[int, int]] = []
    if spec.kind == "file" and spec.path is not None and spec.path.suffix.lower() != ".csv":
        try:
            # one worker reads several chunks in turn, so that progress moves
            chunks = jsonl_chunks(spec.path, 2 * local.workers if local.workers > 1 else 4)
        except OSError:
            chunks = []  # read again below, which reports it at the scenario's line
    if not chunks:
        paths = piece_paths(directory, 0, parts)
        done = spill_rows(iter_corpus(plan), plan, paths, progress.rows_read)
        return Spilled([[Piece(path, 0)] for path in paths], done.rows, done.bad)
    assert spec.path is not None
    calls = [(plan, spec.path, start, end, piece_paths(directory, i, parts), i)
             for i, (start, end) in enumerate(chunks)]
    results: list[ChunkSpilled] = [ChunkSpilled()] * len(calls)
    for index, result in local.run(spill_jsonl_chunk, calls):
        results[index] = result
        progress.rows_read(result.rows)
    spilled = Spilled([[] for _ in range(parts)])
    base = 0
    for (_, _, _, _, paths, _), result in zip(calls, results, strict=True):
        for part, path in zip(spilled.parts, paths, strict=True):
            part.append(Piece(path, base))
        spilled.rows += result.rows
        spilled.bad.extend((base + line, problem) for line, problem in result.bad)
        base += result.lines
    return spilled


def _dask(plan: Plan, parts: list[list[Piece]], address: str) -> Iterator[PartitionResult]:
    from distributed import Client, as_completed

    # The partition's bytes travel with the task, so workers on other machines
    # need no shared disk; the plan (policy texts included) is sent once.
    with Client(address) as client:  # type: ignore[no-untyped-call]
        plan_future = client.scatter(plan, broadcast=True)
        futures = [client.submit(decide_partition, plan_future,
                                 [(p.path.read_bytes(), p.line_base) for p in pieces],
                                 pure=False) for pieces in parts]
        try:
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                yield future.result()
        finally:
            client.cancel(futures)


def _run_shadow_log(plan: Plan, progress: Progress) -> Outcome:
    """A shadow log: answers and shadow answers as recorded, tallied here (reading the log
    is the work; nothing is decided, so there is nothing to hand to workers)."""
    from decision_service.simulation.shadowed import read_shadow_corpus

    corpus = read_shadow_corpus(plan)
    progress.rows_read(corpus.rows)
    progress.partitions(1)
    progress.partition_done()
    merged = corpus.result
    merged.changed.sort(key=lambda row: row.line)
    bad = sorted(corpus.bad)
    summary = summarize(plan, merged, len(bad), corpus.rows)
    summary["shadow"] = {"candidates": corpus.candidates, "failed": corpus.failed}
    return Outcome(plan, summary, merged, bad, len(bad) > max_bad_rows(plan, corpus.rows))


@collector_paused()  # results merged by the hundred thousand objects
def run_plan(plan: Plan, workers: int = 1, dask_address: str | None = None,
             progress: Progress | None = None) -> Outcome:
    """Decide the plan's corpus by baseline and candidate; figures for every phase."""
    progress = progress or Progress()
    if plan.scenario.corpus.shadow:
        return _run_shadow_log(plan, progress)
    parts = partition_count(estimate_rows(plan), workers)
    merged = PartitionResult()
    with tempfile.TemporaryDirectory(prefix="simulate-") as tmp, _Local(plan, workers) as local:
        spilled = _spill(plan, parts, Path(tmp), local, progress)
        progress.partitions(len(spilled.parts))
        source: Iterator[PartitionResult]
        if dask_address:
            source = _dask(plan, spilled.parts, dask_address)
        else:
            calls = [(plan, [(str(p.path), p.line_base) for p in pieces])
                     for pieces in spilled.parts]
            source = (result for _, result in local.run(decide_partition_file, calls))
        for part in source:
            merged.merge(part)
            progress.partition_done()
    merged.changed.sort(key=lambda row: row.line)
    bad = sorted(spilled.bad + merged.bad)
    summary = summarize(plan, merged, len(bad), spilled.rows)
    return Outcome(plan, summary, merged, bad, len(bad) > max_bad_rows(plan, spilled.rows))
