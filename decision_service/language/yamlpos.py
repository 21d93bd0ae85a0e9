"""Safe YAML that remembers where every value came from.

Mappings load as ``PosDict`` and sequences as ``PosList``; both keep the
position of each key and item, so any later check (cerberus, the compiler) can
say ``file:line:col``. Duplicate keys are an error here, because PyYAML would
silently keep the last one and a process owner would never know which rule won.
Only the safe constructors are used: nothing in a policy is ever executed.
Loading is bounded in time and memory: aliases (``*name``) are refused, since a
few hundred bytes of nested aliases expand to gigabytes, and nesting deeper than
``MAX_DEPTH`` is refused before Python's recursion limit is reached.

Parsing and composing run in libyaml (PyYAML's C binding) when it is installed:
the pure-Python parser was most of the cost of loading a policy set
(bench/yaml_load.py). libyaml composes recursively and would expand aliases, so
its event stream, which needs no recursion, is checked for both first. A YAML
error libyaml finds is read again by the pure-Python parser, so that its words
and position are the ones a process owner has always seen: the two parsers word
some errors differently.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from decision_service.errors import PolicyError, PolicyProblem, Position
from decision_service.language.yaml_words import plain_yaml_problem

MAX_DEPTH = 64  # far deeper than any policy; keeps composing and checking bounded
WITH_LIBYAML: bool = getattr(yaml, "__with_libyaml__", False)


class PosDict(dict[str, Any]):
    """A dict that knows the position of each key and of itself."""

    position: Position
    key_positions: dict[str, Position]
    value_positions: dict[str, Position]


class PosList(list[Any]):
    position: Position
    item_positions: list[Position]


class _PositionedError(Exception):
    def __init__(self, position: Position, code: str, message: str) -> None:
        super().__init__(message)
        self.problem = PolicyProblem(position, code, message)


def _at(file: str, mark: Any) -> Position:
    return Position(file, mark.line + 1, mark.column + 1)


def _pos(file: str, node: Node) -> Position:
    return _at(file, node.start_mark)


def _alias_error(file: str, mark: Any) -> _PositionedError:
    return _PositionedError(_at(file, mark), "yaml_alias",
                            "YAML aliases (*name) are not allowed in policies: write the value out")


def _depth_error(file: str, mark: Any) -> _PositionedError:
    return _PositionedError(_at(file, mark), "yaml_depth",
                            f"nested more than {MAX_DEPTH} levels deep")


class _PositionConstructor(SafeConstructor):
    """The safe constructors, building ``PosDict`` and ``PosList`` with positions."""

    file_name = "<string>"

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> PosDict:  # type: ignore[override]
        self.flatten_mapping(node)
        result = PosDict()
        result.position = _pos(self.file_name, node)
        result.key_positions = {}
        result.value_positions = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                # Keys such as `1:` or `true:` are almost always a typo in a policy.
                raise _PositionedError(
                    _pos(self.file_name, key_node), "key_type", f"key {key!r} must be text"
                )
            if key in result:
                first = result.key_positions[key]
                raise _PositionedError(
                    _pos(self.file_name, key_node),
                    "duplicate_key",
                    f"key {key!r} appears twice in this mapping (first at line {first.line})",
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_positions[key] = _pos(self.file_name, key_node)
            result.value_positions[key] = _pos(self.file_name, value_node)
        return result

    def construct_sequence(self, node: SequenceNode, deep: bool = False) -> PosList:
        result = PosList(self.construct_object(child, deep=True) for child in node.value)
        result.position = _pos(self.file_name, node)
        result.item_positions = [_pos(self.file_name, child) for child in node.value]
        return result

    def construct_plain_float(self, node: ScalarNode) -> float:
        # durable-rules rejects or misreads exponents, and a process owner reading
        # 2.5e+7 next to 25000000 can mistake one for the other: numbers are plain.
        text = node.value.lower()
        if "e" in text and not text.lstrip("+-.").startswith(("inf", "nan")):
            raise _PositionedError(_pos(self.file_name, node), "number_format",
                                   f"write {node.value} with plain digits, not an exponent")
        if text.lstrip("+-") in (".nan", ".inf"):
            raise _PositionedError(_pos(self.file_name, node), "number_format",
                                   f"{node.value} is not a number a policy can use")
        return float(self.construct_yaml_float(node))

    def construct_checked_timestamp(self, node: ScalarNode) -> Any:
        # YAML resolves 2026-13-01 as a timestamp and PyYAML then raises a bare
        # ValueError while building it: an impossible date is the owner's typo.
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError as exc:
            raise _PositionedError(_pos(self.file_name, node), "date_format",
                                   f"{node.value} is not a calendar date ({exc})") from None



class _PythonLoader(_PositionConstructor, yaml.SafeLoader):
    """The pure-Python parser, checking aliases and depth as it composes."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            raise _alias_error(self.file_name, self.peek_event().start_mark)  # type: ignore[no-untyped-call]
        if self._depth >= MAX_DEPTH:
            raise _depth_error(self.file_name, self.peek_event().start_mark)  # type: ignore[no-untyped-call]
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# The stubs type a constructor's first argument as one of PyYAML's own loaders,
# which the shared mixin's methods are not, though every loader using them is.
_PythonLoader.add_constructor("tag:yaml.org,2002:float",
                              _PythonLoader.construct_plain_float)  # type: ignore[type-var]
