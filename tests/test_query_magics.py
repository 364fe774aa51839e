"""The kit's side of Query Service: the REST client, the SQL client (aep_magics.sql), ``%%aep_query``, ``%aep_tables``,
``%aep_query --connection`` and jupysql on ``aep_magics.sql.engine()``.

- Adobe's documented Query Service answers (``tests/fixtures/adobe/responses/query-*.json``) are served over real HTTP
  (pytest-httpserver) and read by the client: both documented shapes of ``connection_parameters``, a query's create
  and get, the list followed through ``_links.next``;
- everything else runs against a real AEP Local (its HTTP server and its PostgreSQL endpoint, over loopback): the
  tutorial's Shopify flow ingests orders, then SQL reads them through psycopg with ``sslmode=require``;
- ``{{var}}`` values are bound parameters: a value with a quote and ``; DROP TABLE`` comes back as the value, and the
  table is still there;
- errors are one line (SQLSTATE, message, line and column of a syntax error; the existing tables for 42P01);
- Ctrl-C cancels a running statement on the server, and the connection works afterwards;
- a token refreshed before expiry opens a new connection with it;
- no access token in any output: a canary check over every output of the sequence.
"""

from __future__ import annotations

import json
import re
import threading
import _thread
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.shell import cell, failing, magic_shell, one_line
from IPython.utils.capture import capture_output

from aep_magics.api import AEPClient
from aep_magics.auth import Secret
from aep_magics.config import Profile
from aep_magics.errors import AEPError, InputError, Interrupted
from aep_magics.http import AEPSession
from aep_magics.magics import state
from aep_magics.magics.query import statement
from aep_magics.sql import ConnectionInfo, QueryError, Statement

RESPONSES = Path(__file__).parent / "fixtures" / "adobe" / "responses"
QS = "/data/foundation/query"
TOKEN = "query-shapes-static-token-0123456789"
ORG = "QUERYSHAPES0000000000000@AdobeOrg"
AEP_ENV = ("AEP_CONFIG", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ACCESS_TOKEN", "AEP_ORG_ID", "AEP_SANDBOX",
           "AEP_BASE_URL", "AEP_IMS_URL", "AEP_SCOPES", "AEP_LOCAL_URL", "AEP_LOCAL_DATA")
ACCESS_TOKEN = re.compile(r"aeplocal\.[0-9a-f]{16,}")


def example(name: str) -> dict[str, Any]:
    return json.loads((RESPONSES / f"{name}.json").read_text(encoding="utf-8"))


def serve(httpserver: Any, method: str, path: str, name_or_body: Any, *, query: Any = None, status: int = 200) -> None:
    if isinstance(name_or_body, str):
        doc = example(name_or_body)
        status, name_or_body = doc["status"], doc["body"]
    httpserver.expect_request(path, method=method, query_string=query).respond_with_json(name_or_body, status=status)


@pytest.fixture
def static_client(httpserver):
    profile = Profile(name="query-shapes", base_url=httpserver.url_for("/").rstrip("/"),
                      ims_url=httpserver.url_for("/").rstrip("/"), org_id=ORG, client_id="query-shapes",
                      sandbox="prod", access_token=Secret(TOKEN))
    with AEPSession(profile, sleep=lambda s: None) as session:
        yield AEPClient(session)


# -- the REST client reads Adobe's documented answers ------------------------------------------------------------


@pytest.mark.parametrize("answer, websocket", [
    ("query-connection-parameters", "{WEBSOCKET_HOSTNAME}"),
    ("query-connection-parameters-spec", "query-service-interactive-ws-prod-va7.cloud.adobe.io"),
])
def test_connection_parameters_in_both_documented_shapes(httpserver, static_client, answer, websocket):
    serve(httpserver, "GET", f"{QS}/connection_parameters", answer)
    params = static_client.query.connection_parameters()
    assert params["port"] == 80 and params["websocketHost"] == websocket
    info = ConnectionInfo.from_parameters(params)
    assert info.port == 80 and info.dbname == "prod:all" and info.sslmode == "require"
    assert ConnectionInfo.from_parameters(params, "luma_midvalues").dbname == "prod:luma_midvalues"


