"""Splitting a corpus into partitions that can be decided independently.

A10 adds up earlier deals of the same customer and office, so every row of a
(customer, office) pair (the policy's A10 group) goes to the same partition,
chosen by a stable hash (crc32, not Python's per-process ``hash``). Each
partition is spilled to a file of ``line<TAB>date<TAB>json`` lines: the corpus
is streamed once and only one partition at a time is ever sorted in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from decision_service.simulation.corpus import CorpusRow
from decision_service.simulation.plan import Plan

# Rows a partition should hold at most, so that sorting one stays small in memory.
TARGET_ROWS = 60_000
_DATE_LEN = 10


@dataclass
class Spilled:
    """The partitions written, and the rows that never got that far."""

    paths: list[Path]
    rows: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)


def partition_count(expected_rows: int | None, workers: int) -> int:
    """Enough partitions to keep each small and every worker busy."""
    by_size = -(-(expected_rows or 0) // TARGET_ROWS)
    return max(by_size, 2 * workers, 1)


def estimate_rows(plan: Plan) -> int | None:
    """A cheap guess of the corpus size: a generated count, or file size / typical line."""
    spec = plan.scenario.corpus
    if spec.kind == "generate":
        return spec.count
    if spec.kind == "file" and spec.path is not None and spec.path.is_file():
        return spec.path.stat().st_size // 250 + 1
    return None


def group_key(data: dict[str, Any], group_by: tuple[str, ...], line: int, parts: int) -> int:
    if not group_by:
        return line % parts
    text = "\x1f".join(str(data.get(name)) for name in group_by)
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) % parts


def date_key(data: dict[str, Any], date_input: str | None, today: str) -> bytes:
    """The decision date as sortable text: as_of, else today. A malformed date sorts
    anywhere; validation reports it as a bad row."""
    if date_input is None:
        return today.encode()
    value = data.get(date_input)
    if value is None:
        return today.encode()
    if isinstance(value, str) and len(value) == _DATE_LEN and "\t" not in value:
        return value.encode()
    return b"0000-00-00"


def spill(rows: Iterable[CorpusRow], plan: Plan, parts: int, directory: Path,
          progress: Callable[[int], None] | None = None) -> Spilled:
    """Write each row to its partition file; unreadable rows are kept aside."""
    paths = [directory / f"part-{i:04d}.tsv" for i in range(parts)]
    handles: list[IO[bytes]] = [p.open("wb", buffering=1 << 20) for p in paths]
    spilled = Spilled(paths)
    today = plan.today.isoformat()
    group_by, date_input = plan.group_by, plan.date_input
    dumps = orjson.dumps
    try:
        for row in rows:
            spilled.rows += 1
            if row.data is None:
                spilled.bad.append((row.line, row.problem or "unreadable"))
            else:
                raw = row.raw if row.raw is not None else dumps(row.data)
                handles[group_key(row.data, group_by, row.line, parts)].write(
                    b"%d\t%s\t%s\n" % (row.line, date_key(row.data, date_input, today), raw))
            if progress is not None and spilled.rows % 10_000 == 0:
                progress(10_000)
    finally:
        for handle in handles:
            handle.close()
    return spilled


def read_partition(data: bytes) -> list[tuple[bytes, int, bytes]]:
    """A partition's rows as (date, line, json), in decision order: date, then file order."""
    rows = []
    for record in data.splitlines():
        line, date, payload = record.split(b"\t", 2)
        rows.append((date, int(line), payload))
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows
