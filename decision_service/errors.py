"""Errors a user can act on.

``PolicyError`` points into a policy file the way compilers do
(``file:line:col: code: message``) so a process owner's editor can jump there.
``InputError`` lists one problem per input field so the CRM can show it beside
the field. Neither is ever raised for a bug of ours: those stay plain exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a policy file, 1-based, printed as ``file:line:column``."""

    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One problem in a policy file: where, a stable code, and words the owner can act on."""

    position: Position
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.position}: {self.code}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        """The problem as ``validate --format json`` and the reload API list it."""
        return {
            "file": self.position.file,
            "line": self.position.line,
            "column": self.position.column,
            "code": self.code,
            "message": self.message,
        }


class PolicyError(Exception):
    """One or more problems in policy files; nothing of them was loaded."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = sorted(
            problems, key=lambda p: (p.position.file, p.position.line, p.position.column)
        )
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One problem with a decision's input, naming the field by its dotted path."""

    field: str  # dotted path, e.g. "acting_for.valid_to"; "" for the body itself
    code: str  # missing | unknown_field | type | range | enum | format | constraint
    message: str

    def as_dict(self) -> dict[str, str]:
        """The problem as the API's ``errors`` entries list it."""
        return {"field": self.field, "code": self.code, "message": self.message}


class InputError(Exception):
    """A decision input that does not satisfy the policy's declared inputs."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field or '<body>'}: {p.message}" for p in problems))


class UnknownPolicyError(LookupError):
    """A policy (or version) the loaded set does not have; the message lists those it has."""
    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(f"unknown policy {name!r}; known policies: {', '.join(sorted(known))}")


@dataclass(frozen=True, slots=True)
class EvaluationProblem:
    """Why a policy could not decide an input: the table and what went wrong there."""

    table: str
    message: str


class EvaluationError(Exception):
    """A policy that validated but cannot decide this input (e.g. two rules of a
    ``unique`` table both match). It is the policy owner's bug, reported as such."""

    def __init__(self, problem: EvaluationProblem) -> None:
        self.problem = problem
        super().__init__(f"table {problem.table}: {problem.message}")


@dataclass
class Problems:
    """Collects policy problems so one run reports all of them, not just the first."""

    items: list[PolicyProblem] = field(default_factory=list)

    def add(self, position: Position, code: str, message: str) -> None:
        """Note one problem and go on."""
        self.items.append(PolicyProblem(position, code, message))

    def raise_if_any(self) -> None:
        """Raise one ``PolicyError`` with every problem noted, if there is any."""
        if self.items:
            raise PolicyError(self.items)
