"""The service wrappers send exactly the documented calls (Adobe's API reference,
https://developer.adobe.com/experience-platform-apis/, and the eCommerce tutorial) and unwrap their answers."""

from __future__ import annotations

import base64
import copy
import json
from urllib.parse import quote

import pytest
from helpers.fake_platform import FakePlatform, Reply, profile_for

from aep_magics.api import AEPClient
from aep_magics.api.flowservice import promotion_activity, run_batch_ids
from aep_magics.errors import AEPError, InputError, NotFoundError
from aep_magics.http import AEPSession

FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"
DP = "/data/foundation/conversion"
EXP = "/data/foundation/export"
SBX = "/data/foundation/sandbox-management"


@pytest.fixture
def fake():
    with FakePlatform() as f:
        yield f


@pytest.fixture
def client(fake):
    with AEPSession(profile_for(fake), sleep=lambda s: None) as session:
        yield AEPClient(session)


def sent(fake) -> list[tuple[str, str]]:
    """The platform calls the client made (method, path), in order, IMS left out."""
    return [(c.method, c.path) for c in fake.requests if not c.path.startswith("/ims/")]


def test_client_bundles_every_service(client):
    assert {"flow", "schemas", "catalog", "dataprep", "data", "sandboxes", "session"} <= set(vars(client))
    assert client.flow.session is client.session


# -- Flow Service -----------------------------------------------------------------------------------------------


def test_get_by_id_unwraps_items(fake, client):
    fake.script("GET", f"{FS}/flows/f1", Reply(200, {"items": [{"id": "f1", "etag": '"e1"'}]}))
    fake.script("GET", f"{FS}/connections/c1", Reply(200, {"items": [{"id": "c1"}]}))
    fake.script("GET", f"{FS}/runs/r1", Reply(200, {"items": []}))
    assert client.flow.get_flow("f1") == {"id": "f1", "etag": '"e1"'}
    assert client.flow.get_connection("c1") == {"id": "c1"}
    with pytest.raises(NotFoundError, match="no runs r1"):
        client.flow.get_run("r1")


def test_create_list_delete(fake, client):
    fake.script("POST", f"{FS}/connections", Reply(201, {"id": "c1", "etag": '"e"'}))
    fake.script("POST", f"{FS}/sourceConnections", Reply(201, {"id": "s1", "etag": '"e"'}))
    fake.script("POST", f"{FS}/targetConnections", Reply(201, {"id": "t1", "etag": '"e"'}))
    fake.script("POST", f"{FS}/flows", Reply(201, {"id": "f1", "etag": '"e"'}))
    fake.script("POST", f"{FS}/runs", Reply(201, {"items": [{"id": "r1"}]}))
    fake.script("GET", f"{FS}/targetConnections", Reply(200, {"items": [{"id": "t1"}], "_links": {}}))
    fake.script("DELETE", f"{FS}/flows/f1", Reply(204))
    assert client.flow.create_connection({"name": "shop"}) == {"id": "c1", "etag": '"e"'}
    assert client.flow.create_source_connection({"name": "s"})["id"] == "s1"
    assert client.flow.create_target_connection({"name": "t"})["id"] == "t1"
    assert client.flow.create_flow({"name": "f"})["id"] == "f1"
    assert client.flow.create_run({"flowId": "f1"}) == {"items": [{"id": "r1"}]}
    assert client.flow.list_target_connections(orderby="-createdAt") == [{"id": "t1"}]
    assert client.flow.delete_flow("f1") is None
    assert fake.calls("GET", f"{FS}/targetConnections")[0].param("orderby") == ["-createdAt"]
    # the documented calls, each once, with the body given
    assert sent(fake) == [("POST", f"{FS}/connections"), ("POST", f"{FS}/sourceConnections"),
                          ("POST", f"{FS}/targetConnections"), ("POST", f"{FS}/flows"), ("POST", f"{FS}/runs"),
                          ("GET", f"{FS}/targetConnections"), ("DELETE", f"{FS}/flows/f1")]
    assert [c.json() for c in fake.calls("POST") if c.path.startswith(FS)] == [
        {"name": "shop"}, {"name": "s"}, {"name": "t"}, {"name": "f"}, {"flowId": "f1"}]
    assert all(c.headers["content-type"] == "application/json" for c in fake.calls("POST") if c.path.startswith(FS))


