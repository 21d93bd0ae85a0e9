"""A fast path in front of a policy's input model, for decision inputs.

The generated pydantic model (``inputs.input_model``) is the contract for
decision inputs. Most of its cost on an input is in its Python validators
(identifiers checked character by character, dates parsed, the conditions
between fields). What the CRM sends and what a corpus of a year of deals holds
are ordinary inputs: ASCII identifiers, ISO dates, known codes. ``FastInputs``
accepts exactly such inputs, producing the very dict ``validate_input`` would,
and hands anything else (an unknown field, a type or value it does not
recognise as plainly valid, a missing field) to ``validate_input`` itself, so
a bad input fails with the model's own errors. It never accepts an input the
model refuses: tests/simulation/test_sim_fastinputs.py checks it against the
model on valid and corrupted inputs of every shipped policy. ``PolicySet.prepare``
validates through it (the service, the batch), and so does the simulator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cached_property, partial
from typing import Any

from pydantic import BaseModel

from decision_service.inputs import holds_plain, parse_iso_date, validate_input
from decision_service.language.model import InputDecl, OrgTree, Policy

_MAX_TEXT = 200
_EXACT = 2**53  # an int beyond this is left to the model (float conversion, bounds)
_ABSENT = object()


def _date_reader() -> Callable[[Any], dt.date | None]:
    """A plainly valid ISO date as a date, else None; each distinct text parsed once."""
    seen: dict[str, dt.date] = {}

    def read(value: Any) -> dt.date | None:
        if type(value) is not str:
            return None
        found = seen.get(value)
        if found is None:
            try:
                found = parse_iso_date(value)
            except Exception:  # the model words the error
                return None
            if len(seen) < 100_000:
                seen[value] = found
        return found

    return read


def _holds_cached() -> Callable[[str, Any], bool]:
    """``holds_plain`` remembered by (test, value): a few values, tested on every row."""
    seen: dict[tuple[str, Any], bool] = {}

    def holds(test: str, value: Any) -> bool:
        try:
            found = seen.get((test, value))
        except TypeError:  # a list: not a value a condition tests plainly
            return False
        if found is None:
            found = seen[(test, value)] = holds_plain(test, value)
        return found

    return holds


class _Source:
    """The fast path as Python source. Only names (through ``repr``) and numbers
    from the compiled policy's declarations are written into it; sets of codes
    and defaults are passed in a constants tuple."""

    def __init__(self, policy: Policy, org: OrgTree, refuse: str = "return None") -> None:
        self.policy = policy
        self.org = org
        self.refuse = refuse  # what the fast path does with a row it does not accept
        self.lines: list[str] = []
        self.constants: list[Any] = []
        self.local = {name: f"v{i}" for i, name in enumerate(policy.inputs)}

    def const(self, value: Any) -> str:
        self.constants.append(value)
        return f"K[{len(self.constants) - 1}]"

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text.replace("return None", self.refuse))

    def check(self, decl: InputDecl, v: str) -> list[str]:
        """Lines that leave a plainly valid value in ``v`` (converted as the model
        converts it) and return None for anything else."""
        kind = decl.type
        if kind in ("number", "integer"):
            return self.number(decl, v)
        if kind == "boolean":
            return [f"if type({v}) is not bool: return None"]
        if kind == "date":
            return [f"{v} = DATE({v})", f"if {v} is None: return None"]
        if kind in ("enum", "unit"):
            return [f"if type({v}) is not str or {v} not in {self.const(self.codes(decl))}: "
                    "return None"]
        if kind == "list":
            members = self.const(frozenset(decl.values))
            return [f"if type({v}) is not list: return None",
                    f"for x in {v}:",
                    f"    if type(x) is not str or x not in {members}: return None",
                    f"if len(set({v})) != len({v}): return None",
                    f"{v} = list({v})"]
        # an identifier: printable ASCII is its own NFC form, and check_identifier
        # refuses none of it but blanks at either end
        return [f"if type({v}) is not str or not (0 < len({v}) <= {_MAX_TEXT} and "
                f"{v}.isascii() and {v}.isprintable()) or {v}[0] == ' ' or {v}[-1] == ' ': "
                "return None"]

    def codes(self, decl: InputDecl) -> frozenset[str]:
        if decl.type == "unit":
            return frozenset(c for c in self.org.codes(decl.unit_level or "office")
                             if 0 < len(c) <= _MAX_TEXT)
        values = decl.values or (self.org.orderings[decl.ordering].values
                                 if decl.ordering else ())
        return frozenset(v for v in values if isinstance(v, str))

    def number(self, decl: InputDecl, v: str) -> list[str]:
        tests = []
        if isinstance(decl.minimum, int | float):
            tests.append(f"{float(decl.minimum)!r} {'<' if decl.exclusive_minimum else '<='} {v}")
        if isinstance(decl.maximum, int | float):
            tests.append(f"{v} <= {float(decl.maximum)!r}")
        if not (isinstance(decl.minimum, int | float) and isinstance(decl.maximum, int | float)
                and -_EXACT <= decl.minimum <= decl.maximum <= _EXACT):
            tests.append(f"{-_EXACT} <= {v} <= {_EXACT}")
        # each test is false for NaN; with both bounds finite, false for infinity too
        within = " and ".join(tests)
        if decl.type == "integer":
            return [f"if type({v}) is not int or not ({within}): return None"]
        return [f"if type({v}) is float:",
                f"    if not ({within}): return None",
                f"elif type({v}) is int and {within}: {v} = float({v})",
                "else: return None"]

    def field(self, name: str, decl: InputDecl) -> None:
        v = self.local[name]
        if decl.default is not None:  # absent: the default (a list copied); null: refused
            self.emit(1, f"{v} = get({name!r}, ABSENT)")
            self.emit(1, f"if {v} is ABSENT:")
            self.emit(2, "absent += 1")
            default = self.const(decl.default)
            self.emit(2, f"{v} = list({default})" if isinstance(decl.default, list)
                      else f"{v} = {default}")
            self.emit(1, "else:")
            depth = 2
        elif decl.required and not decl.optional_when:  # absent or null: refused
            self.emit(1, f"{v} = get({name!r})")
            depth = 1
        else:  # absent or null: None
            self.emit(1, f"{v} = get({name!r}, ABSENT)")
            self.emit(1, f"if {v} is ABSENT:")
            self.emit(2, f"{v} = None")
            self.emit(2, "absent += 1")
            self.emit(1, f"elif {v} is not None:")
            depth = 2
        for line in self.check(decl, v):
            self.emit(depth, line)

    def between_fields(self) -> None:
        """The model's after-validator: ``optional_when`` and bounds naming an input."""
        for name, decl in self.policy.inputs.items():
            v = self.local[name]
            for other, test in decl.optional_when.items():
                value = self.local.get(other, "None")
                self.emit(1, f"if {v} is None and not HOLDS({test!r}, {value}): return None")
            for bound, op in ((decl.maximum, ">"), (decl.minimum, "<")):
                if isinstance(bound, str):
                    w = self.local[bound]
                    self.emit(1, f"if {v} is not None and {w} is not None and {v} {op} {w}: "
                              "return None")

    def source(self) -> str:
        self.emit(0, "def fast(raw):")
        self.emit(1, "if type(raw) is not dict: return None")
        self.emit(1, "get = raw.get")
        self.emit(1, "absent = 0")
        for name, decl in self.policy.inputs.items():
            self.field(name, decl)
        # every key a declared input: as many keys as declared inputs found (cheaper
        # than comparing the key set, and the same: those found are among the keys)
        self.emit(1, f"if len(raw) != {len(self.policy.inputs)} - absent: return None")
        self.between_fields()
        self.emit(1, "return {" + ", ".join(f"{n!r}: {v}" for n, v in self.local.items()) + "}")
        return "\n".join(self.lines) + "\n"