def test_connection_parameters_of_no_documented_shape(httpserver, static_client):
    serve(httpserver, "GET", f"{QS}/connection_parameters", {"dbName": "prod:all"})
    with pytest.raises(AEPError) as info:
        static_client.query.connection_parameters()
    one_line(info.value, "connection_parameters", "host, port, username", "dbName")


def test_query_create_get_and_cancel_read_the_documented_answers(httpserver, static_client):
    serve(httpserver, "POST", f"{QS}/queries", "query-queries-create")
    serve(httpserver, "GET", f"{QS}/queries/4d64cd49-cf8f-463a-a182-54bccb9954fc", "query-queries-get")
    made = static_client.query.create_query("SELECT * FROM accounts;", name="Sample Query",
                                            description="Sample Description")
    assert made["state"] == "SUBMITTED" and made["_links"]["cancel"]["body"] == '{ "op": "cancel"}'
    got = static_client.query.get_query(made["id"])
    assert got["request"]["sql"] == "SELECT * FROM accounts;"
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent == {"dbName": "prod:all", "sql": "SELECT * FROM accounts;", "name": "Sample Query",
                    "description": "Sample Description"}
    with pytest.raises(InputError):
        static_client.query.create_query()


def test_query_list_follows_the_documented_next_link_and_stops_without_one(httpserver, static_client):
    serve(httpserver, "GET", f"{QS}/queries", "query-queries-list", query={"orderby": "-created", "limit": "50"})
    serve(httpserver, "GET", f"{QS}/queries", {"queries": [], "_page": {"count": 0}, "_links": {}, "version": 1},
          query={"orderby": "-created", "start": "2019-08-01T00:14:21.748Z"})
    found = static_client.query.list_queries()
    assert [q["id"] for q in found] == ["9957bd7f-2244-4fd5-91bc-077d7df1d8e5"]
    assert found[0]["_links"]["referenced_datasets"][0]["id"] == "5b2bdd32230d4401de87397c"
    assert len(httpserver.log) == 2  # the documented page, then the (empty) page its next link names


def test_query_list_of_no_documented_shape(httpserver, static_client):
    serve(httpserver, "GET", f"{QS}/queries", {"items": []})
    with pytest.raises(AEPError) as info:
        static_client.query.list_queries()
    one_line(info.value, "queries", "items")


# -- statements: values are bound, never pasted ------------------------------------------------------------------


def test_references_become_bound_parameters_and_positions_map_back():
    ns = {"who": "O'Brien'; DROP TABLE x; --", "n": 3, "domains": ["a.com", "b.com"]}
    sql = "SELECT *\nFROM t -- {{n}} stays a comment\nWHERE e LIKE '%@' || {{who}} AND k = ANY({{domains}})\nLIMIT {{n}}"
    stmt = statement(sql, ns)
    assert stmt.params == ["O'Brien'; DROP TABLE x; --", ["a.com", "b.com"], 3]
    assert "O'Brien" not in stmt.text and stmt.text.count("%s") == 3 and "'%%@'" in stmt.text
    assert "-- {{n}} stays a comment" in stmt.text and stmt.source == sql
    # what the server receives has $1, $2 … where the cell has {{…}}: positions are mapped back to the cell
    sent = stmt.source.replace("{{who}}", "$1").replace("{{domains}}", "$2").replace("LIMIT {{n}}", "LIMIT $3")
    assert stmt.line_column(sent.index("LIMIT") + 1) == (4, 1)
    assert stmt.source[stmt.source_position(sent.index("$2") + 1) - 1:].startswith("{{domains}}")
    no_refs = statement("SELECT '100%'", {})
    assert no_refs.params is None and no_refs.text == "SELECT '100%'"


