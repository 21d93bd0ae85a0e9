"""Replaying the decision log: does every logged decision still reproduce?

Each record is decided again with the policy version that made it, on its own
decision date and with the A10 history total it saw, and compared field by
field (outputs and reasons). The version comes from the very bundle that
decided when the log keeps it (by ``bundle_hash``), so a figure edited since
without a new version number does not make replay fail; otherwise from the
loaded set. A version found in neither, or any difference, is reported;
`decision-service replay` exits 1 when there is one. The version a record names
is the one used, so decisions made under a staged activation (rollout.yaml)
replay with the version that actually decided.

Shadow results (a candidate's decision beside the answer) are replayed too and
reported apart: they were never answered, so they never fail a replay.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from decision_service.decision import Decision
from decision_service.errors import (
    EvaluationError,
    InputError,
    PolicyError,
    Position,
    UnknownPolicyError,
)
from decision_service.language.model import ShadowCandidate
from decision_service.policyset import PolicySet
from decision_service.staging import ShadowPlan
from decision_service.store import DecisionRecord, DecisionStore

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ShadowReplay:
    """A recorded shadow decided again. ``ok`` None: it recorded an error, nothing to redo."""

    candidate: dict[str, Any]
    ok: bool | None
    differences: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"candidate": self.candidate, "ok": self.ok,
                "differences": list(self.differences)}


@dataclass(frozen=True, slots=True)
class ReplayResult:
    decision_id: str
    policy: str
    policy_version: str
    ok: bool
    differences: tuple[str, ...]
    shadow: ShadowReplay | None = None  # never part of ``ok``

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "decision_id": self.decision_id,
            "policy": self.policy,
            "policy_version": self.policy_version,
            "ok": self.ok,
            "differences": list(self.differences),
        }
        if self.shadow is not None:
            body["shadow"] = self.shadow.as_dict()
        return body


def redecide(policies: PolicySet, record: DecisionRecord,
             engine: str | None = None) -> Decision:
    """The record's decision made again by the same policy version."""
    history = record.output.get("history") or {}
    prepared = policies.prepare(record.policy, record.input, today=record.decision_date,
                                version=record.policy_version)
    decision = policies.evaluate(prepared, history, engine or record.engine)
    if history:
        # `evaluate` reports history only when a lookup was due; keep the record's.
        decision = dataclasses.replace(decision, history=dict(history))
    return decision


def compare(record: DecisionRecord, decision: Decision) -> list[str]:
    differences = []
    for name, value in decision.outputs.items():
        logged = record.output.get(name, "<absent>")
        if logged != value:
            differences.append(f"{name}: logged {logged!r}, now {value!r}")
    now = [r.as_dict() for r in decision.reasons]
    if [dict(r) for r in record.reasons] != now:
        differences.append(f"reasons: logged {[r.get('rule') for r in record.reasons]}, "
                           f"now {[r['rule'] for r in now]}")
    return differences


BundleSource = Callable[[str], Mapping[str, str] | None]


class LoggedBundles:
    """The policy set each record was decided by: rebuilt from the texts the log keeps
    under its bundle hash, else ``loaded`` (records logged before bundles were kept)."""

    def __init__(self, loaded: PolicySet, source: BundleSource | None) -> None:
        self.loaded = loaded
        self._source = source
        self._built: dict[tuple[str, str], PolicySet] = {}

    def for_record(self, record: DecisionRecord, engine: str) -> PolicySet:
        if self._source is None or record.bundle_hash == self.loaded.bundle_hash:
            return self.loaded
        key = (record.bundle_hash, engine)
        if key not in self._built:
            texts = self._source(record.bundle_hash)
            try:
                built = PolicySet.from_texts(texts, (engine,)) if texts else None
            except PolicyError:
                built = None  # no longer loads here: the loaded set is all there is
            self._built[key] = built or self.loaded
        return self._built[key]

    def close(self) -> None:
        for built in self._built.values():
            if built is not self.loaded:
                built.close()
        self._built.clear()


