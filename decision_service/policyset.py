"""A loaded, compiled, versioned set of policies: the core's public face.

``PolicySet.from_texts`` takes ``{file name: YAML text}`` (reading files is the
shell's job, see ``sources``), checks and compiles everything, and either
returns a complete set or raises ``PolicyError`` listing every problem: never
a half-loaded set. ``prepare`` validates one input and works out what the
decision log must supply (A10); ``evaluate`` decides; ``decide`` does both
for callers without a log (the CLI, tests, inline deals).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import BaseModel

from decision_service import explain
from decision_service.compiler.compile import CompiledPolicy, compile_policy
from decision_service.decision import Decision, new_decision
from decision_service.engines import ENGINES, Engine, make_engine
from decision_service.engines.reference import OutputPlan, final_outputs
from decision_service.errors import (
    FieldProblem,
    InputError,
    PolicyError,
    Position,
    Problems,
    UnknownPolicyError,
)
from decision_service.fastinputs import FastInputs
from decision_service.follow_ons import mark_follow_ons
from decision_service.inputs import (
    canonical_identifier,
    holds_plain,
    input_model,
    parse_iso_date,
    plain_test,
    validate_input,
)
from decision_service.language.model import (
    HistoryTotal,
    OrgTree,
    Policy,
    PolicyCase,
    Rollout,
    ShadowCandidate,
)
from decision_service.language.parse import cases_from_doc, org_from_doc
from decision_service.language.rollout import is_rollout_file, load_rollout
from decision_service.language.versions import (
    PolicyDocument,
    document_from_doc,
    resolve_versions,
)
from decision_service.language.yamlpos import parse_yaml
from decision_service.staging import (
    BY_ACTIVATION,
    BY_DATE,
    HELD_BACK,
    PINNED,
    ShadowPlan,
    Staging,
    candidate_texts,
    check_activations,
    check_shadow_names,
    is_candidate_file,
)


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """What the decision log must total before this decision (A10)."""

    name: str
    key: str
    since: dt.date
    until: dt.date
    subject: str | None = None  # this decision's deal: never counted against itself


@dataclass(frozen=True, slots=True)
class Prepared:
    """An input validated for the policy version in force on its decision date."""

    policy: CompiledPolicy
    values: dict[str, Any]  # validated input with defaults
    decision_date: dt.date
    history_query: HistoryQuery | None
    version_reason: str = BY_DATE  # why this version decided (staging.BY_DATE etc.)


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One version of a policy: compiled, its input model, its engines and explain plan."""

    compiled: CompiledPolicy
    model: type[BaseModel]
    engines: dict[str, Engine]
    explain_plan: explain.ExplainPlan
    date_inputs: tuple[str, ...] = ()  # the inputs that hold a date (the JSON form)
    output_plan: OutputPlan | None = None  # final_outputs' lookups, worked out once
    # Each history total's `where_input`, as tests of the validated input (A10).
    history_tests: tuple[tuple[HistoryTotal, tuple[tuple[str, Callable[[Any], bool]], ...]],
                         ...] = ()


def utc_today() -> dt.date:
    """Today in UTC: the decision date of a request that names none."""
    return dt.datetime.now(dt.UTC).date()


