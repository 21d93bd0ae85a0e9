"""What every test shares: the Hypothesis profiles and private user directories.

``HYPOTHESIS_PROFILE=dev`` (the default) tries a hundred examples per property and
keeps failing examples in ``.hypothesis/`` to try first next time; ``ci`` tries a
thousand, with no example database, and prints the blob that reproduces a failure.
A property that needs more or fewer than its neighbours states a multiple of the
profile's count (``settings().max_examples``), never a number of its own.

The service keeps its default log (user data dir) and its checkpoint key and
checkpoints (user config dir) under the user's home; no test may write there.
Each run gets its own ``XDG_CONFIG_HOME`` and ``XDG_DATA_HOME`` for the whole
session, inherited by every server or CLI subprocess a test starts.

Shared test data and databases are plain modules imported by name, not fixtures
imported from a conftest: ``samples`` (inputs for the shipped policies) and
``databases`` (an empty decision log of each kind).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

_SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile("dev", deadline=None, suppress_health_check=_SLOW_DATA)
settings.register_profile("ci", max_examples=1000, deadline=None, database=None,
                          print_blob=True, suppress_health_check=_SLOW_DATA)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

_CHECKPOINT_VARIABLES = ("DECISION_SERVICE_CHECKPOINT_KEY_FILE",
                         "DECISION_SERVICE_CHECKPOINT_KEY", "DECISION_SERVICE_CHECKPOINT_DIR")


@pytest.fixture(scope="session", autouse=True)
def private_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This run's user config and data directories (checkpoint key, default log)."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(home / "config"))
        patch.setenv("XDG_DATA_HOME", str(home / "data"))
        for name in _CHECKPOINT_VARIABLES:
            patch.delenv(name, raising=False)
        yield home
