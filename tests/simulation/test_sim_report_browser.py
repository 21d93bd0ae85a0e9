"""report.html in headless Chromium, offline: every chart is drawn.

Debian's chromium (/usr/bin/chromium; .ci/run installs it when missing),
driven by Playwright. Any request that leaves the file fails the test; a
screenshot is kept under .ci/artifacts/ for CI.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from simkit import simulate, write_jsonl, write_scenario
from test_sim_figures import ROWS

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / ".ci" / "artifacts"
CHARTS = {"guards", "phases", "levels", "transitions", "regions", "approvers"}


@pytest.mark.subprocess
@pytest.mark.slow
def test_report_opens_offline_with_every_chart_drawn(tmp_path: Path) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    write_jsonl(tmp_path / "deals.jsonl", ROWS)
    scenario = write_scenario(tmp_path, "deals.jsonl", guards=(
        "  - {name: red-lines-hold, metric: changed, where: {outcome: deny}, max: 0}\n"
        "  - {name: tiny, metric: changed, max: 1}"))
    code, _, _ = simulate(str(scenario), "--out", str(tmp_path / "out"))
    assert code == 3  # `tiny` fails from the second phase: the report shows red too
    report = tmp_path / "out" / "report.html"
    assert report.stat().st_size < 200_000
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})

            def block(route: object) -> None:
                outside.append(route.request.url)  # type: ignore[attr-defined]
                route.abort()  # type: ignore[attr-defined]

            page.route("http*://**", block)
            page.goto(report.as_uri())
            drawn = page.evaluate("""() => Array.from(document.querySelectorAll('svg.chart'))
                .map(svg => [svg.dataset.chart, svg.getBoundingClientRect().width,
                     Array.from(svg.querySelectorAll('rect.bar'))
                          .filter(r => r.getBBox().width > 0 && r.getBBox().height > 0).length])""")
            red = page.locator("text=未满足").count()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "simulation-report.png"), full_page=True)
        finally:
            browser.close()
    assert outside == []
    assert {name for name, _, _ in drawn} == CHARTS
    for name, width, bars in drawn:
        assert width > 100 and bars > 0, name
    assert red >= 2
