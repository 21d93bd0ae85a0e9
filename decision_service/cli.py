"""`decision-service`: the command line for process owners and operators.

Exit codes (stable, for scripts and CI):
    0  ok
    1  failing policy cases, a decision that no longer reproduces, a broken log
    2  invalid policy, invalid input, or a bad command line
    3  simulate: a guard of the scenario fails
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.table import Table

from decision_service.errors import (
    EvaluationError,
    InputError,
    PolicyError,
    PolicyProblem,
    UnknownPolicyError,
)
from decision_service.inputs import input_json_schema
from decision_service.locations import default_db_url, discover_policies_dir
from decision_service.policyset import PolicySet

if TYPE_CHECKING:
    from decision_service.replay import ShadowReplay

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Rules and authorization decisions for the lead-to-cash process.")
# soft_wrap: a `file:line:col: code: message` line must stay one line for editors and CI.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

PoliciesArg = typer.Argument(None, help="Policy directory (default: the shipped policies).")
PoliciesOpt = typer.Option(None, "--policies", help="Policy directory (default: shipped).")
FormatOpt = typer.Option("text", "--format", help="text or json.")
EngineOpt = typer.Option("compiled", "--engine", help="compiled or durable.")


def _emit_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _fail(code: int, message: str, fmt: str, details: Any = None) -> NoReturn:
    if fmt == "json":
        _emit_json({"ok": False, "error": message, "details": details})
    else:
        err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _print_problems(problems: list[PolicyProblem], language: str) -> None:
    """One line per problem, ``file:line:col: code: message``; root problems first."""
    from decision_service.problem_texts import in_chinese

    for problem in problems:
        if language != "zh":
            err.print(str(problem), highlight=False, markup=False)
            continue
        said, complete = in_chinese(problem)
        err.print(f"{problem.position}: {problem.code}: {said}", highlight=False, markup=False)
        if not complete:
            err.print(f"    原文：{problem.message}", highlight=False, markup=False)
    follow_ons = sum(1 for p in problems if p.follows is not None)
    if language == "zh":
        extra = f"，其中 {follow_ons} 个是后续问题" if follow_ons else ""
        err.print(f"[red]共 {len(problems)} 个问题{extra}；没有加载任何策略[/red]")
    else:
        extra = f", {follow_ons} of them follow-on" if follow_ons else ""
        err.print(f"[red]{len(problems)} problem(s){extra}; nothing was loaded[/red]")


def _load(directory: Path | None, fmt: str, engines: tuple[str, ...] | None = None,
          language: str = "en") -> PolicySet:
    from decision_service.policy_files import load_policy_dir

    chosen = directory or discover_policies_dir()
    try:
        policies = load_policy_dir(chosen, engines)
    except PolicyError as exc:
        err.print(f"policies: {chosen.resolve()}", highlight=False, markup=False)
        if fmt == "json":
            _emit_json({"ok": False, "problems": [_problem_json(p, language)
                                                  for p in exc.problems]})
        else:
            _print_problems(exc.problems, language)
        raise typer.Exit(EXIT_INVALID) from None
    # Which rules answered: always said, on stderr so stdout stays the answer.
    err.print(f"policies: {chosen.resolve()} (bundle {policies.bundle_hash[:12]})",
              highlight=False, markup=False)
    return policies


def _problem_json(problem: PolicyProblem, language: str) -> dict[str, object]:
    body = problem.as_dict()
    if language == "zh":
        from decision_service.problem_texts import in_chinese

        body["message_zh"] = in_chinese(problem)[0]
    return body


def _read_input(source: str, fmt: str) -> Any:
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        _fail(EXIT_INVALID, f"cannot read input {source}: {exc.strerror}", fmt)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        _fail(EXIT_INVALID, f"{source}: not valid JSON: {exc}", fmt)


def _parse_date(value: str | None, fmt: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _fail(EXIT_INVALID, f"--today {value!r} is not a date (YYYY-MM-DD)", fmt)


@app.command()
def validate(directory: Path | None = PoliciesArg, fmt: str = FormatOpt,
             lang: str = typer.Option("en", "--lang", help="en or zh: the language of problems."),
             ) -> None:
    """Check every policy, org and cases file; report each problem at file:line:col."""
    if lang not in ("en", "zh"):
        _fail(EXIT_INVALID, f"--lang {lang!r}: use en or zh", fmt)
    policies = _load(directory, fmt, language=lang)
    versions = sum(len(v) for v in policies.versions.values())
    cases = sum(len(c) for c in policies.cases.values())
    if fmt == "json":
        _emit_json({"ok": True, "policies": policies.names(), "versions": versions,
                    "cases": cases, "bundle_hash": policies.bundle_hash,
                    "policies_dir": str((directory or discover_policies_dir()).resolve())})
    else:
        out.print(f"ok: {len(policies.names())} policies, {versions} versions, {cases} cases "
                  f"(bundle {policies.bundle_hash[:12]})")
    policies.close()


@app.command()
def test(directory: Path | None = PoliciesArg, fmt: str = FormatOpt,
         policy: str | None = typer.Option(None, help="Only this policy's cases."),
         engine: list[str] = typer.Option([], "--engine",
                                           help="Engines to run (default: all).")) -> None:
    """Run every policy's cases on every engine; engines must agree."""
    from decision_service.policy_cases import run_cases

    policies = _load(directory, fmt, tuple(engine) or None)
    results = run_cases(policies, tuple(engine) or None, policy)
    failed = [r for r in results if not r.ok]
    if fmt == "json":
        _emit_json({"ok": not failed, "total": len(results), "failed": len(failed),
                    "results": [r.as_dict() for r in results]})
    else:
        for result in failed:
            err.print(f"FAIL {result.file}:{result.case.position.line} [{result.engine}] "
                      f"{result.case.name}", highlight=False, markup=False)
            for failure in result.failures:
                err.print(f"    {failure}", highlight=False, markup=False)
        engines = ", ".join(tuple(engine) or policies.engine_names)
        out.print(f"{len(results) - len(failed)}/{len(results)} case runs passed "
                  f"on {engines}")
    policies.close()
    raise typer.Exit(EXIT_FAILED if failed else EXIT_OK)


