"""Decision inputs: a strict pydantic model generated from a policy's inputs.

Inputs are checked thousands of times a second, so they do not go through
cerberus (far slower) but through a generated pydantic model
(bench/engine.py times the whole decide path, validation included):
strict types (``"abc"`` is never compared with ``1000``, ``true`` is not ``1``),
no NaN or infinity, ranges, enums, unknown fields rejected, ISO dates only.
The same model gives the CRM each policy's exact JSON Schema.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from decision_service.errors import FieldProblem, InputError
from decision_service.language.cells import parse_cell
from decision_service.language.model import InputDecl, OrgTree, Policy
from decision_service.language.units import unit_hint

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_TEXT = 200
MAX_EXACT_INTEGER = 2**53
MIN_DATE, MAX_DATE = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
# An identifier (customer, requester, approver) is compared by what people
# see: no blanks at either end, no space but U+0020 inside, and no character
# that is invisible or changes nothing visible (format, control, private use,
# surrogates, separators, Hangul fillers, variation selectors), so "C1",
# "C1 " and "C1\u2066" cannot be three customers to A10 or two people to B3.
# What is kept is the NFC form: an NFD spelling is the same identifier.
_REFUSED_CATEGORIES = frozenset({"Cf", "Cc", "Co", "Cs", "Cn", "Zl", "Zp"})
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u034f\u180b\u180c\u180d\u180e\u180f"
                       "\u17b4\u17b5\u2800")


def _refused_char(char: str) -> bool:
    code = ord(char)
    return (unicodedata.category(char) in _REFUSED_CATEGORIES or char in _INVISIBLE
            or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF
            or (char.isspace() and char != " "))


def check_identifier(value: str) -> str:
    """The NFC form of an identifier; a refused character is bad input."""
    if value != value.strip():
        raise PydanticCustomError("identifier", _IDENTIFIER_RULE)
    for char in value:
        if _refused_char(char):
            raise PydanticCustomError(
                "identifier", _IDENTIFIER_RULE + " ({code} is one)",
                {"code": f"U+{ord(char):04X}"})
    return unicodedata.normalize("NFC", value)


_IDENTIFIER_RULE = ("an identifier without blanks at either end and without control, "
                    "format or invisible characters")
Identifier = Annotated[str, Field(strict=True, min_length=1, max_length=200),
                       AfterValidator(check_identifier)]


def canonical_identifier(value: object) -> str:
    """How A10 groups identifiers: NFKC and case-folded, so "c-1", "C-1" and
    "C\uff0d1" (a fullwidth hyphen) are one customer. The log keeps what was sent."""
    return unicodedata.normalize("NFKC", str(value)).casefold()


def parse_iso_date(value: Any) -> Any:
    """A calendar date written YYYY-MM-DD; a time of day or offset is bad input."""
    if isinstance(value, dt.datetime):
        raise PydanticCustomError("date_format", "a date without a time: YYYY-MM-DD")
    if isinstance(value, dt.date):
        parsed = value
    elif not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date_format", "a calendar date written YYYY-MM-DD")
    else:
        try:
            parsed = dt.date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("date_format", "{value} is not a calendar date",
                                      {"value": value}) from None
    if not MIN_DATE <= parsed <= MAX_DATE:
        # Windows such as A10's D-90 must stay within the calendar.
        raise PydanticCustomError("date_range", "a date from {low} to {high}",
                                  {"low": MIN_DATE.isoformat(), "high": MAX_DATE.isoformat()})
    return parsed


IsoDate = Annotated[dt.date, BeforeValidator(parse_iso_date)]


def _member_of(codes: frozenset[str], what: str, org: OrgTree) -> Any:
    def check(value: str) -> str:
        if value not in codes:
            hint = unit_hint(org, value, (what,)) or "; GET /v1/org lists the units"
            raise PydanticCustomError("unknown_code", "unknown {what} '{value}'{hint}",
                                      {"what": what, "value": value, "hint": hint})
        return value

    return AfterValidator(check)


def _annotation(decl: InputDecl, org: OrgTree) -> Any:
    if decl.type in ("number", "integer"):
        base: Any = float if decl.type == "number" else int
        constraints: dict[str, Any] = {"strict": True}
        if decl.type == "number":
            constraints["allow_inf_nan"] = False
        if isinstance(decl.minimum, int | float):
            constraints["gt" if decl.exclusive_minimum else "ge"] = decl.minimum
        if isinstance(decl.maximum, int | float):
            constraints["le"] = decl.maximum
        if decl.type == "integer":
            # Beyond 2**53 an integer is no longer exact as a double, which is
            # how durable-rules compares numbers: such a value is bad input.
            constraints.setdefault("ge", -MAX_EXACT_INTEGER)
            constraints.setdefault("le", MAX_EXACT_INTEGER)
        if decl.type == "integer":
            return Annotated[base, Field(**constraints), BeforeValidator(_integral)]
        return Annotated[base, Field(**constraints)]
    if decl.type == "boolean":
        return Annotated[bool, Field(strict=True)]
    if decl.type == "date":
        return IsoDate
    if decl.type == "enum":
        values = decl.values or (org.orderings[decl.ordering].values if decl.ordering else ())
        return Literal[tuple(values)]
    if decl.type == "unit":
        kind = decl.unit_level or "office"
        codes = org.codes(kind)
        return Annotated[str, Field(strict=True, min_length=1, max_length=MAX_TEXT,
                                    json_schema_extra={"enum": list(codes)}),
                         _member_of(frozenset(codes), kind, org)]
    if decl.type == "list":
        member: Any = Literal[tuple(decl.values)]
        return Annotated[list[member], Field(strict=True, max_length=len(decl.values)),
                         AfterValidator(_no_duplicates)]
    return Identifier


def _integral(value: Any) -> Any:
    """90.0 for an integer field is 90 (Jackson and JavaScript send whole numbers
    so); 30.5 stays a float and is refused as not an integer."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_EXACT_INTEGER:
        return int(value)
    return value


