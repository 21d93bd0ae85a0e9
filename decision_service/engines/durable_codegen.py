"""The durable engine's generated path: validated values to outputs in one function.

For one policy version, ``generate(compiled, matcher, ...)`` writes the Python source
of ``evaluate(values, history)``, which

1. writes the fact straight from the validated values as the properties durable-rules
   is sent (what ``CompiledPolicy.fact`` and ``DurableMatcher.match`` do together):
   each field's kind is known when the source is written, so a float travels as its
   ``repr``, an int as ``str``, a string or a boolean as a text written once; every
   other value (an exponent, a large int, a wrong kind) and every error goes through
   the driver's ``put_property``, so values travel exactly as ``durable_driver``
   documents, with the same errors naming the field. The unit settings are written
   once per unit, or (``by_unit``) not at all: each distinct settings has its own
   first-stage matcher with them as constants (``durable.with_settings``);
2. asks durable-rules once (``DurableMatcher.fire``): later stages are not asserted,
   their atoms that read no output were matched with the first stage as guards
   (``durable.stage_guards``) and their atoms on outputs, read from the outputs so
   far as ``reference.run`` adds them to the fact, are decided by ``ir.holds``;
3. combines the rules that hold as ``reference.run`` does, table by table: a first-hit
   table as an if/elif chain in rule order with its values merged inline as
   ``reference.merge`` would, every other hit policy through the shared
   ``contribution`` and ``merge``.

Only the compiler's own structures reach the text: fact keys and output names are
written with ``repr``, scalar constants with ``repr``, anything else through a
constants tuple. ``DurableEngine.evaluate_interpreted`` (the plain ``reference.run``
path) and the differential tests hold this path to the same answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from decision_service.compiler.compile import (
    MODE_DATE,
    MODE_LIST,
    MODE_ORDERED,
    MODE_PLAIN,
    CompiledPolicy,
    CompiledTable,
)
from decision_service.compiler.hit_policies import contribution
from decision_service.compiler.ir import Atom, Compare, Field, holds
from decision_service.engines.durable_driver import (
    DurableMatcher,
    FieldPlan,
    missing_field,
    put_property,
)
from decision_service.engines.reference import Evaluation, Plan, merge

_SCALARS = (str, int, float, bool, type(None))
_NUMBER, _STRING, _BOOL = 0, 1, 2
_EXACT_INT = 2**53  # the driver's fast range for ints (see durable_driver._encode)
_CACHED_STRINGS = 256  # strings remembered per field (codes repeat)
_CACHED_UNITS = 4096  # units whose settings' text is remembered


def atom_fields(atom: Atom) -> tuple[str, ...]:
    if isinstance(atom, Compare) and isinstance(atom.operand, Field):
        return (atom.field, atom.operand.name)
    return (atom.field,)


def _put_cached(plan: FieldPlan, value: object, parts: tuple[list[str], ...],
                cache: dict[str, str]) -> None:
    """``put_property`` for a one-ruleset string field, remembering the text (or ''
    for a value not sent) of a short string for the next facts."""
    written: list[str] = []
    put_property(plan, value, (written,) * len(parts))
    text = ",".join(written)
    if text:
        parts[plan.targets[0][0]].append(text)
    if type(value) is str and len(value) <= 64 and len(cache) < _CACHED_STRINGS:
        cache[value] = text


class _Source:
    """The text of one generated ``evaluate`` and the constants it reads."""

    def __init__(self, compiled: CompiledPolicy, matcher: DurableMatcher,
                 outputs: frozenset[str], by_unit: bool) -> None:
        self.compiled = compiled
        self.matcher = matcher
        self.by_unit = by_unit  # one matcher per unit's settings, none in the fact
        self.outputs = outputs  # fact keys of outputs
        self.output_names = {info.key: name for name, info in compiled.fields.items()
                             if info.source == "output"}
        self.lines: list[str] = []
        self.constants: list[Any] = []
        self.locals: dict[str, str] = {}
        self.plain: dict[str, str] = {}  # fact key -> the input it is, unchanged
        self.sources = self._fact_sources()
        plan = compiled.fact_plan
        # list member key -> (the list input, the member)
        self.members = {member_key: (name, member) for name, _, mode, extra in plan.inputs
                        if mode == MODE_LIST for member, member_key in extra}
        self.maybe_set: set[str] = set()  # outputs an earlier table may have set

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def const(self, value: Any) -> str:
        if isinstance(value, _SCALARS) and not (isinstance(value, float)
                                                and not math.isfinite(value)):
            return repr(value)  # a literal; ``inf`` or ``nan`` would not read back
        self.constants.append(value)
        return f"K{len(self.constants) - 1}"

    # -- the fact ------------------------------------------------------------------------

    def _fact_sources(self) -> dict[str, Callable[[], str]]:
        """How each fact key is read from the validated input, as ``fact`` does:
        None stands for a key the fact would not carry."""
        plan = self.compiled.fact_plan
        sources: dict[str, Callable[[], str]] = {}
        for name, key, mode, extra in plan.inputs:
            if mode == MODE_PLAIN:
                self.plain[key] = name
            elif mode == MODE_ORDERED:
                sources[key] = lambda n=name, c=self.const(extra): (  # type: ignore[misc]
                    f"None if {self.raw(n)} is None else {c}[{self.raw(n)}]")
            elif mode == MODE_DATE:
                sources[key] = lambda n=name: (  # type: ignore[misc]
                    f"None if {self.raw(n)} is None else {self.raw(n)}.toordinal()")
            elif mode == MODE_LIST:
                for member, member_key in extra:
                    sources[member_key] = lambda n=name, m=member: (  # type: ignore[misc]
                        f"None if {self.raw(n)} is None else {m!r} in {self.raw(n)}")
            else:  # a unit: its code, its region and its watch-list flag
                self.plain[key] = name
                units = self.const(extra)
                for i, suffix in enumerate(("__region", "__watchlist")):
                    sources[key + suffix] = lambda n=name, u=units, i=i: (  # type: ignore[misc]
                        f"None if {self.raw(n)} is None else {u}[{self.raw(n)}][{i}]")
        for key in self.compiled.default_parameters:
            sources[key] = lambda k=key: f"_params(values).get({k!r})"  # type: ignore[misc]
        for name, key in plan.history:
            sources[key] = lambda n=name: f"history.get({n!r}, 0.0)"  # type: ignore[misc]
        for key, parts in plan.derived:
            sources[key] = lambda ps=parts: (  # type: ignore[misc]
                "0 + " + " + ".join(self.var(p) for p in ps) + " if "
                + " and ".join(f"isinstance({self.var(p)}, _NUMBERS)" for p in ps) + " else None")
        return sources

    def raw(self, name: str) -> str:
        """The local holding an input as validated (before its fact encoding)."""
        return self.local("=" + name, f"values.get({name!r})")

    def var(self, key: str) -> str:
        """The local holding a fact key's value (None: absent), read once."""
        if key in self.plain:
            return self.raw(self.plain[key])
        if key not in self.locals:
            if key not in self.sources:
                raise ValueError(f"fact key {key!r} has no source")
            self.local(key, self.sources[key]())  # its dependencies are read first
        return self.locals[key]

    def local(self, key: str, expression: str) -> str:
        if key not in self.locals:
            local = f"v{len(self.locals)}"
            self.locals[key] = local
            self.emit(1, f"{local} = {expression}")
        return self.locals[key]

    def settings(self) -> list[str]:
        """Per ruleset, the local list of its properties, started with the unit's
        settings (written once per unit by ``settings_text``)."""
        unit_input = self.compiled.fact_plan.unit_input
        unit = self.raw(unit_input) if unit_input else "None"
        names = [f"a{i}" for i in range(self.matcher.ruleset_count)]
        if self.by_unit:
            self.emit(1, f"fire = FIRES.get({unit}, FIRE)")
            for name in names:
                self.emit(1, f"{name} = []")
            return names
        self.emit(1, f"s = SETTINGS.get({unit})")
        self.emit(1, "if s is None:")
        self.emit(2, f"s = _settings(values, {unit})")
        if len(names) == 1:
            self.emit(1, "a0 = [s] if s else []")
            return names
        for i, name in enumerate(names):
            self.emit(1, f"{name} = [s[{i}]] if s[{i}] else []")
        return names

    def write_fact(self) -> None:
        """The properties of every field the matcher reads, then one ``fire``."""
        parts = self.settings()
        every = "(" + "".join(f"{name}, " for name in parts) + ")"
        for plan in self.matcher.plans:
            if plan.field in self.compiled.default_parameters:
                continue  # in the settings' text
            if plan.field in self.members and len(plan.targets) == 1 and plan.kind == _BOOL:
                self.write_member(plan, parts)
                continue
            value = self.var(plan.field)
            self.write_field(plan, value, parts, every)
        fire = "fire" if self.by_unit else "FIRE"
        if len(parts) == 1:
            self.emit(1, f'M = {fire}(",".join(a0))')
        else:
            texts = "".join(f'",".join({name}), ' for name in parts)
            self.emit(1, f"M = {fire}(({texts}))")

    def write_member(self, plan: FieldPlan, parts: list[str]) -> None:
        """A list's member: ``in`` gives a bool, so no kind to check."""
        container, member = self.members[plan.field]
        into = parts[plan.targets[0][0]]
        listed = self.raw(container)
        yes, no = self.written(plan, True), self.written(plan, False)
        self.emit(1, f"if {listed} is None:")
        self.emit(2, f"raise _missing({self.const(plan)})" if plan.required else "pass")
        self.emit(1, f"elif {member!r} in {listed}:")
        self.emit(2, f"{into}.append({yes!r})" if yes else "pass")
        if no:
            self.emit(1, "else:")
            self.emit(2, f"{into}.append({no!r})")

    def write_field(self, plan: FieldPlan, value: str, parts: list[str], every: str) -> None:
        put = f"_put({self.const(plan)}, {value}, {every})"
        absent = f"raise _missing({self.const(plan)})" if plan.required else "pass"
        prefixes = plan.targets[0][1] if len(plan.targets) == 1 else (None, None, None)
        prefix = prefixes[plan.kind] if plan.kind >= 0 else None
        if prefix is None:  # several rulesets, an undeclared kind: the generic writer
            self.emit(1, f"if {value} is None:")
            self.emit(2, absent)
            self.emit(1, "else:")
            self.emit(2, put)
            return
        into = parts[plan.targets[0][0]]
        if plan.kind == _NUMBER:
            self.emit(1, f"if {value} is None:")
            self.emit(2, absent)
            self.emit(1, f"elif type({value}) is float and 'e' not in (t := repr({value})) "
                         "and 'n' not in t:")
            self.emit(2, f"{into}.append({prefix!r} + t)")
            self.emit(1, f"elif type({value}) is int and {-_EXACT_INT} <= {value} <= {_EXACT_INT}:")
            self.emit(2, f"{into}.append({prefix!r} + str({value}))")
            self.emit(1, "else:")
            self.emit(2, put)
        elif plan.kind == _BOOL:
            for flag in (True, False):
                text = self.written(plan, flag)
                self.emit(1, f"{'if' if flag else 'elif'} {value} is {flag}:")
                self.emit(2, f"{into}.append({text!r})" if text else "pass")
            self.emit(1, f"elif {value} is None:")
            self.emit(2, absent)
            self.emit(1, "else:")
            self.emit(2, put)
        else:
            cache = self.const({})
            self.emit(1, f"if {value} is None:")
            self.emit(2, absent)
            self.emit(1, f"elif type({value}) is str and {value} in {cache}:")
            self.emit(2, f"if t := {cache}[{value}]:")
            self.emit(3, f"{into}.append(t)")
            self.emit(1, "else:")
            self.emit(2, f"_put_cached({self.const(plan)}, {value}, {every}, {cache})")

    def written(self, plan: FieldPlan, value: object) -> str:
        parts: list[str] = []
        put_property(plan, value, (parts,) * self.matcher.ruleset_count)
        return ",".join(parts)

    # -- the combination -----------------------------------------------------------------

    def condition(self, key: str, stage: int, atoms: tuple[Atom, ...]) -> str | None:
        """When a rule (or a scorecard's `when`) holds; None: never."""
        tests: list[str] = []
        if stage > 0:
            tests = [f"_holds({self.const(a)}, S)" for a in atoms
                     if self.outputs & set(atom_fields(a))]
            key = f"{key}?{stage}"  # the guard: its atoms on no output
        names = self.matcher.names_of(key)
        if names is not None:
            if not names:
                return None
            tests.insert(0, " or ".join(f"{n!r} in M" for n in names))
            if len(names) > 1:
                tests[0] = f"({tests[0]})"
        return " and ".join(tests) or "True"

    def snapshot(self, stage: int, tables: tuple[CompiledTable, ...]) -> None:
        """The outputs so far as ``run`` adds them to the fact of a later stage."""
        read = sorted({name for table in tables for rule in table.rules
                       for atom in rule.atoms + table.when_atoms for name in atom_fields(atom)}
                      & self.outputs)
        self.emit(1, f"# stage {stage}")
        self.emit(1, "S = {}")
        for key in read:
            mirror = self.mirror[self.output_names[key]]
            self.emit(1, f"if {mirror} is not None and not isinstance({mirror}, tuple):")
            self.emit(2, f"S[{key!r}] = {mirror}")

    def merge(self, depth: int, table: CompiledTable, name: str, value: str,
              is_none: bool) -> None:
        """``reference.merge`` of one value, inline: by max where the output combines
        so and something may have set it already."""
        mirror = self.mirror[name]  # always O.get(name): read without a call
        if name in self.combined[table.index] and not is_none and name in self.maybe_set:
            self.emit(depth, f"if {mirror} is None or not {mirror} >= {value}:")
            self.emit(depth + 1, f"O[{name!r}] = {mirror} = {value}")
        else:
            self.emit(depth, f"O[{name!r}] = {mirror} = {value}")

    def first_hit(self, table: CompiledTable) -> None:
        """An if/elif chain in rule order: the first rule that holds decides."""
        branch = "if"
        for rule in table.rules:
            test = self.condition(rule.key, table.stage, rule.atoms)
            if test is None:
                continue
            self.emit(1, f"{branch} {test}:")
            branch = "elif"
            if table.table.final:
                self.emit(2, f"return _new(Evaluation, (dict({self.const(rule.then)}), "
                             f"(({table.index}, {rule.index}),)))")
                continue
            self.emit(2, f"F.append(({table.index}, {rule.index}))")
            for name, value in rule.then.items():
                self.merge(2, table, name, self.const(value), value is None)

    def collect_max(self, table: CompiledTable, tests: list[tuple[str, Any]]) -> None:
        """collect-max of plain numbers: the highest value of the rules that hold
        (the first of equals, as ``max``), every one of them fired."""
        name = table.table.outputs[0]
        self.emit(1, "m = None")
        for test, rule in tests:
            value = self.const(rule.then[name])
            self.emit(1, f"if {test}:")
            self.emit(2, f"F.append(({table.index}, {rule.index}))")
            self.emit(2, f"if m is None or {value} > m:")
            self.emit(3, f"m = {value}")
        self.emit(1, "if m is not None:")
        self.merge(2, table, name, "m", False)

    def by_contribution(self, table: CompiledTable) -> None:
        """Any other hit policy: the rules that hold, in rule order, to ``contribution``."""
        tests = [(test, rule) for rule in table.rules
                 if (test := self.condition(rule.key, table.stage, rule.atoms)) is not None]
        if table.table.hit == "collect-max" and not table.table.final and all(
                type(rule.then.get(table.table.outputs[0])) in (int, float)
                for rule in table.rules):
            self.collect_max(table, tests)
            return
        applies, inner = [test for test, _ in tests], "h"
        if table.table.hit == "scorecard":  # applies, scoring 0, whenever its `when` holds
            when = ("True" if not table.when_atoms else
                    self.condition(table.when_key, table.stage, table.when_atoms))
            if when is not None:
                applies.append(when)
                inner = f"h or {when}"
        if not applies:
            return
        self.emit(1, f"if {' or '.join(applies)}:")
        self.emit(2, "h = []")
        for test, rule in tests:
            self.emit(2, f"if {test}:")
            self.emit(3, f"h.append({self.const(rule)})")
        self.emit(2, f"if {inner}:")
        self.emit(3, f"r, w = _contribution({self.const(table)}, h)")
        fired = f"(({table.index}, x.index) for x in w)"
        if table.table.final:
            self.emit(3, f"return _new(Evaluation, (r, tuple({fired})))")
            return
        self.emit(3, f"_merge({self.const(self.combined[table.index])}, O, r)")
        self.emit(3, f"F.extend({fired})")
        for name in self.compiled.policy.outputs:  # what _merge may have changed
            self.emit(3, f"{self.mirror[name]} = O.get({name!r})")

    def combine(self, plan: Plan) -> None:
        self.combined = plan.combined
        self.mirror = {name: f"o{i}" for i, name in enumerate(self.compiled.policy.outputs)}
        self.emit(1, "O = {}")
        self.emit(1, "F = []")
        for local in self.mirror.values():
            self.emit(1, f"{local} = None")
        for stage, tables in enumerate(plan.stage_tables):
            if stage > 0:
                self.snapshot(stage, tables)
            for table in tables:
                self.emit(1, f"# table {table.table.id} ({table.table.hit})")
                if table.table.hit == "first":
                    self.first_hit(table)
                else:
                    self.by_contribution(table)
                self.maybe_set.update(table.table.outputs, *(r.then for r in table.rules))
                if table.table.band_output is not None:
                    self.maybe_set.add(table.table.band_output)
        self.emit(1, "return _new(Evaluation, (O, tuple(F)))")


