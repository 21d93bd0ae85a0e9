"""Signed checkpoints: the log proves it is whole with an anchor outside the database.

A hash chain shows an edited record, but not a log cut short or re-chained by
someone who can write the database: the shorter or rewritten chain is
consistent with itself. As Certificate Transparency's signed tree heads and
Trillian's checkpoints do, the service signs the chain head (its ``seq``, its
``record_hash`` and the time) with an Ed25519 key the database does not hold,
and appends the signed note to a file elsewhere (and to its own log output for
a shipper). ``verify-log`` then checks the chain against the newest checkpoint:
fewer records than it covers is a truncation, another hash at its ``seq`` is a
re-chaining.

The note is text in the spirit of Go's signed-note format::

    decision-service/<log id>
    <seq>
    <record_hash>
    <signed at, ISO 8601 UTC>

    — <key name> <base64(key id ‖ signature)>

Out of the box the key is made on the first start in the user's config
directory, apart from the default log in the data directory; production points
``DECISION_SERVICE_CHECKPOINT_KEY_FILE`` (or ``DECISION_SERVICE_CHECKPOINT_KEY``,
a base64 seed) and ``DECISION_SERVICE_CHECKPOINT_DIR`` elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import platformdirs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .errors import StoreError

KEY_FILE_ENV = "DECISION_SERVICE_CHECKPOINT_KEY_FILE"
KEY_ENV = "DECISION_SERVICE_CHECKPOINT_KEY"  # base64 of the 32-byte Ed25519 seed
DIR_ENV = "DECISION_SERVICE_CHECKPOINT_DIR"
KEY_NAME = "decision-service-checkpoint"
_DASH = "\u2014"


class CheckpointError(StoreError):
    """A checkpoint that cannot be read, or whose signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at one moment: ``seq`` records, the last hashing to ``record_hash``."""

    origin: str
    seq: int
    record_hash: str
    signed_at: datetime

    def body(self) -> str:
        return (f"{self.origin}\n{self.seq}\n{self.record_hash}\n"
                f"{self.signed_at.astimezone(UTC).isoformat(timespec='seconds')}\n")


def log_id(db_url: str) -> str:
    """A stable name for one log: the URL (an SQLite path made absolute), hashed."""
    scheme, _, rest = db_url.partition("://")
    if scheme.lower() == "sqlite" and rest.startswith("/"):
        db_url = f"sqlite:///{Path(rest[1:]).resolve()}"
    return hashlib.sha256(db_url.encode()).hexdigest()[:16]


class CheckpointKey:
    """An Ed25519 key pair; only its public half is needed to verify."""

    def __init__(self, private: Ed25519PrivateKey | None, public: Ed25519PublicKey) -> None:
        self._private = private
        self.public = public
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(KEY_NAME.encode() + b"\n" + raw).digest()[:4]

    @classmethod
    def generate(cls) -> CheckpointKey:
        private = Ed25519PrivateKey.generate()
        return cls(private, private.public_key())

    @classmethod
    def from_pem(cls, data: bytes) -> CheckpointKey:
        try:
            if b"PRIVATE KEY" in data:
                private = serialization.load_pem_private_key(data, password=None)
                if not isinstance(private, Ed25519PrivateKey):
                    raise CheckpointError("the checkpoint key is not an Ed25519 key")
                return cls(private, private.public_key())
            public = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise CheckpointError(f"unreadable checkpoint key: {exc}") from None
        if not isinstance(public, Ed25519PublicKey):
            raise CheckpointError("the checkpoint key is not an Ed25519 key")
        return cls(None, public)

    @classmethod
    def from_seed(cls, text: str) -> CheckpointKey:
        try:
            private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
        except ValueError as exc:
            raise CheckpointError(f"{KEY_ENV} is not a base64 Ed25519 seed: {exc}") from None
        return cls(private, private.public_key())

    def private_pem(self) -> bytes:
        assert self._private is not None
        return self._private.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())

    def public_pem(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, checkpoint: Checkpoint) -> str:
        if self._private is None:
            raise CheckpointError("only the public checkpoint key is configured: cannot sign")
        signature = self._private.sign(checkpoint.body().encode())
        stamp = base64.b64encode(self.key_id + signature).decode()
        return f"{checkpoint.body()}\n{_DASH} {KEY_NAME} {stamp}\n"

    def verify(self, note: str) -> Checkpoint:
        """The checkpoint a note carries; CheckpointError unless this key signed it."""
        body, sep, signatures = note.partition(f"\n{_DASH} ")
        try:
            name, stamp = signatures.strip().split(" ", 1)
            raw = base64.b64decode(stamp, validate=True)
            origin, seq, record_hash, signed_at = body.rstrip("\n").split("\n")
            checkpoint = Checkpoint(origin, int(seq), record_hash,
                                    datetime.fromisoformat(signed_at))
        except ValueError:
            raise CheckpointError("a checkpoint note that cannot be parsed") from None
        if not sep or name != KEY_NAME or raw[:4] != self.key_id:
            raise CheckpointError("a checkpoint signed by another key")
        try:
            self.public.verify(raw[4:], (body.rstrip("\n") + "\n").encode())
        except InvalidSignature:
            raise CheckpointError(f"checkpoint at record {seq}: the signature does not "
                                  "verify (forged or altered)") from None
        return checkpoint


@dataclass(frozen=True)
class CheckpointConfig:
    """Where the key and the checkpoints of one log are."""

    key_file: Path | None  # None: the key comes from KEY_ENV
    key_seed: str | None
    file: Path  # the checkpoints, one signed note after another
    origin: str

    def load_key(self, create: bool) -> tuple[CheckpointKey, bool]:
        """The key, and whether it was made just now (only with ``create``)."""
        if self.key_seed is not None:
            return CheckpointKey.from_seed(self.key_seed), False
        assert self.key_file is not None
        if self.key_file.is_file():
            return CheckpointKey.from_pem(self.key_file.read_bytes()), False
        if not create:
            raise CheckpointError(f"no checkpoint key at {self.key_file}")
        key = CheckpointKey.generate()
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.private_pem())
        self.key_file.with_suffix(".pub").write_bytes(key.public_pem())
        return key, True


def checkpoint_config(db_url: str, environ: Mapping[str, str] | None = None) -> CheckpointConfig:
    """From the environment, else the user's config directory (not the log's directory)."""
    env = os.environ if environ is None else environ
    home = Path(platformdirs.user_config_dir("decision-service"))
    directory = Path(env[DIR_ENV]) if env.get(DIR_ENV) else home / "checkpoints"
    ident = log_id(db_url)
    seed = env.get(KEY_ENV) or None
    key_file = None if seed else Path(env.get(KEY_FILE_ENV) or home / "checkpoint-key.pem")
    return CheckpointConfig(key_file, seed, directory / f"{ident}.checkpoints",
                            f"decision-service/{ident}")


def append_note(path: Path, note: str) -> None:
    """Append one signed note durably (fsync) to the checkpoint file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(note + "\n")
        out.flush()
        os.fsync(out.fileno())


