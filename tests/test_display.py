"""Rendering: stable text/plain, HTML and widget views, paging, charts, secrets masked everywhere."""

from __future__ import annotations

import json
import re
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


#: A token rotation as ``%%aep PATCH /data/foundation/flowservice/connections/{id}`` sends it: a JSON Patch body
#: (a list) whose operations on secret paths carry the new secrets, next to one that is no secret.
ROTATION = [
    {"op": "replace", "path": "/auth/params/accessToken", "value": "shpat_ROTATED_9f2c"},
    {"op": "add", "path": "/auth/params",
     "value": {"host": "https://shop.example", "accessToken": "shpat_NESTED_5d1e"}},
    {"op": "replace", "path": "/auth/params/client~1Secret", "value": 98765432101234},
    {"op": "replace", "path": "/description", "value": "rotated on Monday"},
]
LISTED_SECRETS = ("shpat_ROTATED_9f2c", "shpat_NESTED_5d1e", "98765432101234", "shpat_ITEM_3b7a", "pw-DEEP-4444",
                  "key-LIST-1111", "key-LIST-2222")


def test_mask_secrets_reaches_into_lists_and_json_patch_bodies():
    masked = display.mask_secrets(ROTATION)
    assert [masked[0]["value"], masked[2]["value"]] == ["********"] * 2
    assert masked[1]["value"] == {"host": "https://shop.example", "accessToken": "********"}
    assert masked[3] == ROTATION[3]                                   # not a secret path: shown as sent
    assert display.mask_secrets([[{"password": "pw-DEEP-4444", "user": "jim"}]]) == [[{"password": "********",
                                                                                        "user": "jim"}]]
    assert display.mask_secrets({"items": [{"id": "c1", "auth": {"params": {"accessToken": "shpat_ITEM_3b7a"}}}]}) \
        == {"items": [{"id": "c1", "auth": {"params": {"accessToken": "********"}}}]}
    assert display.mask_secrets({"apiKeys": ["key-LIST-1111", "key-LIST-2222"]}) == {"apiKeys": "********"}
    assert ROTATION[0]["value"] == "shpat_ROTATED_9f2c"                  # a copy: the body sent is untouched


def test_secrets_in_lists_masked_in_every_view():
    """A PATCH with a JSON Patch body answered by a list of connections: no view shows a listed secret."""
    from aep_magics.http import PreparedCall
    from aep_magics.magics.ops import to_request

    path = "/data/foundation/flowservice/connections/c1"
    call = PreparedCall("PATCH", "https://platform.adobe.io" + path, path,
                        {"Content-Type": "application/json", "If-Match": '"e1"'}, json=ROTATION)
    request = to_request(call)
    assert request.body == ROTATION                                    # the record keeps what was sent
    items = [{"id": "c1", "name": "Shopify", "auth": {"params": {"accessToken": "shpat_ITEM_3b7a"}},
              "history": [[{"password": "pw-DEEP-4444"}]], "apiKeys": ["key-LIST-1111", "key-LIST-2222"]}]
    result = Result("PATCH connection", id="c1", body={"items": items}, status=200, request=request,
                    calls=[request])
    listing = ListResult("connections", items, columns=["id", "name", "auth", "history"], status=200,
                         request=request, calls=[request])
    outputs = []
    for widgets in (False, True):
        display.options.widgets = widgets
        outputs += [obj._repr_mimebundle_() for obj in (result, listing, DryRun([request]), CurlView([request]))]
    states = widget_states(result.widget()) + widget_states(DryRun([request]).widget())
    text = all_text(outputs) + all_text(states) + repr(result) + repr(listing) + request.curl
    for secret in LISTED_SECRETS:
        assert secret not in text, secret
    assert "********" in text and "rotated on Monday" in text and "/auth/params/accessToken" in text


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
    assert "<svg" not in html and html.count('<table class="aep-chart"') == 1
    chart = html[html.index('<table class="aep-chart"'):]
    chart = chart[:chart.index("</table>")]
    # stacked bars on one scale (the peak run is 300 px): run-1 99 out + 1 failed, run-2 10 failed
    bars = re.findall(r"width:(\d+)px;background-color:(#\w+)", chart)
    assert bars == [("297", "#2e8540"), ("3", "#c0392b"), ("30", "#c0392b")]
    assert "99 out, 1 failed" in chart and "0 out, 10 failed" in chart
    assert "99 out, 1 failed" in text and "0 out, 10 failed" in text  # the same numbers in text/plain
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
    # text and HTML each format one page and the chart's newest bars; the summary needs no row formatting
    assert len(formatted) <= 2 * (display.options.display_limit + tables.CHART_BARS)
    assert "records in 1,009,999, out 1,000,000, failed 9,999" in bundle["text/plain"]
    assert "rows 1–20 of 10,000" in bundle["text/plain"]
    assert bundle["text/html"].count("<tr title=\"run ") == tables.CHART_BARS
    assert "run-9999" in bundle["text/html"]    # the chart's newest bar
    assert f"the {tables.CHART_BARS} newest of 10,000 runs" in bundle["text/plain"]


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


# -- what a reader without a kernel sees: text/html that carries everything, text that reads well ---------------


