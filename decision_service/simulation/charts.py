"""Small charts as inline SVG, written by hand.

A report a manager opens offline and prints: no JavaScript, no fonts, no
network. Measured for the shipped scenario, the whole page is tens of kB,
where a Vega or Plotly bundle alone would be megabytes.
"""

from __future__ import annotations

from html import escape

PALETTE = ("#8c8c8c", "#1f6fb2", "#e07b00", "#2a9d4b", "#b23a48", "#6a4c93")
BAR_H, GAP, LABEL_W, CHART_W = 14, 6, 150, 460


def _svg_open(chart: str, title: str, width: float, height: float) -> str:
    """The opening tag every chart shares: named for the tests, titled for screen readers."""
    return (f'<svg class="chart" data-chart="{chart}" role="img" aria-label="{escape(title)}" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'xmlns="http://www.w3.org/2000/svg">')


def _text(x: float, y: float, body: str, anchor: str = "start", size: int = 11) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}">'
            f"{escape(body)}</text>")


def grouped_bars(chart: str, title: str, categories: list[str],
                 series: list[tuple[str, list[float]]]) -> str:
    """Horizontal bars: one group per category, one bar per series."""
    peak = max((v for _, values in series for v in values), default=0) or 1
    group_h = len(series) * BAR_H + GAP * 2
    legend_h = 18
    height = legend_h + len(categories) * group_h + 10
    width = LABEL_W + CHART_W + 70
    parts = [_svg_open(chart, title, width, height)]
    for i, (name, _) in enumerate(series):
        x = LABEL_W + i * 120
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" '
                     f'fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(_text(x + 14, 13, name))
    for c, category in enumerate(categories):
        top = legend_h + c * group_h + GAP
        parts.append(_text(LABEL_W - 6, top + len(series) * BAR_H / 2 + 4, category, "end"))
        for s, (_, values) in enumerate(series):
            value = values[c]
            w = max(CHART_W * value / peak, 1.0 if value else 0.0)
            y = top + s * BAR_H
            parts.append(f'<rect class="bar" x="{LABEL_W}" y="{y}" width="{w:.1f}" '
                         f'height="{BAR_H - 2}" fill="{PALETTE[s % len(PALETTE)]}">'
                         f"<title>{escape(category)}: {value:g}</title></rect>")
            parts.append(_text(LABEL_W + w + 4, y + BAR_H - 4, f"{value:g}", size=10))
    parts.append("</svg>")
    return "".join(parts)


def matrix(chart: str, title: str, rows: list[str], cols: list[str],
           cells: dict[str, dict[str, int]]) -> str:
    """A transition matrix: rows before, columns after, shade by count."""
    cell = 56
    peak = max((v for r in cells.values() for v in r.values()), default=0) or 1
    width, height = LABEL_W + cell * len(cols) + 10, 40 + cell * len(rows)
    parts = [_svg_open(chart, title, width, height)]
    for j, col in enumerate(cols):
        parts.append(_text(LABEL_W + j * cell + cell / 2, 30, col, "middle", 10))
    for i, row in enumerate(rows):
        y = 36 + i * cell
        parts.append(_text(LABEL_W - 6, y + cell / 2 + 4, row, "end"))
        for j, col in enumerate(cols):
            value = cells.get(row, {}).get(col, 0)
            shade = 0.08 + 0.85 * value / peak if value else 0.03
            colour = "#1f6fb2" if row == col else "#e07b00"
            parts.append(f'<rect class="bar" x="{LABEL_W + j * cell}" y="{y}" width="{cell - 2}" '
                         f'height="{cell - 2}" fill="{colour}" fill-opacity="{shade:.2f}">'
                         f"<title>{escape(row)} → {escape(col)}: {value}</title></rect>")
            parts.append(_text(LABEL_W + j * cell + cell / 2, y + cell / 2 + 4, str(value),
                               "middle", 10))
    parts.append("</svg>")
    return "".join(parts)


def lights(chart: str, title: str, phases: list[str], guards: list[str],
           holds: list[list[bool]]) -> str:
    """Guards by phase: a green or red square each."""
    cell = 90
    width, height = LABEL_W + cell * len(phases) + 10, 28 + 26 * len(guards)
    parts = [_svg_open(chart, title, width, height)]
    for j, phase in enumerate(phases):
        parts.append(_text(LABEL_W + j * cell + cell / 2, 16, phase, "middle", 10))
    for i, guard in enumerate(guards):
        y = 24 + i * 26
        parts.append(_text(LABEL_W - 6, y + 15, guard, "end"))
        for j in range(len(phases)):
            ok = holds[j][i]
            parts.append(f'<rect class="bar" x="{LABEL_W + j * cell + 4}" y="{y}" '
                         f'width="{cell - 8}" height="20" rx="4" '
                         f'fill="{"#2a9d4b" if ok else "#c0392b"}"><title>'
                         f'{escape(guard)} @ {escape(phases[j])}: '
                         f'{"holds" if ok else "fails"}</title></rect>')
            parts.append(_text(LABEL_W + j * cell + cell / 2, y + 14,
                               "✓ 满足 holds" if ok else "✗ 未满足 fails", "middle", 10))
    parts.append("</svg>")
    return "".join(parts)