def _decide(policy: str, input_file: str, policies_dir: Path | None, engine: str,
            today: str | None, fmt: str) -> tuple[PolicySet, Any]:
    policies = _load(policies_dir, fmt, (engine,))
    raw = _read_input(input_file, fmt)
    try:
        return policies, policies.decide(policy, raw, today=_parse_date(today, fmt), engine=engine)
    except InputError as exc:
        _fail(EXIT_INVALID, "invalid input", fmt, [p.as_dict() for p in exc.problems]) \
            if fmt == "json" else None
        for problem in exc.problems:
            err.print(f"{problem.field or '<input>'}: {problem.code}: {problem.message}",
                      highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    except UnknownPolicyError as exc:
        _fail(EXIT_INVALID, str(exc), fmt)
    except EvaluationError as exc:
        _fail(EXIT_INVALID, str(exc), fmt)


@app.command("eval")
def eval_(policy: str = typer.Argument(..., help="Policy id, e.g. authorization."),
          input_file: str = typer.Option(..., "--input", help="JSON file, or - for stdin."),
          policies_dir: Path | None = PoliciesOpt, engine: str = EngineOpt,
          today: str | None = typer.Option(None, help="Decide as if today were this date."),
          fmt: str = typer.Option("json", "--format", help="json (default) or text.")) -> None:
    """Decide one input and print the same JSON object the API answers
    (no decision id: nothing is logged; the A10 prior total is 0)."""
    policies, decision = _decide(policy, input_file, policies_dir, engine, today, fmt)
    _emit_json(decision.as_dict())
    policies.close()


@app.command()
def explain(policy: str = typer.Argument(...),
            input_file: str = typer.Option(..., "--input", help="JSON file, or - for stdin."),
            policies_dir: Path | None = PoliciesOpt, engine: str = EngineOpt,
            lang: str = typer.Option("en", "--lang", help="en or zh."),
            today: str | None = typer.Option(None),
            fmt: str = FormatOpt) -> None:
    """Decide one input and explain it in business words."""
    policies, decision = _decide(policy, input_file, policies_dir, engine, today, fmt)
    if fmt == "json":
        _emit_json(decision.as_dict())
        return
    _print_explanation(policies, decision, lang)
    policies.close()


def _print_explanation(policies: PolicySet, decision: Any, lang: str) -> None:
    """The decision as a process owner reads it: levels and units by name."""
    from decision_service.wording import level_name, output_label, output_value

    zh = lang == "zh"
    model = policies.version(decision.policy, decision.policy_version).compiled.policy
    org = policies.org
    outputs = ("，" if zh else ", ").join(
        f"{output_label(model, k, lang)} = {output_value(model, org, k, v, lang)}"
        for k, v in decision.outputs.items())
    out.print(f"[bold]{model.meta.title.in_language(lang)} v{decision.policy_version}[/bold] "
              f"({decision.decision_date}): {outputs}", highlight=False)
    table = Table("规则" if zh else "rule", "理由" if zh else "reason", show_edge=False)
    for reason in decision.reasons:
        table.add_row(reason.rule, reason.message.zh if zh else reason.message.en)
    out.print(table)
    for dim in decision.dimensions:
        mark = "*" if dim.binding else " "
        out.print(f" {mark} {dim.table} {dim.title.zh if zh else dim.title.en}: "
                  f"{level_name(org, dim.value, lang)}", highlight=False, markup=False)
    for route in decision.lower_routes:
        out.print(f"   → {route.message.zh if zh else route.message.en}", highlight=False)


@app.command()
def show(policy: str = typer.Argument(..., help="Policy id, e.g. authorization."),
         versions: list[str] = typer.Argument(None, help="With --diff: the two versions."),
         unit: str | None = typer.Option(None, "--unit", help="Resolve figures for this unit."),
         version: str | None = typer.Option(None, "--version", help="Version (default: latest)."),
         lang: str = typer.Option("en", "--lang", help="en or zh."),
         diff: bool = typer.Option(False, "--diff",
                                   help="What a version changes: show --diff POLICY 1 2."),
         fmt: str = FormatOpt, policies_dir: Path | None = PoliciesOpt) -> None:
    """Print a policy's tables as grids with the figures one unit sees, and where
    each is set; with --diff, what one version changes against another."""
    from decision_service.showing import diff as diff_versions

    policies = _load(policies_dir, fmt, ())
    try:
        if policy not in policies.versions:
            raise UnknownPolicyError(policy, policies.names())
        if diff or versions:
            if len(versions or []) != 2:
                _fail(EXIT_INVALID, "--diff needs two versions: show --diff POLICY 1 2", fmt)
            old, new = (policies.version(policy, v).compiled.policy for v in versions)
            changes = diff_versions(old, new, policies.org, lang)
            if fmt == "json":
                _emit_json({"policy": policy, "from": versions[0], "to": versions[1],
                            "changes": changes})
            for line in ([] if fmt == "json" else changes or ["-"]):
                out.print(line, highlight=False, markup=False)
            return
        chosen = policies.version(policy, version) if version else policies.versions[policy][-1]
    except UnknownPolicyError as exc:
        _fail(EXIT_INVALID, str(exc), fmt)
    if unit is not None and unit not in policies.org.units:
        from decision_service.language.units import unit_hint

        _fail(EXIT_INVALID, f"unknown unit {unit!r}{unit_hint(policies.org, unit)}", fmt)
    _print_policy(policies, chosen.compiled.policy, unit, lang, fmt)


def _print_policy(policies: PolicySet, model: Any, unit: str | None, lang: str,
                  fmt: str) -> None:
    from decision_service.showing import figure_rows, grids

    headers = ("参数", "取值", "设置于") if lang == "zh" else ("figure", "value", "set in")
    rows = figure_rows(model, policies.org, unit, lang)
    tables = grids(model, policies.org, unit, lang)
    if fmt == "json":
        _emit_json({"policy": model.meta.id, "version": model.meta.version, "unit": unit,
                    "title": model.meta.title.in_language(lang),
                    "figures": [dict(zip(("figure", "value", "set_in"), row, strict=True))
                                for row in rows],
                    "tables": [{"title": g.title, "columns": list(g.columns),
                                "rows": [list(r) for r in g.rows]} for g in tables]})
        return
    out.print(f"[bold]{model.meta.title.in_language(lang)}[/bold] v{model.meta.version}"
              f" — {unit or ('默认' if lang == 'zh' else 'defaults')}", highlight=False)
    figures = Table(*headers)
    for row in rows:
        figures.add_row(*row)
    out.print(figures)
    for grid in tables:
        table = Table(*grid.columns, title=grid.title)
        for cells in grid.rows:
            table.add_row(*cells)
        out.print(table)


@app.command()
def schema(policy: str = typer.Argument(...), policies_dir: Path | None = PoliciesOpt,
           today: str | None = typer.Option(None)) -> None:
    """Print the JSON Schema of a policy's input (the version in force today)."""
    policies = _load(policies_dir, "text", ())
    try:
        version = policies.current(policy, _parse_date(today, "text"))
    except UnknownPolicyError as exc:
        _fail(EXIT_INVALID, str(exc), "text")
    _emit_json(input_json_schema(version.compiled.policy, version.model))


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="Address to bind."),
          port: int = typer.Option(8000, help="Port to bind."),
          policies_dir: Path | None = PoliciesOpt,
          db: str | None = typer.Option(None, help="sqlite:///file.db or postgresql://..."),
          engine: str = EngineOpt,
          workers: int = typer.Option(1, help="Worker processes."),
          timezone: str | None = typer.Option(
              None, help="The business time zone for today's date (IANA name; default "
              "$DECISION_SERVICE_TIMEZONE, else UTC)."),
          new_log: bool = typer.Option(False, "--new-log",
                                       help="Start a new log although the checkpoints say "
                                            "the log lost records.")) -> None:
    """Serve the decision API (default: shipped policies, SQLite log in the user data dir)."""
    from decision_service.api import ServiceSettings, run
    from decision_service.api.settings import SettingsError

    try:
        settings = ServiceSettings.from_options(host=host, port=port, policies_dir=policies_dir,
                                                db_url=db, engine=engine, workers=workers,
                                                timezone=timezone, new_log=new_log)
    except SettingsError as exc:
        _fail(EXIT_INVALID, str(exc), "text")
    run(settings)