def latest_note(path: Path) -> str | None:
    """The newest complete note in a checkpoint file (a torn last write is skipped)."""
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    for end in range(len(lines) - 1, 4, -1):
        if lines[end].startswith(f"{_DASH} ") and lines[end - 1] == "":
            return "\n".join(lines[end - 5:end - 1]) + "\n\n" + lines[end] + "\n"
    return None


class Checkpointer:
    """Signs the chain head every ``interval`` seconds (when it moved) and on close."""

    def __init__(self, head: Callable[[], tuple[int, str]], key: CheckpointKey,
                 config: CheckpointConfig, interval: float,
                 publish: Callable[[str], None]) -> None:
        self._head, self._key, self._config = head, key, config
        self._interval, self._publish = interval, publish
        self._last: tuple[int, str] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="checkpointer", daemon=True)

    def start(self) -> None:
        """Start the schedule (again, after ``close``: an app's lifespan may run twice)."""
        if self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="checkpointer", daemon=True)
        self._thread.start()

    def checkpoint(self) -> str | None:
        """Sign and append the head now, unless it is the one signed last."""
        with self._lock:
            head = self._head()
            if head == self._last:
                return None
            note = self._key.sign(Checkpoint(self._config.origin, head[0], head[1],
                                             datetime.now(UTC)))
            append_note(self._config.file, note)
            self._last = head
        self._publish(note)
        return note

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.checkpoint()
            except Exception as exc:  # a store outage must not end the schedule
                self._publish(f"checkpoint failed: {exc!r}")

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.checkpoint()
