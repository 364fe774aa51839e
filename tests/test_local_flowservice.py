"""Flow Service of AEP Local: the documented Shopify sequence replayed verbatim, validation, PATCH/etags, runs, and
every list feature (filters, orderby, paging, count) -- over loopback HTTP."""

from __future__ import annotations

import base64
import copy
import json
from urllib.parse import parse_qs, urlparse

import pytest

from conftest import FLOW, SANDBOXES

SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
FAR_FUTURE = 4102444800           # 2100-01-01, epoch seconds: scheduled flows never come due in these tests

# https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/create/ecommerce/shopify / https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce / https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce / https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce request bodies, verbatim (the source connection's trailing comma removed).
BASE_CONNECTION_DOC = """{
      "name": "Shopify source",
      "description": "Shopify source",
      "auth": {
          "specName": "Basic Authentication",
          "params": {
              "host": "{HOST}",
              "accessToken": "{ACCESS_TOKEN}"
          }
      },
      "connectionSpec": {
          "id": "4f63aa36-bd48-4e33-bb83-49fbcd11c708",
          "version": "1.0"
      }
  }"""
SOURCE_CONNECTION_DOC = """{
        "name": "Shopify source connection",
        "baseConnectionId": "582f4f8d-71e9-4a5c-a164-9d2056318d6c",
        "description": "Shopify source connection",
        "data": {
            "format": "tabular"
        },
        "params": {
            "tableName": "Shopify.Orders",
            "columns": [
                {
                    "name": "Email",
                    "type": "string"
                },
                {
                    "name": "Phone",
                    "type": "string"
                }
            ]
        },
        "connectionSpec": {
            "id": "4f63aa36-bd48-4e33-bb83-49fbcd11c708",
            "version": "1.0"
        }
    }"""
TARGET_CONNECTION_DOC = """{
        "name": "Shopify target connection",
        "description": "Shopify target connection",
        "data": {
            "format": "parquet_xdm",
            "schema": {
                "id": "https://ns.adobe.com/{TENANT_ID}/schemas/854ddc36ad2c7bd001f66a4392575ed4004f81883328772f",
                "version": "application/vnd.adobe.xed-full-notext+json; version=1"
            }
        },
        "params": {
            "dataSetId": "5fa9c083de62e418dd170b42"
        },
        "connectionSpec": {
            "id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c",
            "version": "1.0"
        }
    }"""
FLOW_DOC = """{
        "name": "Test Shopify dataflow",
        "description": "Shopify With mapping ingestion",
        "flowSpec": {
            "id": "14518937-270c-4525-bdec-c2ba7cce3860",
            "version": "1.0"
        },
        "sourceConnectionIds": [
            "c278ab14-acdf-440b-b67f-1265d15a7655"
        ],
        "targetConnectionIds": [
            "6c0ba537-a96b-4d74-8c95-450eb88baee8"
        ],
        "transformations": [
            {
                "name": "Mapping",
                "params": {
                    "mappingId": "22922102bffd4369b6209c102a604062",
                    "mappingVersion": 0
                }
            }
        ],
        "scheduleParams": {
            "startTime": "1604961070",
            "frequency": "once"
        }
    }"""

AUDIT = {"id", "createdAt", "updatedAt", "createdBy", "updatedBy", "createdClient", "updatedClient", "sandboxId",
         "sandboxName", "imsOrgId", "version", "etag"}


def assert_created(r):
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "etag"}
    assert len(body["id"]) == 36 and body["id"].count("-") == 4
    assert body["etag"].startswith('"') and body["etag"].endswith('"') and "-0000-0200-0000-" in body["etag"]
    return body


def assert_flow_error(r, code, status=None):
    status = status or int(code.rsplit("-", 1)[1])
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == f"https://ns.adobe.com/aep/errors/FLOW-{code}", body
    assert body["status"] == status
    assert body["errorMessage"] == body["errorDetails"] == body["report"]["detailed-message"]
    return body


@pytest.fixture(scope="module")
def sandbox(raw):
    """A sandbox of its own, so the counts of this module never see other tests' resources."""
    r = raw.post(SANDBOXES, json={"name": "flowtests", "title": "Flow Service tests", "type": "development"},
                 headers=raw.headers(sandbox=None))
    assert r.status_code == 202, r.text
    return "flowtests"


@pytest.fixture(scope="module")
def h(raw, sandbox):
    return raw.headers(sandbox=sandbox)


@pytest.fixture(scope="module")
def chain(raw, h):
    """base connection -> source connection -> target connection -> flow, built from the documented bodies."""
    base = json.loads(BASE_CONNECTION_DOC)
    base["auth"]["params"] = {"host": "acme-outfitters.myshopify.com", "accessToken": "shpat_0123456789abcdef"}
    base_id = assert_created(raw.post(f"{FLOW}/connections", json=base, headers=h))["id"]
    source = json.loads(SOURCE_CONNECTION_DOC)
    source["baseConnectionId"] = base_id
    source_id = assert_created(raw.post(f"{FLOW}/sourceConnections", json=source, headers=h))["id"]
    target_id = assert_created(raw.post(f"{FLOW}/targetConnections", json=json.loads(TARGET_CONNECTION_DOC),
                                        headers=h))["id"]
    return {"base": base_id, "source": source_id, "target": target_id}


