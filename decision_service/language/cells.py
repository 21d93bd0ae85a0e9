"""Unary tests: the text of one table cell, parsed.

The grammar is a small subset of DMN's:

    -                       anything
    <= 20000000             comparison with a number (plain digits, `_` allowed)
    > office_value_limit    comparison with a parameter or another field
    [10..20)  (0..5]        ranges, brackets say whether the ends are included
    in [A, B]  not in [A]   membership
    not X                   inequality
    contains X              for a list field: X is one of its members
    X / 7 / true            equality

Parsing yields a neutral ``CellTest``; the compiler resolves names and types.
Nothing here is evaluated as code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

_NUMBER = re.compile(r"[+-]?\d[\d_]*(\.\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_RANGE = re.compile(r"^([\[(])\s*(\S+?)\s*\.\.\s*(\S+?)\s*([\])])$")
_LIST = re.compile(r"^\[(.*)\]$")


class CellSyntaxError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Token:
    """A literal or a name as written; the compiler decides which it is."""

    text: str
    kind: Literal["number", "word", "bool"]


@dataclass(frozen=True, slots=True)
class CellTest:
    kind: Literal["any", "compare", "range", "in", "not_in", "contains", "not_contains"]
    op: str = "=="
    operands: tuple[Token, ...] = ()


def _token(text: str) -> Token:
    text = text.strip()
    if not text:
        raise CellSyntaxError("a value is missing")
    if text.lower() in ("true", "false"):
        return Token(text.lower(), "bool")
    if _NUMBER.fullmatch(text):
        return Token(text.replace("_", ""), "number")
    if re.fullmatch(r"[+-]?[\d.]+[eE][+-]?\d+", text):
        raise CellSyntaxError(f"write {text!r} with plain digits, not an exponent")
    if _NAME.fullmatch(text):
        return Token(text, "word")
    raise CellSyntaxError(f"{text!r} is neither a number nor a name")


def _items(body: str) -> tuple[Token, ...]:
    parts = [p for p in (s.strip() for s in body.split(",")) if p]
    if not parts:
        raise CellSyntaxError("the list is empty")
    return tuple(_token(p) for p in parts)


# Cells repeat on every decision's explanation. typed: 0.0 and False are different cells.
@lru_cache(maxsize=8192, typed=True)
def parse_cell(cell: object) -> CellTest:  # noqa: C901 - one branch per form of a cell
    """Parse one cell. YAML may already have typed it (``true``, ``0``)."""
    if isinstance(cell, bool):
        return CellTest("compare", "==", (Token("true" if cell else "false", "bool"),))
    if isinstance(cell, int | float):
        text = repr(cell)
        if "e" in text.lower() or text in ("nan", "inf", "-inf"):
            raise CellSyntaxError(f"write {cell!r} with plain digits")
        return CellTest("compare", "==", (_token(text),))
    if not isinstance(cell, str):
        raise CellSyntaxError(f"a cell must be text, a number or true/false, not {cell!r}")
    text = cell.strip()
    if text in ("-", ""):
        return CellTest("any")
    for op in ("<=", ">=", "!=", "<", ">", "="):
        if text.startswith(op):
            return CellTest("compare", "==" if op == "=" else op, (_token(text[len(op):]),))
    if match := _RANGE.match(text):
        low_bracket, low, high, high_bracket = match.groups()
        low_op = ">=" if low_bracket == "[" else ">"
        high_op = "<=" if high_bracket == "]" else "<"
        return CellTest("range", f"{low_op},{high_op}", (_token(low), _token(high)))
    if text.startswith("not in "):
        inner = _LIST.match(text[len("not in "):].strip())
        if not inner:
            raise CellSyntaxError("write `not in [A, B]`")
        return CellTest("not_in", operands=_items(inner.group(1)))
    if text.startswith("in "):
        inner = _LIST.match(text[len("in "):].strip())
        if not inner:
            raise CellSyntaxError("write `in [A, B]`")
        return CellTest("in", operands=_items(inner.group(1)))
    if text.startswith("not contains "):
        return CellTest("not_contains", operands=(_token(text[len("not contains "):]),))
    if text.startswith("contains "):
        return CellTest("contains", operands=(_token(text[len("contains "):]),))
    if text.startswith("not "):
        return CellTest("compare", "!=", (_token(text[len("not "):]),))
    return CellTest("compare", "==", (_token(text),))
