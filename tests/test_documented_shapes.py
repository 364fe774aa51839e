"""Adobe's documented responses, served over real HTTP, through the client and every magic that reads them.

``tests/fixtures/adobe/responses/`` holds one file per documented example (``source``: the public page or API
reference it comes from; ``operation``; ``status``; ``body``: the example as published, placeholders included; a
``note`` says when the page itself had to be repaired to parse, or when an OpenAPI document gives only a schema and the
body is made of that schema's own ``example`` values). Where Adobe documents a call in more than one shape (the
tutorials and the OpenAPI specs disagree, or an older page differs from a newer one) there is a file per shape.

Each test serves the examples with pytest-httpserver, a real HTTP server on loopback, points a Profile with a static
access token at it (no IMS call), and drives the API client and the magics in an IPython shell. Every variant either
works, with the values the example holds coming out, or fails with one line naming the unexpected shape.
"""

from __future__ import annotations

import copy
import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers.shell import cell, failing, magic_shell, one_line

from aep_magics.api import AEPClient
from aep_magics.auth import Secret
from aep_magics.config import Profile
from aep_magics.display import DryRun, ListResult, Result, RunsResult
from aep_magics.errors import AEPError, InputError, NotFoundError
from aep_magics.http import AEPSession
from aep_magics.magics import ops, state
from aep_magics.runs import run_batch_ids

RESPONSES = Path(__file__).parent / "fixtures" / "adobe" / "responses"
FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"
DP = "/data/foundation/conversion"
EXP = "/data/foundation/export"
SBX = "/data/foundation/sandbox-management"
TOKEN = "documented-shapes-static-token"
ORG = "DOCUMENTEDSHAPES00000000@AdobeOrg"
AEP_ENV = ("AEP_CONFIG", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ACCESS_TOKEN", "AEP_ORG_ID", "AEP_SANDBOX",
           "AEP_BASE_URL", "AEP_IMS_URL", "AEP_SCOPES")


def example(name: str) -> dict[str, Any]:
    """The fixture ``name`` (its wrapper: source, operation, status, body)."""
    return json.loads((RESPONSES / f"{name}.json").read_text(encoding="utf-8"))


def body(name: str) -> Any:
    return copy.deepcopy(example(name)["body"])


def filled(name: str, values: dict[str, str]) -> Any:
    """The example's body with its documented placeholders (``{FILE_NAME}`` …) filled in."""
    text = json.dumps(example(name)["body"])
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return json.loads(text)


# -- the corpus itself ---------------------------------------------------------------------------------------------


def test_every_example_names_its_public_source_and_operation():
    files = sorted(RESPONSES.glob("*.json"))
    assert len(files) >= 35
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert set(doc) <= {"source", "operation", "status", "headers", "note", "body"}, path.name
        assert re.match(r"https://(experienceleague\.adobe\.com/en/docs/experience-platform/|"
                        r"developer\.adobe\.com/experience-platform-apis/references/)", doc["source"]), path.name
        method, _, target = doc["operation"].partition(" ")
        assert method in ("GET", "POST") and target.startswith("/data/foundation/"), path.name
        assert 200 <= doc["status"] < 300 and "body" in doc, path.name
        if "-spec" in path.stem:  # a shape of an OpenAPI document: it says where in the document
            assert doc["source"].startswith("https://developer.adobe.com/") and doc.get("note"), path.name


# -- the platform, the client, the shell ---------------------------------------------------------------------------


class Platform:
    """pytest-httpserver answering documented examples; ``calls()`` are the requests that reached it."""

    def __init__(self, server: Any):
        self.server = server
        self.url = server.url_for("/").rstrip("/")

    def serve(self, method: str, path: str | re.Pattern[str], answer: Any, *, status: int = 200,
              query: dict[str, str] | None = None, raw: bytes | None = None, headers: dict[str, str] | None = None):
        """Answer ``method path`` with ``answer`` (a fixture name, or a JSON value), or ``raw`` bytes."""
        handler = self.server.expect_request(path, method=method, query_string=query)
        if raw is not None:
            handler.respond_with_data(raw, status=status, content_type="application/octet-stream")
            return
        if isinstance(answer, str) and (RESPONSES / f"{answer}.json").exists():
            doc = example(answer)
            status, answer, headers = doc["status"], doc["body"], {**doc.get("headers", {}), **(headers or {})}
        handler.respond_with_json(answer, status=status, headers=headers)

    def not_found(self):
        """Everything not served answers Flow Service's 404 (registered last: the served answers win)."""
        self.server.expect_request(re.compile(".*")).respond_with_json(
            {"type": "https://ns.adobe.com/aep/errors/FLOW-1010-404", "title": "Resource not found", "status": 404},
            status=404)

    def calls(self, method: str | None = None, path: str | None = None) -> list[tuple[str, str, dict[str, str]]]:
        """``(method, path, query)`` of each request, in order."""
        out = []
        for request, _response in self.server.log:
            query = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
            if (method is None or request.method == method) and (path is None or request.path == path):
                out.append((request.method, request.path, query))
        return out

    def raw_queries(self, path: str) -> list[str]:
        return [urlsplit(request.url).query for request, _ in self.server.log if request.path == path]


