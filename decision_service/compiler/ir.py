"""The intermediate form both engines evaluate.

A compiled policy is a list of tables; every rule is a conjunction of atoms over
the *fact*: a flat dict of engine values built from the validated input, the
parameters resolved for the deal's unit and the derived fields. Engine values are
only ``int``, ``float``, ``str`` and ``bool``:

- ordered enums (levels, grades) travel as their ordinal ``int`` so ``>`` works;
- a list of enum values travels as one boolean per member,
  ``"<field>#<VALUE>": True/False``, so ``contains`` is a plain equality;
- an absent optional field is simply not in the fact.

An atom whose field (or whose operand field) is absent from the fact is false,
whatever its operator. Both engines must honour this; it is what lets a rule on
``gross_margin_pct`` stay silent at ATI, where the margin may be omitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

EngineValue = int | float | str | bool
Fact = dict[str, EngineValue]
CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True, slots=True)
class Const:
    value: EngineValue


@dataclass(frozen=True, slots=True)
class Field:
    """The value of another fact field, e.g. a parameter resolved for the unit."""

    name: str


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: CompareOp
    operand: Const | Field


@dataclass(frozen=True, slots=True)
class AnyOf:
    """``field`` equals one of ``values`` (a disjunction of equalities)."""

    field: str
    values: tuple[EngineValue, ...]


Atom = Compare | AnyOf


@dataclass(frozen=True, slots=True)
class MatchRule:
    """What an engine sees of a rule: a key and the conjunction that makes it fire.

    An empty ``atoms`` tuple always matches.
    """

    key: str
    atoms: tuple[Atom, ...]


def _compare(left: EngineValue, op: CompareOp, right: EngineValue) -> bool:
    # Types never mix here: the compiler only pairs a field with an operand of
    # its own type, and facts come from validated input. bool is kept apart
    # from int explicitly because Python says True == 1.
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    if isinstance(left, str) != isinstance(right, str):
        return False
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right  # type: ignore[operator]
    if op == "<=":
        return left <= right  # type: ignore[operator]
    if op == ">":
        return left > right  # type: ignore[operator]
    return left >= right  # type: ignore[operator]


def holds(atom: Atom, fact: Fact) -> bool:
    """The meaning of an atom, in plain Python: the reference for every engine."""
    value = fact.get(atom.field)
    if value is None:
        return False
    if isinstance(atom, AnyOf):
        return any(_compare(value, "==", v) for v in atom.values)
    if isinstance(atom.operand, Field):
        other = fact.get(atom.operand.name)
        if other is None:
            return False
        return _compare(value, atom.op, other)
    return _compare(value, atom.op, atom.operand.value)


def common_prefix(sequences: Sequence[tuple[Atom, ...]]) -> tuple[Atom, ...]:
    """The atoms every rule of a table starts with: both engines test them once."""
    prefix = sequences[0] if sequences else ()
    for sequence in sequences[1:]:
        n = 0
        while n < min(len(prefix), len(sequence)) and prefix[n] == sequence[n]:
            n += 1
        prefix = prefix[:n]
    return prefix
