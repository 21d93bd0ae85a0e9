"""Splitting a corpus into partitions that can be decided independently.

A10 adds up earlier deals of the same customer and office, so every row of a
(customer, office) pair (the policy's A10 group) goes to the same partition,
chosen by a stable hash (crc32, not Python's per-process ``hash``). Each
partition is spilled to files of ``line<TAB>date<TAB>json`` lines: the corpus
is streamed once and only one partition at a time is ever sorted in memory.

A JSONL file is split by byte ranges (chunks, cut at line starts) so that
several workers spill it at once; each chunk writes its own piece of every
partition and numbers its lines from 1. A chunk's pieces carry the number of
lines before the chunk, known once every chunk has been read, which turns its
line numbers into the file's.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from decision_service.simulation.corpus import CorpusRow, jsonl_row
from decision_service.simulation.plan import Plan

# Rows a partition should hold at most, so that sorting one stays small in memory.
TARGET_ROWS = 60_000
_DATE_LEN = 10
_BUFFER = 1 << 18


@dataclass(frozen=True)
class Piece:
    """One chunk's share of a partition: its spill file, and the lines before the chunk."""

    path: Path
    line_base: int


@dataclass
class Spilled:
    """The partitions written (each as pieces), and the rows that never got that far."""

    parts: list[list[Piece]]
    rows: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class ChunkSpilled:
    """What spilling one chunk gives back; line numbers count from the chunk's start."""

    rows: int = 0
    lines: int = 0
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


def date_key(data: dict[str, Any], date_input: str | None, today: bytes) -> bytes:
    """The decision date as sortable text: as_of, else today. A malformed date sorts
    anywhere; validation reports it as a bad row."""
    if date_input is None:
        return today
    value = data.get(date_input)
    if value is None:
        return today
    if isinstance(value, str) and len(value) == _DATE_LEN and "\t" not in value:
        return value.encode()
    return b"0000-00-00"


def piece_paths(directory: Path, chunk: int, parts: int) -> list[Path]:
    """Where chunk ``chunk`` writes its piece of each partition."""
    return [directory / f"part-{i:04d}-{chunk:04d}.tsv" for i in range(parts)]


def spill_rows(rows: Iterable[CorpusRow], plan: Plan, paths: list[Path],
               progress: Callable[[int], None] | None = None) -> ChunkSpilled:
    """Write each row to its partition's file; unreadable rows are kept aside."""
    parts = len(paths)
    handles: list[IO[bytes]] = [p.open("wb", buffering=_BUFFER) for p in paths]
    spilled = ChunkSpilled()
    today = plan.today.isoformat().encode()
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


def jsonl_chunks(path: Path, count: int) -> list[tuple[int, int]]:
    """About ``count`` byte ranges of a JSONL file, each starting at a line start."""
    size = path.stat().st_size
    starts = [0]
    with path.open("rb") as handle:
        for i in range(1, count):
            handle.seek(max(size * i // count - 1, 0))
            handle.readline()
            start = handle.tell()
            if starts[-1] < start < size:
                starts.append(start)
    ends = [*starts[1:], size]
    return list(zip(starts, ends, strict=True))


def _range_rows(handle: IO[bytes], start: int, end: int, counted: ChunkSpilled
                ) -> Iterator[CorpusRow]:
    handle.seek(start)
    position = start
    number = 0
    for line in handle:
        if position >= end:
            break
        position += len(line)
        number += 1
        row = jsonl_row(number, line)
        if row is not None:
            yield row
    counted.lines = number


def spill_jsonl_chunk(plan: Plan, path: Path, start: int, end: int,
                      paths: list[Path]) -> ChunkSpilled:
    """A worker's task: spill the lines of one byte range, numbered from 1."""
    counted = ChunkSpilled()
    with path.open("rb") as handle:
        spilled = spill_rows(_range_rows(handle, start, end, counted), plan, paths)
    spilled.lines = counted.lines
    return spilled


def read_partition(pieces: Iterable[tuple[bytes, int]]) -> list[tuple[bytes, int, bytes]]:
    """A partition's rows as (date, line, json), in decision order: date, then file order.

    Each piece is the bytes of one spill file and the lines before its chunk."""
    rows: list[tuple[bytes, int, bytes]] = []
    append = rows.append
    for data, base in pieces:
        for record in data.splitlines():
            line, date, payload = record.split(b"\t", 2)
            append((date, int(line) + base, payload))
    rows.sort()  # (date, line) is unique: the JSON is never compared
    return rows