@pytest.fixture
def platform(httpserver) -> Platform:
    return Platform(httpserver)


def profile(platform: Platform) -> Profile:
    return Profile(name="documented", base_url=platform.url, ims_url=platform.url, org_id=ORG,
                   client_id="documented-client", sandbox="prod", access_token=Secret(TOKEN))


@pytest.fixture
def client(platform):
    with AEPSession(profile(platform), sleep=lambda s: None) as session:
        yield AEPClient(session)


@pytest.fixture(scope="module")
def shell():
    sh = magic_shell()
    yield sh
    sh.extension_manager.unload_extension("aep_magics")


@pytest.fixture
def aep(shell, platform, monkeypatch):
    """The shell signed in to the served examples with a static token (``%aep_auth`` reads AEP_* variables)."""
    for name in AEP_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AEP_BASE_URL": platform.url, "AEP_IMS_URL": platform.url, "AEP_ACCESS_TOKEN": TOKEN,
                        "AEP_ORG_ID": ORG, "AEP_CLIENT_ID": "documented-client", "AEP_SANDBOX": "prod"}.items():
        monkeypatch.setenv(name, value)
    cell(shell, "%aep_auth -q")
    assert state.current.profile.base_url == platform.url and state.current.local is None
    shell.run_line_magic("config", "AEPMagics.widgets = False")
    yield shell
    state.current.close()


def rendered(shell, obj: Any) -> str:
    data, _ = shell.display_formatter.format(obj)
    return json.dumps(data, default=str)


# -- Flow Service: connection specs, connections ---------------------------------------------------------------------


def test_connection_specs_list_lookup_and_names_checked(platform, client, aep):
    platform.serve("GET", f"{FS}/connectionSpecs", "flowservice-connectionspecs-list")
    platform.serve("GET", f"{FS}/connectionSpecs/cc6a4487-9e91-433e-a3a3-9cf6626c1806",
                   "flowservice-connectionspecs-list")
    specs = client.flow.list_connection_specs()
    assert [(s["id"], s["name"]) for s in specs] == [("cc6a4487-9e91-433e-a3a3-9cf6626c1806", "hubspot")]
    found = client.flow.connection_spec_by_name("hubspot")
    assert found["authSpec"][0]["spec"]["required"] == ["clientId", "clientSecret", "accessToken", "refreshToken"]
    assert platform.calls("GET", f"{FS}/connectionSpecs")[-1][2]["property"] == 'name=="hubspot"'
    assert client.flow.get_connection_spec("cc6a4487-9e91-433e-a3a3-9cf6626c1806")["name"] == "hubspot"
    # the filter answered with another spec: not taken for the one asked
    with pytest.raises(NotFoundError, match="no connectionSpecs named 'shopify'") as caught:
        client.flow.connection_spec_by_name("shopify")
    one_line(caught.value, "'shopify'", "hubspot")
    listed = cell(aep, f"%aep GET {FS}/connectionSpecs")
    assert isinstance(listed, ListResult) and [i["name"] for i in listed.items] == ["hubspot"]


@pytest.mark.parametrize("answer", ["flowservice-connections-create", "flowservice-connections-create-spec"])
def test_connection_create_and_get(platform, client, aep, answer):
    platform.serve("POST", f"{FS}/connections", answer)
    platform.serve("GET", f"{FS}/connections/139f6a5f-a78b-4744-9f6a-5fa78bd74431", "flowservice-connections-get")
    created = cell(aep, """%%aep_connection -o conn -q
{"name": "Shopify source", "description": "Shopify source",
 "auth": {"specName": "Basic Authentication", "params": {"host": "{HOST}", "accessToken": "{ACCESS_TOKEN}"}},
 "connectionSpec": {"id": "4f63aa36-bd48-4e33-bb83-49fbcd11c708", "version": "1.0"}}""")
    assert created is None
    conn = aep.user_ns["conn"]
    expected = body(answer)
    assert (conn.id, conn.etag, conn.status) == (expected["id"], expected["etag"], 201)
    got = client.flow.get_connection("139f6a5f-a78b-4744-9f6a-5fa78bd74431")
    assert (got["name"], got["auth"]["specName"], got["state"]) == ("E2E_SF Base_Connection", "Basic Authentication",
                                                                   "enabled")
    assert "{PASSWORD}" not in rendered(aep, Result("BaseConnection", id=got["id"], body=got))  # a secret field


# -- Flow Service: explore -------------------------------------------------------------------------------------------