def test_runs_chart_reads_well_at_10_and_at_100_runs():
    from helpers.rendered_text import text_problems, visible_text

    from aep_magics.display import tables

    display.options.widgets = False
    # one big first run beside small scheduled ones (notebook 04's shape): the small bars stay visible
    ten = [run(1, "failed", 0, 71)] + [run(i, "success", 40 + i, 0) for i in range(2, 11)]
    for runs, shown in ((ten, 10), (ten + [run(i, "success", 39, 0) for i in range(11, 101)], tables.CHART_BARS)):
        ten[0]["metrics"]["recordSummary"]["outputRecordCount"] = 4992
        result = RunsResult("f1", runs)
        html = result._repr_mimebundle_()["text/html"]
        text = visible_text(html)
        assert not text_problems(text), text_problems(text)
        assert "<svg" not in html
        chart_lines = [line for line in text.splitlines() if re.search(r"\d[\d,]* out, \d[\d,]* failed", line)]
        assert len(chart_lines) == shown, chart_lines
        newest = runs[-1]
        assert any(newest["id"][:8] in line for line in chart_lines)
        # every bar is at least 2 px wide; the peak run fills about 300 px
        widths = [int(w) for w in re.findall(r"width:(\d+)px;background-color", html)]
        assert min(widths) >= 2 and tables.BAR_PX - 5 <= max(widths) <= tables.BAR_PX
        # text/plain: the same runs, the same numbers
        plain = repr(result)
        for line in chart_lines:
            label = re.search(r"\d[\d,]* out, \d[\d,]* failed", line).group(0)
            assert label in plain, label
    assert f"the {tables.CHART_BARS} newest of 100 runs that moved records" in plain


def test_headers_read_well_as_text():
    from helpers.rendered_text import text_problems, visible_text

    display.options.widgets = False
    listed = ListResult("flows", [{"id": f"f{i}", "name": f"flow {i}"} for i in range(10)], status=200)
    card = AuthCard(org_id="ORG@AdobeOrg", sandbox="prod", base_url="http://127.0.0.1:8080", client_id="aep-local-dev",
                    expires_at=None, now=0, local=False)  # an AEP Local already running (aep-local demo)
    dry = DryRun([Request("GET", "https://p/x", "/x", curl="curl -X GET 'https://p/x'")])
    lineage = Lineage("0a1b2c3d-flow", [LineageNode("flow", "0a1b2c3d-flow", "F", status="enabled")])
    texts = {name: visible_text(obj._repr_mimebundle_()["text/html"])
             for name, obj in {"list": listed, "card": card, "dry": dry, "lineage": lineage,
                               "result": source_result()}.items()}
    for name, text in texts.items():
        assert not text_problems(text), (name, text)
    assert "flows: 10 items 200 OK" in texts["list"]
    assert "AEP session on AEP Local" in texts["card"] and "Adobe Experience Platform" not in texts["card"]
    assert "AEP Local" in repr(card) and "Adobe Experience Platform" not in repr(card)
    assert "DRY RUN nothing sent" in texts["dry"]
    assert "Lineage of flow 0a1b2c3d-flow" in texts["lineage"]
    assert "c278ab14-acdf-440b-b67f-1265d15a7655 copy" in texts["result"]
    real = AuthCard(org_id="ORG@AdobeOrg", sandbox="prod", base_url="https://platform.adobe.io", client_id="cid",
                    expires_at=None, now=0)
    assert "Adobe Experience Platform" in repr(real)


def test_progress_leaves_a_readable_line(monkeypatch):
    pytest.importorskip("ipywidgets")
    from aep_magics.display.widgets import Progress

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    ticks = iter([100.0, 100.0, 103.25])
    progress = Progress("runs", use_widgets=True, clock=lambda: next(ticks))
    progress.show()
    progress.update(1, 2)
    progress.update(2, 2)
    progress.finish(True)
    assert len(shown) == 2
    bar, line = shown
    assert "application/vnd.jupyter.widget-view+json" in bar  # the live view
    assert bar["text/plain"] == "runs: waiting for every run to finish" and "waiting" in bar["text/html"]
    assert line["text/plain"] == "runs: 2 of 2 finished in 3.2 s" and "runs: 2 of 2 finished in 3.2 s" in line["text/html"]
    assert "IntProgress(" not in json.dumps([bar["text/plain"], bar["text/html"], line])
    assert progress.bar.bar_style == "success" and progress.label.value == "2 of 2 finished in 3.2 s"

    shown.clear()
    ticks = iter([0.0, 0.0, 60.0])
    quiet = Progress("runs", use_widgets=False, clock=lambda: next(ticks))
    quiet.show()
    quiet.update(1, 3)
    quiet.finish(False)
    assert shown == [{"text/plain": "runs: 1 of 3 finished; stopped waiting after 60.0 s",
                      "text/html": shown[0]["text/html"]}]

    shown.clear()
    silent = Progress("runs", use_widgets=True, quiet=True)  # -q: nothing at all
    silent.show()
    silent.update(1, 1)
    silent.finish(True)
    assert shown == [] and silent.bar is None


