"""End to end over loopback: the tutorial's Shopify → Profile dataflow runs, and its data comes back through Data Access.

Every test builds the tutorial's resources through the client (base connection, source connection on
``Shopify.Orders``, the Profile + person-details + personal-details schema, a dataset, a Data Lake target connection,
a legacy mapping set and a ``once`` flow), lets the scheduler run it and compares what Data Access returns with the
source rows mapped by hand here.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import Raw

from aep_magics import local
from aep_magics.api import AEPClient
from aep_magics.http import AEPSession

SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
ORDERS = "Shopify.Orders"
EXPORT = "/data/foundation/export"
TUTORIAL_MAPPINGS = [
    {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "Email", "identity": False, "version": 0},
    {"destinationXdmPath": "mobilePhone.number", "sourceAttribute": "Shipping_Address_Phone", "identity": False,
     "version": 0},
]
PROFILE_GROUPS = ["https://ns.adobe.com/xdm/context/profile-person-details",
                  "https://ns.adobe.com/xdm/context/profile-personal-details"]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")      # XDM format "email", written by hand for the comparison


class Kit:
    """The tutorial's resources on one AEP Local, built through the client."""

    def __init__(self, aep: Any, orders: int = 3000):
        self.aep = aep
        self.platform = aep.platform
        self.client = AEPClient(AEPSession(aep.profile()))
        # a sample store whose history ends at the platform's "now", so runs copy a known, small amount of data
        start = datetime.fromtimestamp(self.platform.clock.peek_ms() / 1000, tz=UTC)
        self.platform.shop.generate(orders, start=start)
        self.base = self.client.flow.create_connection({
            "name": "Shopify", "auth": {"specName": "Basic Authentication",
                                        "params": {"host": "aeplocal.myshopify.com", "accessToken": "t"}},
            "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})["id"]
        self._schemas: dict[tuple[str, ...], str] = {}

    def schema(self, groups: list[str] = PROFILE_GROUPS) -> str:
        key = tuple(groups)
        if key not in self._schemas:
            body = {"type": "object", "title": f"Shopify profile {len(self._schemas)}", "description": "",
                    "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}, *({"$ref": g} for g in groups)],
                    "meta:containerId": "tenant", "meta:resourceType": "schemas", "meta:xdmType": "object",
                    "meta:class": "https://ns.adobe.com/xdm/context/profile"}
            self._schemas[key] = self.client.schemas.create_schema(body)["$id"]
        return self._schemas[key]

    def flow(self, *, columns: list[str], mappings: list[dict[str, Any]] | None = TUTORIAL_MAPPINGS,
             schedule: dict[str, Any] | None = None, options: dict[str, Any] | None = None,
             groups: list[str] = PROFILE_GROUPS, delta: str | None = None, name: str = "flow") -> dict[str, str]:
        c = self.client
        sid = self.schema(groups)
        src = c.flow.create_source_connection({
            "name": f"{name} source", "baseConnectionId": self.base, "data": {"format": "tabular"},
            "params": {"tableName": ORDERS, "columns": [{"name": n, "type": "string"} for n in columns]},
            "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})["id"]
        ds = c.catalog.create_dataset({"name": f"{name} dataset", "schemaRef": {
            "id": sid, "contentType": "application/vnd.adobe.xed-full-notext+json; version=1"}})
        tgt = c.flow.create_target_connection({
            "name": f"{name} target", "data": {"format": "parquet_xdm", "schema": {
                "id": sid, "version": "application/vnd.adobe.xed-full-notext+json; version=1"}},
            "params": {"dataSetId": ds}, "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}})["id"]
        transformations = []
        if delta:
            transformations.append({"name": "Copy", "params": {"deltaColumn": {"name": delta}}})
        if mappings is not None:
            ms = c.dataprep.create_mapping_set({"version": 0, "xdmSchema": sid, "xdmVersion": "1.0", "id": None,
                                                "mappings": mappings})
            transformations.append({"name": "Mapping", "params": {"mappingId": ms["id"], "mappingVersion": 0}})
        now_s = self.now_s()
        body: dict[str, Any] = {
            "name": name, "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"}, "sourceConnectionIds": [src],
            "targetConnectionIds": [tgt], "transformations": transformations,
            "scheduleParams": schedule or {"startTime": str(now_s - 60), "frequency": "once"}}
        if options is not None:
            body["options"] = options
        flow = c.flow.create_flow(body)["id"]
        return {"flow": flow, "dataset": ds, "schema": sid, "source": src, "target": tgt}

    def now_s(self) -> int:
        return self.platform.clock.peek_ms() // 1000

    def idle(self) -> None:
        assert self.platform.scheduler.wait_idle(120), "the scheduler did not finish its runs"

    def runs(self, flow_id: str) -> list[dict[str, Any]]:
        runs = self.client.flow.list_runs(flow_id)
        return sorted(runs, key=lambda r: r["createdAt"])

    def batch_ids(self, run: dict[str, Any]) -> list[str]:
        promo = next(a for a in run["activities"] if a["id"] == "promotionActivity")
        return promo["targetInfo"][0]["reference"]["ids"]

    def read_batch(self, batch_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for f in self.client.data.list_batch_files(batch_id):
            listing = self.client.data.get_file(f["dataSetFileId"])
            for part in listing["data"]:
                data = self.client.data.download(f["dataSetFileId"], part["name"])
                assert data[:4] == b"PAR1"
                rows.extend(pq.read_table(io.BytesIO(data)).to_pylist())
        return rows

    def raw(self, method: str, path: str, **kw: Any):
        return self.client.session.request(method, path, **kw)


@pytest.fixture(scope="module")
def kit():
    with local.start(seed=4242) as aep:
        yield Kit(aep)


def _window(run: dict[str, Any]) -> tuple[int, int]:
    ext = run["activities"][0]["durationSummary"]["extensions"]
    return ext["windowStart"], ext["windowEnd"]


def _source(kit: Kit, run: dict[str, Any], columns: list[str]) -> list[dict[str, Any]]:
    ws, we = _window(run)
    return kit.platform.shop.read(ORDERS, columns=columns, window=(ws // 1000 if ws else None, we // 1000)).to_pylist()


def test_tutorial_flow_copies_maps_and_validates(kit: Kit):
    ids = kit.flow(columns=["Email", "Phone", "Shipping_Address_Phone"],
                   options={"errorDiagnosticsEnabled": True, "partialIngestionPercent": 10})
    kit.idle()
    runs = kit.runs(ids["flow"])
    assert len(runs) == 1
    run = runs[0]
    metrics = run["metrics"]
    assert metrics["statusSummary"]["status"] == "success"
    assert set(metrics) >= {"durationSummary", "sizeSummary", "recordSummary", "fileSummary", "statusSummary"}
    assert [a["id"] for a in run["activities"]] == ["copyActivity", "promotionActivity"]
    ws, we = _window(run)
    assert ws == 0 and we > 0

    # the source rows, mapped by hand: Email -> personalEmail.address, Shipping_Address_Phone -> mobilePhone.number
    source = _source(kit, run, ["Email", "Shipping_Address_Phone"])
    good = [r for r in source if r["Email"] is None or EMAIL.match(r["Email"])]
    bad = [r for r in source if r["Email"] is not None and not EMAIL.match(r["Email"])]
    assert bad, "the sample store has malformed e-mails"
    rec = metrics["recordSummary"]
    assert rec == {"inputRecordCount": len(source), "outputRecordCount": len(good), "failedRecordCount": len(bad)}

    expected = sorted(
        ({"personalEmail": {"address": r["Email"]} if r["Email"] is not None else None,
          "mobilePhone": {"number": r["Shipping_Address_Phone"]} if r["Shipping_Address_Phone"] is not None else None}
         for r in good), key=json.dumps)
    (batch_id,) = kit.batch_ids(run)
    got = sorted(kit.read_batch(batch_id), key=json.dumps)
    assert got == expected

    batch = kit.client.catalog.get_batch(batch_id)
    batch = batch.get(batch_id, batch)
    assert batch["status"] == "success"
    assert batch["recordCount"] == len(good) and batch["failedRecordCount"] == len(bad)
    assert {"type": "dataSet", "id": ids["dataset"]} in batch["relatedObjects"]
    dataset = kit.client.catalog.get_dataset(ids["dataset"])
    dataset = dataset.get(ids["dataset"], dataset)
    assert dataset["lastBatchId"] == batch_id and dataset["lastBatchStatus"] == "success"

    # failed records are reported with their reason, never dropped silently
    promo = run["activities"][1]
    codes = {e["code"]: e for e in promo["statusSummary"]["extensions"]["errors"]}
    assert codes["INGEST-1402-400"]["recordCount"] == len(bad)
    manifest = promo["statusSummary"]["extensions"]["manifest"]
    assert manifest["failedRecords"] == f"{kit.aep.url}{EXPORT}/batches/{batch_id}/meta?path=row_errors"
    listing = kit.raw("GET", f"{EXPORT}/batches/{batch_id}/meta", params={"path": "row_errors"}).json()
    lines = []
    for item in listing["data"]:
        body = kit.raw("GET", f"{EXPORT}/batches/{batch_id}/meta", params={"path": item["name"]}).content
        lines += [json.loads(x) for x in body.decode().splitlines() if x]
    assert sorted(x["record"]["Email"] for x in lines) == sorted(r["Email"] for r in bad)
    for x in lines:
        assert x["_errors"] == [{"code": "INGEST-1402-400", "columnName": "personalEmail.address",
                                 "message": x["_errors"][0]["message"]}]
        assert "email" in x["_errors"][0]["message"]
    samples = kit.raw("GET", f"{EXPORT}/batches/{batch_id}/meta", params={"path": "row_error_samples.json"}).json()
    assert samples["failedRecordCount"] == len(bad) and samples["samples"]
    info = kit.raw("GET", f"{EXPORT}/batches/{batch_id}/meta", params={"path": "input_files"}).json()
    assert info["data"][0]["name"] == "input_files/part-00000.json"

    flow = kit.client.flow.get_flow(ids["flow"])
    assert flow["lastRunDetails"]["id"] == run["id"] and flow["lastRunDetails"]["state"] == "success"


def test_partial_ingestion_threshold_exceeded_fails_the_run(kit: Kit):
    ids = kit.flow(columns=["Email", "Shipping_Address_Phone"],
                   options={"errorDiagnosticsEnabled": True, "partialIngestionPercent": 0.1}, name="strict")
    kit.idle()
    (run,) = kit.runs(ids["flow"])
    assert run["metrics"]["statusSummary"]["status"] == "failed"
    rec = run["metrics"]["recordSummary"]
    assert rec["failedRecordCount"] > 0 and rec["outputRecordCount"] == 0
    assert rec["failedRecordCount"] / rec["inputRecordCount"] * 100 > 0.1
    (batch_id,) = kit.batch_ids(run)
    batch = kit.client.catalog.get_batch(batch_id)
    assert batch.get(batch_id, batch)["status"] == "failed"
    assert kit.client.data.list_batch_files(batch_id) == []            # nothing promoted
    errors = kit.raw("GET", f"{EXPORT}/batches/{batch_id}/meta", params={"path": "row_errors"}).json()
    assert errors["data"], "the failed records stay available for diagnosis"


def test_partial_ingestion_threshold_not_exceeded_and_off(kit: Kit):
    lenient = kit.flow(columns=["Email"], mappings=TUTORIAL_MAPPINGS[:1],
                       options={"partialIngestionPercent": 50}, name="lenient")
    off = kit.flow(columns=["Email"], mappings=TUTORIAL_MAPPINGS[:1], name="no-partial")
    kit.idle()
    (ok,) = kit.runs(lenient["flow"])
    assert ok["metrics"]["statusSummary"]["status"] == "success"
    assert ok["metrics"]["recordSummary"]["failedRecordCount"] > 0
    assert ok["activities"][1]["statusSummary"]["extensions"].get("manifest") is None  # diagnostics off
    (failed,) = kit.runs(off["flow"])
    assert failed["metrics"]["statusSummary"]["status"] == "failed"     # any failed record fails without it
    assert failed["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-2001-500"


def test_identity_mappings_and_expressions(kit: Kit):
    mappings = [
        {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "lower(trim(Email))", "identity": True,
         "primaryIdentity": True, "namespaceCode": "Email"},
        {"destinationXdmPath": "person.name.fullName",
         "sourceAttribute": "concat(Customer_First_Name, \" \", Customer_Last_Name)"},
        {"destinationXdmPath": "personID", "sourceAttribute": "Order_Id"},
    ]
    groups = ["https://ns.adobe.com/xdm/context/identitymap", *PROFILE_GROUPS]
    ids = kit.flow(columns=["Order_Id", "Email", "Customer_First_Name", "Customer_Last_Name"], mappings=mappings,
                   groups=groups, options={"partialIngestionPercent": 50}, name="identities")
    kit.idle()
    (run,) = kit.runs(ids["flow"])
    assert run["metrics"]["statusSummary"]["status"] == "success", run["metrics"]
    rows = kit.read_batch(kit.batch_ids(run)[0])
    source = {str(r["Order_Id"]): r for r in _source(kit, run, ["Order_Id", "Email", "Customer_First_Name",
                                                                  "Customer_Last_Name"])}
    assert len(rows) == run["metrics"]["recordSummary"]["outputRecordCount"]
    for row in rows[:500]:
        src = source[row["personID"]]
        email = src["Email"].strip().lower() if src["Email"] is not None else None
        if email is None:
            assert row["identityMap"] is None and row["personalEmail"] is None
        else:
            assert row["personalEmail"] == {"address": email}
            assert row["identityMap"] == [("Email", [{"id": email, "primary": True}])]
        assert row["person"]["name"]["fullName"] == f"{src['Customer_First_Name']} {src['Customer_Last_Name']}"


def test_ad_hoc_run_with_explicit_window(kit: Kit):
    ids = kit.flow(columns=["Email"], mappings=TUTORIAL_MAPPINGS[:1], options={"partialIngestionPercent": 50},
                   name="adhoc")
    kit.idle()
    (first,) = kit.runs(ids["flow"])
    _, we = _window(first)
    start_s = we // 1000 - 6 * 3600
    run = kit.client.flow.create_run({"flowId": ids["flow"], "params": {
        "windowStartTime": str(start_s), "windowEndTime": str(we // 1000), "deltaColumn": {"name": "Updated_At"}}})
    kit.idle()
    done = kit.client.flow.get_run(run["id"])
    done = done["items"][0] if "items" in done else done
    assert _window(done) == (start_s * 1000, we)
    expected = kit.platform.shop.read(ORDERS, columns=["Email"], window=(start_s, we // 1000)).num_rows
    assert done["metrics"]["recordSummary"]["inputRecordCount"] == expected < first["metrics"]["recordSummary"][
        "inputRecordCount"]


def test_data_access_range_and_preview(kit: Kit):
    ids = kit.flow(columns=["Email"], mappings=TUTORIAL_MAPPINGS[:1], options={"partialIngestionPercent": 50},
                   name="range")
    kit.idle()
    (run,) = kit.runs(ids["flow"])
    (batch_id,) = kit.batch_ids(run)
    raw = Raw(kit.aep.url)
    url = f"{EXPORT}/files/{batch_id}-1"
    r = raw.get(url, params={"path": "part-00000.parquet"}, headers={**raw.headers(), "Range": "bytes=0-3"})
    assert r.status_code == 206 and r.content == b"PAR1"
    size = int(kit.client.data.get_file(f"{batch_id}-1")["data"][0]["length"])
    assert r.headers["Content-Range"] == f"bytes 0-3/{size}"
    r = raw.get(url, params={"path": "part-00000.parquet"}, headers={**raw.headers(), "Range": "bytes=-4"})
    assert r.status_code == 206 and r.content == b"PAR1"
    r = raw.get(url, params={"path": "part-00000.parquet"}, headers={**raw.headers(), "Range": f"bytes={size}-"})
    assert r.status_code == 416
    preview = kit.raw("GET", f"{EXPORT}/datasets/{ids['dataset']}/preview").json()
    assert 0 < len(preview["data"]) <= 100
    flat = kit.raw("GET", f"{EXPORT}/datasets/{ids['dataset']}/preview", params={"flatten": "true"}).json()
    assert any("personalEmail.address" in row for row in flat["data"])


TRAVERSALS = ["..%2F..%2Fstate.sqlite3", "..%2F..%2F..%2F..%2Fstate.sqlite3", "%2E%2E", "..", "state.sqlite3",
              "01EF01X41KJD82Y9ZX6ET54PCZ%2F..%2F..", "%2Fetc%2Fpasswd"]


@pytest.mark.parametrize("bad", TRAVERSALS)
def test_path_traversal_is_refused(kit: Kit, bad: str):
    raw = Raw(kit.aep.url)
    h = raw.headers()
    urls = [f"{EXPORT}/batches/{bad}/files", f"{EXPORT}/batches/{bad}/meta", f"{EXPORT}/batches/{bad}/failed",
            f"{EXPORT}/files/{bad}", f"{EXPORT}/files/{bad}-1", f"{EXPORT}/datasets/{bad}/preview"]
    for url in urls:
        r = raw.get(url, headers=h)
        assert r.status_code in (400, 404), (url, r.status_code)
        assert b"SQLite format" not in r.content


def test_path_traversal_in_query_is_refused(kit: Kit):
    ids = kit.flow(columns=["Email"], mappings=TUTORIAL_MAPPINGS[:1],
                   options={"partialIngestionPercent": 50, "errorDiagnosticsEnabled": True}, name="traversal")
    kit.idle()
    (run,) = kit.runs(ids["flow"])
    (batch_id,) = kit.batch_ids(run)
    raw = Raw(kit.aep.url)
    h = raw.headers()
    for path in ["../../../../state.sqlite3", "..%2F..%2Fstate.sqlite3", "/etc/passwd", "part-00000.parquet/../..",
                 "../part-00000.parquet", "meta/row_error_samples.json"]:
        r = raw.get(f"{EXPORT}/files/{batch_id}-1", params={"path": path}, headers=h)
        assert r.status_code == 400, (path, r.status_code)
        for meta in (f"{EXPORT}/batches/{batch_id}/meta", f"{EXPORT}/batches/{batch_id}/failed"):
            r = raw.get(meta, params={"path": path}, headers=h)
            assert r.status_code in (400, 404), (meta, path, r.status_code)
            assert b"SQLite format" not in r.content
    # the same ids from another sandbox are not found
    other = raw.get(f"{EXPORT}/batches/{batch_id}/files", headers=raw.headers(sandbox="other-sandbox"))
    assert other.status_code in (403, 404)


def test_seeded_runs_are_reproducible():
    outputs = []
    for _ in range(2):
        with local.start(seed=31337) as aep:
            kit = Kit(aep, orders=800)
            ids = kit.flow(columns=["Email", "Shipping_Address_Phone"],
                           options={"errorDiagnosticsEnabled": True, "partialIngestionPercent": 10})
            kit.idle()
            runs = kit.runs(ids["flow"])
            (batch_id,) = kit.batch_ids(runs[0])
            files = kit.client.data.list_batch_files(batch_id)
            data = kit.client.data.download(files[0]["dataSetFileId"], "part-00000.parquet")
            errors = kit.raw("GET", f"{EXPORT}/batches/{batch_id}/meta",
                             params={"path": "row_errors/part-00000.json"}).content
            outputs.append((json.dumps(runs, sort_keys=True).replace(aep.url, "URL"), ids, data, errors))
    assert outputs[0][0] == outputs[1][0]
    assert outputs[0][1:] == outputs[1][1:]