def test_patch_sends_if_match_and_fetches_the_etag_when_missing(fake, client):
    fake.script("GET", f"{FS}/flows/f1", Reply(200, {"items": [{"id": "f1", "etag": '"current"'}]}))
    fake.script("PATCH", f"{FS}/flows/f1", Reply(200, {"id": "f1", "etag": '"next"'}))
    ops = [{"op": "replace", "path": "/name", "value": "n"}]
    assert client.flow.patch_flow("f1", ops, etag='"given"') == {"id": "f1", "etag": '"next"'}
    client.flow.patch_flow("f1", ops)
    first, second = fake.calls("PATCH", f"{FS}/flows/f1")
    assert first.headers["if-match"] == '"given"' and second.headers["if-match"] == '"current"'
    assert first.json() == ops and first.headers["content-type"] == "application/json"


def test_flow_action_and_runs_filter(fake, client):
    fake.script("POST", f"{FS}/flows/f1/action", Reply(200, {"id": "f1", "etag": '"e2"'}))
    fake.script("GET", f"{FS}/runs", Reply(200, {"items": [{"id": "r1"}, {"id": "r2"}]}))
    assert client.flow.flow_action("f1", "enable")["etag"] == '"e2"'
    assert fake.calls("POST", f"{FS}/flows/f1/action")[0].param("op") == ["ENABLE"]
    assert [r["id"] for r in client.flow.list_runs("f1", property="state==success")] == ["r1", "r2"]
    assert fake.calls("GET", f"{FS}/runs")[0].param("property") == ["flowId==f1", "state==success"]


def test_specs_by_name(fake, client):
    fake.script(
        "GET",
        f"{FS}/flowSpecs",
        lambda r: Reply(
            200,
            {"items": [{"id": "14518937", "name": "CRMToAEP"}]}
            if r.param("property") == ['name=="CRMToAEP"']
            else {"items": []},
        ),
    )
    fake.script("GET", f"{FS}/connectionSpecs", Reply(200, {"items": []}))
    fake.script("GET", f"{FS}/connectionSpecs/4f63", Reply(200, {"items": [{"id": "4f63", "name": "shopify"}]}))
    assert client.flow.flow_spec_by_name("CRMToAEP")["id"] == "14518937"
    with pytest.raises(NotFoundError, match="no connectionSpecs named 'Nope'"):
        client.flow.connection_spec_by_name("Nope")
    assert client.flow.get_connection_spec("4f63")["name"] == "shopify"
    assert fake.calls("GET", f"{FS}/connectionSpecs")[0].param("property") == ['name=="Nope"']
    assert sent(fake)[-1] == ("GET", f"{FS}/connectionSpecs/4f63")


def test_explore_root_table_and_preview_with_filters(fake, client):
    path = f"{FS}/connections/c1/explore"
    fake.script("GET", path, Reply(200, [{"type": "table", "name": "Shopify.Orders", "path": "Shopify.Orders"}]))
    assert client.flow.explore("c1")[0]["name"] == "Shopify.Orders"
    pql = {"type": "PQL", "format": "pql/json", "value": {"nodeType": "fnApply", "fnName": "=", "params": []}}
    client.flow.explore("c1", "table", "Shopify.Orders", preview=True, filters=pql)
    root, preview = fake.calls("GET", path)
    assert root.query == [("objectType", "root")]
    assert dict(preview.query) | {"filters": None} == {
        "objectType": "table",
        "object": "Shopify.Orders",
        "preview": "true",
        "filters": None,
    }
    assert json.loads(base64.b64decode(preview.param("filters")[0])) == pql