@pytest.mark.parametrize("sql, words", [
    ("SELECT * FROM t WHERE e = '{{who}}'", ["{{who}}", "quoted string", "outside the quotes"]),
    ("SELECT {{nobody}}", ["nobody", "no variable"]),
    ("SELECT {{cfg}}", ["{{cfg}}", "dict"]),
    ("SELECT {{_private}}", ["private"]),
])
def test_references_that_cannot_be_bound_are_refused_in_one_line(sql, words):
    with pytest.raises(InputError) as info:
        statement(sql, {"who": "x", "cfg": {"a": 1}, "_private": 1})
    one_line(info.value, *words)


def test_connection_info_prints_placeholders_never_a_token():
    info = ConnectionInfo(host="acme.platform-query.adobe.io", port=80, dbname="prod:all", user="ACME@AdobeOrg")
    assert info.psql_command() == ("PGGSSENCMODE=disable psql 'sslmode=require host=acme.platform-query.adobe.io "
                                   "port=80 dbname=prod:all user=ACME@AdobeOrg password={ACCESS_TOKEN}'")
    assert info.sqlalchemy_url() == ("postgresql+psycopg://ACME%40AdobeOrg:{ACCESS_TOKEN}@acme.platform-query.adobe.io"
                                     ":80/prod:all?sslmode=require")
    assert isinstance(Statement.plain("SELECT 1"), Statement)


# -- against AEP Local: the tutorial's flow, then SQL --------------------------------------------------------------

SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
TABLE = "shopify_target_dataset"