def replay(policies: PolicySet, records: Iterable[DecisionRecord],
           engine: str | None = None,
           bundles: BundleSource | None = None,
           shadows: DecisionStore | None = None) -> Iterator[ReplayResult]:
    """Replay ``records`` with the bundles that decided them (``bundles``: the log's
    bundle texts by hash, ``store.get_bundle``); with ``shadows`` (the log they came
    from), their shadows too."""
    logged = LoggedBundles(policies, bundles)
    try:
        iterator = iter(records)
        while chunk := list(islice(iterator, _CHUNK)):
            found = shadows.shadows_of([r.decision_id for r in chunk]) if shadows else {}
            for record in chunk:
                deciding = logged.for_record(record, engine or record.engine)
                result = _replay_one(deciding, record, engine)
                shadow = found.get(record.decision_id)
                if shadow is not None:
                    result = dataclasses.replace(
                        result, shadow=replay_shadow(deciding, record, shadow))
                yield result
    finally:
        logged.close()


def _replay_one(policies: PolicySet, record: DecisionRecord,
                engine: str | None) -> ReplayResult:
    try:
        decision = redecide(policies, record, engine)
        differences = compare(record, decision)
    except UnknownPolicyError:
        differences = [f"policy {record.policy} version {record.policy_version} is not in "
                       "the loaded policy set"]
    except (InputError, EvaluationError, ValueError) as exc:
        differences = [f"cannot decide the logged input again: {exc}"]
    return ReplayResult(record.decision_id, record.policy, record.policy_version,
                        not differences, tuple(differences))


def replay_shadow(policies: PolicySet, record: DecisionRecord,
                  shadow: dict[str, Any]) -> ShadowReplay:
    """The recorded shadow decided again by its candidate, beside the logged decision."""
    candidate = dict(shadow.get("candidate") or {})
    if "error" in shadow:
        return ShadowReplay(candidate, None, ())
    plan = _plan_for(policies, record.policy, candidate)
    if plan is None:
        return ShadowReplay(candidate, False, (f"candidate {candidate} is not loaded (only "
                                               "the live set's versions and the candidate "
                                               "rollout.yaml names now can be replayed)",))
    try:
        history = record.output.get("history") or {}
        prepared = policies.prepare(record.policy, record.input, today=record.decision_date,
                                    version=record.policy_version)
        decision = dataclasses.replace(policies.evaluate(prepared, history, "compiled"),
                                       history=dict(history))
        again = policies.shadow(plan, prepared, decision)
    except (UnknownPolicyError, InputError, EvaluationError, ValueError) as exc:
        return ShadowReplay(candidate, False, (f"cannot decide the shadow again: {exc}",))
    differences = [f"{name}: recorded {shadow.get('outputs', {}).get(name, '<absent>')!r}, "
                   f"now {value!r}" for name, value in again["outputs"].items()
                   if shadow.get("outputs", {}).get(name, "<absent>") != value]
    if again["policy_version"] != shadow.get("policy_version"):
        differences.append(f"version: recorded {shadow.get('policy_version')!r}, "
                           f"now {again['policy_version']!r}")
    return ShadowReplay(candidate, not differences, tuple(differences))


def _plan_for(policies: PolicySet, policy: str, candidate: dict[str, Any]) -> ShadowPlan | None:
    current = policies.shadow_plan(policy)
    if current is not None and current.describe() == candidate:
        return current
    version = candidate.get("version")
    if set(candidate) != {"version"} or (policy, version) not in {
            (name, v.compiled.version) for name, vs in policies.versions.items() for v in vs}:
        return None
    nowhere = Position("<replay>", 1, 1)
    return ShadowPlan(ShadowCandidate(policy, str(version), None, nowhere, nowhere))


def parse_since(value: str | None) -> dt.datetime | None:
    """`--since 2026-11-01` or a full ISO timestamp; naive means UTC."""
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