def test_test_connection(fake, client):
    fake.script("GET", f"{FS}/connections/c1/test", Reply(200, {"result": True}))
    assert client.flow.test_connection("c1") == {"result": True}
    assert sent(fake) == [("GET", f"{FS}/connections/c1/test")]


# -- Schema Registry -------------------------------------------------------------------------------------------


def test_schema_lookup_encodes_the_id_and_picks_accept(fake, client):
    schema_id = "https://ns.adobe.com/aeplocal/schemas/abc123"
    fake.script("GET", f"{SR}/tenant/schemas/{schema_id}", Reply(200, {"$id": schema_id}))  # the server decodes
    assert client.schemas.get_schema(schema_id, accept="xed-full")["$id"] == schema_id
    client.schemas.get_schema(schema_id, accept="xed-notext")
    client.schemas.get_schema(schema_id, accept="application/vnd.adobe.xed-full-notext+json; version=1")
    assert fake.requests[-1].raw_uri == f"{SR}/tenant/schemas/{quote(schema_id, safe='')}"
    accepts = [c.headers["accept"] for c in fake.requests if c.method == "GET"]
    assert accepts == [
        "application/vnd.adobe.xed-full+json; version=1",
        "application/vnd.adobe.xed-notext+json; version=1",
        "application/vnd.adobe.xed-full-notext+json; version=1",
    ]
    with pytest.raises(InputError, match="unknown Accept variant"):
        client.schemas.get_schema(schema_id, accept="xml")


def test_schema_create_patch_delete_list_and_stats(fake, client):
    fake.script("POST", f"{SR}/tenant/schemas", Reply(201, {"$id": "s", "version": "1.0"}))
    fake.script("PATCH", f"{SR}/tenant/schemas/_aeplocal.schemas.s", Reply(200, {"$id": "s", "version": "1.1"}))
    fake.script("DELETE", f"{SR}/tenant/schemas/_aeplocal.schemas.s", Reply(204))
    fake.script(
        "GET",
        f"{SR}/global/classes",
        Reply(200, {"results": [{"title": "XDM Individual Profile"}], "_page": {"next": None}}),
    )
    fake.script("GET", f"{SR}/global/fieldgroups", Reply(200, {"results": [{"title": "Person"}], "_page": {}}))
    fake.script("GET", f"{SR}/global/fieldgroups/_xdm.context.profile-person-details", Reply(200, {"title": "P"}))
    fake.script("GET", f"{SR}/stats", Reply(200, {"tenantId": "aeplocal"}))
    assert client.schemas.create_schema({"title": "t"})["version"] == "1.0"
    assert client.schemas.patch_schema("_aeplocal.schemas.s", [{"op": "add"}])["version"] == "1.1"
    assert client.schemas.delete_schema("_aeplocal.schemas.s") is None
    assert client.schemas.list_classes(full=True) == [{"title": "XDM Individual Profile"}]
    assert client.schemas.list_field_groups(property="meta:intendedToExtend") == [{"title": "Person"}]
    assert client.schemas.get_field_group("_xdm.context.profile-person-details") == {"title": "P"}
    assert client.schemas.stats() == {"tenantId": "aeplocal"}
    assert fake.calls("POST", f"{SR}/tenant/schemas")[0].json() == {"title": "t"}
    patch = fake.calls("PATCH", f"{SR}/tenant/schemas/_aeplocal.schemas.s")[0]
    assert patch.json() == [{"op": "add"}] and patch.headers["content-type"] == "application/json"
    assert ("DELETE", f"{SR}/tenant/schemas/_aeplocal.schemas.s") in sent(fake)
    classes = fake.calls("GET", f"{SR}/global/classes")[0]
    assert classes.headers["accept"] == "application/vnd.adobe.xed+json" and classes.param("orderby") == ["title"]
    assert fake.calls("GET", f"{SR}/global/fieldgroups")[0].param("property") == ["meta:intendedToExtend"]


# -- Catalog ---------------------------------------------------------------------------------------------------


