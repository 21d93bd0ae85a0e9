"""A batch of decisions: one validation pass, one evaluation loop, one commit.

POST /v1/decisions/{policy}/batch answers one result per item, in order: the
decision (logged before the answer, like any) or a problem object with the
item's index. Where 10,000 single decisions cost 10,000 futures, queue entries
and shares of group commits, a batch validates every item, decides in one loop
those that don't need the log, and hands the log one ``submit_many``: one
transaction, one future, one wait. An item that needs the log's prior total
(A10) is decided by the log's writer, in order, so it sees the batch's earlier
items. Metrics are counted once per batch (each decision's latency: its share
of the batch, the commit included). Without ``explain`` no explanation
is built at all (the reasons are, as the log keeps them).

The cyclic garbage collector is paused while a batch is decided: every object a
batch makes lives until it is answered, and each young collection would walk
them all again, to find next to nothing (an item's exception and its traceback
make a cycle, collected once the batch is over). bench/batch.py measures the
batch, explained or not, against single requests (so does bench/http.py, 2.).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from decision_service.api.idempotency import batch_claims, key_reused
from decision_service.api.ids import new_id
from decision_service.api.service import DecisionService, answer_body, problem_of
from decision_service.api.shadows import ShadowJob
from decision_service.collector import collector_paused
from decision_service.decision import Decision
from decision_service.ltc.policies import headline_label
from decision_service.policyset import PolicySet, Prepared
from decision_service.store import (
    AggregateQuery,
    DecisionRecord,
    DraftRecord,
    IdempotencyClaim,
    IdempotencyKeyUsedError,
    LogRequest,
    Outcome,
)

Answer = dict[str, Any]


@dataclass(slots=True)
class _Item:
    """An item that passed validation, on its way to the log."""

    index: int
    prepared: Prepared
    claim: IdempotencyClaim | None
    decision_id: str
    decision: Decision | None = None  # an A10 item's is made by the log's writer


def decide_batch(service: DecisionService, policy: str, items: Sequence[object],
                 request_id: str | None, key: str | None = None, explain: bool = True,
                 backdate: bool = True) -> tuple[list[Answer], bool]:
    """One answer per item, in order: a decision, or a problem object with its index.

    Every decision is committed (in one transaction) before any is answered. With
    ``key``, items logged by an earlier send of the same batch are answered from the
    log, and the second value is True (also when another send raced this one)."""
    started = time.perf_counter()
    claims = batch_claims(key, policy, list(items))
    with collector_paused(), service.registry.lease() as policies:
        service._check_policy(policies, policy)
        run = _Run(service, policies, policy, request_id, explain)
        logged = run.logged_items(claims, key)
        pending = run.prepare_all(items, claims, logged, backdate)
        run.answer_all(run.log(pending))
    if run.decided:
        service.metrics.observe_decisions(policy, run.decided,
                                          (time.perf_counter() - started) / len(items))
    return run.results(), bool(logged) or run.raced


class _Run:
    """One batch's steps; ``answers`` fills in item by item, in any order."""

    def __init__(self, service: DecisionService, policies: PolicySet, policy: str,
                 request_id: str | None, explain: bool) -> None:
        self.service = service
        self.policies = policies
        self.policy = policy
        self.request_id = request_id
        self.explain = explain
        self.today = service.today()  # one date for the whole batch
        self.answers: dict[int, Answer] = {}
        self.decided: Counter[str] = Counter()  # headline label -> decisions logged
        self.raced = False

    def results(self) -> list[Answer]:
        return [self.answers[index] for index in sorted(self.answers)]

    def logged_items(self, claims: list[IdempotencyClaim | None],
                     key: str | None) -> dict[str, DecisionRecord]:
        """The items an earlier send of this batch logged; 422 if the key was used
        for another batch."""
        keys = [c.key for c in claims if c is not None]
        if key is None or not keys:
            return {}
        try:
            logged = self.service.store.get_by_keys(keys)
        except Exception as exc:
            raise problem_of(exc) from None
        digest = claims[0].request_hash if claims[0] is not None else None
        for record in logged.values():
            if record.request_hash != digest:
                raise key_reused(key, record.decision_id)
        return logged

    def prepare_all(self, items: Sequence[object], claims: list[IdempotencyClaim | None],
                    logged: dict[str, DecisionRecord], backdate: bool) -> list[_Item]:
        """Validate every item not logged before; the others are answered here."""
        pending: list[_Item] = []
        prepare, policies, policy = self.service._prepare, self.policies, self.policy
        today = self.today
        for index, raw in enumerate(items):
            claim = claims[index]
            if claim is not None and claim.key in logged:
                self.answers[index] = self.service._replayed(policies, logged[claim.key],
                                                            self.explain)
                continue
            try:
                prepared = prepare(policies, policy, raw, backdate, today)
            except Exception as exc:
                self.answers[index] = item_problem(index, exc)
                continue
            pending.append(_Item(index, prepared, claim, new_id()))
        return pending

    def log(self, pending: list[_Item]) -> list[tuple[_Item, Outcome]]:
        """Decide what doesn't need the log, then log every item as one: each logged
        item with its record or error, in order."""
        queued: list[_Item] = []
        requests: list[LogRequest] = []
        for item in pending:
            try:
                requests.append(self._request(item))
            except Exception as exc:
                self.answers[item.index] = item_problem(item.index, exc)
                continue
            queued.append(item)
        if not requests:
            return []
        try:
            outcomes = self.service.store.submit_many(requests).result()
        except Exception as exc:  # the store is closed: nothing was queued
            outcomes = [exc] * len(requests)
        return list(zip(queued, outcomes, strict=True))

    def _request(self, item: _Item) -> LogRequest:
        """What the log needs for ``item``; decided now unless A10 makes the log decide."""
        query = item.prepared.history_query
        if query is None:
            item.decision = self._evaluate(item.prepared, None)
            draft = self._draft(item, item.decision)
            return LogRequest(None, lambda _prior: draft, item.claim, fresh_id=True)

        def decide(prior: float) -> DraftRecord:
            assert query is not None
            item.decision = self._evaluate(item.prepared, {query.name: prior})
            return self._draft(item, item.decision)

        # As for a single decision: a decision dated before today must still see the
        # deals logged before it that are dated after it.
        until = max(query.until, self.today)
        return LogRequest(AggregateQuery(query.key, query.since, until, query.subject),
                          decide, item.claim, fresh_id=True)

    def _evaluate(self, prepared: Prepared, history: dict[str, float] | None) -> Decision:
        return self.policies.evaluate(prepared, history, engine=self.service.engine,
                                      explanation=self.explain)

    def _draft(self, item: _Item, decision: Decision) -> DraftRecord:
        return self.service._draft(self.policies, decision, item.decision_id,
                                   self.request_id, item.claim)

    def answer_all(self, logged: list[tuple[_Item, Outcome]]) -> None:
        """Each logged item's answer (its shadow queued), or its problem."""
        plan = self.policies.shadow_plan(self.policy)
        for item, outcome in logged:
            if isinstance(outcome, DecisionRecord):
                assert item.decision is not None  # decided, or it would not be logged
                self.answers[item.index] = {"decision_id": outcome.decision_id,
                                            **answer_body(item.decision, self.explain)}
                self.decided[headline_label(item.decision.outputs)] += 1
                if plan is not None:
                    self.service.shadows.submit(ShadowJob(
                        outcome.decision_id, self.policies, plan, item.prepared,
                        item.decision))
            elif isinstance(outcome, IdempotencyKeyUsedError) and outcome.same_request:
                self.raced = True
                self.answers[item.index] = self.service._replayed(
                    self.policies, self.service._record(outcome.decision_id), self.explain)
            else:
                self.answers[item.index] = item_problem(item.index, outcome)


def item_problem(index: int, exc: BaseException) -> Answer:
    """An item's error as its problem object, with its index."""
    if not isinstance(exc, Exception):
        raise exc
    body = problem_of(exc).body()
    body["index"] = index
    return body
