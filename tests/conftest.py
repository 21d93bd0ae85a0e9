"""What every test shares: the Hypothesis profiles.

``HYPOTHESIS_PROFILE=dev`` (the default) tries a hundred examples per property and
keeps failing examples in ``.hypothesis/`` to try first next time; ``ci`` tries a
thousand, with no example database, and prints the blob that reproduces a failure.
A property that needs more or fewer than its neighbours states a multiple of the
profile's count (``settings().max_examples``), never a number of its own.

Shared test data and databases are plain modules imported by name, not fixtures
imported from a conftest: ``samples`` (inputs for the shipped policies) and
``databases`` (an empty decision log of each kind).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile("dev", deadline=None, suppress_health_check=_SLOW_DATA)
settings.register_profile("ci", max_examples=1000, deadline=None, database=None,
                          print_blob=True, suppress_health_check=_SLOW_DATA)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