def flow_body(chain, **changes):
    body = json.loads(FLOW_DOC)
    body["sourceConnectionIds"] = [chain["source"]]
    body["targetConnectionIds"] = [chain["target"]]
    body.update(changes)
    return body


# -- specs --------------------------------------------------------------------------------------------------------
def test_flow_spec_lookup_with_and_without_quotes(raw, h):
    for prop in ('name=="CRMToAEP"', "name==CRMToAEP"):
        r = raw.get(f"{FLOW}/flowSpecs", params={"property": prop}, headers=h)
        assert r.status_code == 200
        items = r.json()["items"]
        assert [i["id"] for i in items] == [CRM_TO_AEP]
        spec = items[0]
        assert SHOPIFY in spec["sourceConnectionSpecIds"]
        assert spec["targetConnectionSpecIds"] == [DATA_LAKE]
        assert spec["scheduleSpec"]["spec"]["else"]["then"] == {"properties": {"interval": {"minimum": 15}}}
        assert [t["name"] for t in spec["transformationSpec"]] == ["Copy", "Mapping"]
    assert raw.get(f"{FLOW}/flowSpecs", params={"property": "name==nothing"}, headers=h).json()["items"] == []
    r = raw.get(f"{FLOW}/flowSpecs/{CRM_TO_AEP}", headers=h)
    assert r.json()["items"][0]["name"] == "CRMToAEP"


def test_connection_specs(raw, h):
    r = raw.get(f"{FLOW}/connectionSpecs/{SHOPIFY}", headers=h)
    spec = r.json()["items"][0]
    assert {"id", "name", "providerId", "version", "authSpec", "sourceSpec", "exploreSpec", "attributes",
            "permissionsInfo"} <= set(spec)
    assert {a["name"] for a in spec["authSpec"]} == {"Basic Authentication", "Access Token Based"}
    for auth in spec["authSpec"]:
        assert auth["spec"]["required"] == ["host", "accessToken"]
        assert auth["spec"]["properties"]["accessToken"]["format"] == "password"
    r = raw.get(f"{FLOW}/connectionSpecs", params={"property": "attributes.connectorName==Shopify"}, headers=h)
    assert [s["id"] for s in r.json()["items"]] == [SHOPIFY]
    assert_flow_error(raw.get(f"{FLOW}/connectionSpecs/00000000-0000-0000-0000-000000000000", headers=h),
                      "1439-404")
    # the names clients look specs up by (aepp's getConnectionSpecIdFromName("shopify") / ("datalake"))
    names = {s["name"]: s["id"] for s in raw.get(f"{FLOW}/connectionSpecs", headers=h).json()["items"]}
    assert names == {"shopify": SHOPIFY, "datalake": DATA_LAKE}
    r = raw.get(f"{FLOW}/connectionSpecs", params={"property": 'name=="datalake"'}, headers=h)
    assert [s["id"] for s in r.json()["items"]] == [DATA_LAKE]


# -- base connections ---------------------------------------------------------------------------------------------
def test_base_connection_shape_and_secret_masking(raw, h, chain):
    r = raw.get(f"{FLOW}/connections/{chain['base']}", headers=h)
    assert r.status_code == 200
    item = r.json()["items"][0]
    assert AUDIT <= set(item)
    assert item["version"] == item["etag"]
    assert item["state"] == "enabled"
    assert item["connectionSpec"] == {"id": SHOPIFY, "version": "1.0"}
    assert item["auth"]["params"]["host"] == "acme-outfitters.myshopify.com"
    assert item["auth"]["params"]["accessToken"] == "********"
    assert "shpat_0123456789abcdef" not in r.text
    assert item["sandboxName"] == "flowtests" and item["imsOrgId"].endswith("@AdobeOrg")
    assert item["createdBy"] == "aep-local-dev@AdobeID" and item["createdClient"] == "aep-local-dev"
    listed = raw.get(f"{FLOW}/connections", headers=h)
    assert "shpat_0123456789abcdef" not in listed.text


def test_access_token_based_variant(raw, h):
    body = {"name": "Create shopify v2 Test Connection", "description": "Connection creation for Shopify",
            "auth": {"specName": "Access Token Based", "params": {"host": "{HOST}", "accessToken": "{ACCESS_TOKEN}"}},
            "connectionSpec": {"id": SHOPIFY, "version": "1.0"}}
    assert_created(raw.post(f"{FLOW}/connections", json=body, headers=h))


