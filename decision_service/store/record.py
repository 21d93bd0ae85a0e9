"""The decision record and the hash chain that links the log together.

A ``DraftRecord`` is what the decision code produces; the store turns it into a
``DecisionRecord`` by linking it to the previous record:

    record_hash = sha256(prev_hash + canonical_bytes(every field but the two hashes))

``canonical_bytes`` is orjson with sorted keys, so the hash does not depend on
dict insertion order, on the database, or on the process that computes it.  The
first record links to ``GENESIS_HASH`` (64 zeros).

Values are normalised when a draft is built (UTC datetimes, float amounts, JSON
round trip of the payloads) so that the record the store returns is equal, field
for field and hash for hash, to the one it reads back later.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any

import orjson

from .errors import UnstorableValueError

GENESIS_HASH = "0" * 64

# How each field is kept.  The dataclasses below are the one definition of the
# record: the stores' column lists, row encoders and decoders, the JSON view and
# the API's schema of a logged decision are all derived from their metadata.
TEXT, OPTIONAL_TEXT, JSON, TIMESTAMP, DATE, FLOAT = (
    "text", "optional_text", "json", "timestamp", "date", "float")


def column(kind: str, *, shown: bool = True, since: str | None = None) -> dict[str, Any]:
    """Field metadata: the column ``kind``, whether ``record_as_dict`` shows it, and
    for a field added after the first schema, the migration that added it (such a
    field is hashed only when set, so records written before it keep their hashes)."""
    return {"column": kind, "shown": shown, "since": since}


# How orjson writes U+0000 inside a JSON string.
_ESCAPED_NUL = b"\\u0000"


def _json_roundtrip(value: Any, name: str) -> Any:
    # Storing and reloading JSON turns tuples into lists, datetimes into strings, etc.
    # Doing it up front makes the returned record identical to what is read back.
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError as exc:
        raise TypeError(f"{name} is not JSON-serialisable: {exc}") from exc


def _json_roundtrip_payloads(input_: Any, output: Any, reasons: Any) -> tuple[Any, Any, Any]:
    # One orjson call pair for the three payloads; on failure, redo them one by one
    # so the error names the payload at fault.
    try:
        loaded = orjson.loads(orjson.dumps((input_, output, reasons)))
    except TypeError:
        for value, name in ((input_, "input"), (output, "output"), (reasons, "reasons")):
            _json_roundtrip(value, name)
        raise
    return loaded[0], loaded[1], loaded[2]


@dataclass(frozen=True, kw_only=True)
class DraftRecord:
    """A decision before it is linked into the chain (everything but the hashes)."""

    decision_id: str = field(metadata=column(TEXT))
    policy: str = field(metadata=column(TEXT))
    policy_version: str = field(metadata=column(TEXT))
    bundle_hash: str = field(metadata=column(TEXT))
    engine: str = field(metadata=column(TEXT))
    decided_at: datetime = field(metadata=column(TIMESTAMP))
    decision_date: date = field(metadata=column(DATE))
    request_id: str | None = field(metadata=column(OPTIONAL_TEXT))
    input: dict[str, Any] = field(metadata=column(JSON))
    output: dict[str, Any] = field(metadata=column(JSON))
    reasons: list[dict[str, Any]] = field(metadata=column(JSON))
    agg_key: str | None = field(default=None, metadata=column(OPTIONAL_TEXT, shown=False))
    agg_amount: float | None = field(default=None, metadata=column(FLOAT, shown=False))
    # Records of one subject (a deal): only the latest counts towards totals, and
    # a subject's total never includes itself.
    agg_subject: str | None = field(default=None, metadata=column(
        OPTIONAL_TEXT, shown=False, since="0002"))
    # The client's Idempotency-Key and a digest of the request it came with.
    idempotency_key: str | None = field(default=None, metadata=column(
        OPTIONAL_TEXT, since="0002"))
    request_hash: str | None = field(default=None, metadata=column(
        OPTIONAL_TEXT, shown=False, since="0002"))

    def __post_init__(self) -> None:
        self._normalise(json_values=False)

    @staticmethod
    def of_json_values(**values: Any) -> DraftRecord:
        """A draft whose ``input``, ``output`` and ``reasons`` hold JSON values only
        (dicts with string keys, lists, strings, numbers, booleans, None), as a
        decision's do: checked like any draft, without the JSON round trip that
        normalises other values (most of what building a draft costs; the payloads
        are kept, not copied). A value that is not JSON after all is refused when
        the log encodes it; the hash and what the log stores are the same either way."""
        missing = _REQUIRED_FIELDS.difference(values)
        unknown = values.keys() - _DRAFT_FIELD_SET
        if missing or unknown:
            raise TypeError(f"DraftRecord fields missing: {sorted(missing)}, "
                            f"unknown: {sorted(unknown)}")
        draft = object.__new__(DraftRecord)
        fields = vars(draft)  # frozen: fill __dict__ directly, as __init__ would
        fields.update(_UNSET_DEFAULTS)
        fields.update(values)
        draft._normalise(json_values=True)
        return draft

    def _normalise(self, *, json_values: bool) -> None:
        if not self.decision_id:
            raise ValueError("decision_id must not be empty")
        if not isinstance(self.decided_at, datetime) or self.decided_at.utcoffset() is None:
            raise ValueError("decided_at must be a timezone-aware datetime")
        # datetime is a subclass of date; a datetime here would hash differently
        # from the plain date the database gives back.
        if isinstance(self.decision_date, datetime) or not isinstance(self.decision_date, date):
            raise ValueError("decision_date must be a datetime.date")
        if not isinstance(self.input, dict) or not isinstance(self.output, dict):
            raise TypeError("input and output must be dicts")
        if not isinstance(self.reasons, list):
            raise TypeError("reasons must be a list of dicts")
        amount = self.agg_amount
        if amount is not None:
            amount = float(amount)  # 5 and 5.0 serialise differently; the DB gives 5.0
            if not math.isfinite(amount):
                raise ValueError("agg_amount must be finite")
        _set = object.__setattr__  # frozen dataclass: normalise in place once
        _set(self, "decided_at", self.decided_at.astimezone(UTC))
        _set(self, "agg_amount", amount)
        if json_values:
            return
        input_, output, reasons = _json_roundtrip_payloads(self.input, self.output, self.reasons)
        _set(self, "input", input_)
        _set(self, "output", output)
        _set(self, "reasons", reasons)


@dataclass(frozen=True, kw_only=True)
class DecisionRecord(DraftRecord):
    """A decision as stored in the log, linked to its predecessor by ``prev_hash``."""

    prev_hash: str = field(metadata=column(TEXT))
    record_hash: str = field(metadata=column(TEXT))

    def draft(self) -> DraftRecord:
        """The record without its chain link."""
        return DraftRecord(**{name: getattr(self, name) for name in _DRAFT_FIELDS})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of the record as the stores and the API see it."""

    name: str
    kind: str
    shown: bool
    since: str | None


