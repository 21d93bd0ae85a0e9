"""The compiled backend: one plain Python function per policy version.

The intermediate form is turned into Python *source* and compiled once when
the policy set loads. Only the compiler's own, already validated structures
reach the generated text: field keys are checked identifiers, constants are
written with ``repr`` of ints, floats, strings, booleans and None, and
anything richer (output references, lists) is passed in a constants tuple. No
text from a policy file is ever executed.

It is the fast path and, against the durable backend, the differential oracle:
it re-implements the hit policies inline instead of calling ``evaluate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from decision_service.compiler.compile import (
    MODE_DATE,
    MODE_LIST,
    MODE_ORDERED,
    MODE_PLAIN,
    CompiledPolicy,
    CompiledRule,
    CompiledTable,
)
from decision_service.compiler.ir import AnyOf, Atom, Compare, Const, Field
from decision_service.engines.reference import Evaluation
from decision_service.errors import EvaluationError, EvaluationProblem

_SCALARS = (str, int, float, bool, type(None))


class _Writer:
    def __init__(self, compiled: CompiledPolicy) -> None:
        self.compiled = compiled
        self.lines: list[str] = []
        self.constants: list[Any] = []
        self.locals: dict[str, str] = {}  # fact key -> local variable holding it
        self.pending: list[str] = []  # reads not yet placed, in dependency order
        self.counter = 0
        self.always = self._always_present()
        self.sources = self._fact_sources()
        self.skip = 0  # atoms of the current table's rules tested once, before them
        self.output_keys = {
            info.key: name for name, info in compiled.fields.items() if info.source == "output"
        }
        # Outputs live in locals o0, o1, ... (faster than a dict); _UNSET = not set.
        self.out = {name: f"o{i}" for i, name in enumerate(compiled.policy.outputs)}

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def const(self, value: Any) -> str:
        if isinstance(value, _SCALARS):
            if isinstance(value, float) and value != value:  # NaN never reaches here
                raise ValueError("NaN constant")
            return repr(value)
        self.constants.append(value)
        return f"K[{len(self.constants) - 1}]"

    def _fact_sources(self) -> dict[str, Callable[[], str]]:
        """How each fact key is read straight from the validated input.

        The generated function does the work of ``CompiledPolicy.fact`` inline
        (same encoding, see ``ir``), so the fast path builds no fact dict.
        """
        compiled = self.compiled
        plan = compiled.fact_plan
        sources: dict[str, Callable[[], str]] = {}

        def read(name: str) -> Callable[[], str]:
            key = compiled.fields[name].key
            if key in self.always:
                return lambda: f"values[{name!r}]"
            return lambda: f"values.get({name!r})"

        for name, key, mode, extra in plan.inputs:
            if mode == MODE_PLAIN:
                sources[key] = read(name)
            elif mode == MODE_ORDERED:
                ranks = self.const(extra)
                sources[key] = lambda n=name, r=ranks: f"{r}.get(values.get({n!r}))"  # type: ignore[misc]
            elif mode == MODE_DATE:
                sources[key] = lambda n=name: f"_ordinal(values.get({n!r}))"  # type: ignore[misc]
            elif mode == MODE_LIST:
                sources[key] = read(name)
                for member, member_key in extra:
                    sources[member_key] = (
                        lambda k=key, m=member: f"(None if {self.var(k)} is None "  # type: ignore[misc]
                        f"else {m!r} in {self.var(k)})")
            else:
                sources[key] = read(name)
                regions = self.const({code: v[0] for code, v in extra.items()})
                watch = self.const({code: v[1] for code, v in extra.items()})
                sources[key + "__region"] = lambda k=key, r=regions: f"{r}.get({self.var(k)})"  # type: ignore[misc]
                sources[key + "__watchlist"] = lambda k=key, w=watch: f"{w}.get({self.var(k)})"  # type: ignore[misc]
        for param_key in compiled.default_parameters:
            sources[param_key] = lambda k=param_key: f"P[{k!r}]"  # type: ignore[misc]
        for name, key in plan.history:
            sources[key] = lambda n=name: f"history.get({n!r}, 0.0)"  # type: ignore[misc]
        for key, parts in plan.derived:
            sources[key] = lambda ps=parts: (  # type: ignore[misc]
                "None if " + " or ".join(f"{self.var(p)} is None" for p in ps)
                + " else " + " + ".join(self.var(p) for p in ps))
        return sources

    def _always_present(self) -> set[str]:
        """Fact keys that validation guarantees (required or defaulted inputs,
        parameters): their atoms can skip the None test."""
        compiled = self.compiled
        present = set(compiled.default_parameters)
        for name, key, mode, extra in compiled.fact_plan.inputs:
            decl = compiled.policy.inputs[name]
            if not ((decl.required and not decl.optional_when) or decl.default is not None):
                continue
            present.add(key)
            if mode == MODE_LIST:
                present.update(member_key for _, member_key in extra)
            elif mode not in (MODE_PLAIN, MODE_ORDERED, MODE_DATE):
                present.update((key + "__region", key + "__watchlist"))
        present.update(key for _, key in compiled.fact_plan.history)
        present.update(key for key, parts in compiled.fact_plan.derived
                       if all(p in present for p in parts))
        return present

    def present(self, key: str) -> str:
        """`v is not None and ` unless the key is always present."""
        return "" if key in self.always else f"{self.var(key)} is not None and "

    def var(self, key: str) -> str:
        """The local holding a fact key; its read is queued in ``pending``.

        Outputs read by a later stage are snapshots taken when that stage
        begins (``stage_snapshot``), as ``evaluate.run`` builds its stage fact.
        """
        if key not in self.locals:
            if key in self.output_keys or key not in self.sources:
                raise ValueError(f"fact key {key!r} has no source here")
            expression = self.sources[key]()  # may define the locals it reads first
            local = f"v{self.counter}"
            self.counter += 1
            self.locals[key] = local
            self.pending.append(f"{local} = {expression}")
        return self.locals[key]

    def stage_snapshot(self, stage: int) -> None:
        read = {a.field for t in self.compiled.tables if t.stage == stage
                for r in t.rules for a in r.atoms}
        read |= {a.operand.name for t in self.compiled.tables if t.stage == stage
                 for r in t.rules for a in r.atoms
                 if isinstance(a, Compare) and isinstance(a.operand, Field)}
        for key in sorted(read & set(self.output_keys)):
            local = f"s{self.counter}"
            self.counter += 1
            out = self.out[self.output_keys[key]]
            self.emit(1, f"{local} = None if {out} is _UNSET else {out}")
            self.locals[key] = local

    def atom(self, atom: Atom) -> str:
        left = self.var(atom.field)
        if isinstance(atom, AnyOf):
            values = ", ".join(self.const(v) for v in atom.values)
            return f"({left} in ({values},))"
        if isinstance(atom.operand, Field):
            right = self.var(atom.operand.name)
            checks = self.present(atom.field) + self.present(atom.operand.name)
            return f"({checks}{left} {atom.op} {right})"
        assert isinstance(atom.operand, Const)
        return f"({self.present(atom.field)}{left} {atom.op} {self.const(atom.operand.value)})"

    def condition(self, rule: CompiledRule, skip: int = 0) -> str:
        return " and ".join(self.atom(a) for a in rule.atoms[skip:]) or "True"

    def merge(self, depth: int, table: CompiledTable, then: dict[str, Any]) -> None:
        for name, value in then.items():
            self.merge_expr(depth, table, name, self.const(value), value is None)

    def merge_expr(self, depth: int, table: CompiledTable, name: str, expr: str,
                   is_none: bool = False) -> None:
        """Combine a value into an output as ``evaluate.merge`` does."""
        out = self.out[name]
        decl = self.compiled.policy.outputs[name]
        if decl.combine != "max" or table.table.override or is_none:
            self.emit(depth, f"{out} = {expr}")
            return
        if not (expr[0].isdigit() or expr[0] == "'"):  # not a literal: evaluate once
            self.emit(depth, f"_v = {expr}")
            expr = "_v"
            self.emit(depth, f"if {out} is _UNSET or {out} is None or _v is None "
                             f"or {out} < _v:")
        else:
            self.emit(depth, f"if {out} is _UNSET or {out} is None or {out} < {expr}:")
        self.emit(depth + 1, f"{out} = {expr}")

    def table(self, table: CompiledTable) -> None:
        """One table. Atoms every rule starts with (its `when`) are tested once,
        and fields are read just before the first table that needs them, inside
        its `when` if only it needs them: a denied or ATI deal reads less."""
        shared = _common_prefix([rule.atoms for rule in table.rules])
        if table.table.hit == "scorecard":
            # Only the table's own `when` may skip a scorecard: with no rule
            # matching it still scores 0 and takes its lowest band.
            shared = table.when_atoms
        self.emit(1, f"# table {table.table.id} ({table.table.hit})")
        self.pending = []
        shared_test = " and ".join(self.atom(a) for a in shared)
        for line in self.pending:
            self.emit(1, line)
        self.pending = []
        known = set(self.locals)
        outer, self.lines = self.lines, []
        self.skip = len(shared)
        self.table_body(table)
        body, self.lines = self.lines, outer
        indent = "    " if shared else ""
        if shared:
            self.emit(1, f"if {shared_test}:")
            # Read inside the `if`: later tables must read these again.
            for key in set(self.locals) - known:
                del self.locals[key]
        for line in self.pending:
            self.emit(2 if shared else 1, line)
        self.pending = []
        self.lines.extend(indent + line for line in body)

    def table_body(self, table: CompiledTable) -> None:
        """The rules of one table: one emitter per hit policy."""
        hit = table.table.hit
        if hit == "first" or (hit == "unique" and len(table.rules) == 1):
            self.first_hit(table)
            return
        self.emit(1, "h = []")
        for rule in table.rules:
            self.emit(1, f"if {self.condition(rule, self.skip)}:")
            self.emit(2, f"h.append({rule.index})")
        if hit == "scorecard":
            self.scorecard(table)
            return
        thens = self.const(tuple(rule.then for rule in table.rules))
        self.emit(1, "if h:")
        choose = {"unique": self.choose_unique_or_any, "any": self.choose_unique_or_any,
                  "priority": self.choose_priority, "collect-max": self.choose_collect_max,
                  "collect": self.choose_collect}[hit]
        chosen, winners = choose(table, thens)
        self.apply_chosen(table, chosen, winners)

    def first_hit(self, table: CompiledTable) -> None:
        """``first`` (and ``unique`` with one rule): an if/elif chain."""
        for i, rule in enumerate(table.rules):
            self.emit(1, f"{'if' if i == 0 else 'elif'} {self.condition(rule, self.skip)}:")
            if table.table.final:
                # a fresh dict each time: callers may keep and change it
                self.emit(2, f"return dict({self.const(dict(rule.then))}), "
                             f"[({table.index}, {rule.index})]")
            else:
                self.emit(2, f"fired.append(({table.index}, {rule.index}))")
                self.merge(2, table, rule.then)

    def scorecard(self, table: CompiledTable) -> None:
        """The matching rules' scores summed into the output, then the band it falls in."""
        t = table.index
        scores = self.const(tuple(rule.score or 0 for rule in table.rules))
        self.emit(1, f"_s = sum({scores}[i] for i in h)")
        out = table.table.outputs[0]
        band = table.table.band_output
        if table.table.final:
            self.emit(1, f"_f = {{{out!r}: _s}}")
            self.bands(table, lambda value: self.emit(2, f"_f[{band!r}] = {self.const(value)}"))
            self.emit(1, f"return _f, [({t}, i) for i in h]")
            return
        self.emit(1, f"fired.extend(({t}, i) for i in h)")
        self.merge_expr(1, table, out, "_s")
        if band is not None:
            self.bands(table, lambda value: self.merge(2, table, {band: value}))

    def bands(self, table: CompiledTable, set_band: Callable[[Any], None]) -> None:
        for i, (at_least, value) in enumerate(table.bands):
            test = "True" if at_least is None else f"_s >= {at_least!r}"
            self.emit(1, f"{'if' if i == 0 else 'elif'} {test}:")
            set_band(value)

    def choose_unique_or_any(self, table: CompiledTable, thens: str) -> tuple[str, str]:
        """``unique``: more than one match is a conflict; ``any``: matches that differ are."""
        hit = table.table.hit
        problem = "both match" if hit == "unique" else "match with different outputs"
        check = ("len(h) > 1" if hit == "unique"
                 else f"any({thens}[i] != {thens}[h[0]] for i in h)")
        rule_ids = self.const(tuple(r.rule.id for r in table.rules))
        self.emit(2, f"if {check}:")
        self.emit(3, f"_conflict({table.table.id!r}, {rule_ids}, h, {problem!r})")
        return f"{thens}[h[0]]", "h"

    def choose_priority(self, table: CompiledTable, thens: str) -> tuple[str, str]:
        """``priority``: the match with the highest output wins."""
        out = table.table.outputs[0]
        self.emit(2, "_w = h[0]")
        self.emit(2, "for i in h[1:]:")
        self.emit(3, f"if {thens}[i][{out!r}] > {thens}[_w][{out!r}]:")
        self.emit(4, "_w = i")
        return f"{thens}[_w]", "[_w]"

    def choose_collect_max(self, table: CompiledTable, thens: str) -> tuple[str, str]:
        """``collect-max``: the highest output of all matches."""
        out = table.table.outputs[0]
        self.emit(2, f"_m = max({thens}[i][{out!r}] for i in h)")
        return f"{{{out!r}: _m}}", "h"

    def choose_collect(self, table: CompiledTable, thens: str) -> tuple[str, str]:
        """``collect``: each output the tuple of the matches' distinct values, in order."""
        outs = self.const(table.table.outputs)
        gathered = f"dict.fromkeys({thens}[i][n] for i in h if n in {thens}[i])"
        self.emit(2, f"_v = {{n: tuple({gathered}) for n in {outs}}}")
        return "_v", "h"

    def apply_chosen(self, table: CompiledTable, chosen: str, winners: str) -> None:
        """Return the chosen outputs (a final table) or merge them into the outputs."""
        t = table.index
        if table.table.final:
            self.emit(2, f"return dict({chosen}), [({t}, i) for i in {winners}]")
            return
        self.emit(2, f"fired.extend(({t}, i) for i in {winners})")
        self.emit(2, f"_r = {chosen}")
        for name in table.table.outputs:
            if all(name in rule.then for rule in table.rules):
                self.merge_expr(2, table, name, f"_r[{name!r}]")
            else:  # a rule that does not set it leaves it as it is
                self.emit(2, f"if {name!r} in _r:")
                self.merge_expr(3, table, name, f"_r[{name!r}]")

    def source(self) -> str:
        self.emit(0, "def evaluate(values, history):")
        self.emit(1, "fired = []")
        for local in self.out.values():
            self.emit(1, f"{local} = _UNSET")
        unit_input = self.compiled.fact_plan.unit_input
        unit = f"values.get({unit_input!r})" if unit_input else "None"
        self.emit(1, f"P = PARAMS.get({unit}, DEFAULTS)")
        stage = 0
        for table in self.compiled.tables:
            if table.stage != stage:
                stage = table.stage
                self.stage_snapshot(stage)
            self.table(table)
        self.emit(1, "o = {}")
        for name, local in self.out.items():
            self.emit(1, f"if {local} is not _UNSET:")
            self.emit(2, f"o[{name!r}] = {local}")
        self.emit(1, "return o, fired")
        return "\n".join(self.lines) + "\n"


