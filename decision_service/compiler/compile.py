"""Model → intermediate form, with every name and type resolved.

This is where a policy is *understood*: each cell becomes ``ir`` atoms over
fact keys, each parameter is resolved for every unit of the org tree, tables
are put into stages (a table that reads another table's output runs after it)
and every mistake is reported at its cell's position. Nothing is evaluated as
code and nothing is read from disk.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from decision_service.compiler.ir import (
    AnyOf,
    Atom,
    Compare,
    CompareOp,
    Const,
    EngineValue,
    Fact,
    Field,
    MatchRule,
)
from decision_service.errors import Position, Problems
from decision_service.language.cells import CellSyntaxError, CellTest, Token, parse_cell
from decision_service.language.model import (
    InputDecl,
    Ordering,
    OrgTree,
    OutputDecl,
    OutputValue,
    Policy,
    Ref,
    Rule,
    Table,
)
from decision_service.language.units import unit_hint, unit_hint_zh

FieldKind = Literal["number", "integer", "enum", "ordered", "boolean", "string", "date", "list"]


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """A name a cell may test, and how its value travels in the fact."""

    name: str  # as the policy writes it: office.region
    key: str  # as the fact holds it: office__region
    kind: FieldKind
    source: Literal["input", "unit", "parameter", "history", "derived", "output"]
    values: tuple[str, ...] = ()
    ordering: Ordering | None = None
    optional: bool = False


@dataclass(frozen=True, slots=True)
class CompiledRule:
    key: str  # unique in the policy: t<table>r<rule>
    table_index: int
    index: int
    rule: Rule
    atoms: tuple[Atom, ...]
    then: dict[str, Any]  # output -> engine value (ordinals for ordered outputs)
    score: float | None


@dataclass(frozen=True, slots=True)
class CompiledTable:
    index: int
    table: Table
    stage: int
    rules: tuple[CompiledRule, ...]
    ordered_output: Ordering | None  # ordering of outputs[0], for priority/collect-max
    bands: tuple[tuple[float | None, Any], ...] = ()  # scorecard: (at least, engine value)
    when_atoms: tuple[Atom, ...] = ()  # the table's own `when`, first in every rule

    @property
    def when_key(self) -> str:
        """Match key of a scorecard's `when`: a scorecard applies (and scores 0
        with its lowest band) whenever its `when` holds, even if no rule matches."""
        return f"t{self.index}when"


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    policy: Policy
    org: OrgTree
    fields: dict[str, FieldInfo]
    tables: tuple[CompiledTable, ...]
    stage_count: int
    parameters_by_unit: dict[str, dict[str, EngineValue]]  # unit code -> fact entries
    default_parameters: dict[str, EngineValue]
    output_orderings: dict[str, Ordering]
    fact_plan: FactPlan

    @property
    def id(self) -> str:
        return self.policy.meta.id

    @property
    def version(self) -> str:
        return self.policy.meta.version

    def match_rules(self, stage: int) -> list[MatchRule]:
        rules: list[MatchRule] = []
        for table in self.tables:
            if table.stage != stage:
                continue
            rules.extend(MatchRule(rule.key, rule.atoms) for rule in table.rules)
            if table.table.hit == "scorecard" and table.when_atoms:
                rules.append(MatchRule(table.when_key, table.when_atoms))
        return rules

    def parameters_for(self, values: Mapping[str, Any]) -> dict[str, EngineValue]:
        """Parameter values (by fact key) for the unit the input names (A9)."""
        unit_input = self.fact_plan.unit_input
        unit = values.get(unit_input) if unit_input else None
        if unit is None:
            return self.default_parameters
        return self.parameters_by_unit.get(unit, self.default_parameters)

    def fact(self, values: Mapping[str, Any], history: Mapping[str, float]) -> Fact:
        """The engines' view of a validated input (see ``ir`` for the encoding).

        On the hot path: every conversion was planned at compile time
        (``FactPlan``), so this is one pass over the inputs.
        """
        plan = self.fact_plan
        fact: Fact = {}
        for name, key, mode, extra in plan.inputs:
            value = values.get(name)
            if value is None:
                continue
            if mode == MODE_PLAIN:
                fact[key] = value
            elif mode == MODE_ORDERED:
                fact[key] = extra[value]
            elif mode == MODE_DATE:
                fact[key] = value.toordinal()
            elif mode == MODE_LIST:
                present = set(value)
                for member, member_key in extra:
                    fact[member_key] = member in present
            else:  # a unit: its code, its region and its watch-list flag
                fact[key] = value
                fact[key + "__region"], fact[key + "__watchlist"] = extra[value]
        fact.update(self.parameters_for(values))
        for name, key in plan.history:
            fact[key] = history.get(name, 0.0)
        for key, part_keys in plan.derived:
            total = derived_total(fact, part_keys)
            if total is not None:
                fact[key] = total
        return fact


def derived_total(source: Mapping[str, Any], parts: tuple[str, ...]) -> int | float | None:
    """A derived value: the sum of its parts in ``source``, None unless every part is a
    number (an absent part leaves the derived value absent). The generated engines
    write the same rule inline."""
    total: int | float = 0
    for part in parts:
        value = source.get(part)
        if not isinstance(value, int | float):
            return None
        total += value
    return total


# How FactPlan converts each input (shared with the compiled engine's codegen).
MODE_PLAIN, MODE_ORDERED, MODE_DATE, MODE_LIST, MODE_UNIT = range(5)


@dataclass(frozen=True, slots=True)
class FactPlan:
    inputs: tuple[tuple[str, str, int, Any], ...]  # (input, fact key, mode, lookup)
    unit_input: str | None
    history: tuple[tuple[str, str], ...]
    derived: tuple[tuple[str, tuple[str, ...]], ...]


def _fact_plan(policy: Policy, org: OrgTree, fields: dict[str, FieldInfo]) -> FactPlan:
    inputs: list[tuple[str, str, int, Any]] = []
    for name, decl in policy.inputs.items():
        info = fields[name]
        if decl.type == "unit":
            units = {code: (org.region_of(code) or code, unit.watchlist)
                     for code, unit in org.units.items()}
            inputs.append((name, info.key, MODE_UNIT, units))
        elif info.kind == "ordered":
            assert info.ordering is not None
            ranks = {v: i for i, v in enumerate(info.ordering.values)}
            inputs.append((name, info.key, MODE_ORDERED, ranks))
        elif info.kind == "date":
            inputs.append((name, info.key, MODE_DATE, None))
        elif info.kind == "list":
            members = tuple((m, f"{info.key}__{m}") for m in info.values)
            inputs.append((name, info.key, MODE_LIST, members))
        else:
            inputs.append((name, info.key, MODE_PLAIN, None))
    return FactPlan(
        inputs=tuple(inputs),
        unit_input=policy.meta.unit_input,
        history=tuple((name, fields[name].key) for name in policy.history),
        derived=tuple((fields[name].key, tuple(fields[p].key for p in d.sum_of))
                      for name, d in policy.derived.items()),
    )


def _figures_key(figures: dict[str, EngineValue]) -> tuple[tuple[str, type, EngineValue], ...]:
    """Equal only for the same figures of the same types (1 == 1.0 == True otherwise)."""
    return tuple((key, type(value), value) for key, value in figures.items())


def fact_key(name: str) -> str:
    return name.replace(".", "__").replace("-", "_")


_NUMERIC = ("number", "integer")


class _Compiler:
    def __init__(self, policy: Policy, org: OrgTree, problems: Problems) -> None:
        self.policy = policy
        self.org = org
        self.problems = problems
        self.fields: dict[str, FieldInfo] = {}

    # -- names ---------------------------------------------------------------

    def add_field(self, info: FieldInfo, position: Position) -> None:
        if info.name in self.fields:
            self.problems.add(position, "duplicate_name",
                              f"{info.name!r} is declared twice (inputs, parameters, "
                              "history, derived and outputs share one namespace)")
            return
        self.fields[info.name] = info

    def ordering(self, name: str | None, position: Position) -> Ordering | None:
        if name is None:
            return None
        if name not in self.org.orderings:
            self.problems.add(position, "unknown_ordering",
                              f"unknown ordering {name!r}; known: {', '.join(self.org.orderings)}")
            return None
        return self.org.orderings[name]

    def declare_inputs(self) -> None:
        for name, decl in self.policy.inputs.items():
            self.add_field(self.input_field(decl), decl.position)
            if decl.type == "unit":
                self.add_field(FieldInfo(f"{name}.region", fact_key(f"{name}.region"), "string",
                                         "unit", values=self.org.codes("region")), decl.position)
                self.add_field(FieldInfo(f"{name}.watchlist", fact_key(f"{name}.watchlist"),
                                         "boolean", "unit"), decl.position)

    def input_field(self, decl: InputDecl) -> FieldInfo:
        optional = not decl.required or bool(decl.optional_when)
        key = fact_key(decl.name)
        if decl.type == "enum":
            ordering = self.ordering(decl.ordering, decl.position)
            if ordering is not None:
                return FieldInfo(decl.name, key, "ordered", "input", ordering.values, ordering,
                                 optional)
            if not decl.values:
                self.problems.add(decl.position, "missing_values",
                                  f"enum input {decl.name!r} needs `values` or `ordering`")
            return FieldInfo(decl.name, key, "enum", "input", decl.values, optional=optional)
        if decl.type == "unit":
            return FieldInfo(decl.name, key, "enum", "input",
                             self.org.codes(decl.unit_level or "office"),
                             optional=optional)
        if decl.type == "list":
            if not decl.values:
                self.problems.add(decl.position, "missing_values",
                                  f"list input {decl.name!r} needs `values`")
            return FieldInfo(decl.name, key, "list", "input", decl.values, optional=optional)
        kinds: dict[str, FieldKind] = {"number": "number", "integer": "integer",
                                       "boolean": "boolean", "date": "date"}
        return FieldInfo(decl.name, key, kinds.get(decl.type, "string"), "input",
                         optional=optional)

    def declare_rest(self) -> None:
        for name, param in self.policy.parameters.items():
            ordering = self.ordering(param.ordering, param.position)
            if param.type == "enum":
                kind: FieldKind = "ordered" if ordering else "enum"
            else:
                kind = param.type
            self.add_field(FieldInfo(name, fact_key("p." + name), kind, "parameter",
                                     ordering.values if ordering else (), ordering),
                           param.position)
        for name, hist in self.policy.history.items():
            self.add_field(FieldInfo(name, fact_key(name), "number", "history"), hist.position)
        for name, derived in self.policy.derived.items():
            for part in derived.sum_of:
                info = self.fields.get(part)
                if info is None or info.kind not in _NUMERIC:
                    self.problems.add(derived.position, "bad_derived",
                                      f"{name}: {part!r} is not a numeric field")
            self.add_field(FieldInfo(name, fact_key(name), "number", "derived"),
                           derived.position)
        for name, out in self.policy.outputs.items():
            ordering = self.ordering(out.ordering, out.position)
            if out.type == "enum" and ordering is not None:
                kind = "ordered"
            elif out.type == "enum":
                kind = "enum"
            elif out.type in ("number", "integer", "boolean", "string", "list"):
                kind = out.type
            else:
                kind = "string"
            self.add_field(FieldInfo(name, fact_key("o." + name), kind, "output",
                                     ordering.values if ordering else out.values, ordering,
                                     optional=True), out.position)

    # -- parameters per unit ---------------------------------------------------

    def parameter_value(self, name: str, value: Any, position: Position) -> EngineValue | None:
        info = self.fields.get(name)
        if info is None or info.source != "parameter":
            self.problems.add(position, "unknown_parameter", self.unknown(name, "parameter"))
            return None
        if info.kind in _NUMERIC:
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.problems.add(position, "type", f"parameter {name!r} must be a number")
                return None
            if info.kind == "integer" and not isinstance(value, int):
                self.problems.add(position, "type", f"parameter {name!r} must be an integer")
                return None
            return value
        if info.ordering is not None:
            if value not in info.ordering.values:
                self.problems.add(position, "unknown_value",
                                  f"{value!r} is not one of {', '.join(info.ordering.values)}")
                return None
            return info.ordering.rank(value)
        return value if isinstance(value, str) else None

    def resolve_parameters(self) -> tuple[dict[str, EngineValue],
                                          dict[str, dict[str, EngineValue]]]:
        defaults: dict[str, EngineValue] = {}
        for name, param in self.policy.parameters.items():
            value = self.parameter_value(name, param.default, param.position)
            if value is not None:
                defaults[self.fields[name].key] = value
        per_unit_settings: dict[str, dict[str, EngineValue]] = {}
        set_in: dict[str, dict[str, str]] = {}
        for setting in self.policy.settings:
            for unit in setting.units:
                if unit not in self.org.units:
                    self.problems.add(setting.position, "unknown_unit", self.unknown_unit(unit),
                                      unit=unit, hint_zh=unit_hint_zh(self.org, unit))
                    continue
                target = per_unit_settings.setdefault(unit, {})
                written_in = set_in.setdefault(unit, {})
                for name, raw in setting.values.items():
                    value = self.parameter_value(name, raw, setting.position)
                    if value is None:
                        continue
                    # A later version's setting replaces an earlier one's; twice in
                    # one file is a mistake.
                    if written_in.get(name) == setting.position.file:
                        self.problems.add(setting.position, "duplicate_setting",
                                          f"{name!r} is set twice for unit {unit!r}")
                    target[self.fields[name].key] = value
                    written_in[name] = setting.position.file
        by_unit: dict[str, dict[str, EngineValue]] = {}
        # Units that see the same figures share one mapping (most see the defaults):
        # a decision then reads a few hot mappings, not one per unit. Never changed.
        shared: dict[tuple[tuple[str, type, EngineValue], ...], dict[str, EngineValue]] = {
            _figures_key(defaults): defaults}
        for code in self.org.units:
            resolved = dict(defaults)
            for ancestor in self.org.chain(code):  # top first: deeper settings win
                resolved.update(per_unit_settings.get(ancestor, {}))
            by_unit[code] = shared.setdefault(_figures_key(resolved), resolved)
        return defaults, by_unit

    # -- cells -----------------------------------------------------------------

    def unknown(self, name: str, what: str) -> str:
        candidates = [n for n, f in self.fields.items() if what == "field" or f.source == what]
        close = difflib.get_close_matches(name, candidates, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown {what} {name!r}{hint}"

    def unknown_unit(self, code: str) -> str:
        return f"unknown unit {code!r} (not in the org tree){unit_hint(self.org, code)}"

    def operand(self, info: FieldInfo, token: Token, position: Position) -> Const | Field | None:
        """A cell operand, typed like the field it is compared with."""
        if info.kind in _NUMERIC:
            return self.numeric_operand(info, token, position)
        if info.kind == "boolean":
            if token.kind != "bool":
                self.problems.add(position, "type",
                                  f"{info.name!r} is true or false, not {token.text!r}")
                return None
            return Const(token.text == "true")
        if info.kind == "date":
            try:
                return Const(dt.date.fromisoformat(token.text).toordinal())
            except ValueError:
                self.problems.add(position, "type", f"{token.text!r} is not a date (YYYY-MM-DD)")
                return None
        if info.kind in ("enum", "ordered", "list", "string"):
            if info.kind != "string" and token.text not in info.values:
                close = difflib.get_close_matches(token.text, list(info.values), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.problems.add(position, "unknown_value",
                                  f"{token.text!r} is not a value of {info.name!r}{hint}")
                return None
            if info.kind == "ordered":
                assert info.ordering is not None
                return Const(info.ordering.rank(token.text))
            return Const(token.text)
        return None

    def numeric_operand(self, info: FieldInfo, token: Token,
                        position: Position) -> Const | Field | None:
        """A number, or the name of another number field or parameter."""
        if token.kind == "number":
            number: int | float = float(token.text) if "." in token.text else int(token.text)
            if info.kind == "integer" and isinstance(number, float):
                self.problems.add(position, "type",
                                  f"{info.name!r} is an integer; {token.text} is not")
                return None
            return Const(number)
        other = self.fields.get(token.text)
        if other is None:
            self.problems.add(position, "unknown_name", self.unknown(token.text, "field"))
            return None
        if other.kind not in _NUMERIC:
            self.problems.add(position, "type",
                              f"{info.name!r} is a number; {token.text!r} is not")
            return None
        return Field(other.key)

    def cell_atoms(self, name: str, cell: object, position: Position,
                   readable: set[str]) -> tuple[Atom, ...]:
        info = self.fields.get(name)
        if info is None:
            self.problems.add(position, "unknown_field", self.unknown(name, "field"))
            return ()
        if info.source == "output" and name not in readable:
            self.problems.add(position, "output_not_ready",
                              f"output {name!r} is read before any earlier table sets it")
            return ()
        try:
            test = parse_cell(cell)
        except CellSyntaxError as exc:
            self.problems.add(position, "cell_syntax", f"{name}: {exc}")
            return ()
        return self.atoms_for(info, test, position)

    def atoms_for(self, info: FieldInfo, test: CellTest, position: Position) -> tuple[Atom, ...]:
        if test.kind == "any":
            return ()
        if test.kind in ("contains", "not_contains"):
            if info.kind != "list":
                self.problems.add(position, "type", f"`contains` needs a list; {info.name!r} "
                                  "is not one")
                return ()
            member = self.operand(info, test.operands[0], position)
            if member is None:
                return ()
            return (Compare(f"{info.key}__{member.value}", "==",  # type: ignore[union-attr]
                            Const(test.kind == "contains")),)
        if info.kind == "list":
            self.problems.add(position, "type",
                              f"{info.name!r} is a list: test it with `contains X`")
            return ()
        operands = [self.operand(info, token, position) for token in test.operands]
        if any(o is None for o in operands):
            return ()
        if test.kind == "in":
            values = tuple(o.value for o in operands if isinstance(o, Const))
            if len(values) != len(operands):
                self.problems.add(position, "type", "`in [...]` takes literal values only")
                return ()
            return (AnyOf(info.key, values),)
        if test.kind == "not_in":
            return tuple(Compare(info.key, "!=", o) for o in operands if o is not None)
        ops: list[CompareOp] = test.op.split(",")  # type: ignore[assignment]
        if any(op not in ("==", "!=") for op in ops) and info.kind not in (
            "number", "integer", "ordered", "date"
        ):
            self.problems.add(position, "type",
                              f"{info.name!r} has no order: use `=`, `not` or `in [...]`")
            return ()
        return tuple(Compare(info.key, op, o) for op, o in zip(ops, operands, strict=True)
                     if o is not None)

    # -- outputs ---------------------------------------------------------------

    def output_value(self, out: OutputDecl, value: OutputValue, position: Position) -> Any:
        """Check a `then` value against its output; ordered outputs become ranks."""
        info = self.fields.get(out.name)
        if value is None:
            return None
        if isinstance(value, Ref):
            if value.field not in self.fields:
                self.problems.add(position, "unknown_field", self.unknown(value.field, "field"))
            return value
        if isinstance(value, tuple):
            return tuple(self.output_value(out, v, position) for v in value)
        if info is None:
            return value
        if info.kind == "ordered":
            assert info.ordering is not None
            if value not in info.ordering.values:
                self.problems.add(position, "unknown_value",
                                  f"{value!r} is not one of {', '.join(info.ordering.values)}")
                return None
            return info.ordering.rank(str(value))
        if info.kind == "enum" and value not in info.values:
            self.problems.add(position, "unknown_value",
                              f"{value!r} is not a value of output {out.name!r}: "
                              f"{', '.join(info.values)}")
        if info.kind == "boolean" and not isinstance(value, bool):
            self.problems.add(position, "type", f"output {out.name!r} is true or false")
        if info.kind in _NUMERIC and (isinstance(value, bool) or
                                      not isinstance(value, int | float)):
            self.problems.add(position, "type", f"output {out.name!r} is a number")
        return value

    def check_outputs(self) -> None:
        for out in self.policy.outputs.values():
            if out.lookup is None:
                continue
            source = self.policy.outputs.get(out.lookup)
            if source is None:
                self.problems.add(out.position, "unknown_output",
                                  f"{out.name}: lookup of unknown output {out.lookup!r}")
                continue
            keys = self.fields[source.name].values
            for key, value in out.lookup_map.items():
                if keys and key not in keys:
                    self.problems.add(out.position, "unknown_value",
                                      f"{out.name}: map key {key!r} is not a value of "
                                      f"{source.name!r}")
                if isinstance(value, Ref | tuple):
                    self.output_value(out, value, out.position)
            missing = [k for k in keys if k not in out.lookup_map]
            if missing:
                self.problems.add(out.position, "incomplete_map",
                                  f"{out.name}: no value for {', '.join(missing)}")

    # -- tables ----------------------------------------------------------------

    def compile_tables(self) -> tuple[CompiledTable, ...]:
        compiled: list[CompiledTable] = []
        written_at: dict[str, int] = {}  # output -> latest stage that writes it
        seen_ids: dict[str, Position] = {}
        stage = 0
        for t_index, table in enumerate(self.policy.tables):
            if table.id in seen_ids:
                self.problems.add(table.position, "duplicate_table",
                                  f"table id {table.id!r} is used twice")
            seen_ids[table.id] = table.position
            reads = {name for rule in table.rules for name in rule.when} | set(table.when)
            for name in reads:
                info = self.fields.get(name)
                if info is not None and info.source == "output" and name in written_at:
                    stage = max(stage, written_at[name] + 1)
            readable = set(written_at)
            compiled.append(self.compile_table(t_index, table, stage, readable))
            for out in table.outputs:
                written_at[out] = stage
            if table.band_output:
                written_at[table.band_output] = stage
        return tuple(compiled)

    def compile_table(self, t_index: int, table: Table, stage: int,
                      readable: set[str]) -> CompiledTable:
        """One table: its outputs and hit policy checked, its `when` and each rule's
        conditions as atoms, its bands as ranks."""
        self.check_table_outputs(table)
        table_atoms: list[Atom] = []
        for name, cell in table.when.items():
            table_atoms.extend(self.cell_atoms(name, cell, table.when_positions[name], readable))
        first_out = self.policy.outputs.get(table.outputs[0])
        ordered = self.fields[first_out.name].ordering if first_out else None
        self.check_hit_policy(table, ordered)
        rules = []
        seen_rule_ids: set[str] = set()
        for r_index, rule in enumerate(table.rules):
            if rule.id in seen_rule_ids:
                self.problems.add(rule.position, "duplicate_rule",
                                  f"rule id {rule.id!r} is used twice in table {table.id}")
            seen_rule_ids.add(rule.id)
            rules.append(self.compile_rule(t_index, r_index, table, rule, table_atoms, readable))
        return CompiledTable(t_index, table, stage, tuple(rules), ordered,
                             self.band_ranks(table), tuple(table_atoms))

    def check_table_outputs(self, table: Table) -> None:
        for out_name in (*table.outputs, *((table.band_output,) if table.band_output else ())):
            if out_name not in self.policy.outputs:
                self.problems.add(table.position, "unknown_output",
                                  f"table {table.id}: {self.unknown(out_name, 'output')}")

    def compile_rule(self, t_index: int, r_index: int, table: Table, rule: Rule,
                     table_atoms: list[Atom], readable: set[str]) -> CompiledRule:
        """A rule's conditions after its table's `when`, and its checked `then`."""
        atoms = list(table_atoms)
        for name, cell in rule.when.items():
            atoms.extend(self.cell_atoms(name, cell, rule.when_positions[name], readable))
        then = self.rule_then(table, rule)
        if table.hit == "scorecard":
            if rule.score is None:
                self.problems.add(rule.position, "missing_score",
                                  f"rule {rule.id}: a scorecard rule needs `score`")
        elif not rule.then and not (table.hit == "first" and table.final):
            self.problems.add(rule.position, "missing_then",
                              f"rule {rule.id}: write what it decides in `then`")
        if rule.message is not None:
            self.check_placeholders(rule)
        return CompiledRule(
            key=f"t{t_index}r{r_index}", table_index=t_index, index=r_index, rule=rule,
            atoms=tuple(atoms), then=then, score=rule.score,
        )

    def rule_then(self, table: Table, rule: Rule) -> dict[str, Any]:
        then: dict[str, Any] = {}
        for out_name, value in rule.then.items():
            decl = self.policy.outputs.get(out_name)
            if decl is None or out_name not in table.outputs:
                self.problems.add(rule.position, "unknown_output",
                                  f"rule {rule.id}: {out_name!r} is not an output of "
                                  f"table {table.id}")
                continue
            then[out_name] = self.output_value(decl, value, rule.position)
        return then

    def band_ranks(self, table: Table) -> tuple[tuple[Any, Any], ...]:
        """(at least, value) per band; a value of an ordering as its rank."""
        band_ordering = self.fields[table.band_output].ordering \
            if table.band_output in self.fields else None
        return tuple(
            (band.at_least, band_ordering.rank(band.value)
             if band_ordering and band.value in band_ordering.values else band.value)
            for band in table.bands
        )

    def check_hit_policy(self, table: Table, ordered: Ordering | None) -> None:
        """What each hit policy needs of its table's outputs, rules and bands."""
        if table.hit in ("priority", "collect-max"):
            self.check_ranked(table, ordered)
        if table.hit == "scorecard":
            self.check_scorecard(table)
        elif table.bands:
            self.problems.add(table.position, "bands_without_scorecard",
                              f"table {table.id}: only a scorecard has bands")
        if table.hit == "collect":
            for name in table.outputs:
                out = self.policy.outputs.get(name)
                if out is not None and out.type != "list":
                    self.problems.add(table.position, "type",
                                      f"table {table.id}: hit policy collect gathers a list; "
                                      f"output {name!r} is not a list")
        if table.band_output is not None:
            self.check_band_values(table)

    def check_ranked(self, table: Table, ordered: Ordering | None) -> None:
        """priority and collect-max rank the rules by their first output's ordering."""
        if table.hit == "collect-max" and len(table.outputs) > 1:
            self.problems.add(table.position, "one_output",
                              f"table {table.id}: hit policy collect-max has one output")
        for rule in table.rules:
            if rule.then.get(table.outputs[0]) is None:
                self.problems.add(rule.position, "missing_then",
                                  f"rule {rule.id}: hit policy {table.hit} ranks rules by "
                                  f"{table.outputs[0]!r}; give it a value")
        if ordered is None:
            self.problems.add(table.position, "needs_ordering",
                              f"table {table.id}: hit policy {table.hit} needs an output with "
                              "an ordering (e.g. levels, grades)")

    def check_scorecard(self, table: Table) -> None:
        out = self.policy.outputs.get(table.outputs[0])
        if out is not None and out.type not in _NUMERIC:
            self.problems.add(table.position, "type",
                              f"table {table.id}: a scorecard output must be a number")
        if not table.bands:
            self.problems.add(table.position, "missing_bands",
                              f"table {table.id}: a scorecard needs `bands`")

    def check_band_values(self, table: Table) -> None:
        band_info = self.fields.get(table.band_output) if table.band_output else None
        for band in table.bands:
            if band_info is not None and band_info.values and \
                    band.value not in band_info.values:
                self.problems.add(table.position, "unknown_value",
                                  f"band {band.value!r} is not a value of "
                                  f"{table.band_output!r}")

    def check_placeholders(self, rule: Rule) -> None:
        import re

        assert rule.message is not None
        for text in (rule.message.zh, rule.message.en):
            for name in re.findall(r"\{([^{}]+)\}", text):
                if name not in self.fields:
                    self.problems.add(rule.position, "unknown_placeholder",
                                      f"rule {rule.id}: message mentions {{{name}}}, "
                                      f"{self.unknown(name, 'field')}")


