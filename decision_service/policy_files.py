"""Reading a policy directory: the one place the core's input touches disk.

Returns ``{relative path: text}`` for every ``*.yaml``/``*.yml`` file below
the directory, which ``PolicySet.from_texts`` then checks as a whole.
"""

from __future__ import annotations

from pathlib import Path

from decision_service.errors import PolicyError, PolicyProblem, Position
from decision_service.language.rollout import ROLLOUT_FILES, is_rollout_file, load_rollout
from decision_service.policyset import PolicySet
from decision_service.staging import candidate_prefix, is_candidate_file

MAX_FILE_BYTES = 4 * 1024 * 1024


def read_policy_dir(directory: str | Path) -> dict[str, str]:
    """Every policy file of ``directory``, and of the shadow candidates its
    ``rollout.yaml`` names (keyed ``../candidate/file.yaml``): one bundle, one hash."""
    root = Path(directory)
    if not root.is_dir():
        raise PolicyError([PolicyProblem(Position(str(root), 1, 1), "not_found",
                                         "no such policy directory")])
    texts = _read_files(root, "")
    for candidate in _candidate_dirs(texts):
        other = root / candidate
        if other.is_dir():
            prefix = candidate_prefix(candidate)
            texts.update((prefix + name, text) for name, text in _read_files(other, prefix).items()
                         if not is_rollout_file(name))
    return texts


def _candidate_dirs(texts: dict[str, str]) -> list[str]:
    """The candidate directories a readable rollout file names; a broken one is
    reported by ``PolicySet.from_texts``, which reads it again."""
    for file in ROLLOUT_FILES:
        if file in texts:
            try:
                rollout = load_rollout(texts[file], file)
            except PolicyError:
                return []
            return [s.policies for s in rollout.shadows
                    if s.policies is not None and is_candidate_file(candidate_prefix(s.policies))]
    return []


def _read_files(root: Path, shown_as: str) -> dict[str, str]:
    texts: dict[str, str] = {}
    problems = []
    for path in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
        name = str(path.relative_to(root))
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(PolicyProblem(Position(shown_as + name, 1, 1), "too_large",
                                          f"file is over {MAX_FILE_BYTES} bytes"))
            continue
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            problems.append(PolicyProblem(Position(shown_as + name, 1, 1), "encoding",
                                          f"not UTF-8 text: {exc.reason}"))
    if problems:
        raise PolicyError(problems)
    return texts


def load_policy_dir(directory: str | Path, engines: tuple[str, ...] | None = None) -> PolicySet:
    texts = read_policy_dir(directory)
    return PolicySet.from_texts(texts) if engines is None else PolicySet.from_texts(texts, engines)
