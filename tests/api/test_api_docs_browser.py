"""/docs and /redoc in headless Chromium with every other host blocked: the
pages and their scripts come from the service itself, and the operations show.

Debian's chromium (/usr/bin/chromium; .ci/run installs it when missing),
driven by Playwright.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from databases import fresh_store_url
from samples import POLICIES
from serving import start_server

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.subprocess
@pytest.mark.slow
def test_docs_and_redoc_render_the_operations_with_no_network(tmp_path: Path) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with fresh_store_url("sqlite", tmp_path) as url:
        server = start_server(tmp_path, url, POLICIES)
        outside: list[str] = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking"])
                try:
                    page = browser.new_page()

                    def only_the_service(route: Any) -> None:
                        if route.request.url.startswith(server.base_url):
                            route.continue_()
                        else:
                            outside.append(route.request.url)
                            route.abort()

                    page.route("**/*", only_the_service)
                    page.goto(f"{server.base_url}/docs")
                    page.wait_for_selector(".opblock", timeout=60_000)
                    operations = page.locator(".opblock-summary-path").all_inner_texts()
                    page.goto(f"{server.base_url}/redoc")
                    page.wait_for_function(
                        "() => document.body.innerText.includes('/v1/decisions/authorization')",
                        timeout=60_000)
                finally:
                    browser.close()
        finally:
            server.stop()
    assert outside == []
    flat = {text.replace("\u200b", "") for text in operations}
    assert {"/v1/decisions/authorization", "/v1/authority/check", "/v1/org"} <= flat
