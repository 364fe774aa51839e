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

from aep_magics import local, run_batch_ids
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
#: The shipping address' coordinates: XDM's geo coordinates range-check them (latitude ±90, longitude ±180).
COORD_COLUMNS = ["Shipping_Address_Latitude", "Shipping_Address_Longitude"]
COORD_MAPPINGS = [
    {"destinationXdmPath": "shippingAddress._schema.latitude", "sourceAttribute": "Shipping_Address_Latitude",
     "identity": False, "version": 0},
    {"destinationXdmPath": "shippingAddress._schema.longitude", "sourceAttribute": "Shipping_Address_Longitude",
     "identity": False, "version": 0},
]


def _out_of_range(row: dict[str, Any]) -> bool:
    lat, lon = row["Shipping_Address_Latitude"], row["Shipping_Address_Longitude"]
    return (lat is not None and not -90 <= lat <= 90) or (lon is not None and not -180 <= lon <= 180)


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
        return run_batch_ids(run)

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


def store_rows(kit: Kit, columns: list[str], start_s: int | None, end_s: int) -> list[dict[str, Any]]:
    """The ``Shopify.Orders`` rows (every stored version) whose ``Updated_At`` is in ``(start_s, end_s]``, in store
    order: read from the store's Parquet files (its manifest lists them in append order) and filtered here, by
    parsing each timestamp, not by the store's own window filter that the engine's copy uses."""
    root = kit.platform.shop.path
    files = json.loads((root / "manifest.json").read_text())["files"][ORDERS]
    rows = []
    for rel in files:
        for row in pq.read_table(root / rel, columns=sorted({*columns, "Updated_At"})).to_pylist():
            if row["Updated_At"] is None:
                continue
            at = datetime.fromisoformat(row["Updated_At"]).replace(tzinfo=UTC).timestamp()
            if (start_s is None or at > start_s) and at <= end_s:
                rows.append({c: row[c] for c in columns})
    return rows


