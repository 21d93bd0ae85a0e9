"""YAML text → model. No file access here: callers hand in (name, text).

Every document is parsed with positions (``yamlpos``), its shape checked by
cerberus (``schemas``), and only then turned into model objects, so each
problem a process owner can make is reported at its ``file:line:col``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import reprlib
import threading
from typing import Any, Literal, cast

import cerberus

from decision_service.errors import PolicyError, PolicyProblem, Position, Problems
from decision_service.language import shapes
from decision_service.language.model import (
    ANSWER_FIELDS,
    Band,
    DerivedField,
    HistoryTotal,
    InputDecl,
    Ordering,
    OrgTree,
    OutputDecl,
    OutputValue,
    ParameterDecl,
    ParameterOrdering,
    Policy,
    PolicyCase,
    PolicyMeta,
    Ref,
    Rule,
    Table,
    Text,
    Unit,
    UnitSetting,
)
from decision_service.language.yamlpos import (
    PosDict,
    PosList,
    key_position_of,
    parse_yaml,
    position_of,
)


@dataclasses.dataclass(frozen=True, slots=True)
class PolicyExtension:
    """A version that `extends` another and only changes parameter defaults."""

    meta: PolicyMeta
    extends: str
    parameter_defaults: dict[str, Any]
    parameter_positions: dict[str, Position]
    source_file: str


def _flatten(errors: list[Any]) -> list[Any]:
    out: list[Any] = []
    for err in errors:
        if err.is_group_error:
            out.extend(_flatten(err.child_errors))
        else:
            out.append(err)
    return out


def _shown(value: Any, limit: int = 80) -> str:
    """A value as a message shows it: repr, cut to ``limit`` characters."""
    text = reprlib.repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _describe(err: Any) -> tuple[str, str]:
    """A cerberus error in a process owner's words: (code, message)."""
    field = err.document_path[-1] if err.document_path else "document"
    if err.code == cerberus.errors.UNKNOWN_FIELD.code:
        return "unknown_field", f"unknown field {field!r}"
    if err.code == cerberus.errors.REQUIRED_FIELD.code:
        return "missing_field", f"missing required field {field!r}"
    if err.code == cerberus.errors.BAD_TYPE.code:
        hint = ""
        if isinstance(err.value, bool):
            hint = " (YAML reads yes/no/on/off/NO as booleans: put the code in quotes)"
        return "type", f"{field!r} must be of type {err.constraint}, not {_shown(err.value)}{hint}"
    if err.code == cerberus.errors.UNALLOWED_VALUE.code:
        allowed = ", ".join(str(a) for a in err.constraint)
        return "unknown_value", f"{field!r}: unknown value {_shown(err.value)}; allowed: {allowed}"
    if err.code == cerberus.errors.REGEX_MISMATCH.code:
        return "bad_name", f"{_shown(err.value)} is not a valid name here"
    if err.code == cerberus.errors.EMPTY_NOT_ALLOWED.code:
        return "empty", f"{field!r} must not be empty"
    message = cerberus.errors.BasicErrorHandler.messages.get(err.code, "is invalid")
    with contextlib.suppress(KeyError, IndexError):
        message = message.format(constraint=err.constraint, value=_shown(err.value), field=field)
    return "invalid", f"{field!r}: {message}"


_validators = threading.local()


def _validator(schema: dict[str, Any]) -> cerberus.Validator:
    """One validator per shape and thread: building one checks the whole shape
    against cerberus's own rules, and a validator holds its document while it
    validates, so threads (a reload beside a request) do not share one."""
    cache: dict[int, tuple[dict[str, Any], cerberus.Validator]] = getattr(
        _validators, "cache", None) or {}
    _validators.cache = cache
    entry = cache.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = (schema, cerberus.Validator(schema, allow_unknown=False))
        cache[id(schema)] = entry
    return entry[1]


def check_shape(doc: Any, schema: dict[str, Any], file: str) -> None:
    """Raise ``PolicyError`` listing every shape problem of ``doc``."""
    top = Position(file, 1, 1)
    if not isinstance(doc, dict):
        raise PolicyError([PolicyProblem(top, "not_a_mapping", "the file must be a YAML mapping")])
    validator = _validator(schema)
    # The shapes use no normalization rules (defaults, coercion, renames), so
    # cerberus's normalizing pass, a copy of the whole document, would change nothing.
    if validator.validate(doc, normalize=False):
        return
    problems = Problems()
    for err in _flatten(validator._errors):
        path = tuple(err.document_path)
        if err.code == cerberus.errors.UNKNOWN_FIELD.code:
            pos = key_position_of(doc, path, top)
        else:
            pos = position_of(doc, path, top)
        code, message = _describe(err)
        problems.add(pos, code, message, field=".".join(str(step) for step in path),
                     value=_shown(err.value))
    problems.raise_if_any()


