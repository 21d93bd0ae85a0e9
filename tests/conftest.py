"""What every test shares: private user directories.

The service keeps its default log (user data dir) and its checkpoint key and
checkpoints (user config dir) under the user's home; no test may write there.
Each run gets its own ``XDG_CONFIG_HOME`` and ``XDG_DATA_HOME`` for the whole
session, inherited by every server or CLI subprocess a test starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
