"""The FastAPI application: ``create_app(settings)``.

``create_app`` loads the policies and opens the decision log at once, so a bad
policy directory or database URL fails before any socket is bound; the app's
lifespan closes them again. The app holds no globals: several apps can live in
one process (the tests do that).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio.to_thread
import structlog
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from decision_service.api import (
    docs,
    logguard,
    openapi,
    problems,
    routes_authority,
    routes_decisions,
    routes_ops,
    routes_org,
    routes_policies,
    routes_rollout,
    runtime,
)
from decision_service.api import logging as api_logging
from decision_service.api.auth import KeyRing
from decision_service.api.context import AppContext
from decision_service.api.front import Catch, Front
from decision_service.api.metrics import Metrics
from decision_service.api.registry import PolicyRegistry
from decision_service.api.schemas import BatchIn, ExplanationOut, ReasonOut
from decision_service.api.service import DecisionService
from decision_service.api.settings import ServiceSettings, business_zone
from decision_service.errors import PolicyError
from decision_service.ltc.authority import AuthorityRequest
from decision_service.store import open_store
from decision_service.store.checkpoints import Checkpointer

SETTINGS_ENV = "DECISION_SERVICE_SETTINGS_JSON"  # how `run` hands settings to workers
SNAPSHOT_ENV = "DECISION_SERVICE_POLICY_SNAPSHOT"  # the workers' last good policy set
# Requests wait in threads for the log's group commit; the default 40 threads
# would cap concurrency (and so group size) below what one worker can serve.
THREADPOOL_SIZE = 200

log = structlog.get_logger("decision_service.api")

DESCRIPTION = """Decisions for the lead-to-cash process, from the YAML policies in `policies/`.

Every decision is committed to a hash-chained log before it is answered; quote its
`decision_id` later (GET /v1/decisions/{decision_id}, POST /v1/authority/check).
Errors are `application/problem+json` (RFC 9457) with one entry per field in `errors`.
Send API keys as `Authorization: Bearer <key>` (scopes: decide, read, admin).
"""


def _open_context(settings: ServiceSettings,
                  policy_snapshot: Path | None) -> tuple[AppContext, Checkpointer]:
    """Load the policies and open the log, at once: a bad set or an unreachable log
    stops the start here, with nothing left open."""
    registry = PolicyRegistry(settings.policies_dir, settings.engine, policy_snapshot)
    try:
        store = open_store(settings.db_url, settings.store_timeout)
    except BaseException:
        registry.close()
        raise
    try:
        checkpointer = logguard.check_log(store, settings.db_url, settings.new_log,
                                          settings.checkpoint_interval)
        store.save_bundle(registry.current.bundle_hash, registry.current.texts)
    except BaseException:
        store.close()
        registry.close()
        raise
    registry.before_activate = lambda policies: store.save_bundle(policies.bundle_hash,
                                                                  policies.texts)
    metrics = Metrics()
    ctx = AppContext(settings=settings, registry=registry, store=store,
                     service=DecisionService(registry, store, settings.engine, metrics,
                                             business_zone(settings.timezone)),
                     metrics=metrics, keyring=KeyRing(settings.api_keys))
    return ctx, checkpointer


def _lifespan(ctx: AppContext, checkpointer: Checkpointer) -> Callable[
        [FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Start-up and shutdown: the shutdown finishes every submitted write, signs the
    head and writes the last log lines."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, THREADPOOL_SIZE)
        hup = _install_sighup(ctx)
        stop_watching = _tune_served_worker(ctx)
        checkpointer.start()
        log.info("service_started", policies=ctx.registry.current.names(),
                 engine=ctx.settings.engine, bundle_hash=ctx.registry.current.bundle_hash,
                 auth=ctx.keyring.enabled)
        try:
            yield
        finally:
            if hup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            ctx.service.close()
            try:
                checkpointer.close()  # the head at shutdown, signed
            except Exception:
                log.exception("checkpoint_at_shutdown_failed")
            ctx.store.close()  # finishes every write already submitted
            ctx.registry.close()
            stop_watching()
            log.info("service_stopped")
            api_logging.flush()

    return lifespan


def _tune_served_worker(ctx: AppContext) -> Callable[[], None]:
    """A worker served by uvicorn, not an in-process test client: the interpreter's
    settings, the collector's pauses timed, access lines batched. Returns what undoes
    the timing at shutdown."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    runtime.tune_served_worker()
    stop_watching = ctx.metrics.watch_collector()
    api_logging.batch_access_lines()
    return stop_watching


def create_app(settings: ServiceSettings, policy_snapshot: Path | None = None) -> FastAPI:
    api_logging.configure(settings.log_level)
    ctx, checkpointer = _open_context(settings, policy_snapshot)
    app = ServiceApp(title="decision-service", version=_version(), description=DESCRIPTION,
                     lifespan=_lifespan(ctx, checkpointer), docs_url=None, redoc_url=None)
    docs.install(app)
    app.state.ctx = ctx
    problems.install(app)
    for module in (routes_decisions, routes_authority, routes_policies, routes_org,
                   routes_rollout, routes_ops):
        app.include_router(module.router(ctx))
    openapi.install(app, [BatchIn, AuthorityRequest, ExplanationOut, ReasonOut], ctx.registry)
    app.add_middleware(Catch)
    app.front = Front(app.stack, ctx.metrics, guard=not ctx.keyring.enabled,
                      routes=routes_decisions.fast_routes(ctx) + routes_ops.fast_routes(ctx))
    return app


class ServiceApp(FastAPI):
    """FastAPI behind ``front.Front``: every HTTP request passes Front, which answers the
    hot endpoints itself and hands the rest to FastAPI's own stack (``stack``)."""

    front: Front | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is not None and scope["type"] == "http":
            await self.front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def stack(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's middleware stack, routing and endpoints, without Front."""
        await super().__call__(scope, receive, send)


def app_from_env() -> FastAPI:
    """Factory for uvicorn's worker processes (``run`` with workers > 1)."""
    snapshot = os.environ.get(SNAPSHOT_ENV)
    return create_app(ServiceSettings.from_json(os.environ[SETTINGS_ENV]),
                      Path(snapshot) if snapshot else None)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("decision-service")
    except PackageNotFoundError:
        return "0"


def _install_sighup(ctx: AppContext) -> bool:
    """SIGHUP reloads the policies, as POST /v1/admin/reload does (signals need the main
    thread: under TestClient the app runs elsewhere and this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    loop = asyncio.get_running_loop()

    def reload() -> None:
        try:
            ctx.registry.reload()
            ctx.metrics.reloads.labels("ok").inc()
        except PolicyError as exc:
            ctx.metrics.reloads.labels("rejected").inc()
            log.warning("policy_reload_rejected", trigger="SIGHUP",
                        problems=[str(p) for p in exc.problems])
        except Exception:
            log.exception("policy_reload_failed", trigger="SIGHUP")

    try:
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, reload))
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True