def test_dataset_create_returns_the_id(fake, client):
    fake.script("POST", f"{CAT}/dataSets", Reply(201, ["@/dataSets/5c8c3c555033b814b69f947f"]))
    assert client.catalog.create_dataset({"name": "d"}, request_data_source=True) == "5c8c3c555033b814b69f947f"
    assert fake.calls("POST", f"{CAT}/dataSets")[0].param("requestDataSource") == ["true"]
    fake.script("POST", f"{CAT}/dataSets", Reply(201, {"id": "nope"}))
    with pytest.raises(AEPError, match="unexpected answer to POST"):
        client.catalog.create_dataset({"name": "d"})


def test_dataset_and_batch_lookups(fake, client):
    fake.script("GET", f"{CAT}/dataSets/d1", Reply(200, {"d1": {"name": "Orders"}}))
    fake.script("GET", f"{CAT}/batches/b1", Reply(200, {"b1": {"status": "success", "recordCount": 3}}))
    fake.script("GET", f"{CAT}/batches", Reply(200, {"b1": {"status": "success"}, "b2": {"status": "failure"}}))
    fake.script("GET", f"{CAT}/dataSets", Reply(200, {"d1": {"name": "Orders"}}))
    assert client.catalog.get_dataset("d1", properties=["name", "schemaRef"]) == {"name": "Orders"}
    assert fake.calls("GET", f"{CAT}/dataSets/d1")[0].param("properties") == ["name,schemaRef"]
    assert client.catalog.get_batch("b1")["recordCount"] == 3
    assert list(client.catalog.list_batches("d1", orderBy="desc:created")) == ["b1", "b2"]
    call = fake.calls("GET", f"{CAT}/batches")[0]
    assert (call.param("dataSet"), call.param("orderBy"), call.param("limit")) == (["d1"], ["desc:created"], ["100"])
    assert client.catalog.list_datasets(name="Orders") == {"d1": {"name": "Orders"}}
    assert fake.calls("GET", f"{CAT}/dataSets")[0].param("name") == ["Orders"]


def test_deletes_outside_flow_service(fake, client):
    fake.script("DELETE", f"{CAT}/dataSets/d1", Reply(200, ["@/dataSets/d1"]))
    assert client.catalog.delete_dataset("d1") is None
    assert len(fake.calls("DELETE", f"{CAT}/dataSets/d1")) == 1
    # data-prep.yaml has no DELETE /mappingSets/{id}: the kit says so and sends nothing
    with pytest.raises(InputError, match="cannot delete mapping sets.*nothing was sent"):
        client.dataprep.delete_mapping_set("m1")
    assert not fake.calls("DELETE", f"{DP}/mappingSets/m1")


# -- Data Prep, Data Access, Sandboxes ---------------------------------------------------------------------------


def test_mapping_sets(fake, client):
    fake.script("POST", f"{DP}/mappingSets", Reply(200, {"id": "m1", "version": 0}))
    fake.script("GET", f"{DP}/mappingSets/m1", Reply(200, {"id": "m1"}))
    fake.script(
        "GET",
        f"{DP}/mappingSets",
        lambda r: Reply(
            200, {"data": [{"id": "m1"}, {"id": "m2"}]} if r.param("start") == ["0"] else {"data": [{"id": "m3"}]}
        ),
    )
    fake.script("POST", f"{DP}/mappingSets/validate", Reply(200, {"validationResponse": [{"status": "SUCCESS"}]}))
    fake.script("POST", f"{DP}/mappingSets/preview", Reply(200, [{"data": {"_id": "1"}, "errors": None}]))
    assert client.dataprep.create_mapping_set({"mappings": []}) == {"id": "m1", "version": 0}
    assert client.dataprep.get_mapping_set("m1", version=0)["id"] == "m1"
    assert [m["id"] for m in client.dataprep.list_mapping_sets(limit=2)] == ["m1", "m2", "m3"]
    assert client.dataprep.validate({"mappings": []})["validationResponse"][0]["status"] == "SUCCESS"
    assert client.dataprep.preview([{"id": 1}], {"mappings": []})[0]["data"] == {"_id": "1"}
    assert fake.calls("POST", f"{DP}/mappingSets/preview")[0].json() == {
        "data": [{"id": 1}],
        "mappingSet": {"mappings": []},
    }
    assert fake.calls("GET", f"{DP}/mappingSets/m1")[0].param("version") == ["0"]
    assert fake.calls("POST", f"{DP}/mappingSets")[0].json() == {"mappings": []}
    assert fake.calls("POST", f"{DP}/mappingSets/validate")[0].json() == {"mappings": []}
    # a page of 2 (limit), then the next from start=2
    assert [(c.param("start"), c.param("limit")) for c in fake.calls("GET", f"{DP}/mappingSets")] == [
        (["0"], ["2"]), (["2"], ["2"])]