def _source(kit: Kit, run: dict[str, Any], columns: list[str]) -> list[dict[str, Any]]:
    """The source rows of ``run``'s window."""
    ws, we = _window(run)
    return store_rows(kit, columns, ws // 1000 if ws else None, we // 1000)


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
    # the newer documented shape: UUID ids, names, and activityRefs naming the promotion activity's id
    assert [a["name"] for a in run["activities"]] == ["Copy Activity", "Promotion Activity"]
    copy_id, promo_id = (a["id"] for a in run["activities"])
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", i) for i in (copy_id, promo_id))
    assert copy_id != promo_id
    assert metrics["fileSummary"]["activityRefs"] == metrics["statusSummary"]["activityRefs"] == [promo_id]
    assert run["activities"][1]["targetInfo"][0]["reference"]["type"] == "Batch"
    ws, we = _window(run)
    assert ws == 0 and we > 0

    # the source rows, mapped by hand: Email -> personalEmail.address, Shipping_Address_Phone -> mobilePhone.number.
    # Batch ingestion checks no format: the malformed e-mails are ingested as they are.
    source = _source(kit, run, ["Email", "Shipping_Address_Phone"])
    assert any(r["Email"] is not None and not EMAIL.match(r["Email"]) for r in source), "no malformed e-mail"
    rec = metrics["recordSummary"]
    assert rec == {"inputRecordCount": len(source), "outputRecordCount": len(source), "failedRecordCount": 0}
    assert "errors" not in metrics["statusSummary"]
    assert "extensions" not in run["activities"][1]["statusSummary"]

    expected = sorted(
        ({"personalEmail": {"address": r["Email"]} if r["Email"] is not None else None,
          "mobilePhone": {"number": r["Shipping_Address_Phone"]} if r["Shipping_Address_Phone"] is not None else None}
         for r in source), key=json.dumps)
    (batch_id,) = kit.batch_ids(run)
    got = sorted(kit.read_batch(batch_id), key=json.dumps)
    assert got == expected

    batch = kit.client.catalog.get_batch(batch_id)
    batch = batch.get(batch_id, batch)
    assert batch["status"] == "success"
    assert batch["recordCount"] == len(source) and batch["failedRecordCount"] == 0
    assert {"type": "dataSet", "id": ids["dataset"]} in batch["relatedObjects"]
    dataset = kit.client.catalog.get_dataset(ids["dataset"])
    dataset = dataset.get(ids["dataset"], dataset)
    assert dataset["lastBatchId"] == batch_id and dataset["lastBatchStatus"] == "success"

    flow = kit.client.flow.get_flow(ids["flow"])
    assert flow["lastRunDetails"]["id"] == run["id"] and flow["lastRunDetails"]["state"] == "success"


def test_out_of_range_records_fail_with_their_diagnostics(kit: Kit):
    """Ranges are a batch ingestion check: coordinates out of range fail their record, which is reported with its
    reason, never dropped silently."""
    ids = kit.flow(columns=COORD_COLUMNS, mappings=COORD_MAPPINGS,
                   options={"errorDiagnosticsEnabled": True, "partialIngestionPercent": 10}, name="coordinates")
    kit.idle()
    (run,) = kit.runs(ids["flow"])
    metrics = run["metrics"]
    assert metrics["statusSummary"]["status"] == "success"
    source = _source(kit, run, COORD_COLUMNS)
    good = [r for r in source if not _out_of_range(r)]
    bad = [r for r in source if _out_of_range(r)]
    assert bad, "the sample store has coordinates out of range"
    rec = metrics["recordSummary"]
    assert rec == {"inputRecordCount": len(source), "outputRecordCount": len(good), "failedRecordCount": len(bad)}
    (batch_id,) = kit.batch_ids(run)
    assert len(kit.read_batch(batch_id)) == len(good)
    batch = kit.client.catalog.get_batch(batch_id)
    batch = batch.get(batch_id, batch)
    assert batch["recordCount"] == len(good) and batch["failedRecordCount"] == len(bad)

    promo = run["activities"][1]
    codes = {e["code"]: e for e in promo["statusSummary"]["extensions"]["errors"]}
    assert codes["INGEST-1405-400"]["recordCount"] == len(bad)
    manifest = promo["statusSummary"]["extensions"]["manifest"]
    assert manifest["failedRecords"] == f"{kit.aep.url}{EXPORT}/batches/{batch_id}/meta?path=row_errors"
    listing = kit.raw("GET", f"{EXPORT}/batches/{batch_id}/meta", params={"path": "row_errors"}).json()
    lines = []
    for item in listing["data"]:
        body = kit.raw("GET", f"{EXPORT}/batches/{batch_id}/meta", params={"path": item["name"]}).content
        lines += [json.loads(x) for x in body.decode().splitlines() if x]
    key = lambda r: (r["Shipping_Address_Latitude"], r["Shipping_Address_Longitude"])  # noqa: E731
    assert sorted(key(x["record"]) for x in lines) == sorted(key(r) for r in bad)
    for x in lines:
        assert x["_errors"] and {e["code"] for e in x["_errors"]} == {"INGEST-1405-400"}
        assert {e["columnName"] for e in x["_errors"]} <= {"shippingAddress._schema.latitude",
                                                           "shippingAddress._schema.longitude"}
        assert "out of range" in x["_errors"][0]["message"]
    samples = kit.raw("GET", f"{EXPORT}/batches/{batch_id}/meta", params={"path": "row_error_samples.json"}).json()
    assert samples["failedRecordCount"] == len(bad) and samples["samples"]
    info = kit.raw("GET", f"{EXPORT}/batches/{batch_id}/meta", params={"path": "input_files"}).json()
    assert info["data"][0]["name"] == "input_files/part-00000.json"


def test_partial_ingestion_threshold_exceeded_fails_the_run(kit: Kit):
    ids = kit.flow(columns=COORD_COLUMNS, mappings=COORD_MAPPINGS,
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
    lenient = kit.flow(columns=COORD_COLUMNS, mappings=COORD_MAPPINGS,
                       options={"partialIngestionPercent": 50}, name="lenient")
    off = kit.flow(columns=COORD_COLUMNS, mappings=COORD_MAPPINGS, name="no-partial")
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


def test_invalid_ecids_are_skipped_not_failed(kit: Kit):
    """An ECID is exactly 38 digits; a record whose ECID breaks the rule is skipped (Adobe's *Data quality* page,
    https://experienceleague.adobe.com/en/docs/experience-platform/ingestion/quality/overview)."""
    ecid = 'iif(Order_Number % 10 == 0, concat("ecid-", Order_Id), concat("1000000000000000000000000", Order_Id))'
    mappings = [
        {"destinationXdmPath": "personID", "sourceAttribute": ecid, "identity": True, "primaryIdentity": True,
         "namespaceCode": "ECID"},
        {"destinationXdmPath": "person.name.firstName", "sourceAttribute": "Customer_First_Name"},
    ]
    groups = ["https://ns.adobe.com/xdm/context/identitymap", *PROFILE_GROUPS]
    ids = kit.flow(columns=["Order_Id", "Order_Number", "Customer_First_Name"], mappings=mappings, groups=groups,
                   name="ecid")
    kit.idle()
    (run,) = kit.runs(ids["flow"])
    rec = run["metrics"]["recordSummary"]
    source = _source(kit, run, ["Order_Number"])
    skipped = sum(1 for r in source if r["Order_Number"] % 10 == 0)
    assert skipped > 0
    assert run["metrics"]["statusSummary"]["status"] == "success", run["metrics"]
    assert rec == {"inputRecordCount": len(source), "outputRecordCount": len(source) - skipped,
                   "failedRecordCount": 0, "skippedRecordCount": skipped}
    rows = kit.read_batch(kit.batch_ids(run)[0])
    assert len(rows) == len(source) - skipped
    assert all(re.fullmatch(r"[0-9]{38}", row["personID"]) for row in rows)
    assert all(row["identityMap"] == [("ECID", [{"id": row["personID"], "primary": True}])] for row in rows[:200])


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
    expected = len(store_rows(kit, ["Email"], start_s, we // 1000))
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
            ids = kit.flow(columns=["Email", *COORD_COLUMNS], mappings=TUTORIAL_MAPPINGS[:1] + COORD_MAPPINGS,
                           options={"errorDiagnosticsEnabled": True, "partialIngestionPercent": 10})
            kit.idle()
            runs = kit.runs(ids["flow"])
            assert runs[0]["metrics"]["recordSummary"]["failedRecordCount"] > 0
            (batch_id,) = kit.batch_ids(runs[0])
            files = kit.client.data.list_batch_files(batch_id)
            data = kit.client.data.download(files[0]["dataSetFileId"], "part-00000.parquet")
            errors = kit.raw("GET", f"{EXPORT}/batches/{batch_id}/meta",
                             params={"path": "row_errors/part-00000.json"}).content
            outputs.append((json.dumps(runs, sort_keys=True).replace(aep.url, "URL"), ids, data, errors))
    assert outputs[0][0] == outputs[1][0]
    assert outputs[0][1:] == outputs[1][1:]
