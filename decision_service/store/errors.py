"""Exceptions raised by the decision log.

Callers (HTTP API, CLI) catch ``StoreError`` to turn any store failure into one
answer; the subclasses exist for the cases a caller may want to treat differently.
"""

from __future__ import annotations


class StoreError(Exception):
    """Anything the decision log could not do: bad URL, database failure, closed store."""


class UnstorableValueError(StoreError, ValueError):
    """A value in the caller's record or aggregate query can't be stored faithfully:
    a NUL character (U+0000) in a text field, an agg_key or a JSON string (PostgreSQL
    text cannot hold it), a lone surrogate, or a text field that is not a string.

    Only the request carrying the value fails; nothing of it is written and the rest
    of its commit group is unaffected.
    """


class StoreClosedError(StoreError):
    """``log_decision`` was called after ``close()``."""


class DuplicateDecisionError(StoreError):
    """A record with this ``decision_id`` is already in the log; nothing was written."""


class WriteFailedError(StoreError):
    """The database failed while writing the caller's batch.

    The decision must not be acknowledged.  The transaction was rolled back, so
    normally nothing was written; only if the connection died during COMMIT itself
    is the outcome unknown (``get(decision_id)`` tells).
    """


class IdempotencyKeyUsedError(StoreError):
    """A decision with this idempotency key is already logged; nothing was written.

    ``same_request`` tells a retry (the same request again: answer with the logged
    decision ``decision_id``) from a key reused for another request.
    """

    def __init__(self, key: str, decision_id: str, *, same_request: bool) -> None:
        super().__init__(f"idempotency key {key!r} was used for decision {decision_id}")
        self.key = key
        self.decision_id = decision_id
        self.same_request = same_request
