"""Conditions a scenario writes on a value: `deny`, `in [A, B]`, `not X`, `>= 1000000`.

The same unary-test words the policies use, read once and compiled to a
predicate, because guards and A10 filters test them on every row.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[Any], bool]

_COMPARE = re.compile(r"^(<=|>=|<|>|==|!=)\s*(.+)$")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
    "==": operator.eq, "!=": operator.ne,
}


class ConditionError(ValueError):
    """A condition a person wrote that cannot be read."""


def _word(text: str) -> Any:
    """A literal as written: a number when it reads as one, else the word itself."""
    text = text.strip().strip("'\"")
    try:
        return int(text.replace("_", "")) if re.fullmatch(r"-?[\d_]+", text) \
            else float(text.replace("_", ""))
    except ValueError:
        return None if text == "null" else text


def _members(text: str) -> list[Any]:
    inner = text.strip()
    if not (inner.startswith("[") and inner.endswith("]")):
        raise ConditionError(f"expected a list in brackets, e.g. [A, B], not {text!r}")
    return [_word(part) for part in inner[1:-1].split(",") if part.strip()]


def _numeric(op: Callable[[Any, Any], bool], bound: Any) -> Predicate:
    def test(value: Any) -> bool:
        return (isinstance(value, int | float) and not isinstance(value, bool)
                and op(value, bound))
    return test


def compile_condition(written: Any) -> Predicate:
    """A predicate for one written condition; ``ConditionError`` if unreadable."""
    if isinstance(written, list):
        allowed = {_norm(v) for v in written}
        return lambda value: _norm(value) in allowed
    if written is None or isinstance(written, bool | int | float | dt.date):
        expected = _norm(written)
        return lambda value: _norm(value) == expected
    if not isinstance(written, str):
        raise ConditionError(f"cannot read condition {written!r}")
    text = written.strip()
    if text == "-":
        return lambda value: True
    if text.startswith("contains "):
        member = _word(text[9:])
        return lambda value: isinstance(value, list | tuple) and member in value
    if text.startswith("not in "):
        banned = set(_members(text[7:]))
        return lambda value: _norm(value) not in banned
    if text.startswith("in "):
        allowed_words = set(_members(text[3:]))
        return lambda value: _norm(value) in allowed_words
    if text.startswith("not "):
        other = _word(text[4:])
        return lambda value: _norm(value) != other
    match = _COMPARE.match(text)
    if match:
        bound = _word(match.group(2))
        if match.group(1) in ("==", "!="):
            op = _OPS[match.group(1)]
            return lambda value: bool(op(_norm(value), bound))
        if not isinstance(bound, int | float):
            raise ConditionError(f"{text!r}: {match.group(2)!r} is not a number")
        return _numeric(_OPS[match.group(1)], bound)
    expected_word = _word(text)
    return lambda value: _norm(value) == expected_word


def _norm(value: Any) -> Any:
    """Values as they compare: lists as tuples (hashable), dates as ISO text."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
