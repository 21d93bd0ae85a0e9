"""Corpus readers: JSONL, CSV, the decision log, or the generator, one row at a time.

Every reader yields ``CorpusRow`` and never holds the corpus in memory. A row
that cannot be read (not JSON, not an object, a CSV cell of the wrong type) is
yielded with its problem instead of an object, so the run can count it and go
on. A corpus that cannot be opened at all raises ``PolicyError`` at the
scenario's `corpus` line.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from decision_service.simulation.core import PolicyError, PolicyProblem, Position
from decision_service.simulation.plan import Plan


class CorpusRow(NamedTuple):
    line: int  # line in the file (JSONL, CSV), position in the log, or index (generated)
    data: dict[str, Any] | None  # the input object, or None for an unreadable row
    raw: bytes | None  # the object as JSON, when the reader has it already
    problem: str | None


def _corpus_error(where: Position, message: str) -> PolicyError:
    return PolicyError([PolicyProblem(where, "bad_corpus", message)])


def jsonl_row(number: int, line: bytes) -> CorpusRow | None:
    """One JSONL line as a row; None for a blank line (not a row)."""
    text = line.strip()
    if not text:
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return CorpusRow(number, None, None, f"not valid JSON: {exc}")
    if not isinstance(data, dict):
        return CorpusRow(number, None, None, "not an object")
    return CorpusRow(number, data, text, None)


def read_jsonl(path: Path, where: Position) -> Iterator[CorpusRow]:
    """One object a line; blank lines are not rows."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise _corpus_error(where, f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            row = jsonl_row(number, line)
            if row is not None:
                yield row


def _cell(kind: str, column: str, text: str) -> Any:
    if kind == "number":
        try:
            return float(text) if any(c in text for c in ".eEnN") else int(text)
        except ValueError:
            raise ValueError(f"{column}: {text!r} is not a number") from None
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{column}: {text!r} is not a whole number") from None
    if kind == "boolean":
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"{column}: {text!r} is not true or false")
        return lowered == "true"
    if kind == "list":
        return text.split("|")
    return text


def read_csv(path: Path, input_types: dict[str, str], where: Position) -> Iterator[CorpusRow]:
    """A header of input names; list items joined by `|`; an empty cell is an absent field."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise _corpus_error(where, f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            return
        except (UnicodeDecodeError, csv.Error) as exc:
            raise _corpus_error(where, f"{path}: unreadable CSV header: {exc}") from None
        unknown = [name for name in header if name not in input_types]
        if unknown:
            raise _corpus_error(where, f"{path}: header names no input: {', '.join(unknown)}")
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (UnicodeDecodeError, csv.Error) as exc:
                yield CorpusRow(reader.line_num, None, None, f"unreadable CSV: {exc}")
                continue
            if not any(cells):
                continue
            if len(cells) != len(header):
                yield CorpusRow(reader.line_num, None, None,
                                f"{len(cells)} cells for {len(header)} columns")
                continue
            try:
                data = {name: _cell(input_types[name], name, text)
                        for name, text in zip(header, cells, strict=True) if text != ""}
            except ValueError as exc:
                yield CorpusRow(reader.line_num, None, None, str(exc))
                continue
            yield CorpusRow(reader.line_num, data, None, None)


def read_log(url: str, policy: str, date_input: str | None, date_from: dt.date | None,
             date_to: dt.date | None, where: Position) -> Iterator[CorpusRow]:
    """Logged decisions of one policy, each input dated by the date it was decided for."""
    from decision_service.store import StoreError, open_store

    try:
        store = open_store(url)
    except (StoreError, OSError) as exc:
        raise _corpus_error(where, f"cannot open the decision log {url}: {exc}") from None
    try:
        for number, record in enumerate(store.iter_records(policy=policy), 1):
            if (date_from and record.decision_date < date_from) or \
                    (date_to and record.decision_date > date_to):
                continue
            data = dict(record.input)
            if date_input is not None and data.get(date_input) is None:
                data[date_input] = record.decision_date.isoformat()
            yield CorpusRow(number, data, None, None)
    except StoreError as exc:
        raise _corpus_error(where, f"decision log {url}: {exc}") from None
    finally:
        store.close()


def iter_corpus(plan: Plan) -> Iterator[CorpusRow]:
    """The rows of the plan's corpus, in corpus order."""
    spec = plan.scenario.corpus
    if spec.kind == "generate":
        from decision_service.simulation.generate import generate_rows

        for number, data in enumerate(generate_rows(plan, spec.count, spec.seed,
                                                    spec.date_from, spec.date_to,
                                                    spec.fields), 1):
            yield CorpusRow(number, data, None, None)
        return
    if spec.kind == "log":
        assert spec.url is not None
        yield from read_log(spec.url, plan.policy, plan.date_input, spec.date_from,
                            spec.date_to, spec.position)
        return
    assert spec.path is not None
    if spec.path.suffix.lower() == ".csv":
        yield from read_csv(spec.path, plan.input_types, spec.position)
    else:
        yield from read_jsonl(spec.path, spec.position)
