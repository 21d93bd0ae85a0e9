"""What the endpoints do, without HTTP: decide, log, answer.

Each decision is committed to the log before its answer exists. Decisions that
don't depend on the log are evaluated in the request's thread, so the log's
writer thread only seals and inserts them; an A10 decision (deal splitting)
must see the prior total read inside the writer's transaction, so it is
evaluated there, in ``decide(prior)``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import anyio.to_thread
import structlog

from decision_service.api import logbook
from decision_service.api.idempotency import decision_claim, key_reused
from decision_service.api.ids import new_id
from decision_service.api.metrics import Metrics
from decision_service.api.problems import Problem, invalid_input
from decision_service.api.registry import PolicyRegistry
from decision_service.api.shadows import ShadowJob, ShadowRunner
from decision_service.decision import Decision
from decision_service.errors import (
    EvaluationError,
    FieldProblem,
    InputError,
    UnknownPolicyError,
)
from decision_service.ltc import authority
from decision_service.ltc.policies import DEAL_POLICY, INTERNAL_POLICIES
from decision_service.policyset import PolicySet, Prepared
from decision_service.replay import redecide
from decision_service.staging import BY_DATE
from decision_service.store import (
    AggregateQuery,
    DecisionRecord,
    DecisionStore,
    DraftRecord,
    IdempotencyClaim,
    IdempotencyKeyUsedError,
    StoreError,
    UnstorableValueError,
    record_view,
)

# Ids this service writes are uuid4 hex; anything else outside this alphabet is
# unknown without asking the database (and can't smuggle NUL bytes into it).
_SANE_DECISION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

log = structlog.get_logger("decision_service.api")
MAX_BACKDATE_DAYS = 30
Decide = Callable[[float], DraftRecord]


def problem_of(exc: Exception) -> Problem:
    """Core and store errors as the answer a client gets."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, InputError):
        return invalid_input(exc.problems)
    if isinstance(exc, UnknownPolicyError):
        return Problem(404, "unknown-policy", str(exc))
    if isinstance(exc, EvaluationError):
        # The policy is at fault, not the client; still a 4xx: retrying won't help
        # and the client needs to know this input can't be decided. Logged loudly.
        log.error("policy_cannot_decide", error=str(exc))
        return Problem(422, "cannot-decide", f"the policy cannot decide this input: {exc}")
    if isinstance(exc, IdempotencyKeyUsedError):
        return Problem(422, "idempotency-key-reused",
                       f"the idempotency key was already used (decision {exc.decision_id})")
    if isinstance(exc, UnstorableValueError):
        # The input itself cannot be stored (e.g. a lone surrogate): the client's to fix.
        return Problem(422, "unstorable-input", str(exc))
    if isinstance(exc, StoreError):
        log.error("store_error", error=repr(exc))
        return Problem(503, "store-unavailable",
                       "the decision log could not record the decision; nothing was decided",
                       headers={"Retry-After": "1"})
    raise exc


def _check_text(prepared: Prepared) -> None:
    """NUL can't be stored in a PostgreSQL text column (the A10 key is built from
    inputs): refuse it as bad input, or one request would fail its whole commit group."""
    bad = [FieldProblem(name, "format", "must not contain NUL characters")
           for name, value in prepared.values.items()
           if isinstance(value, str) and "\x00" in value]
    if bad:
        raise InputError(bad)


def _check_logged_date(prepared: Prepared, today: dt.date) -> None:
    """A logged decision is dated from 30 days before today up to today; other dates
    are what-ifs (preview, eval, simulate) or need the `backdate` scope."""
    earliest = today - dt.timedelta(days=MAX_BACKDATE_DAYS)
    if not earliest <= prepared.decision_date <= today:
        raise InputError([FieldProblem(
            "as_of", "range",
            f"a logged decision is dated from {earliest.isoformat()} to {today.isoformat()} "
            f"(not {prepared.decision_date.isoformat()}); other dates need an API key with "
            "the `backdate` scope / 记录的决策日期须在今天及之前30天内，其他日期需 backdate 权限")])


def record_as_dict(record: DecisionRecord) -> dict[str, Any]:
    """The logged decision as GET /v1/decisions/{id} shows it."""
    return record_view(record)