CONN = "582f4f8d-71e9-4a5c-a164-9d2056318d6c"


@pytest.mark.parametrize("answer, names", [
    ("flowservice-explore-root", ["Shopify.Abandoned_Checkout_Discount_Codes", "Shopify.Abandoned_Checkout_Line_Items",
                                  "Shopify.Blogs", "Shopify.Orders"]),
    ("flowservice-explore-spec", ["acme-customers"]),
])
def test_explore_root_listing_in_both_documented_shapes(platform, client, aep, answer, names):
    platform.serve("GET", f"{FS}/connections/{CONN}/explore", answer)
    assert [t["name"] for t in client.flow.explore(CONN)] == names
    tables = cell(aep, f"%aep_explore {CONN}")
    assert isinstance(tables, ListResult) and [t["name"] for t in tables.items] == names
    assert platform.calls()[-1][2] == {"objectType": "root"}
    assert names[-1] in rendered(aep, tables)


def test_explore_table_columns_and_preview_as_the_tutorial_documents(platform, client, aep):
    platform.serve("GET", f"{FS}/connections/{CONN}/explore", "flowservice-explore-table")
    columns = cell(aep, f"%aep_explore {CONN} --table Shopify.Orders")
    assert [c["name"] for c in columns.items] == ["Blog_Id", "Title", "Created_At", "Tags"]
    assert platform.calls()[-1][2] == {"objectType": "table", "object": "Shopify.Orders"}
    frame = cell(aep, f"%aep_explore {CONN} --table Shopify.Orders --preview")
    assert list(frame["Title"]) == ["News"] and list(frame["Handle"]) == ["news"]
    assert list(frame.columns)[:4] == ["Blog_Id", "Title", "Created_At", "Tags"]
    assert platform.calls()[-1][2] == {"objectType": "table", "object": "Shopify.Orders", "preview": "true"}


def test_explore_table_answered_with_the_specs_array_says_so(platform, client, aep):
    platform.serve("GET", f"{FS}/connections/{CONN}/explore", "flowservice-explore-spec")
    error = failing(aep, f"%aep_explore {CONN} --table Shopify.Orders")
    one_line(error, "Shopify.Orders", "a list of 1 object", "flow-service.yaml", "columns")
    error = failing(aep, f"%aep_explore {CONN} --table Shopify.Orders --preview")
    one_line(error, "Shopify.Orders", "flow-service.yaml")
    # mapping preview rows from a source connection read the same answer
    platform.serve("GET", f"{FS}/sourceConnections/src-1",
                   {"items": [{"id": "src-1", "baseConnectionId": CONN, "params": {"tableName": "Shopify.Orders"}}]})
    with pytest.raises(AEPError, match=r"object=Shopify\.Orders answered a list of 1 object") as caught:
        ops.source_rows(client, "src-1")
    one_line(caught.value, "Shopify.Orders", "flow-service.yaml")


# -- Flow Service: source and target connections ----------------------------------------------------------------------


def test_source_and_target_connections_create(platform, aep):
    platform.serve("POST", f"{FS}/sourceConnections", "flowservice-sourceconnections-create")
    platform.serve("POST", f"{FS}/targetConnections", "flowservice-targetconnections-create")
    cell(aep, f"""%%aep_source -o src -q
name: Shopify source connection
baseConnectionId: {CONN}
data: {{format: tabular}}
params: {{tableName: Shopify.Orders, columns: [{{name: Email, type: string}}, {{name: Phone, type: string}}]}}
connectionSpec: {{id: 4f63aa36-bd48-4e33-bb83-49fbcd11c708, version: "1.0"}}""")
    cell(aep, """%%aep_target -o tgt -q
name: Shopify target connection
data:
  format: parquet_xdm
  schema: {id: "https://ns.adobe.com/{TENANT_ID}/schemas/854ddc36ad2c7bd001f66a4392575ed4004f81883328772f",
           version: "application/vnd.adobe.xed-full-notext+json; version=1"}
params: {dataSetId: 5fa9c083de62e418dd170b42}
connectionSpec: {id: c604ff05-7f1a-43c0-8e18-33bf874cb11c, version: "1.0"}""")
    assert aep.user_ns["src"].id == "c278ab14-acdf-440b-b67f-1265d15a7655"
    assert aep.user_ns["tgt"].id == "6c0ba537-a96b-4d74-8c95-450eb88baee8"
    assert aep.user_ns["tgt"].etag == '"00005506-0000-0200-0000-5fa9c13c0000"'


# -- Flow Service: flow specs, flows ---------------------------------------------------------------------------------

CRM = "14518937-270c-4525-bdec-c2ba7cce3860"


