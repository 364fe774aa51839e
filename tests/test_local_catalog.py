"""Catalog Service of AEP Local over loopback HTTP (https://experienceleague.adobe.com/en/docs/experience-platform/catalog/api/getting-started): datasets, list parameters, batches written by the
engine's helpers, dataset files."""

from __future__ import annotations

import re

import pytest

CAT = "/data/foundation/catalog"
SR = "/data/foundation/schemaregistry"
SANDBOXES = "/data/foundation/sandbox-management/sandboxes"
SANDBOX = "catalog-tests"
ORG = "AEPLOCAL000000000000000@AdobeOrg"
PROFILE = "https://ns.adobe.com/xdm/context/profile"
NOTEXT = "application/vnd.adobe.xed-full-notext+json; version=1"


@pytest.fixture(scope="module")
def H(raw):
    r = raw.post(SANDBOXES, headers=raw.headers(sandbox=None, json=True),
                 json={"name": SANDBOX, "title": "Catalog tests", "type": "development"})
    assert r.status_code in (201, 202, 409), r.text
    return raw.headers(sandbox=SANDBOX)


@pytest.fixture(scope="module")
def J(H):
    return {**H, "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def schema_id(raw, J):
    r = raw.post(f"{SR}/tenant/schemas", headers=J, json={
        "title": "Catalog test schema", "type": "object",
        "allOf": [{"$ref": PROFILE}, {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"}]})
    assert r.status_code == 201, r.text
    return r.json()["$id"]


def create(raw, J, body, **params):
    r = raw.post(f"{CAT}/dataSets", headers=J, json=body, params=params)
    assert r.status_code == 201, r.text
    return r.json()[0].split("/")[-1]


@pytest.fixture(scope="module")
def datasets(raw, J, schema_id):
    ids = {}
    for name, tags in (("alpha-customers", {"unifiedProfile": ["enabled:true"]}), ("beta-orders", {}),
                       ("gamma-customers", {"adobe/pqs/table": ["gamma"]})):
        ids[name] = create(raw, J, {"name": name, "description": f"{name} dataset", "tags": tags,
                                    "schemaRef": {"id": schema_id, "contentType": NOTEXT}})
    return ids


def test_create_dataset_documented_response(raw, J, H, schema_id):
    r = raw.post(f"{CAT}/dataSets", headers=J, params={"requestDataSource": "true"},
                 json={"name": "LoyaltyMembersDataset",
                       "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed+json;version=1"}})
    assert r.status_code == 201
    body = r.json()
    assert isinstance(body, list) and len(body) == 1 and re.fullmatch(r"@/dataSets/[0-9a-f]{24}", body[0])
    ds_id = body[0].split("/")[-1]
    assert r.headers["Location"].endswith(f"/dataSets/{ds_id}")
    got = raw.get(f"{CAT}/dataSets/{ds_id}", headers=H).json()
    assert list(got) == [ds_id]
    doc = got[ds_id]
    assert doc["name"] == "LoyaltyMembersDataset"
    assert doc["schemaRef"] == {"id": schema_id, "contentType": "application/vnd.adobe.xed+json;version=1"}
    assert doc["files"] == f"@/dataSetFiles?dataSetId={ds_id}"
    assert doc["imsOrg"] == ORG and doc["version"] == "1.0.0" and doc["state"] == "DRAFT"
    assert doc["createdClient"] == "aep-local-dev" and doc["createdUser"] and doc["updatedUser"]
    assert isinstance(doc["created"], int) and doc["created"] == doc["updated"]
    # the tags and classification the docs show: the Query Service table, the table format, the data behaviour
    assert doc["tags"] == {"adobe/pqs/table": ["loyaltymembersdataset"], "adobe/siphon/table/format": ["parquet"]}
    assert doc["classification"] == {"dataBehavior": "record", "managedBy": "CUSTOMER"}
    assert doc["enableErrorDiagnostics"] is False
    assert re.fullmatch(r"[0-9a-f]{24}", doc["viewId"])
    assert "dataSourceId" in doc


def test_create_dataset_by_alt_id_and_class(raw, J, H, schema_id):
    alt = "_aeplocal.schemas." + schema_id.rsplit("/", 1)[1]
    ds = create(raw, J, {"name": "by alt id", "schemaRef": {"id": alt, "contentType": NOTEXT}})
    assert raw.get(f"{CAT}/dataSets/{ds}", headers=H).json()[ds]["schemaRef"]["id"] == schema_id
    ds = create(raw, J, {"name": "on a class", "schemaRef": {"id": PROFILE, "contentType": NOTEXT}})
    assert raw.get(f"{CAT}/dataSets/{ds}", headers=H).json()[ds]["schemaRef"]["id"] == PROFILE


@pytest.mark.parametrize("body", [
    {"name": "x", "schemaRef": {"id": "https://ns.adobe.com/aeplocal/schemas/doesnotexist", "contentType": NOTEXT}},
    {"name": "x", "schemaRef": {"id": "https://ns.adobe.com/xdm/context/profile-person-details"}},  # a field group
    {"name": "x", "schemaRef": "not an object"},
    {"name": 5},
    ["not", "an", "object"],
])
def test_create_dataset_invalid(raw, J, body):
    r = raw.post(f"{CAT}/dataSets", headers=J, json=body)
    assert r.status_code == 400
    err = r.json()
    assert set(err) >= {"type", "title", "status", "detail"} and err["status"] == 400


def test_get_dataset_properties_and_404(raw, H, datasets):
    ds = datasets["alpha-customers"]
    r = raw.get(f"{CAT}/dataSets/{ds}", headers=H, params={"properties": "name,schemaRef,nothing"})
    assert r.json() == {ds: {"name": "alpha-customers", "schemaRef": r.json()[ds]["schemaRef"]}}
    r = raw.get(f"{CAT}/dataSets/000000000000000000000000", headers=H)
    assert r.status_code == 404 and r.json()["status"] == 404


def test_list_limit_start_and_order(raw, H, datasets):
    everything = raw.get(f"{CAT}/dataSets", headers=H, params={"limit": 100}).json()
    assert set(datasets.values()) <= set(everything)
    default = raw.get(f"{CAT}/dataSets", headers=H).json()
    assert len(default) == min(20, len(everything))
    for bad in ("0", "101", "-1", "x"):
        r = raw.get(f"{CAT}/dataSets", headers=H, params={"limit": bad})
        assert r.status_code == 400, bad
    ordered = raw.get(f"{CAT}/dataSets", headers=H, params={"orderBy": "desc:created", "limit": 100}).json()
    created = [d["created"] for d in ordered.values()]
    assert created == sorted(created, reverse=True)
    asc = list(raw.get(f"{CAT}/dataSets", headers=H, params={"orderBy": "asc:name", "limit": 100}).json().values())
    names = [d.get("name", "") for d in asc]
    assert names == sorted(names)
    page = raw.get(f"{CAT}/dataSets", headers=H, params={"orderBy": "asc:name", "start": 1, "limit": 2}).json()
    assert [d["name"] for d in page.values()] == names[1:3]
    r = raw.get(f"{CAT}/dataSets", headers=H, params={"orderBy": "sideways:name"})
    assert r.status_code == 400


def test_list_simple_filters(raw, H, datasets):
    def names(**params):
        params.setdefault("limit", 100)
        return {d["name"] for d in raw.get(f"{CAT}/dataSets", headers=H, params=params).json().values()
                if "name" in d}

    assert names(name="beta-orders") == {"beta-orders"}
    assert names(name="alpha-customers,beta-orders") == {"alpha-customers", "beta-orders"}
    assert "beta-orders" not in names(name="!beta-orders") and "alpha-customers" in names(name="!beta-orders")
    assert names(name="!alpha-customers,beta-orders").isdisjoint({"alpha-customers", "beta-orders"})
    assert names(name="*-customers") == {"alpha-customers", "gamma-customers"}
    assert names(name="nothing-like-this") == set()


def test_list_property_filters(raw, H, datasets):
    def ids(*exprs):
        return set(raw.get(f"{CAT}/dataSets", headers=H, params={"property": list(exprs), "limit": 100}).json())

    assert ids("name==gamma-customers") == {datasets["gamma-customers"]}
    assert datasets["gamma-customers"] not in ids("name!=gamma-customers")
    assert ids("name~^(alpha|gamma)") == {datasets["alpha-customers"], datasets["gamma-customers"]}
    assert ids("name~customers$", "name!=alpha-customers") == {datasets["gamma-customers"]}
    assert set(datasets.values()) <= ids("schemaRef")
    assert ids("!name") .isdisjoint(datasets.values())
    assert ids("version>=1.0.0") >= set(datasets.values()) and ids("version>1.0.0").isdisjoint(datasets.values())
    first = raw.get(f"{CAT}/dataSets/{datasets['alpha-customers']}", headers=H).json()
    created = next(iter(first.values()))["created"]
    assert datasets["alpha-customers"] not in ids(f"created>{created}")
    assert datasets["alpha-customers"] in ids(f"created<={created}")
    tagged = set(raw.get(f"{CAT}/dataSets", headers=H, params={"tags": "unifiedProfile:*", "limit": 100}).json())
    assert tagged == {datasets["alpha-customers"]}


def test_list_properties_projection(raw, H, datasets):
    r = raw.get(f"{CAT}/dataSets", headers=H, params={"properties": "name", "name": "beta-orders"}).json()
    assert r == {datasets["beta-orders"]: {"name": "beta-orders"}}


def test_patch_put_delete(raw, J, H, schema_id):
    ds = create(raw, J, {"name": "to change", "schemaRef": {"id": schema_id, "contentType": NOTEXT}})
    r = raw.patch(f"{CAT}/dataSets/{ds}", headers=J, json={"description": "patched", "imsOrg": "ignored"})
    assert r.status_code == 200 and r.json() == [f"@/dataSets/{ds}"]
    doc = raw.get(f"{CAT}/dataSets/{ds}", headers=H).json()[ds]
    assert doc["description"] == "patched" and doc["imsOrg"] == ORG and doc["version"] == "1.0.1"
    assert doc["updated"] > doc["created"]
    r = raw.patch(f"{CAT}/dataSets/{ds}", headers={**H, "Content-Type": "application/json-patch+json"},
                  json=[{"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled:true", "isUpsert:true"]},
                        {"op": "add", "path": "/tags/unifiedIdentity", "value": ["enabled:true"]}])
    assert r.status_code == 200, r.text
    doc = raw.get(f"{CAT}/dataSets/{ds}", headers=H).json()[ds]
    assert doc["tags"] == {"unifiedProfile": ["enabled:true", "isUpsert:true"], "unifiedIdentity": ["enabled:true"],
                           "adobe/pqs/table": ["to_change"], "adobe/siphon/table/format": ["parquet"]}
    r = raw.patch(f"{CAT}/dataSets/{ds}", headers=J, json={"schemaRef": {"id": "https://ns.adobe.com/x/y"}})
    assert r.status_code == 400
    r = raw.put(f"{CAT}/dataSets/{ds}", headers=J, json={"name": "replaced"})
    assert r.status_code == 200
    doc = raw.get(f"{CAT}/dataSets/{ds}", headers=H).json()[ds]
    assert doc["name"] == "replaced" and "description" not in doc and "schemaRef" not in doc
    assert doc["tags"]["adobe/pqs/table"] == ["to_change"]       # the table keeps the name it was created with
    assert doc["classification"] == {"dataBehavior": "record", "managedBy": "CUSTOMER"}
    assert doc["files"] == f"@/dataSetFiles?dataSetId={ds}"
    r = raw.delete(f"{CAT}/dataSets/{ds}", headers=H)
    assert r.status_code == 200 and r.json() == [f"@/dataSets/{ds}"]
    assert raw.get(f"{CAT}/dataSets/{ds}", headers=H).status_code == 404
    assert raw.delete(f"{CAT}/dataSets/{ds}", headers=H).status_code == 404


# -- batches (written through the engine's helpers) ------------------------------------------------------------------
@pytest.fixture(scope="module")
def batches(local_server, datasets):
    from aep_magics.local.batches import record_batch, update_batch
    from aep_magics.local.store import Tenant

    platform = local_server.platform
    tenant = Tenant(ORG, SANDBOX)
    alpha, beta = datasets["alpha-customers"], datasets["beta-orders"]
    now = platform.clock.now_ms()
    out = {}
    for i, (ds, final) in enumerate(((alpha, "success"), (alpha, "failed"), (beta, "success"), (alpha, None))):
        batch_id = f"01BATCH{i:019d}"
        doc = record_batch(platform, tenant, batch_id, {
            "status": "loading", "created": now + i, "updated": now + i, "started": now + i,
            "relatedObjects": [{"type": "dataSet", "id": ds}], "inputFormat": {"format": "parquet"}})
        assert doc["status"] == "loading" and doc["imsOrg"] == ORG and doc["version"] == "1.0.0"
        if final:
            update_batch(platform, tenant, batch_id, {
                "status": final, "completed": now + 100 + i, "recordCount": 10 * (i + 1),
                "failedRecordCount": 1 if final == "failed" else 0, "size": 1000 + i,
                "errors": [{"code": "INGEST-1212-400", "description": "bad rows", "rows": []}] if final == "failed"
                else [], "metrics": {"inputRecordCount": 10 * (i + 1)}})
        out[batch_id] = (ds, final or "loading")
    with pytest.raises(KeyError, match="batch nope does not exist"):
        update_batch(platform, tenant, "nope", {"status": "success"})
    return out


def test_batch_get_and_list(raw, H, batches, datasets):
    batch_id, (ds, status) = next(iter(batches.items()))
    r = raw.get(f"{CAT}/batches/{batch_id}", headers=H)
    assert r.status_code == 200
    doc = r.json()[batch_id]
    assert doc["status"] == "success" and doc["recordCount"] == 10 and doc["relatedObjects"] == [
        {"type": "dataSet", "id": ds}]
    assert {"created", "updated", "started", "completed", "size", "metrics", "errors", "failedRecordCount",
            "imsOrg", "createdClient", "createdUser", "updatedUser", "version", "tags", "inputFormat"} <= set(doc)
    assert raw.get(f"{CAT}/batches/unknown", headers=H).status_code == 404
    alpha = datasets["alpha-customers"]
    listed = raw.get(f"{CAT}/batches", headers=H, params={"dataSet": alpha, "orderBy": "desc:created"}).json()
    assert list(listed) == sorted((b for b, (d, _s) in batches.items() if d == alpha), reverse=True)
    failed = raw.get(f"{CAT}/batches", headers=H, params={"dataSet": alpha, "status": "failed"}).json()
    assert [v["status"] for v in failed.values()] == ["failed"]
    done = raw.get(f"{CAT}/batches", headers=H, params={"status": "success,failed"}).json()
    assert set(done) == {b for b, (_d, s) in batches.items() if s in ("success", "failed")}
    first_created = doc["created"]
    after = raw.get(f"{CAT}/batches", headers=H, params={"createdAfter": first_created}).json()
    assert batch_id not in after and len(after) == 3
    before = raw.get(f"{CAT}/batches", headers=H, params={"createdBefore": first_created + 1}).json()
    assert list(before) == [batch_id]
    props = raw.get(f"{CAT}/batches", headers=H, params={"properties": "status", "limit": 2}).json()
    assert len(props) == 2 and all(set(v) == {"status"} for v in props.values())


def test_dataset_tracks_last_batch(raw, H, batches, datasets):
    beta = datasets["beta-orders"]
    doc = raw.get(f"{CAT}/dataSets/{beta}", headers=H).json()[beta]
    beta_batch = next(b for b, (d, _s) in batches.items() if d == beta)
    assert doc["lastBatchId"] == beta_batch and doc["lastBatchStatus"] == "success"
    assert doc["lastSuccessfulBatch"] == beta_batch


def test_dataset_files(raw, H, batches, datasets):
    alpha = datasets["alpha-customers"]
    files = raw.get(f"{CAT}/dataSetFiles", headers=H, params={"dataSetId": alpha}).json()
    good = [b for b, (d, s) in batches.items() if d == alpha and s == "success"]
    assert list(files) == [f"{b}-1" for b in good]
    f = files[f"{good[0]}-1"]
    assert f["batchId"] == good[0] and f["isValid"] is True and f["records"] == 10 and f["dataSetId"] == alpha
    one = raw.get(f"{CAT}/dataSetFiles/{good[0]}-1", headers=H)
    assert one.status_code == 200 and list(one.json()) == [f"{good[0]}-1"]
    assert raw.get(f"{CAT}/dataSetFiles/nope-1", headers=H).status_code == 404


def test_query_service_table_names_are_unique_snake_case(raw, J, H, schema_id):
    """``adobe/pqs/table``: a snake_case form of the name, unique in the sandbox; a given tag is kept."""
    names = ["Luma midValues", "Luma  midValues!", "  42 Orders (EU) "]
    ids = [create(raw, J, {"name": n, "schemaRef": {"id": schema_id, "contentType": NOTEXT}}) for n in names]
    tables = [raw.get(f"{CAT}/dataSets/{i}", headers=H).json()[i]["tags"]["adobe/pqs/table"] for i in ids]
    assert tables == [["luma_midvalues"], ["luma_midvalues_2"], ["42_orders_eu"]]


def test_classification_follows_the_class_behaviour(raw, J, H):
    r = raw.post(f"{SR}/tenant/schemas", headers=J, json={
        "title": "Catalog test events", "type": "object",
        "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/experienceevent"}]})
    assert r.status_code == 201, r.text
    ds = create(raw, J, {"name": "events", "schemaRef": {"id": r.json()["$id"], "contentType": NOTEXT}})
    doc = raw.get(f"{CAT}/dataSets/{ds}", headers=H).json()[ds]
    assert doc["classification"] == {"dataBehavior": "time-series", "managedBy": "CUSTOMER"}


def test_last_batches(raw, H, batches, datasets):
    """``GET /lastBatches`` (catalog.yaml ``listLastBatches``): one entry per dataset with batches."""
    r = raw.get(f"{CAT}/lastBatches", headers=H)
    assert r.status_code == 200, r.text
    body = r.json()
    alpha, beta = datasets["alpha-customers"], datasets["beta-orders"]
    assert set(body) == {alpha, beta}
    alpha_batches = [b for b, (d, _s) in batches.items() if d == alpha]
    entry = body[alpha]
    assert entry["lastBatchId"] == alpha_batches[-1] and entry["lastBatchStatus"] == "loading"
    assert entry["lastSuccessfulBatchId"] == alpha_batches[0] and entry["lastFailedBatchId"] == alpha_batches[1]
    assert entry["imsOrg"] == ORG and entry["sandboxId"] and entry["created"] <= entry["updated"]
    assert "lastFailedBatchId" not in body[beta]
    only = raw.get(f"{CAT}/lastBatches", headers=H, params={"dataSetId": f"{beta},nope"}).json()
    assert list(only) == [beta]
    ok = raw.get(f"{CAT}/lastBatches", headers=H, params={"lastBatchStatus": "success", "properties": "lastBatchId"})
    assert ok.json() == {beta: {"lastBatchId": body[beta]["lastBatchId"]}}