def answer_body(decision: Decision, explain: bool) -> dict[str, Any]:
    """The answer for ``decision``.  Without ``explain``, the decision alone: policy
    version, result fields and the A10 totals it saw, no reasons and no explanation
    (a 10,000-item batch then answers in about 1.5 MB; GET /v1/decisions/{id} has
    the rest)."""
    if explain:
        return decision.as_dict()
    body: dict[str, Any] = {"policy_version": decision.policy_version, **decision.outputs}
    if decision.history:
        body["history"] = dict(decision.history)
    return body


class DecisionService:
    def __init__(self, registry: PolicyRegistry, store: DecisionStore, engine: str,
                 metrics: Metrics, zone: tzinfo = UTC) -> None:
        self.registry = registry
        self.store = store
        self.engine = engine
        self.metrics = metrics
        self.shadows = ShadowRunner(store, metrics)
        self.zone = zone

    def today(self) -> date:
        """Today in the business time zone: the decision date of a request without as_of."""
        return datetime.now(self.zone).date()

    def close(self) -> None:
        """Writes the shadows still queued; the app closes the store and the registry."""
        self.shadows.close()

    # -- records ---------------------------------------------------------------

    def _draft(self, policies: PolicySet, decision: Decision, decision_id: str,
               request_id: str | None, claim: IdempotencyClaim | None = None,
               asked: dict[str, Any] | None = None) -> DraftRecord:
        """The decision's draft for the log. Its payloads are taken as they are, not
        normalised by a JSON round trip (``DraftRecord.of_json_values``): a decision's
        input, outputs and reasons are JSON values, and so is ``asked`` (dumped in
        JSON mode); the answer reads nothing of the record but its id."""
        entry = policies.history_entry(decision)
        output = dict(decision.outputs)
        if decision.history:
            # The A10 totals this decision saw: replay needs them, as does a reader.
            output["history"] = dict(decision.history)
        if asked is not None:
            # What was asked, when the policy decides on facts derived from it (the
            # authority check: the deal's decision id or the inline deal, the
            # approver, the delegation), so an auditor sees who was checked against what.
            output["request"] = asked
        if decision.version_reason != "date":
            # A staged activation chose the version (rollout.yaml); absent: the date did.
            output["version_reason"] = decision.version_reason
        return DraftRecord.of_json_values(
            decision_id=decision_id,
            policy=decision.policy,
            policy_version=decision.policy_version,
            bundle_hash=policies.bundle_hash,
            engine=decision.engine,
            decided_at=datetime.now(UTC),
            decision_date=decision.decision_date,
            request_id=request_id,
            input=decision.input,
            output=output,
            reasons=[r.as_dict() for r in decision.reasons],
            agg_key=entry[0] if entry else None,
            agg_amount=entry[1] if entry else None,
            agg_subject=policies.history_subject(decision),
            idempotency_key=claim.key if claim else None,
            request_hash=claim.request_hash if claim else None,
        )

    def _plan(self, policies: PolicySet, prepared: Prepared, request_id: str | None,
              made: list[Decision], claim: IdempotencyClaim | None
              ) -> tuple[AggregateQuery | None, Decide]:
        """What to hand the log for one validated input; ``made`` receives the Decision."""
        decision_id = new_id()
        query = prepared.history_query
        if query is None:
            decision = policies.evaluate(prepared, engine=self.engine)
            made.append(decision)
            draft = self._draft(policies, decision, decision_id, request_id, claim)
            return None, lambda _prior: draft

        def decide(prior: float) -> DraftRecord:
            decision = policies.evaluate(prepared, {query.name: prior}, engine=self.engine)
            made.append(decision)
            return self._draft(policies, decision, decision_id, request_id, claim)

        # A decision dated before today must still see the deals logged before it that
        # are dated after it: otherwise the second half of a split deal, dated
        # yesterday, would not see a first half dated today.
        until = max(query.until, self.today())
        return AggregateQuery(query.key, query.since, until, query.subject), decide

    @staticmethod
    def _answer(record: DecisionRecord, decision: Decision,
                explain: bool = True) -> dict[str, Any]:
        return {"decision_id": record.decision_id, **answer_body(decision, explain)}

    def _replayed(self, policies: PolicySet, record: DecisionRecord,
                  explain: bool) -> dict[str, Any]:
        """The answer the logged ``record`` was given: decided again exactly as replay
        does (same version, date and A10 total), else rebuilt from what was logged."""
        try:
            # Pinned to the logged version; the answer gave the reason it was chosen.
            decision = dataclasses.replace(
                redecide(policies, record),
                version_reason=record.output.get("version_reason", BY_DATE))
        except (UnknownPolicyError, InputError, EvaluationError, ValueError):
            outputs = {k: v for k, v in record.output.items() if k != "history"}
            decision = Decision(policy=record.policy, policy_version=record.policy_version,
                                outputs=outputs, reasons=(), decision_date=record.decision_date,
                                engine=record.engine, input=record.input,
                                history=record.output.get("history") or {})
            body = self._answer(record, decision, explain)
            if explain:
                body["reasons"] = record.reasons
            return body
        return self._answer(record, decision, explain)

    def _logged_answer(self, policies: PolicySet, claim: IdempotencyClaim, key: str,
                       explain: bool) -> dict[str, Any] | None:
        """The first answer for a retried key (None: the key is new); 422 when the
        key was used for another request."""
        record = self.store.get_by_keys([claim.key]).get(claim.key)
        if record is None:
            return None
        if record.request_hash != claim.request_hash:
            raise key_reused(key, record.decision_id)
        return self._replayed(policies, record, explain)

    def _after_race(self, policies: PolicySet, exc: IdempotencyKeyUsedError, key: str,
                    explain: bool) -> dict[str, Any]:
        """Another request with the same key was logged first (under the chain lock)."""
        if not exc.same_request:
            raise key_reused(key, exc.decision_id)
        record = self._record(exc.decision_id)
        return self._replayed(policies, record, explain)

    @staticmethod
    def _check_policy(policies: PolicySet, policy: str) -> None:
        if policy in INTERNAL_POLICIES:
            raise Problem(404, "unknown-policy",
                          f"{policy!r} is decided through POST /v1/authority/check, "
                          "which derives its inputs; it has no decision endpoint")
        if policy not in policies.versions:
            raise problem_of(UnknownPolicyError(
                policy, [p for p in policies.names() if p not in INTERNAL_POLICIES]))

    def _prepare(self, policies: PolicySet, policy: str, raw: object,
                 backdate: bool, today: date | None = None) -> Prepared:
        """Validate ``raw`` for a logged decision; ``today``: the batch's, read once."""
        try:
            today = today or self.today()
            prepared = policies.prepare(policy, raw, today=today)
            _check_text(prepared)
            if not backdate:
                _check_logged_date(prepared, today)
        except InputError:
            self.metrics.rejected_input(policy)
            raise
        return prepared

    # -- endpoints -------------------------------------------------------------

    def _start(self, policies: PolicySet, policy: str, raw: object, request_id: str | None,
               made: list[Decision], claim: IdempotencyClaim | None = None,
               backdate: bool = True) -> Future[DecisionRecord]:
        """Validate, decide (unless A10 makes the log decide) and hand to the log."""
        self._check_policy(policies, policy)
        prepared = self._prepare(policies, policy, raw, backdate)
        query, decide = self._plan(policies, prepared, request_id, made, claim)
        future = logbook.submit(self.store, query, decide, claim)
        plan = policies.shadow_plan(policy)
        if plan is not None:
            # Once logged (in the writer's thread): only a job is queued, no shadow
            # work happens on the answer's path.
            def shadow(done: Future[DecisionRecord]) -> None:
                if done.exception() is None and made:
                    self.shadows.submit(ShadowJob(done.result().decision_id, policies, plan,
                                                  prepared, made[-1]))

            future.add_done_callback(shadow)
        return future

    async def decide_async(self, policy: str, raw: object, request_id: str | None,
                           key: str | None = None, explain: bool = True,
                           backdate: bool = True,
                           in_thread: bool = False) -> tuple[dict[str, Any], bool]:
        """Decide and wait for the log, without a thread blocked on the commit.

        The compiled engine decides on the event loop, in less time than handing the
        work to a thread and back (bench/http.py); ``in_thread`` decides in a worker
        thread instead (the durable engine: slower, and behind a global lock).
        Returns the answer and whether it is the replay of an earlier one (``key``)."""
        started = time.perf_counter()
        with self.registry.lease() as policies:
            made: list[Decision] = []
            claim = decision_claim(key, policy, raw)
            try:
                if claim is not None and key is not None:
                    first = self._logged_answer(policies, claim, key, explain)
                    if first is not None:
                        return first, True
                start = functools.partial(self._start, policies, policy, raw, request_id,
                                          made, claim, backdate)
                future = await anyio.to_thread.run_sync(start) if in_thread else start()
                record = await logbook.landing().wait(future)
            except IdempotencyKeyUsedError as exc:
                return self._after_race(policies, exc, key or "", explain), True
            except Exception as exc:
                raise problem_of(exc) from None
        self.metrics.observe_decision(policy, made[-1].outputs, time.perf_counter() - started)
        return self._answer(record, made[-1], explain), False

    def preview(self, policy: str, raw: object, explain: bool = True) -> dict[str, Any]:
        """The answer a decision would get now, without a decision id: nothing is
        logged and nothing counts for A10; the prior total is read from the log."""
        with self.registry.lease() as policies:
            try:
                self._check_policy(policies, policy)
                prepared = self._prepare(policies, policy, raw, backdate=True)
                query = prepared.history_query
                history: dict[str, float] = {}
                if query is not None:
                    history[query.name] = self.store.prior_total(
                        AggregateQuery(query.key, query.since, query.until, query.subject))
                decision = policies.evaluate(prepared, history, engine=self.engine)
            except Exception as exc:
                raise problem_of(exc) from None
        return answer_body(decision, explain)

    def check_authority(self, raw: object, request_id: str | None,
                        may_read: bool = True) -> dict[str, Any]:
        """``may_read``: the caller's key has `read`; a logged deal is only checked for
        such a key, as the answer tells its level."""
        started = time.perf_counter()
        with self.registry.lease() as policies:
            try:
                request = authority.parse_request(raw, policies.org)
                today = self.today()
                if request.deal is None and not may_read:
                    raise Problem(403, "forbidden", "checking a logged decision by its id "
                                  "reads it: this API key lacks the `read` scope")
                if request.deal is not None:
                    deal = authority.decide_inline_deal(policies, request, today, self.engine)
                else:
                    deal = self._logged_deal(request.decision_id or "")
                decision = authority.check(policies, deal, request, today, self.engine)
                asked = request.model_dump(mode="json", exclude_none=True)
                draft = self._draft(policies, decision, new_id(), request_id, asked=asked)
                record = self.store.log_decision(None, lambda _prior: draft)
            except Exception as exc:
                raise problem_of(exc) from None
        self.metrics.observe_decision(decision.policy, decision.outputs,
                                      time.perf_counter() - started)
        body = self._answer(record, decision)
        if request.decision_id is not None:
            body["deal_decision_id"] = request.decision_id
        return body

    def _logged_deal(self, decision_id: str) -> Decision:
        record = self._record(decision_id, field="decision_id")
        if record.policy != DEAL_POLICY:
            raise InputError([FieldProblem(
                "decision_id", "constraint",
                f"decision {decision_id} is a {record.policy!r} decision, not a deal "
                f"authorization ({DEAL_POLICY!r})")])
        outputs = {k: v for k, v in record.output.items()
                   if k not in ("history", "version_reason")}
        return Decision(policy=record.policy, policy_version=record.policy_version,
                        outputs=outputs, reasons=(), decision_date=record.decision_date,
                        engine=record.engine, input=record.input)

    def _record(self, decision_id: str, field: str | None = None) -> DecisionRecord:
        record = self.store.get(decision_id) if _SANE_DECISION_ID.fullmatch(decision_id) else None
        if record is None:
            errors = [{"field": field, "code": "not_found",
                       "message": f"no decision {decision_id!r} in the log"}] if field else []
            raise Problem(404, "unknown-decision", f"no decision {decision_id!r} in the log",
                          errors)
        return record

    def get(self, decision_id: str) -> dict[str, Any]:
        """The logged decision, with the shadow result beside it (null: none, or not yet)."""
        try:
            body = record_as_dict(self._record(decision_id))
            body["shadow"] = self.store.shadows_of([decision_id]).get(decision_id)
        except Exception as exc:
            raise problem_of(exc) from None
        return body

    @contextmanager
    def policies(self) -> Iterator[PolicySet]:
        with self.registry.lease() as policies:
            yield policies