# Every column in table order (after ``seq``), the two hashes last.
RECORD_FIELDS: tuple[FieldSpec, ...] = tuple(
    FieldSpec(f.name, f.metadata["column"], f.metadata["shown"], f.metadata["since"])
    for f in fields(DecisionRecord))
_DRAFT_FIELDS = tuple(f.name for f in fields(DraftRecord))
_DRAFT_FIELD_SET = frozenset(_DRAFT_FIELDS)
_UNSET_DEFAULTS = {f.name: None for f in fields(DraftRecord) if f.default is None}
_REQUIRED_FIELDS = _DRAFT_FIELD_SET.difference(_UNSET_DEFAULTS)
# Hashed always / only when set; in sorted order, so the canonical dict is built sorted.
_SORTED_FIELDS = tuple(sorted(f.name for f in RECORD_FIELDS[:len(_DRAFT_FIELDS)]
                              if f.since is None))
_LATER_FIELDS = tuple(f.name for f in RECORD_FIELDS[:len(_DRAFT_FIELDS)] if f.since)
_TEXT_FIELDS = tuple(f.name for f in RECORD_FIELDS[:len(_DRAFT_FIELDS)] if f.kind == TEXT)
_OPTIONAL_TEXT_FIELDS = tuple(f.name for f in RECORD_FIELDS if f.kind == OPTIONAL_TEXT)


