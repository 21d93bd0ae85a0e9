"""The simulator's fast path in front of the input model gives exactly what the
model gives: the same values (types included) for a row it accepts, and the
model's own errors for anything else, on the cases of every shipped policy and
on corrupted copies of them."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decision_service.errors import InputError
from decision_service.fastinputs import FastInputs
from decision_service.inputs import validate_input
from decision_service.policy_files import read_policy_dir
from decision_service.policyset import PolicySet, PolicyVersion

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@cache
def _policies() -> PolicySet:
    return PolicySet.from_texts(read_policy_dir(POLICIES), ("compiled",))


def _versions() -> list[PolicyVersion]:
    return [v for versions in _policies().versions.values() for v in versions]


def _name(version: PolicyVersion) -> str:
    return f"{version.compiled.id}-v{version.compiled.version}"


def _inputs(version: PolicyVersion) -> list[dict[str, Any]]:
    cases = _policies().cases.get(version.compiled.id, [])
    return [dict(case.input) for _, case in cases] or [{}]


def _typed(value: Any) -> Any:
    """A value with its type, so 1 and 1.0 (or True and 1) are told apart."""
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def _outcome(check: Any, raw: Any) -> Any:
    try:
        values = check(raw)
    except InputError as exc:
        return ("error", [(p.field, p.code, p.message) for p in exc.problems])
    return ("ok", list(values), {k: _typed(v) for k, v in values.items()})


@cache
def _fast(policy: str, version: str) -> FastInputs:
    """One per version, as ``PolicySet.input_check`` builds it: it generates and
    compiles code, which cost more than the comparisons when made for every row."""
    chosen = _policies().version(policy, version)
    return FastInputs(chosen.compiled.policy, _policies().org, chosen.model)


def _same(version: PolicyVersion, raw: Any) -> None:
    fast = _fast(version.compiled.id, version.compiled.version)
    model = _outcome(lambda r: validate_input(version.model, r), raw)
    assert _outcome(fast, raw) == model, raw
    accepted = fast.fast(raw) if fast.fast is not None else None
    if accepted is not None:  # the fast path itself never accepts what the model refuses
        assert model[0] == "ok", raw


@pytest.mark.parametrize("version", _versions(), ids=_name)
def test_cases_of_every_policy_give_what_the_model_gives(version: PolicyVersion) -> None:
    for raw in _inputs(version):
        _same(version, raw)


# values at the edges of what each kind of input accepts, and a little beyond
EDGES: list[Any] = [
    None, True, False, 0, 1, -1, 30, 100, 101, 3650, 3651, -100, -101, 2**53, 2**53 + 1,
    -(2**53) - 1, 2**63, 0.0, -0.0, 30.0, 30.5, 1e15, 1e16, math.inf, -math.inf, math.nan,
    "", " ", "C1", " C1", "C1 ", "C 1", "Ｃ1", "e\u0301", "é", "C\u200b1", "C\t1", "C\x7f1",
    "x" * 200, "x" * 201, "2026-02-01", "2026-13-01", "2026-2-1", "2026-02-01T00:00",
    "1899-12-31", "3000-01-01", "2026-W01-1", "ATI", "ATC", "CHANGE", "FAIL", "PASS", "DE",
    "de", "ZZ", "WEU", "CARRIER", "IP_TRANSFER", "S", "X", [], ["IP_TRANSFER"],
    ["IP_TRANSFER", "IP_TRANSFER"], ["UNKNOWN"], [1], [["IP_TRANSFER"]], {}, {"a": 1},
]
_ODD = st.one_of(st.sampled_from(EDGES), st.integers(-2**60, 2**60), st.floats(),
                 st.text(max_size=12), st.lists(st.sampled_from(EDGES[-10:]), max_size=3))


@pytest.mark.parametrize("version", _versions(), ids=_name)
def test_each_input_at_its_edges_gives_what_the_model_gives(version: PolicyVersion) -> None:
    for base in _inputs(version)[:3]:
        for name in [*version.compiled.policy.inputs, "unknown_field"]:
            _same(version, {k: v for k, v in base.items() if k != name})
            for value in EDGES:
                _same(version, {**base, name: value})


@given(st.data())
def test_corrupted_rows_give_what_the_model_gives(data: st.DataObject) -> None:
    version = data.draw(st.sampled_from(_versions()))
    raw = dict(data.draw(st.sampled_from(_inputs(version))))
    names = sorted(version.compiled.policy.inputs)
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from([*names, "unknown_field"]))
        if data.draw(st.booleans()) and name in raw:
            del raw[name]
        else:
            raw[name] = data.draw(_ODD)
    _same(version, raw)


def test_a_row_that_is_not_an_object_is_the_model_s_error() -> None:
    version = _versions()[0]
    for raw in ([], "x", None, 1):
        _same(version, raw)
