"""The committed notebooks read without a kernel: every output carries its information as HTML or text.

A freshly cloned notebook is untrusted, has no running kernel and often no widget manager: JupyterLab sanitizes its
``text/html`` (no ``<svg>``, no ``<style>``, no scripts), GitHub and nbviewer never run widgets, an HTML export
offline cannot load them. For every ``notebooks/**/*.ipynb``:

- its HTML export as ``aep-local demo`` writes it (no widget state), read without JavaScript: no output is blank,
  no widget repr (``IntProgress(…``) stands where a view should be, every runs chart is there with its labels (the
  numbers its ``text/plain`` carries), and no label runs into the next ("10 items200 OK");
- the same notebook opened UNTRUSTED in JupyterLab in headless Chromium (one server, one page for all of them): the
  same checks on the rendered text, and each runs chart drawn (non-zero size, every bar visible).

The runs chart of notebook 04 is saved as ``tests/artifacts/rendering-04-runs-chart.png``.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from helpers.rendered_text import text_problems, texts_of, visible_text
from test_browser import CHROMIUM, CHROMIUM_ARGS, TOKEN, lab  # noqa: F401  (lab: the JupyterLab fixture)

from aep_magics.local.demo import export_html

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(str(p.relative_to(ROOT / "notebooks")) for p in (ROOT / "notebooks").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)
ARTIFACTS = ROOT / "tests" / "artifacts"
#: One bar of the runs chart, as its text/plain and its HTML both label it.
LABEL = re.compile(r"\b\d[\d,]* out, \d[\d,]* failed\b")
RICH = ("display_data", "execute_result")


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else (value or "")


def rich_outputs(nb) -> list[dict]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
            if o.get("output_type") in RICH]


def charts(nb) -> list[list[str]]:
    """Per runs chart in the notebook, the labels of its bars (read from the output's text/plain)."""
    found = []
    for output in rich_outputs(nb):
        if 'class="aep-chart"' in _text(output.get("data", {}).get("text/html")):
            found.append(LABEL.findall(_text(output["data"].get("text/plain"))))
    return found


def test_notebooks_are_found():
    assert len(NOTEBOOKS) >= 5 and "04-monitor-and-troubleshoot.ipynb" in NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_html_export_reads_without_javascript(name):
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    for output in rich_outputs(nb):
        html = _text(output.get("data", {}).get("text/html"))
        assert "<svg" not in html, f"{name}: an SVG output (a sanitizer drops it): {html[:200]}"
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {}):
            assert html, f"{name}: a widget output without text/html: {_text(output['data'].get('text/plain'))}"

    exported = re.sub(r"(?is)<script\b.*?</script>", "", export_html(nb))
    outputs = texts_of(exported, "jp-OutputArea-output")
    assert len(outputs) >= len(rich_outputs(nb))
    blank = [i for i, text in enumerate(outputs) if not text.strip()]
    assert not blank, f"{name}: blank outputs {blank} in the HTML export"
    text = visible_text(exported)
    problems = text_problems(text)
    assert not problems, f"{name}: " + "\n".join(problems)
    shown = LABEL.findall(text)
    for labels in charts(nb):
        assert labels, f"{name}: a runs chart whose text/plain has no bars"
        for label in labels:
            assert label in shown, f"{name}: chart label {label!r} missing from the HTML export"


# -- JupyterLab, untrusted, no kernel run -------------------------------------------------------------------------

OPEN_JS = """async (path) => {
    const app = window.jupyterapp;
    const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
    await panel.context.ready;
    await panel.revealed;
    return panel.id;
}"""

STATE_JS = """(id) => {
    const panel = [...window.jupyterapp.shell.widgets('main')].find(w => w.id === id);
    const cells = panel.content.widgets.filter(w => w.model.type === 'code');
    return {trusted: cells.map(w => w.model.trusted), outputs: panel.node.querySelectorAll('.jp-OutputArea-output').length};
}"""

CHARTS_JS = """(id) => [...document.getElementById(id).querySelectorAll('table.aep-chart:not(.aep-bar-chart)')].map(t => {
    const box = t.getBoundingClientRect();
    const bars = [...t.querySelectorAll('span[style*="background-color"]')].map(s => s.getBoundingClientRect());
    return {width: box.width, height: box.height, rows: t.querySelectorAll('tr').length,
            bars: bars.map(b => [b.width, b.height])};
})"""

CLOSE_JS = """async (id) => {
    const panel = [...window.jupyterapp.shell.widgets('main')].find(w => w.id === id);
    await panel.sessionContext.shutdown();
    panel.dispose();
}"""


@pytest.mark.browser
def test_untrusted_jupyterlab_shows_every_output(lab):  # noqa: F811
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is needed (Debian: apt-get install chromium)"
    failures: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{lab['url']}/lab?token={TOKEN}", wait_until="domcontentloaded")
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
            page.locator("#jp-main-statusbar").first.wait_for(timeout=60_000)
            for name in NOTEBOOKS:
                nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
                expected_outputs = len(rich_outputs(nb))
                expected_charts = charts(nb)
                panel_id = page.evaluate(OPEN_JS, name)
                page.wait_for_function(f"(id) => ({STATE_JS})(id).outputs >= {expected_outputs}", arg=panel_id,
                                       timeout=30_000)
                page.wait_for_timeout(300)  # sanitized HTML renders asynchronously
                state = page.evaluate(STATE_JS, panel_id)
                if any(state["trusted"]):
                    failures.append(f"{name}: opened trusted; the check needs an untrusted notebook")
                panel = page.locator(f"#{panel_id}")
                texts = panel.locator(".jp-OutputArea-output").all_inner_texts()
                text = "\n".join(texts)
                failures += [f"{name}: {problem}" for problem in text_problems(text)]
                if "Error displaying widget" in text:
                    failures.append(f"{name}: 'Error displaying widget'")
                drawn = page.evaluate(CHARTS_JS, panel_id)
                if len(drawn) != len(expected_charts):
                    failures.append(f"{name}: {len(drawn)} runs charts rendered, {len(expected_charts)} in the notebook")
                for chart, labels in zip(drawn, expected_charts):
                    if not (chart["width"] > 0 and chart["height"] > 0):
                        failures.append(f"{name}: a runs chart of size {chart['width']}x{chart['height']}")
                    if len(chart["bars"]) < len(labels) or any(w < 1 or h < 1 for w, h in chart["bars"]):
                        failures.append(f"{name}: chart bars not all drawn: {chart['bars']}")
                    if max((w for w, _ in chart["bars"]), default=0) < 100:
                        failures.append(f"{name}: the peak bar is narrower than 100 px: {chart['bars']}")
                shown = LABEL.findall(text)
                failures += [f"{name}: chart label {label!r} not rendered" for labels in expected_charts
                             for label in labels if label not in shown]
                if name.startswith("04") and drawn:
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    widest = max(range(len(drawn)), key=lambda i: drawn[i]["rows"])  # the 10-run chart
                    chart = panel.locator("table.aep-chart").nth(widest)
                    chart.scroll_into_view_if_needed()
                    chart.locator("xpath=ancestor::div[contains(@class,'jp-OutputArea-output')]").first.screenshot(
                        path=str(ARTIFACTS / "rendering-04-runs-chart.png"))
                page.evaluate(CLOSE_JS, panel_id)
        finally:
            browser.close()
    assert not failures, "\n".join(failures)