@pytest.mark.parametrize("shape", ["tutorial: the bare flow spec", "flow-service.yaml: {items: [...]}"])
def test_flow_spec_by_name_in_both_documented_shapes(platform, aep, shape):
    spec = body("flowservice-flowspecs-list")
    platform.serve("GET", f"{FS}/flowSpecs", spec if shape.startswith("tutorial") else {"items": [spec]})
    found = cell(aep, "%aep_flowspec CRMToAEP -o spec")
    assert found is None and aep.user_ns["spec"].id == CRM and aep.user_ns["spec"].name == "CRMToAEP"
    assert aep.user_ns["spec"].body["scheduleSpec"]["name"] == "PeriodicSchedule"
    assert platform.calls()[-1][2] == {"property": 'name=="CRMToAEP"'}
    listed = cell(aep, "%aep_flowspec")
    assert [s["id"] for s in listed.items] == [CRM]


def test_flow_spec_by_name_checks_the_name_it_gets(platform, aep):
    """A server that ignores the name filter answers every flow spec: the first one is not taken for the one asked."""
    platform.serve("GET", f"{FS}/flowSpecs", {"items": [body("flowservice-flowspecs-list")]})
    error = failing(aep, "%aep_flowspec AnotherSpec")
    one_line(error, "'AnotherSpec'", "CRMToAEP", "404")


TUTORIAL_FLOW = """%%aep_flow -o flow -q
{"name": "Test Shopify dataflow", "description": "Shopify With mapping ingestion",
 "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
 "sourceConnectionIds": ["c278ab14-acdf-440b-b67f-1265d15a7655"],
 "targetConnectionIds": ["6c0ba537-a96b-4d74-8c95-450eb88baee8"],
 "transformations": [{"name": "Mapping", "params": {"mappingId": "22922102bffd4369b6209c102a604062",
                                                    "mappingVersion": 0}}],
 "scheduleParams": SCHEDULE}"""


def test_flow_create_checks_the_schedule_against_the_documented_flow_spec(platform, aep):
    platform.serve("GET", f"{FS}/flowSpecs/{CRM}", "flowservice-flowspecs-list")  # the bare spec, as the page shows
    platform.serve("POST", f"{FS}/flows", "flowservice-flows-create")
    cell(aep, TUTORIAL_FLOW.replace("SCHEDULE", '{"startTime": "1604961070", "frequency": "once"}'))
    assert aep.user_ns["flow"].id == "20c115bc-46e3-40f3-bfe9-fb25abe4ba76"
    error = failing(aep, TUTORIAL_FLOW.replace("SCHEDULE", '{"startTime": "1604961070", "frequency": "minute", '
                                                           '"interval": 5}'))
    one_line(error, "PeriodicSchedule", "nothing was created")
    assert len(platform.calls("POST", f"{FS}/flows")) == 1


def test_flow_get_and_lineage(platform, client, aep):
    flow_id = "2edc08ac-4df5-4fe6-936f-81a19ce92f5c"
    platform.serve("GET", f"{FS}/flows/{flow_id}", "flowservice-flows-get")
    platform.not_found()
    flow = client.flow.get_flow(flow_id)
    assert flow["scheduleParams"] == {"startTime": "1612310466", "frequency": "week", "interval": "15",
                                      "backfill": "true"}
    lineage = cell(aep, f"%aep_lineage {flow_id}")
    node = lineage.node("flow")
    assert node.name == "Database dataflow using BigQuery" and node.status == "enabled"
    assert ("mapping", "0b090130b58b4819afc78b6dc98b484d v0") in node.details
    assert ("schedule", "week every 15 from 1612310466") in node.details
    assert lineage.node("source connection").missing and lineage.node("target connection").missing


# -- Flow Service: runs -----------------------------------------------------------------------------------------------

RUN_SHAPES = {
    # fixture: (batch ids the run wrote, records in / out / failed)
    "flowservice-runs-list-sources-monitor": (["01EF01X41KJD82Y9ZX6ET54PCZ"], "records in 100, out 99, failed 1"),
    "flowservice-runs-list-dataflows-monitor": (["01ES3TRN69E9W2DZ770XCGYAH1"], "records in 26,758, out 26,758"),
    "flowservice-runs-list-spec": ([], "records in 2, out 2, failed 0"),
}


@pytest.mark.parametrize("answer", list(RUN_SHAPES))
def test_runs_in_every_documented_shape(platform, client, aep, answer):
    runs = body(answer)
    flow_id = runs["items"][0]["flowId"]
    platform.serve("GET", f"{FS}/runs", answer)
    # the spec's example carries a next link (to /connections): it is followed, relative to the service root
    platform.serve("GET", f"{FS}/connections", {"items": [], "_links": {}})
    batch_ids, totals = RUN_SHAPES[answer]
    listed = client.flow.list_runs(flow_id)
    assert [r["id"] for r in listed] == [runs["items"][0]["id"]]
    assert run_batch_ids(listed[0]) == batch_ids
    result = cell(aep, f"%aep_runs {flow_id} -o runs")
    assert result is None
    shown = aep.user_ns["runs"]
    assert isinstance(shown, RunsResult) and shown.finished
    assert [b for run in shown.items for b in run_batch_ids(run)] == batch_ids
    assert totals in shown._summary_text() and "1 success" in shown._summary_text()
    assert runs["items"][0]["id"] in rendered(aep, shown)
    assert platform.calls("GET", f"{FS}/runs")[0][2] == {"property": f"flowId=={flow_id}"}
    if answer.endswith("-spec"):
        assert platform.calls("GET", f"{FS}/connections")[0][2]["continuationToken"] == "abcdefghijkLMNOPqrstupWXKYZ"


