"""report.html: one self-contained page for a manager, in Chinese and English.

No script, no external font or stylesheet, charts as inline SVG (``charts``):
it opens offline, prints, and can be mailed as one file.
"""

from __future__ import annotations

from html import escape
from typing import Any

from decision_service.simulation import charts
from decision_service.simulation.core import PolicySet
from decision_service.simulation.figures import region_changes, value_key
from decision_service.simulation.runner import Outcome
from decision_service.simulation.worker import ChangedRow, compiled_policies

TOP_CHANGED = 10
TOP_UNITS = 15

_STYLE = """
body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ccc}
.en{color:#555}.ok{color:#2a9d4b;font-weight:bold}.fail{color:#c0392b;font-weight:bold}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 6px;
text-align:left;vertical-align:top}th{background:#f3f3f3}svg text{fill:#222;font-family:sans-serif}
@media print{h2{page-break-after:avoid}svg{page-break-inside:avoid}}
"""


def _h(zh: str, en: str) -> str:
    return f'{escape(zh)} <span class="en">{escape(en)}</span>'


def _levels(outcome: Outcome, output: str, order: list[str]) -> str:
    summary = outcome.summary
    phases = summary["phases"]
    series = [("基线 baseline", [phases[0]["baseline"][output].get(v, 0) for v in order])]
    series += [(p["name"], [p["candidate"][output].get(v, 0) for v in order]) for p in phases]
    return charts.grouped_bars("levels", f"{output} before and after", order, series)


def _approvers(outcome: Outcome, output: str) -> str:
    last = outcome.summary["phases"][-1]
    before, after = last["baseline"][output], last["candidate"][output]
    units = sorted(set(before) | set(after), key=lambda u: -(before.get(u, 0) +
                                                             after.get(u, 0)))[:TOP_UNITS]
    return charts.grouped_bars("approvers", "approvals per approving unit", units, [
        ("基线 baseline", [before.get(u, 0) for u in units]),
        (f"{last['name']}", [after.get(u, 0) for u in units])])


def _reasons(policies: PolicySet, outcome: Outcome, row: ChangedRow, side: str) -> str:
    plan = outcome.plan
    values = {k: v for k, v in row.input.items() if v is not None}
    version = row.baseline_version if side == "baseline" else row.candidate_version
    history = row.baseline_history if side == "baseline" else row.candidate_history
    prepared = policies.prepare(plan.policy, values, today=plan.today, version=version)
    decision = policies.evaluate(prepared, history)
    return "<br>".join(f"{escape(r.rule)}: {escape(r.message.zh)}<br>"
                       f'<span class="en">{escape(r.message.en)}</span>'
                       for r in decision.reasons)


