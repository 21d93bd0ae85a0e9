"""Dated versions: a version file extends the version before it and may change anything.

A version file uses the sections of a full policy. What it writes adds or
replaces what it inherits: parameters by name (a bare number only moves the
default), settings by unit and parameter (a later version's setting beats an
earlier version's for the same unit), tables and their rules by id (``remove:
true`` drops one; ``before:``/``after:`` place a new one), inputs by name (the
``values`` it lists are added). Everything else is inherited unchanged.

The merge works on the parsed documents, whose nodes keep the file and line
they came from, so every later error and every "where is this figure set"
points at the version file that wrote it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from decision_service.errors import PolicyError, Position, Problems
from decision_service.language import shapes
from decision_service.language.model import Policy
from decision_service.language.parse import check_shape, policy_from_doc
from decision_service.language.rule_ids import check_rule_ids
from decision_service.language.yamlpos import PosDict, PosList, parse_yaml

PLACEMENT_KEYS = ("before", "after", "remove")


@dataclasses.dataclass(frozen=True, slots=True)
class PolicyDocument:
    """One policy file, parsed and shape-checked but not yet built."""

    id: str
    version: str
    extends: str | None
    effective_from: dt.date | None
    doc: PosDict
    file: str
    position: Position


def load_document(text: str, file: str) -> PolicyDocument:
    """Parse a policy file; a version file (``extends``) is checked as a change set."""
    return document_from_doc(parse_yaml(text, file), file)


def document_from_doc(doc: Any, file: str) -> PolicyDocument:
    """``load_document`` for a file already parsed."""
    meta = doc.get("policy") if isinstance(doc, dict) else None
    extends = meta.get("extends") if isinstance(meta, dict) else None
    check_shape(doc, shapes.POLICY_VERSION if extends is not None else shapes.POLICY, file)
    meta = doc["policy"]
    return PolicyDocument(
        id=meta["id"], version=str(meta["version"]),
        extends=None if extends is None else str(extends),
        effective_from=meta.get("effective_from"), doc=doc, file=file,
        position=getattr(meta, "position", Position(file, 1, 1)))


def resolve_versions(documents: list[PolicyDocument], problems: Problems) -> list[Policy]:
    """Every version of every policy as a full ``Policy``; problems are collected."""
    by_id: dict[str, list[PolicyDocument]] = {}
    for document in documents:
        by_id.setdefault(document.id, []).append(document)
    policies: list[Policy] = []
    for versions in by_id.values():
        policies.extend(_resolve_chain(versions, problems))
    return policies


def _resolve_chain(documents: list[PolicyDocument], problems: Problems) -> list[Policy]:
    full = [d for d in documents if d.extends is None]
    if not full:
        for document in documents:
            problems.add(document.position, "unknown_base",
                         f"{document.id} version {document.version} extends version "
                         f"{document.extends}, but no version of {document.id} is a full "
                         "policy file", policy=document.id, version=document.version,
                         base=document.extends)
        return []
    first = min(full, key=lambda d: d.effective_from or dt.date.min)
    for document in full:
        if document is not first:
            problems.add(document.position, "full_copy_version",
                         f"{document.id} version {document.version} is a full copy, but version "
                         f"{first.version} is one too: a later version must say `extends:` with "
                         "the version before it and write only what it changes (a copy silently "
                         "drops the figures and settings of the versions between)")
    built: dict[str, tuple[PosDict, tuple[tuple[str, str], ...]]] = {
        first.version: (first.doc, ((first.version, first.file),))}
    ordered = sorted(documents, key=lambda d: d.effective_from or dt.date.min)
    previous = first
    for document in ordered:
        if document.extends is None:
            continue
        if _check_base(document, previous, built, problems):
            base_doc, lineage = built[document.extends]
            merged = merge_version(base_doc, document.doc, problems)
            built[document.version] = (merged, (*lineage, (document.version, document.file)))
        previous = document
    policies = []
    for doc, lineage in built.values():
        file = lineage[-1][1]
        try:
            # The first full version's document passed the policy shape as it was read.
            policy = policy_from_doc(doc, file, lineage, shape_checked=doc is first.doc)
        except PolicyError as exc:
            problems.items.extend(exc.problems)
            continue
        check_rule_ids(policy, problems)
        policies.append(policy)
    return policies



def _check_base(document: PolicyDocument, previous: PolicyDocument,
                built: dict[str, Any], problems: Problems) -> bool:
    if document.version in built:
        problems.add(document.position, "duplicate_version",
                     f"{document.id} version {document.version} is defined twice")
        return False
    if document.extends not in built:
        problems.add(document.position, "unknown_base",
                     f"{document.id} version {document.version} extends version "
                     f"{document.extends}, which is not defined", policy=document.id,
                     version=document.version, base=document.extends)
        return False
    if document.extends != previous.version:
        problems.add(document.position, "extends_not_previous",
                     f"{document.id} version {document.version} extends version "
                     f"{document.extends}, but the version before it (by effective_from) is "
                     f"{previous.version}: extend that one, or its changes are lost")
        return False
    return True


# ---------------------------------------------------------------------------
# merging one version onto the document it extends


def _copy(node: PosDict) -> PosDict:
    out = PosDict(node)
    out.position = node.position
    out.key_positions = dict(node.key_positions)
    out.value_positions = dict(node.value_positions)
    return out


def _copy_list(node: PosList) -> PosList:
    out = PosList(node)
    out.position = node.position
    out.item_positions = list(node.item_positions)
    return out


def _put(target: PosDict, source: PosDict, key: str, value: Any) -> None:
    target[key] = value
    target.key_positions[key] = source.key_positions[key]
    target.value_positions[key] = source.value_positions[key]


def merge_version(base: PosDict, change: PosDict, problems: Problems) -> PosDict:
    """``base`` with ``change`` applied: the full document of the new version."""
    merged = _copy(base)
    meta = _copy(base["policy"])
    for key in change["policy"]:
        if key != "extends":
            _put(meta, change["policy"], key, change["policy"][key])
    merged["policy"] = meta
    version = str(change["policy"]["version"])
    for section in ("parameters", "inputs", "settings", "tables", "orderings"):
        if change.get(section) is None:
            continue
        value: Any
        if base.get(section) is None:
            value = _strip(change[section])
        elif section == "parameters":
            value = _merge_parameters(base[section], change[section], problems, version)
        elif section == "inputs":
            value = _merge_inputs(base[section], change[section])
        elif section == "tables":
            value = _merge_by_id(base[section], change[section], problems, "table", _merge_table)
        else:
            value = _appended(base[section], change[section])
        _put(merged, change, section, value)
    for section in ("outputs", "derived", "history"):
        if section in change:
            _put(merged, change, section, _merge_by_name(base.get(section), change[section]))
    return merged


def _merge_by_name(base: PosDict | None, change: PosDict) -> PosDict:
    merged = _copy(base) if base is not None else _copy(change)
    for name in change:
        _put(merged, change, name, change[name])
    return merged


def _merge_parameters(base: PosDict, change: PosDict, problems: Problems,
                      change_version: str = "") -> PosDict:
    merged = _copy(base)
    for name, value in change.items():
        if isinstance(value, dict):
            _put(merged, change, name, value)
            continue
        if name not in base:
            problems.add(change.value_positions[name], "unknown_parameter",
                         f"version {change_version} sets unknown parameter {name!r}; "
                         "a new parameter needs its declaration: "
                         f"`{name}: {{type: number, default: {value}}}`")
            continue
        spec = _copy(base[name])
        spec["default"] = value
        spec.key_positions["default"] = change.key_positions[name]
        spec.value_positions["default"] = change.value_positions[name]
        spec.position = change.value_positions[name]
        _put(merged, change, name, spec)
    return merged


def _merge_inputs(base: PosDict, change: PosDict) -> PosDict:
    merged = _copy(base)
    for name, spec in change.items():
        if name not in base:
            _put(merged, change, name, spec)
            continue
        combined = _copy(base[name])
        for key in spec:
            value = spec[key]
            if key == "values" and "values" in combined:
                added = [v for v in value if v not in combined["values"]]
                value = _copy_list(combined["values"])
                value.extend(added)
                value.item_positions.extend(spec["values"].item_positions[:len(added)])
            _put(combined, spec, key, value)
        _put(merged, change, name, combined)
    return merged


def _appended(base: PosList, change: PosList) -> PosList:
    # Settings apply in order: a later version's setting beats an earlier one's
    # for the units and parameters it names; the rest stays in force.
    merged = _copy_list(base)
    merged.extend(change)
    merged.item_positions.extend(change.item_positions)
    return merged


def _strip(node: Any) -> Any:
    """A new table or rule list without the placement words of a version file."""
    if isinstance(node, PosList):
        items = _copy_list(node)
        items[:] = [_strip(item) for item in node]
        return items
    if isinstance(node, PosDict):
        mapping = _copy(node)
        for key in PLACEMENT_KEYS:
            mapping.pop(key, None)
        if isinstance(mapping.get("rules"), PosList):
            mapping["rules"] = _strip(mapping["rules"])
        return mapping
    return node


def _merge_table(old: PosDict, new: PosDict, problems: Problems) -> PosDict:
    merged = _copy(old)
    for key in new:
        if key in PLACEMENT_KEYS:
            continue
        if key == "rules":
            _put(merged, new, key, _merge_by_id(old["rules"], new["rules"], problems, "rule",
                                                lambda _o, n, _p: _strip(n)))
        else:
            _put(merged, new, key, new[key])
    return merged


def _merge_by_id(base: PosList, change: PosList, problems: Problems, what: str,
                 merge_one: Any) -> PosList:
    items = list(zip(base, base.item_positions, strict=True))
    for node, position in zip(change, change.item_positions, strict=True):
        ident = node.get("id")
        at = next((i for i, (item, _) in enumerate(items) if item.get("id") == ident), None)
        if node.get("remove"):
            if at is None:
                problems.add(position, f"unknown_{what}",
                             f"cannot remove {what} {ident!r}: the version before has none")
            else:
                del items[at]
            continue
        if at is not None:
            items[at] = (merge_one(items[at][0], node, problems), position)
            continue
        if what == "table" and "rules" not in node:
            problems.add(position, "unknown_table",
                         f"table {ident!r} is new in this version and needs `rules`")
            continue
        entry = (_strip(node), position)
        anchor = node.get("before") or node.get("after")
        if anchor is None:
            items.append(entry)
            continue
        where = next((i for i, (item, _) in enumerate(items) if item.get("id") == anchor), None)
        if where is None:
            problems.add(position, f"unknown_{what}",
                         f"{what} {ident!r} is placed next to {anchor!r}, which does not exist")
            items.append(entry)
            continue
        items.insert(where + (1 if node.get("after") else 0), entry)
    out = PosList(item for item, _ in items)
    out.position = base.position
    out.item_positions = [position for _, position in items]
    return out
