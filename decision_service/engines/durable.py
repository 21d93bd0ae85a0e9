"""The durable-rules backend: durable-rules matches, ``reference``'s meaning decides.

Each stage of a compiled policy becomes one durable-rules matcher (see
``durable_driver`` for how its hazards are handled: one lock, assert and
retract, strict typing, plain numbers, rule sets split under its limits).
Everything after matching means what the shared, plainly written
``reference.run`` says. ``DurableEngine.evaluate`` is generated per policy
version (``durable_codegen``): the validated values written straight into the
assert, one assert per decision, the combination inline;
``evaluate_interpreted`` is the plain path (``CompiledPolicy.fact``, a match per
stage, ``reference.run``), kept as its oracle in the tests.

What durable-rules is asked is shaped so that it does little work per decision
(bench/engine.py measures it):

- every field's kind and the fields every fact carries are declared, so a
  comparison of two fields is one test (see ``DurableMatcher``);
- in a first-hit table, a rule also carries the negation of each earlier rule
  that differs from it in one atom, so that mostly only the winner fires: run
  takes the first matching rule of such a table, and a later rule that still
  fires changes nothing;
- a later stage's atoms that read no output are matched, as a guard, together
  with the first stage. The generated path then decides the atoms on outputs
  from the outputs so far and asserts once; the interpreted path asserts a
  later stage only when a guard holds;
- a value that no test of its field can hold for (a field read only by
  equalities) is not sent (see ``FieldPlan.holding``);
- the generated path has a first-stage matcher per distinct unit settings (a
  handful: defaults, a region's, an office's), the settings written into its
  rules as constants (``with_settings``), so a fact carries only the deal's own
  fields. The interpreted path keeps the settings in the fact.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from typing import Any

from decision_service.compiler.compile import CompiledPolicy, CompiledTable
from decision_service.compiler.ir import (
    AnyOf,
    Atom,
    Compare,
    Const,
    EngineValue,
    Fact,
    Field,
    MatchRule,
    common_prefix,
    holds,
)
from decision_service.engines.compiled import always_present
from decision_service.engines.durable_codegen import generate, supported
from decision_service.engines.durable_driver import DurableLimitError, DurableMatcher, comparable
from decision_service.engines.reference import Evaluation, Plan, run

_KIND_OF_FIELD = {"number": "number", "integer": "number", "ordered": "number",
                  "date": "number", "enum": "string", "string": "string", "boolean": "bool"}
_NEGATED = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", "<=": ">", ">": "<="}
_GUARD = "?"  # suffix of a later-stage rule's guard key


def fact_kinds(compiled: CompiledPolicy) -> dict[str, str]:
    """The kind of value ("number", "string", "bool") each fact key carries."""
    kinds: dict[str, str] = {}
    for info in compiled.fields.values():
        if info.kind == "list":
            kinds.update((f"{info.key}__{member}", "bool") for member in info.values)
        elif info.kind in _KIND_OF_FIELD:
            kinds[info.key] = _KIND_OF_FIELD[info.kind]
    return kinds


def _kind_of(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    return "string" if isinstance(value, str) else "number"


def _fields_of(atom: Atom) -> tuple[str, ...]:
    if isinstance(atom, Compare) and isinstance(atom.operand, Field):
        return (atom.field, atom.operand.name)
    return (atom.field,)


def _negation(atom: Atom, present: frozenset[str], kinds: Mapping[str, str]
              ) -> tuple[Atom, ...] | None:
    """Atoms that hold exactly when ``atom`` does not, for a fact carrying ``present``
    with values of their declared kinds; None when there are none such."""
    if any(name not in present for name in _fields_of(atom)):
        return None  # a missing field would make both false
    kind = kinds.get(atom.field)
    if isinstance(atom, AnyOf):
        if not atom.values or any(_kind_of(v) != kind for v in atom.values):
            return None
        return tuple(Compare(atom.field, "!=", Const(v)) for v in atom.values)
    if isinstance(atom.operand, Const):
        if _kind_of(atom.operand.value) != kind:
            return None
    elif kinds.get(atom.operand.name) != kind or kind is None:
        return None
    return (Compare(atom.field, _NEGATED[atom.op], atom.operand),)  # type: ignore[arg-type]


def _first_hit_rules(table: CompiledTable, always: frozenset[str],
                     kinds: Mapping[str, str]) -> list[MatchRule]:
    """A first-hit table's rules, each also requiring that no earlier rule differing
    from it in one negatable atom holds. The winner keeps matching exactly."""
    rules: list[MatchRule] = []
    shared = len(common_prefix([r.atoms for r in table.rules]))
    for i, rule in enumerate(table.rules):
        own = set(rule.atoms)
        present = always | {name for atom in rule.atoms for name in _fields_of(atom)}
        negations: list[Atom] = []
        for earlier in table.rules[:i]:
            differing = [atom for atom in earlier.atoms if atom not in own]
            negation = (_negation(differing[0], present, kinds) if len(differing) == 1
                        else None)
            if negation is not None:
                negations.extend(a for a in negation if a not in negations and a not in own)
        # Shared atoms first, then the negations in rule order: durable shares the
        # tests of a common beginning, so the table walks like an if/elif chain.
        atoms = rule.atoms[:shared] + tuple(negations) + rule.atoms[shared:]
        rules.append(MatchRule(rule.key, atoms))
    return rules



def stage_rules(compiled: CompiledPolicy, stage: int) -> list[MatchRule]:
    """What durable-rules matches for one stage (see the module docstring)."""
    always, kinds = always_present(compiled), fact_kinds(compiled)
    rules: list[MatchRule] = []
    for table in compiled.tables:
        if table.stage != stage:
            continue
        if table.table.hit == "first":
            rules.extend(_first_hit_rules(table, always, kinds))
        else:
            rules.extend(MatchRule(rule.key, rule.atoms) for rule in table.rules)
        if table.table.hit == "scorecard" and table.when_atoms:
            rules.append(MatchRule(table.when_key, table.when_atoms))
    return rules


def output_keys(compiled: CompiledPolicy) -> frozenset[str]:
    """The fact keys of the outputs (read by later stages)."""
    return frozenset(info.key for info in compiled.fields.values() if info.source == "output")


def stage_guards(compiled: CompiledPolicy) -> dict[int, list[MatchRule]]:
    """For each later stage, guard rules matched with the first stage: a rule of the
    stage can only hold if its guard (its atoms that read no output) does."""
    outputs = output_keys(compiled)
    return {stage: [MatchRule(f"{rule.key}{_GUARD}{stage}",
                              tuple(a for a in rule.atoms if not outputs & set(_fields_of(a))))
                    for rule in compiled.match_rules(stage)]
            for stage in range(1, compiled.stage_count)}


_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_MAX_SETTINGS = 8  # distinct unit settings worth a matcher (a ruleset) each
_NEVER = "never"  # an atom that cannot hold: the rule can never fire


def _with_settings(atom: Atom, settings: Mapping[str, EngineValue], read: frozenset[str]
                   ) -> Atom | bool:
    """``atom`` for facts carrying ``settings`` (the unit's parameters, ``read`` being
    their keys): the same atom on the other fields with the settings as constants,
    True when it always holds, False when it never does."""
    fields = _fields_of(atom)
    if not read & set(fields):
        return atom
    if not all(comparable(settings[name]) for name in fields if name in settings):
        # As the settings in the fact would: refused (the caller keeps them there).
        raise DurableLimitError(f"a setting of {fields} is not compared exactly")
    if all(name in read for name in fields):  # settings only: decided here
        return holds(atom, dict(settings))
    assert isinstance(atom, Compare) and isinstance(atom.operand, Field)
    if atom.field in read:  # a setting on the left: the other field against it
        value = settings.get(atom.field)
        other = atom.operand.name
        return False if value is None else Compare(other, _FLIPPED[atom.op], Const(value))  # type: ignore[arg-type]
    value = settings.get(atom.operand.name)
    return False if value is None else Compare(atom.field, atom.op, Const(value))


def with_settings(rules: list[MatchRule], settings: Mapping[str, EngineValue],
                  read: frozenset[str]) -> list[MatchRule]:
    """The rules for facts of one unit's settings, which then need not carry them: in
    the same order, a rule that can never hold kept as one (an empty ``AnyOf``)."""
    specialised: list[MatchRule] = []
    for rule in rules:
        atoms: list[Atom] = []
        for atom in rule.atoms:
            result = _with_settings(atom, settings, read)
            if result is False:
                atoms = [AnyOf(_NEVER, ())]
                break
            if result is not True:
                atoms.append(result)
        specialised.append(MatchRule(rule.key, tuple(atoms)))
    return specialised


def _layout(matcher: DurableMatcher, keys: list[str]) -> object:
    """What a writer and a combination rely on, to compare two matchers."""
    return (matcher.ruleset_count, [(p.field, p.kind, p.required, p.targets, p.holding)
                                    for p in matcher.plans],
            [matcher.names_of(key) for key in keys])


class DurableEngine:
    """durable-rules matches, ``reference``'s meaning combines.

    ``evaluate`` is generated per policy version (``durable_codegen``): one assert per
    decision. ``evaluate_interpreted`` is the plain path, kept as its oracle (and used
    where a later stage compares an output with an input): ``CompiledPolicy.fact``,
    ``DurableMatcher.match`` per stage, ``reference.run``.
    """

    name = "durable"

    def __init__(self, compiled: CompiledPolicy) -> None:
        self.compiled = compiled
        self._plan = Plan(compiled)
        # Rulesets are named by policy, version and content so a reloaded,
        # changed policy never meets the state of its predecessor.
        digest = hashlib.sha256(repr([t.rules for t in compiled.tables]).encode()).hexdigest()[:12]
        kinds = fact_kinds(compiled)
        present = always_present(compiled)
        guards = stage_guards(compiled)
        # stage -> the guard keys that let it be asserted (None: a rule reads only
        # outputs, the stage is always asserted)
        self._guard_keys = {stage: None if not all(r.atoms for r in rules)
                            else frozenset(r.key for r in rules)
                            for stage, rules in guards.items()}
        first = stage_rules(compiled, 0) + [r for g in guards.values() for r in g]
        self._kinds, self._present, self._digest = kinds, present, digest
        self._first = first
        # Per stage, the matchers of the interpreted path (settings in the fact); made
        # when first needed: with a matcher per unit settings the generated path does
        # not use them, and a ruleset holds about a megabyte of durable's pools.
        self._stages: list[DurableMatcher] | None = None
        self._matchers: list[DurableMatcher] = []  # every matcher made, to close
        self._lock = threading.Lock()
        self._closed = False
        self.source: str | None = None
        outputs = output_keys(compiled)
        if supported(compiled, outputs):
            by_unit = self._by_unit(first, kinds, present, digest)
            matcher = self._stage_matchers()[0] if by_unit is None else by_unit[0]
            self.source, self.evaluate = generate(
                compiled, matcher, self._plan, outputs,
                None if by_unit is None else by_unit[1])
        else:
            self.evaluate = self.evaluate_interpreted

    def _stage_matchers(self) -> list[DurableMatcher]:
        if self._stages is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError(f"engine of {self.compiled.id!r} is closed")
                if self._stages is None:
                    compiled = self.compiled
                    stages = [DurableMatcher(
                        f"{compiled.id}-v{compiled.version}-s{stage}-{self._digest}",
                        self._first if stage == 0 else stage_rules(compiled, stage),
                        kinds=self._kinds, present=self._present)
                        for stage in range(compiled.stage_count)]
                    self._matchers.extend(stages)
                    self._stages = stages
        return self._stages

    def _by_unit(self, rules: list[MatchRule], kinds: Mapping[str, str],
                 present: frozenset[str], digest: str
                 ) -> tuple[DurableMatcher, dict[str, DurableMatcher]] | None:
        """A first-stage matcher per distinct unit settings, the settings written into
        its rules as constants: facts then carry none of them, and durable-rules
        parses, indexes and echoes a third of the properties. The default settings'
        matcher, and per unit its matcher; None where that does not apply (no settings
        read, too many distinct ones, matchers that would not share one writer)."""
        compiled = self.compiled
        read = frozenset(compiled.default_parameters) & {
            name for rule in rules for atom in rule.atoms for name in _fields_of(atom)}
        if not read:
            return None
        distinct: dict[tuple[tuple[str, EngineValue], ...], list[str]] = {}
        for unit, of_unit in compiled.parameters_by_unit.items():
            distinct.setdefault(tuple(sorted((k, v) for k, v in of_unit.items() if k in read)),
                                []).append(unit)
        default = tuple(sorted((k, v) for k, v in compiled.default_parameters.items()
                               if k in read))
        groups = [default, *(settings for settings in distinct if settings != default)]
        if len(groups) > _MAX_SETTINGS:
            return None
        keys = [rule.key for rule in rules]
        made: list[DurableMatcher] = []
        try:
            for i, settings in enumerate(groups):
                made.append(DurableMatcher(
                    f"{compiled.id}-v{compiled.version}-u{i}-{digest}",
                    with_settings(rules, dict(settings), read),
                    kinds={k: v for k, v in kinds.items() if k not in read},
                    present=present - read))
                if _layout(made[-1], keys) != _layout(made[0], keys):
                    raise DurableLimitError("settings change the rules' shape")
        except DurableLimitError:  # e.g. a setting durable-rules cannot compare exactly
            for matcher in made:
                matcher.close()
            return None
        self._matchers.extend(made)  # closed with the others
        by_unit = {unit: made[groups.index(settings)]
                   for settings, units in distinct.items() for unit in units}
        return made[0], by_unit

    def evaluate_interpreted(self, values: Mapping[str, Any], history: Mapping[str, float]
                             ) -> Evaluation:
        """The plain path: the fact, one assert per stage that can hold, ``run``."""
        first: frozenset[str] = frozenset()
        # The unit's settings: one mapping per unit, its properties written once.
        settings = self.compiled.parameters_for(values)

        matchers = self._stage_matchers()

        def match(stage: int, fact: Fact) -> frozenset[str]:
            nonlocal first
            if stage == 0:
                first = matchers[0].match(fact, settings)
                return first
            keys = self._guard_keys[stage]
            if keys is not None and not keys & first:
                return frozenset()  # no rule of this stage can hold
            return matchers[stage].match(fact, settings)

        return run(self._plan, self.compiled.fact(values, history), match)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for matcher in self._matchers:
                matcher.close()
