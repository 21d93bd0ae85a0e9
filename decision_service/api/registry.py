"""The active policy set, swapped atomically on reload, with leases for requests.

A request takes a lease on the set active when it starts and decides on that set
to the end, even if a reload swaps in another meanwhile. A replaced set is closed
(durable-rules rulesets must be deleted) only when its last lease is returned,
so no request ever evaluates on a closed engine, and none is left open forever.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog

from decision_service.errors import PolicyError, PolicyProblem, Position
from decision_service.policy_files import read_policy_dir
from decision_service.policyset import PolicySet

log = structlog.get_logger("decision_service.api")


@dataclass
class _Generation:
    policies: PolicySet
    leases: int = 0
    retired: bool = False


@dataclass(frozen=True)
class ReloadResult:
    bundle_hash: str
    previous_bundle_hash: str
    policies: list[str]

    @property
    def changed(self) -> bool:
        return self.bundle_hash != self.previous_bundle_hash


class PolicyRegistry:
    """``snapshot``: with several workers, uvicorn restarts them all on SIGHUP and each
    loads the directory afresh. The last set a worker loaded is kept in this file, so
    a worker restarted onto an invalid directory serves that set instead of dying."""

    def __init__(self, directory: Path, engine: str, snapshot: Path | None = None) -> None:
        self.directory = directory
        self.engine = engine
        self.snapshot = snapshot
        # Raises PolicyError: a service never starts without a valid set.
        self._active = _Generation(self._load(initial=True))
        self._lock = threading.Lock()  # guards _active and every generation's counters
        self._reload_lock = threading.Lock()  # one reload at a time; a load takes a while
        # Called with a set before it may decide (the app logs its bundle); a failure
        # keeps the active set.
        self.before_activate: Callable[[PolicySet], None] = lambda _policies: None

    def _read_and_compile(self) -> tuple[dict[str, str], PolicySet]:
        """The directory as a set; any failure at all is a PolicyError, so no policy file,
        however malformed, can crash a worker or answer a 500."""
        try:
            texts = read_policy_dir(self.directory)
            # Only the configured engine: building durable rulesets nobody uses costs
            # time and durable-rules state.
            return texts, PolicySet.from_texts(texts, (self.engine,))
        except PolicyError:
            raise
        except Exception as exc:
            log.exception("policies_load_failed", directory=str(self.directory))
            raise PolicyError([PolicyProblem(
                Position(str(self.directory), 1, 1), "load_failed",
                f"the policies could not be loaded ({type(exc).__name__})")]) from None

    def _load(self, initial: bool = False) -> PolicySet:
        try:
            texts, policies = self._read_and_compile()
        except PolicyError as exc:
            if not (initial and self.snapshot is not None and self.snapshot.is_file()):
                raise
            log.error("policies_invalid_serving_last_good_set", snapshot=str(self.snapshot),
                      problems=[str(p) for p in exc.problems])
            texts = json.loads(self.snapshot.read_text(encoding="utf-8"))
            return PolicySet.from_texts(texts, (self.engine,))
        if self.snapshot is not None:
            partial = self.snapshot.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(texts), encoding="utf-8")
            partial.replace(self.snapshot)  # atomic: a reader sees the old or the new set
        return policies

    @property
    def current(self) -> PolicySet:
        """The active set, for read-only looks that don't evaluate (listing, readiness)."""
        return self._active.policies

    @contextmanager
    def lease(self) -> Iterator[PolicySet]:
        with self._lock:
            generation = self._active
            generation.leases += 1
        try:
            yield generation.policies
        finally:
            with self._lock:
                generation.leases -= 1
                close_now = generation.retired and generation.leases == 0
            if close_now:
                self._close(generation)

    def reload(self, allow_removal: bool = False) -> ReloadResult:
        """Load the directory again; on PolicyError the active set stays (nothing changes).
        A set without a policy the active one has is refused unless ``allow_removal``:
        a file deleted by mistake would otherwise turn that policy's decisions into 404s."""
        with self._reload_lock:
            fresh = self._load()
            removed = sorted(set(self._active.policies.names()) - set(fresh.names()))
            try:
                if removed and not allow_removal:
                    raise PolicyError([PolicyProblem(
                        Position(str(self.directory), 1, 1), "policy_removed",
                        f"the directory no longer has {', '.join(removed)}; reload with "
                        "allow_removal=true to remove it / 策略被删除，确认删除请加 "
                        "allow_removal=true")])
                self.before_activate(fresh)
            except BaseException:
                fresh.close()
                raise
            with self._lock:
                old, self._active = self._active, _Generation(fresh)
                old.retired = True
                close_now = old.leases == 0
            if close_now:
                self._close(old)
            log.info("policies_reloaded", bundle_hash=fresh.bundle_hash,
                     previous_bundle_hash=old.policies.bundle_hash)
            return ReloadResult(fresh.bundle_hash, old.policies.bundle_hash, fresh.names())

    def close(self) -> None:
        with self._lock:
            generation = self._active
            generation.retired = True
            close_now = generation.leases == 0
        if close_now:
            self._close(generation)

    @staticmethod
    def _close(generation: _Generation) -> None:
        try:
            generation.policies.close()
        except Exception:  # a failing close must not fail the request that returned the lease
            log.exception("policy_set_close_failed", bundle_hash=generation.policies.bundle_hash)