def _received(value: Any) -> str:
    """What a client sent, in JSON's words, for a type error."""
    kind = ("null" if value is None else "boolean" if isinstance(value, bool)
            else "number" if isinstance(value, int | float) else "string"
            if isinstance(value, str) else "array" if isinstance(value, list)
            else "object" if isinstance(value, dict) else type(value).__name__)
    if kind in ("array", "object"):
        return kind
    if value is None:
        return "null"
    try:
        text = orjson.dumps(value).decode()
    except TypeError:  # an int beyond 64 bits, which orjson does not write
        text = repr(value)
    return f"{kind} {text[:60]}"


def input_json_schema(policy: Policy, model: type[BaseModel],
                      examples: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON Schema of ``policy``'s input, as the model validates it: enums and
    ranges from the model, each ``optional_when`` as an if/then (a field optional
    only when its condition holds is required otherwise), and ``examples``."""
    schema = model.model_json_schema()
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for name, decl in policy.inputs.items():
        if decl.optional_when and decl.default is None:
            groups.setdefault(tuple(sorted(decl.optional_when.items())), []).append(name)
    rules = []
    for condition, names in groups.items():
        exempt = {"properties": {field: _test_schema(test) for field, test in condition},
                  "required": [field for field, _ in condition]}
        rules.append({"if": {"not": exempt}, "then": {"required": names}})
    if rules:
        schema["allOf"] = rules
    if examples:
        schema["examples"] = examples
    return schema


def _test_schema(test_text: str) -> dict[str, Any]:
    """A unary test (``ATI``, ``in [A, B]``, ``not X``) as JSON Schema."""
    test = parse_cell(test_text)
    words = [t.text for t in test.operands]
    if test.kind == "in":
        return {"enum": words}
    if test.kind == "not_in":
        return {"not": {"enum": words}}
    if test.kind == "compare" and test.op == "!=":
        return {"not": {"const": words[0]}}
    if test.kind == "compare":
        return {"const": words[0]}
    return {}


def _no_duplicates(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise PydanticCustomError("duplicate", "{value} is listed twice", {"value": value})
        seen.add(value)
    return values


def holds_plain(test_text: str, value: Any) -> bool:
    """A unary test (`ATI`, `in [A, B]`, `not X`) on a plain value: for optional_when."""
    test = parse_cell(test_text)
    words = [t.text for t in test.operands]
    if test.kind == "in":
        return bool(value in words)
    if test.kind == "not_in":
        return bool(value not in words)
    if test.kind == "compare" and test.op == "==":
        return bool(value == words[0])
    if test.kind == "compare" and test.op == "!=":
        return bool(value != words[0])
    return test.kind == "any"


def plain_test(test_text: str) -> Callable[[Any], bool]:
    """``holds_plain(test_text, value)`` as a function of the value, the cell read once."""
    test = parse_cell(test_text)
    words = tuple(t.text for t in test.operands)
    if test.kind == "in":
        return lambda value: bool(value in words)
    if test.kind == "not_in":
        return lambda value: bool(value not in words)
    if test.kind == "compare" and test.op == "==":
        return lambda value: bool(value == words[0])
    if test.kind == "compare" and test.op == "!=":
        return lambda value: bool(value != words[0])
    any_value = test.kind == "any"
    return lambda _value: any_value


def input_model(policy: Policy, org: OrgTree) -> type[BaseModel]:
    """The pydantic model a request to ``policy`` is validated with: one field per input,
    then the conditions between fields (``optional_when``, bounds naming another input)."""
    validators: dict[str, Any] = {
        "check_conditions": model_validator(mode="after")(_conditions_check(policy))
    }
    model_name = "".join(p.capitalize() for p in re.split(r"[-_]", policy.meta.id)) + "Input"
    model: type[BaseModel] = create_model(
        model_name,
        __config__=ConfigDict(extra="forbid", strict=True, title=model_name),
        __validators__=validators,
        **_model_fields(policy, org),
    )
    return model


def _model_fields(policy: Policy, org: OrgTree) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, decl in policy.inputs.items():
        annotation = _annotation(decl, org)
        description = decl.description.en if decl.description else None
        if decl.default is not None:
            if isinstance(decl.default, list):
                # a factory: pydantic deep-copies a mutable default on every
                # validation (bench/engine.py shows the cost)
                members = tuple(decl.default)
                fields[name] = (annotation, Field(default_factory=lambda m=members: list(m),
                                                  description=description,
                                                  json_schema_extra={"default": list(members)}))
            else:
                fields[name] = (annotation, Field(default=decl.default,
                                                  description=description))
        elif decl.required and not decl.optional_when:
            fields[name] = (annotation, Field(description=description))
        else:
            fields[name] = (annotation | None, Field(default=None, description=description))
    return fields


def _conditions_check(policy: Policy) -> Callable[[Any], Any]:
    """The model's after-validator: inputs required unless a condition holds, and
    bounds that name another input."""
    conditional = {n: d for n, d in policy.inputs.items() if d.optional_when}
    cross_bounds = {
        n: d for n, d in policy.inputs.items()
        if isinstance(d.minimum, str) or isinstance(d.maximum, str)
    }

    def check_conditions(model: Any) -> Any:
        for name, decl in conditional.items():
            if getattr(model, name) is not None:
                continue
            if not all(holds_plain(test, getattr(model, other, None))
                       for other, test in decl.optional_when.items()):
                condition = ", ".join(f"{k} {v}" for k, v in decl.optional_when.items())
                raise PydanticCustomError(
                    "missing_conditional",
                    "{field}: field required (it may be omitted only when {condition})",
                    {"field": name, "condition": condition},
                )
        for name, decl in cross_bounds.items():
            value = getattr(model, name)
            if value is None:
                continue
            if isinstance(decl.maximum, str):
                bound = getattr(model, decl.maximum)
                if bound is not None and value > bound:
                    raise PydanticCustomError(
                        "cross_field", "{field}: {value} is more than {other} ({bound})",
                        {"field": name, "value": value, "other": decl.maximum, "bound": bound})
            if isinstance(decl.minimum, str):
                bound = getattr(model, decl.minimum)
                if bound is not None and value < bound:
                    raise PydanticCustomError(
                        "cross_field", "{field}: {value} is less than {other} ({bound})",
                        {"field": name, "value": value, "other": decl.minimum, "bound": bound})
        return model

    return check_conditions


_CODES = {
    "missing": "missing",
    "missing_conditional": "missing",
    "extra_forbidden": "unknown_field",
    "literal_error": "enum",
    "unknown_code": "enum",
    "greater_than_equal": "range",
    "greater_than": "range",
    "less_than_equal": "range",
    "too_long": "range",
    "string_too_short": "range",
    "string_too_long": "range",
    "finite_number": "type",
    "date_format": "format",
    "date_range": "range",
    "duplicate": "constraint",
    "string_pattern_mismatch": "format",
    "identifier": "format",
    "cross_field": "constraint",
}


def problems_of(error: ValidationError) -> list[FieldProblem]:
    """Pydantic's validation errors as problems naming each field, with stable codes."""
    problems = []
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item["loc"]]
        ctx = item.get("ctx") or {}
        if item["type"] in ("missing_conditional", "cross_field"):
            loc = [str(ctx.get("field", ""))]
        field = ".".join(loc)
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}"
        code = _CODES.get(item["type"], "type")
        if code == "type" and "input" in item and item["type"] != "missing":
            message = f"{message}; received {_received(item['input'])}"
        problems.append(FieldProblem(field=field, code=code, message=message))
    return problems


def validate_input(model: type[BaseModel], raw: object) -> dict[str, Any]:
    """Validated input as a plain dict (defaults filled in); ``InputError`` if bad."""
    if type(raw) is not dict and not isinstance(raw, Mapping):  # a dict first: cheaper
        raise InputError([FieldProblem("", "type", "the input must be a JSON object")])
    try:
        validated = model.model_validate(raw)
    except ValidationError as exc:
        raise InputError(problems_of(exc)) from None
    # the fields: the model itself is dropped, so its dict is not copied
    fields: dict[str, Any] = validated.__dict__
    return fields