def _text(value: Any) -> Text | None:
    if value is None:
        return None
    en = str(value.get("en", ""))
    return Text(zh=str(value.get("zh", en)), en=en)


def _pos(node: Any, fallback: Position) -> Position:
    return cast(Position, getattr(node, "position", fallback))


def _val_pos(mapping: Any, key: str, fallback: Position) -> Position:
    if isinstance(mapping, PosDict) and key in mapping.value_positions:
        return mapping.value_positions[key]
    return fallback


# ---------------------------------------------------------------------------
# org tree


def load_org(text: str, file: str) -> OrgTree:
    return org_from_doc(parse_yaml(text, file), file)


def org_from_doc(doc: Any, file: str) -> OrgTree:
    """The org tree from its parsed document (``load_org`` without the parse)."""
    check_shape(doc, shapes.ORG, file)
    org = doc["org"]
    problems = Problems()
    units: dict[str, Unit] = {}

    def add(unit: Unit, node: Any) -> None:
        if unit.code in units:
            problems.add(_pos(node, Position(file, 1, 1)), "duplicate_unit",
                         f"unit {unit.code!r} is listed twice")
        units[unit.code] = unit

    hq = org["headquarters"]
    add(Unit(hq["code"], "company", _text(hq.get("name")) or Text(hq["code"], hq["code"]), None),
        hq)
    for bg in org.get("business_groups", []):
        name = _text(bg.get("name")) or Text(bg["code"], bg["code"])
        add(Unit(bg["code"], "bg", name, hq["code"], business_group=bg["group"]), bg)
    for region in org["regions"]:
        name = _text(region.get("name")) or Text(region["code"], region["code"])
        add(Unit(region["code"], "region", name, hq["code"]), region)
        for office in region["offices"]:
            oname = _text(office.get("name")) or Text(office["code"], office["code"])
            add(Unit(office["code"], "office", oname, region["code"],
                     watchlist=bool(office.get("watchlist", False))), office)
    problems.raise_if_any()
    orderings = {
        "levels": Ordering("levels", tuple(org["levels"])),
        "grades": Ordering("grades", tuple(org["grades"])),
    }
    level_names: dict[str, Text] = {}
    for code, node in (org.get("level_names") or {}).items():
        level_names[code] = _text(node) or Text(code, code)
    return OrgTree(units=units, orderings=orderings, version=str(org["version"]),
                   level_names=level_names)


# ---------------------------------------------------------------------------
# policies


def _meta(doc: dict[str, Any], file: str) -> PolicyMeta:
    meta = doc["policy"]
    pos = _pos(meta, Position(file, 1, 1))
    title = _text(meta.get("title")) or Text(meta["id"], meta["id"])
    return PolicyMeta(
        id=meta["id"],
        version=str(meta["version"]),
        title=title,
        owner=str(meta.get("owner", "")),
        effective_from=meta.get("effective_from"),
        effective_to=meta.get("effective_to"),
        decision_date_input=meta.get("decision_date"),
        unit_input=meta.get("unit"),
        position=pos,
    )


def _output_value(value: Any) -> OutputValue:
    if isinstance(value, dict):
        return Ref(field=str(value["ref"]), prefix=str(value.get("prefix", "")))
    if isinstance(value, list):
        return tuple(_output_value(v) for v in value)
    return cast(OutputValue, value)


def _check_output_value(value: Any, pos: Position, problems: Problems) -> None:
    if isinstance(value, dict):
        unknown = set(value) - {"ref", "prefix"}
        if "ref" not in value or unknown:
            problems.add(pos, "bad_output_value",
                         "an output value is a literal, a list, or {ref: field, prefix: text}")
    elif isinstance(value, list):
        for item in value:
            _check_output_value(item, pos, problems)


def load_policy(text: str, file: str) -> Policy | PolicyExtension:
    """Parse one policy file: a whole policy, or a version that ``extends`` another."""
    doc = parse_yaml(text, file)
    top = Position(file, 1, 1)
    if isinstance(doc, dict) and isinstance(doc.get("policy"), dict) and "extends" in doc["policy"]:
        check_shape(doc, shapes.POLICY_EXTENSION, file)
        params = doc.get("parameters") or PosDict()
        return PolicyExtension(
            meta=_meta(doc, file),
            extends=str(doc["policy"]["extends"]),
            parameter_defaults=dict(params),
            parameter_positions={k: _val_pos(params, k, top) for k in params},
            source_file=file,
        )
    return policy_from_doc(doc, file)


