"""The web console in a real browser: headless Debian Chromium driven by Playwright, after the tutorial's dataflow ran.

A learner signs in (the dev credentials are prefilled on loopback), switches sandbox and back, opens the dataflow,
sees the runs chart, opens the run whose records failed and its diagnostics, then the dataset's preview. What is on
screen is compared with what the API answers; the browser reports no CSP violation or script error (the console has
no script). Screenshots go to ``docs/screenshots/`` for the README.

Needs ``/usr/bin/chromium`` (Debian's ``chromium`` package; ``.ci/run`` installs it), else the test fails (never
skips, like ``tests/test_browser.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from test_browser import CHROMIUM, CHROMIUM_ARGS, chromium  # noqa: F401  (chromium: fails without Chromium)
from test_engine_e2e import COORD_COLUMNS, COORD_MAPPINGS, Kit

from aep_magics import local
from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"
FLOW = "/data/foundation/flowservice"

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    with local.start(data_dir=tmp_path_factory.mktemp("console-browser"), seed=6161) as aep:
        kit = Kit(aep, orders=1500)
        ids = kit.flow(columns=COORD_COLUMNS, mappings=COORD_MAPPINGS, name="Shopify orders to Profile",
                       options={"errorDiagnosticsEnabled": True, "partialIngestionPercent": 50})
        kit.idle()
        token = requests.post(aep.url + "/ims/token/v3", timeout=30, data={
            "grant_type": "client_credentials", "client_id": DEV_CLIENT_ID,
            "client_secret": DEV_CLIENT_SECRET}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "x-api-key": DEV_CLIENT_ID, "x-gw-ims-org-id": DEV_ORG_ID}
        r = requests.post(aep.url + "/data/foundation/sandbox-management/sandboxes", headers=headers,
                          json={"name": "dev", "title": "Development", "type": "development"})
        assert r.status_code == 202, r.text
        runs = requests.get(f"{aep.url}{FLOW}/flows/{ids['flow']}/runs", headers={**headers, "x-sandbox-name": "prod"})
        yield {"url": aep.url, "ids": ids, "runs": runs.json()["items"]}


def test_sign_in_switch_sandbox_open_dataflow_diagnostics_and_preview(tutorial):
    from playwright.sync_api import expect, sync_playwright

    url = tutorial["url"]
    (run,) = tutorial["runs"]
    records = run["metrics"]["recordSummary"]
    assert records["failedRecordCount"] > 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            # CSP violations and script errors; not the answers' statuses (the sign-in page is a 401, /favicon.ico a
            # 404), which the steps below check by what the pages show
            page.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning")
                    and not msg.text.startswith("Failed to load resource") else None)

            # sign in: the dev credentials are prefilled on loopback
            page.goto(f"{url}/console/")
            expect(page.get_by_role("heading", name="Sign in to the AEP Local console")).to_be_visible()
            assert page.locator("body").inner_text().count("Shopify orders to Profile") == 0
            assert page.input_value("input[name=client_id]") == DEV_CLIENT_ID
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Sources")).to_be_visible()
            expect(page.locator("#dataflows")).to_contain_text("Shopify orders to Profile")

            # switch to the empty development sandbox and back
            page.select_option("#sandbox", "dev")
            page.get_by_role("button", name="Switch").click()
            expect(page.locator("main")).to_contain_text("No dataflow in this sandbox yet")
            assert "sandbox=dev" in page.url
            page.select_option("#sandbox", "prod")
            page.get_by_role("button", name="Switch").click()

            # the dataflow's activity: the chart and the runs table, numbers as the API answers them
            page.get_by_role("link", name="Shopify orders to Profile").first.click()
            expect(page.locator("#runs-chart")).to_be_visible()
            assert page.locator("#runs-chart g.bar rect.bad").count() == 1
            row = page.locator(f'tr[data-run="{run["id"]}"]')
            assert row.locator('[data-field="output"]').inner_text() == str(records["outputRecordCount"])
            assert row.locator('[data-field="failed"]').inner_text() == str(records["failedRecordCount"])
            assert row.locator('[data-field="status"]').inner_text() == run["metrics"]["statusSummary"]["status"]
            page.screenshot(path=str(SCREENSHOTS / "console-dataflow.png"))

            # the run: its failed records' diagnostics
            row.get_by_role("link").first.click()
            diagnostics = page.locator("#diagnostics")
            expect(diagnostics).to_be_visible()
            expect(diagnostics).to_contain_text("INGEST-1405-400")
            expect(diagnostics).to_contain_text("out of range")
            with page.expect_download() as download:
                diagnostics.get_by_role("link", name="part-00000.json").click()
            assert download.value.suggested_filename.endswith("part-00000.json")
            diagnostics.scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / "console-run-diagnostics.png"))

            # the dataset: batches and the flattened preview
            page.locator(".batch a[href^='/console/datasets/']").first.click()
            expect(page.locator("#preview")).to_be_visible()
            expect(page.locator("#preview thead")).to_contain_text("shippingAddress._schema.latitude")
            batch = page.locator("#batches tbody tr").first
            assert batch.locator('[data-field="records"]').inner_text() == str(records["outputRecordCount"])
            page.locator("#preview").scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / "console-dataset.png"))
        finally:
            browser.close()
    assert not problems, problems
