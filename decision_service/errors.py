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
    """One problem at a place in a policy file.

    ``params`` are the facts the message names (a field, a unit, a value), so
    the message can be said in another language (``problem_texts``).
    ``follows`` is set on a follow-on problem: the place of the root problem
    that caused it, which the process owner fixes first.
    """

    position: Position
    code: str
    message: str
    params: dict[str, str] = field(default_factory=dict)
    follows: Position | None = None

    def __str__(self) -> str:
        return f"{self.position}: {self.code}: {self.message}{self.follow_note('en')}"

    def follow_note(self, language: str) -> str:
        """For a follow-on problem, the words that point at its root problem."""
        if self.follows is None:
            return ""
        if language == "zh":
            return f"（后续问题：先修正 {self.follows} 的问题）"
        return f" (follows from the problem at {self.follows}: fix that first)"

    def as_dict(self) -> dict[str, object]:
        """The problem as ``validate --format json`` and the reload API list it."""
        return {
            "file": self.position.file,
            "line": self.position.line,
            "column": self.position.column,
            "code": self.code,
            "message": self.message,
            "params": dict(self.params),
            "follows": None if self.follows is None else str(self.follows),
        }


def _order(problem: PolicyProblem) -> tuple[bool, str, int, int]:
    where = problem.position
    return (problem.follows is not None, where.file, where.line, where.column)


class PolicyError(Exception):
    """One or more problems in policy files; nothing of them was loaded.

    Root problems come first, in file order; follow-on problems (``follows``
    set) after them, so the first line is always the one to fix first.
    """

    def __init__(self, problems: list[PolicyProblem]) -> None:
        # A version inherits its base's text, so one mistake can be found once per
        # version at the same place: it is said once.
        unique: dict[tuple[Position, str, str], PolicyProblem] = {}
        for problem in problems:
            unique.setdefault((problem.position, problem.code, problem.message), problem)
        self.problems = sorted(unique.values(), key=_order)
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

    def add(self, position: Position, code: str, message: str, *,
            follows: Position | None = None, **params: object) -> None:
        """Note one problem and go on; ``params`` are the facts its message names."""
        self.items.append(PolicyProblem(position, code, message,
                                        {k: str(v) for k, v in params.items()}, follows))

    def raise_if_any(self) -> None:
        """Raise one ``PolicyError`` with every problem noted, if there is any."""
        if self.items:
            raise PolicyError(self.items)