def _json_ready(values: Mapping[str, Any],
                date_inputs: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The input as JSON holds it: dates as ISO text. ``date_inputs``, the names that
    can hold a date, if known: only those are looked at."""
    if date_inputs is None:
        return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in values.items()}
    ready = dict(values)
    for name in date_inputs:
        value = ready.get(name)
        if isinstance(value, dt.date):
            ready[name] = value.isoformat()
    return ready


def _history_key(policy_id: str, hist: HistoryTotal, values: Mapping[str, Any]) -> str:
    return "|".join([policy_id, hist.name,
                     *(canonical_identifier(values.get(g)) for g in hist.group_by)])


def _history_subject(policy_id: str, hist: HistoryTotal,
                     values: Mapping[str, Any]) -> str | None:
    """The deal a decision stands for, when the policy names one (``latest_per``)."""
    if hist.latest_per is None or values.get(hist.latest_per) is None:
        return None
    return f"{policy_id}|{hist.name}|{values[hist.latest_per]}"


def _matches(tests: Mapping[str, str], values: Mapping[str, Any]) -> bool:
    return all(holds_plain(test, values.get(name)) for name, test in tests.items())


class PolicySet:
    """Every policy of a directory, loaded, compiled and checked together, ready to decide.

    Build it with ``PolicySet.from_texts`` (or ``load``); use it as a context manager,
    or call ``close``, to release the engines' resources.
    """

    def __init__(self, org: OrgTree, versions: dict[str, list[PolicyVersion]],
                 cases: dict[str, list[tuple[str, PolicyCase]]], bundle_hash: str,
                 engines: tuple[str, ...], staging: Staging | None = None) -> None:
        self.org = org
        self.staging = staging or Staging()
        self.versions = versions  # by id, sorted by effective_from
        self.cases = cases  # policy id -> (file, case)
        self.bundle_hash = bundle_hash
        self.engine_names = engines
        self.texts: dict[str, str] = {}
        self._by_version = {(name, v.compiled.version): v
                            for name, vs in versions.items() for v in vs}
        # policy id -> the input model all its versions share, if they do: then an
        # input is validated once, before its version is chosen (``prepare``)
        self._shared_models = {name: vs[-1] for name, vs in versions.items()
                               if vs and all(v.model is vs[0].model for v in vs)}
        # input model -> its fast path (``input_check``), built on first use: generating
        # one takes milliseconds, and most loads (tests, validate) never decide
        self._checks: dict[type[BaseModel], Callable[[object], dict[str, Any]]] = {}
        # policy id -> (the input naming the decision date, the input naming the
        # unit), as its latest version declares them: they pick the version
        self._choosing = {name: (vs[-1].compiled.policy.meta.decision_date_input,
                                 vs[-1].compiled.policy.meta.unit_input)
                          for name, vs in versions.items() if vs}

    # -- loading ---------------------------------------------------------------

    @classmethod
    def from_texts(cls, texts: Mapping[str, str],
                   engines: tuple[str, ...] = ENGINES) -> PolicySet:
        """Load a policy set from its files (path -> text) in named stages: read each
        file, resolve the versions that extend another, compile and check each version,
        read the cases, check the versions' dates, stage the rollout, build the engines.
        Problems of every stage are gathered; any at all raises one ``PolicyError`` and
        nothing is loaded."""
        problems = Problems()
        files = _read_files(texts, problems)
        policies = resolve_versions(files.documents, problems)
        versions = _compile_versions(policies, files.org, problems)
        cases = _read_cases(files.case_files, policies, problems)
        _check_version_dates(versions, problems)
        mark_follow_ons(problems, texts)
        problems.raise_if_any()
        staging = _staging(files.rollout, texts, versions, files.org, problems)
        if staging.shadows:
            # Shadows are evaluated by the compiled engine whatever the service runs.
            engines = tuple(dict.fromkeys((*engines, "compiled")))
        _build_engines(versions, engines, problems, staging)
        policy_set = cls(files.org, versions, cases, _bundle_hash(texts), engines, staging)
        # The exact texts behind bundle_hash: the log keeps them, so replay can
        # decide again with the very bundle that decided.
        policy_set.texts = dict(texts)
        return policy_set

    def __enter__(self) -> PolicySet:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the engines (durable-rules keeps rulesets in native memory)."""
        _close_engines(self.versions)
        self.staging.close()

    # -- lookups ---------------------------------------------------------------

    def names(self) -> list[str]:
        """The policy ids, sorted."""
        return sorted(self.versions)

    def version_for(self, name: str, on: dt.date) -> PolicyVersion:
        """The version of ``name`` in force on ``on``; an ``InputError`` on ``as_of`` if none is."""
        if name not in self.versions:
            raise UnknownPolicyError(name, self.names())
        chosen = None
        for version in self.versions[name]:
            meta = version.compiled.policy.meta
            if meta.effective_from is None or meta.effective_from <= on:
                chosen = version
        if chosen is None or (chosen.compiled.policy.meta.effective_to is not None
                              and on > chosen.compiled.policy.meta.effective_to):
            raise InputError([FieldProblem(
                "as_of", "range", f"no version of {name!r} is in force on {on.isoformat()}")])
        return chosen

    def choose_version(self, name: str, on: dt.date,
                       unit: object = None) -> tuple[PolicyVersion, str]:
        """The version deciding for ``unit`` on ``on``, and why (``staging.BY_DATE`` etc.).

        The date picks a version; an activation of it holds it to its units, any
        other unit keeps the version before (itself perhaps held to its own units)."""
        chosen = self.version_for(name, on)
        held = self.staging.held.get(name)
        if not held:
            return chosen, BY_DATE
        reason = BY_DATE
        ordered = self.versions[name]
        while (step := held.get(chosen.compiled.version)) is not None:
            if isinstance(unit, str) and unit in step.reaches:
                return chosen, BY_ACTIVATION
            chosen = ordered[ordered.index(chosen) - 1]  # checked: a version precedes it
            reason = HELD_BACK
        return chosen, reason

    def version(self, name: str, version: str) -> PolicyVersion:
        """The given version of ``name`` (as a logged decision names it), whatever its dates."""
        found = self._by_version.get((name, version))
        if found is None:
            raise UnknownPolicyError(name if name not in self.versions else
                                     f"{name}@{version}", self.names())
        return found

    def current(self, name: str, today: dt.date | None = None) -> PolicyVersion:
        """The version of ``name`` in force today (UTC) or on ``today``."""
        return self.version_for(name, today or utc_today())

    # -- deciding --------------------------------------------------------------

    def prepare(self, name: str, raw: object, today: dt.date | None = None,
                version: str | None = None) -> Prepared:
        """Validate ``raw`` for the version in force and say what the log must total."""
        today = today or utc_today()
        if name not in self.versions:
            raise UnknownPolicyError(name, self.names())
        shared = None if version else self._shared_models.get(name)
        # a dict, what JSON gives, is checked first: isinstance on an ABC costs more
        if shared is not None and (type(raw) is dict or isinstance(raw, Mapping)):
            return self._prepare_once(name, shared, raw, today)
        decision_date = self._decision_date(name, raw, today)
        if version:
            chosen, reason = self.version(name, version), PINNED
        else:
            chosen, reason = self.choose_version(name, decision_date, self._unit(name, raw))
        values = self.input_check(chosen)(raw)
        return Prepared(chosen.compiled, values, decision_date,
                        self._history_query(chosen, values, decision_date), reason)

    def input_check(self, version: PolicyVersion) -> Callable[[object], dict[str, Any]]:
        """``validate_input`` for the version's model, through its fast path (``fastinputs``):
        the same values and the same errors, a tenth of the time on ordinary inputs.
        Built once per model and kept with the set (``prepare``, the simulator)."""
        check = self._checks.get(version.model)
        if check is None:
            check = self._checks[version.model] = FastInputs(
                version.compiled.policy, self.org, version.model).check
        return check

    def _decision_date(self, name: str, raw: object, today: dt.date) -> dt.date:
        """The date that picks the version, read from the raw input before it is
        validated (by the version it picks); ``today`` if it names none."""
        date_input = self._choosing[name][0]
        if date_input and isinstance(raw, Mapping) and raw.get(date_input) is not None:
            # A malformed date is reported by the validation that follows.
            with contextlib.suppress(ValueError):
                parsed: dt.date = parse_iso_date(raw[date_input])
                return parsed
        return today

    def _unit(self, name: str, raw: object) -> object:
        unit_input = self._choosing[name][1]
        return raw.get(unit_input) if unit_input and isinstance(raw, Mapping) else None

    def _prepare_once(self, name: str, shared: PolicyVersion, raw: Mapping[str, Any],
                      today: dt.date) -> Prepared:
        """``prepare`` when every version of ``name`` shares one input model (``shared``'s):
        the input is validated once, and its validated date chooses the version. Refused
        input raises what the general path raises (a version not in force on the date
        first, then the input's problems)."""
        try:
            values = self.input_check(shared)(raw)
        except InputError:
            self.choose_version(name, self._decision_date(name, raw, today))
            raise
        date_input, unit_input = self._choosing[name]
        date = values.get(date_input) if date_input else None
        # the validated date is the one the raw input names (the same parser)
        decision_date = date if isinstance(date, dt.date) else self._decision_date(
            name, raw, today)
        chosen, reason = self.choose_version(
            name, decision_date, raw.get(unit_input) if unit_input else None)
        return Prepared(chosen.compiled, values, decision_date,
                        self._history_query(chosen, values, decision_date), reason)

    @staticmethod
    def _history_query(version: PolicyVersion, values: dict[str, Any],
                       decision_date: dt.date) -> HistoryQuery | None:
        """What the log must total for this input (A10), if anything: the last
        history total whose ``where_input`` it meets."""
        query = None
        for hist, tests in version.history_tests:
            for name, test in tests:
                if not test(values.get(name)):
                    break
            else:
                policy_id = version.compiled.id
                query = HistoryQuery(
                    name=hist.name,
                    key=_history_key(policy_id, hist, values),
                    since=decision_date - dt.timedelta(days=hist.window_days),
                    until=decision_date,
                    subject=_history_subject(policy_id, hist, values),
                )
        return query

    def evaluate(self, prepared: Prepared, history: Mapping[str, float] | None = None,
                 engine: str = "compiled", *, explanation: bool = True) -> Decision:
        """Decide a prepared input on ``engine``, with the history totals the log gave.

        Without ``explanation`` the decision has no dimensions or lower routes (an
        answer that leaves them out need not pay for them); its reasons, which the
        log keeps, are there either way."""
        compiled = prepared.policy
        meta = compiled.policy.meta
        version = self.version(meta.id, meta.version)
        runner = version.engines.get(engine)
        if runner is None:
            raise ValueError(f"engine {engine!r} is not loaded; loaded: "
                             f"{', '.join(version.engines)}")
        # History counts only when this input asked for it (A10: ATC only).
        asked = prepared.history_query is not None
        given = (history or {}) if asked else {}
        totals = {name: float(given.get(name, 0.0)) for name in compiled.policy.history}
        values = prepared.values
        evaluation = runner.evaluate(values, totals)
        plan = version.explain_plan
        context = explain.context(compiled, plan, values, totals)
        outputs = final_outputs(compiled, evaluation, context, version.output_plan)
        context.update(outputs)
        reasons, dims, routes = explain.explain(compiled, plan, evaluation, context,
                                                explanation=explanation)
        return new_decision(
            meta.id, meta.version, outputs, reasons,
            prepared.decision_date, engine, _json_ready(values, version.date_inputs),
            totals if asked else {}, dims, routes, prepared.version_reason,
        )

    def shadow_plan(self, name: str) -> ShadowPlan | None:
        """The candidate shadowing ``name``, if ``rollout.yaml`` names one."""
        return self.staging.shadows.get(name)

    def shadow(self, plan: ShadowPlan, prepared: Prepared, decision: Decision) -> dict[str, Any]:
        """The candidate's decision on the input ``decision`` answered, as the log keeps it.

        Raises what deciding raises (a candidate refusing the input, say); the caller
        records that as the shadow's error. The compiled engine decides, with the A10
        totals the answer saw; nothing here is answered or counted."""
        target = plan.policies or self
        name = prepared.policy.id
        version = (target.version(name, plan.candidate.version) if plan.candidate.version
                   else target.version_for(name, prepared.decision_date))
        live = self.version(name, prepared.policy.version)
        values = (prepared.values if version.model is live.model
                  else validate_input(version.model, _json_ready(prepared.values)))
        compiled = version.compiled
        # Outputs and the rules that fired, not the messages or the explanation: a
        # shadow is compared, not read by a salesperson, and costs less this way.
        given = decision.history if prepared.history_query is not None else {}
        totals = {n: float(given.get(n, 0.0)) for n in compiled.policy.history}
        evaluation = version.engines["compiled"].evaluate(values, totals)
        context = explain.context(compiled, version.explain_plan, values, totals)
        outputs = final_outputs(compiled, evaluation, context, version.output_plan)
        differs = sorted(k for k in {*outputs, *decision.outputs}
                         if outputs.get(k) != decision.outputs.get(k))
        return {
            "candidate": plan.describe(),
            "policy_version": compiled.version,
            "outputs": outputs,
            "rules": [compiled.tables[t].rules[r].rule.id for t, r in evaluation.fired],
            "agrees": not differs,
            "differs": differs,
        }

    def decide(self, name: str, raw: object, *, today: dt.date | None = None,
               history: Mapping[str, float] | None = None, engine: str = "compiled",
               version: str | None = None) -> Decision:
        """Validate ``raw`` and decide it in one step (no decision log: history as given)."""
        prepared = self.prepare(name, raw, today=today, version=version)
        return self.evaluate(prepared, history, engine)

    def history_entry(self, decision: Decision) -> tuple[str, float] | None:
        """(key, amount) if this decision counts towards later totals (A10)."""
        compiled = self.version(decision.policy, decision.policy_version).compiled
        for hist in compiled.policy.history.values():
            if _matches(hist.where_input, decision.input) and \
                    _matches(hist.where_output, decision.outputs):
                amount = decision.input.get(hist.sum_field)
                if isinstance(amount, int | float):
                    return _history_key(compiled.id, hist, decision.input), float(amount)
        return None

    def history_subject(self, decision: Decision) -> str | None:
        """The deal this decision stands for in later totals: its latest decision
        alone counts.  Set whatever the outcome, so a deal decided again and now
        denied (or no longer an ATC) stops counting."""
        compiled = self.version(decision.policy, decision.policy_version).compiled
        for hist in compiled.policy.history.values():
            subject = _history_subject(compiled.id, hist, decision.input)
            if subject is not None:
                return subject
        return None


def _staging(rollout: Rollout | None, texts: Mapping[str, str],
             versions: dict[str, list[PolicyVersion]], org: OrgTree,
             problems: Problems) -> Staging:
    """The rollout checked against the loaded versions; problems at its positions."""
    if rollout is None:
        return Staging()
    metas = {name: sorted((v.compiled.policy.meta for v in vs),
                          key=lambda m: m.effective_from or dt.date.min)
             for name, vs in versions.items()}
    held = check_activations(rollout, metas, org, problems)
    shadows: dict[str, ShadowPlan] = {}
    for candidate in check_shadow_names(rollout, metas, problems):
        if candidate.policies is None:
            shadows[candidate.policy] = ShadowPlan(candidate)
            continue
        other = _candidate_set(candidate, texts, problems)
        if other is not None:
            shadows[candidate.policy] = ShadowPlan(candidate, other)
    return Staging(held, shadows, rollout.source_file)


def _candidate_set(candidate: ShadowCandidate, texts: Mapping[str, str],
                   problems: Problems) -> PolicySet | None:
    """Another policy directory's set, loaded like the live one, or None with problems."""
    assert candidate.policies is not None
    own = candidate_texts(texts, candidate.policies)
    where = candidate.candidate_position
    if not own:
        problems.add(where, "candidate_not_found",
                     f"candidate directory {candidate.policies!r} holds no policy files")
        return None
    try:
        other = PolicySet.from_texts(own, ("compiled",))
    except PolicyError as exc:
        problems.add(where, "candidate_invalid",
                     f"shadow candidate {candidate.policies!r} fails validation "
                     f"({len(exc.problems)} problem(s) below)")
        problems.items.extend(
            dataclasses.replace(p, position=dataclasses.replace(
                p.position, file=f"{candidate.policies.rstrip('/')}/{p.position.file}"))
            for p in exc.problems)
        return None
    known = [v.compiled.version for v in other.versions.get(candidate.policy, [])]
    if not known or (candidate.version is not None and candidate.version not in known):
        other.close()
        what = "policy" if not known else f"version {candidate.version!r} of"
        problems.add(where, "unknown_version",
                     f"candidate {candidate.policies!r} has no {what} {candidate.policy!r}")
        return None
    return other


# -- loading stages (PolicySet.from_texts) ------------------------------------------


class _Files(NamedTuple):
    org: OrgTree
    documents: list[PolicyDocument]
    case_files: list[tuple[str, Any]]  # (file, parsed), read once the policies are known
    rollout: Rollout | None


def _read_files(texts: Mapping[str, str], problems: Problems) -> _Files:
    """Parse each file by its kind (org tree, rollout, policy, cases); a shadow
    candidate's files are left to the rollout; no org tree at all stops here."""
    org: OrgTree | None = None
    documents: list[PolicyDocument] = []
    case_files: list[tuple[str, Any]] = []
    rollout = None
    for file in sorted(texts):
        text = texts[file]
        if is_candidate_file(file):
            continue  # a shadow candidate's directory: loaded with the rollout
        try:
            if is_rollout_file(file):
                rollout = load_rollout(text, file)
                continue
            doc = parse_yaml(text, file)
            kind = _kind(doc)
            if kind == "org":
                if org is not None:
                    problems.add(Position(file, 1, 1), "duplicate_org",
                                 "a second org tree; a policy set has one")
                org = org_from_doc(doc, file)
            elif kind == "cases":
                case_files.append((file, doc))
            else:
                documents.append(document_from_doc(doc, file))
        except PolicyError as exc:
            problems.items.extend(exc.problems)
    if org is None:
        problems.add(Position("<policies>", 1, 1), "missing_org",
                     "no org tree found (a file starting with `org:`, e.g. org/org.yaml)")
        mark_follow_ons(problems, texts)
        problems.raise_if_any()
    assert org is not None
    return _Files(org, documents, case_files, rollout)


def _compile_versions(policies: list[Policy], org: OrgTree,
                      problems: Problems) -> dict[str, list[PolicyVersion]]:
    """Compile and statically check each version; by policy id, engines not yet built."""
    from decision_service.compiler.checks import static_checks

    versions: dict[str, list[PolicyVersion]] = {}
    models: list[tuple[Policy, type[BaseModel]]] = []
    for policy in policies:
        compiled = compile_policy(policy, org, problems)
        if compiled is None:
            continue
        static_checks(compiled, problems)
        # Versions that only move figures share one input model, so a request
        # validated to read its `as_of` need not be validated twice.
        model = next((m for p, m in models
                      if p.meta.id == policy.meta.id and p.inputs == policy.inputs), None)
        if model is None:
            model = input_model(policy, org)
            models.append((policy, model))
        versions.setdefault(policy.meta.id, []).append(
            PolicyVersion(
                compiled, model, {}, explain.plan(compiled),
                date_inputs=tuple(n for n, d in policy.inputs.items() if d.type == "date"),
                output_plan=OutputPlan(compiled),
                history_tests=tuple(
                    (hist, tuple((name, plain_test(test))
                                 for name, test in hist.where_input.items()))
                    for hist in policy.history.values())))
    return versions


def _read_cases(case_files: list[tuple[str, Any]], policies: list[Policy],
                problems: Problems) -> dict[str, list[tuple[str, PolicyCase]]]:
    """The cases of each policy id, with the file each came from."""
    cases: dict[str, list[tuple[str, PolicyCase]]] = {}
    for file, doc in case_files:
        try:
            policy_id, file_cases = cases_from_doc(doc, file)
        except PolicyError as exc:
            problems.items.extend(exc.problems)
            continue
        if policy_id not in {p.meta.id for p in policies}:
            problems.add(Position(file, 1, 1), "unknown_policy",
                         f"cases for unknown policy {policy_id!r}", policy=policy_id)
        cases.setdefault(policy_id, []).extend((file, c) for c in file_cases)
    return cases


def _build_engines(versions: dict[str, list[PolicyVersion]], engines: tuple[str, ...],
                   problems: Problems, staging: Staging) -> None:
    """Sort each policy's versions by date and build their engines; on any problem,
    close what was built (the staged candidates too) and raise."""
    for policy_versions in versions.values():
        policy_versions.sort(key=lambda v: v.compiled.policy.meta.effective_from
                             or dt.date.min)
        for version in policy_versions:
            for name in engines:
                try:
                    version.engines[name] = make_engine(name, version.compiled)
                except ValueError as exc:
                    # e.g. a rule set durable-rules cannot hold safely: found
                    # before anything is built, reported like any policy error.
                    problems.add(version.compiled.policy.meta.position, "engine_limit",
                                 f"engine {name}: {exc}")
    if problems.items:
        _close_engines(versions)
        staging.close()
        problems.raise_if_any()


def _bundle_hash(texts: Mapping[str, str]) -> str:
    """One hash of every file's name and text: which policy set made a decision."""
    digest = hashlib.sha256()
    for file in sorted(texts):
        digest.update(file.encode() + b"\0" + texts[file].encode() + b"\0")
    return digest.hexdigest()


def _close_engines(versions: dict[str, list[PolicyVersion]]) -> None:
    for policy_versions in versions.values():
        for version in policy_versions:
            for engine in version.engines.values():
                engine.close()


def _kind(doc: Any) -> str:
    if isinstance(doc, dict):
        if "org" in doc:
            return "org"
        if "cases" in doc:
            return "cases"
    return "policy"


def _check_version_dates(versions: dict[str, list[PolicyVersion]], problems: Problems) -> None:
    for name, policy_versions in versions.items():
        starts: dict[dt.date | None, str] = {}
        for version in policy_versions:
            meta = version.compiled.policy.meta
            if meta.effective_from in starts:
                problems.add(meta.position, "ambiguous_version",
                             f"{name} versions {starts[meta.effective_from]} and {meta.version} "
                             "take effect on the same date")
            starts[meta.effective_from] = meta.version
