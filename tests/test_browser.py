"""The eCommerce ingestion tutorial in a real browser: JupyterLab + headless Debian Chromium, driven by Playwright.

``notebooks/03-ecommerce-ingestion.ipynb`` (a temporary copy: the repository's notebooks are never touched) is opened
in a JupyterLab started on a free loopback port, its outputs are cleared, all its cells are run, and once the kernel
is idle and every code cell has an execution count the test checks what a learner sees:

- the magics' ipywidgets views rendered (the Response / Request / curl tabs, the runs progress bar), and no
  "Error displaying widget";
- the runs table and the pandas table of ``%aep_read`` rendered as HTML tables;
- no error output and nothing on stderr, neither in the DOM nor in the notebook model.

The French twin ``notebooks/fr/03-ingestion-ecommerce.ipynb`` is opened with JupyterLab's default settings (no run):
each in-page link of its dataflow section, clicked, scrolls the notebook to the heading it names.

Screenshots land in ``tests/artifacts/`` (git-ignored); two of them are copied to ``docs/screenshots/`` for the
README. Needs ``/usr/bin/chromium`` (Debian's ``chromium`` package; ``.ci/run`` installs it), else each test fails
(never skips: a skipped browser test would let CI pass without a browser).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "03-ecommerce-ingestion.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TOKEN = "aep-magics-browser-test"
RUN_TIMEOUT_MS = 150_000

pytestmark = [pytest.mark.browser]


@pytest.fixture(autouse=True)
def chromium() -> Path:
    """Debian's Chromium, checked before anything starts: without it the test fails."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is absent: install Debian's chromium package (apt-get install chromium), "
                    "as .ci/run does", pytrace=False)
    return CHROMIUM

# JupyterLab user settings: no news toast, no update check, every cell attached to the DOM (so every output is
# there to query, whatever the scroll position).
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
# What a learner has: JupyterLab's defaults (windowing mode "contentVisibility"), minus the network calls.
DEFAULT_USER_SETTINGS = {k: v for k, v in USER_SETTINGS.items() if "notebook-extension" not in k}

# What the notebook model holds, read in the page: per code cell its execution count and its outputs' kinds.
MODEL_STATE_JS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    if (!panel || !panel.content || !panel.content.model) return null;
    const cells = [];
    for (const cell of panel.content.model.cells) {
        if (cell.type !== 'code') continue;
        cells.push({count: cell.executionCount, outputs: cell.outputs.toJSON()});
    }
    return {kernel: panel.sessionContext.kernelDisplayStatus, cells};
}"""

RUN_FINISHED_JS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    if (!panel || !panel.content || !panel.content.model) return false;
    if (panel.sessionContext.kernelDisplayStatus !== 'idle') return false;
    for (const cell of panel.content.model.cells) {
        if (cell.type === 'code' && !cell.executionCount) return false;
    }
    const prompts = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')];
    return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
}"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    drop = ("AEP_", "JUPYTER", "IPYTHONDIR", "SHOPIFY_ACCESS_TOKEN")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra)
    return env


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab on a free loopback port over a copy of notebooks/, isolated HOME and settings; yields its URL."""
    yield from _jupyterlab(tmp_path, USER_SETTINGS)


@pytest.fixture
def lab_default(tmp_path):
    """The same JupyterLab with the notebook settings left at their defaults."""
    yield from _jupyterlab(tmp_path, DEFAULT_USER_SETTINGS)


def _jupyterlab(tmp_path, user_settings: dict):
    import ipywidgets  # noqa: F401  (the [test] extra installs them: a missing one is a failure, not a skip)
    import jupyterlab  # noqa: F401
    import playwright.sync_api  # noqa: F401

    root = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    home, settings, workspaces = tmp_path / "home", tmp_path / "user-settings", tmp_path / "workspaces"
    for d in (home, settings, workspaces):
        d.mkdir()
    for rel, value in user_settings.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))

    port = _free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
           "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workspaces}"]
    env = _clean_env(HOME=str(home), JUPYTERLAB_SETTINGS_DIR=str(settings),
                     JUPYTERLAB_WORKSPACES_DIR=str(workspaces), PYTHONUNBUFFERED="1")
    log_path = tmp_path / "jupyterlab.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        import requests

        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
            try:
                if requests.get(f"{url}/api/status", params={"token": TOKEN}, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer in 60 s:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.25)
        yield {"url": url, "root": root, "log": log_path}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _shot(locator_or_page, name: str, **kwargs) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    locator_or_page.screenshot(path=str(path), **kwargs)
    return path


