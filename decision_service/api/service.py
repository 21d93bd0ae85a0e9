"""What the endpoints do, without HTTP: decide, log, answer.

Each decision is committed to the log before its answer exists. Decisions that
don't depend on the log are evaluated in the request's thread, so the log's
writer thread only seals and inserts them; an A10 decision (deal splitting)
must see the prior total read inside the writer's transaction, so it is
evaluated there, in ``decide(prior)``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import structlog

from decision_service.api import logbook
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
from decision_service.policyset import PolicySet, Prepared, utc_today
from decision_service.store import (
    AggregateQuery,
    DecisionRecord,
    DecisionStore,
    DraftRecord,
    StoreError,
    UnstorableValueError,
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
    return {
        "decision_id": record.decision_id,
        "policy": record.policy,
        "policy_version": record.policy_version,
        "bundle_hash": record.bundle_hash,
        "engine": record.engine,
        "decided_at": record.decided_at.isoformat(),
        "decision_date": record.decision_date.isoformat(),
        "request_id": record.request_id,
        "input": record.input,
        "output": record.output,
        "reasons": record.reasons,
        "prev_hash": record.prev_hash,
        "record_hash": record.record_hash,
    }


class DecisionService:
    def __init__(self, registry: PolicyRegistry, store: DecisionStore, engine: str,
                 metrics: Metrics) -> None:
        self.registry = registry
        self.store = store
        self.engine = engine
        self.metrics = metrics
        self.shadows = ShadowRunner(store, metrics)

    def close(self) -> None:
        """Writes the shadows still queued; the app closes the store and the registry."""
        self.shadows.close()

    # -- records ---------------------------------------------------------------

    def _draft(self, policies: PolicySet, decision: Decision, decision_id: str,
               request_id: str | None) -> DraftRecord:
        entry = policies.history_entry(decision)
        output = dict(decision.outputs)
        if decision.history:
            # The A10 totals this decision saw: replay needs them, as does a reader.
            output["history"] = dict(decision.history)
        if decision.version_reason != "date":
            # A staged activation chose the version (rollout.yaml); absent: the date did.
            output["version_reason"] = decision.version_reason
        return DraftRecord(
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
        )

    def _plan(self, policies: PolicySet, prepared: Prepared, request_id: str | None,
              made: list[Decision]) -> tuple[AggregateQuery | None, Decide]:
        """What to hand the log for one validated input; ``made`` receives the Decision."""
        decision_id = new_id()
        query = prepared.history_query
        if query is None:
            decision = policies.evaluate(prepared, engine=self.engine)
            made.append(decision)
            draft = self._draft(policies, decision, decision_id, request_id)
            return None, lambda _prior: draft

        def decide(prior: float) -> DraftRecord:
            decision = policies.evaluate(prepared, {query.name: prior}, engine=self.engine)
            made.append(decision)
            return self._draft(policies, decision, decision_id, request_id)

        # A decision dated before today must still see the deals logged before it that
        # are dated after it: otherwise the second half of a split deal, dated
        # yesterday, would not see a first half dated today.
        until = max(query.until, utc_today())
        return AggregateQuery(query.key, query.since, until), decide

    @staticmethod
    def _answer(record: DecisionRecord, decision: Decision) -> dict[str, Any]:
        return {"decision_id": record.decision_id, **decision.as_dict()}

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
                 backdate: bool) -> Prepared:
        try:
            today = utc_today()
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
               made: list[Decision], backdate: bool) -> Future[DecisionRecord]:
        """Validate, decide (unless A10 makes the log decide) and hand to the log."""
        self._check_policy(policies, policy)
        prepared = self._prepare(policies, policy, raw, backdate)
        query, decide = self._plan(policies, prepared, request_id, made)
        future = logbook.submit(self.store, query, decide)
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
                           backdate: bool = True) -> dict[str, Any]:
        """On the event loop: the compiled engine decides in less time than handing the
        work to a thread and back (bench/http.py); waiting for the commit costs no thread."""
        started = time.perf_counter()
        with self.registry.lease() as policies:
            made: list[Decision] = []
            try:
                record = await asyncio.wrap_future(
                    self._start(policies, policy, raw, request_id, made, backdate))
            except Exception as exc:
                raise problem_of(exc) from None
        self.metrics.observe_decision(policy, made[-1].outputs, time.perf_counter() - started)
        return self._answer(record, made[-1])

    def decide(self, policy: str, raw: object, request_id: str | None,
               backdate: bool = True) -> dict[str, Any]:
        """In a worker thread (the durable engine: slower, and behind a global lock)."""
        started = time.perf_counter()
        with self.registry.lease() as policies:
            made: list[Decision] = []
            try:
                record = self._start(policies, policy, raw, request_id, made,
                                     backdate).result()
            except Exception as exc:
                raise problem_of(exc) from None
        self.metrics.observe_decision(policy, made[-1].outputs, time.perf_counter() - started)
        return self._answer(record, made[-1])

    def decide_batch(self, policy: str, items: Sequence[object], request_id: str | None,
                     backdate: bool = True) -> list[dict[str, Any]]:
        """One answer per item, in order: a decision, or a problem object with its index.
        Every item is submitted before any is awaited, so the log commits them in groups."""
        started = time.perf_counter()
        results: list[dict[str, Any] | None] = [None] * len(items)
        with self.registry.lease() as policies:
            self._check_policy(policies, policy)
            pending: list[tuple[int, list[Decision], Future[DecisionRecord]]] = []
            for index, raw in enumerate(items):
                made: list[Decision] = []
                try:
                    pending.append((index, made,
                                    self._start(policies, policy, raw, request_id, made,
                                                backdate)))
                except Exception as exc:
                    results[index] = self._item_problem(index, exc)
            elapsed = (time.perf_counter() - started) / max(len(items), 1)
            for index, made, future in pending:
                error = future.exception()
                if error is None:
                    results[index] = self._answer(future.result(), made[-1])
                    self.metrics.observe_decision(policy, made[-1].outputs, elapsed)
                else:
                    results[index] = self._item_problem(index, error)
        return [r for r in results if r is not None]

    def _item_problem(self, index: int, exc: BaseException) -> dict[str, Any]:
        if not isinstance(exc, Exception):
            raise exc
        body = problem_of(exc).body()
        body["index"] = index
        return body

    def check_authority(self, raw: object, request_id: str | None,
                        may_read: bool = True) -> dict[str, Any]:
        """``may_read``: the caller's key has `read`; a logged deal is only checked for
        such a key, as the answer tells its level."""
        started = time.perf_counter()
        with self.registry.lease() as policies:
            try:
                request = authority.parse_request(raw, policies.org)
                today = utc_today()
                if request.deal is None and not may_read:
                    raise Problem(403, "forbidden", "checking a logged decision by its id "
                                  "reads it: this API key lacks the `read` scope")
                if request.deal is not None:
                    deal = authority.decide_inline_deal(policies, request, today, self.engine)
                else:
                    deal = self._logged_deal(request.decision_id or "")
                decision = authority.check(policies, deal, request, today, self.engine)
                draft = self._draft(policies, decision, new_id(), request_id)
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
