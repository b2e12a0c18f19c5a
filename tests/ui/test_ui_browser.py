"""The UI in headless Chromium: login, filters, trace waterfall, charts, inert hostile content, access rules."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, sync_playwright

from schemas.ui import UsagePlan

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
UI_DEMO_SEED = 30_000  # realistic rows over 30 days (bench/ui_seed.py) so the charts and screenshots have data
UI_PLAN = UsagePlan(name="Growth", free_logs_per_month=4_000, block_size=1_000, price_per_block_usd=5.0)
PASSWORD = "correct horse battery"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


class Watched:
    """A page with its console errors and dialogs recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", self._console)
        page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(message.text)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def _open(browser: Browser, base: str, username: str) -> Watched:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base)
    context.set_default_timeout(15_000)
    watched = Watched(context.new_page())
    watched.page.goto("/ui/traces")
    assert "/ui/login" in watched.page.url
    watched.page.fill("input[name=username]", username)
    watched.page.fill("input[name=password]", PASSWORD)
    watched.page.click("button[type=submit]")
    watched.page.wait_for_url(re.compile(r".*/ui/traces.*"))
    return watched


def _shot(page: Page, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"{name}.png"), full_page=False)


def test_ui_browser_admin_journey(browser: Browser, ui_server: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=ui_server.url)
    login_page = context.new_page()
    login_page.goto("/ui/login")
    _shot(login_page, "ui-login")
    context.close()

    watched = _open(browser, ui_server.url, "admin")
    page = watched.page
    assert page.locator("table.traces tbody tr").count() == 50
    _shot(page, "ui-traces")

    page.select_option("select[name=status]", "error")
    page.wait_for_url(re.compile(r".*status=error.*"))
    page.wait_for_function("document.querySelectorAll('table.traces .pill-ok').length === 0")
    pills = page.locator("table.traces tbody td:nth-child(2) .pill:not(.pill-retry)").all_inner_texts()
    assert pills and all(p == "error" for p in pills)

    retried = ui_server.store.query(
        f"SELECT request_id FROM {ui_server.database}.requests WHERE retry_count = 1 AND guardrail_outcome = "
        f"'redacted' AND request_id LIKE 'req_%' ORDER BY started_at DESC LIMIT 1")[0][0]
    page.goto(f"/ui/traces/{retried}")
    assert page.locator(".wf-item").count() >= 4  # server, guardrail, failed attempt, retry
    assert page.locator(".wf-svg rect.bar-error").count() >= 1
    page.locator(".wf-item summary").nth(3).click()
    assert page.locator(".wf-item[open] table.kv").first.is_visible()
    _shot(page, "ui-trace")

    page.goto("/ui/cost?range=30d")
    assert page.locator("svg.chart-svg rect.bar").count() == 30
    assert page.locator("svg.chart-svg polyline").count() >= 1
    assert page.get_by_text("acme-finetune-v2").first.is_visible()
    _shot(page, "ui-cost")
    page.goto("/ui/guardrails")
    assert page.locator("svg.chart-svg polyline").count() >= 2
    _shot(page, "ui-guardrails")
    page.goto("/ui/usage")
    _shot(page, "ui-usage")
    page.goto("/ui/audit")
    assert page.get_by_text(retried).first.is_visible()
    _shot(page, "ui-audit")
    assert watched.errors == [] and watched.dialogs == []  # no CSP violation, no script error on any page


def test_ui_browser_hostile_response_is_inert(browser: Browser, ui_server: Any) -> None:
    watched = _open(browser, ui_server.url, "admin")
    page = watched.page
    page.goto("/ui/traces/req-xss-0001")
    page.wait_for_timeout(300)
    assert watched.dialogs == []
    assert page.evaluate("window.__pwned === undefined")
    injected = "document.querySelectorAll('pre.body script, pre.body img, pre.body svg, #jslink').length"
    assert page.evaluate(injected) == 0
    assert page.evaluate("document.querySelectorAll('a[href^=\"javascript:\"]').length") == 0
    body_text = page.locator("pre.body").nth(1).inner_text()
    assert "<script>window.__pwned=1" in body_text and "onerror" in body_text and "javascript:alert(3)" in body_text


def test_ui_browser_auditor_limits_and_csrf(browser: Browser, ui_server: Any) -> None:
    watched = _open(browser, ui_server.url, "alice")
    page = watched.page
    assert page.locator("a[href='/ui/audit']").count() == 0
    response = page.goto("/ui/audit")
    assert response is not None and response.status == 403
    response = page.goto(f"/ui/traces/{ui_server.team_b_ids[0]}")
    assert response is not None and response.status == 404
    response = page.goto(f"/ui/traces/{ui_server.team_a_ids[1]}")
    assert response is not None and response.status == 200
    forged = page.request.post(f"{ui_server.url}/ui/logout", form={"csrf_token": "nope"}, max_redirects=0)
    assert forged.status == 403
    page.goto("/ui/traces")
    page.click("text=Sign out")
    page.wait_for_url(re.compile(r".*/ui/login.*"))
