"""The ``Idempotency-Key`` header: which request a key stands for, and its problems.

A key is stored with the decision it made (``idempotency_key`` in the log, kept
as long as the log: at least the 24 hours the contract promises).  The request
it came with is remembered as a digest of the policy and the parsed body, so a
retry that re-serialises the same JSON (other spacing or key order) is the same
request, and the same key with another body is refused.  A batch's item ``i``
is logged under ``<key>#<i>``, all with the digest of the whole batch.
"""

from __future__ import annotations

import hashlib
import re

import orjson

from decision_service.api.problems import Problem
from decision_service.store import IdempotencyClaim

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Visible ASCII: what a client generates (a UUID, a CRM request id), and nothing
# that could smuggle control characters into the log.
_KEY = re.compile(r"[\x21-\x7e]{1,200}")


def checked_key(value: str | None) -> str | None:
    """The header's key, or None without one; 422 for a key that is not visible ASCII."""
    if value is None:
        return None
    if not _KEY.fullmatch(value):
        raise Problem(422, "invalid-input", f"invalid {HEADER} header",
                      [{"field": HEADER, "code": "format",
                        "message": "1 to 200 visible ASCII characters (a UUID, say)"}])
    return value


def request_hash(kind: str, policy: str, body: object) -> str:
    """Digest of what a key stands for: the endpoint kind, the policy, the parsed body."""
    try:
        canonical = orjson.dumps([kind, policy, body], option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not JSON-able: cannot match any logged request
        canonical = repr((kind, policy, body)).encode("utf-8", "surrogatepass")
    return hashlib.sha256(canonical).hexdigest()


def decision_claim(key: str | None, policy: str, body: object) -> IdempotencyClaim | None:
    return None if key is None else IdempotencyClaim(key, request_hash("decision", policy, body))


def batch_claims(key: str | None, policy: str,
                 items: list[object]) -> list[IdempotencyClaim | None]:
    if key is None:
        return [None] * len(items)
    digest = request_hash("batch", policy, items)
    return [IdempotencyClaim(f"{key}#{index}", digest) for index in range(len(items))]


def key_reused(key: str, decision_id: str) -> Problem:
    return Problem(422, "idempotency-key-reused",
                   f"{HEADER} {key!r} was already used for another request (decision "
                   f"{decision_id}); send a new key for a new request",
                   [{"field": HEADER, "code": "conflict",
                     "message": "this key was used with another body"}])