def curl_result(**kw) -> Result:
    body = {"name": "Test Shopify dataflow", "flowSpec": {"id": "x", "version": "1.0"}}
    curl = ("curl -X POST 'https://platform.adobe.io/data/foundation/flowservice/flows' \\\n"
            "  -H 'Authorization: Bearer {ACCESS_TOKEN}' \\\n  -H 'Content-Type: application/json' \\\n"
            "  -d '" + json.dumps(body, indent=4) + "'")
    lookup = Request("GET", "https://platform.adobe.io/data/foundation/flowservice/flows?property=name",
                     "/data/foundation/flowservice/flows", curl="curl -X GET 'https://platform.adobe.io/x' \\\n"
                     "  -H 'Authorization: Bearer {ACCESS_TOKEN}'", status=200)
    create = Request("POST", "https://platform.adobe.io/data/foundation/flowservice/flows",
                     "/data/foundation/flowservice/flows", body=body, curl=curl, status=201)
    return Result("Flow", id="f-1", name="Test Shopify dataflow", body={"id": "f-1"}, status=201, request=create,
                  calls=[lookup, create], **kw)


def test_curl_is_one_collapsed_block_inside_the_result():
    pytest.importorskip("ipywidgets")
    display.options.widgets = True
    plain = curl_result()
    assert "curl -X" not in repr(plain)
    result = curl_result()
    result.show_curl = True
    text = repr(result)
    lines = text.splitlines()
    assert lines[0] == 'Flow f-1 "Test Shopify dataflow" (201 Created)'
    assert lines[1:] == [
        "# 1/2 GET /data/foundation/flowservice/flows -> 200 OK",
        "curl -X GET 'https://platform.adobe.io/x' -H 'Authorization: Bearer {ACCESS_TOKEN}'",
        "# 2/2 POST /data/foundation/flowservice/flows -> 201 Created",
        "curl -X POST 'https://platform.adobe.io/data/foundation/flowservice/flows' -H 'Authorization: Bearer "
        "{ACCESS_TOKEN}' -H 'Content-Type: application/json' -d '{\"name\":\"Test Shopify dataflow\","
        "\"flowSpec\":{\"id\":\"x\",\"version\":\"1.0\"}}'",
    ]
    html = result._repr_mimebundle_()["text/html"]
    assert html.count("<details") - html.count("<details open") >= 1
    assert html.count('<details class="aep-curl">') == 1 and "<details open class" not in html
    assert "curl: 2 calls (GET /data/foundation/flowservice/flows, POST /data/foundation/flowservice/flows)" in html
    view = result.widget()
    assert tuple(view.children[1].titles) == ("Response", "Request")  # curl is in the header, not a tab as well
    assert view.children[0].value.count('<details class="aep-curl">') == 1
    assert tuple(plain.widget().children[1].titles) == ("Response", "Request", "curl")

    frame_calls = CurlView(result.calls)  # for a result that cannot carry them (a DataFrame)
    assert repr(frame_calls) == "\n".join(lines[1:])
    assert frame_calls._html().count('<details class="aep-curl">') == 1


def test_long_curl_is_shortened_in_text_only():
    from aep_magics.display.results import CURL_LINE, one_line_curl

    body = json.dumps({"mappings": [{"source": f"s{i}", "destination": f"d{i}"} for i in range(200)]})
    command = one_line_curl(f"curl -X POST 'https://p/x' \\\n  -d '{body}'")
    assert len(command) <= CURL_LINE and command.endswith("(shortened; full command in .curl)")
    assert one_line_curl("curl -X POST 'https://p/x' \\\n  -d '{\"a\": \"it'\\''s\"}'") == \
        "curl -X POST 'https://p/x' -d '{\"a\":\"it'\\''s\"}'"


def test_mapping_checks_are_visible_without_a_click():
    pytest.importorskip("ipywidgets")
    display.options.widgets = True
    validation = ListResult("validation", [{"source": "Email", "destination": "personalEmail.address",
                                            "status": "SUCCESS"}], title="Mapping validation")
    preview = ListResult("rows", [{"personalEmail.address": "a@example.com"}], title="Mapping preview")
    result = source_result(sections=[("Validation", validation), ("Preview", preview)])
    html = result._repr_mimebundle_()["text/html"]
    for title in ("Mapping validation", "Mapping preview"):
        before = html[:html.index(title)]
        assert before.count("<details") == before.count("</details>"), title  # not inside a closed block
    header, tabs = result._widget_parts()
    assert "Mapping validation" in header and "a@example.com" in header
    assert [t for t, _ in tabs] == ["Response", "Request", "curl"]


def test_the_schema_of_a_secret_field_is_shown_but_a_value_is_not():
    from aep_magics.display.results import MASK, mask_secrets

    spec = {"properties": {"accessToken": {"type": "string", "format": "password", "description": "The token"}}}
    assert mask_secrets(spec) == spec
    for value in ({"type": "string", "value": "CANARY"}, {"type": "string", "default": "CANARY"},
                  {"nested": "CANARY"}, ["CANARY"], 12345):
        assert mask_secrets({"accessToken": value}) == {"accessToken": MASK}