def test_base_connection_validation(raw, h):
    body = json.loads(BASE_CONNECTION_DOC)
    bad = copy.deepcopy(body)
    bad["connectionSpec"]["id"] = "ba6e206f-f233-ab16-0000-000000000000"
    assert_flow_error(raw.post(f"{FLOW}/connections", json=bad, headers=h), "1413-400")
    bad = copy.deepcopy(body)
    bad["connectionSpec"]["version"] = "2.0"
    assert_flow_error(raw.post(f"{FLOW}/connections", json=bad, headers=h), "1413-400")
    bad = copy.deepcopy(body)
    bad["auth"]["specName"] = "authConnection"
    err = assert_flow_error(raw.post(f"{FLOW}/connections", json=bad, headers=h), "1415-400")
    assert err["errorMessage"] == ("The auth spec 'authConnection' could not be found for the connection spec ID "
                                   f"{SHOPIFY}.")
    bad = copy.deepcopy(body)
    del bad["auth"]["params"]["accessToken"]
    err = assert_flow_error(raw.post(f"{FLOW}/connections", json=bad, headers=h), "1100-400")
    assert "accessToken" in err["errorMessage"]
    assert_flow_error(raw.post(f"{FLOW}/connections", json={}, headers=h), "1405-400")


def test_connection_test_endpoint(raw, h, chain):
    assert raw.get(f"{FLOW}/connections/{chain['base']}/test", headers=h).json() == {"result": True}
    body = json.loads(BASE_CONNECTION_DOC)
    body["auth"]["params"] = {"host": "https://shop.example.com", "accessToken": "x"}
    cid = assert_created(raw.post(f"{FLOW}/connections", json=body, headers=h))["id"]
    result = raw.get(f"{FLOW}/connections/{cid}/test", headers=h).json()
    assert result["result"] is False
    assert raw.delete(f"{FLOW}/connections/{cid}", headers=h).status_code == 204


# -- explore ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shop(local_server):
    return local_server.platform.shop


def test_explore_root(raw, h, chain, shop):
    r = raw.get(f"{FLOW}/connections/{chain['base']}/explore", params={"objectType": "root"}, headers=h)
    assert r.status_code == 200
    items = r.json()
    assert isinstance(items, list) and items
    for item in items:
        assert set(item) == {"type", "name", "path", "canPreview", "canFetchSchema"}
        assert item["type"] == "table"
    assert "Shopify.Orders" in {i["path"] for i in items}


