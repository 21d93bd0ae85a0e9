"""Decision and request ids: uuid4-shaped, from a seeded generator.

``uuid.uuid4()`` reads os.urandom, which releases the GIL; under load the
calling thread then waits for the log's writer thread to hand the GIL back
(up to the 5 ms switch interval) on every single id. A Mersenne Twister seeded
from the OS once per process is as unguessable as these ids need to be (the
log is behind the `read` scope anyway) and never lets go of the GIL.
"""

from __future__ import annotations

import os
import random

_rng = random.Random(os.urandom(32))


def _reseed() -> None:
    _rng.seed(os.urandom(32))


os.register_at_fork(after_in_child=_reseed)  # a forked worker must not repeat ids


def new_id() -> str:
    """32 hex digits with the version and variant bits of a UUID 4."""
    value = _rng.getrandbits(128)
    value = (value & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    return f"{value:032x}"