def policy_from_doc(doc: Any, file: str, lineage: tuple[tuple[str, str], ...] = (),
                    *, shape_checked: bool = False) -> Policy:
    """A full policy from its parsed document (a file, or a version merged onto its base),
    one section after another; ``shape_checked`` when the caller has just checked this
    very document against the policy shape."""
    top = Position(file, 1, 1)
    if not shape_checked:
        check_shape(doc, shapes.POLICY, file)
    problems = Problems()
    meta = _meta(doc, file)
    policy = Policy(
        meta=meta,
        inputs=_inputs(doc, top),
        parameters=_parameters(doc, top),
        settings=_settings(doc, top),
        derived=_derived(doc, top),
        history=_history(doc, top),
        outputs=_outputs(doc, top, problems),
        tables=tuple(_table(table_doc, top, problems) for table_doc in doc.get("tables") or []),
        source_file=file,
        orderings=_orderings(doc.get("orderings") or PosList(), top),
        lineage=lineage or ((meta.version, file),),
    )
    problems.raise_if_any()
    return policy


def _inputs(doc: Any, top: Position) -> dict[str, InputDecl]:
    inputs: dict[str, InputDecl] = {}
    for name, spec in (doc.get("inputs") or {}).items():
        pos = _val_pos(doc["inputs"], name, top)
        inputs[name] = InputDecl(
            name=name,
            type=spec["type"],
            position=pos,
            required=bool(spec.get("required", True)) and "default" not in spec,
            optional_when=dict(spec.get("optional_when") or {}),
            values=tuple(spec.get("values") or ()),
            ordering=spec.get("ordering"),
            unit_level=spec.get("level"),
            minimum=spec.get("min"),
            maximum=spec.get("max"),
            exclusive_minimum=bool(spec.get("exclusive_min", False)),
            default=list(spec["default"]) if isinstance(spec.get("default"), list)
            else spec.get("default"),
            description=_text(spec.get("description")),
            label=_text(spec.get("label")),
            measure=spec.get("measure"),
        )
    return inputs


def _parameters(doc: Any, top: Position) -> dict[str, ParameterDecl]:
    parameters: dict[str, ParameterDecl] = {}
    for name, spec in (doc.get("parameters") or {}).items():
        parameters[name] = ParameterDecl(
            name=name,
            type=spec["type"],
            default=spec["default"],
            position=_val_pos(doc["parameters"], name, top),
            ordering=spec.get("ordering"),
            description=_text(spec.get("description")),
            measure=spec.get("measure"),
        )
    return parameters


def _settings(doc: Any, top: Position) -> tuple[UnitSetting, ...]:
    return tuple(
        UnitSetting(
            units=tuple(s["units"]),
            values=dict(s["set"]),
            position=_pos(s, top),
            note=_text(s.get("note")),
        )
        for s in (doc.get("settings") or [])
    )


def _derived(doc: Any, top: Position) -> dict[str, DerivedField]:
    return {
        name: DerivedField(name, tuple(spec["sum"]), _val_pos(doc["derived"], name, top),
                           _text(spec.get("label")), spec.get("measure"))
        for name, spec in (doc.get("derived") or {}).items()
    }


def _history(doc: Any, top: Position) -> dict[str, HistoryTotal]:
    return {
        name: HistoryTotal(
            name=name,
            sum_field=spec["sum"],
            group_by=tuple(spec["group_by"]),
            where_input={k: str(v) for k, v in spec["where_input"].items()},
            where_output={k: str(v) for k, v in spec["where_output"].items()},
            window_days=int(spec["window_days"]),
            latest_per=spec.get("latest_per"),
            position=_val_pos(doc["history"], name, top),
            label=_text(spec.get("label")),
        )
        for name, spec in (doc.get("history") or {}).items()
    }


def _outputs(doc: Any, top: Position, problems: Problems) -> dict[str, OutputDecl]:
    outputs: dict[str, OutputDecl] = {}
    for name, spec in (doc.get("outputs") or {}).items():
        pos = _val_pos(doc["outputs"], name, top)
        if name in ANSWER_FIELDS:
            problems.add(doc["outputs"].key_positions[name], "reserved_output",
                         f"output {name!r} has the name of a field every answer carries "
                         f"({', '.join(sorted(ANSWER_FIELDS))}): choose another name",
                         name=name)
        lookup_map = spec.get("map") or {}
        for key in lookup_map:
            _check_output_value(lookup_map[key], _val_pos(lookup_map, key, pos), problems)
        outputs[name] = OutputDecl(
            name=name,
            type=spec["type"],
            position=pos,
            ordering=spec.get("ordering"),
            values=tuple(spec.get("values") or ()),
            combine=spec.get("combine", "set"),
            default=spec.get("default"),
            lookup=spec.get("lookup"),
            lookup_map={str(k): _output_value(v) for k, v in lookup_map.items()},
            description=_text(spec.get("description")),
        )
    return outputs


