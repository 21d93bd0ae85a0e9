"""Which problems only follow from another one.

A policy file that does not load leaves its cases "for an unknown policy", its
later versions "extending an unknown base" and, for the org file, the set
"without an org tree". Those follow-on problems are still shown, but marked
with the root problem's place and listed after every root problem, so a
process owner fixes the one broken file first instead of chasing its echoes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import PurePosixPath

from decision_service.errors import PolicyProblem, Position, Problems

# Problems a file that did not load can cause in other files.
FOLLOW_ON_CODES = frozenset({"unknown_policy", "unknown_base", "missing_org", "unknown_version"})


def _related(problem: PolicyProblem, file: str, text: str) -> bool:
    if problem.code == "missing_org":
        return re.search(r"^org\s*:", text, re.MULTILINE) is not None
    if PurePosixPath(problem.position.file).parent == PurePosixPath(file).parent:
        return True
    name = problem.params.get("policy") or problem.params.get("name")
    return bool(name) and re.search(rf"^\s*id\s*:\s*['\"]?{re.escape(name or '')}\b", text,
                                    re.MULTILINE) is not None


def _roots(problems: Problems) -> dict[str, Position]:
    """The first root problem of each file that has one."""
    roots: dict[str, Position] = {}
    for problem in sorted(problems.items, key=lambda p: (p.position.line, p.position.column)):
        if problem.code not in FOLLOW_ON_CODES:
            roots.setdefault(problem.position.file, problem.position)
    return roots


def mark_follow_ons(problems: Problems, texts: Mapping[str, str]) -> None:
    """Mark each follow-on problem with the root problem of the file it follows from."""
    roots = _roots(problems)
    for index, problem in enumerate(problems.items):
        if problem.code not in FOLLOW_ON_CODES or problem.follows is not None:
            continue
        root = next((position for file, position in roots.items()
                     if file != problem.position.file and file in texts
                     and _related(problem, file, texts[file])), None)
        if root is not None:
            problems.items[index] = dataclasses.replace(problem, follows=root)