_PythonLoader.add_constructor("tag:yaml.org,2002:map",
                              _PythonLoader.construct_mapping)  # type: ignore[type-var]
_PythonLoader.add_constructor("tag:yaml.org,2002:seq",
                              _PythonLoader.construct_sequence)  # type: ignore[type-var]
_PythonLoader.add_constructor("tag:yaml.org,2002:timestamp",
                              _PythonLoader.construct_checked_timestamp)  # type: ignore[type-var]


def _check_events(events: Iterable[yaml.Event], file_name: str) -> None:
    """Refuse aliases and nesting deeper than ``MAX_DEPTH`` where the pure-Python
    loader would: at the first offending node, checking aliases before depth. A
    second document is left to the composer, which reports it."""
    depth = 0
    documents = 0
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                return
        elif isinstance(event, yaml.AliasEvent):
            raise _alias_error(file_name, event.start_mark)
        elif isinstance(event, yaml.NodeEvent):
            if depth >= MAX_DEPTH:
                raise _depth_error(file_name, event.start_mark)
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _load(loader_class: type[_PositionConstructor], text: str, file_name: str) -> Any:
    loader = loader_class(text)  # type: ignore[call-arg]
    loader.file_name = file_name
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()  # type: ignore[attr-defined]


def _load_fast(text: str, file_name: str) -> Any:
    """libyaml parses and composes; aliases and depth are checked on its events first."""
    try:
        _check_events(yaml.parse(text, Loader=yaml.CSafeLoader), file_name)
        return _load(_CLoader, text, file_name)
    except yaml.YAMLError:
        return _load(_PythonLoader, text, file_name)


if WITH_LIBYAML:
    class _CLoader(_PositionConstructor, yaml.CSafeLoader):
        """libyaml's parser and composer with the position constructors."""

    # The same constructors as the pure-Python loader's, so both build the same values.
    _CLoader.yaml_constructors = _PythonLoader.yaml_constructors


def parse_yaml(text: str, file_name: str) -> Any:
    """Parse one YAML document; raise ``PolicyError`` with the position on any error."""
    try:
        if WITH_LIBYAML:
            return _load_fast(text, file_name)
        return _load(_PythonLoader, text, file_name)
    except _PositionedError as exc:
        raise PolicyError([exc.problem]) from None
    except yaml.MarkedYAMLError as exc:
        line, col, message, params = plain_yaml_problem(exc, text)
        raise PolicyError(
            [PolicyProblem(Position(file_name, line, col), "yaml_syntax", message, params)]
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyError(
            [PolicyProblem(Position(file_name, 1, 1), "yaml_syntax", str(exc)[:300])]
        ) from None
    except RecursionError:
        raise PolicyError([PolicyProblem(Position(file_name, 1, 1), "yaml_depth",
                                         "nested too deeply")]) from None


def _step(node: Any, step: Any) -> tuple[Any, Position] | None:
    """The child at ``step`` (a key or an index) and its position, if it exists."""
    if isinstance(node, PosDict) and isinstance(step, str) and step in node:
        return node[step], node.value_positions[step]
    if isinstance(node, PosList) and isinstance(step, int) and 0 <= step < len(node):
        return node[step], node.item_positions[step]
    return None


def position_of(root: Any, path: tuple[Any, ...], fallback: Position) -> Position:
    """The position of the value at ``path`` (keys and indexes) below ``root``.

    Walks as deep as the path exists; a missing key points at its parent mapping,
    which is where the process owner has to add it.
    """
    node = root
    best = getattr(root, "position", fallback)
    for step in path:
        child = _step(node, step)
        if child is None:
            break
        node, best = child
    return best


def key_position_of(root: Any, path: tuple[Any, ...], fallback: Position) -> Position:
    """Like ``position_of`` but for the key itself (used for unknown-key errors)."""
    parent = root
    for step in path[:-1]:
        child = _step(parent, step)
        if child is None:
            return position_of(root, path, fallback)
        parent = child[0]
    if path and isinstance(parent, PosDict) and path[-1] in parent:
        return parent.key_positions[path[-1]]
    return position_of(root, path, fallback)
