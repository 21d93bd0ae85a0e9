"""Staged activation and shadow candidates (``rollout.yaml``), checked and ready to use.

An activation holds a version to some units: a decision whose date picks that
version gets it only when its policy unit (the policy's ``unit`` input) lies in
the listed units, a region covering its offices; any other unit keeps the
version before it. A shadow names a candidate evaluated beside the answer and
never answered. ``check_rollout`` refuses anything that does not fit the loaded
set, with the position in ``rollout.yaml``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from decision_service.errors import Problems
from decision_service.language.model import (
    Activation,
    OrgTree,
    PolicyMeta,
    Rollout,
    ShadowCandidate,
)
from decision_service.language.units import unit_hint, unit_hint_zh

if TYPE_CHECKING:
    from decision_service.policyset import PolicySet

# Why the version that decided was chosen, as the answer and the log say it.
BY_DATE = "date"  # no activation bears on the version the date picks
BY_ACTIVATION = "date+activation"  # the date picks an activated version; the unit is listed
HELD_BACK = "date+activation_held"  # the unit is not listed: the version before it decided
PINNED = "pinned"  # the caller named the version (replay)


@dataclass(frozen=True, slots=True)
class HeldVersion:
    """An activated version and every unit code it reaches (regions expanded)."""

    activation: Activation
    reaches: frozenset[str]


@dataclass(frozen=True, slots=True)
class ShadowPlan:
    """A checked shadow; ``policies`` is the other directory's set, None for the live set."""

    candidate: ShadowCandidate
    policies: PolicySet | None = None

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {}
        if self.candidate.policies is not None:
            described["policies"] = self.candidate.policies
        if self.candidate.version is not None:
            described["version"] = self.candidate.version
        return described


@dataclass(frozen=True, slots=True)
class Staging:
    """The checked rollout of one policy set: activations by policy and version, shadows."""

    held: dict[str, dict[str, HeldVersion]] = field(default_factory=dict)
    shadows: dict[str, ShadowPlan] = field(default_factory=dict)
    source_file: str | None = None

    def describe(self) -> dict[str, Any]:
        """What is staged and shadowed, for ``GET /v1/rollout``."""
        return {
            "file": self.source_file,
            "activation": [
                {"policy": policy, "version": version, "units": list(h.activation.units)}
                for policy, versions in sorted(self.held.items())
                for version, h in sorted(versions.items())
            ],
            "shadow": [{"policy": policy, "candidate": plan.describe()}
                       for policy, plan in sorted(self.shadows.items())],
        }

    def close(self) -> None:
        for plan in self.shadows.values():
            if plan.policies is not None:
                plan.policies.close()


def candidate_prefix(directory: str) -> str:
    """Where a candidate directory's files sit among the bundle's texts.

    The live directory's files are named relative to it and never start with
    ``..`` or ``/``; a candidate directory must lie outside it, so its files,
    named relative to the live directory too, never collide with them."""
    return os.path.normpath(directory) + "/"


def is_candidate_file(file: str) -> bool:
    return file.startswith(("../", "/"))


def candidate_texts(texts: Mapping[str, str], directory: str) -> dict[str, str]:
    prefix = candidate_prefix(directory)
    return {name[len(prefix):]: text for name, text in texts.items() if name.startswith(prefix)}


def reaches(org: OrgTree, units: Sequence[str]) -> frozenset[str]:
    """Every unit code whose chain meets ``units``: the units and all below them."""
    listed = set(units)
    return frozenset(code for code in org.units if listed.intersection(org.chain(code)))


