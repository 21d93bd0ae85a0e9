"""DurableMatcher answers exactly like a plain Python evaluation of the atoms.

The reference evaluator below is the specification: an atom on a missing field (or
missing operand field) is false, values of different kinds (number, string, bool)
never compare, an empty conjunction holds.
"""

from __future__ import annotations

import json
import operator
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import durable_rules_engine
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decision_service.compiler.ir import AnyOf, Atom, Compare, Const, EngineValue, Field, MatchRule
from decision_service.engines import durable_driver
from decision_service.engines.durable_driver import DurableLimitError, DurableMatcher

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


# -- the reference ------------------------------------------------------------------------


def kind(value: EngineValue) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else "string"


def holds(atom: Atom, fact: Mapping[str, EngineValue]) -> bool:
    if atom.field not in fact:
        return False
    left = fact[atom.field]
    if isinstance(atom, AnyOf):
        return any(kind(v) == kind(left) and v == left for v in atom.values)
    if isinstance(atom.operand, Field):
        if atom.operand.name not in fact:
            return False
        right = fact[atom.operand.name]
    else:
        right = atom.operand.value
    return kind(left) == kind(right) and OPS[atom.op](left, right)


def reference(rules: Sequence[MatchRule], fact: Mapping[str, EngineValue]) -> frozenset[str]:
    return frozenset(r.key for r in rules if all(holds(a, fact) for a in r.atoms))


@pytest.fixture
def matchers() -> Iterator[Callable[[Sequence[MatchRule]], DurableMatcher]]:
    made: list[DurableMatcher] = []

    def make(rules: Sequence[MatchRule]) -> DurableMatcher:
        made.append(DurableMatcher(f"test-{len(made)}", rules))
        return made[-1]

    yield make
    for matcher in made:
        matcher.close()


def one(atom: Atom) -> list[MatchRule]:
    return [MatchRule("k", (atom,))]


def matches(matcher: DurableMatcher, fact: Mapping[str, EngineValue]) -> bool:
    return matcher.match(fact) == {"k"}


# -- operators ----------------------------------------------------------------------------

PAIRS: list[tuple[EngineValue, EngineValue]] = [
    (1, 2), (2, 1), (2, 2), (2, 2.0), (-1, 0.5), (0.1, 0.30000000000000004),
    (0.3, 0.30000000000000004), (-0.0, 0), (250000000.0, 2.5e8), (10**18, 1e18),
    ("a", "b"), ("b", "a"), ("a", "a"), ("ab", "abc"), ("", "a"), ("é", "z"),
    ('a"b', "a#b"), ("a\\", "a]"), ("a\x00b", "a"), ("中", "é"),
    (False, True), (True, False), (True, True), (False, False),
]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize(("left", "right"), PAIRS)
def test_every_operator_against_a_constant_matches_python(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher], op: str,
    left: EngineValue, right: EngineValue,
) -> None:
    matcher = matchers(one(Compare("x", op, Const(right))))  # type: ignore[arg-type]
    assert matches(matcher, {"x": left}) == OPS[op](left, right)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize(("left", "right"), PAIRS)
def test_every_operator_against_another_field_matches_python(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher], op: str,
    left: EngineValue, right: EngineValue,
) -> None:
    matcher = matchers(one(Compare("x", op, Field("y"))))  # type: ignore[arg-type]
    assert matches(matcher, {"x": left, "y": right}) == OPS[op](left, right)


@pytest.mark.parametrize("op", OPS)
def test_a_field_compared_with_itself_matches_python(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher], op: str,
) -> None:
    matcher = matchers(one(Compare("x", op, Field("x"))))  # type: ignore[arg-type]
    for value in (3, 2.5, "s", True):
        assert matches(matcher, {"x": value}) == OPS[op](value, value)