def supported(compiled: CompiledPolicy, outputs: frozenset[str]) -> bool:
    """Whether every atom of a later stage that reads an output reads only outputs:
    then it is decided from the outputs so far, with no second assert."""
    for table in compiled.tables:
        if table.stage == 0:
            continue
        for rule in table.rules:
            for atom in rule.atoms + table.when_atoms:
                read = set(atom_fields(atom))
                if read & outputs and not read <= outputs:
                    return False
    return True


def _fire_of(matcher: DurableMatcher) -> Callable[[Any], set[str]]:
    return matcher.fire_one if matcher.ruleset_count == 1 else matcher.fire


def generate(compiled: CompiledPolicy, matcher: DurableMatcher, plan: Plan,
             outputs: frozenset[str], by_unit: Mapping[str, DurableMatcher] | None = None,
             ) -> tuple[str, Callable[[Mapping[str, Any], Mapping[str, float]], Evaluation]]:
    """The source of ``evaluate`` (see the module docstring) and the function.

    ``matcher`` matches the first stage's rules and the later stages' guards, with the
    unit settings in the fact; or, with ``by_unit``, the matcher of a unit's settings
    (``matcher`` for units not listed), each with the same fields, property names and
    rule names, so one writer and one combination serve them all."""
    source = _Source(compiled, matcher, outputs, by_unit is not None)
    source.emit(0, "def evaluate(values, history):")
    source.write_fact()
    source.combine(plan)
    text = "\n".join(source.lines) + "\n"
    settings: dict[object, tuple[str, ...] | str] = {}
    parameters = [p for p in matcher.plans if p.field in compiled.default_parameters]

    def settings_text(values: Mapping[str, Any], unit: object) -> tuple[str, ...] | str:
        """Per ruleset (the text itself for one), the properties of the unit's
        settings; raises as ``match``."""
        values_of = compiled.parameters_for(values)
        parts: tuple[list[str], ...] = tuple([] for _ in range(matcher.ruleset_count))
        for field_plan in parameters:
            if field_plan.field in values_of:
                put_property(field_plan, values_of[field_plan.field], parts)
            elif field_plan.required:
                raise missing_field(field_plan)
        texts = tuple(",".join(p) for p in parts)
        written = texts[0] if len(texts) == 1 else texts
        if len(settings) < _CACHED_UNITS:
            settings[unit] = written
        return written

    namespace: dict[str, Any] = {
        "SETTINGS": settings, "_settings": settings_text, "_params": compiled.parameters_for,
        "_put": put_property, "_put_cached": _put_cached, "_missing": missing_field,
        "_holds": holds, "_contribution": contribution, "_merge": merge,
        "_NUMBERS": (int, float), "FIRE": _fire_of(matcher),
        "FIRES": {unit: _fire_of(m) for unit, m in (by_unit or {}).items()},
        "Evaluation": Evaluation, "_new": tuple.__new__,
    }
    namespace.update((f"K{i}", value) for i, value in enumerate(source.constants))
    code = compile(text, f"<durable {compiled.id} v{compiled.version}>", "exec")
    exec(code, namespace)  # the source is ours, generated above; see module docstring
    return text, namespace["evaluate"]
