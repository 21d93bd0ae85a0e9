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

Loading a policy set is the costly step of most tests that build an app or run
the CLI in-process, and most load the very same files. So ``PolicySet.from_texts``
keeps each successful load on the compiled engine alone for the session, keyed by
the exact file names and texts and the engines, and a later load of identical
files gets that set. Only the compiled engine is shared: it holds no native state
and its ``close`` releases nothing, so an app closing the set at shutdown leaves
it whole for the next test. A load with durable-rules, a load of changed files
and a load that fails always run in full, as does every load in a module marked
``real_loads`` (the tests of loading itself), its fixtures' loads included.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from decision_service.api.runtime import YOUNG_THRESHOLD
from decision_service.engines import ENGINES
from decision_service.policyset import PolicySet

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


class _SharedLoads:
    """``PolicySet.from_texts`` with the session's compiled-only sets kept by content."""

    def __init__(self) -> None:
        self.load = PolicySet.from_texts  # the real one
        self.sets: dict[tuple[tuple[tuple[str, str], ...], tuple[str, ...]], PolicySet] = {}
        self.active = False  # set per test (its fixtures included) by the hook below

    def from_texts(self, texts: Mapping[str, str],
                   engines: tuple[str, ...] = ENGINES) -> PolicySet:
        if not self.active or not set(engines) <= {"compiled"}:
            return self.load(texts, engines)
        key = (tuple(sorted(texts.items())), tuple(engines))
        if key not in self.sets:
            self.sets[key] = self.load(texts, engines)  # a PolicyError is raised, not kept
        return self.sets[key]


_SHARED = _SharedLoads()
_PATCH = pytest.MonkeyPatch()


def pytest_configure(config: pytest.Config) -> None:
    _PATCH.setattr(PolicySet, "from_texts", _SHARED.from_texts)


def pytest_unconfigure(config: pytest.Config) -> None:
    _PATCH.undo()
    for policies in _SHARED.sets.values():
        policies.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[object]:
    """Around a test's setup, call and teardown, so the module and session fixtures
    it builds first follow its module's marker too."""
    _SHARED.active = item.get_closest_marker("real_loads") is None
    try:
        return (yield)
    finally:
        _SHARED.active = False


def pytest_collection_finish(session: pytest.Session) -> None:
    """The collector tuned as a served worker is (decision_service/api/runtime.py): what
    was imported and collected lives until the end, so it is frozen out of the full
    passes that would walk it again and again; and a larger first threshold lets the
    short-lived objects of a test die by reference count before a young pass looks
    at them. Cycles made by the tests are still collected."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
