"""Reading ``rollout.yaml``: staged activations and shadow candidates, with positions.

Only the shape is checked here (cerberus, like every policy file); whether the
named policies, versions, units and candidates exist is checked against the
loaded set by ``staging.check_rollout``.
"""

from __future__ import annotations

from typing import Any

from decision_service.errors import Position
from decision_service.language.model import Activation, Rollout, ShadowCandidate
from decision_service.language.parse import check_shape
from decision_service.language.shapes import ROLLOUT
from decision_service.language.yamlpos import PosDict, PosList, parse_yaml, position_of

ROLLOUT_FILES = ("rollout.yaml", "rollout.yml")


def is_rollout_file(file: str) -> bool:
    """The rollout file sits at the top of the policy directory."""
    return file in ROLLOUT_FILES


def load_rollout(text: str, file: str) -> Rollout:
    """Parse and shape-check one rollout file; raise ``PolicyError`` at file:line:col."""
    doc = parse_yaml(text, file)
    if doc is None:  # only comments: nothing staged, dates decide
        return Rollout(source_file=file)
    check_shape(doc, ROLLOUT, file)
    top = Position(file, 1, 1)
    activations = tuple(_activation(item, top) for item in doc.get("activation") or ())
    shadows = tuple(_shadow(item, top) for item in doc.get("shadow") or ())
    return Rollout(activations, shadows, file)


def _item_positions(node: Any, fallback: Position) -> tuple[Position, ...]:
    if isinstance(node, PosList):
        return tuple(node.item_positions)
    return tuple(fallback for _ in node)


def _activation(item: PosDict, top: Position) -> Activation:
    position = getattr(item, "position", top)
    return Activation(
        policy=str(item["policy"]),
        version=str(item["version"]),
        units=tuple(str(u) for u in item["units"]),
        position=position,
        unit_positions=_item_positions(item["units"], position),
        version_position=position_of(item, ("version",), position),
    )


def _shadow(item: PosDict, top: Position) -> ShadowCandidate:
    position = getattr(item, "position", top)
    candidate = item["candidate"]
    version = candidate.get("version")
    directory = candidate.get("policies")
    return ShadowCandidate(
        policy=str(item["policy"]),
        version=None if version is None else str(version),
        policies=None if directory is None else str(directory),
        position=position,
        candidate_position=position_of(item, ("candidate",), position),
    )
