"""Rendering: stable text/plain, HTML and widget views, paging, charts, secrets masked everywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aep_magics import display
from aep_magics.auth import Secret
from aep_magics.display import (
    AuthCard,
    CurlView,
    DryRun,
    Lineage,
    LineageNode,
    ListResult,
    Request,
    Result,
    RunsResult,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _options():
    saved = (display.options.display_limit, display.options.widgets)
    yield
    display.options.display_limit, display.options.widgets = saved


def source_result(**kw) -> Result:
    request = Request("POST", "https://platform.adobe.io/data/foundation/flowservice/sourceConnections",
                      "/data/foundation/flowservice/sourceConnections",
                      body={"name": "Shopify source connection", "params": {"tableName": "Shopify.Orders"}},
                      curl="curl -X POST 'https://platform.adobe.io/…' -H 'Authorization: Bearer {ACCESS_TOKEN}'",
                      status=201)
    defaults = {"id": "c278ab14-acdf-440b-b67f-1265d15a7655", "name": "Shopify source connection",
                "body": {"id": "c278ab14-acdf-440b-b67f-1265d15a7655", "etag": '"10007c3f-0000-0200"'},
                "status": 201, "request": request, "calls": [request]}
    defaults.update(kw)
    return Result("SourceConnection", **defaults)


def widget_states(widget) -> list[dict]:
    """The state of a widget and of every widget inside it."""
    states = [widget.get_state()]
    for child in getattr(widget, "children", ()) or ():
        states.extend(widget_states(child))
    return states


def all_text(bundle: dict) -> str:
    return json.dumps(bundle, default=str)


def test_result_text_plain_is_short_and_stable():
    result = source_result()
    expected = 'SourceConnection c278ab14-acdf-440b-b67f-1265d15a7655 "Shopify source connection" (201 Created)'
    assert repr(result) == expected
    assert result._repr_mimebundle_()["text/plain"] == expected
    assert result._repr_mimebundle_()["text/plain"] == expected


def test_result_data_access():
    result = source_result()
    assert result.id.startswith("c278ab14")
    assert result.etag == '"10007c3f-0000-0200"'
    assert result["id"] == result.id
    assert result.get("missing", 7) == 7
    assert result.request.method == "POST" and result.request["path"].endswith("/sourceConnections")
    assert "{ACCESS_TOKEN}" in result.curl
    assert "etag" in result


def test_bundle_has_html_and_never_json():
    display.options.widgets = False
    bundle = source_result()._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    html = bundle["text/html"]
    assert "navigator.clipboard.writeText" in html and "c278ab14-acdf-440b-b67f-1265d15a7655" in html
    assert "<details" in html and "201 Created" in html


def test_widget_view_keeps_text_plain_and_adds_html():
    pytest.importorskip("ipywidgets")
    display.options.widgets = True
    result = source_result()
    bundle = result._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == repr(result)
    assert "text/html" in bundle and "application/json" not in bundle
    view = result.widget()
    tab = view.children[1]
    assert tuple(tab.titles) == ("Response", "Request", "curl")


def test_secrets_masked_in_every_view():
    pytest.importorskip("ipywidgets")
    canary_secret = Secret("CANARY-client-secret-7f3a")  # registered: scrubbed wherever it turns up
    body = {"auth": {"specName": "Basic Authentication",
                     "params": {"host": "https://shop.example", "accessToken": "shpat_CANARY_1234"}},
            "note": f"echo {canary_secret.reveal()}"}
    request = Request("POST", "https://p/x", "/x", body=body, curl="curl …", status=201,
                      headers={"Authorization": "Bearer ********"})
    result = Result("BaseConnection", id="b1", name="Shopify", body=body, status=201, request=request,
                    calls=[request])
    display.options.widgets = True
    outputs = [result._repr_mimebundle_(), DryRun([request])._repr_mimebundle_(), CurlView([request])._repr_mimebundle_()]
    states = widget_states(result.widget()) + widget_states(DryRun([request]).widget())
    text = all_text(outputs) + all_text(states) + repr(result)
    assert "shpat_CANARY_1234" not in text
    assert canary_secret.reveal() not in text
    assert "********" in text
    assert "https://shop.example" in text  # only secrets are masked


def test_dry_run_view():
    display.options.widgets = False
    request = Request("POST", "https://platform.adobe.io/data/foundation/flowservice/flows",
                      "/data/foundation/flowservice/flows", body={"name": "f"},
                      headers={"Authorization": "Bearer ********", "x-api-key": "abc"}, curl="curl -X POST …")
    dry = DryRun([request])
    text = repr(dry)
    assert text.startswith("DRY RUN, nothing sent: POST https://platform.adobe.io/data/foundation/flowservice/flows")
    assert '"name": "f"' in text and "Bearer ********" in text
    assert dry.id is None and dry.curl == "curl -X POST …"


def test_list_of_2000_renders_paged_and_small():
    items = [{"id": f"{i:08d}-aaaa-bbbb-cccc-{i:012d}", "name": f"flow {i}", "state": "enabled",
              "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860"}, "createdAt": 1604960074752 + i,
              "big": {"blob": "x" * 500}} for i in range(2000)]
    result = ListResult("flows", items)
    for widgets in (False, True):
        display.options.widgets = widgets
        bundle = result._repr_mimebundle_()
        assert len(all_text(bundle).encode()) < 200_000
    assert "rows 1–20 of 2,000" in bundle["text/plain"] and "rows 1–20 of 2,000" in bundle["text/html"]
    assert bundle["text/html"].count("<tr>") == 20
    page = result.page(3)
    assert "rows 41–60 of 2,000" in repr(page)
    assert "flow 40" in repr(page) and "flow 39" not in repr(page)
    assert len(result) == 2000 and result[1999]["name"] == "flow 1999"
    frame = result.to_dataframe()
    assert len(frame) == 2000 and list(frame.columns) == result.columns
    assert "big.blob" in result.to_dataframe(all_columns=True).columns


def test_display_limit_option():
    display.options.display_limit = 5
    result = ListResult("batches", [{"id": str(i), "status": "success"} for i in range(12)])
    assert "rows 1–5 of 12" in repr(result)
    assert "rows 11–12 of 12" in repr(result.page(3))


def test_catalog_style_columns_and_time_format():
    result = ListResult("dataSets", [{"id": "5fa9c083de62e418dd170b42", "name": "Orders",
                                      "schemaRef": {"id": "https://ns.adobe.com/x/schemas/1"},
                                      "created": 1604960074752}])
    text = repr(result)
    assert "schemaRef.id" in text and "2020-11-09 22:14:34" in text


def run(i, status, out, failed, errors=()):
    return {"id": f"run-{i}", "flowId": "f1",
            "metrics": {"durationSummary": {"startedAtUTC": 1600000000000 + i * 60000,
                                            "completedAtUTC": 1600000030000 + i * 60000},
                        "recordSummary": {"inputRecordCount": out + failed, "outputRecordCount": out,
                                          "failedRecordCount": failed},
                        "statusSummary": {"status": status, "errors": [{"code": c} for c in errors]}}}


def test_runs_table_and_chart():
    display.options.widgets = False
    result = RunsResult("f1", [run(2, "failed", 0, 10, ["INGEST-1212-400"]), run(1, "success", 99, 1)])
    text = repr(result)
    assert "1 failed, 1 success" in text and "records in 110, out 99, failed 11" in text
    assert text.index("run-1") < text.index("run-2")  # oldest first
    assert "30.0 s" in text and "INGEST-1212-400" in text
    html = result._repr_mimebundle_()["text/html"]
    assert "<svg" in html and html.count("<rect") == 2  # run-1 out (its 1 failed is under a pixel), run-2 failed
    assert result.finished
    assert not RunsResult("f1", [run(1, "scheduled", 0, 0)]).finished
    assert not RunsResult("f1", []).finished


def test_a_long_runs_list_formats_only_the_shown_rows(monkeypatch):
    from aep_magics.display import tables

    display.options.widgets = False
    runs = [run(i, "success" if i % 7 else "failed", 100, i % 3) for i in range(10_000)]
    result = RunsResult("f1", runs)
    formatted = []
    real = tables.run_row
    monkeypatch.setattr(tables, "run_row", lambda r: formatted.append(r["id"]) or real(r))
    bundle = result._repr_mimebundle_()
    # text and HTML each format one page; the chart formats its newest bars; the summary needs no row formatting
    assert len(formatted) <= 2 * display.options.display_limit + tables.CHART_BARS
    assert "records in 1,009,999, out 1,000,000, failed 9,999" in bundle["text/plain"]
    assert "rows 1–20 of 10,000" in bundle["text/plain"] and bundle["text/html"].count("<rect") > 0
    assert "run-9999" in bundle["text/html"]    # the chart's newest bar


def test_lineage_view():
    lineage = Lineage("flow-1", [
        LineageNode("source connection", "s1", "Orders", [("table", "Shopify.Orders")]),
        LineageNode("flow", "flow-1", "Dataflow", [("schedule", "once")], status="enabled"),
        LineageNode("dataset", "ds1", None, missing=True),
    ])
    text = repr(lineage)
    assert text.splitlines()[0] == "Lineage of flow flow-1"
    assert '  → flow flow-1 "Dataflow" [enabled] · schedule once' in text
    assert "(not found)" in text
    assert "&rarr;" in lineage._repr_mimebundle_()["text/html"]


def test_auth_card_never_shows_a_token():
    token = Secret("eyJ-CANARY-TOKEN-value")
    card = AuthCard(org_id="ORG@AdobeOrg", sandbox="prod", base_url="https://platform.adobe.io", client_id="cid",
                    expires_at=1000 + 86399, now=1000, local=False)
    bundle = card._repr_mimebundle_()
    assert "token valid for 24 h" in bundle["text/plain"]
    assert token.reveal() not in all_text(bundle)
    assert "sandbox prod" in repr(card)


def test_json_tree_is_bounded():
    display.options.widgets = False
    body = {"items": [{"n": i, "s": "y" * 100} for i in range(5000)]}
    html = Result("GET /x", body=body, status=200)._repr_mimebundle_()["text/html"]
    assert len(html) < 400_000 and "more (see .body)" in html
    assert "more lines (see .body)" in repr(Result("GET /x", body=body, status=200))


def test_display_and_magics_import_light():
    code = (
        "import json, sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "import aep_magics, aep_magics.display, aep_magics.magics, aep_magics.magics.core, aep_magics.magics.body\n"
        "shell = InteractiveShell.instance()\n"
        "shell.extension_manager.load_extension('aep_magics')\n"
        "print(json.dumps([m for m in ['pandas', 'pyarrow', 'ipywidgets', 'numpy', 'requests'] if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                         cwd=ROOT)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
