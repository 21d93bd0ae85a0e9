"""A scenario file (`simulations/*.yaml`): its shape, read with positions.

Cerberus checks the shape, as for policies, and every problem is reported at
``file:line:col``. What needs the policies (does this version, unit, output
exist?) is checked when the scenario is planned (``plan``), at the same
positions. Paths inside a scenario are relative to the scenario file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decision_service.simulation.core import (
    PolicyError,
    PolicyProblem,
    Position,
    check_shape,
    parse_yaml,
    position_of,
)

METRICS = ("changed", "share", "count")

_TEXT = {"type": "dict", "schema": {"zh": {"type": "string", "required": True},
                                    "en": {"type": "string", "required": True}}}
_SIDE = {"type": "dict", "required": True, "schema": {
    "version": {"type": ["string", "integer"]},
    "policies": {"type": "string", "empty": False},
}}
_DATE = {"type": ["date", "string"]}
SCHEMA: dict[str, Any] = {
    "scenario": {"type": "string", "required": True, "empty": False},
    "title": _TEXT,
    "policy": {"type": "string", "required": True, "empty": False},
    "baseline": _SIDE,
    "candidate": _SIDE,
    "corpus": {"type": "dict", "required": True, "schema": {
        "file": {"type": "string", "empty": False, "excludes": ["generate", "log"]},
        "generate": {"type": "dict", "excludes": ["file", "log"], "schema": {
            "count": {"type": "integer", "min": 1, "required": True},
            "seed": {"type": "integer"},
            "from": _DATE,
            "to": _DATE,
            "fields": {"type": "dict", "valuesrules": {"type": "dict"}},
        }},
        "log": {"type": "dict", "excludes": ["file", "generate"], "schema": {
            "url": {"type": "string", "required": True, "empty": False},
            "from": _DATE,
            "to": _DATE,
            # the shadowed decisions, answered and shadow answers as recorded (``shadowed``)
            "shadow": {"type": "boolean"},
        }},
    }},
    "phases": {"type": "list", "required": True, "minlength": 1, "schema": {
        "type": "dict", "schema": {
            "name": {"type": "string", "required": True, "empty": False},
            "units": {"type": ["string", "list"], "required": True,
                      "schema": {"type": "string", "empty": False}},
        }}},
    "segments": {"type": "list", "schema": {"type": ["string", "dict"], "schema": {
        "name": {"type": "string", "required": True},
        "input": {"type": "string", "required": True},
        "edges": {"type": "list", "schema": {"type": "number"}},
    }}},
    "guards": {"type": "list", "schema": {"type": "dict", "schema": {
        "name": {"type": "string", "required": True, "empty": False},
        "metric": {"type": "string", "required": True, "allowed": list(METRICS)},
        "output": {"type": "string"},
        "value": {"type": ["string", "number", "boolean"], "nullable": True},
        "at_least": {"type": "string"},
        "where": {"type": "dict"},
        "per": {"type": "string"},
        "max": {"type": "number", "min": 0},
        "max_pct": {"type": "number", "min": 0},
        "max_rise_points": {"type": "number"},
        "max_rise_pct": {"type": "number"},
    }}},
    "max_bad_rows": {"type": "integer", "min": 0},
    "today": _DATE,
}


@dataclass(frozen=True)
class Side:
    """Baseline or candidate: a policy directory (None: the shipped one) and a
    version (None: the version the decision date picks)."""

    policies: Path | None
    version: str | None
    position: Position


@dataclass(frozen=True)
class CorpusSpec:
    kind: str  # file | generate | log
    position: Position
    shadow: bool = False  # log only: the shadowed decisions, nothing decided again
    path: Path | None = None
    url: str | None = None
    count: int = 0
    seed: int = 0
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class PhaseSpec:
    name: str
    units: tuple[str, ...] | None  # None: everyone
    position: Position
    unit_positions: tuple[Position, ...] = ()


@dataclass(frozen=True)
class SegmentSpec:
    name: str
    input: str | None  # None: a built-in (region, unit, value_band)
    edges: tuple[float, ...]
    position: Position


@dataclass(frozen=True)
class GuardSpec:
    name: str
    metric: str
    position: Position
    output: str | None = None
    value: Any = None
    has_value: bool = False
    at_least: str | None = None
    where: dict[str, Any] = field(default_factory=dict)
    where_positions: dict[str, Position] = field(default_factory=dict)
    per: str | None = None
    limit_kind: str = "max"
    limit: float = 0.0


@dataclass(frozen=True)
class Scenario:
    name: str
    title_zh: str
    title_en: str
    policy: str
    baseline: Side
    candidate: Side
    corpus: CorpusSpec
    phases: tuple[PhaseSpec, ...]
    segments: tuple[SegmentSpec, ...]
    guards: tuple[GuardSpec, ...]
    max_bad_rows: int | None  # None: 1% of the rows
    today: dt.date | None
    file: str
    position: Position
    positions: dict[str, Position] = field(default_factory=dict)  # of top-level keys


def _date(value: Any, where: Position) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise PolicyError([PolicyProblem(where, "date_format",
                                         f"{value!r} is not a date (YYYY-MM-DD)")]) from None


def _pos(doc: Any, *path: Any) -> Position:
    return position_of(doc, path, Position(getattr(doc, "position", Position("?", 1, 1)).file,
                                           1, 1))


def _side(doc: Any, key: str, base: Path) -> Side:
    raw = doc[key]
    version = raw.get("version")
    policies = raw.get("policies")
    return Side(policies=(base / policies) if policies else None,
                version=None if version is None else str(version),
                position=_pos(doc, key))


def _corpus(doc: Any, base: Path) -> CorpusSpec:
    raw = doc["corpus"]
    here = _pos(doc, "corpus")
    if "file" in raw:
        return CorpusSpec("file", _pos(doc, "corpus", "file"), path=base / raw["file"])
    if "generate" in raw:
        gen = raw["generate"]
        return CorpusSpec(
            "generate", _pos(doc, "corpus", "generate"), count=gen["count"],
            seed=gen.get("seed", 0),
            date_from=_date(gen.get("from"), _pos(doc, "corpus", "generate", "from")),
            date_to=_date(gen.get("to"), _pos(doc, "corpus", "generate", "to")),
            fields={k: dict(v) for k, v in (gen.get("fields") or {}).items()})
    if "log" in raw:
        log = raw["log"]
        return CorpusSpec(
            "log", _pos(doc, "corpus", "log"), url=log["url"],
            date_from=_date(log.get("from"), _pos(doc, "corpus", "log", "from")),
            date_to=_date(log.get("to"), _pos(doc, "corpus", "log", "to")),
            shadow=bool(log.get("shadow", False)))
    raise PolicyError([PolicyProblem(here, "missing_field",
                                     "corpus needs one of: file, generate, log")])


def _guard(doc: Any, index: int) -> GuardSpec:
    raw = doc["guards"][index]
    here = _pos(doc, "guards", index)
    limits = [k for k in ("max", "max_pct", "max_rise_points", "max_rise_pct") if k in raw]
    if len(limits) != 1:
        raise PolicyError([PolicyProblem(here, "guard_limit",
                                         f"guard {raw['name']!r} needs exactly one limit: max, "
                                         "max_pct, max_rise_points or max_rise_pct")])
    where = dict(raw.get("where") or {})
    return GuardSpec(
        name=raw["name"], metric=raw["metric"], position=here, output=raw.get("output"),
        value=raw.get("value"), has_value="value" in raw, at_least=raw.get("at_least"),
        where=where, where_positions={k: _pos(doc, "guards", index, "where", k) for k in where},
        per=raw.get("per"), limit_kind=limits[0], limit=float(raw[limits[0]]))


def _segment(doc: Any, index: int) -> SegmentSpec:
    raw = doc["segments"][index]
    here = _pos(doc, "segments", index)
    if isinstance(raw, str):
        return SegmentSpec(raw, None, (), here)
    return SegmentSpec(raw["name"], raw["input"], tuple(float(e) for e in raw.get("edges", ())),
                       here)


def _phase(doc: Any, index: int) -> PhaseSpec:
    raw = doc["phases"][index]
    here = _pos(doc, "phases", index)
    units = raw["units"]
    if isinstance(units, str):
        if units != "all":
            raise PolicyError([PolicyProblem(_pos(doc, "phases", index, "units"), "bad_units",
                                             f"units must be a list or `all`, not {units!r}")])
        return PhaseSpec(raw["name"], None, here)
    if not units:
        raise PolicyError([PolicyProblem(_pos(doc, "phases", index, "units"), "empty_phase",
                                         f"phase {raw['name']!r} lists no units")])
    return PhaseSpec(raw["name"], tuple(units), here,
                     tuple(_pos(doc, "phases", index, "units", i) for i in range(len(units))))


def parse_scenario(text: str, file: str, base: Path) -> Scenario:
    """Read a scenario's text; ``PolicyError`` (file:line:col) for any shape problem."""
    doc = parse_yaml(text, file)
    check_shape(doc, SCHEMA, file)
    title = doc.get("title") or {}
    return Scenario(
        name=doc["scenario"], title_zh=title.get("zh", doc["scenario"]),
        title_en=title.get("en", doc["scenario"]), policy=doc["policy"],
        baseline=_side(doc, "baseline", base), candidate=_side(doc, "candidate", base),
        corpus=_corpus(doc, base),
        phases=tuple(_phase(doc, i) for i in range(len(doc["phases"]))),
        segments=tuple(_segment(doc, i) for i in range(len(doc.get("segments") or []))),
        guards=tuple(_guard(doc, i) for i in range(len(doc.get("guards") or []))),
        max_bad_rows=doc.get("max_bad_rows"),
        today=_date(doc.get("today"), _pos(doc, "today")),
        file=file, position=Position(file, 1, 1),
        positions={key: _pos(doc, key) for key in doc})


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file; ``PolicyError`` if it is missing or malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise PolicyError([PolicyProblem(Position(str(path), 1, 1), "unreadable",
                                         f"cannot read the scenario: {reason}")]) from None
    return parse_scenario(text, str(path), path.parent)