def ingest(client: AEPClient) -> str:
    """Notebook 3's flow (Shopify orders -> "Shopify target dataset"), with the country code mapped too; its
    dataset id once the run has finished."""
    c = client
    base = c.flow.create_connection({"name": "Shopify base connection", "auth": {"specName": "Basic Authentication",
        "params": {"host": "https://aep-local-demo.myshopify.com", "accessToken": "shpat_aep_local_demo"}},
        "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})["id"]
    columns = ("Email", "Phone", "Shipping_Address_Phone", "Shipping_Address_Country_Code")
    src = c.flow.create_source_connection({"name": "Shopify source connection", "baseConnectionId": base,
        "data": {"format": "tabular"}, "params": {"tableName": "Shopify.Orders",
                                                  "columns": [{"name": n, "type": "string"} for n in columns]},
        "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})["id"]
    sid = c.schemas.create_schema({"type": "object", "title": "Shopify target XDM schema", "description": "",
        "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"},
                  {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
                  {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"}],
        "meta:containerId": "tenant", "meta:resourceType": "schemas", "meta:xdmType": "object",
        "meta:class": "https://ns.adobe.com/xdm/context/profile"})["$id"]
    ds = c.catalog.create_dataset({"name": "Shopify target dataset", "schemaRef": {"id": sid,
        "contentType": "application/vnd.adobe.xed-full-notext+json; version=1"}})
    tgt = c.flow.create_target_connection({"name": "Shopify target connection", "data": {"format": "parquet_xdm",
        "schema": {"id": sid, "version": "application/vnd.adobe.xed-full-notext+json; version=1"}},
        "params": {"dataSetId": ds}, "connectionSpec": {"id": LAKE, "version": "1.0"}})["id"]
    mapping = c.dataprep.create_mapping_set({"version": 0, "xdmSchema": sid, "xdmVersion": "1.0", "id": None,
        "mappings": [{"destinationXdmPath": path, "sourceAttribute": source, "identity": False, "version": 0}
                     for path, source in (("personalEmail.address", "Email"),
                                          ("mobilePhone.number", "Shipping_Address_Phone"),
                                          ("homeAddress.countryCode", "Shipping_Address_Country_Code"))]})
    c.flow.create_flow({"name": "Test Shopify dataflow", "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [src], "targetConnectionIds": [tgt],
        "transformations": [{"name": "Mapping", "params": {"mappingId": mapping["id"], "mappingVersion": 0}}],
        "scheduleParams": {"startTime": "1604961070", "frequency": "once"}})
    return ds


@pytest.fixture(scope="module")
def local_shell():
    """An IPython shell signed in to an in-process AEP Local (seed 46) whose dataset holds the tutorial's orders."""
    saved = {name: __import__("os").environ.pop(name) for name in AEP_ENV if name in __import__("os").environ}
    shell = magic_shell()
    cell(shell, "%aep_auth --local --seed 46 -q")
    shell.run_line_magic("config", "AEPMagics.widgets = False")
    dataset_id = ingest(state.current.client)
    assert state.current.local.platform.scheduler.wait_idle(120)
    shell.user_ns["dataset_id"] = dataset_id
    yield shell
    shell.extension_manager.unload_extension("aep_magics")
    __import__("os").environ.update(saved)


def shown(shell: Any, source: str) -> tuple[Any, str]:
    """Run a cell; its result and everything it showed (every mimetype of every output), as text."""
    with capture_output() as cap:
        result = cell(shell, source)
    parts = [cap.stdout, cap.stderr] + [json.dumps(o.data, default=str, ensure_ascii=False) for o in cap.outputs]
    if result is not None:
        parts.append(json.dumps(shell.display_formatter.format(result)[0], default=str, ensure_ascii=False))
    return result, "\n".join(parts)


def records_in_catalog(client: AEPClient, dataset_id: str) -> int:
    batches = client.catalog.list_batches(dataset_id)
    return sum(int(b.get("recordCount") or 0) for b in batches.values() if b.get("status") == "success")


def test_query_shows_a_paged_table_and_stores_a_dataframe(local_shell):
    result, text = shown(local_shell, f"%%aep_query -o orders\nSELECT personalEmail.address AS email, "
                                      f"homeAddress.countryCode AS country FROM {TABLE}")
    total = records_in_catalog(state.current.client, local_shell.user_ns["dataset_id"])
    frame = local_shell.user_ns["orders"]
    assert result is None and type(frame).__name__ == "DataFrame" and list(frame.columns) == ["email", "country"]
    assert len(frame) == total > 1000
    assert f"query: {total:,} rows in " in text and f"rows 1–20 of {total:,} · orders holds every row" in text
    assert "<table" in text
    assert frame["email"].dropna().str.contains("@").mean() > 0.9
    result, text = shown(local_shell, f"%%aep_query --limit 5\nSELECT homeAddress.countryCode AS country, count(*) "
                                      f"AS orders FROM {TABLE} GROUP BY 1 ORDER BY orders DESC")
    assert len(result) == 5 and result.rowcount > 5 and f"first 5 of {result.rowcount} rows" in text
    assert result.to_dataframe()["orders"].is_monotonic_decreasing


def test_values_are_bound_parameters_never_pasted_text(local_shell):
    evil = f"x'; DROP TABLE {TABLE}; --"
    local_shell.user_ns.update(evil=evil, country="FR")
    result, _ = shown(local_shell, f"%%aep_query\nSELECT {{{{evil}}}} AS v, count(*) AS n FROM {TABLE} "
                                   "WHERE personalEmail.address = {{evil}}")
    assert result.items == [(evil, 0)]
    result, _ = shown(local_shell, f"%%aep_query\nSELECT count(*) AS n FROM {TABLE} WHERE homeAddress.countryCode = "
                                   "{{country}} AND personalEmail.address LIKE '%@%'")
    assert result.items[0][0] > 0  # '%' beside a bound value is the SQL wildcard, not a placeholder
    tables, _ = shown(local_shell, "%aep_tables")
    assert TABLE in [row["table"] for row in tables.items]


def test_tables_lists_dataset_table_and_records(local_shell):
    tables, text = shown(local_shell, "%aep_tables")
    dataset_id = local_shell.user_ns["dataset_id"]
    row = next(r for r in tables.items if r["dataSetId"] == dataset_id)
    assert row == {"dataset": "Shopify target dataset", "table": TABLE,
                   "records": records_in_catalog(state.current.client, dataset_id), "dataSetId": dataset_id}
    assert "tables in sandbox prod" in text and "Shopify target dataset" in text


@pytest.mark.parametrize("sql, words", [
    ("SELECT personalEmail.address\nFORM shopify_target_dataset", ["QueryError: 42601", "shopify_target_dataset", "(line 2, column 6)"]),
    ("SELECT * FROM no_such_table", ["QueryError: 42P01", "no_such_table", TABLE]),
    ("SELECT 1 LIMIT 200000", ["QueryError: 53400", "LIMIT"]),
])
def test_sql_errors_are_one_line_with_sqlstate_position_and_tables(local_shell, sql, words):
    error = failing(local_shell, f"%%aep_query\n{sql}")
    assert isinstance(error, QueryError)
    one_line(error, *words)
    assert shown(local_shell, "%%aep_query\nSELECT 1 AS one")[0].items == [(1,)]  # the connection goes on


def test_syntax_error_position_counts_in_the_cell_as_written(local_shell):
    local_shell.user_ns["long_value"] = "a" * 50
    error = failing(local_shell, "%%aep_query\nSELECT {{long_value}} AS v,\n  1 +* 2")
    one_line(error, "42601", "(line 2, column")
    assert error.position is not None and error.position > len("SELECT {{long_value}} AS v,\n")


def test_a_long_query_shows_it_runs_and_ctrl_c_cancels_it_on_the_server(local_shell):
    timer = threading.Timer(2.6, _thread.interrupt_main)  # the running line shows after 2 s
    started = time.monotonic()
    timer.start()
    try:
        with capture_output() as cap:
            error = failing(local_shell, "%%aep_query\nSELECT sum(a.range * b.range) AS s FROM range(200000) a, "
                                         "range(200000) b")
    finally:
        timer.cancel()
    assert isinstance(error, Interrupted) and one_line(error) == "Interrupted: query cancelled"
    assert time.monotonic() - started < 30
    assert [o.data["text/plain"] for o in cap.outputs] == ["query running … Ctrl-C cancels it"]
    assert shown(local_shell, "%%aep_query\nSELECT 2 AS two")[0].items == [(2,)]


def test_a_token_refreshed_before_expiry_opens_a_new_connection(local_shell):
    from aep_magics.auth import TokenProvider
    from aep_magics.sql import SqlConnection

    now = [time.time()]
    profile = state.current.profile
    session = AEPSession(profile, token_provider=TokenProvider(profile, clock=lambda: now[0]))
    with SqlConnection(session) as conn:
        assert conn.run("SELECT 1 AS one").rows == [(1,)] and conn.connects == 1
        first = session.tokens.token()
        assert conn.run("SELECT 1 AS one").rows == [(1,)] and conn.connects == 1  # same token, same connection
        now[0] = session.tokens.expires_at - 60  # inside the refresh margin: the provider fetches a new token
        assert conn.run(f"SELECT count(*) AS n FROM {TABLE}").rows[0][0] > 0
        assert conn.connects == 2 and session.tokens.token() != first
    session.close()


def test_connection_shows_psql_and_sqlalchemy_with_a_placeholder_never_the_token(local_shell):
    result, text = shown(local_shell, "%aep_query --connection")
    token = state.current.session.tokens.token()
    port = state.current.local.pg_port
    assert f"port={port} dbname=prod:all user=AEPLOCAL000000000000000@AdobeOrg password={{ACCESS_TOKEN}}" in text
    assert f"postgresql+psycopg://AEPLOCAL000000000000000%40AdobeOrg:{{ACCESS_TOKEN}}@127.0.0.1:{port}/prod:all" \
           "?sslmode=require" in text
    assert token not in text and not ACCESS_TOKEN.search(text)


def test_ctas_creates_a_dataset_that_catalog_and_aep_tables_show(local_shell):
    result, text = shown(local_shell, f"%%aep_query\nCREATE TABLE email_domains AS SELECT "
                                      f"split_part(personalEmail.address, '@', 2) AS domain, count(*) AS orders "
                                      f"FROM {TABLE} GROUP BY 1")
    assert result.command.startswith("SELECT ") and "query: SELECT " in text
    tables, _ = shown(local_shell, "%aep_tables")
    row = next(r for r in tables.items if r["table"] == "email_domains")
    dataset = state.current.client.catalog.get_dataset(row["dataSetId"])
    assert dataset["tags"]["adobe/pqs/table"] == ["email_domains"]
    domains, _ = shown(local_shell, "%%aep_query -o domains\nSELECT sum(orders) AS total FROM email_domains")
    assert int(local_shell.user_ns["domains"]["total"][0]) == records_in_catalog(
        state.current.client, local_shell.user_ns["dataset_id"])
    cell(local_shell, "%%aep_query -q\nDROP TABLE email_domains")


def test_jupysql_runs_on_the_engine_the_kit_hands_out(local_shell, monkeypatch):
    monkeypatch.setenv("PLOOMBER_STATS_ENABLED", "false")
    monkeypatch.setenv("PLOOMBER_VERSION_CHECK_DISABLED", "true")
    cell(local_shell, "import aep_magics.sql\nengine = aep_magics.sql.engine()")
    local_shell.run_line_magic("load_ext", "sql")
    try:
        with capture_output() as cap:
            cell(local_shell, "%sql engine")
            result = cell(local_shell, f"%sql SELECT count(*) AS n FROM {TABLE}")
        assert list(result.DataFrame()["n"]) == [records_in_catalog(state.current.client,
                                                                    local_shell.user_ns["dataset_id"])]
        text = cap.stdout + cap.stderr + json.dumps([o.data for o in cap.outputs], default=str) + repr(result)
        assert not ACCESS_TOKEN.search(text) and not ACCESS_TOKEN.search(repr(local_shell.user_ns["engine"]))
    finally:
        local_shell.run_line_magic("unload_ext", "sql")


def test_no_access_token_in_any_query_output(local_shell):
    """Canary: every output of a sequence of the query magics, including errors, holds no access token."""
    token = state.current.session.tokens.token()
    seen = []
    for source in ("%aep_tables", "%aep_query --connection", f"%%aep_query\nSELECT * FROM {TABLE} LIMIT 3",
                   "%%aep_query\nSHOW TABLES", "%%aep_query\nSELECT current_user AS u"):
        seen.append(shown(local_shell, source)[1])
    for source in ("%%aep_query\nSELEC 1", "%%aep_query\nSELECT * FROM nothing_here"):
        error = failing(local_shell, source)
        seen += [str(error), repr(error), *error._render_traceback_()]
    text = "\n".join(seen)
    assert token not in text and not ACCESS_TOKEN.search(text)


def test_no_postgresql_endpoint_or_a_closed_port_is_one_line(httpserver, static_client):
    import socket

    from aep_magics.sql import SqlConnection

    serve(httpserver, "GET", f"{QS}/connection_parameters",
          {"host": "127.0.0.1", "port": 0, "username": ORG, "dbName": "prod:all", "token": "x"})
    with pytest.raises(QueryError) as info:
        SqlConnection(static_client.session).run("SELECT 1")
    one_line(info.value, "serves no PostgreSQL endpoint", "port 0")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    httpserver.clear()
    serve(httpserver, "GET", f"{QS}/connection_parameters",
          {"host": "127.0.0.1", "port": closed, "username": ORG, "dbName": "prod:all", "token": "x"})
    with pytest.raises(QueryError) as info:
        SqlConnection(static_client.session, connect_timeout=2).run("SELECT 1")
    line = one_line(info.value, f"cannot connect to Query Service at 127.0.0.1:{closed}", "refused",
                    "%aep_query --connection")
    assert TOKEN not in line


def test_the_sql_client_imports_light():
    import subprocess
    import sys

    code = ("import json, sys\nimport aep_magics.sql, aep_magics.api.queryservice, aep_magics.magics.query, "
            "aep_magics.display.query\n"
            "print(json.dumps([m for m in ('psycopg', 'pandas', 'sqlalchemy', 'pyarrow', 'numpy') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert json.loads(out.stdout) == []


def test_bar_chart_carries_its_numbers_in_text_and_html():
    from aep_magics.display.query import BarChart

    chart = BarChart(["US", "FR", "<b>"], [200, 50, 0], title="Orders per country")
    text, html = repr(chart), chart._html()
    assert text.splitlines()[1].split() == ["US", "█" * 30, "200"] and text.splitlines()[3].split() == ["<b>", "0"]
    assert "&lt;b&gt;" in html and "width:300px" in html and "width:75px" in html and "<svg" not in html