def _run_and_check(page, url: str, code_cells: int, console_errors: list[str]) -> float:
    """Open the notebook, clear it, run all, assert on the model and the DOM, take the screenshots."""
    page.goto(f"{url}/lab/tree/{NOTEBOOK}?token={TOKEN}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus"
                           " === 'idle'", timeout=60_000)
    page.locator("#jp-main-statusbar >> text=Idle").first.wait_for(timeout=30_000)

    # Start from a clean slate (the stored outputs carry execution counts), then run everything.
    page.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function("""() => [...document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
        .every(p => !/\\[\\d+\\]/.test(p.textContent))""", timeout=10_000)
    started = time.monotonic()
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(RUN_FINISHED_JS, timeout=RUN_TIMEOUT_MS, polling=500)
    page.locator("#jp-main-statusbar >> text=Idle").first.wait_for(timeout=10_000)
    run_seconds = time.monotonic() - started

    # Widgets render asynchronously after the outputs arrive.
    page.wait_for_selector(".jp-OutputArea-output .widget-tab", timeout=30_000)
    page.wait_for_selector(".jp-OutputArea-output .widget-hprogress, .jp-OutputArea-output .widget-progress",
                           timeout=30_000)
    page.wait_for_timeout(500)

    # -- the notebook model: every code cell ran, no error, nothing on stderr ------------------------------
    state = page.evaluate(MODEL_STATE_JS)
    assert state is not None and state["kernel"] == "idle", state and state["kernel"]
    assert len(state["cells"]) == code_cells
    assert all(c["count"] for c in state["cells"]), [c["count"] for c in state["cells"]]
    bad = [(i, o) for i, c in enumerate(state["cells"]) for o in c["outputs"]
           if o.get("output_type") == "error" or o.get("name") == "stderr"]
    assert not bad, f"error/stderr outputs in the notebook model: {json.dumps(bad, indent=1)[:4000]}"
    widget_outputs = [o for c in state["cells"] for o in c["outputs"]
                      if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widget_outputs) >= 8, f"expected the magics' widget views, got {len(widget_outputs)}"

    # -- the DOM: widgets, tables, no error rendering --------------------------------------------------------
    nb = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    stderr = nb.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    assert stderr.count() == 0, stderr.all_inner_texts()
    assert nb.locator("text=Error displaying widget").count() == 0
    assert nb.locator(".jp-OutputArea-output .widget-html-content").count() > 0

    tabs = nb.locator(".jp-OutputArea-output .widget-tab")
    assert tabs.count() >= 7, f"{tabs.count()} tab widgets"
    labels = tabs.first.locator(".lm-TabBar-tabLabel").all_inner_texts()
    assert "Response" in labels and "Request" in labels, labels
    all_labels = set(nb.locator(".jp-OutputArea-output .widget-tab .lm-TabBar-tabLabel").all_inner_texts())
    assert "curl" in {label.strip().lower() for label in all_labels}, all_labels

    progress = nb.locator(".jp-OutputArea-output .widget-hprogress, .jp-OutputArea-output .widget-progress")
    assert progress.count() >= 1

    runs_table = nb.locator(".jp-OutputArea-output table.aep-table")
    assert runs_table.count() >= 1, "the %aep_runs table did not render"
    runs_header = runs_table.first.locator("thead th").all_inner_texts()
    assert {"status", "records in", "records out", "failed"} <= {h.strip() for h in runs_header}, runs_header
    assert runs_table.first.locator("tbody tr").count() >= 1
    assert "success" in runs_table.first.locator("tbody").inner_text()

    frame = nb.locator(".jp-OutputArea-output table.dataframe:not(.aep-table)")
    assert frame.count() >= 1, "the %aep_read DataFrame did not render as a table"
    columns = [h.strip() for h in frame.last.locator("thead th").all_inner_texts()]
    assert "personalEmail.address" in columns, columns
    assert frame.last.locator("tbody tr").count() == 10

    assert not console_errors, console_errors

    # -- screenshots (the left sidebar folded away; the first widget cell at the top of the view) ------------
    page.evaluate("window.jupyterapp.shell.collapseLeft()")
    page.wait_for_timeout(300)
    cells = nb.locator(".jp-CodeCell")
    cells.filter(has=page.locator(".widget-tab")).first.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    top = _shot(page, "03-ingestion-top.png")
    runs_cell = cells.filter(has=page.locator("table.aep-table")).first
    runs_cell.scroll_into_view_if_needed()
    runs = _shot(runs_cell, "03-ingestion-runs.png")
    read_cell = cells.filter(has=page.locator("table.dataframe:not(.aep-table)")).last
    read_cell.scroll_into_view_if_needed()
    _shot(read_cell, "03-ingestion-read.png")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(top, SCREENSHOTS / top.name)
    shutil.copyfile(runs, SCREENSHOTS / runs.name)
    return run_seconds


