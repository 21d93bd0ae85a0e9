"""How the service is configured: one dataclass, filled from CLI options and the environment.

Everything that can be wrong with a configuration is found here, before a socket
is bound, and reported as a ``SettingsError`` naming the option or variable.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from decision_service.locations import default_db_url, default_policies_dir

KEYS_ENV = "DECISION_SERVICE_API_KEYS"
BENCH_ENV = "DECISION_SERVICE_BENCH"
TIMEZONE_ENV = "DECISION_SERVICE_TIMEZONE"
# backdate: log decisions dated outside the as_of bounds (loading history).
SCOPES = frozenset({"decide", "read", "admin", "backdate"})
ENGINE_NAMES = ("compiled", "durable")


class SettingsError(ValueError):
    """A configuration the service refuses to start with; the message says which setting."""


def parse_api_keys(text: str | None) -> dict[str, frozenset[str]]:
    """``{"key": ["decide", "read"]}`` → key → scopes; anything else is a SettingsError."""
    if text is None or not text.strip():
        return {}
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise SettingsError(f"{KEYS_ENV} is not valid JSON ({exc}); expected an object "
                            'like {"<key>": ["decide", "read"]}') from None
    if not isinstance(raw, dict):
        raise SettingsError(f"{KEYS_ENV} must be a JSON object from key to a list of scopes")
    keys: dict[str, frozenset[str]] = {}
    for number, (key, scopes) in enumerate(raw.items(), start=1):
        # Never echo a key in an error: name it by its position instead.
        if not key or not key.isprintable() or key != key.strip():
            raise SettingsError(f"{KEYS_ENV}: key #{number} is empty or has blanks or "
                                "control characters")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise SettingsError(f"{KEYS_ENV}: the scopes of key #{number} must be a list of "
                                f"strings out of {', '.join(sorted(SCOPES))}")
        unknown = set(scopes) - SCOPES
        if unknown:
            raise SettingsError(f"{KEYS_ENV}: key #{number} has unknown scope(s) "
                                f"{', '.join(sorted(unknown))}; known: {', '.join(sorted(SCOPES))}")
        keys[key] = frozenset(scopes)
    return keys


def business_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Asia/Shanghai``, ``UTC``); SettingsError if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"time zone {name!r} (--timezone / {TIMEZONE_ENV}): not an IANA "
                            "time zone name such as Asia/Shanghai or UTC") from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServiceSettings:
    policies_dir: Path = field(default_factory=default_policies_dir)
    db_url: str = field(default_factory=default_db_url)
    engine: str = "compiled"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = 8 * 1024 * 1024  # fits a 10,000-deal batch (~4 MB) with room
    max_batch_items: int = 10_000
    api_keys: Mapping[str, frozenset[str]] = field(default_factory=dict, repr=False)
    bench_endpoints: bool = False  # GET/POST /bench/constant, for bench/http.py only
    log_level: str = "info"
    # The business's time zone (IANA name): "today", the decision date of a request
    # without as_of, is the date there (a Beijing deal at 07:00 is today's, not UTC's
    # yesterday's).
    timezone: str = "UTC"
    new_log: bool = False  # start although the checkpoints say the log lost records
    store_timeout: float = 5.0  # seconds a log statement may wait on a lock, then 503
    checkpoint_interval: float = 10.0  # seconds between signed checkpoints of the chain head

    def __post_init__(self) -> None:
        business_zone(self.timezone)
        if self.engine not in ENGINE_NAMES:
            raise SettingsError(f"--engine {self.engine!r}: choose one of "
                                f"{', '.join(ENGINE_NAMES)}")
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"--port {self.port}: not a TCP port")
        if self.workers < 1:
            raise SettingsError(f"--workers {self.workers}: at least 1")
        if self.checkpoint_interval <= 0:
            raise SettingsError("checkpoint_interval must be more than 0 seconds")
        if self.max_body_bytes < 1024 or self.max_batch_items < 1:
            raise SettingsError("max_body_bytes must be at least 1024 and max_batch_items "
                                "at least 1")

    @classmethod
    def from_options(cls, *, host: str | None = None, port: int | None = None,
                     policies_dir: Path | str | None = None, db_url: str | None = None,
                     engine: str | None = None, workers: int | None = None,
                     timezone: str | None = None,
                     new_log: bool | None = None,
                     environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Settings from CLI options (None = default) and the environment (API keys,
        the time zone when no option gives it)."""
        env = os.environ if environ is None else environ
        given: dict[str, Any] = {
            "host": host, "port": port, "engine": engine, "workers": workers,
            "policies_dir": Path(policies_dir) if policies_dir is not None else None,
            "db_url": db_url, "new_log": new_log,
            "timezone": timezone or env.get(TIMEZONE_ENV) or None,
        }
        return cls(**{k: v for k, v in given.items() if v is not None},
                   api_keys=parse_api_keys(env.get(KEYS_ENV)),
                   bench_endpoints=env.get(BENCH_ENV) == "1")

    def check_bind(self) -> None:
        """Without keys anyone who can reach the port may decide: loopback only, then."""
        if not self.api_keys and not is_loopback(self.host):
            raise SettingsError(
                f"refusing to listen on {self.host} without API keys: set {KEYS_ENV} "
                '(e.g. \'{"<key>": ["decide", "read"]}\') or bind 127.0.0.1')

    def to_json(self) -> str:
        """For worker processes (workers > 1); API keys stay in the environment."""
        values = dataclasses.asdict(self)
        values.pop("api_keys")
        values["policies_dir"] = str(self.policies_dir)
        return json.dumps(values)

    @classmethod
    def from_json(cls, text: str, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        env = os.environ if environ is None else environ
        values = json.loads(text)
        values["policies_dir"] = Path(values["policies_dir"])
        return cls(**values, api_keys=parse_api_keys(env.get(KEYS_ENV)))