def test_a_run_by_id_and_a_runs_list_of_the_wrong_shape(platform, client, aep):
    platform.serve("GET", f"{FS}/runs/9830305a-985f-47d0-b030-5a985fd7d004", "flowservice-runs-list-sources-monitor")
    run = client.flow.get_run("9830305a-985f-47d0-b030-5a985fd7d004")
    assert run_batch_ids(run) == ["01EF01X41KJD82Y9ZX6ET54PCZ"]
    platform.serve("GET", f"{FS}/runs", body("flowservice-runs-list-sources-monitor")["items"])  # a bare array
    error = failing(aep, "%aep_runs c9cef9cb-c934-4467-8ef9-cbc934546741")
    one_line(error, f"GET {FS}/runs", '{"items": [...]}', "a list of 1 object")


# -- Schema Registry ---------------------------------------------------------------------------------------------------

TENANT_SCHEMA = "https://ns.adobe.com/{TENANT_ID}/schemas/20af3f1d4b175f27ba59529d1b51a0c79fc25df454117c80"


def test_schema_create_lookup_list_and_reuse(platform, client, aep):
    platform.serve("POST", f"{SR}/tenant/schemas", "schemaregistry-schemas-create")
    platform.serve("GET", f"{SR}/tenant/schemas", "schemaregistry-schemas-list")
    platform.serve("GET", re.compile(re.escape(f"{SR}/tenant/schemas/") + ".+"), "schemaregistry-schemas-lookup")
    cell(aep, """%%aep_schema -o schema -q
{"type": "object", "title": "Test Shopify schema", "description": "",
 "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"},
           {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
           {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"}],
 "meta:containerId": "tenant", "meta:resourceType": "schemas", "meta:xdmType": "object",
 "meta:class": "https://ns.adobe.com/xdm/context/profile"}""")
    assert aep.user_ns["schema"].id == body("schemaregistry-schemas-create")["$id"]
    looked_up = client.schemas.get_schema(TENANT_SCHEMA)
    assert (looked_up["title"], looked_up["version"]) == ("Example schema", "1.1")
    request = next(r for r, _ in platform.server.log if r.path.startswith(f"{SR}/tenant/schemas/"))
    assert request.headers["Accept"] == "application/vnd.adobe.xed+json; version=1"
    assert [s["title"] for s in client.schemas.list_schemas()] == ["Hotels", "Loyalty Members"]
    assert len(platform.calls("GET", f"{SR}/tenant/schemas")) == 1  # _page.next is null: one page
    reused = cell(aep, '%%aep_schema -o hotels -q --if-exists reuse\n{"title": "Hotels", "allOf": []}')
    assert reused is None and aep.user_ns["hotels"].reused
    assert aep.user_ns["hotels"].id == "https://ns.adobe.com/{TENANT_ID}/schemas/0238be93d3e7a06aec5e0655955901ec"
    assert len(platform.calls("POST", f"{SR}/tenant/schemas")) == 1


# -- Catalog -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer, dataset_id, name", [
    ("catalog-datasets-get", "5ba9452f7de80400007fc52a", "Sample Dataset"),
    ("catalog-datasets-get-spec", "5ab540d0864cf0267448ead4", "Acme accounts dataset - 1521827915638"),
])
def test_dataset_create_and_get(platform, client, aep, answer, dataset_id, name):
    platform.serve("POST", f"{CAT}/dataSets", "catalog-datasets-create")
    platform.serve("GET", f"{CAT}/dataSets/{dataset_id}", answer)
    cell(aep, """%%aep_dataset -o dataset -q
{"name": "LoyaltyMembersDataset",
 "schemaRef": {"id": "https://ns.adobe.com/{TENANT_ID}/schemas/719c4e19184402c27595e65b931a142b",
               "contentType": "application/vnd.adobe.xed+json;version=1"}}""")
    assert aep.user_ns["dataset"].id == "5c8c3c555033b814b69f947f"
    got = client.catalog.get_dataset(dataset_id)
    assert got["name"] == name and got["files"] == f"@/dataSetFiles?dataSetId={dataset_id}"


