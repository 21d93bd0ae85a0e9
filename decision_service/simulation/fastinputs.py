"""The core's fast input path (``decision_service.fastinputs``), one per input model
and process: a worker builds it once for the many partitions it decides."""

from __future__ import annotations

from pydantic import BaseModel

from decision_service.fastinputs import FastInputs
from decision_service.simulation.core import OrgTree, PolicyVersion

__all__ = ["FastInputs", "fast_inputs"]

_BY_MODEL: dict[int, tuple[type[BaseModel], FastInputs]] = {}


def fast_inputs(version: PolicyVersion, org: OrgTree) -> FastInputs:
    """The fast path of a version's input model, built once per process."""
    found = _BY_MODEL.get(id(version.model))
    if found is None or found[0] is not version.model:
        found = _BY_MODEL[id(version.model)] = (
            version.model, FastInputs(version.compiled.policy, org, version.model))
    return found[1]