def compile_policy(policy: Policy, org: OrgTree, problems: Problems) -> CompiledPolicy | None:
    """Compile one policy; problems are added to ``problems``. None if any."""
    before = len(problems.items)
    compiler = _Compiler(policy, org, problems)
    compiler.declare_inputs()
    compiler.declare_rest()
    _check_references(policy, problems)
    defaults, by_unit = compiler.resolve_parameters()
    compiler.check_outputs()
    tables = compiler.compile_tables()
    if len(problems.items) > before:
        return None
    orderings = {
        name: info.ordering
        for name, info in compiler.fields.items()
        if info.source == "output" and info.ordering is not None
    }
    return CompiledPolicy(
        policy=policy,
        org=org,
        fields=compiler.fields,
        tables=tables,
        stage_count=max((t.stage for t in tables), default=0) + 1,
        parameters_by_unit=by_unit,
        default_parameters=defaults,
        output_orderings=orderings,
        fact_plan=_fact_plan(policy, org, compiler.fields),
    )

def _check_references(policy: Policy, problems: Problems) -> None:
    """Names the declarations use must exist; conditions outside tables
    (optional_when, history filters) are plain equality tests."""
    _check_meta_references(policy, problems)
    _check_input_references(policy, problems)
    _check_equality_tests(policy, problems)
    _check_history_references(policy, problems)