SHOWN_FIELDS = tuple(f for f in RECORD_FIELDS if f.shown)


def record_view(record: DecisionRecord) -> dict[str, Any]:
    """The record as JSON-ready data for readers (``GET /v1/decisions/{id}``): the
    fields marked shown, dates and times in ISO 8601."""
    values = vars(record)
    view: dict[str, Any] = {}
    for spec in SHOWN_FIELDS:
        value = values[spec.name]
        view[spec.name] = value.isoformat() if spec.kind in (TIMESTAMP, DATE) else value
    return view


def canonical_bytes(record: DraftRecord) -> bytes:
    """Canonical serialisation of the hashed fields (a DecisionRecord's hashes are ignored)."""
    values = vars(record)
    payload = {name: values[name] for name in _SORTED_FIELDS}
    for name in _LATER_FIELDS:
        if values[name] is not None:
            payload[name] = values[name]
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def chain_hash(prev_hash: str, record: DraftRecord) -> str:
    """The chain rule: sha256 over the previous hash followed by the canonical bytes."""
    return _hash(prev_hash, canonical_bytes(record))


def _hash(prev_hash: str, canonical: bytes) -> str:
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical)
    return digest.hexdigest()


def storable_bytes(draft: DraftRecord) -> bytes:
    """``canonical_bytes(draft)``, refusing what the log could not store faithfully.

    Raises ``UnstorableValueError`` for a text field that is not a string, a lone
    surrogate anywhere, or a NUL character in a text field, the agg_key or any
    string (key or value) of the JSON payloads: PostgreSQL text cannot hold U+0000,
    and both stores refuse the same records.
    """
    values = vars(draft)
    for name in _TEXT_FIELDS:
        if not isinstance(values[name], str):
            raise UnstorableValueError(f"{name} must be a string, not {type(values[name])!r}")
    for name in _OPTIONAL_TEXT_FIELDS:
        if values[name] is not None and not isinstance(values[name], str):
            raise UnstorableValueError(
                f"{name} must be a string or None, not {type(values[name])!r}"
            )
    try:
        canonical = canonical_bytes(draft)
    except TypeError as exc:  # orjson.JSONEncodeError: a lone surrogate in a string
        raise UnstorableValueError(f"decision {values['decision_id']!r}: {exc}") from exc
    # Text fields and JSON strings all appear in the canonical form, where orjson
    # escapes U+0000; one substring search clears nearly every record.
    if _ESCAPED_NUL in canonical:
        where = _find_nul(values)
        if where is not None:
            raise UnstorableValueError(
                f"{where} contains a NUL character (U+0000), which the decision log "
                "cannot store (PostgreSQL text cannot hold it)"
            )
    return canonical


def _find_nul(values: dict[str, Any]) -> str | None:
    """Path of the first string holding U+0000 (None: a literal backslash-u0000)."""
    stack: list[tuple[str, Any]] = [(name, values[name]) for name in reversed(_DRAFT_FIELDS)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                if "\x00" in key:
                    return f"a key in {path}"
                stack.append((f"{path}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None


def link(draft: DraftRecord, prev_hash: str, canonical: bytes) -> DecisionRecord:
    """The record of ``draft`` chained after ``prev_hash``; ``canonical`` must be
    ``storable_bytes(draft)``.  The draft was normalised when it was built, so its
    values (payload dicts included) are taken as they are rather than normalised and
    copied a second time: this is most of what sealing used to cost."""
    record = object.__new__(DecisionRecord)
    values = vars(draft)
    fields = vars(record)  # frozen: fill __dict__ directly, as __init__ would
    for name in _DRAFT_FIELDS:
        fields[name] = values[name]
    fields["prev_hash"] = prev_hash
    fields["record_hash"] = _hash(prev_hash, canonical)
    return record


def seal(draft: DraftRecord, prev_hash: str) -> DecisionRecord:
    """Link ``draft`` after the record whose hash is ``prev_hash``.

    Raises ``UnstorableValueError`` if the draft holds a value the log can't store.
    """
    return link(draft, prev_hash, storable_bytes(draft))
