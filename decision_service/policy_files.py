"""Reading a policy directory: the one place the core's input touches disk.

Returns ``{relative path: text}`` for every ``*.yaml``/``*.yml`` file below
the directory, which ``PolicySet.from_texts`` then checks as a whole.
"""

from __future__ import annotations

from pathlib import Path

from decision_service.errors import PolicyError, PolicyProblem, Position
from decision_service.policyset import PolicySet

MAX_FILE_BYTES = 4 * 1024 * 1024


def read_policy_dir(directory: str | Path) -> dict[str, str]:
    root = Path(directory)
    if not root.is_dir():
        raise PolicyError([PolicyProblem(Position(str(root), 1, 1), "not_found",
                                         "no such policy directory")])
    texts: dict[str, str] = {}
    problems = []
    for path in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
        name = str(path.relative_to(root))
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(PolicyProblem(Position(name, 1, 1), "too_large",
                                          f"file is over {MAX_FILE_BYTES} bytes"))
            continue
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            problems.append(PolicyProblem(Position(name, 1, 1), "encoding",
                                          f"not UTF-8 text: {exc.reason}"))
    if problems:
        raise PolicyError(problems)
    return texts


def load_policy_dir(directory: str | Path, engines: tuple[str, ...] | None = None) -> PolicySet:
    texts = read_policy_dir(directory)
    return PolicySet.from_texts(texts) if engines is None else PolicySet.from_texts(texts, engines)