def test_any_of_is_a_disjunction_of_equalities(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    matcher = matchers(one(AnyOf("x", ("DE", "AR", 3, 4.5, False))))
    cases: list[tuple[EngineValue, bool]] = [
        ("DE", True), ("AR", True), ("CR", False), (3, True), (3.0, True), (4.5, True),
        (4, False), (False, True), (True, False), ("3", False),
    ]
    for value, expected in cases:
        assert matches(matcher, {"x": value}) == expected, value


def test_any_of_with_no_values_never_matches(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    matcher = matchers([MatchRule("never", (AnyOf("x", ()),)), MatchRule("k", ())])
    assert matcher.match({"x": 1}) == {"k"}


# -- absent fields, empty rules, kinds -------------------------------------------------------


@pytest.mark.parametrize("op", OPS)
def test_an_absent_field_is_false_for_every_operator_including_not_equal(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher], op: str,
) -> None:
    matcher = matchers([
        MatchRule("const", (Compare("x", op, Const(1)),)),  # type: ignore[arg-type]
        MatchRule("field", (Compare("x", op, Field("y")),)),  # type: ignore[arg-type]
        MatchRule("any", (AnyOf("x", (1, 2)),)),
    ])
    assert matcher.match({}) == frozenset()
    assert matcher.match({"y": 1}) == frozenset()  # the left field is absent
    assert "field" not in matcher.match({"x": 1})  # the operand field is absent
    assert "field" not in matcher.match({"x": "a"})
    assert "field" not in matcher.match({"x": True})


def test_an_empty_conjunction_always_matches(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    matcher = matchers([MatchRule("always", ()), MatchRule("k", (Compare("x", ">", Const(1)),))])
    assert matcher.match({}) == {"always"}
    assert matcher.match({"x": 2}) == {"always", "k"}
    assert matchers([MatchRule("only", ())]).match({}) == {"only"}


def test_no_match_is_an_empty_answer_not_an_error(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    matcher = matchers(one(Compare("x", "==", Const(1))))
    assert matcher.match({"x": 2}) == frozenset()
    assert matcher.match({"unrelated": 2}) == frozenset()


@pytest.mark.parametrize("op", OPS)
def test_a_string_never_compares_with_a_number(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher], op: str,
) -> None:
    matcher = matchers([
        MatchRule("const", (Compare("x", op, Const(60)),)),  # type: ignore[arg-type]
        MatchRule("text", (Compare("x", op, Const("60")),)),  # type: ignore[arg-type]
        MatchRule("field", (Compare("x", op, Field("y")),)),  # type: ignore[arg-type]
        MatchRule("any", (AnyOf("x", (7, 60)),)),
    ])
    # durable itself would compare "7" > 60 as text and hold.
    assert matcher.match({"x": "7", "y": 60}) <= {"text"}
    assert matcher.match({"x": 7, "y": "60"}) <= {"const", "any"}
    assert matcher.match({"x": "60", "y": 60.0}) <= {"text"}


@pytest.mark.parametrize("op", OPS)
def test_a_bool_never_equals_or_orders_with_a_number(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher], op: str,
) -> None:
    matcher = matchers([
        MatchRule("one", (Compare("x", op, Const(1)),)),  # type: ignore[arg-type]
        MatchRule("true", (Compare("x", op, Const(True)),)),  # type: ignore[arg-type]
        MatchRule("field", (Compare("x", op, Field("y")),)),  # type: ignore[arg-type]
        MatchRule("any", (AnyOf("x", (1, 0)),)),
    ])
    assert matcher.match({"x": True, "y": 1}) <= {"true"}
    assert matcher.match({"x": 1, "y": True}) <= {"one", "any"}


# -- numbers --------------------------------------------------------------------------------

NUMBERS: list[int | float] = [
    250000000.0, 2.5e8, 5e8, 0.01, 1e-05, 1e-9, 1e16, 1e18, 10**18, 1e20, 1.5e300, 5e-324,
    -1e-05, -1e20, 2**53, -(2**53), 2**62, 123456789.123456789, 0.1, 1e308, 1.7976931348623157e308,
]


@pytest.mark.parametrize("value", NUMBERS)
def test_numbers_are_written_without_exponent(value: int | float) -> None:
    encoded = durable_driver._encode(value)
    assert isinstance(encoded, tuple)
    text = encoded[1]
    assert "e" not in text.lower() and "+" not in text
    assert float(text) == value
    assert ("." in text) == isinstance(value, float)  # a float never reads as a C long


@pytest.mark.parametrize("value", NUMBERS)
def test_numbers_without_exponent_compare_exactly_with_their_neighbours(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher], value: int | float,
) -> None:
    import math

    rules = [MatchRule(f"{name}{op}", (Compare("x", op, operand),))  # type: ignore[arg-type]
             for op in OPS for name, operand in (("c", Const(value)), ("f", Field("y")))]
    matcher = matchers(rules)
    as_float = float(value)
    for fact_value in (value, math.nextafter(as_float, math.inf),
                       math.nextafter(as_float, -math.inf), as_float, 0, -as_float):
        if not math.isfinite(fact_value):
            continue
        fact = {"x": fact_value, "y": value}
        assert matcher.match(fact) == reference(rules, fact), fact