DbOpt = typer.Option(None, "--db", help="Decision log URL (default: the serve default).")


def _open_store(db: str | None, fmt: str) -> Any:
    from decision_service.store import StoreError, open_store

    url = db or default_db_url()
    try:
        return open_store(url)
    except StoreError as exc:
        _fail(EXIT_INVALID, f"cannot open the decision log {url}: {exc}", fmt)


@app.command()
def replay(db: str | None = DbOpt, policies_dir: Path | None = PoliciesOpt,
           since: str | None = typer.Option(None, help="Only decisions at or after this "
                                                      "date/time (ISO; UTC if naive)."),
           policy: str | None = typer.Option(None, help="Only this policy's decisions."),
           fmt: str = FormatOpt) -> None:
    """Decide logged decisions again with the version that made them; report any
    that no longer reproduce (exit 1)."""
    from decision_service.replay import parse_since
    from decision_service.replay import replay as run_replay
    from decision_service.store import StoreError

    try:
        since_at = parse_since(since)
    except ValueError:
        _fail(EXIT_INVALID, f"--since {since!r} is not an ISO date or time", fmt)
    policies = _load(policies_dir, fmt)
    store = _open_store(db, fmt)
    total = 0
    failed = []
    shadows: dict[str, int] = {"replayed": 0, "reproduced": 0, "recorded_errors": 0}
    try:
        for result in run_replay(policies, store.iter_records(since=since_at, policy=policy),
                                 bundles=store.get_bundle, shadows=store):
            total += 1
            _count_shadow(shadows, result.shadow, fmt)
            if not result.ok:
                failed.append(result)
                if fmt != "json":
                    err.print(f"DIFF {result.decision_id} {result.policy} "
                              f"v{result.policy_version}: {'; '.join(result.differences)}",
                              highlight=False, markup=False)
    except StoreError as exc:
        _fail(EXIT_INVALID, f"cannot read the decision log after {total} record(s): {exc}",
              fmt)
    finally:
        store.close()
        policies.close()
    if fmt == "json":
        _emit_json({"ok": not failed, "replayed": total, "failed": len(failed),
                    "failures": [r.as_dict() for r in failed], "shadows": shadows})
    else:
        out.print(f"{total - len(failed)}/{total} logged decisions reproduce")
        if shadows["replayed"] or shadows["recorded_errors"]:
            out.print(f"shadows (never answered, reported apart): {shadows['reproduced']}/"
                      f"{shadows['replayed']} reproduce, {shadows['recorded_errors']} recorded "
                      "an error")
    raise typer.Exit(EXIT_FAILED if failed else EXIT_OK)


