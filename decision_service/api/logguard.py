"""The log's guard at start-up and while serving: checkpoints, and a log that is gone.

At start the newest signed checkpoint is compared with the log: a log that holds
fewer records than it covers (its file deleted or replaced, its newest records
removed) is refused unless the operator asks for a new log (``--new-log``),
which retires the old checkpoints. A log that is new says so. While serving, the
chain head is signed on a schedule and at shutdown.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import structlog

from decision_service.store import DecisionStore, StoreError
from decision_service.store.checkpoints import (
    KEY_ENV,
    KEY_FILE_ENV,
    Checkpointer,
    CheckpointKey,
    checkpoint_config,
    latest_note,
)

log = structlog.get_logger("decision_service.api")


def check_log(store: DecisionStore, db_url: str, new_log: bool,
              interval: float) -> Checkpointer:
    """Refuse a log that lost records since its last checkpoint; the checkpointer to run."""
    config = checkpoint_config(db_url)
    key, created = config.load_key(create=True)
    if created:
        log.warning("checkpoint_key_created", key_file=str(config.key_file),
                    checkpoints=str(config.file),
                    advice=f"production: keep the key elsewhere ({KEY_FILE_ENV} or {KEY_ENV})")
    _compare_with_checkpoint(store, db_url, key, config.file, new_log)
    checkpointer = Checkpointer(store.head, key, config, interval,
                                lambda note: log.info("checkpoint", note=note))
    log.info("checkpoints", file=str(config.file), key_file=str(config.key_file or KEY_ENV))
    return checkpointer


def _compare_with_checkpoint(store: DecisionStore, db_url: str, key: CheckpointKey,
                             file: Path, new_log: bool) -> None:
    note = latest_note(file)
    head = store.head()
    if note is None:
        if head[0] == 0:
            log.info("decision_log_created", db=db_url)
        return
    checkpoint = key.verify(note)
    problems = store.verify_checkpoint(checkpoint)
    if not problems:
        return
    if not new_log:
        raise StoreError(
            f"{problems[0].detail}. The log was lost, replaced or cut short; the service "
            f"will not start on it. Check with `decision-service verify-log`; to begin a "
            f"new log on purpose start with --new-log (checkpoints: {file})")
    retired = file.with_name(f"{file.name}.retired-{datetime.now(UTC):%Y%m%dT%H%M%S}")
    file.replace(retired)
    log.warning("decision_log_new_by_request", db=db_url, retired_checkpoints=str(retired),
                lost=problems[0].detail)