def test_explore_table_and_preview(raw, h, chain, shop):
    url = f"{FLOW}/connections/{chain['base']}/explore"
    r = raw.get(url, params={"objectType": "table", "object": "Shopify.Orders"}, headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["format"] == "flat"
    columns = body["schema"]["columns"]
    assert {"Email", "Phone"} <= {c["name"] for c in columns}
    for column in columns:
        assert {"name", "type", "xdm"} <= set(column)
    assert "data" not in body
    r = raw.get(url, params={"objectType": "TABLE", "object": "Shopify.Orders", "preview": "true"}, headers=h)
    rows = r.json()["data"]
    assert 0 < len(rows) <= 10
    assert set(rows[0]) <= {c["name"] for c in columns}
    assert_flow_error(raw.get(url, params={"objectType": "table", "object": "Shopify.Nope"}, headers=h), "1100-400")


def _pql(node):
    doc = {"type": "PQL", "format": "pql/json", "value": node}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def test_explore_preview_filters(raw, h, chain, shop):
    url = f"{FLOW}/connections/{chain['base']}/explore"
    field = lambda n: {"nodeType": "fieldLookup", "fieldName": n}  # noqa: E731
    lit = lambda v: {"nodeType": "literal", "value": v}  # noqa: E731
    rows = raw.get(url, params={"objectType": "table", "object": "Shopify.Orders", "preview": "true"},
                   headers=h).json()["data"]
    currency = rows[0]["Currency"]
    eq = {"nodeType": "fnApply", "fnName": "=", "params": [field("Currency"), lit(currency)]}
    got = raw.get(url, params={"objectType": "table", "object": "Shopify.Orders", "preview": "true",
                               "filters": _pql(eq)}, headers=h).json()["data"]
    assert got and all(row["Currency"] == currency for row in got)
    neither = {"nodeType": "fnApply", "fnName": "and", "params": [
        {"nodeType": "fnApply", "fnName": "NOT", "params": [eq]},
        {"nodeType": "fnApply", "fnName": "or", "params": [
            {"nodeType": "fnApply", "fnName": "isNull", "params": [field("Email")]},
            {"nodeType": "fnApply", "fnName": "like", "params": [field("Email"), lit("%@%")]}]}]}
    got = raw.get(url, params={"objectType": "table", "object": "Shopify.Orders", "preview": "true",
                               "filters": _pql(neither)}, headers=h).json()["data"]
    assert all(row["Currency"] != currency for row in got)
    inn = {"nodeType": "fnApply", "fnName": "in", "params": [field("Currency"), lit([currency, "XXX"])]}
    got = raw.get(url, params={"objectType": "table", "object": "Shopify.Orders", "preview": "true",
                               "filters": _pql(inn)}, headers=h).json()["data"]
    assert got and {row["Currency"] for row in got} == {currency}
    r = raw.get(url, params={"objectType": "table", "object": "Shopify.Orders", "preview": "true",
                             "filters": "not-base64!"}, headers=h)
    assert_flow_error(r, "1100-400")


# -- source and target connections --------------------------------------------------------------------------------
def test_source_connection_shape(raw, h, chain):
    item = raw.get(f"{FLOW}/sourceConnections/{chain['source']}", headers=h).json()["items"][0]
    assert AUDIT <= set(item)
    assert item["baseConnectionId"] == chain["base"]
    assert item["data"] == {"format": "tabular"}
    assert item["params"]["tableName"] == "Shopify.Orders"
    assert item["inheritedAttributes"]["baseConnection"]["id"] == chain["base"]


def test_source_connection_validation(raw, h, chain):
    body = json.loads(SOURCE_CONNECTION_DOC)          # baseConnectionId of the documentation: not here
    err = assert_flow_error(raw.post(f"{FLOW}/sourceConnections", json=body, headers=h), "1439-400")
    assert err["report"]["type"] == "connections"
    body["baseConnectionId"] = chain["base"]
    bad = copy.deepcopy(body)
    bad["params"]["tableName"] = "Shopify.Unknown"
    err = assert_flow_error(raw.post(f"{FLOW}/sourceConnections", json=bad, headers=h), "1100-400")
    assert "Shopify.Unknown" in err["errorMessage"]
    bad = copy.deepcopy(body)
    bad["params"]["columns"].append({"name": "No_Such_Column", "type": "string"})
    err = assert_flow_error(raw.post(f"{FLOW}/sourceConnections", json=bad, headers=h), "1100-400")
    assert "No_Such_Column" in err["errorMessage"]
    bad = copy.deepcopy(body)
    bad["connectionSpec"]["id"] = DATA_LAKE
    assert_flow_error(raw.post(f"{FLOW}/sourceConnections", json=bad, headers=h), "1100-400")


def test_target_connection_shape(raw, h, chain):
    item = raw.get(f"{FLOW}/targetConnections/{chain['target']}", headers=h).json()["items"][0]
    assert AUDIT <= set(item)
    assert item["params"] == {"dataSetId": "5fa9c083de62e418dd170b42"}
    assert item["data"]["format"] == "parquet_xdm"
    body = json.loads(TARGET_CONNECTION_DOC)
    del body["params"]["dataSetId"]
    assert_flow_error(raw.post(f"{FLOW}/targetConnections", json=body, headers=h), "1100-400")


# -- flows --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def flow(raw, h, chain):
    return assert_created(raw.post(f"{FLOW}/flows", json=flow_body(chain), headers=h))


def test_flow_get_shape(raw, h, chain, flow):
    r = raw.get(f"{FLOW}/flows/{flow['id']}", headers=h)
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == 1
    item = items[0]
    assert AUDIT <= set(item)
    assert item["etag"] == item["version"] == flow["etag"]
    assert item["state"] == "enabled"
    assert item["name"] == "Test Shopify dataflow"
    assert item["flowSpec"] == {"id": CRM_TO_AEP, "version": "1.0"}
    assert item["sourceConnectionIds"] == [chain["source"]]
    assert item["targetConnectionIds"] == [chain["target"]]
    inherited = item["inheritedAttributes"]
    assert inherited["sourceConnections"][0]["id"] == chain["source"]
    assert inherited["sourceConnections"][0]["connectionSpec"]["id"] == SHOPIFY
    assert inherited["sourceConnections"][0]["baseConnection"]["id"] == chain["base"]
    assert inherited["targetConnections"][0] == {"id": chain["target"],
                                                 "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}}
    assert item["scheduleParams"] == {"startTime": "1604961070", "frequency": "once"}
    assert item["transformations"] == [{"name": "Mapping", "params": {
        "mappingId": "22922102bffd4369b6209c102a604062", "mappingVersion": "0"}}]
    assert item["runs"] == f"/flows/{flow['id']}/runs"
    assert item["lastOperation"]["operation"] == "create"
    assert item["lastOperation"]["status"]["value"] == "completed"
    assert item["sandboxName"] == "flowtests"


def test_state_not_allowed_on_create(raw, h, chain):
    err = assert_flow_error(raw.post(f"{FLOW}/flows", json=flow_body(chain, state="enabled"), headers=h),
                            "1410-400")
    assert "State is not allowed" in err["errorMessage"]


@pytest.mark.parametrize("schedule, ok", [
    ({"startTime": FAR_FUTURE, "frequency": "minute", "interval": 10}, False),
    ({"startTime": FAR_FUTURE, "frequency": "minute", "interval": 15}, True),
    ({"startTime": str(FAR_FUTURE), "frequency": "once", "interval": 1}, False),
    ({"startTime": str(FAR_FUTURE), "frequency": "once", "backfill": True}, False),
    ({"startTime": str(FAR_FUTURE), "frequency": "hour", "interval": 1}, True),
    ({"startTime": str(FAR_FUTURE), "frequency": "hour", "interval": "1", "backfill": "false"}, True),
    ({"startTime": str(FAR_FUTURE), "frequency": "day"}, False),
    ({"startTime": str(FAR_FUTURE), "frequency": "month", "interval": 1}, False),
    ({"frequency": "once"}, False),
    ({"startTime": "soon", "frequency": "once"}, False),
])
def test_schedule_validation(raw, h, chain, schedule, ok):
    r = raw.post(f"{FLOW}/flows", json=flow_body(chain, scheduleParams=schedule), headers=h)
    if ok:
        created = assert_created(r)
        item = raw.get(f"{FLOW}/flows/{created['id']}", headers=h).json()["items"][0]
        assert all(isinstance(v, str) for v in item["scheduleParams"].values())
        assert raw.delete(f"{FLOW}/flows/{created['id']}", headers=h).status_code == 204
    else:
        err = assert_flow_error(r, "1100-400")
        assert "scheduleParams" in err["errorMessage"]


def test_flow_reference_validation(raw, h, chain):
    assert_flow_error(raw.post(f"{FLOW}/flows", json=flow_body(chain, sourceConnectionIds=["nope"]), headers=h),
                      "1439-400")
    assert_flow_error(raw.post(f"{FLOW}/flows", json=flow_body(chain, targetConnectionIds=[chain["source"]]),
                               headers=h), "1439-400")
    assert_flow_error(raw.post(f"{FLOW}/flows", json=flow_body(chain, flowSpec={"id": "x", "version": "1.0"}),
                               headers=h), "1413-400")
    bad = flow_body(chain, transformations=[{"name": "Mapping", "params": {"mappingId": "abc",
                                                                            "mappingVersion": "latest"}}])
    assert_flow_error(raw.post(f"{FLOW}/flows", json=bad, headers=h), "1412-400")
    bad = flow_body(chain, transformations=[{"name": "Copy", "params": {"deltaColumn": {}}}])
    assert_flow_error(raw.post(f"{FLOW}/flows", json=bad, headers=h), "1100-400")
    good = flow_body(chain, transformations=[
        {"name": "Copy", "params": {"deltaColumn": {"name": "Updated_At", "dateFormat": "YYYY-MM-DD",
                                                    "timezone": "UTC"}}},
        {"name": "Mapping", "params": {"mappingId": "22922102bffd4369b6209c102a604062", "mappingVersion": "0"}}],
        scheduleParams={"startTime": FAR_FUTURE, "frequency": "day", "interval": 1})
    created = assert_created(raw.post(f"{FLOW}/flows", json=good, headers=h))
    assert raw.delete(f"{FLOW}/flows/{created['id']}", headers=h).status_code == 204


def _new_flow(raw, h, chain, **changes):
    body = flow_body(chain, scheduleParams={"startTime": FAR_FUTURE, "frequency": "minute", "interval": 15},
                     **changes)
    return assert_created(raw.post(f"{FLOW}/flows", json=body, headers=h))


def test_patch_flow(raw, h, chain):
    created = _new_flow(raw, h, chain)
    url = f"{FLOW}/flows/{created['id']}"
    ops = [{"op": "replace", "path": "/scheduleParams/frequency", "value": "day"},
           {"op": "replace", "path": "/name", "value": "Database Dataflow Feb2021"},
           {"op": "replace", "path": "/description", "value": "Database dataflow for testing update API"}]
    r = raw.patch(url, json=ops, headers={**h, "If-Match": created["etag"]})
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["id"] == created["id"] and updated["etag"] != created["etag"]
    item = raw.get(url, headers=h).json()["items"][0]
    assert item["name"] == "Database Dataflow Feb2021"
    assert item["scheduleParams"]["frequency"] == "day"
    assert item["lastOperation"]["operation"] == "update"
    assert item["lastOperation"]["ops"] == ops
    assert item["etag"] == updated["etag"]

    # unquoted If-Match works too
    r = raw.patch(url, json=[{"op": "add", "path": "/description", "value": "x"}],
                  headers={**h, "If-Match": updated["etag"].strip('"')})
    assert r.status_code == 200
    current = r.json()["etag"]

    # stale etag
    r = raw.patch(url, json=[{"op": "replace", "path": "/name", "value": "late"}],
                  headers={**h, "If-Match": created["etag"]})
    err = assert_flow_error(r, "1404-412")
    assert err["errorMessage"] == (f"Supplied version=[{created['etag']}] does not match the current version on "
                                   f"entity=[{current}]")
    # missing If-Match, unsupported op, bad path, read-only field
    assert_flow_error(raw.patch(url, json=[{"op": "replace", "path": "/name", "value": "a"}], headers=h), "1403-400")
    assert_flow_error(raw.patch(url, json=[{"op": "move", "path": "/name", "from": "/description"}],
                                headers={**h, "If-Match": current}), "1434-400")
    err = assert_flow_error(raw.patch(url, json=[{"op": "replace", "path": "/keyWhichDoesNotExist/x", "value": 1}],
                                      headers={**h, "If-Match": current}), "1455-400")
    assert 'Missing field "keyWhichDoesNotExist"' in err["errorMessage"]
    assert_flow_error(raw.patch(url, json=[{"op": "replace", "path": "/id", "value": "x"}],
                                headers={**h, "If-Match": current}), "1455-400")
    # the schedule is re-validated after the patch
    r = raw.patch(url, json=[{"op": "replace", "path": "/scheduleParams/frequency", "value": "minute"},
                             {"op": "replace", "path": "/scheduleParams/interval", "value": 10}],
                  headers={**h, "If-Match": current})
    assert_flow_error(r, "1100-400")
    assert raw.get(url, headers=h).json()["items"][0]["etag"] == current


def test_patch_connection(raw, h):
    body = json.loads(BASE_CONNECTION_DOC)
    created = assert_created(raw.post(f"{FLOW}/connections", json=body, headers=h))
    url = f"{FLOW}/connections/{created['id']}"
    ops = [{"op": "replace", "path": "/auth/params", "value": {"host": "new.myshopify.com", "accessToken": "tok2"}},
           {"op": "add", "path": "/description", "value": "updated"}]
    r = raw.patch(url, json=ops, headers={**h, "If-Match": created["etag"]})
    assert r.status_code == 200, r.text
    item = raw.get(url, headers=h).json()["items"][0]
    assert item["auth"]["params"] == {"host": "new.myshopify.com", "accessToken": "********"}
    r = raw.patch(url, json=[{"op": "replace", "path": "/connectionSpec/id", "value": DATA_LAKE}],
                  headers={**h, "If-Match": item["etag"]})
    assert_flow_error(r, "1414-400")
    assert raw.delete(url, headers=h).status_code == 204


def test_enable_disable(raw, h, chain):
    created = _new_flow(raw, h, chain)
    url = f"{FLOW}/flows/{created['id']}"
    r = raw.post(f"{url}/action", params={"op": "disable"}, headers=h)
    assert r.status_code == 200 and set(r.json()) == {"id", "etag"}
    assert raw.get(url, headers=h).json()["items"][0]["state"] == "disabled"
    r = raw.post(f"{url}/action", params={"op": "ENABLE"}, headers=h)
    assert raw.get(url, headers=h).json()["items"][0]["state"] == "enabled"
    assert_flow_error(raw.post(f"{url}/action", params={"op": "explode"}, headers=h), "1100-400")


def test_delete_rules(raw, h, chain, flow):
    err = assert_flow_error(raw.delete(f"{FLOW}/connections/{chain['base']}", headers=h), "1418-400")
    assert chain["base"] in err["errorMessage"]
    assert_flow_error(raw.delete(f"{FLOW}/sourceConnections/{chain['source']}", headers=h), "1447-400")
    assert_flow_error(raw.delete(f"{FLOW}/targetConnections/{chain['target']}", headers=h), "1447-400")
    doomed = _new_flow(raw, h, chain)
    r = raw.delete(f"{FLOW}/flows/{doomed['id']}", headers=h)
    assert r.status_code == 204 and r.content == b""
    err = assert_flow_error(raw.get(f"{FLOW}/flows/{doomed['id']}", headers=h), "1439-404")
    assert err["title"] == "Resource not found"
    assert err["report"]["id"] == doomed["id"] and err["report"]["type"] == "flows"
    assert err["errorMessage"] == (f"The requested flows resource {doomed['id']} is not found. Verify the resource "
                                   "ID before trying again.")


# -- runs ---------------------------------------------------------------------------------------------------------
def test_ad_hoc_runs(raw, h, chain):
    created = _new_flow(raw, h, chain)
    body = {"flowId": created["id"], "params": {"windowStartTime": "1651584991", "windowEndTime": "16515859567",
                                                "deltaColumn": {"name": "DOB"}}}
    r = raw.post(f"{FLOW}/runs", json=body, headers=h)
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["flowId"] == created["id"]
    assert run["params"] == body["params"]
    assert run["metrics"]["statusSummary"]["status"] in ("scheduled", "inProgress", "success", "failed")
    assert run["activities"] == [] and run["etag"].startswith('"')
    got = raw.get(f"{FLOW}/runs/{run['id']}", headers=h).json()["items"]
    assert [g["id"] for g in got] == [run["id"]]
    second = raw.post(f"{FLOW}/runs", json={"flowId": created["id"]}, headers=h).json()
    listed = raw.get(f"{FLOW}/runs", params={"property": f"flowId=={created['id']}"}, headers=h).json()
    assert {i["id"] for i in listed["items"]} == {run["id"], second["id"]}
    via_flow = raw.get(f"{FLOW}/flows/{created['id']}/runs", headers=h).json()
    assert {i["id"] for i in via_flow["items"]} == {run["id"], second["id"]}
    assert raw.get(f"{FLOW}/runs", params={"property": f"flowId=={created['id']}", "count": "true"},
                   headers=h).json() == {"count": 2}
    assert_flow_error(raw.post(f"{FLOW}/runs", json={"flowId": "00000000-0000-4000-8000-000000000000"}, headers=h),
                      "1430-400")
    assert_flow_error(raw.post(f"{FLOW}/runs", json={"params": {}}, headers=h), "1446-400")
    assert_flow_error(raw.post(f"{FLOW}/runs", json={"flowId": created["id"], "params": {"windowStartTime": "x"}},
                               headers=h), "1100-400")


# -- lists --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def listing(raw, local_server):
    """25 flows in a sandbox of their own: flow-00 .. flow-24; even ones hourly, odd ones daily."""
    name = "listing"
    assert raw.post(SANDBOXES, json={"name": name, "title": "Lists", "type": "development"},
                    headers=raw.headers(sandbox=None)).status_code == 202
    h = raw.headers(sandbox=name)
    base = json.loads(BASE_CONNECTION_DOC)
    base_id = assert_created(raw.post(f"{FLOW}/connections", json=base, headers=h))["id"]
    sources = []
    for _ in range(2):
        source = json.loads(SOURCE_CONNECTION_DOC)
        source["baseConnectionId"] = base_id
        sources.append(assert_created(raw.post(f"{FLOW}/sourceConnections", json=source, headers=h))["id"])
    target = assert_created(raw.post(f"{FLOW}/targetConnections", json=json.loads(TARGET_CONNECTION_DOC),
                                     headers=h))["id"]
    flows = []
    for i in range(25):
        body = flow_body({"source": sources[i % 2], "target": target}, name=f"flow-{i:02d}",
                         scheduleParams={"startTime": FAR_FUTURE, "frequency": "hour" if i % 2 == 0 else "day",
                                         "interval": 1})
        flows.append(assert_created(raw.post(f"{FLOW}/flows", json=body, headers=h))["id"])
    return {"h": h, "flows": flows, "sources": sources}


def _names(r):
    assert r.status_code == 200, r.text
    return [i["name"] for i in r.json()["items"]]


def test_list_filters(raw, listing):
    h = listing["h"]
    url = f"{FLOW}/flows"
    assert _names(raw.get(url, params={"property": "name==flow-03"}, headers=h)) == ["flow-03"]
    assert _names(raw.get(url, params={"property": 'name=="flow-03"'}, headers=h)) == ["flow-03"]
    assert sorted(_names(raw.get(url, params={"property": "name==flow-03,flow-07,nothing"}, headers=h))) == \
        ["flow-03", "flow-07"]
    assert len(_names(raw.get(url, params={"property": "name!=flow-03"}, headers=h))) == 24
    assert len(_names(raw.get(url, params={"property": "scheduleParams.frequency==hour"}, headers=h))) == 13
    both = raw.get(url, params=[("property", "scheduleParams.frequency==hour"), ("property", "name==flow-02,flow-03")],
                   headers=h)
    assert _names(both) == ["flow-02"]
    first_source = listing["sources"][0]
    assert len(_names(raw.get(url, params={"property": f"sourceConnectionIds[]=={first_source}"}, headers=h))) == 13
    assert len(_names(raw.get(url, params={"property": f"sourceConnectionIds=={first_source}"}, headers=h))) == 13
    assert len(_names(raw.get(url, params={"property": f"sourceConnectionIds[]!={first_source}"}, headers=h))) == 12
    assert len(_names(raw.get(url, params={"property": "state==enabled"}, headers=h))) == 25
    assert len(_names(raw.get(url, params={"property": f"id=={listing['flows'][5]}"}, headers=h))) == 1
    items = raw.get(url, params={"orderby": "createdAt"}, headers=h).json()["items"]
    pivot = items[10]["createdAt"]
    assert len(_names(raw.get(url, params={"property": f"createdAt>{pivot}"}, headers=h))) == 14
    assert len(_names(raw.get(url, params={"property": f"createdAt>={pivot}"}, headers=h))) == 15
    assert len(_names(raw.get(url, params={"property": f"createdAt<{pivot}"}, headers=h))) == 10
    assert len(_names(raw.get(url, params={"property": f"createdAt<={pivot}"}, headers=h))) == 11
    assert len(_names(raw.get(url, params={"property": "transformations[].params.mappingVersion==0"},
                              headers=h))) == 25
    sources = raw.get(f"{FLOW}/sourceConnections", params={"property": "params.columns[].name==Email"}, headers=h)
    assert len(sources.json()["items"]) == 2
    assert raw.get(f"{FLOW}/sourceConnections", params={"property": "params.columns[].name==Nope"},
                   headers=h).json()["items"] == []


def test_list_orderby(raw, listing):
    h = listing["h"]
    url = f"{FLOW}/flows"
    expected = [f"flow-{i:02d}" for i in range(25)]
    assert _names(raw.get(url, params={"orderby": "name"}, headers=h)) == expected
    assert _names(raw.get(url, params={"orderby": "+name"}, headers=h)) == expected
    assert _names(raw.get(url + "?orderby=%2Bname", headers=h)) == expected
    assert _names(raw.get(url, params={"orderby": "-name"}, headers=h)) == expected[::-1]
    assert _names(raw.get(url, params={"orderby": "-createdAt"}, headers=h)) == expected[::-1]
    assert _names(raw.get(url, params={"orderby": "scheduleParams.frequency"}, headers=h))[:12] == \
        [n for i, n in enumerate(expected) if i % 2]
    assert_flow_error(raw.get(url, params={"orderby": "#id"}, headers=h), "1433-400")
    assert_flow_error(raw.get(url, params={"orderby": "connections"}, headers=h), "1433-400")
    assert_flow_error(raw.get(url, params={"orderby": "--name"}, headers=h), "1432-400")


@pytest.mark.parametrize("encoded", ["%09", "%0A", "%09%09", "%C2%A0", "%20%09"])
def test_list_orderby_whitespace_only_is_a_400(raw, h, encoded):
    """An ``orderby`` of nothing but whitespace names no field: a documented 400 on every list, never a 500."""
    for collection in ("flows", "connections", "sourceConnections", "targetConnections", "runs"):
        r = raw.get(f"{FLOW}/{collection}?orderby={encoded}", headers=h)
        if encoded.startswith("%20"):  # a leading space reads as a sort sign (+), then nothing but whitespace
            body = assert_flow_error(r, "1432-400")
            assert body["errorMessage"].startswith("Sort order specified is not correct")
        else:
            body = assert_flow_error(r, "1433-400")
            assert body["errorMessage"].startswith("Incorrect field=") and "passed in orderBy" in body["errorMessage"]


@pytest.mark.parametrize("orderby", [None, "name", "-name", "-createdAt", "scheduleParams.frequency"])
def test_list_paging_through_all_pages(raw, listing, orderby):
    h = listing["h"]
    params = {"limit": 4, "property": "state==enabled"}
    if orderby:
        params["orderby"] = orderby
    r = raw.get(f"{FLOW}/flows", params=params, headers=h)
    seen, pages = [], 0
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        assert len(body["items"]) <= 4
        seen += [i["id"] for i in body["items"]]
        nxt = body["_links"].get("next")
        if not nxt:
            assert body["_links"] == {}
            break
        href = nxt["href"]
        assert href.startswith("/flows?continuationToken=")
        query = parse_qs(urlparse(href).query)
        assert query["limit"] == ["4"] and query["property"] == ["state==enabled"]
        if orderby:
            assert query["orderby"] == [orderby]
        r = raw.get(f"{FLOW}{href}", headers=h)
    assert pages == 7
    assert len(seen) == len(set(seen)) == 25
    assert set(seen) == set(listing["flows"])


def test_paging_is_stable_under_inserts(raw, listing):
    h = listing["h"]
    r = raw.get(f"{FLOW}/flows", params={"limit": 10, "orderby": "name"}, headers=h).json()
    first = [i["name"] for i in r["items"]]
    # a new flow sorting before the cursor must not shift the next page
    body = flow_body({"source": listing["sources"][0], "target": raw.get(
        f"{FLOW}/targetConnections", headers=h).json()["items"][0]["id"]}, name="flow-00a",
        scheduleParams={"startTime": FAR_FUTURE, "frequency": "hour", "interval": 1})
    extra = assert_created(raw.post(f"{FLOW}/flows", json=body, headers=h))
    try:
        second = _names(raw.get(f"{FLOW}{r['_links']['next']['href']}", headers=h))
        assert second == [f"flow-{i:02d}" for i in range(10, 20)]
        assert not set(first) & set(second)
    finally:
        raw.delete(f"{FLOW}/flows/{extra['id']}", headers=h)


def test_list_count_and_errors(raw, listing):
    h = listing["h"]
    url = f"{FLOW}/flows"
    assert raw.get(url, params={"count": "true"}, headers=h).json() == {"count": 25}
    assert raw.get(url, params={"count": "true", "property": "scheduleParams.frequency==day"},
                   headers=h).json() == {"count": 12}
    assert_flow_error(raw.get(url, params={"count": "true", "limit": 5}, headers=h), "1401-400")
    err = assert_flow_error(raw.get(url, params={"property": "name~flow"}, headers=h), "1440-400")
    assert err["errorMessage"] == "Operator '~' not implemented."
    err = assert_flow_error(raw.get(url, params={"property": "createdAt!>5"}, headers=h), "1450-400")
    assert err["errorMessage"] == "Invalid operator !> in filter params."
    err = assert_flow_error(raw.get(url, params={"property": "connections==x"}, headers=h), "1449-400")
    assert err["errorMessage"] == "Invalid field connections in filter params."
    err = assert_flow_error(raw.get(url, params={"testParam": "1"}, headers=h), "1451-400")
    assert err["errorMessage"] == "Invalid params testParam provided in query params."
    assert_flow_error(raw.get(url, params={"property": "createdAt=="}, headers=h), "1453-400")
    assert_flow_error(raw.get(url, params={"property": "createdAt<=1,2"}, headers=h), "1443-400")
    assert_flow_error(raw.get(url, params={"property": "createdAt>yesterday"}, headers=h), "1452-400")
    assert_flow_error(raw.get(url, params={"continuationToken": "garbage"}, headers=h), "1453-400")
    assert_flow_error(raw.get(url, params={"limit": "0"}, headers=h), "1453-400")
    conns = raw.get(f"{FLOW}/connections", params={"property": "auth.params.accessToken==x"}, headers=h)
    assert_flow_error(conns, "1449-400")


def test_lists_of_every_collection(raw, listing):
    h = listing["h"]
    for collection, n in (("connections", 1), ("sourceConnections", 2), ("targetConnections", 1)):
        body = raw.get(f"{FLOW}/{collection}", headers=h).json()
        assert len(body["items"]) == n and body["_links"] == {}
        assert raw.get(f"{FLOW}/{collection}", params={"count": "true"}, headers=h).json() == {"count": n}
        first = raw.get(f"{FLOW}/{collection}", params={"limit": 1, "orderby": "-createdAt"}, headers=h).json()
        assert len(first["items"]) == 1
    assert raw.get(f"{FLOW}/connectionSpecs", params={"count": "true"}, headers=h).json() == {"count": 2}
    page = raw.get(f"{FLOW}/connectionSpecs", params={"limit": 1}, headers=h).json()
    assert page["_links"]["next"]["href"].startswith("/connectionSpecs?continuationToken=")