def test_catalog_paging_and_dataset_reuse(platform, client, aep):
    platform.serve("GET", f"{CAT}/dataSets", {}, query={"limit": "1", "start": "1"})  # past the last: an empty page
    platform.serve("GET", f"{CAT}/dataSets", "catalog-datasets-list-spec")
    platform.serve("GET", f"{CAT}/dataSets/5ab540d0864cf0267448ead4", "catalog-datasets-get-spec")
    listed = client.catalog.list_datasets(limit=1)
    assert list(listed) == ["5ab540d0864cf0267448ead4"]
    assert [q.get("start") for _, _, q in platform.calls("GET", f"{CAT}/dataSets")] == ["0", "1"]
    cell(aep, '%%aep_dataset -o ds -q --if-exists reuse\n{"name": "Acme accounts dataset - 1521827915638"}')
    assert aep.user_ns["ds"].reused and aep.user_ns["ds"].id == "5ab540d0864cf0267448ead4"
    assert aep.user_ns["ds"].body["basePath"] == "s3://bar/ball/baz"
    assert not platform.calls("POST", f"{CAT}/dataSets")


@pytest.mark.parametrize("answer, batch_id, status", [
    ("catalog-batches-get-spec", "5911f88ae2f4bf657c5a8cb5", "success"),
    ("catalog-batches-get-troubleshooting", "{BATCH_ID}", "staging"),
])
def test_batch_get(platform, client, answer, batch_id, status):
    platform.serve("GET", f"{CAT}/batches/{batch_id}", answer)
    assert client.catalog.get_batch(batch_id)["status"] == status


# -- Data Access: %aep_read ----------------------------------------------------------------------------------------------

DATASET = "5ab540d0864cf0267448ead4"
BATCH = "5911f88ae2f4bf657c5a8cb5"


