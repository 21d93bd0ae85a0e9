"""Every problem code the code base can report, found by reading its source.

A code is a snake_case text given as the code argument of ``Problems.add``,
``PolicyProblem``, ``_PositionedError`` or ``FieldProblem``, or returned as the
first element of a ``(code, message)`` pair (cerberus shape problems). A code
built at run time (``f"unknown_{what}"``) is expanded with the texts ``what``
takes at its call sites, listed here; a new one makes ``codes_in_source`` fail.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "decision_service"
_CODE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# (function, argument index of the code) for calls that report a policy problem.
_REPORTERS = {"add": 1, "PolicyProblem": 1, "_PositionedError": 1, "FieldProblem": 1}
# Codes built from a template: the template and the values it takes.
_TEMPLATES = {"unknown_{what}": ("rule", "table")}


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _template(node: ast.JoinedStr) -> str:
    return "".join(part.value if isinstance(part, ast.Constant) else
                   "{" + ast.unparse(part.value) + "}"  # type: ignore[attr-defined]
                   for part in node.values)


def _codes_of(node: ast.expr | None) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and _CODE.match(node.value):
        return {node.value}
    if isinstance(node, ast.JoinedStr):
        template = _template(node)
        if template not in _TEMPLATES:
            raise AssertionError(f"a problem code built as {template!r}: list its values")
        return {template.format(what=value) for value in _TEMPLATES[template]}
    return set()


def _in_file(path: Path) -> set[str]:
    codes: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in _REPORTERS:
            index = _REPORTERS[_name(node.func)]
            arg = node.args[index] if len(node.args) > index else next(
                (k.value for k in node.keywords if k.arg == "code"), None)
            if _name(node.func) == "add" and len(node.args) < 3:
                continue  # set.add and friends, not Problems.add
            codes |= _codes_of(arg)
        if (isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple)
                and len(node.value.elts) == 2):
            codes |= _codes_of(node.value.elts[0]) if path.name == "parse.py" else set()
    return codes


@functools.cache  # the source does not change during a run; each guide and catalogue asks
def codes_in_source() -> frozenset[str]:
    """Every problem code of ``decision_service`` (policy files and inputs)."""
    found: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        found |= _in_file(path)
    return frozenset(found)