CheckpointsOpt = typer.Option(None, "--checkpoints",
                              help="The checkpoint file (default: where serve keeps it).")
KeyOpt = typer.Option(None, "--key", help="The checkpoint key, public or private PEM "
                                          "(default: where serve keeps it).")


def _checkpoint_problems(store: Any, url: str, checkpoints: Path | None,
                         key_file: Path | None) -> tuple[list[Any], str]:
    """The log against its newest signed checkpoint: (problems, what was checked)."""
    from decision_service.store.checkpoints import (
        CheckpointError,
        CheckpointKey,
        checkpoint_config,
        latest_note,
    )

    config = checkpoint_config(url)
    file = checkpoints or config.file
    note = latest_note(file)
    if note is None:
        return [], f"no checkpoint in {file}: completeness not proven"
    try:
        if key_file is not None:
            key = CheckpointKey.from_pem(key_file.read_bytes())
        else:
            key = config.load_key(create=False)[0]
        checkpoint = key.verify(note)
    except (CheckpointError, OSError) as exc:
        from decision_service.store import ChainProblem

        return [ChainProblem("", 0, "rechained", f"checkpoint {file}: {exc}")], str(file)
    return (store.verify_checkpoint(checkpoint),
            f"checkpoint of record {checkpoint.seq} at {checkpoint.signed_at.isoformat()}")


