"""libyaml and the pure-Python parser read every policy text alike: the same
values at the same positions, the same error at the same ``file:line:col`` with
the same words. The pure-Python parser is the reference (it is what the error
tests were written against); libyaml is what loads policies when installed."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from samples import POLICIES

from decision_service.errors import PolicyError
from decision_service.language import yamlpos
from decision_service.language.yamlpos import PosDict, PosList, parse_yaml

SHIPPED = sorted(POLICIES.rglob("*.yaml"))


def _nested(levels: int, block: bool) -> str:
    if block:
        return "".join(f"{'  ' * n}k{n}:\n" for n in range(levels - 1)) + f"{'  ' * levels}x\n"
    return "[" * levels + "]" * levels + "\n"


BROKEN = {
    "mapping-value-in-plain-scalar": "a: b: c\n",
    "unclosed-flow-sequence": "a: [1, 2\nb: 3\n",
    "tab-indent": "a:\n\t- x\n",
    "two-documents": "a: 1\n---\nb: 2\n",
    "alias-in-second-document": "a: 1\n---\nb: *x\n",
    "unknown-tag": "a: !foo 3\n",
    "python-tag": "a: !!python/object:os.system ls\n",
    "unhashable-key": "? [1]\n: 2\n",
    "unclosed-quote": "a: 'x\n",
    "control-character": "a: \x07\n",
    "alias": "a: &x 1\nb: *x\n",
    "alias-after-a-syntax-error": "a: [1\nb: *x\n",
    "syntax-error-after-an-alias": "a: &x 1\nb: *x\nc: d: e\n",
    "merge-key": "a: {x: 1}\nb:\n  <<: {y: 2}\n  z: 3\n",
    "duplicate-key": "a: 1\nb: 2\na: 3\n",
    "number-key": "1: a\n",
    "exponent": "a: 2.5e+7\n",
    "nan": "a: .nan\n",
    "flow-64-levels": _nested(64, block=False),
    "flow-65-levels": _nested(65, block=False),
    "block-64-levels": _nested(64, block=True),
    "block-65-levels": _nested(65, block=True),
    "deep-under-an-alias": "a: *x\n" + _nested(100, block=False),
    "empty": "",
    "only-a-comment": "# nothing\n",
    "unicode-before-the-error": "名称: 审批\n值: [1\n",
}


def _plain(value: Any) -> Any:
    """The value with every position spelled out, for comparison."""
    if isinstance(value, PosDict):
        return ("map", value.position, value.key_positions, value.value_positions,
                {k: _plain(v) for k, v in value.items()})
    if isinstance(value, PosList):
        return ("seq", value.position, value.item_positions, [_plain(v) for v in value])
    return (type(value).__name__, value)


def _read(text: str, file: str) -> Any:
    try:
        return _plain(parse_yaml(text, file))
    except PolicyError as exc:
        return [(str(p), p.code) for p in exc.problems]


def _both(monkeypatch: pytest.MonkeyPatch, text: str, file: str) -> tuple[Any, Any]:
    fast = _read(text, file)
    monkeypatch.setattr(yamlpos, "WITH_LIBYAML", False)
    return fast, _read(text, file)


def test_libyaml_is_what_reads_policies_here() -> None:
    assert yaml.__with_libyaml__ and yamlpos.WITH_LIBYAML


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_both_parsers_read_each_shipped_file_to_the_same_values_and_positions(
        monkeypatch: pytest.MonkeyPatch, path: Any) -> None:
    fast, reference = _both(monkeypatch, path.read_text(), path.name)
    assert fast == reference
    assert fast[0] == "map"


@pytest.mark.parametrize("text", BROKEN.values(), ids=BROKEN.keys())
def test_both_parsers_report_the_same_problem_at_the_same_place(
        monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    fast, reference = _both(monkeypatch, text, "broken.yaml")
    assert fast == reference


def test_a_valid_policy_never_reaches_the_pure_python_parser(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise AssertionError("the pure-Python parser was used")

    monkeypatch.setattr(yamlpos._PythonLoader, "__init__", refuse)
    for path in SHIPPED:
        assert isinstance(parse_yaml(path.read_text(), path.name), PosDict)


@pytest.mark.parametrize(("levels", "refused"), [(64, False), (65, True)])
def test_nesting_is_refused_beyond_max_depth_and_not_before(levels: int, refused: bool) -> None:
    assert yamlpos.MAX_DEPTH == 64
    try:
        parse_yaml(_nested(levels, block=False), "deep.yaml")
    except PolicyError as exc:
        assert [p.code for p in exc.problems] == ["yaml_depth"]
        assert refused
    else:
        assert not refused
