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
from decision_service.compiler.ir import AnyOf, Atom, Compare, Const, Field, common_prefix
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
        self.always = always_present(compiled)
        self.sources = self._fact_sources()
        self.skip = 0  # atoms of the current table's rules tested once, before them
        self.guarded: set[str] = set()  # keys tested present once, before the table body
        self.open_test = ""  # the `if` the last table's body sits in, if still open
        self.maybe_set: set[str] = set()  # outputs an earlier table may have set
        self.list_of = {member_key: key for _, key, mode, extra in compiled.fact_plan.inputs
                        if mode == MODE_LIST for _, member_key in extra}
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
                        lambda k=key, m=member: f"{m!r} in {self.var(k)}"  # type: ignore[misc]
                        if k in self.always
                        else f"(None if {self.var(k)} is None else {m!r} in {self.var(k)})")
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
                " + ".join(self.var(p) for p in ps) if all(p in self.always for p in ps)
                else "None if " + " or ".join(f"{self.var(p)} is None" for p in ps)
                + " else " + " + ".join(self.var(p) for p in ps))
        return sources

    def present(self, key: str) -> str:
        """`v is not None and ` unless the key is always present or tested once
        before the current table (``guarded``)."""
        if key in self.always or key in self.guarded:
            return ""
        return f"{self.var(key)} is not None and "

    def guardable(self, table: CompiledTable) -> set[str]:
        """Keys, possibly absent, that every rule of the table tests beyond its
        shared atoms: without one of them no rule holds and, but for a
        scorecard, the table does nothing, so their presence is tested once."""
        if table.table.hit == "scorecard" or not table.rules:
            return set()
        read = [{name for atom in rule.atoms[self.skip:] for name in _fields(atom)}
                for rule in table.rules]
        return set.intersection(*read) - self.always

    def needs_members(self, table: CompiledTable) -> set[str]:
        """Lists every rule of the table needs a member of (``member == true``): an
        empty list makes the table do nothing, but for a scorecard."""
        if table.table.hit == "scorecard" or not table.rules:
            return set()
        needed = [{self.list_of[atom.field] for atom in rule.atoms[self.skip:]
                   if isinstance(atom, Compare) and atom.op == "=="
                   and isinstance(atom.operand, Const) and atom.operand.value is True
                   and atom.field in self.list_of}
                  for rule in table.rules]
        return set.intersection(*needed)

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
            self.open_test = ""
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
        if (decl.combine != "max" or table.table.override or is_none
                or name not in self.maybe_set):  # unset so far: nothing to combine with
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
        shared = common_prefix([rule.atoms for rule in table.rules])
        if table.table.hit == "scorecard":
            # Only the table's own `when` may skip a scorecard: with no rule
            # matching it still scores 0 and takes its lowest band.
            shared = table.when_atoms
        comment_at = len(self.lines)
        self.emit(1, f"# table {table.table.id} ({table.table.hit})")
        self.pending = []
        shared_test = " and ".join(self.atom(a) for a in shared)
        reads_shared = bool(self.pending)
        for line in self.pending:
            self.emit(1, line)
        self.pending = []
        known = set(self.locals)
        outer, self.lines = self.lines, []
        self.skip = len(shared)
        self.guarded = self.guardable(table)
        lists = self.needs_members(table)
        self.table_body(table)
        guard = " and ".join([f"{self.var(key)} is not None" for key in sorted(self.guarded)]
                             + [self.var(key) for key in sorted(lists)])  # a non-empty list
        body, self.lines = self.lines, outer
        depth = 1
        if shared:
            # Consecutive tables of a stage with the same shared atoms share one `if`:
            # their fields are inputs or stage snapshots, which no table changes.
            if shared_test != self.open_test or reads_shared:
                self.emit(1, f"if {shared_test}:")
            else:
                self.lines[comment_at] = "    " + self.lines[comment_at]
            depth = 2
        # The guard's fields are read before it, everything else after: a table the
        # guard skips reads nothing more.
        guard_locals = tuple(f"{self.locals[key]} = " for key in self.guarded | lists)
        split = max((i + 1 for i, line in enumerate(self.pending)
                     if line.startswith(guard_locals)), default=0)
        for line in self.pending[:split]:
            self.emit(depth, line)
        if guard:
            self.emit(depth, f"if {guard}:")
            depth += 1
        for line in self.pending[split:]:
            self.emit(depth, line)
        self.pending = []
        # Read inside an `if`: later tables must read these again.
        if depth > 1:
            for key in set(self.locals) - known:
                del self.locals[key]
        self.lines.extend("    " * (depth - 1) + line for line in body)
        self.open_test = shared_test if shared else ""
        self.guarded = set()
        self.maybe_set.update(table.table.outputs)
        if table.table.band_output is not None:
            self.maybe_set.add(table.table.band_output)

    def table_body(self, table: CompiledTable) -> None:
        """The table's rules and hit policy, one emitter per hit policy."""
        hit = table.table.hit
        if hit == "first" or (hit == "unique" and len(table.rules) == 1):
            self.first_hit(table)
            return
        self.collect_hits(table)
        emitter = {"scorecard": self.scorecard, "unique": self.unique, "any": self.any_hit,
                   "priority": self.priority, "collect-max": self.collect_max,
                   "collect": self.collect}[hit]
        emitter(table)

    def first_hit(self, table: CompiledTable) -> None:
        """first (and unique with one rule): an if/elif chain, the first holding wins."""
        t = table.index
        for i, rule in enumerate(table.rules):
            self.emit(1, f"{'if' if i == 0 else 'elif'} {self.condition(rule, self.skip)}:")
            if table.table.final:
                # a fresh dict each time: callers may keep and change it
                self.emit(2, f"return _new(Evaluation, (dict({self.const(dict(rule.then))}), "
                             f"[({t}, {rule.index})]))")
            else:
                self.emit(2, f"fired.append(({t}, {rule.index}))")
                self.merge(2, table, rule.then)

    def collect_hits(self, table: CompiledTable) -> None:
        """Every other policy starts from the list ``h`` of the rules that hold."""
        self.emit(1, "h = []")
        for rule in table.rules:
            self.emit(1, f"if {self.condition(rule, self.skip)}:")
            self.emit(2, f"h.append({rule.index})")

    def scorecard(self, table: CompiledTable) -> None:
        """The sum of the holding rules' scores, and the band it falls in."""
        t = table.index
        scores = self.const(tuple(rule.score or 0 for rule in table.rules))
        self.emit(1, f"_s = sum({scores}[i] for i in h)")
        out = table.table.outputs[0]
        band_output = table.table.band_output
        if table.table.final:
            self.emit(1, f"_f = {{{out!r}: _s}}")
            for i, (at_least, value) in enumerate(table.bands):
                test = "True" if at_least is None else f"_s >= {at_least!r}"
                self.emit(1, f"{'if' if i == 0 else 'elif'} {test}:")
                self.emit(2, f"_f[{band_output!r}] = {self.const(value)}")
            self.emit(1, f"return _new(Evaluation, (_f, [({t}, i) for i in h]))")
            return
        self.emit(1, f"fired.extend(({t}, i) for i in h)")
        self.merge_expr(1, table, out, "_s")
        if band_output is not None:
            for i, (at_least, value) in enumerate(table.bands):
                test = "True" if at_least is None else f"_s >= {at_least!r}"
                self.emit(1, f"{'if' if i == 0 else 'elif'} {test}:")
                self.merge(2, table, {band_output: value})

    def thens(self, table: CompiledTable) -> str:
        return self.const(tuple(rule.then for rule in table.rules))

    def conflict(self, table: CompiledTable, check: str, problem: str) -> None:
        rule_ids = self.const(tuple(r.rule.id for r in table.rules))
        self.emit(1, "if h:")
        self.emit(2, f"if {check}:")
        self.emit(3, f"_conflict({table.table.id!r}, {rule_ids}, h, {problem!r})")

    def unique(self, table: CompiledTable) -> None:
        """At most one rule may hold."""
        self.conflict(table, "len(h) > 1", "both match")
        self.contribute(table, f"{self.thens(table)}[h[0]]", "h")

    def any_hit(self, table: CompiledTable) -> None:
        """Rules that hold must agree on their outputs."""
        thens = self.thens(table)
        self.conflict(table, f"any({thens}[i] != {thens}[h[0]] for i in h)",
                      "match with different outputs")
        self.contribute(table, f"{thens}[h[0]]", "h")

    def priority(self, table: CompiledTable) -> None:
        """The holding rule with the highest first output wins (the first of equals)."""
        thens, out = self.thens(table), table.table.outputs[0]
        self.emit(1, "if h:")
        self.emit(2, "_w = h[0]")
        self.emit(2, "for i in h[1:]:")
        self.emit(3, f"if {thens}[i][{out!r}] > {thens}[_w][{out!r}]:")
        self.emit(4, "_w = i")
        self.contribute(table, f"{thens}[_w]", "[_w]")

    def collect_max(self, table: CompiledTable) -> None:
        """The highest first output of the holding rules."""
        thens, out = self.thens(table), table.table.outputs[0]
        self.emit(1, "if h:")
        self.emit(2, f"_m = max({thens}[i][{out!r}] for i in h)")
        self.contribute(table, f"{{{out!r}: _m}}", "h")

    def collect(self, table: CompiledTable) -> None:
        """Per output, the distinct values of the holding rules, in rule order."""
        thens, outs = self.thens(table), self.const(table.table.outputs)
        gathered = f"dict.fromkeys({thens}[i][n] for i in h if n in {thens}[i])"
        self.emit(1, "if h:")
        self.emit(2, f"_v = {{n: tuple({gathered}) for n in {outs}}}")
        self.contribute(table, "_v", "h")

    def contribute(self, table: CompiledTable, chosen: str, winners: str) -> None:
        """Inside ``if h:``, the chosen outputs: returned by a final table, else merged."""
        t = table.index
        if table.table.final:
            self.emit(2, f"return _new(Evaluation, (dict({chosen}), "
                         f"[({t}, i) for i in {winners}]))")
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
        self.emit(1, "return _new(Evaluation, (o, fired))")
        return "\n".join(self.lines) + "\n"


def always_present(compiled: CompiledPolicy) -> frozenset[str]:
    """Fact keys that validation guarantees in every fact (required or defaulted
    inputs, parameters, history, sums of those): tests on them need no presence check."""
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
    return frozenset(present)


def _fields(atom: Atom) -> tuple[str, ...]:
    if isinstance(atom, Compare) and isinstance(atom.operand, Field):
        return (atom.field, atom.operand.name)
    return (atom.field,)



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
            "Evaluation": Evaluation,
            # tuple.__new__ builds the NamedTuple without its Python-level __new__
            "_new": tuple.__new__,
            "PARAMS": compiled.parameters_by_unit,
            "DEFAULTS": compiled.default_parameters,
        }
        code = compile(self.source, f"<compiled {compiled.id} v{compiled.version}>", "exec")
        exec(code, namespace)  # the source is ours, generated above; see module docstring
        # The generated function itself: no wrapper call on the hot path.
        self.evaluate: Callable[[Mapping[str, Any], Mapping[str, float]], Evaluation] = (
            namespace["evaluate"]
        )

    def close(self) -> None:
        """Nothing to release; present so every engine can be closed alike."""