def _orderings(nodes: Any, top: Position) -> tuple[ParameterOrdering, ...]:
    out = []
    for index, node in enumerate(nodes):
        direction: Literal["rising", "falling"] = "rising" if "rising" in node else "falling"
        out.append(ParameterOrdering(
            names=tuple(node[direction]), direction=direction,
            strict=bool(node.get("strict", True)),
            position=nodes.item_positions[index] if isinstance(nodes, PosList) else top,
            note=_text(node.get("note"))))
    return tuple(out)


def _cells(node: Any, top: Position) -> tuple[dict[str, str], dict[str, Position]]:
    if not node:
        return {}, {}
    cells: dict[str, str] = {}
    positions: dict[str, Position] = {}
    for key, value in node.items():
        # Booleans and numbers stay typed (`true`, `0`); the compiler reads them
        # as equality tests. Text is parsed there as a unary test.
        cells[key] = value
        positions[key] = _val_pos(node, key, top)
    return cells, positions


def _table(table_doc: PosDict, top: Position, problems: Problems) -> Table:
    table_pos = _pos(table_doc, top)
    outputs = tuple(table_doc["outputs"])
    rules = []
    rule_nodes: PosList = table_doc["rules"]
    for index, rule_doc in enumerate(rule_nodes, start=1):
        rule_pos = rule_nodes.item_positions[index - 1]
        when, when_pos = _cells(rule_doc.get("when"), rule_pos)
        then_doc = rule_doc.get("then")
        then: dict[str, OutputValue]
        if isinstance(then_doc, dict) and "ref" not in then_doc:
            then = {k: _output_value(v) for k, v in then_doc.items()}
        elif "then" in rule_doc:
            _check_output_value(then_doc, _val_pos(rule_doc, "then", rule_pos), problems)
            then = {outputs[0]: _output_value(then_doc)} if len(outputs) == 1 else {}
            if len(outputs) != 1:
                problems.add(_val_pos(rule_doc, "then", rule_pos), "then_needs_names",
                             f"table {table_doc['id']} has {len(outputs)} outputs: write "
                             "`then: {output: value, ...}`")
        else:
            then = {}
        rules.append(
            Rule(
                id=str(rule_doc.get("id", f"{table_doc['id']}.{index}")),
                when=when,
                when_positions=when_pos,
                then=then,
                position=rule_pos,
                score=rule_doc.get("score"),
                message=_text(rule_doc.get("message")),
            )
        )
    when, when_pos = _cells(table_doc.get("when"), table_pos)
    bands_doc = table_doc.get("bands")
    bands: tuple[Band, ...] = ()
    band_output = None
    if bands_doc:
        band_output = bands_doc["output"]
        bands = (*(Band(float(b[0]), str(b[1])) for b in bands_doc["at_least"]),
                 Band(None, str(bands_doc["else"])))
    return Table(
        id=table_doc["id"],
        title=_text(table_doc["title"]) or Text(table_doc["id"], table_doc["id"]),
        hit=table_doc["hit"],
        outputs=outputs,
        rules=tuple(rules),
        position=table_pos,
        when=when,
        when_positions=when_pos,
        final=bool(table_doc.get("final", False)),
        override=bool(table_doc.get("override", False)),
        bands=bands,
        band_output=band_output,
        monotonic=dict(table_doc.get("monotonic") or {}),
    )


# ---------------------------------------------------------------------------
# cases


def load_cases(text: str, file: str) -> tuple[str, list[PolicyCase]]:
    return cases_from_doc(parse_yaml(text, file), file)


def cases_from_doc(doc: Any, file: str) -> tuple[str, list[PolicyCase]]:
    """A case file's policy id and cases from its parsed document."""
    check_shape(doc, shapes.CASES, file)
    cases_node: PosList = doc["cases"]
    base = _plain(doc.get("base") or {})
    cases = []
    for index, case in enumerate(cases_node):
        case_input = {**base, **_plain(case["input"])}
        for name in case.get("without") or []:
            case_input.pop(name, None)
        cases.append(
            PolicyCase(
                name=case["name"],
                input=case_input,
                expect=_plain(case.get("expect") or {}),
                position=cases_node.item_positions[index],
                expect_error=list(case["expect_error"]) if "expect_error" in case else None,
                rules=list(case["rules"]) if "rules" in case else None,
                prior_total=float(case.get("prior_total", 0.0)),
                today=case.get("today"),
            )
        )
    return str(doc["policy"]), cases


def _plain(value: Any) -> Any:
    """Positions off: the CRM sends plain JSON, and cases must look the same."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat") and not isinstance(value, str):
        # YAML reads 2026-11-23 as a date; the CRM sends the string.
        return value.isoformat()
    return value
