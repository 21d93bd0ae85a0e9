"""Plain data: what a policy says, with no behaviour and no engine.

The loader builds these from YAML; the compiler turns them into the
intermediate form of ``ir.py``; the CLI, API and explanations read them.
Every element keeps its ``Position`` so later checks can point at the file.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from typing import Literal

from decision_service.errors import Position

InputType = Literal["string", "enum", "number", "integer", "boolean", "date", "list", "unit"]
HitPolicy = Literal["first", "unique", "any", "priority", "collect", "collect-max", "scorecard"]
HIT_POLICIES: tuple[HitPolicy, ...] = (
    "first",
    "unique",
    "any",
    "priority",
    "collect",
    "collect-max",
    "scorecard",
)
Scalar = str | int | float | bool

# Fields every answer (CLI, API, decision log) carries beside a policy's
# outputs: an output with one of these names would be overwritten or would
# overwrite them, so validate refuses it.
ANSWER_FIELDS = frozenset({
    "decision_id", "policy", "policy_version", "version_reason", "reasons", "decision_date",
    "engine", "explanation", "history", "shadow", "bundle_hash", "decided_at", "request_id",
    "input", "output", "prev_hash", "record_hash",
})
Measure = Literal["usd", "percent", "days"]


@dataclass(frozen=True, slots=True)
class Text:
    """A text in both working languages of the company."""

    zh: str
    en: str

    def in_language(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True, slots=True)
class Ordering:
    """An ordered set of codes (levels, grades): the first is the lowest."""

    name: str
    values: tuple[str, ...]

    def rank(self, value: str) -> int:
        return self.values.index(value)


@dataclass(frozen=True, slots=True)
class InputDecl:
    name: str
    type: InputType
    position: Position
    required: bool = True
    optional_when: dict[str, str] = field(default_factory=dict)  # field -> unary test
    values: tuple[str, ...] = ()  # enum / list members; unit codes come from the org
    ordering: str | None = None  # name of an Ordering, for ordered enums
    unit_level: str | None = None  # for type unit: "office" or "region"
    minimum: float | str | None = None  # a number, or the name of another input
    maximum: float | str | None = None
    exclusive_minimum: bool = False
    default: Scalar | list[str] | None = None
    description: Text | None = None
    label: Text | None = None  # the short name reasons use: 毛利率 / gross margin
    measure: Measure | None = None


@dataclass(frozen=True, slots=True)
class ParameterDecl:
    name: str
    type: Literal["number", "integer", "enum"]
    default: Scalar
    position: Position
    ordering: str | None = None
    description: Text | None = None
    measure: Measure | None = None


@dataclass(frozen=True, slots=True)
class UnitSetting:
    """Parameter values for some units and every unit below them (A9)."""

    units: tuple[str, ...]
    values: dict[str, Scalar]
    position: Position
    note: Text | None = None


@dataclass(frozen=True, slots=True)
class ParameterOrdering:
    """Parameters that must rank in this order for every unit (after its settings),
    e.g. value limits rise from SYSTEM_DEPT to BG and margin floors fall."""

    names: tuple[str, ...]
    direction: Literal["rising", "falling"]
    strict: bool
    position: Position
    note: Text | None = None


@dataclass(frozen=True, slots=True)
class DerivedField:
    """A field computed before the tables run: for now only a sum of fields."""

    name: str
    sum_of: tuple[str, ...]
    position: Position
    label: Text | None = None
    measure: Measure | None = None


@dataclass(frozen=True, slots=True)
class HistoryTotal:
    """A total read from the decision log (A10 deal splitting).

    Decisions whose input matches ``where_input`` and whose output matches
    ``where_output`` count; they are grouped by ``group_by`` and summed over
    ``sum_field`` in the ``window_days`` days up to and including this one's date.
    A decision only looks the total up when its own input matches ``where_input``.
    With ``latest_per`` (an input naming the deal), only the latest decision of
    each value counts, and a decision never counts its own value's decisions.
    """

    name: str
    sum_field: str
    group_by: tuple[str, ...]
    where_input: dict[str, str]
    where_output: dict[str, str]
    window_days: int
    position: Position
    latest_per: str | None = None
    label: Text | None = None


@dataclass(frozen=True, slots=True)
class OutputDecl:
    name: str
    type: Literal["enum", "string", "number", "integer", "boolean", "list"]
    position: Position
    ordering: str | None = None
    values: tuple[str, ...] = ()
    combine: Literal["set", "max"] = "set"
    default: Scalar | None = None
    # A lookup output is filled from another output after the tables run,
    # e.g. approver_unit from required_level. Values: a literal, or a reference.
    lookup: str | None = None
    lookup_map: dict[str, OutputValue] = field(default_factory=dict)
    description: Text | None = None


@dataclass(frozen=True, slots=True)
class Ref:
    """An output value taken from a field: ``{ref: office.region, prefix: "BG-"}``."""

    field: str
    prefix: str = ""


OutputValue = Scalar | Ref | None | tuple["OutputValue", ...]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    when: dict[str, str]  # field -> unary test text, as written
    when_positions: dict[str, Position]
    then: dict[str, OutputValue]
    position: Position
    score: float | None = None
    message: Text | None = None


@dataclass(frozen=True, slots=True)
class Band:
    at_least: float | None  # None: the band for everything below the others
    value: str


@dataclass(frozen=True, slots=True)
class Table:
    id: str
    title: Text
    hit: HitPolicy
    outputs: tuple[str, ...]
    rules: tuple[Rule, ...]
    position: Position
    when: dict[str, str] = field(default_factory=dict)  # applies only when these hold
    when_positions: dict[str, Position] = field(default_factory=dict)
    final: bool = False  # when it matches, it decides alone: later tables are skipped
    override: bool = False  # its outputs replace earlier values instead of combining (caps)
    bands: tuple[Band, ...] = ()  # scorecard: score -> band output
    band_output: str | None = None
    monotonic: dict[str, Literal["increasing", "decreasing"]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PolicyMeta:
    id: str
    version: str
    title: Text
    owner: str
    effective_from: dt.date | None
    effective_to: dt.date | None
    decision_date_input: str | None  # the input holding `as_of`, if any
    unit_input: str | None  # the input naming the unit whose settings apply
    position: Position


@dataclass(frozen=True, slots=True)
class Policy:
    meta: PolicyMeta
    inputs: dict[str, InputDecl]
    parameters: dict[str, ParameterDecl]
    settings: tuple[UnitSetting, ...]
    derived: dict[str, DerivedField]
    history: dict[str, HistoryTotal]
    outputs: dict[str, OutputDecl]
    tables: tuple[Table, ...]
    source_file: str
    orderings: tuple[ParameterOrdering, ...] = ()
    # (version, file) of every version this one is built from, first version
    # first: says "set in version 2" for a figure positioned in that file.
    lineage: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def version_of_file(self, file: str) -> str | None:
        return next((version for version, name in self.lineage if name == file), None)


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    kind: Literal["company", "bg", "region", "office"]
    name: Text
    parent: str | None
    watchlist: bool = False
    business_group: str | None = None  # for BG units


@dataclass(frozen=True, slots=True)
class OrgTree:
    units: dict[str, Unit]
    orderings: dict[str, Ordering]
    version: str
    level_names: dict[str, Text] = field(default_factory=dict)

    def chain(self, code: str) -> tuple[str, ...]:
        """The unit and every unit above it, top first (HQ, region, office)."""
        out: list[str] = []
        current: str | None = code
        while current is not None:
            out.append(current)
            current = self.units[current].parent
        return tuple(reversed(out))

    def region_of(self, code: str) -> str | None:
        for unit_code in self.chain(code):
            if self.units[unit_code].kind == "region":
                return unit_code
        return None

    def codes(self, kind: str) -> tuple[str, ...]:
        return tuple(u.code for u in self.units.values() if u.kind == kind)

    def closest(self, text: str, kind: str | None = None, limit: int = 3) -> list[str]:
        """Codes of the units (of ``kind``) nearest to ``text``: the same code in
        another case first ("de" -> DE), then codes and names (zh, en) that look alike."""
        units = [u for u in self.units.values() if kind is None or u.kind == kind]
        wanted = text.strip().casefold()
        found = [u.code for u in units if u.code.casefold() == wanted]
        by_word: dict[str, str] = {}
        for unit in units:
            for word in (unit.code, unit.name.en, unit.name.zh, _initials(unit.name.en)):
                if word:
                    by_word.setdefault(word.casefold(), unit.code)
        for word in difflib.get_close_matches(wanted, list(by_word), n=limit * 3, cutoff=0.5):
            if by_word[word] not in found:
                found.append(by_word[word])
        return found[:limit]


def _initials(name: str) -> str:
    """"UAE" for United Arab Emirates: how people often write a many-word name."""
    words = name.split()
    return "".join(word[0] for word in words) if len(words) > 1 else ""


@dataclass(frozen=True, slots=True)
class PolicyCase:
    name: str
    input: dict[str, object]
    expect: dict[str, object]
    position: Position
    expect_error: list[str] | None = None  # fields expected to be rejected
    rules: list[str] | None = None  # rule ids expected to fire, in order
    prior_total: float = 0.0
    today: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Activation:
    """A version held to some units (A11 staged rollout): elsewhere the one before it."""

    policy: str
    version: str
    units: tuple[str, ...]  # offices or regions; a region covers its offices
    position: Position  # of the activation entry
    unit_positions: tuple[Position, ...]
    version_position: Position


@dataclass(frozen=True, slots=True)
class ShadowCandidate:
    """A candidate evaluated beside the answer, never answered.

    ``version`` alone: that version of the live set, whatever the dates say.
    ``policies``: another policy directory (relative to the live one); its version
    in force on the decision date, or ``version`` when given."""

    policy: str
    version: str | None
    policies: str | None
    position: Position
    candidate_position: Position


@dataclass(frozen=True, slots=True)
class Rollout:
    """``rollout.yaml``: what is staged and shadowed. Absent: dates alone decide."""

    activations: tuple[Activation, ...] = ()
    shadows: tuple[ShadowCandidate, ...] = ()
    source_file: str | None = None
