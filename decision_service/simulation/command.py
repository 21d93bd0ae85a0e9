"""`decision-service simulate`: the command, its exit codes and its terminal output.

Exit codes: 0 every guard holds in every phase; 3 a guard fails; 2 a bad
scenario or corpus (each problem at the scenario's file:line:col), including
more bad rows than the scenario allows.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from decision_service.simulation.core import PolicyError, PolicyProblem, Position
from decision_service.simulation.outputs import clear_summary, write_outputs
from decision_service.simulation.plan import make_plan
from decision_service.simulation.runner import Outcome, run_plan
from decision_service.simulation.runner import Progress as ProgressHooks
from decision_service.simulation.scenario import (
    Scenario,
    load_scenario,
    quick_scenario,
    quick_shadow_scenario,
)

EXIT_HOLDS, EXIT_INVALID, EXIT_GUARD_FAILS = 0, 2, 3


class _Bar(ProgressHooks):
    """A rich progress bar, only on a terminal."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.reading = progress.add_task("rows read / 已读行数", total=None)
        self.deciding: Any = None

    def rows_read(self, count: int) -> None:
        self.progress.advance(self.reading, count)

    def partitions(self, total: int) -> None:
        self.progress.update(self.reading, total=self.progress.tasks[0].completed)
        self.deciding = self.progress.add_task("partitions / 分区", total=total)

    def partition_done(self) -> None:
        self.progress.advance(self.deciding)


def _problems(err: Console, exc: PolicyError, fmt: str) -> int:
    if fmt == "json":
        sys.stdout.write(orjson.dumps({"ok": False, "problems": [
            p.as_dict() for p in exc.problems]}, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for problem in exc.problems:
            err.print(str(problem), highlight=False, markup=False)
        err.print(f"[red]{len(exc.problems)} problem(s); nothing was simulated / "
                  "场景有误，未执行仿真[/red]")
    return EXIT_INVALID


@dataclass(frozen=True)
class QuickForm:
    """The command line's scenario, when no scenario file is given."""

    policy: str | None = None
    baseline: Path | None = None
    candidate: Path | None = None
    corpus: Path | None = None
    shadow_log: str | None = None  # a decision log URL: its shadow results as the corpus
    date_from: str | None = None
    date_to: str | None = None

    def given(self) -> bool:
        return any(v is not None for v in vars(self).values())


def _usage(message: str) -> PolicyError:
    return PolicyError([PolicyProblem(Position("<command line>", 1, 1), "usage", message)])


def _scenario(path: Path | None, quick: QuickForm) -> Scenario:
    if path is not None:
        if quick.given():
            raise _usage("give a scenario file or --policy/--baseline/--candidate/--corpus "
                         "(or --shadow-log), not both")
        return load_scenario(path)
    if quick.shadow_log is not None:
        if quick.policy is None or quick.corpus is not None:
            raise _usage("--shadow-log takes --policy (and --from/--to, --baseline/--candidate "
                         "for the policy's declarations), not --corpus")
        return quick_shadow_scenario(quick.policy, quick.shadow_log, quick.date_from,
                                     quick.date_to, quick.baseline, quick.candidate)
    if quick.date_from is not None or quick.date_to is not None:
        raise _usage("--from and --to go with --shadow-log")
    policy, baseline, candidate, corpus = (quick.policy, quick.baseline, quick.candidate,
                                           quick.corpus)
    if policy is None or baseline is None or candidate is None or corpus is None:
        raise _usage("give a scenario file, all of --policy, --baseline, --candidate and "
                     "--corpus, or --policy and --shadow-log")
    return quick_scenario(policy, baseline, candidate, corpus)


def _print(out: Console, outcome: Outcome) -> None:
    summary = outcome.summary
    out.print(f"[bold]{summary['scenario']}[/bold] ({summary['policy']}): "
              f"{summary['deals']} deals decided, {summary['bad_rows']} bad rows / "
              f"已判定 {summary['deals']} 笔，坏行 {summary['bad_rows']} 行", highlight=False)
    table = Table("phase 阶段", "units 单位", "changed 变化", "guards 守护条件", show_edge=False)
    for phase in summary["phases"]:
        units = phase["units"] if isinstance(phase["units"], str) else ", ".join(phase["units"])
        guards = "  ".join(f"{'[green]✓' if g['holds'] else '[red]✗'} {g['name']} "
                           f"{g['value']:g}/{g['limit']:g}[/]" for g in phase["guards"])
        table.add_row(phase["name"], units, str(phase["changed"]), guards or "-")
    out.print(table)
    verdict = "[green]all guards hold / 守护条件全部满足[/green]" if summary["guards_hold"] \
        else "[red]a guard fails / 有守护条件未满足[/red]"
    out.print(verdict)


def simulate_command(path: Path | None, out_dir: Path | None, workers: int,
                     dask_address: str | None, quick: QuickForm, fmt: str) -> int:
    """Run the command; return its exit code."""
    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    if out_dir is not None and out_dir.is_dir():
        clear_summary(out_dir)
    try:
        plan = make_plan(_scenario(path, quick))
        if err.is_terminal and fmt != "json":
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn())
            with Progress(*columns, console=err, transient=True) as bar:
                outcome = run_plan(plan, workers, dask_address, _Bar(bar))
        else:
            outcome = run_plan(plan, workers, dask_address)
    except PolicyError as exc:
        return _problems(err, exc, fmt)
    if out_dir is not None:
        write_outputs(out_dir, outcome)
    if outcome.too_many_bad_rows:
        first = outcome.bad[:5]
        message = (f"{len(outcome.bad)} bad rows, more than the {outcome.summary['max_bad_rows']} "
                   f"allowed (max_bad_rows); first: "
                   + "; ".join(f"row {line}: {problem}" for line, problem in first))
        corpus_at = plan.scenario.corpus.position
        return _problems(err, PolicyError([PolicyProblem(corpus_at, "bad_rows", message)]), fmt)
    if fmt == "json":
        sys.stdout.write(orjson.dumps(outcome.summary, option=orjson.OPT_INDENT_2).decode()
                         + "\n")
    else:
        _print(out, outcome)
    return EXIT_HOLDS if outcome.summary["guards_hold"] else EXIT_GUARD_FAILS