def quick_scenario(policy: str, baseline: Path, candidate: Path, corpus: Path) -> Scenario:
    """The process owner's form without a file: one phase, everyone, no guards."""
    def at(option: str) -> Position:
        return Position(option, 1, 1)

    return Scenario(
        name=f"{policy}: {baseline} → {candidate}", title_zh=f"{policy} 变更影响",
        title_en=f"{policy}: effect of the change", policy=policy,
        baseline=Side(baseline, None, at("--baseline")),
        candidate=Side(candidate, None, at("--candidate")),
        corpus=CorpusSpec("file", at("--corpus"), path=corpus),
        phases=(PhaseSpec("everyone", None, at("--candidate")),),
        segments=(SegmentSpec("region", None, (), at("--policy")),),
        guards=(), max_bad_rows=None, today=None, file="<command line>",
        position=at("--policy"))


def quick_shadow_scenario(policy: str, url: str, date_from: str | None, date_to: str | None,
                          baseline: Path | None, candidate: Path | None) -> Scenario:
    """The quick form over a shadow week: the log's shadowed decisions of ``policy``, the
    answers against the shadow's, one phase, everyone, no guards. The policy directories
    (shipped by default) only declare the policy's outputs, units and segments."""
    def at(option: str) -> Position:
        return Position(option, 1, 1)

    corpus = CorpusSpec("log", at("--shadow-log"), url=url,
                        date_from=_date(date_from, at("--from")),
                        date_to=_date(date_to, at("--to")), shadow=True)
    return Scenario(
        name=f"{policy}: shadow results in {url}", title_zh=f"{policy} 影子评估结果",
        title_en=f"{policy}: shadow results as recorded", policy=policy,
        baseline=Side(baseline, None, at("--baseline")),
        candidate=Side(candidate, None, at("--candidate")),
        corpus=corpus, phases=(PhaseSpec("everyone", None, at("--shadow-log")),),
        segments=(SegmentSpec("region", None, (), at("--policy")),),
        guards=(), max_bad_rows=None, today=None, file="<command line>",
        position=at("--policy"))