def test_data_access_files(fake, client):
    fake.script("GET", f"{EXP}/batches/b1/files", Reply(200, {"data": [{"dataSetFileId": "f1"}], "_page": {}}))
    fake.script(
        "GET",
        f"{EXP}/files/f1",
        lambda r: (
            Reply(200, body=b"PAR1\x00\xffbytes")
            if r.param("path")
            else Reply(200, {"data": [{"name": "part-0.parquet", "length": "10"}]})
        ),
    )
    assert client.data.list_batch_files("b1") == [{"dataSetFileId": "f1"}]
    assert client.data.get_file("f1")["data"][0]["name"] == "part-0.parquet"
    assert client.data.download("f1", "part-0.parquet") == b"PAR1\x00\xffbytes"
    listing, download = fake.calls("GET", f"{EXP}/files/f1")
    assert listing.param("path") == [] and download.param("path") == ["part-0.parquet"]


def test_sandboxes(fake, client):
    fake.script(
        "GET",
        f"{SBX}/sandboxes",
        lambda r: Reply(
            200,
            {"sandboxes": [{"name": "prod"}], "_links": {"next": {"href": f"{SBX}/sandboxes?offset=1"}}}
            if not r.param("offset")
            else {"sandboxes": [{"name": "dev"}], "_links": {}},
        ),
    )
    fake.script("GET", f"{SBX}/sandboxes/dev", Reply(200, {"name": "dev", "state": "active"}))
    fake.script("POST", f"{SBX}/sandboxes", Reply(202, {"name": "new", "state": "creating"}))
    fake.script("DELETE", f"{SBX}/sandboxes/dev", Reply(202, {"name": "dev", "state": "deleted"}))
    assert [s["name"] for s in client.sandboxes.list()] == ["prod", "dev"]
    assert client.sandboxes.get("dev")["state"] == "active"
    assert client.sandboxes.create("new", "New")["state"] == "creating"
    assert fake.calls("POST", f"{SBX}/sandboxes")[0].json() == {"name": "new", "title": "New", "type": "development"}
    assert client.sandboxes.delete("dev")["state"] == "deleted"
    assert [c.param("offset") for c in fake.calls("GET", f"{SBX}/sandboxes")] == [[], ["1"]]
    assert sent(fake)[-3:] == [("GET", f"{SBX}/sandboxes/dev"), ("POST", f"{SBX}/sandboxes"),
                               ("DELETE", f"{SBX}/sandboxes/dev")]


