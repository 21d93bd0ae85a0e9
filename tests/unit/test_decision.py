"""The hot path's constructors (decision.new_*) make the very objects the classes'
own constructors make: every field set, equal, frozen, hashable alike."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from decision_service.decision import (
    Decision,
    Dimension,
    LowerRoute,
    Reason,
    new_decision,
    new_reason,
    new_route,
    new_text,
)
from decision_service.language.model import Text


def _distinct_values(cls: type) -> list[Any]:
    """One value per field, each different, so a field set from the wrong argument shows."""
    text = Text("甲", "a")
    samples: dict[str, Any] = {
        "policy": "p", "policy_version": "2", "outputs": {"o": 1},
        "reasons": (Reason("r", "t", text, True),), "decision_date": dt.date(2026, 11, 23),
        "engine": "compiled", "input": {"i": 2}, "history": {"h": 3.0},
        "dimensions": (Dimension("t", text, "REGION", True),),
        "lower_routes": (LowerRoute("t", text, "OFFICE"),), "version_reason": "activation",
        "rule": "A1.office", "table": "A1", "message": text, "decisive": True,
        "zh": "中文", "en": "English", "would_give": "OFFICE",
    }
    return [samples[f.name] for f in dataclasses.fields(cls)]


@pytest.mark.parametrize(("cls", "fast"), [(Text, new_text), (Reason, new_reason),
                                           (LowerRoute, new_route), (Decision, new_decision)])
def test_fast_constructor_makes_the_same_object(cls: type, fast: Any) -> None:
    values = _distinct_values(cls)
    made, expected = fast(*values), cls(*values)
    assert type(made) is cls
    # every field is set (a field added to the class, and not here, fails)
    assert dataclasses.astuple(made) == dataclasses.astuple(expected)
    assert made == expected and repr(made) == repr(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, dataclasses.fields(cls)[0].name, "changed")
    if cls is not Decision:  # a Decision holds dicts
        assert hash(made) == hash(expected)