def check_activations(rollout: Rollout, metas: Mapping[str, Sequence[PolicyMeta]],
                      org: OrgTree, problems: Problems) -> dict[str, dict[str, HeldVersion]]:
    """The activations that fit the set; a problem at the position of each that doesn't."""
    held: dict[str, dict[str, HeldVersion]] = {}
    for activation in rollout.activations:
        versions = metas.get(activation.policy)
        if versions is None:
            problems.add(activation.position, "unknown_policy",
                         f"activation of unknown policy {activation.policy!r}; known: "
                         f"{', '.join(sorted(metas))}")
            continue
        if not _version_can_be_held(activation, versions, problems):
            continue
        if not _units_fit(activation, org, problems):
            continue
        mine = held.setdefault(activation.policy, {})
        if activation.version in mine:
            first = mine[activation.version].activation.position
            problems.add(activation.position, "overlapping_activation",
                         f"{activation.policy} version {activation.version} is already "
                         f"activated at {first}; list all its units in one activation")
            continue
        mine[activation.version] = HeldVersion(activation, reaches(org, activation.units))
    return held


def _version_can_be_held(activation: Activation, versions: Sequence[PolicyMeta],
                         problems: Problems) -> bool:
    numbers = [m.version for m in versions]
    if activation.version not in numbers:
        problems.add(activation.version_position, "unknown_version",
                     f"{activation.policy} has no version {activation.version!r}; "
                     f"versions: {', '.join(numbers)}")
        return False
    if numbers.index(activation.version) == 0:
        problems.add(activation.version_position, "nothing_to_hold_back",
                     f"{activation.policy} version {activation.version} has no earlier "
                     "version for the other units to keep: activate a version whose "
                     "effective date follows another's")
        return False
    if versions[0].unit_input is None:
        problems.add(activation.position, "no_unit_input",
                     f"{activation.policy} has no `unit` input, so no request belongs to "
                     "a unit and an activation cannot apply")
        return False
    return True


def _units_fit(activation: Activation, org: OrgTree, problems: Problems) -> bool:
    fits = True
    seen: dict[str, str] = {}
    for unit, position in zip(activation.units, activation.unit_positions, strict=True):
        found = org.units.get(unit)
        if found is None or found.kind not in ("office", "region"):
            what = ("not in the org tree" + unit_hint(org, unit, ("office", "region"))
                    if found is None else f"a {found.kind}, not an office or a region")
            problems.add(position, "unknown_unit", f"unit {unit!r} is {what}", unit=unit,
                         hint_zh=unit_hint_zh(org, unit, ("office", "region")))
            fits = False
            continue
        for above in org.chain(unit):
            if above in seen:
                problems.add(position, "overlapping_units",
                             f"unit {unit!r} is already covered by {seen[above]!r} in this "
                             "activation")
                fits = False
        seen[unit] = unit
    return fits


def check_shadow_names(rollout: Rollout, metas: Mapping[str, Sequence[PolicyMeta]],
                       problems: Problems) -> list[ShadowCandidate]:
    """Shadows naming a known policy, once each, with a live version when they name one."""
    fit: list[ShadowCandidate] = []
    seen: dict[str, ShadowCandidate] = {}
    for shadow in rollout.shadows:
        versions = metas.get(shadow.policy)
        if versions is None:
            problems.add(shadow.position, "unknown_policy",
                         f"shadow of unknown policy {shadow.policy!r}")
            continue
        if shadow.policy in seen:
            problems.add(shadow.position, "duplicate_shadow",
                         f"{shadow.policy} is already shadowed at {seen[shadow.policy].position}; "
                         "one candidate per policy")
            continue
        seen[shadow.policy] = shadow
        if shadow.policies is None:
            if shadow.version is None:
                problems.add(shadow.candidate_position, "missing_field",
                             "a candidate names a `version`, a `policies` directory, or both")
                continue
            if shadow.version not in [m.version for m in versions]:
                problems.add(shadow.candidate_position, "unknown_version",
                             f"{shadow.policy} has no version {shadow.version!r}")
                continue
        elif not is_candidate_file(candidate_prefix(shadow.policies)):
            problems.add(shadow.candidate_position, "candidate_inside",
                         f"candidate directory {shadow.policies!r} lies inside the policy "
                         "directory, whose files are all live; put it beside it (../name)")
            continue
        fit.append(shadow)
    return fit
