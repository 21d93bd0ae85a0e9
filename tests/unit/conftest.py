"""Fixtures for the unit tests: the shipped policy set, loaded once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from samples import POLICIES

from decision_service.policy_files import load_policy_dir
from decision_service.policyset import PolicySet


@pytest.fixture(scope="session")
def shipped() -> Iterator[PolicySet]:
    """The shipped policies on the compiled engine (fast; no durable-rules state)."""
    policies = load_policy_dir(POLICIES, engines=("compiled",))
    yield policies
    policies.close()
