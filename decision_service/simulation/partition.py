"""Splitting a corpus into partitions that can be decided independently.

A10 adds up earlier deals of the same customer and office, so every row of a
(customer, office) pair (the policy's A10 group) goes to the same partition,
chosen by a stable hash (crc32, not Python's per-process ``hash``) of the
values as validation leaves them (NFC). Each partition is spilled to files of
records, one a line: the decision date (10 bytes), the chunk (4 digits) and
the line in the chunk (10 digits), then the row's JSON. Records sort as
bytes into decision order (date, then file order), so only one partition at
a time is ever sorted in memory, and nothing but the three keys is read from a
row before it is decided.

A JSONL file is split by byte ranges (chunks, cut at line starts) so that
several workers spill it at once; each chunk writes its own piece of every
partition and numbers its lines from 1. A chunk's pieces carry the number of
lines before the chunk, known once every chunk has been read, which turns its
line numbers into the file's.
"""

from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

import orjson

from decision_service.collector import collector_paused
from decision_service.simulation.corpus import CorpusRow, jsonl_row
from decision_service.simulation.plan import Plan

# Rows a partition should hold at most, so that sorting one stays small in memory.
TARGET_ROWS = 60_000
DATE_LEN = 10
_BUFFER = 1 << 18
_UNDATED = b"0000-00-00"  # a malformed date: sorts first, and validation refuses it
# a record: date, chunk, line in the chunk, JSON (see the module docstring); the
# decide loop slices the date and the JSON out itself (DATE_LEN, JSON_AT)
_RECORD = b"%s%04d%010d%s"
_CHUNK_AT, _LINE_AT, JSON_AT = DATE_LEN, DATE_LEN + 4, DATE_LEN + 14
MAX_CHUNKS = 10_000


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
    """Enough partitions to keep each small and every worker busy: a multiple of the
    workers, so that none waits alone for the last partition."""
    by_size = -(-(expected_rows or 0) // TARGET_ROWS)
    count = max(by_size, 2 * workers, 1)
    return -(-count // max(workers, 1)) * max(workers, 1)


def estimate_rows(plan: Plan) -> int | None:
    """A cheap guess of the corpus size: a generated count, or file size / typical line."""
    spec = plan.scenario.corpus
    if spec.kind == "generate":
        return spec.count
    if spec.kind == "file" and spec.path is not None and spec.path.is_file():
        return spec.path.stat().st_size // 250 + 1
    return None


class RowPlacer:
    """Where a row goes: its partition (by A10 group) and its date key."""

    def __init__(self, plan: Plan, parts: int) -> None:
        self.parts = parts
        self.group_by = plan.group_by
        self.date_input = plan.date_input
        self.today = plan.today.isoformat().encode()

    def part(self, data: dict[str, Any], line: int) -> int:
        """The partition of a row's A10 group; rows without a group spread by line."""
        group_by = self.group_by
        if not group_by:
            return line % self.parts
        if len(group_by) == 2:  # (customer, office): read without building lists
            first, second = data.get(group_by[0]), data.get(group_by[1])
            if type(first) is str and type(second) is str:
                text = first + "\x1f" + second
            else:
                text = "\x1f".join([v if type(v) is str else str(v) for v in (first, second)])
        else:
            text = "\x1f".join([value if type(value) is str else str(value)
                                 for value in [data.get(name) for name in group_by]])
        if not text.isascii():
            # validation keeps identifiers in NFC: "é" and "e\u0301" are one customer
            text = unicodedata.normalize("NFC", text)
        return zlib.crc32(text.encode("utf-8", "surrogatepass")) % self.parts

    def date(self, data: dict[str, Any]) -> bytes:
        """The decision date as 10 sortable bytes: as_of, else today. A malformed
        date sorts first; validation reports it as a bad row."""
        if self.date_input is None:
            return self.today
        value = data.get(self.date_input)
        if value is None:
            return self.today
        if (type(value) is str and len(value) == DATE_LEN and value.isascii()
                and value.isprintable()):
            return value.encode()
        return _UNDATED


def piece_paths(directory: Path, chunk: int, parts: int) -> list[Path]:
    """Where chunk ``chunk`` writes its piece of each partition."""
    return [directory / f"part-{i:04d}-{chunk:04d}.tsv" for i in range(parts)]


@collector_paused()
def spill_rows(rows: Iterable[CorpusRow], plan: Plan, paths: list[Path],
               progress: Callable[[int], None] | None = None) -> ChunkSpilled:
    """Write each row to its partition's file (as chunk 0); unreadable rows are kept aside."""
    placer = RowPlacer(plan, len(paths))
    handles: list[IO[bytes]] = [p.open("wb", buffering=_BUFFER) for p in paths]
    spilled = ChunkSpilled()
    dumps = orjson.dumps
    try:
        for row in rows:
            spilled.rows += 1
            if row.data is None:
                spilled.bad.append((row.line, row.problem or "unreadable"))
            else:
                raw = row.raw if row.raw is not None else dumps(row.data)
                handles[placer.part(row.data, row.line)].write(
                    _RECORD % (placer.date(row.data), 0, row.line, raw + b"\n"))
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


@collector_paused()
def spill_jsonl_chunk(plan: Plan, path: Path, start: int, end: int,
                      paths: list[Path], chunk: int = 0) -> ChunkSpilled:
    """A worker's task: spill the lines of one byte range, numbered from 1.

    The hot loop of the partition pass: each line is parsed (orjson) only to
    read its A10 group and date, and written as it was read."""
    if not 0 <= chunk < MAX_CHUNKS:
        raise ValueError(f"chunk {chunk}: at most {MAX_CHUNKS} chunks")
    placer = RowPlacer(plan, len(paths))
    part, date = placer.part, placer.date
    spilled = ChunkSpilled()
    bad = spilled.bad
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    handles: list[IO[bytes]] = [p.open("wb", buffering=_BUFFER) for p in paths]
    writes = [handle.write for handle in handles]
    rows = number = 0
    try:
        with path.open("rb") as source:
            source.seek(start)
            position = start
            for line in source:
                if position >= end:
                    break
                position += len(line)
                number += 1
                try:
                    data = loads(line)
                except decode_error:
                    data = None
                if type(data) is not dict:
                    row = jsonl_row(number, line)  # a blank line, or the problem in words
                    if row is None:
                        continue
                    if row.data is None:
                        rows += 1
                        bad.append((number, row.problem or "unreadable"))
                        continue
                    data, line = row.data, (row.raw or b"") + b"\n"  # its JSON, stripped
                rows += 1
                if line[-1:] != b"\n":  # the file's last line
                    line += b"\n"
                writes[part(data, number)](_RECORD % (date(data), chunk, number, line))
    finally:
        for handle in handles:
            handle.close()
    spilled.rows, spilled.lines = rows, number
    return spilled


def read_partition(pieces: Iterable[tuple[bytes, int]]) -> Partition:
    """A partition's records in decision order: date, then file order.

    Each piece is the bytes of one spill file and the lines before its chunk,
    given in chunk order."""
    records: list[bytes] = []
    bases: list[int] = []
    for data, base in pieces:
        bases.append(base)
        found = data.split(b"\n")
        found.pop()  # after the last newline
        records.extend(found)
    records.sort()  # (date, chunk, line) is unique: the JSON is never compared
    return Partition(records, bases)


class Partition(NamedTuple):
    """Sorted records of one partition, and the lines before each chunk."""

    records: list[bytes]
    bases: list[int]

    def line(self, record: bytes) -> int:
        """The record's line in the file."""
        return int(record[_LINE_AT:JSON_AT]) + self.bases[int(record[_CHUNK_AT:_LINE_AT])]