# -- run objects: both documented shapes ---------------------------------------------------------------------------
# The run of "Monitor dataflows" for sources, verbatim
# (https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/monitor): activities named by id.
DOC_RUNS_OLD = json.loads(r"""

{
    "items": [
        {
            "createdAt": 1596656079576,
            "updatedAt": 1596656113526,
            "createdBy": "{CREATED_BY}",
            "updatedBy": "{UPDATED_BY}",
            "createdClient": "{CREATED_CLIENT}",
            "updatedClient": "{UPDATED_CLIENT}",
            "sandboxId": "1bd86660-c5da-11e9-93d4-6d5fc3a66a8e",
            "sandboxName": "prod",
            "id": "9830305a-985f-47d0-b030-5a985fd7d004",
            "flowId": "c9cef9cb-c934-4467-8ef9-cbc934546741",
            "etag": "\"b8003af1-0000-0200-0000-5f2b09f10000\"",
            "metrics": {
                "durationSummary": {"startedAtUTC": 1596656058198, "completedAtUTC": 1596656113306},
                "sizeSummary": {"inputBytes": 24012, "outputBytes": 17128},
                "recordSummary": {"inputRecordCount": 100, "outputRecordCount": 99, "failedRecordCount": 1},
                "fileSummary": {"inputFileCount": 1, "outputFileCount": 1, "activityRefs": ["promotionActivity"]},
                "statusSummary": {
                    "status": "success",
                    "errors": [{"code": "CONNECTOR-2001-500", "message": "Error occurred at promotion activity."}],
                    "activityRefs": ["promotionActivity"]
                }
            },
            "activities": [
                {
                    "id": "copyActivity",
                    "updatedAtUTC": 1596656095088,
                    "durationSummary": {
                        "startedAtUTC": 1596656058198,
                        "completedAtUTC": 1596656089650,
                        "extensions": {"windowStart": 1596653708000, "windowEnd": 1596655508000}
                    },
                    "sizeSummary": {"inputBytes": 24012, "outputBytes": 24012},
                    "recordSummary": {},
                    "fileSummary": {"inputFileCount": 1, "outputFileCount": 1},
                    "statusSummary": {"status": "success", "extensions": {"type": "one-time"}},
                    "sourceInfo": [
                        {
                            "id": "c0e18602-f9ea-44f9-a186-02f9ea64f9ac",
                            "type": "SourceConnection",
                            "reference": {"type": "AdfRunId", "ids": ["8a8eb0cc-e283-4605-ac70-65a5adb1baef"]}
                        }
                    ]
                },
                {
                    "id": "promotionActivity",
                    "updatedAtUTC": 1596656113485,
                    "durationSummary": {"startedAtUTC": 1596656095333, "completedAtUTC": 1596656113306},
                    "sizeSummary": {"inputBytes": 24012, "outputBytes": 17128},
                    "recordSummary": {"inputRecordCount": 100, "outputRecordCount": 99, "failedRecordCount": 1},
                    "fileSummary": {
                        "inputFileCount": 2,
                        "outputFileCount": 1,
                        "extensions": {"manifest": {"fileInfo": "https://platform.adobe.io/data/foundation/export/batches/01EF01X41KJD82Y9ZX6ET54PCZ/meta?path=input_files"}}
                    },
                    "statusSummary": {
                        "status": "success",
                        "errors": [{"code": "CONNECTOR-2001-500", "message": "Error occurred at promotion activity."}],
                        "extensions": {
                            "manifest": {
                                "failedRecords": "https://platform.adobe.io/data/foundation/export/batches/01EF01X41KJD82Y9ZX6ET54PCZ/meta?path=row_errors",
                                "sampleErrors": "https://platform.adobe.io/data/foundation/export/batches/01EF01X41KJD82Y9ZX6ET54PCZ/meta?path=row_error_samples.json"
                            },
                            "errors": [
                                {"code": "INGEST-1212-400", "message": "Encountered 1 errors in the data. Successfully ingested 99 rows. Review the associated diagnostic files for additional details."},
                                {"code": "MAPPER-3700-400", "recordCount": 1, "message": "Mapper Transform Error"}
                            ]
                        }
                    },
                    "targetInfo": [
                        {
                            "id": "47166b83-01c7-4b65-966b-8301c70b6562",
                            "type": "TargetConnection",
                            "reference": {"type": "Batch", "ids": ["01EF01X41KJD82Y9ZX6ET54PCZ"]}
                        }
                    ]
                }
            ]
        }
    ],
    "_links": {}
}
""")
# The run of the newer "Monitor dataflows" API page, verbatim
# (https://experienceleague.adobe.com/en/docs/experience-platform/dataflows/api/monitor): UUID ids and names; the batch
# shows only in the promotion activity's manifest link.
DOC_RUNS_NEW = json.loads(r"""

{
    "items": [
        {
            "id": "65b7cfcc-6b2e-47c8-8194-13005b792752",
            "createdAt": 1607520228894,
            "updatedAt": 1607520276948,
            "createdBy": "{CREATED_BY}",
            "updatedBy": "{UPDATED_BY}",
            "createdClient": "{CREATED_CLIENT}",
            "updatedClient": "{UPDATED_CLIENT}",
            "sandboxId": "{SANDBOX_ID}",
            "sandboxName": "prod",
            "imsOrgId": "{ORG_ID}",
            "flowId": "f00c8762-df2f-432b-a7d7-38999fef5e8e",
            "etag": "\"560266dc-0000-0200-0000-5fd0d0140000\"",
            "metrics": {
                "durationSummary": {"startedAtUTC": 1607520205922, "completedAtUTC": 1607520262413},
                "sizeSummary": {"inputBytes": 87885, "outputBytes": 56730},
                "recordSummary": {"inputRecordCount": 26758, "outputRecordCount": 26758, "failedRecordCount": 0},
                "fileSummary": {"inputFileCount": 11, "outputFileCount": 11, "activityRefs": ["37b34f84-1ada-11eb-adc1-0242ac120002"]},
                "statusSummary": {"status": "success"}
            },
            "activities": [
                {
                    "id": "4f008a00-3a04-11eb-adc1-0242ac120002",
                    "name": "Copy Activity",
                    "updatedAtUTC": 0,
                    "durationSummary": {"startedAtUTC": 1607520205922, "completedAtUTC": 1607520236968},
                    "sizeSummary": {"inputBytes": 87885, "outputBytes": 87885},
                    "recordSummary": {"inputRecordCount": 26758, "outputRecordCount": 26758},
                    "fileSummary": {"inputFileCount": 11, "outputFileCount": 11},
                    "statusSummary": {"status": "success"}
                },
                {
                    "id": "37b34f84-1ada-11eb-adc1-0242ac120002",
                    "name": "Promotion Activity",
                    "updatedAtUTC": 0,
                    "durationSummary": {"startedAtUTC": 1607520244985, "completedAtUTC": 1607520262413},
                    "sizeSummary": {"inputBytes": 26758, "outputBytes": 56730},
                    "recordSummary": {"inputRecordCount": 26758, "outputRecordCount": 26758, "failedRecordCount": 0},
                    "fileSummary": {
                        "inputFileCount": 11,
                        "outputFileCount": 2,
                        "extensions": {"manifest": {"fileInfo": "https://platform.adobe.io/data/foundation/export/batches/01ES3TRN69E9W2DZ770XCGYAH1/meta?path=input_files", "pathPrefix": "bucket1/csv_test/"}}
                    },
                    "statusSummary": {"status": "success"}
                }
            ]
        }
    ]
}
""")