def test_exponent_constants_in_rules_are_read_correctly(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    matcher = matchers([
        MatchRule("big", (Compare("x", ">=", Const(5e8)),)),
        MatchRule("tiny", (Compare("x", "<", Const(1e-05)),)),
        MatchRule("eq", (Compare("x", "==", Const(2.5e8)),)),
    ])
    assert matcher.match({"x": 250000000}) == {"eq"}
    assert matcher.match({"x": 500000000.0}) == {"big"}
    assert matcher.match({"x": 0.00000999}) == {"tiny"}
    assert matcher.match({"x": 2.5}) == frozenset()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 2**53 + 1,
                                   12345678901234567890, 2**63, -(2**63) - 1, 10**20])
def test_numbers_durable_cannot_compare_exactly_raise_naming_the_field(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher], value: int | float,
) -> None:
    matcher = matchers(one(Compare("amount_eur", ">", Const(0))))
    with pytest.raises(ValueError, match="amount_eur"):
        matcher.match({"amount_eur": value})
    with pytest.raises(DurableLimitError, match="amount_eur"):
        DurableMatcher("bad-const", one(Compare("amount_eur", ">", Const(value))))


def test_large_ints_that_are_exact_doubles_are_accepted(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    matcher = matchers(one(Compare("x", "<", Field("y"))))
    assert matches(matcher, {"x": 10**18, "y": 1e18 + 256.0})
    assert not matches(matcher, {"x": -(2**63), "y": -(2**63) * 1.0})


def test_values_that_are_not_engine_values_raise_naming_the_field(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    matcher = matchers(one(Compare("office", "==", Const("DE"))))
    with pytest.raises(ValueError, match="office"):
        matcher.match({"office": None})  # type: ignore[dict-item]  # defended anyway
    with pytest.raises(ValueError, match="office"):
        matcher.match({"office": "x" * (durable_driver.MAX_STRING_BYTES + 1)})


# -- strings, names ---------------------------------------------------------------------------


def test_strings_order_like_python_whatever_their_characters(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    words = ["", "a", "a\x00", "a\x01", 'a"', "a#", "a\\", "a]", "é", "中", "\U0001f600",
             "\ud800", "\ufffd", "A", "a b", "long" * 100]
    rules = [MatchRule(op, (Compare("x", op, Field("y")),)) for op in OPS]  # type: ignore[arg-type]
    matcher = matchers(rules)
    for left in words:
        for right in words:
            fact = {"x": left, "y": right}
            assert matcher.match(fact) == reference(rules, fact), (left, right)


def test_field_names_durable_would_misread_are_safe(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    names = ["id", "sid", "$s", "m", "a.b", 'q"x', "products#CLOUD", "ü", "", " "]
    rules = [MatchRule(f"k{i}", (Compare(n, "==", Const(i)),)) for i, n in enumerate(names)]
    matcher = matchers(rules)
    fact = {n: i for i, n in enumerate(names)}
    assert matcher.match(fact) == {f"k{i}" for i in range(len(names))}
    assert matcher.match({n: -1 for n in names}) == frozenset()


# -- limits, splitting ------------------------------------------------------------------------


def test_two_hundred_rules_split_across_rulesets_all_report(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    # Far over the 64 rules one durable ruleset may match for one fact.
    rules = [MatchRule(f"k{i}", (
        Compare("x", ">=", Const(i)) if i % 3 == 0
        else AnyOf("y", ("a", "b", i)) if i % 3 == 1
        else Compare("x", ">", Field("z")),
    )) for i in range(200)]
    matcher = matchers(rules)
    assert len(matcher._rulesets) > 200 // durable_driver.MAX_RULES_PER_RULESET
    assert matcher.match({"x": 1000, "y": "a", "z": -1}) == {r.key for r in rules}
    fact = {"x": 100, "y": 4, "z": 100}
    assert matcher.match(fact) == reference(rules, fact)


def test_wide_any_of_rules_split_across_rulesets_all_report(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    # 512 children of one durable alpha node hang it; these five rules have 1 505.
    rules = [MatchRule(f"k{i}", (AnyOf("s", (*(f"v{i}-{j}" for j in range(300)), "hit")),))
             for i in range(5)]
    matcher = matchers(rules)
    assert len(matcher._rulesets) == 5
    assert matcher.match({"s": "hit"}) == {r.key for r in rules}
    assert matcher.match({"s": "v3-7"}) == {"k3"}


def test_rules_beyond_what_durable_can_hold_are_refused() -> None:
    too_wide = AnyOf("s", tuple(range(durable_driver.MAX_WIDTH_PER_RULESET + 1)))
    with pytest.raises(DurableLimitError, match="wide"):
        DurableMatcher("too-wide", [MatchRule("wide", (too_wide,))])
    with pytest.raises(DurableLimitError, match="operator"):
        DurableMatcher("bad-op", one(Compare("x", "=~", Const(1))))  # type: ignore[arg-type]
    assert issubclass(DurableLimitError, ValueError)


def test_many_fields_in_one_fact_all_report(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    # A durable fact holds at most 252 properties; these rules read 400 fields.
    rules = [MatchRule(f"k{i}", (Compare(f"f{i}", "==", Const(i)),)) for i in range(400)]
    matcher = matchers(rules)
    assert matcher.match({f"f{i}": i for i in range(400)}) == {r.key for r in rules}


def test_repeated_matches_leave_no_fact_behind(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    rules = [MatchRule(f"k{i}", (Compare("x", ">=", Const(i)),)) for i in range(100)]
    matcher = matchers(rules)
    for n in range(5000):
        assert len(matcher.match({"x": n % 120})) == min(n % 120 + 1, 100)
    for ruleset in matcher._rulesets:
        stored = durable_rules_engine.get_facts(ruleset.handle, durable_driver._SID)
        assert json.loads(stored) == []


def test_identical_rule_sets_with_the_same_name_do_not_interfere(
    matchers: Callable[[Sequence[MatchRule]], DurableMatcher],
) -> None:
    first = DurableMatcher("same", one(Compare("x", ">", Const(1))))
    second = DurableMatcher("same", one(Compare("x", "<", Const(1))))
    try:
        assert first.match({"x": 2}) == {"k"} and second.match({"x": 2}) == frozenset()
        first.close()
        assert second.match({"x": 0}) == {"k"}
    finally:
        first.close()
        second.close()


# -- threads, lifecycle -----------------------------------------------------------------------


def test_eight_threads_get_exactly_the_sequential_answers() -> None:
    rule_sets = [
        [MatchRule(f"a{i}", (Compare("x", ">", Const(i)),)) for i in range(70)],
        [MatchRule(f"b{i}", (AnyOf("y", (i, i + 1)), Compare("x", "<=", Field("z"))))
         for i in range(30)],
    ]
    matchers = [DurableMatcher(f"threads-{i}", rules) for i, rules in enumerate(rule_sets)]
    facts = [{"x": n % 80, "y": n % 33, "z": (n * 7) % 90} for n in range(400)]
    expected = [[m.match(f) for f in facts] for m in matchers]
    failures: list[str] = []

    def work(offset: int) -> None:
        for round_ in range(3):
            for n in range(len(facts)):
                i = (n + offset + round_) % len(facts)
                which = (n + offset) % 2
                got = matchers[which].match(facts[i])
                if got != expected[which][i]:
                    failures.append(f"thread {offset}: fact {i} matcher {which}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for matcher in matchers:
            matcher.close()
    assert failures == []


def test_close_is_idempotent_and_frees_the_rulesets() -> None:
    matcher = DurableMatcher("close", one(Compare("x", ">", Const(1))))
    assert matcher.match({"x": 2}) == {"k"}
    handles = [r.handle for r in matcher._rulesets]
    matcher.close()
    matcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        matcher.match({"x": 2})
    for handle in handles:
        with pytest.raises(Exception, match="111"):  # ERR_INVALID_HANDLE: deleted
            durable_rules_engine.get_facts(handle, durable_driver._SID)
    with DurableMatcher("context", one(Compare("x", ">", Const(1)))) as managed:
        assert managed.match({"x": 2}) == {"k"}


def test_a_matcher_dropped_without_close_is_released_at_the_next_engine_call() -> None:
    import gc

    dropped = DurableMatcher("dropped", one(Compare("x", ">", Const(1))))
    handles = {r.handle for r in dropped._rulesets}
    del dropped
    gc.collect()
    with DurableMatcher("next", one(Compare("x", ">", Const(1)))) as matcher:
        assert matcher.match({"x": 2}) == {"k"}
        assert handles.isdisjoint(r.handle for r in matcher._rulesets)
    for handle in handles:
        with pytest.raises(Exception, match="111"):
            durable_rules_engine.get_facts(handle, durable_driver._SID)


@pytest.mark.slow  # 300 rulesets in a process of its own
def test_closing_after_only_unmatched_facts_does_not_crash_the_process() -> None:
    # Unprimed, durable's delete_state reads uninitialised memory here (valgrind).
    script = (
        "from decision_service.engines.durable_driver import DurableMatcher\n"
        "from decision_service.compiler.ir import MatchRule, Compare, Const\n"
        "for n in range(300):\n"
        "    rules = [MatchRule(f'k{i}', (Compare('a', '==', Const(i)),))\n"
        "             for i in range(n % 7 + 1)]\n"
        "    m = DurableMatcher(f'crash-{n}', rules)\n"
        "    for _ in range(n % 3):\n"
        "        m.match({'a': -1})\n"
        "    m.close()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# -- differential: random rules, random facts -------------------------------------------------

FIELDS = ["a", "b", "c", "id", "x.y"]
POOL: list[EngineValue] = [0, 1, -1, 2, 0.5, 1.0, -0.0, 0.01, 1e-05, 250000000.0, 1e20, 10**18,
                           "", "a", "b", "ab", "7", 'q"', "é", True, False]
VALUES = st.one_of(
    st.sampled_from(POOL),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.sampled_from("ab7\"\\\x00é中"), max_size=3),
    st.booleans(),
)
FIELD_NAMES = st.sampled_from(FIELDS)
ATOMS = st.one_of(
    st.builds(Compare, FIELD_NAMES, st.sampled_from(list(OPS)), st.builds(Const, VALUES)),
    st.builds(Compare, FIELD_NAMES, st.sampled_from(list(OPS)), st.builds(Field, FIELD_NAMES)),
    st.builds(AnyOf, FIELD_NAMES, st.lists(VALUES, max_size=4).map(tuple)),
)
RULES = st.lists(st.lists(ATOMS, max_size=3).map(tuple), min_size=1, max_size=12).map(
    lambda atoms: [MatchRule(f"k{i}", a) for i, a in enumerate(atoms)])
FACTS = st.lists(st.dictionaries(FIELD_NAMES, VALUES), min_size=1, max_size=25)


# Each example starts durable_rules rulesets: three tenths of the profile's count
# (tests/conftest.py).
@settings(max_examples=settings().max_examples * 3 // 10)
@given(rules=RULES, facts=FACTS)
def test_random_rules_and_facts_match_the_python_reference(
    rules: list[MatchRule], facts: list[dict[str, EngineValue]],
) -> None:
    with DurableMatcher("hypothesis", rules) as matcher:
        for fact in facts:
            assert matcher.match(fact) == reference(rules, fact), fact


# -- declared kinds and presence -----------------------------------------------------------

DECLARED_KINDS = {"n": "number", "m": "number", "s": "string", "t": "string", "f": "bool"}
DECLARED_FACTS = st.fixed_dictionaries(
    {"n": st.sampled_from(POOL[:12]), "s": st.sampled_from(["", "a", "b", "ab", 'q"', "é"])},
    optional={"m": st.sampled_from(POOL[:12]), "t": st.sampled_from(["a", "b", "中"]),
              "f": st.booleans()},
)
DECLARED_ATOMS = st.builds(
    Compare, st.sampled_from(list(DECLARED_KINDS)), st.sampled_from(list(OPS)),
    st.builds(Field, st.sampled_from(list(DECLARED_KINDS))))


@settings(max_examples=settings().max_examples * 15 // 100)  # 15% of the profile's count
@given(atoms=st.lists(DECLARED_ATOMS, min_size=1, max_size=8),
       facts=st.lists(DECLARED_FACTS, min_size=1, max_size=10))
def test_declared_kinds_and_presence_answer_like_the_python_reference(
    atoms: list[Compare], facts: list[dict[str, EngineValue]],
) -> None:
    rules = [MatchRule(f"k{i}", (atom,)) for i, atom in enumerate(atoms)]
    with DurableMatcher("declared", rules, kinds=DECLARED_KINDS,
                        present={"n", "s"}) as matcher:
        for fact in facts:
            assert matcher.match(fact) == reference(rules, fact), fact


def test_a_value_of_another_kind_than_declared_raises_naming_the_field() -> None:
    with DurableMatcher("kinds", one(Compare("x", "<", Field("y"))),
                        kinds={"x": "number", "y": "number"}) as matcher:
        assert matches(matcher, {"x": 1, "y": 2})
        with pytest.raises(ValueError, match=r"'y'.*a string, declared a number"):
            matcher.match({"x": 1, "y": "2"})


def test_a_field_declared_present_but_missing_raises_naming_it() -> None:
    # Unguarded, durable would hold every comparison with the missing operand.
    with DurableMatcher("present", one(Compare("x", "<", Field("y"))),
                        kinds={"x": "number", "y": "number"}, present={"y"}) as matcher:
        assert not matches(matcher, {"x": 3, "y": 2})
        with pytest.raises(ValueError, match="'y' is missing"):
            matcher.match({"x": 1})


def test_an_unknown_declared_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kinds"):
        DurableMatcher("bad-kind", one(Compare("x", "<", Const(1))), kinds={"x": "date"})


@settings(max_examples=settings().max_examples // 10)  # a tenth of the profile's count
@given(rules=RULES, facts=FACTS, settings_=st.lists(
    st.dictionaries(FIELD_NAMES, VALUES), min_size=1, max_size=3))
def test_fields_read_from_a_fixed_mapping_answer_as_if_in_the_fact(
    rules: list[MatchRule], facts: list[dict[str, EngineValue]],
    settings_: list[dict[str, EngineValue]],
) -> None:
    with DurableMatcher("fixed", rules) as matcher:
        for i, fact in enumerate(facts):
            fixed = settings_[i % len(settings_)]  # the same mappings come back
            merged = {k: v for k, v in fact.items() if k not in fixed} | fixed
            assert matcher.match(fact, fixed) == reference(rules, merged), (fact, fixed)


# -- what is sent -------------------------------------------------------------------------


def sent(matcher: DurableMatcher, field: str, value: object) -> list[str]:
    """The properties ``value`` of ``field`` travels as (none: not sent)."""
    plan = next(plan for plan in matcher.plans if plan.field == field)
    parts: list[list[str]] = [[] for _ in range(matcher.ruleset_count)]
    durable_driver.put_property(plan, value, parts)
    return [text for texts in parts for text in texts]


def test_a_value_no_equality_test_can_hold_for_is_not_sent() -> None:
    rules = [MatchRule("a", (Compare("x", "==", Const("a")),)),
             MatchRule("bc", (AnyOf("x", ("b", "c")),)),
             MatchRule("flag", (Compare("f", "==", Const(True)),)),
             MatchRule("y", (Compare("y", "==", Const("a")), Compare("y", "!=", Const("b"))))]
    with DurableMatcher("omit", rules, kinds={"x": "string", "f": "bool", "y": "string"}
                        ) as matcher:
        assert sent(matcher, "x", "z") == [] and sent(matcher, "f", False) == []
        assert sent(matcher, "x", "a") and sent(matcher, "x", "c") and sent(matcher, "f", True)
        assert sent(matcher, "y", "z")  # a != test reads it: every value is sent
        # Not sent, but still checked: a wrong kind is an error all the same.
        with pytest.raises(ValueError, match=r"'x'.*declared a string"):
            sent(matcher, "x", 5)
        assert matcher.match({"x": "z", "f": False, "y": "z"}) == frozenset()
        assert matcher.match({"x": "c", "f": True, "y": "a"}) == {"bc", "flag", "y"}


def test_fire_answers_durable_names_and_refuses_once_closed() -> None:
    matcher = DurableMatcher("fire", one(Compare("x", ">", Const(1))))
    (name,) = matcher.names_of("k") or ("",)
    text = ",".join(sent(matcher, "x", 2))
    assert matcher.fire_one(text) == matcher.fire([text]) == {name}
    assert matcher.fire_one("") == matcher.fire([""]) == set()
    assert matcher.names_of("unknown") == ()
    with DurableMatcher("always", [MatchRule("any", ())]) as always:
        assert always.names_of("any") is None  # holds without asking durable
    matcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        matcher.fire_one(text)


# -- rules for one unit's settings (durable.with_settings) ----------------------------------


def test_rules_for_one_units_settings_hold_exactly_where_the_originals_do() -> None:
    from decision_service.engines.durable import with_settings

    read = frozenset({"p", "q", "gone"})
    rules = [
        MatchRule("right", (Compare("x", "<=", Field("p")),)),
        MatchRule("left", (Compare("p", "<", Field("x")),)),  # flipped: x > p
        MatchRule("static", (Compare("p", ">", Field("q")), Compare("x", "==", Const(1)))),
        MatchRule("static-no", (Compare("q", ">", Field("p")),)),
        MatchRule("absent", (Compare("x", "<", Field("gone")),)),
        MatchRule("plain", (Compare("x", ">=", Const(0)),)),
    ]
    settings = {"p": 5, "q": 2}
    specialised = with_settings(rules, settings, read)
    assert [r.key for r in specialised] == [r.key for r in rules]  # same order, same keys
    assert specialised[2].atoms == (Compare("x", "==", Const(1)),)  # p > q decided: dropped
    with DurableMatcher("settings", specialised) as matcher:
        for x in (0, 1, 4, 5, 6, 7.5, -1, "5", True):
            fact: dict[str, EngineValue] = {"x": x}
            assert matcher.match(fact) == reference(rules, {**fact, **settings}), x


def test_a_setting_durable_rules_cannot_compare_keeps_the_settings_in_the_fact() -> None:
    from decision_service.engines.durable import with_settings

    rule = MatchRule("k", (Compare("p", ">", Const(1)),))
    with pytest.raises(DurableLimitError, match="not compared exactly"):
        with_settings([rule], {"p": 2**53 + 1}, frozenset({"p"}))