def _top_changed(outcome: Outcome) -> str:
    plan = outcome.plan
    money = plan.money_input

    def worth(row: ChangedRow) -> float:
        value = row.input.get(money or "")
        return float(value) if isinstance(value, int | float) else 0.0

    top = sorted(outcome.result.changed, key=lambda r: (-worth(r), r.line))[:TOP_CHANGED]
    if not top:
        return "<p>无变化 <span class='en'>nothing changed</span></p>"
    baseline, candidate = compiled_policies(plan)
    rows = []
    for row in top:
        before = ", ".join(f"{o}={value_key(v)}" for o, v in zip(plan.outputs, row.baseline,
                                                                 strict=True))
        after = ", ".join(f"{o}={value_key(v)}" for o, v in zip(plan.outputs, row.candidate,
                                                                strict=True))
        rows.append(
            f"<tr><td>{row.line}</td><td>{escape(plan.phase_names[row.first_phase])}</td>"
            f"<td>{escape(str(row.unit or ''))}</td><td>{worth(row):,.0f}</td>"
            f"<td>{escape(before)}<br>{_reasons(baseline, outcome, row, 'baseline')}</td>"
            f"<td>{escape(after)}<br>{_reasons(candidate, outcome, row, 'candidate')}</td>"
            "</tr>")
    head = ("<tr><th>行 row</th><th>阶段 phase</th><th>单位 unit</th>"
            f"<th>{escape(money or '')}</th><th>之前 before</th><th>之后 after</th></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def render_report(outcome: Outcome) -> str:
    """The whole page as text: the header, then one section after another."""
    parts = [
        _header(outcome),
        _guards_section(outcome),
        _phases_section(outcome),
        _levels_section(outcome),
        _regions_section(outcome),
        _approvers_section(outcome),
        f"<h2>{_h('变化最大的交易及理由', 'Top changed deals, reasons before and after')}"
        "</h2>",
        _top_changed(outcome),
        "</body></html>",
    ]
    return "".join(parts)


def _header(outcome: Outcome) -> str:
    plan, summary = outcome.plan, outcome.summary
    verdict = ('<span class="ok">✓ 守护条件全部满足 all guards hold</span>' if
               summary["guards_hold"] else
               '<span class="fail">✗ 有守护条件未满足 a guard fails</span>')
    return (
        "<!doctype html><html lang='zh'><head><meta charset='utf-8'>"
        f"<title>{escape(summary['scenario'])}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_h(plan.scenario.title_zh, plan.scenario.title_en)}</h1>"
        f"<p>{_h('场景', 'scenario')}: {escape(summary['scenario'])} · "
        f"{_h('政策', 'policy')}: {escape(plan.policy)} · "
        f"{_h('基线', 'baseline')} v{escape(str(plan.baseline_version or '按日期 by date'))} → "
        f"{_h('候选', 'candidate')} v{escape(str(plan.candidate_version or '按日期 by date'))}"
        f"</p><p>{_h('判定', 'deals decided')}: {summary['deals']:,} · "
        f"{_h('坏行', 'bad rows')}: {summary['bad_rows']:,} · {verdict}</p>"
    )


def _guards_section(outcome: Outcome) -> str:
    plan, phases = outcome.plan, outcome.summary["phases"]
    if not plan.guards:
        return ""
    lights = charts.lights(
        "guards", "guards by phase", [p["name"] for p in phases],
        [g.spec.name for g in plan.guards],
        [[g["holds"] for g in p["guards"]] for p in phases])
    rows = "".join(
        f"<tr><td>{escape(p['name'])}</td><td>{escape(g['name'])}</td>"
        f"<td class='{'ok' if g['holds'] else 'fail'}'>{'✓' if g['holds'] else '✗'}</td>"
        f"<td>{g['value']:g}</td><td>{g['limit']:g} ({escape(g['limit_kind'])})</td>"
        f"<td>{escape(str(g.get('unit', '')))}</td></tr>"
        for p in phases for g in p["guards"])
    return (f"<h2>{_h('守护条件', 'Guards')}</h2>" + lights
            + "<table><tr><th>阶段 phase</th><th>守护 guard</th><th></th>"
            "<th>值 value</th><th>上限 limit</th><th>最差单位 worst unit</th></tr>"
            f"{rows}</table>")


def _phases_section(outcome: Outcome) -> str:
    phases = outcome.summary["phases"]
    return (f"<h2>{_h('各阶段变化', 'Change by phase')}</h2>"
            + charts.grouped_bars("phases", "changed deals by phase",
                                  [p["name"] for p in phases],
                                  [("变化 changed", [p["changed"] for p in phases])]))


def _levels_section(outcome: Outcome) -> str:
    plan, phases = outcome.plan, outcome.summary["phases"]
    ordered = next(iter(plan.output_orderings), None) or next(iter(plan.enum_outputs), None)
    if ordered is None:
        return ""
    order = list(plan.output_orderings.get(ordered, ()))
    seen = set(phases[0]["baseline"][ordered]) | {
        v for p in phases for v in p["candidate"][ordered]}
    order = [v for v in order if v in seen] + sorted(seen - set(order))
    last = phases[-1]
    return (f"<h2>{_h('级别分布（前后对比）', 'Distribution before and after')}: "
            f"{escape(ordered)}</h2>"
            + _levels(outcome, ordered, order)
            + f"<h2>{_h('迁移矩阵', 'Transition matrix')} ({escape(last['name'])}; "
            f"{_h('行=之前，列=之后', 'rows before, columns after')})</h2>"
            + charts.matrix("transitions", "transition matrix", order, order,
                            last["transitions"][ordered]))


def _regions_section(outcome: Outcome) -> str:
    plan = outcome.plan
    by_region = region_changes(plan, outcome.result)
    if not by_region:
        return ""
    regions = sorted(by_region, key=lambda r: (-by_region[r][-1], r))
    return (f"<h2>{_h('各地区部变化', 'Change by region and phase')}</h2>"
            + charts.grouped_bars(
                "regions", "changed deals by region and phase", regions,
                [(name, [by_region[r][k] for r in regions])
                 for k, name in enumerate(plan.phase_names)]))


def _approvers_section(outcome: Outcome) -> str:
    approver = _approver_output(outcome.plan)
    if approver is None:
        return ""
    return (f"<h2>{_h('各审批单位审批量', 'Approvals per approving unit')} "
            f"({escape(approver)})</h2>" + _approvers(outcome, approver))


def _approver_output(plan: Any) -> str | None:
    """The output naming the approving unit (a lookup output), if the policy has one."""
    return next((o for o in plan.outputs if o.endswith("_unit") or o == "tracked_by"), None)