def test_run_batch_ids_reads_the_older_documented_run():
    (run,) = DOC_RUNS_OLD["items"]
    assert run_batch_ids(run) == ["01EF01X41KJD82Y9ZX6ET54PCZ"]
    assert promotion_activity(run)["id"] == "promotionActivity"


def test_run_batch_ids_reads_the_newer_documented_run():
    (run,) = DOC_RUNS_NEW["items"]
    assert run_batch_ids(run) == ["01ES3TRN69E9W2DZ770XCGYAH1"]
    assert promotion_activity(run)["id"] == "37b34f84-1ada-11eb-adc1-0242ac120002"


def test_run_batch_ids_reads_the_spec_spelling_and_runs_without_a_batch():
    (run,) = copy.deepcopy(DOC_RUNS_OLD["items"])
    run["activites"] = run.pop("activities")                   # flow-service.yaml FlowRunItemDTO's spelling
    assert run_batch_ids(run) == ["01EF01X41KJD82Y9ZX6ET54PCZ"]
    assert run_batch_ids({"id": "r", "activities": []}) == []   # a new ad hoc run: nothing promoted yet
    copy_only = {"activities": [DOC_RUNS_NEW["items"][0]["activities"][0]]}
    assert promotion_activity(copy_only) is None and run_batch_ids(copy_only) == []