def _common_prefix(sequences: list[tuple[Atom, ...]]) -> tuple[Atom, ...]:
    if not sequences:
        return ()
    prefix = sequences[0]
    for sequence in sequences[1:]:
        n = 0
        while n < min(len(prefix), len(sequence)) and prefix[n] == sequence[n]:
            n += 1
        prefix = prefix[:n]
    return prefix


_UNSET = object()


def _ordinal(value: Any) -> int | None:
    return None if value is None else int(value.toordinal())


def _conflict(table: str, rule_ids: tuple[str, ...], hits: list[int], problem: str) -> None:
    names = " and ".join(rule_ids[i] for i in hits[:2])
    raise EvaluationError(EvaluationProblem(table, f"rules {names} {problem}"))


class CompiledEngine:
    """Evaluates a compiled policy with generated Python."""

    name = "compiled"

    def __init__(self, compiled: CompiledPolicy) -> None:
        writer = _Writer(compiled)
        self.source = writer.source()
        namespace: dict[str, Any] = {
            "K": tuple(writer.constants),
            "_conflict": _conflict,
            "_ordinal": _ordinal,
            "_UNSET": _UNSET,
            "PARAMS": compiled.parameters_by_unit,
            "DEFAULTS": compiled.default_parameters,
        }
        code = compile(self.source, f"<compiled {compiled.id} v{compiled.version}>", "exec")
        exec(code, namespace)  # the source is ours, generated above; see module docstring
        self._function: Callable[[Mapping[str, Any], Mapping[str, float]],
                                 tuple[dict[str, Any], list[tuple[int, int]]]] = (
            namespace["evaluate"]
        )

    def evaluate(self, values: Mapping[str, Any], history: Mapping[str, float]) -> Evaluation:
        return Evaluation(*self._function(values, history))

    def close(self) -> None:
        """Nothing to release; present so every engine can be closed alike."""