def parquet(first: str, last: str) -> bytes:
    """A Parquet file of one mapped row (the values of the Data Prep preview example)."""
    table = pa.table({"_id": ["1234"], "person": [{"name": {"firstName": first, "lastName": last}}]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def serve_batch(platform: Platform, listings: dict[str, Any]):
    """The spec's batch list, the docs' file list of a batch, and the given listing of each of its two files."""
    platform.serve("GET", f"{CAT}/batches", "catalog-batches-list-spec")
    platform.serve("GET", f"{EXP}/batches/{BATCH}/files", "export-batch-files")
    for file_id, listing in listings.items():
        platform.serve("GET", f"{EXP}/files/{file_id}", listing)


def test_read_a_dataset_through_the_documented_data_access_answers(platform, aep):
    parts = {"{FILE_ID_1}": "profiles.parquet", "{FILE_ID_2}": "profiles-2.parquet"}
    for (file_id, name), (first, last) in zip(parts.items(), [("Jim", "Seltzer"), ("Ana", "Lima")]):
        platform.serve("GET", f"{EXP}/files/{file_id}", None, query={"path": name}, raw=parquet(first, last))
    serve_batch(platform, {file_id: filled("export-file-listing", {"{FILE_NAME}": name, "{FILE_ID}": file_id})
                           for file_id, name in parts.items()})
    cell(aep, f"%aep_read {DATASET} -o frame")
    frame = aep.user_ns["frame"]
    assert list(frame["person.name.firstName"]) == ["Jim", "Ana"] and list(frame["_id"]) == ["1234", "1234"]
    assert platform.calls("GET", f"{CAT}/batches")[0][2]["dataSet"] == DATASET


def test_read_with_the_specs_path_shaped_file_answer(platform, aep):
    """data-access.yaml answers GET /files/{id} with {"path"}: read as one part of that name."""
    platform.serve("GET", f"{EXP}/files/{{FILE_ID_1}}", None, query={"path": "F1.parquet"}, raw=parquet("Jim", "S"))
    platform.serve("GET", f"{EXP}/files/{{FILE_ID_2}}", None, query={"path": "F1.parquet"}, raw=parquet("Ana", "L"))
    spec = filled("export-file-listing-spec", {"F1.json": "F1.parquet"})
    serve_batch(platform, {"{FILE_ID_1}": spec, "{FILE_ID_2}": spec})
    cell(aep, f"%aep_read {DATASET} -o frame")
    assert list(aep.user_ns["frame"]["person.name.firstName"]) == ["Jim", "Ana"]


def test_read_with_the_specs_example_names_the_file_it_cannot_read(platform, aep):
    """The spec's own example names F1.json: not Parquet, so not an empty frame but one line saying so."""
    serve_batch(platform, {"{FILE_ID_1}": "export-file-listing-spec", "{FILE_ID_2}": "export-file-listing-spec"})
    error = failing(aep, f"%aep_read {DATASET}")
    one_line(error, DATASET, "no Parquet file", "F1.json")
    assert not [q for _, _, q in platform.calls() if "path" in q]  # nothing downloaded


def test_read_with_both_file_answers_says_what_it_left_out(platform, client):
    """One file answered as the docs do (a Parquet part and a _SUCCESS marker), one as the spec's example (F1.json)."""
    platform.serve("GET", f"{EXP}/files/{{FILE_ID_1}}", None, query={"path": "profiles.parquet"},
                   raw=parquet("Jim", "Seltzer"))
    listing = filled("export-file-listing", {"{FILE_NAME}": "profiles.parquet", "{FILE_ID}": "{FILE_ID_1}"})
    listing["data"].append({"name": "_SUCCESS", "length": "0"})
    serve_batch(platform, {"{FILE_ID_1}": listing, "{FILE_ID_2}": "export-file-listing-spec"})
    with pytest.warns(UserWarning) as warned:
        frame = ops.read_dataset(client, DATASET)
    assert list(frame["person.name.firstName"]) == ["Jim"]
    assert [str(w.message) for w in warned] == [
        f"dataset {DATASET}: 1 file(s) that are not Parquet were left out (F1.json)"]


def test_read_with_a_file_answer_of_no_documented_shape(platform, aep):
    serve_batch(platform, {"{FILE_ID_1}": {"files": ["a.parquet"]}, "{FILE_ID_2}": {"files": []}})
    error = failing(aep, f"%aep_read {DATASET}")
    one_line(error, f"GET {EXP}/files/{{FILE_ID_1}}", "an object with keys files")


# -- Data Prep -----------------------------------------------------------------------------------------------------------

MAPPING_BODY = """{
    "outputSchema": {"schemaRef": {"id": "https://ns.adobe.com/{TENANT_ID}/schemas/89abc189258b1cb1a816d8f2b2341a6d98000ed8f4008305",
                                   "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
    "mappings": [
        {"sourceType": "ATTRIBUTE", "source": "id", "destination": "_id", "name": "id", "description": "Identifier field"},
        {"sourceType": "ATTRIBUTE", "source": "firstName", "destination": "person.name.firstName"},
        {"sourceType": "ATTRIBUTE", "source": "lastName", "destination": "person.name.lastName"}
    ]
}"""


@pytest.mark.parametrize("answer", ["dataprep-mappingsets-create", "dataprep-mappingsets-create-legacy"])
def test_mapping_set_create(platform, aep, answer):
    platform.serve("POST", f"{DP}/mappingSets", answer)
    cell(aep, f"%%aep_mapping -o mapping -q\n{MAPPING_BODY}")
    assert aep.user_ns["mapping"].id == body(answer)["id"] and aep.user_ns["mapping"].status == 200


@pytest.mark.parametrize("answer", ["dataprep-mappingsets-preview", "dataprep-mappingsets-preview-spec"])
def test_mapping_validate_and_preview_in_both_documented_shapes(platform, aep, answer):
    platform.serve("POST", f"{DP}/mappingSets/validate", "dataprep-mappingsets-validate")
    platform.serve("POST", f"{DP}/mappingSets/preview", answer)
    aep.user_ns["ROWS"] = [{"id": 1234, "firstName": "Jim", "lastName": "Seltzer"}]
    result = cell(aep, f"%%aep_mapping --validate --preview --rows ROWS --no-create\n{MAPPING_BODY}")
    assert [row["status"] for row in result.validation.items] == ["SUCCESS"] * 3
    assert result.preview.items == [{"person.name.firstName": "Jim", "person.name.lastName": "Seltzer",
                                      "_id": "1234"}]
    assert "Seltzer" in rendered(aep, result)
    sent = json.loads(platform.server.log[-1][0].get_data())
    assert sent["data"] == aep.user_ns["ROWS"] and len(sent["mappingSet"]["mappings"]) == 3
    assert not platform.calls("POST", f"{DP}/mappingSets")


def test_mapping_preview_of_no_documented_shape(platform, aep):
    platform.serve("POST", f"{DP}/mappingSets/preview", {"preview": "ok"})
    aep.user_ns["ROWS"] = [{"id": 1}]
    error = failing(aep, f"%%aep_mapping --preview --rows ROWS --no-create\n{MAPPING_BODY}")
    one_line(error, f"POST {DP}/mappingSets/preview", "an object with keys preview")


@pytest.mark.parametrize("answer, ids", [
    ("dataprep-mappingsets-list", ["428beb15b4864daaaa9dc3f005448005", "8afb1351833a4a4692ea61074b60813b"]),
    ("dataprep-mappingsets-list-spec", ["428beb15b4864daaaa9dc3f005448005"]),
])
def test_mapping_set_list_in_both_documented_shapes_and_reuse(platform, client, aep, answer, ids):
    platform.serve("GET", f"{DP}/mappingSets", answer)
    platform.serve("GET", f"{DP}/mappingSets/428beb15b4864daaaa9dc3f005448005", "dataprep-mappingsets-get")
    assert [m["id"] for m in client.dataprep.list_mapping_sets()] == ids
    assert platform.calls("GET", f"{DP}/mappingSets")[0][2] == {"limit": "100", "start": "0"}
    # an unnamed body is found by its content: the listed set with the same schema and mappings
    cell(aep, """%%aep_mapping -o found -q --if-exists reuse
{"xdmSchema": "https://ns.adobe.com/xdm/context/profile__union",
 "mappings": [{"sourceAttribute": "id", "destinationXdmPath": "person.name.firstName"}]}""")
    found = aep.user_ns["found"]
    assert found.reused and found.id == "428beb15b4864daaaa9dc3f005448005"
    assert [m["destination"] for m in found.body["mappings"]] == ["_id", "person.name.firstName",
                                                                  "person.name.lastName"]
    assert not platform.calls("POST", f"{DP}/mappingSets")


def test_mapping_set_list_of_no_documented_shape(platform, client, aep):
    platform.serve("GET", f"{DP}/mappingSets", {"data": "428beb15b4864daaaa9dc3f005448005", "_page": {"count": 1}})
    with pytest.raises(AEPError, match=f"^unexpected answer to GET {DP}/mappingSets: ") as caught:
        client.dataprep.list_mapping_sets()
    one_line(caught.value, f"GET {DP}/mappingSets", "data as a string")
    error = failing(aep, f"%%aep_mapping -q --if-exists reuse\n{MAPPING_BODY}")
    one_line(error, f"GET {DP}/mappingSets", "data as a string")


def test_mapping_sets_are_not_deleted_and_nothing_is_sent(platform, client, aep):
    for line in ("%aep_delete mapping e7c80e4c0d8f4a98a7d400b4e178b635",
                 "%aep_delete mapping e7c80e4c0d8f4a98a7d400b4e178b635 --dry-run",
                 '%aep_delete mapping --name "Demo Mapping Set"'):
        error = failing(aep, line)
        assert isinstance(error, InputError)
        one_line(error, "cannot delete mapping sets", "nothing was sent", "unused", "PUT /mappingSets/",
                 "https://developer.adobe.com/experience-platform-apis/references/data-prep/")
    with pytest.raises(InputError, match="cannot delete mapping sets"):
        client.dataprep.delete_mapping_set("e7c80e4c0d8f4a98a7d400b4e178b635")
    with pytest.raises(InputError, match="cannot delete mapping sets"):
        ops.delete(client, "mapping", "e7c80e4c0d8f4a98a7d400b4e178b635", dry_run=True)
    assert platform.server.log == []


# -- Sandboxes -----------------------------------------------------------------------------------------------------------


def test_sandbox_list_expands_the_templated_next_link(platform, client, aep):
    last_page = {"sandboxes": [], "_page": {"limit": 4, "count": 0}, "_links": {}}
    platform.serve("GET", f"{SBX}/sandboxes/", last_page, query={"limit": "4", "offset": "4"})
    platform.serve("GET", f"{SBX}/sandboxes", "sandboxes-list", query="")
    names = ["prod", "dev", "stage", "dev-2"]
    assert [s["name"] for s in client.sandboxes.list()] == names
    # the link's own path (with its trailing slash) on the profile's host; {limit} and {offset} filled in
    assert platform.raw_queries(f"{SBX}/sandboxes/") == ["limit=4&offset=4"]
    listed = cell(aep, "%aep_sandbox")
    assert isinstance(listed, ListResult) and [s["name"] for s in listed.items] == names
    assert "{limit}" not in json.dumps([r.url for r, _ in platform.server.log])


def test_sandbox_list_drops_template_variables_it_has_no_value_for(platform, client):
    first = body("sandboxes-list")
    first["_links"]["next"]["href"] = first["_links"]["next"]["href"].replace("offset={offset}", "cursor={cursor}")
    platform.serve("GET", f"{SBX}/sandboxes/", {"sandboxes": [{"name": "dev-3"}], "_links": {}}, query={"limit": "4"})
    platform.serve("GET", f"{SBX}/sandboxes", first, query="")
    assert [s["name"] for s in client.sandboxes.list()][-1] == "dev-3"
    assert platform.raw_queries(f"{SBX}/sandboxes/") == ["limit=4"]


def test_sandbox_list_of_no_documented_shape(platform, aep):
    platform.serve("GET", f"{SBX}/sandboxes", {"sandboxes": {"prod": {"title": "Production"}}})
    error = failing(aep, "%aep_sandbox")
    one_line(error, f"GET {SBX}/sandboxes", '{"sandboxes": [...]}', "an object with keys prod")


def test_dry_run_sends_nothing(platform, aep):
    """The served platform sees no call from a dry run of a magic that reads these answers."""
    dry = cell(aep, f"%aep_explore {CONN} --table Shopify.Orders --dry-run")
    assert isinstance(dry, DryRun) and dry.request.method == "GET"
    assert platform.server.log == []