def _count_shadow(counts: dict[str, int], shadow: ShadowReplay | None, fmt: str) -> None:
    if shadow is None:
        return
    if shadow.ok is None:
        counts["recorded_errors"] += 1
        return
    counts["replayed"] += 1
    counts["reproduced"] += shadow.ok
    if not shadow.ok and fmt != "json":
        err.print(f"SHADOW DIFF {shadow.candidate}: {'; '.join(shadow.differences)}",
                  highlight=False, markup=False)


@app.command()
def simulate(
    scenario: Path | None = typer.Argument(None, help="Scenario file (simulations/*.yaml)."),
    out_dir: Path | None = typer.Option(None, "--out", help="Write report.html, summary.json, "
                                        "changed.csv and bad_rows.csv here."),
    workers: int = typer.Option(1, "--workers", min=1, help="Local worker processes."),
    dask: str | None = typer.Option(None, "--dask", help="Dask scheduler, e.g. tcp://host:8786."),
    policy: str | None = typer.Option(None, "--policy", help="Quick form: the policy id."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Quick form: policy dir."),
    candidate: Path | None = typer.Option(None, "--candidate", help="Quick form: policy dir."),
    corpus: Path | None = typer.Option(None, "--corpus", help="Quick form: JSONL or CSV."),
    shadow_log: str | None = typer.Option(None, "--shadow-log", help="Quick form: a decision "
                                          "log URL; its shadow results, as recorded."),
    date_from: str | None = typer.Option(None, "--from", help="With --shadow-log: first "
                                         "decision date (YYYY-MM-DD)."),
    date_to: str | None = typer.Option(None, "--to", help="With --shadow-log: last decision "
                                       "date (YYYY-MM-DD)."),
    fmt: str = FormatOpt,
) -> None:
    """Dry-run a change against past or generated deals, phase by phase of a rollout, or
    read a shadow week's recorded results the same way (exit 0 every guard holds, 3 a
    guard fails, 2 a bad scenario or corpus)."""
    from decision_service.simulation.command import QuickForm, simulate_command

    quick = QuickForm(policy, baseline, candidate, corpus, shadow_log, date_from, date_to)
    raise typer.Exit(simulate_command(scenario, out_dir, workers, dask, quick, fmt))


@app.command("verify-log")
def verify_log(db: str | None = DbOpt, fmt: str = FormatOpt,
               checkpoints: Path | None = CheckpointsOpt, key: Path | None = KeyOpt) -> None:
    """Check the decision log's hash chain and that it still holds what its newest signed
    checkpoint saw; exit 1 if a record was altered, removed, or the chain rewritten."""
    from decision_service.store import StoreError

    url = db or default_db_url()
    store = _open_store(url, fmt)
    try:
        problems = store.verify_chain()
        anchored, checked = _checkpoint_problems(store, url, checkpoints, key)
        problems += anchored
        count = store.count()
    except StoreError as exc:
        _fail(EXIT_INVALID, f"cannot read the decision log: {exc}", fmt)
    finally:
        store.close()
    if fmt == "json":
        _emit_json({"ok": not problems, "records": count, "checkpoint": checked,
                    "problems": [{"decision_id": p.decision_id, "seq": p.seq, "kind": p.kind,
                                  "detail": p.detail} for p in problems]})
    else:
        for problem in problems:
            err.print(f"{problem.kind} at record {problem.seq} ({problem.decision_id}): "
                      f"{problem.detail}", highlight=False, markup=False)
        out.print(f"{count} records, {len(problems)} problem(s); {checked}")
    raise typer.Exit(EXIT_FAILED if problems else EXIT_OK)


@app.command()
def checkpoint(db: str | None = DbOpt,
               out_file: str = typer.Option("-", "--out", help="Also write the signed note "
                                            "here (a file; - is stdout, for a log shipper).")
               ) -> None:
    """Sign the log's head now, append it to the checkpoint file and export it."""
    from decision_service.store.checkpoints import (
        Checkpointer,
        CheckpointError,
        append_note,
        checkpoint_config,
    )

    url = db or default_db_url()
    store = _open_store(url, "text")
    config = checkpoint_config(url)
    try:
        key = config.load_key(create=True)[0]
        note = Checkpointer(store.head, key, config, 1.0, lambda _note: None).checkpoint()
    except CheckpointError as exc:
        _fail(EXIT_INVALID, str(exc), "text")
    finally:
        store.close()
    assert note is not None
    if out_file == "-":
        sys.stdout.write(note)
    else:
        append_note(Path(out_file), note)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
