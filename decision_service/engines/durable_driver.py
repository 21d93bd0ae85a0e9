"""A safe, typed wrapper around durable-rules' low-level C API (``durable_rules_engine``).

``DurableMatcher(name, rules).match(fact)`` answers which ``MatchRule`` keys hold for a
fact, with exactly the semantics of a plain Python evaluation of the atoms (see
``decision_service.compiler.ir``): a missing field makes an atom false whatever its operator,
``AnyOf`` is a disjunction of equalities, an empty conjunction always holds. One more
rule, which a plain evaluation of strictly typed facts never notices: values of
different kinds (number, string, bool) never compare, so such an atom is false too.

durable-rules 2.0.28 is unmaintained since 2020. Its hazards, as found by experiment
against this exact build, and how each one is handled here:

Threads
    ``durable.lang``'s ``Host`` gives wrong answers under threads, and the C engine
    keeps global, unlocked state. We never use ``Host``/``post``: we drive
    ``durable_rules_engine`` directly, and every call into it, for every matcher,
    happens under one module-level lock (``_ENGINE_LOCK``).

Only the first match / no match raises
    ``post`` (events) consumes the event at the first matching rule, and
    ``Host.assert_fact`` raises when no rule matches. We assert a *fact* with a fresh
    id, drain every pending action with ``start_action_for_state`` /
    ``complete_and_start_action`` (one per fired rule), then retract it. The C call
    returns code 1 for "no rule matched": that is an empty answer, not an error.

Facts left behind
    A fact that matched stays stored until retracted; every later assert gets slower
    and memory grows (~8 KB per fact). We always retract, after an error too, and
    abandon a half-drained action: a started action locks the state. A retraction
    is found by ``sid`` and ``id`` alone (durable reads nothing else of it), so it
    carries only those: the fact's text is not parsed a second time.

Deleting state can crash the process
    ``delete_state`` on a state in which no action was ever started (e.g. only
    unmatched facts were asserted) reads uninitialised memory and may ``free`` a
    garbage pointer (SIGSEGV, seen under valgrind). Each ruleset therefore carries a
    private priming rule; right after creating the ruleset we assert a priming fact,
    run its action and retract it. Closing deletes the (primed) state, then the
    ruleset, under the lock; ``close`` is idempotent. A matcher dropped unclosed is
    released at the next engine call: its finalizer may run in a GC pass on a thread
    that holds the lock, so it only queues the handles.

Limits (conditions per fact, rule set size)
    The alpha network is walked with a fixed stack of 64 nodes: a fact for which more
    than 64 rules of one ruleset hold fails with error 303. Each alpha node keeps its
    children in a 512-slot open-addressing table: 512 children make every lookup
    loop forever and 513 hang ``create_ruleset`` (e.g. 513 one-atom rules, or an
    ``AnyOf`` with 512 values). Each fact holds at most 252 properties besides
    ``sid``/``id`` (error 302) and its property index probes past its end on a hash
    collision. So rules are split over several rulesets, each with at most
    ``MAX_RULES_PER_RULESET`` rules, an alpha width (the sum over its rules of their
    widest atom: 1 per comparison, 3 per field-to-field comparison, one per distinct
    ``AnyOf`` value) of at most ``MAX_WIDTH_PER_RULESET`` and at most
    ``MAX_SLOTS_PER_RULESET`` fact properties, whose names are chosen so that no two
    collide in that index. The fact is asserted into each ruleset holding a field it
    carries. A single rule too wide to fit raises ``DurableLimitError``.

Strings
    durable compares the raw JSON text with ``strcmp``: escapes (``\\"``, ``\\\\``,
    ``\\u0000``) break the order and strings longer than 65 535 bytes are silently
    truncated. A string travels as ``"s" + hex(UTF-8 bytes)``: no escapes, and byte
    order of the hex equals code point order, i.e. Python's ``str`` order. Strings are
    limited to ``MAX_STRING_BYTES`` UTF-8 bytes.

Mixed kinds
    durable compares a string with a number as text (``"7" > 60`` holds) and
    ``true == 1`` holds. Each field travels in a property of its kind (number,
    string, bool), so an atom only ever sees a value of its own kind; booleans
    travel as 0/1, ordered like Python's (``False < True``). A comparison with
    another field is a disjunction over the three kinds, each guarded by ``$ex`` on
    the operand: without the guard a missing operand makes *every* operator hold.

Numbers
    durable rejects ``5e+08`` (error 204) and is reported to misread other exponent
    forms; we never send one. A number without a decimal point is parsed as a C
    ``long`` that saturates at ``2**63 - 1`` (``12345678901234567890 ==
    9223372036854775807``). An int is compared with a float in double precision.
    Every number is written in plain positional notation (``repr`` or ``Decimal``
    formatting, with ``.0`` added to a float without a point), which durable parses
    exactly, by correct rounding, for every finite double, from subnormals
    (``5e-324``) to ``1.7976931348623157e308`` (checked on 50 000 random values
    against Python's comparisons).

    Representable range: every finite float; every int ``n`` with
    ``-2**63 <= n < 2**63`` that is exactly a double, i.e. all ``|n| <= 2**53`` plus
    larger ones like ``10**18``. ``match`` raises ``ValueError`` naming the field for
    any other number (NaN, infinities, ``2**53 + 1``, ``12345678901234567890``);
    ``DurableMatcher`` raises ``DurableLimitError`` for such a constant in a rule.

Handles
    The engine has a fixed table of ruleset handles (131 072 in its sources);
    ``close`` returns a matcher's handles to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import math
import re
import threading
import weakref
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import durable_rules_engine as _dre

from decision_service.compiler.ir import AnyOf, Atom, Compare, Const, EngineValue, Field, MatchRule

__all__ = [
    "MAX_RULES_PER_RULESET",
    "MAX_SLOTS_PER_RULESET",
    "MAX_STRING_BYTES",
    "MAX_WIDTH_PER_RULESET",
    "DurableEngineError",
    "DurableLimitError",
    "DurableMatcher",
    "FieldPlan",
    "comparable",
    "missing_field",
    "put_property",
]

# Budgets, each under a limit found by experiment (see the module docstring):
# 64 rules holding at once (error 303), 511 children per alpha node (hang at 512),
# 252 fact properties (error 302). The margins cover what the experiments could
# not enumerate.
MAX_RULES_PER_RULESET: Final = 48
MAX_WIDTH_PER_RULESET: Final = 384
MAX_SLOTS_PER_RULESET: Final = 96
# durable truncates strings at 65 535 bytes; hex doubles the length.
MAX_STRING_BYTES: Final = 16_384

_INT_LIMIT: Final = 2**63  # durable parses integers as a C long
_EXACT_INT: Final = 2**53  # every int up to here is exactly a double

# One lock for every call into the C engine, whatever the matcher: its state is global.
_ENGINE_LOCK: Final = threading.Lock()
_FACT_IDS = itertools.count(1)  # fresh fact id per assert
_SERIALS = itertools.count(1)  # versions ruleset names within the process

_SID: Final = "0"  # one session per ruleset: each ruleset has its own state store
_NUMBER, _STRING, _BOOL = 0, 1, 2
_KIND_PREFIX: Final = ("n", "s", "b")
_KIND_NAMES: Final = ("number", "string", "bool")
_ABSENT: Final = object()
_DURABLE_OP: Final = {"==": "$eq", "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt",
                      ">=": "$gte"}
# Property index of a durable fact: slots are hash % 255 (and 256, in case the build
# differs); ``sid`` and ``id`` are always present.
_INDEX_SIZES: Final = (255, 256)
_PRIME_RULE: Final = "p"


class DurableLimitError(ValueError):
    """The rules cannot be expressed safely in durable-rules."""


class DurableEngineError(RuntimeError):
    """durable-rules failed in a way the validation should have prevented."""


def _fnv1a32(name: str) -> int:
    """durable's property-name hash (FNV-1a, 32 bits), to place names without collisions."""
    value = 0x811C9DC5
    for byte in name.encode("ascii"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


# -- values ------------------------------------------------------------------------------

_Encoded = tuple[int, str]  # (kind, JSON text)


def _float_text(value: float) -> str | None:
    if not math.isfinite(value):
        return None
    text = repr(value)
    if "e" in text:
        # repr uses an exponent from 1e16 and below 1e-4; Decimal(repr) keeps its
        # shortest round-trip digits, ``f`` writes them positionally.
        text = format(Decimal(text), "f")
    if "." not in text:
        text += ".0"  # without a point durable would read a saturating C long
    return text


_BOOL_TEXT: Final[dict[bool, _Encoded]] = {False: (_BOOL, "0"), True: (_BOOL, "1")}
_STRING_TEXT: dict[str, _Encoded] = {}  # bounded cache of encoded short strings


def _encode(value: object) -> _Encoded | str:
    """A value as (kind, durable JSON text), or why it cannot travel exactly."""
    # Fast paths for the exact built-in types: this runs for every field of every fact.
    if type(value) is float:
        text = repr(value)
        if "e" not in text and "n" not in text:  # no exponent, not inf/nan: has a point
            return (_NUMBER, text)
    elif type(value) is int and -_EXACT_INT <= value <= _EXACT_INT:
        return (_NUMBER, str(value))
    elif type(value) is bool:
        return _BOOL_TEXT[value]
    elif type(value) is str:
        known = _STRING_TEXT.get(value)
        if known is not None:
            return known
        encoded = _encode_slow(value)
        if len(value) <= 64 and len(_STRING_TEXT) < 4096 and not isinstance(encoded, str):
            _STRING_TEXT[value] = encoded  # codes and ids repeat: hex them once
        return encoded
    return _encode_slow(value)


def _encode_slow(value: object) -> _Encoded | str:
    if isinstance(value, bool):  # before int: bool is an int
        return (_BOOL, "1" if value else "0")
    if isinstance(value, int):
        if not -_INT_LIMIT <= value < _INT_LIMIT or (
            abs(value) > _EXACT_INT and int(float(value)) != value
        ):
            return (f"integer {value} is outside what durable-rules compares exactly "
                    f"(|n| <= 2**53, or exactly a double within 64 bits)")
        return (_NUMBER, str(int(value)))
    if isinstance(value, float):
        text = _float_text(float(value))
        if text is None:
            return f"number {value!r} cannot be compared by durable-rules"
        return (_NUMBER, text)
    if isinstance(value, str):
        raw = value.encode("utf-8", "surrogatepass")
        if len(raw) > MAX_STRING_BYTES:
            return (f"string of {len(raw)} UTF-8 bytes is longer than the "
                    f"{MAX_STRING_BYTES} durable-rules compares safely")
        return (_STRING, '"s' + raw.hex() + '"')
    return f"value of type {type(value).__name__} is not an engine value (int, float, str, bool)"


def _value_key(value: EngineValue) -> tuple[int, object]:
    """Equality key of a value within its kind: 1 and 1.0 are one value, True and 1 not."""
    if isinstance(value, bool):
        return (_BOOL, value)
    if isinstance(value, int | float):
        return (_NUMBER, value)
    return (_STRING, value)


# -- compiled rules ----------------------------------------------------------------------

_Slot = tuple[str, int]  # (fact field, kind)


@dataclass(frozen=True, slots=True)
class _ConstTest:
    op: str
    slot: _Slot
    text: str


@dataclass(frozen=True, slots=True)
class _FieldTest:
    op: str
    field: str
    other: str
    kind: int | None  # both fields' declared kind; None: one alternative per kind
    guard: bool  # test that ``other`` exists (unless every fact carries it)


@dataclass(frozen=True, slots=True)
class _OneOf:
    choices: tuple[tuple[_Slot, str], ...]  # distinct values, at least two


_Test = _ConstTest | _FieldTest | _OneOf


@dataclass(frozen=True, slots=True)
class _Rule:
    index: int
    tests: tuple[_Test, ...]
    width: int
    slots: frozenset[_Slot]


def _limit(rule: MatchRule, what: str) -> DurableLimitError:
    return DurableLimitError(f"rule {rule.key!r}: {what}")


def _const(rule: MatchRule, field: str, value: object) -> _Encoded:
    encoded = _encode(value)
    if isinstance(encoded, str):
        raise _limit(rule, f"constant for field {field!r}: {encoded}")
    return encoded


def _check_name(rule: MatchRule, name: object) -> str:
    if not isinstance(name, str):
        raise _limit(rule, f"field name {name!r} is not a string")
    return name


@dataclass(frozen=True, slots=True)
class _Declared:
    """What the caller promises about every fact (see ``DurableMatcher``)."""

    kinds: Mapping[str, int]
    present: frozenset[str]


def _compile_rule(index: int, rule: MatchRule, declared: _Declared) -> _Rule | None:
    """The rule as durable tests, or None when it can never hold (an empty AnyOf)."""
    if not isinstance(rule, MatchRule):
        raise DurableLimitError(f"not a MatchRule: {rule!r}")
    tests: list[_Test] = []
    width = 1
    slots: set[_Slot] = set()
    never = False
    for atom in rule.atoms:
        test = _compile_atom(rule, atom, declared)
        if test is None:
            never = True  # keep validating the other atoms all the same
            continue
        tests.append(test)
        if isinstance(test, _ConstTest):
            slots.add(test.slot)
        elif isinstance(test, _FieldTest) and test.kind is not None:
            slots.update(((test.field, test.kind), (test.other, test.kind)))
        elif isinstance(test, _FieldTest):
            width = max(width, 3)  # one alternative per kind
            slots.update((name, kind) for name in (test.field, test.other)
                         for kind in (_NUMBER, _STRING, _BOOL))
        else:
            width = max(width, len(test.choices))
            slots.update(slot for slot, _ in test.choices)
    if never:
        return None
    return _Rule(index, tuple(tests), width, frozenset(slots))


def _compile_atom(rule: MatchRule, atom: Atom, declared: _Declared) -> _Test | None:
    field = _check_name(rule, getattr(atom, "field", None))
    if isinstance(atom, Compare):
        if atom.op not in _DURABLE_OP:
            raise _limit(rule, f"unknown operator {atom.op!r}")
        if isinstance(atom.operand, Field):
            other = _check_name(rule, atom.operand.name)
            kind, other_kind = declared.kinds.get(field), declared.kinds.get(other)
            if kind is None or other_kind is None:
                return _FieldTest(atom.op, field, other, None, True)
            if kind != other_kind:
                return None  # values of different kinds never compare
            return _FieldTest(atom.op, field, other, kind, other not in declared.present)
        if not isinstance(atom.operand, Const):
            raise _limit(rule, f"operand {atom.operand!r} is neither Const nor Field")
        kind, text = _const(rule, field, atom.operand.value)
        return _ConstTest(atom.op, (field, kind), text)
    if isinstance(atom, AnyOf):
        # Distinct values only: two equal values (1 and 1.0) would both hold, and a
        # rule must never hold twice at one alpha level (the 64-node stack).
        distinct: dict[tuple[int, object], tuple[_Slot, str]] = {}
        for value in atom.values:
            kind, text = _const(rule, field, value)
            distinct.setdefault(_value_key(value), ((field, kind), text))
        if not distinct:
            return None
        if len(distinct) == 1:
            (slot, text), = distinct.values()
            return _ConstTest("==", slot, text)
        return _OneOf(tuple(distinct.values()))
    raise _limit(rule, f"unknown atom {atom!r}")


def _chunks(rules: list[_Rule]) -> list[list[_Rule]]:
    """Rules packed in order into rulesets that respect every budget."""
    chunks: list[list[_Rule]] = []
    current: list[_Rule] = []
    width = 0
    slots: set[_Slot] = set()
    for rule in rules:  # each fits alone: DurableMatcher checked
        if current and (len(current) >= MAX_RULES_PER_RULESET
                        or width + rule.width > MAX_WIDTH_PER_RULESET
                        or len(slots | rule.slots) > MAX_SLOTS_PER_RULESET):
            chunks.append(current)
            current, width, slots = [], 0, set()
        current.append(rule)
        width += rule.width
        slots |= rule.slots
    if current:
        chunks.append(current)
    return chunks


def _place_names(slots: list[_Slot], fields: dict[str, int]) -> tuple[dict[_Slot, str], str]:
    """Property names for the slots of one ruleset, and the priming property's name.

    No two names (nor ``sid``/``id``) share a slot of durable's property index, so its
    out-of-bounds collision probe never runs.
    """
    taken = {(_fnv1a32(n) % size, size) for n in ("sid", "id") for size in _INDEX_SIZES}

    def place(base: str) -> str:
        for attempt in itertools.count():
            name = base if attempt == 0 else f"{base}_{attempt}"
            places = {(_fnv1a32(name) % size, size) for size in _INDEX_SIZES}
            if not places & taken:
                taken.update(places)
                return name
        raise AssertionError("unreachable")

    prime = place("p")
    return {slot: place(f"{_KIND_PREFIX[slot[1]]}{fields[slot[0]]}") for slot in slots}, prime


def _render(test: _Test, names: dict[_Slot, str]) -> str:
    """One test as a durable expression; written by hand so numbers keep their text."""
    if isinstance(test, _ConstTest):
        return f'{{"{_DURABLE_OP[test.op]}":{{"{names[test.slot]}":{test.text}}}}}'
    if isinstance(test, _FieldTest) and test.kind is not None:
        op = _DURABLE_OP[test.op]
        left, right = names[(test.field, test.kind)], names[(test.other, test.kind)]
        compare = f'{{"{op}":{{"{left}":{{"$m":"{right}"}}}}}}'
        if not test.guard:  # every fact carries it: match() checks
            return compare
        return f'{{"$and":[{{"$ex":{{"{right}":1}}}},{compare}]}}'
    if isinstance(test, _FieldTest):
        op = _DURABLE_OP[test.op]
        alternatives = []
        for kind in (_NUMBER, _STRING, _BOOL):
            left, right = names[(test.field, kind)], names[(test.other, kind)]
            # The $ex guard: a comparison with a missing property holds for every op.
            alternatives.append(f'{{"$and":[{{"$ex":{{"{right}":1}}}},'
                                f'{{"{op}":{{"{left}":{{"$m":"{right}"}}}}}}]}}')
        return '{"$or":[' + ",".join(alternatives) + "]}"
    choices = ",".join(f'{{"$eq":{{"{names[slot]}":{text}}}}}' for slot, text in test.choices)
    return '{"$or":[' + choices + "]}"


def _definition(rules: list[_Rule], names: dict[_Slot, str], prime: str) -> str:
    parts = [f'"{_PRIME_RULE}":{{"all":[{{"m":{{"$eq":{{"{prime}":1}}}}}}]}}']
    for rule in rules:
        tests = [_render(test, names) for test in rule.tests]
        expression = tests[0] if len(tests) == 1 else '{"$and":[' + ",".join(tests) + "]}"
        parts.append(f'"r{rule.index}":{{"all":[{{"m":{expression}}}]}}')
    return "{" + ",".join(parts) + "}"


# -- engine calls (all under _ENGINE_LOCK) ------------------------------------------------


def _fire(handle: int, body: str, retraction: str, fired: list[str]) -> None:
    """Assert one fact, add the names of all rules it fires to ``fired``, retract it.

    ``retraction`` is the fact's ``sid`` and ``id`` alone: durable finds the stored
    fact by them and reads nothing else of a retraction, so it is not parsed twice.
    """
    try:
        code, state = _dre.assert_fact(handle, body)
        if code == 0:
            started = _dre.start_action_for_state(handle, state)
            if started is not None:
                message: str | None = started[1]
                try:
                    while message:
                        # '{"r12":{"m":{...}}}': the name is the first key.
                        fired.append(message[2:message.index('"', 2)])
                        message = _dre.complete_and_start_action(handle, state)
                except BaseException:
                    # Leave no action in flight: a started action locks the state.
                    with contextlib.suppress(Exception):
                        _dre.abandon_action(handle, state)
                    raise
        elif code != 1:  # 1: no rule matched, an empty answer
            raise DurableEngineError(f"durable-rules answered {code} to an assert")
    except BaseException:
        # Retract also after a failed assert (it may have stored the fact); the
        # error in flight is the one worth seeing.
        with contextlib.suppress(Exception):
            _dre.retract_fact(handle, retraction)
        raise
    _dre.retract_fact(handle, retraction)


def _release_locked(handles: list[int]) -> None:
    """Delete each ruleset's (primed) state, then the ruleset. Never raises."""
    for handle in handles:
        with contextlib.suppress(Exception):
            _dre.delete_state(handle, _SID)
        with contextlib.suppress(Exception):
            _dre.delete_ruleset(handle)
    handles.clear()


# Rulesets of matchers collected without close(), released at the next locked call.
_ORPHANS: list[list[int]] = []


def _orphan(handles: list[int]) -> None:
    """Finalizer of a matcher never closed. It may run inside a GC pass on a thread
    that holds ``_ENGINE_LOCK`` (not reentrant), so it only queues the handles."""
    _ORPHANS.append(handles)


def _reap_locked() -> None:
    while _ORPHANS:
        _release_locked(_ORPHANS.pop())


# Per kind, the property prefix ('"n3":') of a field in one ruleset, None if unused.
Prefixes = tuple[str | None, str | None, str | None]
# A value's type and its properties: (ruleset position, '"n3":12.5') per ruleset.
_Written = tuple[type, tuple[tuple[int, str], ...]]
_WRITTEN_PER_FIELD: Final = 256  # values remembered per field (codes, unit settings)
_FIXED_REMEMBERED: Final = 1024  # ``fixed`` mappings remembered per matcher


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """How one field a rule reads travels: what ``DurableMatcher.fire`` expects of a
    writer (``put_property`` writes any value; a generated writer may inline the
    common cases, see ``durable_writer``)."""

    field: str
    kind: int  # declared kind (index in ("number", "string", "bool")), -1 if none
    required: bool  # declared present in every fact
    targets: tuple[tuple[int, Prefixes], ...]  # (ruleset position, prefixes)
    # Only equality tests read the field: the (kind, text) of their constants. A string
    # or bool value among none of them makes every test false, as absence does, so it
    # is not sent (fewer properties for durable to parse, store and echo per action).
    # None: other tests read it, every value is sent.
    holding: frozenset[tuple[int, str]] | None
    written: dict[object, _Written]


def _written(plan: FieldPlan, value: object) -> _Written:
    """The properties of one value of a field; remembered for the next facts."""
    encoded = _encode(value)
    if isinstance(encoded, str):
        raise ValueError(f"fact field {plan.field!r}: {encoded}")
    value_kind, text = encoded
    if plan.kind >= 0 and value_kind != plan.kind:
        raise ValueError(f"fact field {plan.field!r}: a {_KIND_NAMES[value_kind]}, "
                         f"declared a {_KIND_NAMES[plan.kind]}")
    if (plan.holding is not None and value_kind != _NUMBER
            and (value_kind, text) not in plan.holding):
        texts: tuple[tuple[int, str], ...] = ()  # no test can hold for it: not sent
    else:
        texts = tuple((position, prefix + text) for position, prefixes in plan.targets
                      if (prefix := prefixes[value_kind]) is not None)
    written = (type(value), texts)
    if len(plan.written) < _WRITTEN_PER_FIELD:
        plan.written[value] = written  # a value equal and of the same type: same text
    return written


def put_property(plan: FieldPlan, value: object, parts: Sequence[list[str]]) -> None:
    """Append one present value's properties to its rulesets' ``parts``.

    Raises ValueError, naming the field, for a value durable-rules cannot compare
    exactly or of another kind than declared (see the module docstring).
    """
    try:
        known = plan.written.get(value)
    except TypeError:  # unhashable: not an engine value, _written says so
        known = None
    # Same type too: True == 1 == 1.0 as dict keys, but a bool is no number.
    if known is None or known[0] is not type(value):
        known = _written(plan, value)
    for position, text in known[1]:
        parts[position].append(text)


def comparable(value: object) -> bool:
    """Whether durable-rules compares ``value`` exactly (see the module docstring)."""
    return not isinstance(_encode(value), str)


def missing_field(plan: FieldPlan) -> ValueError:
    """The error for a field declared present in every fact that a fact lacks."""
    return ValueError(f"fact field {plan.field!r} is missing; it was declared present "
                      "in every fact")


def _holding(rules: list[_Rule]) -> dict[str, frozenset[tuple[int, str]]]:
    """Per field read only by equality tests, the (kind, text) of their constants."""
    equal: dict[str, set[tuple[int, str]]] = {}
    other: set[str] = set()
    for rule in rules:
        for test in rule.tests:
            if isinstance(test, _ConstTest) and test.op == "==":
                equal.setdefault(test.slot[0], set()).add((test.slot[1], test.text))
            elif isinstance(test, _OneOf):
                for (field, kind), text in test.choices:
                    equal.setdefault(field, set()).add((kind, text))
            elif isinstance(test, _ConstTest):
                other.add(test.slot[0])
            else:
                other.update((test.field, test.other))
    return {field: frozenset(texts) for field, texts in equal.items() if field not in other}


@dataclass(frozen=True, slots=True)
class _Ruleset:
    handle: int
    fields: tuple[tuple[str, Prefixes], ...]


class DurableMatcher:
    """Which rules hold for a fact, answered by durable-rules.

    ``name`` identifies the matcher (e.g. policy, version and a digest); the ruleset
    names add a per-process serial, so two matchers never share a name. Thread-safe.

    ``match`` takes a fact mapping; ``fire`` takes the fact already written as each
    ruleset's properties (``plans`` says how, ``put_property`` writes a value) and
    answers durable's rule names (``names_of`` maps a rule key to them).
    """

    def __init__(self, name: str, rules: Sequence[MatchRule], *,
                 kinds: Mapping[str, str] | None = None, present: Collection[str] = ()) -> None:
        self.name = name
        self._rulesets: list[_Ruleset] = []
        self._handles: list[int] = []
        self._closed = False
        unknown = {k for k in (kinds or {}).values() if k not in _KIND_NAMES}
        if unknown:
            raise ValueError(f"unknown kinds {sorted(unknown)}; use {', '.join(_KIND_NAMES)}")
        declared = _Declared({f: _KIND_NAMES.index(k) for f, k in (kinds or {}).items()},
                             frozenset(present))
        compiled = self._compile(rules, declared)
        fields: dict[str, int] = {}
        for compiled_rule in compiled:
            for field, _ in sorted(compiled_rule.slots):
                fields.setdefault(field, len(fields))

        plans: list[tuple[str, str, tuple[tuple[str, Prefixes], ...]]] = []
        for chunk in _chunks(compiled):
            chunk_slots = sorted({slot for rule in chunk for slot in rule.slots})
            names, prime = _place_names(chunk_slots, fields)
            per_field: dict[str, list[str | None]] = {}
            for (field, kind), prop in names.items():
                per_field.setdefault(field, [None, None, None])[kind] = f'"{prop}":'
            plans.append((_definition(chunk, names, prime), prime,
                          tuple((f, (p[0], p[1], p[2])) for f, p in per_field.items())))
        self._build(plans)
        # id(fixed) -> (fixed, fields left to the fact, per ruleset fixed properties)
        self._fixed: dict[int, tuple[Mapping[str, EngineValue], tuple[FieldPlan, ...],
                                     tuple[tuple[str, ...], ...]]] = {}
        holding = _holding(compiled)
        # Per field a rule reads: its declared kind (or -1), whether every fact must
        # carry it, per ruleset holding it (position, property prefix per kind), the
        # values worth sending, and the properties already written for recent values.
        self.plans = tuple(
            FieldPlan(field, declared.kinds.get(field, -1), field in declared.present,
                      tuple((i, prefixes) for i, ruleset in enumerate(self._rulesets)
                            for name, prefixes in ruleset.fields if name == field),
                      holding.get(field), {})
            for field in fields)

    @property
    def ruleset_count(self) -> int:
        """How many rulesets the rules were split over: ``fire`` takes one text each."""
        return len(self._rulesets)

    def names_of(self, key: str) -> tuple[str, ...] | None:
        """durable's names of the rules with this key (none: it can never hold);
        None when it always holds (no atoms), so durable is not asked."""
        if key in self._always:
            return None
        return tuple(name for name, rule_key in self._keys.items() if rule_key == key
                     and name in self._compiled_names)

    def _compile(self, rules: Sequence[MatchRule], declared: _Declared) -> list[_Rule]:
        compiled: list[_Rule] = []
        always: list[str] = []
        self._keys: dict[str, str] = {}  # durable rule name -> MatchRule key
        for index, rule in enumerate(rules):
            result = _compile_rule(index, rule, declared)
            self._keys[f"r{index}"] = rule.key
            if result is None:
                continue  # can never hold
            if not result.tests:
                always.append(rule.key)
                continue
            if result.width > MAX_WIDTH_PER_RULESET:
                raise _limit(rule, f"alpha width {result.width} exceeds "
                             f"{MAX_WIDTH_PER_RULESET} (too many AnyOf values)")
            if len(result.slots) > MAX_SLOTS_PER_RULESET:
                raise _limit(rule, f"needs {len(result.slots)} fact properties, more than "
                             f"{MAX_SLOTS_PER_RULESET}")
            compiled.append(result)
        self._always = frozenset(always)
        self._compiled_names = frozenset(f"r{rule.index}" for rule in compiled)
        return compiled

    def _build(self, plans: list[tuple[str, str, tuple[tuple[str, Prefixes], ...]]]) -> None:
        digest = hashlib.sha256("\n".join(d for d, _, _ in plans).encode()).hexdigest()[:10]
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.name)[:80] or "matcher"
        serial = next(_SERIALS)
        # Frees the C memory if close() is forgotten; not at exit, when the engine
        # may already be half torn down.
        self._finalizer = weakref.finalize(self, _orphan, self._handles)
        self._finalizer.atexit = False
        try:
            for i, (definition, prime, prefixes) in enumerate(plans):
                handle = self._create(f"{safe}~{digest}~{serial}.{i}", definition, prime)
                self._rulesets.append(_Ruleset(handle, prefixes))
        except BaseException:
            self.close()
            raise

    def _create(self, ruleset_name: str, definition: str, prime_name: str) -> int:
        with _ENGINE_LOCK:
            _reap_locked()
            try:
                handle: int = _dre.create_ruleset(ruleset_name, definition)
            except Exception as exc:
                raise DurableEngineError(f"durable-rules refused ruleset {ruleset_name!r}: "
                                         f"{exc}") from exc
            self._handles.append(handle)
            # Priming: run one action on the state now, so deleting it later is safe.
            fact_id = next(_FACT_IDS)
            fired: list[str] = []
            _fire(handle, f'{{"sid":"{_SID}","id":{fact_id},"{prime_name}":1}}',
                  f'{{"sid":"{_SID}","id":{fact_id}}}', fired)
            if fired != [_PRIME_RULE]:
                raise DurableEngineError(f"priming ruleset {ruleset_name!r} fired {fired}")
            return handle

    def match(self, fact: Mapping[str, EngineValue],
              fixed: Mapping[str, EngineValue] | None = None) -> frozenset[str]:
        """The keys of every rule whose atoms all hold for ``fact``.

        ``fixed``: fields shared by many facts (e.g. the settings of a unit), read from
        it rather than from ``fact``. Its properties are written once per mapping
        object and reused while it lives, so it must never change.

        Raises ValueError, naming the field, for a value durable-rules cannot compare
        exactly (see the module docstring for the range), a value of another kind than
        declared, or a missing field declared present.
        """
        fixed_parts: tuple[tuple[str, ...], ...]
        if fixed is None:
            plan, fixed_parts = self.plans, ((),) * len(self._rulesets)
        else:
            plan, fixed_parts = self._fixed_properties(fixed)
        fired = self.fire([",".join(parts)
                           for parts in self._properties(fact, plan, fixed_parts)])
        try:
            keys = frozenset(map(self._keys.__getitem__, fired))
        except KeyError as exc:
            raise DurableEngineError(f"unexpected action {exc.args[0]!r}") from None
        return keys | self._always if self._always else keys

    def fire(self, texts: Sequence[str]) -> set[str]:
        """durable's names of the rules that hold for a fact written as one text of
        properties per ruleset (``'"n3":12.5,"s0":"s41"'``; empty: none)."""
        bodies: list[tuple[int, str, str]] = []
        for ruleset, text in zip(self._rulesets, texts, strict=True):
            if text:  # with none of its properties no rule of this ruleset can hold
                # A fresh id for every assert; next() on a count is atomic.
                fact_id = next(_FACT_IDS)
                bodies.append((ruleset.handle, f'{{"sid":"{_SID}","id":{fact_id},{text}}}',
                               f'{{"sid":"{_SID}","id":{fact_id}}}'))
        return self._fire_all(bodies)

    def fire_one(self, text: str) -> set[str]:
        """``fire`` for a matcher of one ruleset (the common case), with less around
        the C calls."""
        if not text:
            return set()
        fact_id = next(_FACT_IDS)
        return self._fire_all(((self._rulesets[0].handle,
                                f'{{"sid":"{_SID}","id":{fact_id},{text}}}',
                                f'{{"sid":"{_SID}","id":{fact_id}}}'),))

    def _fire_all(self, bodies: Sequence[tuple[int, str, str]]) -> set[str]:
        """Assert and retract each (handle, fact, retraction), under the engine's lock."""
        fired: list[str] = []
        with _ENGINE_LOCK:  # held only around the C calls
            if self._closed:
                raise RuntimeError(f"matcher {self.name!r} is closed")
            if _ORPHANS:
                _reap_locked()
            for handle, body, retraction in bodies:
                try:
                    _fire(handle, body, retraction, fired)
                except DurableEngineError:
                    raise
                except Exception as exc:
                    raise DurableEngineError(f"durable-rules failed on a fact: {exc}") from exc
        return set(fired)

    def _fixed_properties(self, fixed: Mapping[str, EngineValue]
                          ) -> tuple[tuple[FieldPlan, ...], tuple[tuple[str, ...], ...]]:
        """The fields ``fixed`` leaves to each fact, and per ruleset its properties."""
        known = self._fixed.get(id(fixed))
        if known is not None and known[0] is fixed:
            return known[1], known[2]
        parts: list[list[str]] = [[] for _ in self._rulesets]
        for plan in self.plans:
            if plan.field in fixed:
                put_property(plan, fixed[plan.field], parts)
        rest = tuple(plan for plan in self.plans if plan.field not in fixed)
        entry = (fixed, rest, tuple(tuple(p) for p in parts))
        if len(self._fixed) >= _FIXED_REMEMBERED:
            self._fixed.clear()  # settings are few; this only bounds a misuse
        self._fixed[id(fixed)] = entry  # holds ``fixed``: its id is not reused meanwhile
        return entry[1], entry[2]

    def _properties(self, fact: Mapping[str, EngineValue], fields: tuple[FieldPlan, ...],
                    fixed_parts: Sequence[Sequence[str]]) -> list[list[str]]:
        """Per ruleset, the fact's properties as JSON text; each value encoded once."""
        parts: list[list[str]] = [list(texts) for texts in fixed_parts]
        for plan in fields:
            value = fact.get(plan.field, _ABSENT)
            if value is _ABSENT:
                if plan.required:
                    raise missing_field(plan)
                continue
            put_property(plan, value, parts)
        return parts

    def close(self) -> None:
        """Delete each ruleset's state, then the ruleset. Idempotent."""
        with _ENGINE_LOCK:
            self._closed = True
            self._finalizer.detach()
            _release_locked(self._handles)  # empty after the first call
            _reap_locked()

    def __enter__(self) -> DurableMatcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