def _check_meta_references(policy: Policy, problems: Problems) -> None:
    meta = policy.meta
    for attr, name in (("decision_date", meta.decision_date_input), ("unit", meta.unit_input)):
        if name is not None and name not in policy.inputs:
            problems.add(meta.position, "unknown_field", f"policy.{attr}: no input {name!r}")


def _check_input_references(policy: Policy, problems: Problems) -> None:
    for decl in policy.inputs.values():
        for bound in (decl.minimum, decl.maximum):
            if isinstance(bound, str) and bound not in policy.inputs:
                problems.add(decl.position, "unknown_field",
                             f"{decl.name}: bound {bound!r} is not an input")
        for name in decl.optional_when:
            if name not in policy.inputs:
                problems.add(decl.position, "unknown_field",
                             f"{decl.name}: optional_when names unknown input {name!r}")


def _check_equality_tests(policy: Policy, problems: Problems) -> None:
    equality_tests = [(d.position, f"{d.name}.optional_when", d.optional_when)
                      for d in policy.inputs.values()]
    equality_tests += [(h.position, f"{h.name}.{part}", tests) for h in policy.history.values()
                       for part, tests in (("where_input", h.where_input),
                                           ("where_output", h.where_output))]
    for position, where, tests in equality_tests:
        for name, text in tests.items():
            try:
                test = parse_cell(text)
            except CellSyntaxError as exc:
                problems.add(position, "cell_syntax", f"{where}.{name}: {exc}")
                continue
            if test.kind not in ("in", "not_in") and test.op not in ("==", "!="):
                problems.add(position, "equality_only",
                             f"{where}.{name}: only `X`, `not X` and `in [...]` are allowed "
                             f"here, not {text!r}")


def _check_history_references(policy: Policy, problems: Problems) -> None:
    for hist in policy.history.values():
        latest_per = (hist.latest_per,) if hist.latest_per else ()
        for name in (hist.sum_field, *hist.group_by, *hist.where_input, *latest_per):
            if name not in policy.inputs:
                problems.add(hist.position, "unknown_field",
                             f"{hist.name}: {name!r} is not an input")
        for name in hist.where_output:
            if name not in policy.outputs:
                problems.add(hist.position, "unknown_output",
                             f"{hist.name}: {name!r} is not an output")
