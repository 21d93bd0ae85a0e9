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


# -- constructors for the hot path -------------------------------------------------
#
# A frozen dataclass's __init__ sets each field through object.__setattr__, which
# costs about as much again as the rest of making the object; a decision makes a
# dozen of these (bench/engine.py (d)). These set the slots directly: the same
# objects as the classes' own constructors make (tests/unit/test_decision.py holds
# them to it), every field given.

_new = object.__new__


def _slot_setters(cls: type, *names: str) -> tuple[Any, ...]:
    return tuple(getattr(cls, name).__set__ for name in names)


_text_zh, _text_en = _slot_setters(Text, "zh", "en")
_reason_rule, _reason_table, _reason_message, _reason_decisive = _slot_setters(
    Reason, "rule", "table", "message", "decisive")
_route_table, _route_message, _route_would_give = _slot_setters(
    LowerRoute, "table", "message", "would_give")
_DECISION_SLOTS = _slot_setters(
    Decision, "policy", "policy_version", "outputs", "reasons", "decision_date", "engine",
    "input", "history", "dimensions", "lower_routes", "version_reason")


def new_text(zh: str, en: str) -> Text:
    """``Text(zh, en)``, faster."""
    text: Text = _new(Text)
    _text_zh(text, zh)
    _text_en(text, en)
    return text


def new_reason(rule: str, table: str, message: Text, decisive: bool) -> Reason:
    """``Reason(rule, table, message, decisive)``, faster."""
    reason: Reason = _new(Reason)
    _reason_rule(reason, rule)
    _reason_table(reason, table)
    _reason_message(reason, message)
    _reason_decisive(reason, decisive)
    return reason


def new_route(table: str, message: Text, would_give: str | None) -> LowerRoute:
    """``LowerRoute(table, message, would_give)``, faster."""
    route: LowerRoute = _new(LowerRoute)
    _route_table(route, table)
    _route_message(route, message)
    _route_would_give(route, would_give)
    return route


def new_decision(policy: str, policy_version: str, outputs: dict[str, Any],
                 reasons: tuple[Reason, ...], decision_date: dt.date, engine: str,
                 input_: dict[str, Any], history: dict[str, float],
                 dimensions: tuple[Dimension, ...], lower_routes: tuple[LowerRoute, ...],
                 version_reason: str) -> Decision:
    """``Decision(...)`` with every field, faster."""
    decision: Decision = _new(Decision)
    (set_policy, set_version, set_outputs, set_reasons, set_date, set_engine, set_input,
     set_history, set_dimensions, set_routes, set_reason) = _DECISION_SLOTS
    set_policy(decision, policy)
    set_version(decision, policy_version)
    set_outputs(decision, outputs)
    set_reasons(decision, reasons)
    set_date(decision, decision_date)
    set_engine(decision, engine)
    set_input(decision, input_)
    set_history(decision, history)
    set_dimensions(decision, dimensions)
    set_routes(decision, lower_routes)
    set_reason(decision, version_reason)
    return decision
