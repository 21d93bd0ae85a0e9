"""What a decision returns: outputs, the reasons in both languages, and how
the level could come down. Plain data; the API and CLI serialise ``as_dict``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from decision_service.language.model import Text


@dataclass(frozen=True, slots=True)
class Reason:
    """One fired rule: its table and its message with the deal's figures filled in."""

    rule: str
    table: str
    message: Text
    decisive: bool = False  # this reason alone or with others set the result

    def as_dict(self) -> dict[str, Any]:
        """The reason as the API and the decision log write it."""
        return {
            "rule": self.rule,
            "table": self.table,
            "message": self.message.en,
            "message_zh": self.message.zh,
            "decisive": self.decisive,
        }


@dataclass(frozen=True, slots=True)
class Dimension:
    """One table's say on an ordered output (e.g. A4 asks for REGION)."""

    table: str
    title: Text
    value: str
    binding: bool  # it alone or with others sets the final value


@dataclass(frozen=True, slots=True)
class LowerRoute:
    """The nearest change to one binding dimension that would lower the result."""

    table: str
    message: Text
    would_give: str | None  # the result if this change alone were made


@dataclass(frozen=True, slots=True)
class Decision:
    """What a policy decided for one input: its outputs, the reasons, and how it was decided."""

    policy: str
    policy_version: str
    outputs: dict[str, Any]
    reasons: tuple[Reason, ...]
    decision_date: dt.date
    engine: str
    input: dict[str, Any]  # validated, with defaults, JSON-ready
    history: dict[str, float] = field(default_factory=dict)  # A10 totals used
    dimensions: tuple[Dimension, ...] = ()
    lower_routes: tuple[LowerRoute, ...] = ()
    # Why policy_version decided: the date alone, or the date and a staged
    # activation (the unit listed, or held back to the version before).
    version_reason: str = "date"

    def as_dict(self) -> dict[str, Any]:
        """The decision body as the API answers it and the CLI prints it."""
        body: dict[str, Any] = {"policy": self.policy, "policy_version": self.policy_version,
                                "version_reason": self.version_reason}
        body.update(self.outputs)
        body["reasons"] = [r.as_dict() for r in self.reasons]
        body["decision_date"] = self.decision_date.isoformat()
        body["engine"] = self.engine
        if self.history:
            body["history"] = dict(self.history)
        if self.dimensions:
            body["explanation"] = {
                "dimensions": [
                    {"table": d.table, "title": d.title.en, "value": d.value, "binding": d.binding}
                    for d in self.dimensions
                ],
                "lower": [
                    {"table": r.table, "message": r.message.en, "message_zh": r.message.zh,
                     "would_give": r.would_give}
                    for r in self.lower_routes
                ],
            }
        return body