def _fast_function(policy: Policy, org: OrgTree, model: type[BaseModel] | None = None
                   ) -> Callable[[Any], dict[str, Any] | None]:
    """The fast path: None for a row it does not accept, or, given the model, that
    row validated by the model (the simulator's check, with no call in between)."""
    writer = _Source(policy, org, "return None" if model is None else "return SLOW(MODEL, raw)")
    text = writer.source()
    namespace: dict[str, Any] = {
        "K": tuple(writer.constants), "ABSENT": _ABSENT, "DATE": _date_reader(),
        "HOLDS": _holds_cached(), "SLOW": validate_input, "MODEL": model,
    }
    code = compile(text, f"<fast inputs {policy.meta.id} v{policy.meta.version}>", "exec")
    exec(code, namespace)  # generated above from checked declarations; see _Source
    return namespace["fast"]  # type: ignore[no-any-return]


class FastInputs:
    """``validate_input(model, raw)`` for one policy version, quicker on ordinary rows."""

    def __init__(self, policy: Policy, org: OrgTree, model: type[BaseModel]) -> None:
        self.model = model
        self.policy, self.org = policy, org
        names = set(policy.inputs)
        bounds = {b for d in policy.inputs.values() for b in (d.minimum, d.maximum)
                  if isinstance(b, str)}
        # a bound naming no input is left to the model
        self.plain = bounds <= names
        # what ``PolicySet.prepare`` and the simulator call on every input: the fast
        # path handing what it does not accept to the model itself
        self.check: Callable[[Any], dict[str, Any]] = (
            _fast_function(policy, org, model) if self.plain  # type: ignore[assignment]
            else partial(validate_input, model))

    @cached_property
    def fast(self) -> Callable[[Any], dict[str, Any] | None] | None:
        """The fast path alone: None for an input it does not accept (for the tests
        that hold it to the model; generated only when asked for)."""
        return _fast_function(self.policy, self.org) if self.plain else None

    def __call__(self, raw: Any) -> dict[str, Any]:
        """The validated row (defaults filled in); ``InputError`` if the model refuses it."""
        return self.check(raw)
