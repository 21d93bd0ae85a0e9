"""``run(settings)``: check the settings, load everything, then serve with uvicorn."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import uvicorn

from decision_service.api import logging as api_logging
from decision_service.api.app import SETTINGS_ENV, SNAPSHOT_ENV, create_app
from decision_service.api.settings import ServiceSettings, SettingsError
from decision_service.errors import PolicyError
from decision_service.policy_files import load_policy_dir
from decision_service.store import StoreError, open_store


def fail_to_start(message: str) -> NoReturn:
    print(f"decision-service: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def _url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def run(settings: ServiceSettings) -> None:
    """Serve until interrupted. Bad settings, policies or database: a message and exit 2."""
    try:
        settings.check_bind()
        if settings.workers == 1:
            app = create_app(settings)
        else:
            # Each worker loads for itself; find problems here, once, before any starts.
            api_logging.configure(settings.log_level)
            load_policy_dir(settings.policies_dir, (settings.engine,)).close()
            open_store(settings.db_url).close()
    except SettingsError as exc:
        fail_to_start(str(exc))
    except PolicyError as exc:
        fail_to_start(f"the policies in {settings.policies_dir} are invalid; nothing was loaded:\n"
              + "\n".join(str(p) for p in exc.problems))
    except StoreError as exc:
        fail_to_start(f"cannot open the decision log {settings.db_url!r}: {exc}")
    base = _url(settings.host, settings.port)
    print(f"decision-service: serving {settings.policies_dir} (engine {settings.engine}, "
          f"log {settings.db_url}) on {base}\n"
          f"decision-service: API docs at {base}/docs", flush=True)
    common = {"host": settings.host, "port": settings.port, "log_config": None,
              "access_log": False, "log_level": settings.log_level,
              # The event loop thread is the bottleneck of a worker: libuv's loop and the
              # C HTTP parser take a third off every request (bench/http.py).
              "loop": "uvloop", "http": "httptools",
              # No proxy is trusted: X-Forwarded-For from a loopback peer (any local
              # process, or a DNS-rebinding page) would otherwise set the client
              # address the browser guard reads.
              "proxy_headers": False}
    if settings.workers == 1:
        uvicorn.run(app, **common)  # type: ignore[arg-type]
    else:
        os.environ[SETTINGS_ENV] = settings.to_json()
        with tempfile.TemporaryDirectory(prefix="decision-service-") as scratch:
            os.environ[SNAPSHOT_ENV] = str(Path(scratch) / "policies.json")
            # A new worker loads and compiles every policy before it is ready; uvicorn's
            # default of 5 s is easily missed on a busy machine, and a missed restart
            # keeps the old worker, on the old policy set, for good.
            uvicorn.run("decision_service.api.app:app_from_env", factory=True,
                        workers=settings.workers, timeout_worker_healthcheck=60, **common)  # type: ignore[arg-type]
