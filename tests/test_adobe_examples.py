"""Adobe's own tutorial, request for request, against a default AEP Local.

The requests of Experience League's *Collect eCommerce data using source connectors and APIs* (and of the Shopify
connector tutorial it starts from) are kept in ``tests/fixtures/adobe/ecommerce-tutorial.json`` as the pages print
them: method, URL, headers, body text. This test sends each one with plain ``requests``, as ``curl`` would: only the
host, the documented placeholders and the example ids of earlier steps are replaced, and the two defects of the page
itself are repaired as the fixture names them (a trailing comma, a
mistyped path, two requests without their ``Authorization`` header). No client code of the kit is involved.

What it proves: the tutorial's dataflow, unchanged, succeeds on AEP Local's default sample store with no failed
record, as it would on the platform, where batch ingestion checks data types, enums, ranges and required fields but
no ``format`` or ``pattern`` (https://experienceleague.adobe.com/en/docs/experience-platform/ingestion/quality/overview),
and every ingested row reads back through the Data Access API.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests

from aep_magics import local
from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID

FIXTURE = Path(__file__).parent / "fixtures" / "adobe" / "ecommerce-tutorial.json"
TUTORIAL = json.loads(FIXTURE.read_text(encoding="utf-8"))
STEPS = {s["step"]: s for s in TUTORIAL["steps"]}
PLATFORM = "https://platform.adobe.io"
SANDBOX = "prod"


class Tutorial:
    """Sends the documented requests in order, carrying the ids each answer gives to the next request."""

    def __init__(self, url: str):
        self.url = url
        self.http = requests.Session()
        token = self.http.post(f"{url}/ims/token/v3", data={
            "grant_type": "client_credentials", "client_id": DEV_CLIENT_ID, "client_secret": DEV_CLIENT_SECRET,
            "scope": "openid,AdobeID,read_organizations"}, timeout=30)
        token.raise_for_status()
        self.values = {"{ACCESS_TOKEN}": token.json()["access_token"], "{API_KEY}": DEV_CLIENT_ID,
                       "{IMS_ORG}": DEV_ORG_ID, "{ORG_ID}": DEV_ORG_ID, "{SANDBOX_NAME}": SANDBOX,
                       "{TENANT_ID}": "aeplocal"}
        self.ids: dict[str, str] = {}       # example id in the docs -> id AEP Local gave

    def send(self, name: str, *, body_values: dict[str, str] | None = None) -> requests.Response:
        step = STEPS[name]
        url, body, headers = step["url"], step.get("body"), dict(step["headers"])
        for repair in step.get("repairs", []):
            if repair.get("in") == "headers":
                assert not set(repair["add"]) & set(headers), f"{name}: the documented defect is gone"
                headers.update(repair["add"])
            elif repair.get("in") == "url":
                assert repair["find"] in url, f"{name}: the documented defect is gone; drop the repair"
                url = url.replace(repair["find"], repair["replace"])
            else:
                assert body is not None and repair["find"] in body, f"{name}: the documented defect is gone"
                body = body.replace(repair["find"], repair["replace"])
        assert url.startswith(PLATFORM)
        url = self.url + url[len(PLATFORM):]
        headers = {k: self._fill(v) for k, v in headers.items()}
        if body is not None:
            for old, new in {**(body_values or {}), **self.ids}.items():
                body = body.replace(old, new)
            body = self._fill(body)
            json.loads(body)  # the repaired text is JSON, as the page means it to be
        return self.http.request(step["method"], url, headers=headers,
                                 data=body.encode() if body is not None else None, timeout=60)

    def _fill(self, text: str) -> str:
        for placeholder, value in self.values.items():
            text = text.replace(placeholder, value)
        return text

    def get(self, route: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.values['{ACCESS_TOKEN}']}", "x-api-key": DEV_CLIENT_ID,
                   "x-gw-ims-org-id": DEV_ORG_ID, "x-sandbox-name": SANDBOX}
        r = self.http.get(self.url + route, headers=headers, params=params, timeout=60)
        assert r.status_code == 200, (route, r.status_code, r.text[:300])
        return r.json() if "json" in r.headers.get("Content-Type", "") else r.content


@pytest.fixture(scope="module")
def tutorial():
    with local.start(seed=20201109) as aep:
        yield Tutorial(aep.url)


def test_adobe_tutorial_requests_verbatim_ingest_every_row(tutorial: Tutorial):
    t = tutorial
    r = t.send("base_connection", body_values={"{HOST}": "https://aep-local-demo.myshopify.com",
                                               # the Shopify store's token, in the body only (not the IMS one)
                                               '"accessToken": "{ACCESS_TOKEN}"':
                                                   '"accessToken": "shpat_aep_local_demo"'})
    assert r.status_code == 201, r.text
    t.ids["582f4f8d-71e9-4a5c-a164-9d2056318d6c"] = r.json()["id"]

    r = t.send("source_connection")
    assert r.status_code == 201, r.text
    t.ids["c278ab14-acdf-440b-b67f-1265d15a7655"] = r.json()["id"]

    r = t.send("target_schema")
    assert r.status_code == 201, r.text
    schema_id = r.json()["$id"]
    t.ids["https://ns.adobe.com/{TENANT_ID}/schemas/854ddc36ad2c7bd001f66a4392575ed4004f81883328772f"] = schema_id

    r = t.send("target_dataset")
    assert r.status_code == 201, r.text
    (ref,) = r.json()
    assert ref.startswith("@/dataSets/")
    dataset_id = ref.split("/")[-1]
    t.ids["5fa9c083de62e418dd170b42"] = dataset_id

    r = t.send("target_connection")
    assert r.status_code == 201, r.text
    t.ids["6c0ba537-a96b-4d74-8c95-450eb88baee8"] = r.json()["id"]

    r = t.send("mapping_set")
    assert r.status_code in (200, 201), r.text
    t.ids["22922102bffd4369b6209c102a604062"] = r.json()["id"]

    r = t.send("flow_spec")
    assert r.status_code == 200, r.text
    (spec,) = r.json()["items"]
    assert spec["name"] == "CRMToAEP" and spec["id"] == "14518937-270c-4525-bdec-c2ba7cce3860"

    r = t.send("dataflow")
    assert r.status_code == 201, r.text
    flow_id = r.json()["id"]

    # The flow is scheduled "once" at a start time in the past: it runs at once.
    deadline = time.monotonic() + 120
    while True:
        runs = t.get("/data/foundation/flowservice/runs", property=f"flowId=={flow_id}")["items"]
        if runs and runs[0]["metrics"]["statusSummary"]["status"] not in ("scheduled", "inProgress"):
            break
        assert time.monotonic() < deadline, "the tutorial's run did not finish"
        time.sleep(0.25)
    (run,) = runs
    metrics = run["metrics"]
    records = metrics["recordSummary"]
    assert metrics["statusSummary"]["status"] == "success", metrics["statusSummary"]
    assert "errors" not in metrics["statusSummary"]
    assert records["failedRecordCount"] == 0
    assert records["inputRecordCount"] == records["outputRecordCount"] > 1000

    # Every row reads back through Data Access: the run's batch, its files, their Parquet parts.
    batches = t.get("/data/foundation/catalog/batches", dataSet=dataset_id)
    assert len(batches) == 1
    ((batch_id, batch),) = batches.items()
    assert batch["status"] == "success" and batch["recordCount"] == records["outputRecordCount"]
    rows = 0
    for f in t.get(f"/data/foundation/export/batches/{batch_id}/files")["data"]:
        file_id = f["dataSetFileId"]
        for part in t.get(f"/data/foundation/export/files/{file_id}")["data"]:
            data = t.get(f"/data/foundation/export/files/{file_id}", path=part["name"])
            table = pq.read_table(io.BytesIO(data))
            rows += table.num_rows
            assert "personalEmail" in table.column_names
    assert rows == records["outputRecordCount"]