def test_ingestion_notebook_runs_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright

    source = json.loads((ROOT / "notebooks" / NOTEBOOK).read_text())
    code_cells = sum(c["cell_type"] == "code" for c in source["cells"])

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            console_errors: list[str] = []
            page.on("pageerror", lambda exc: console_errors.append(str(exc)))

            try:
                run_seconds = _run_and_check(page, lab["url"], code_cells, console_errors)
            except BaseException:
                _shot(page, "03-ingestion-failure.png")
                raise
            print(f"run-all took {run_seconds:.1f} s")
        finally:
            browser.close()

    # The repository's notebook is untouched (the server worked on a copy).
    assert json.loads((ROOT / "notebooks" / NOTEBOOK).read_text()) == source


# -- the French twin: in-page links navigate ------------------------------------------------------------------------

FRENCH = "fr/03-ingestion-ecommerce.ipynb"
# An explicit anchor line right above a heading: <a id="ascii-id"></a>, a blank line, then "## Heading".
ANCHOR = re.compile(r'<a id="([^"]+)"></a>\s*\n\s*\n#+ (.+)')


def test_french_in_page_links_scroll_to_their_headings(lab_default):
    from playwright.sync_api import sync_playwright

    source = json.loads((ROOT / "notebooks" / FRENCH).read_text(encoding="utf-8"))
    markdown = ["".join(c["source"]) for c in source["cells"] if c["cell_type"] == "markdown"]
    targets = {m.group(1): m.group(2).strip() for text in markdown for m in ANCHOR.finditer(text)}
    links = [href[1:] for text in markdown for href in re.findall(r"\]\((#[^)]+)\)", text)]
    assert len(links) >= 4, f"the dataflow section links back to the four ids it needs: {links}"
    # JupyterLab looks an in-page link up by its percent-encoded fragment: an accented one never matches a heading.
    assert all(link.isascii() for link in links), links
    assert set(links) <= set(targets), f"links without an explicit anchor: {set(links) - set(targets)}"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{lab_default['url']}/lab/tree/{FRENCH}?token={TOKEN}", wait_until="domcontentloaded")
            nb = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
            try:
                nb.locator(".jp-MarkdownCell h2").first.wait_for(state="attached", timeout=60_000)
                for target in links:
                    heading = nb.locator(".jp-MarkdownCell h2", has_text=targets[target])
                    link = nb.locator(f'.jp-MarkdownCell a[href="#{target}"]').first
                    link.scroll_into_view_if_needed()
                    page.wait_for_timeout(300)
                    scroller = nb.locator(".jp-WindowedPanel-outer").bounding_box()
                    top, band = scroller["y"], scroller["height"] / 3

                    def near_top() -> bool:
                        box = heading.bounding_box()
                        return box is not None and top - 5 <= box["y"] <= top + band

                    assert not near_top(), f"{targets[target]!r} is already at the top before the click"
                    link.click()
                    deadline = time.monotonic() + 5
                    while not near_top() and time.monotonic() < deadline:
                        page.wait_for_timeout(100)
                    assert near_top(), (f"clicking #{target} did not bring {targets[target]!r} to the top "
                                        f"(heading at {heading.bounding_box()}, view from {top})")
                    assert f"/lab/tree/{FRENCH}" in page.url, page.url  # still on the notebook
            except BaseException:
                _shot(page, "fr-03-links-failure.png")
                raise
        finally:
            browser.close()
