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
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

GENESIS_HASH = "0" * 64

# Fields covered by the hash: everything except prev_hash / record_hash.
_DRAFT_FIELDS = (
    "decision_id",
    "policy",
    "policy_version",
    "bundle_hash",
    "engine",
    "decided_at",
    "decision_date",
    "request_id",
    "input",
    "output",
    "reasons",
    "agg_key",
    "agg_amount",
)


def _json_roundtrip(value: Any, name: str) -> Any:
    # Storing and reloading JSON turns tuples into lists, datetimes into strings, etc.
    # Doing it up front makes the returned record identical to what is read back.
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError as exc:
        raise TypeError(f"{name} is not JSON-serialisable: {exc}") from exc


@dataclass(frozen=True, kw_only=True)
class DraftRecord:
    """A decision before it is linked into the chain (everything but the hashes)."""

    decision_id: str
    policy: str
    policy_version: str
    bundle_hash: str
    engine: str
    decided_at: datetime
    decision_date: date
    request_id: str | None
    input: dict[str, Any]
    output: dict[str, Any]
    reasons: list[dict[str, Any]]
    agg_key: str | None = None
    agg_amount: float | None = None

    def __post_init__(self) -> None:
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
        _set(self, "input", _json_roundtrip(self.input, "input"))
        _set(self, "output", _json_roundtrip(self.output, "output"))
        _set(self, "reasons", _json_roundtrip(self.reasons, "reasons"))


@dataclass(frozen=True, kw_only=True)
class DecisionRecord(DraftRecord):
    """A decision as stored in the log, linked to its predecessor by ``prev_hash``."""

    prev_hash: str
    record_hash: str

    def draft(self) -> DraftRecord:
        """The record without its chain link."""
        return DraftRecord(**{name: getattr(self, name) for name in _DRAFT_FIELDS})


def canonical_bytes(record: DraftRecord) -> bytes:
    """Canonical serialisation of the hashed fields (a DecisionRecord's hashes are ignored)."""
    payload = {name: getattr(record, name) for name in _DRAFT_FIELDS}
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def chain_hash(prev_hash: str, record: DraftRecord) -> str:
    """The chain rule: sha256 over the previous hash followed by the canonical bytes."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical_bytes(record))
    return digest.hexdigest()


def seal(draft: DraftRecord, prev_hash: str) -> DecisionRecord:
    """Link ``draft`` after the record whose hash is ``prev_hash``."""
    values = {name: getattr(draft, name) for name in _DRAFT_FIELDS}
    return DecisionRecord(**values, prev_hash=prev_hash, record_hash=chain_hash(prev_hash, draft))
