"""Safe YAML that remembers where every value came from.

Mappings load as ``PosDict`` and sequences as ``PosList``; both keep the
position of each key and item, so any later check (cerberus, the compiler) can
say ``file:line:col``. Duplicate keys are an error here, because PyYAML would
silently keep the last one and a process owner would never know which rule won.
Only the safe constructors are used: nothing in a policy is ever executed.
Loading is bounded in time and memory: aliases (``*name``) are refused, since a
few hundred bytes of nested aliases expand to gigabytes, and nesting deeper than
``MAX_DEPTH`` is refused before Python's recursion limit is reached.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from decision_service.errors import PolicyError, PolicyProblem, Position
from decision_service.language.yaml_words import plain_yaml_problem


class PosDict(dict[str, Any]):
    """A dict that knows the position of each key and of itself."""

    position: Position
    key_positions: dict[str, Position]
    value_positions: dict[str, Position]


class PosList(list[Any]):
    position: Position
    item_positions: list[Position]


def _pos(file: str, node: Node) -> Position:
    return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)


MAX_DEPTH = 64  # far deeper than any policy; keeps composing and checking bounded


class _Loader(yaml.SafeLoader):
    file_name = "<string>"
    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise _PositionedError(
                Position(self.file_name, mark.line + 1, mark.column + 1), "yaml_alias",
                "YAML aliases (*name) are not allowed in policies: write the value out")
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise _PositionedError(
                Position(self.file_name, mark.line + 1, mark.column + 1), "yaml_depth",
                f"nested more than {MAX_DEPTH} levels deep")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

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


class _PositionedError(Exception):
    def __init__(self, position: Position, code: str, message: str) -> None:
        super().__init__(message)
        self.problem = PolicyProblem(position, code, message)


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> float:
    # durable-rules rejects or misreads exponents, and a process owner reading
    # 2.5e+7 next to 25000000 can mistake one for the other: numbers are plain.
    if "e" in node.value.lower() and not node.value.lower().lstrip("+-.").startswith(("inf",
                                                                                       "nan")):
        raise _PositionedError(_pos(loader.file_name, node), "number_format",
                               f"write {node.value} with plain digits, not an exponent")
    if node.value.lower().lstrip("+-") in (".nan", ".inf"):
        raise _PositionedError(_pos(loader.file_name, node), "number_format",
                               f"{node.value} is not a number a policy can use")
    return float(loader.construct_yaml_float(node))


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_sequence)


def parse_yaml(text: str, file_name: str) -> Any:
    """Parse one YAML document; raise ``PolicyError`` with the position on any error."""
    loader_cls = type("_FileLoader", (_Loader,), {"file_name": file_name})
    loader = loader_cls(text)
    try:
        return loader.get_single_data()
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
    finally:
        loader.dispose()


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
