"""Policy loading benchmark: libyaml against the pure-Python YAML parser, timed
in the same run on the shipped policies.

    python bench/yaml_load.py [--repeat 5]

Times (CPU, best of --repeat):
  (a) ``parse_yaml`` of every shipped YAML file with the pure-Python parser
      (the baseline, what ``yamlpos`` used before it composed with libyaml),
  (b) the same with libyaml (events checked for aliases and depth, then composed),
  (c) ``PolicySet.from_texts`` of the shipped set with each parser, compiled
      engine only and with every engine.
Ratios are baseline / libyaml (above 1.00x: libyaml is faster). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from decision_service.engines import ENGINES
from decision_service.language import yamlpos
from decision_service.policy_files import read_policy_dir
from decision_service.policyset import PolicySet

POLICIES = Path(__file__).resolve().parents[1] / "policies"


def best(work: Callable[[], Any], repeat: int) -> float:
    """The smallest CPU time of ``repeat`` runs of ``work`` (closing what it returns)."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        result = work()
        times.append(time.process_time() - start)
        if isinstance(result, PolicySet):
            result.close()
    return min(times)


def both(work: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """``work`` timed with the pure-Python parser, then with libyaml."""
    saved = yamlpos.WITH_LIBYAML
    try:
        yamlpos.WITH_LIBYAML = False
        slow = best(work, repeat)
        yamlpos.WITH_LIBYAML = saved
        fast = best(work, repeat)
    finally:
        yamlpos.WITH_LIBYAML = saved
    return slow, fast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not yamlpos.WITH_LIBYAML:
        raise SystemExit("PyYAML has no libyaml here: nothing to compare")
    texts = read_policy_dir(POLICIES)
    files = {name: text for name, text in texts.items() if name.endswith((".yaml", ".yml"))}
    rows = {
        "parse_yaml, every shipped file": lambda: [yamlpos.parse_yaml(t, n)
                                                   for n, t in files.items()],
        "PolicySet.from_texts, compiled": lambda: PolicySet.from_texts(texts, ("compiled",)),
        "PolicySet.from_texts, all engines": lambda: PolicySet.from_texts(texts, ENGINES),
    }
    print(f"{len(files)} files, {sum(map(len, files.values())):,} characters; "
          f"CPU seconds, best of {args.repeat}")
    for label, work in rows.items():
        slow, fast = both(work, args.repeat)
        print(f"  {label:36s} pure Python {slow:7.3f}   libyaml {fast:7.3f}   "
              f"{slow / fast:5.2f}x")


if __name__ == "__main__":
    main()
