"""Query Service REST API (``/data/foundation/query``) over loopback HTTP, after a dataflow has filled the lake:
connection parameters, queries as batch jobs (SELECT, CTAS), the query log's paging and filters, cancel and soft
delete, errors, tenant isolation (https://experienceleague.adobe.com/en/docs/experience-platform/query/api/queries).
"""

from __future__ import annotations

import io
import time
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import Raw
from test_engine_e2e import Kit

from aep_magics import local
from aep_magics.local.platform import DEV_ORG_ID
from aep_magics.local.services.queryservice import QueryService
from aep_magics.local.store import Tenant

QS = "/data/foundation/query"


class Env:
    def __init__(self, aep):
        self.aep = aep
        self.kit = Kit(aep, orders=600)
        self.ids = self.kit.flow(columns=["Email", "Phone", "Shipping_Address_Phone"], name="Orders REST")
        self.kit.idle()
        (run,) = self.kit.runs(self.ids["flow"])
        self.count = run["metrics"]["recordSummary"]["outputRecordCount"]
        self.table = self.kit.client.catalog.get_dataset(self.ids["dataset"])["tags"]["adobe/pqs/table"][0]
        self.raw = Raw(aep.url)
        self.headers = self.raw.headers()
        self.qs = next(s for s in aep.app.services if isinstance(s, QueryService))
        r = self.raw.post("/data/foundation/sandbox-management/sandboxes",
                          json={"name": "dev", "title": "Dev", "type": "development"},
                          headers=self.raw.headers(sandbox=None, json=True))
        assert r.status_code == 202, r.text

    def post(self, body: dict[str, Any], **h: Any):
        return self.raw.post(f"{QS}/queries", json=body, headers=self.raw.headers(json=True, **h))

    def wait(self, qid: str, **h: Any) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            doc = self.raw.get(f"{QS}/queries/{qid}", headers=self.raw.headers(**h)).json()
            if doc["state"] in ("SUCCESS", "FAILED", "KILLED"):
                return doc
            time.sleep(0.05)
        raise AssertionError(f"query {qid} did not finish")


@pytest.fixture(scope="module")
def env():
    with local.start(seed=2929) as aep:
        yield Env(aep)


def test_connection_parameters_has_every_documented_field(env: Env):
    r = env.raw.get(f"{QS}/connection_parameters", headers=env.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"username", "dbName", "host", "port", "token", "compressedToken", "websocketHost", "version"}
    assert body["username"] == DEV_ORG_ID and body["dbName"] == "prod:all" and body["version"] == 1
    assert body["token"] == env.headers["Authorization"].split()[1]
    pg = getattr(env.aep.platform, "pg_address", None)
    assert body["port"] == (pg[1] if pg else 0) and isinstance(body["port"], int)
    assert body["host"] == (pg[0] if pg else "127.0.0.1")
    dev = env.raw.get(f"{QS}/connection_parameters", headers=env.raw.headers(sandbox="dev")).json()
    assert dev["dbName"] == "dev:all"


def test_a_select_runs_as_a_batch_job_and_records_its_row_count(env: Env):
    r = env.post({"dbName": "prod:all", "sql": f"SELECT * FROM {env.table}", "name": "all orders"})
    assert r.status_code == 202, r.text
    doc = r.json()
    assert doc["state"] == "SUBMITTED" and doc["client"] == "API" and doc["isCTAS"] is False
    assert {"self", "soft_delete", "cancel"} <= set(doc["_links"])
    assert doc["request"]["sql"] == f"SELECT * FROM {env.table}"
    done = env.wait(doc["id"])
    assert done["state"] == "SUCCESS" and done["rowCount"] == env.count and done["errors"] == []
    assert done["_links"]["referenced_datasets"][0]["id"] == env.ids["dataset"]
    assert "cancel" not in done["_links"]


def test_ctas_through_rest_creates_a_dataset_everyone_sees(env: Env):
    r = env.post({"dbName": "prod:all", "sql": f"SELECT personalEmail.address AS email FROM {env.table}",
                  "ctasParameters": {"datasetName": "Order Emails", "description": "from a query"}})
    assert r.status_code == 202, r.text
    done = env.wait(r.json()["id"])
    assert done["state"] == "SUCCESS", done
    assert done["isCTAS"] is True and done["rowCount"] == env.count
    assert done["effectiveSQL"].startswith("CREATE TABLE order_emails AS ")
    ds_id = done["_links"]["created_dataset"]["id"]
    ds = env.kit.client.catalog.get_dataset(ds_id)
    assert ds["name"] == "Order Emails" and ds["tags"]["adobe/pqs/table"] == ["order_emails"]
    assert ds["lastBatchStatus"] == "success"
    rows = []
    for f in env.kit.client.data.list_batch_files(ds["lastBatchId"]):
        for part in env.kit.client.data.get_file(f["dataSetFileId"])["data"]:
            rows.extend(pq.read_table(io.BytesIO(env.kit.client.data.download(f["dataSetFileId"], part["name"])))
                        .to_pylist())
    assert len(rows) == env.count and set(rows[0]) == {"email"}
    later = env.wait(env.post({"sql": "SELECT count(*) FROM order_emails"}).json()["id"])
    assert later["state"] == "SUCCESS" and later["rowCount"] == 1


def test_a_failing_query_records_its_error(env: Env):
    done = env.wait(env.post({"dbName": "prod:all", "sql": "SELECT * FROM no_such_table"}).json()["id"])
    assert done["state"] == "FAILED"
    (err,) = done["errors"]
    assert err["code"] == "42P01" and env.table in err["message"] and err["errorType"] == "USER_ERROR"


@pytest.mark.parametrize("body, words", [
    ({"dbName": "prod:all", "sql": "SELECT FROM WHERE"}, "42601"),
    ({"dbName": "prod:all"}, "'sql' is required"),
    ({"dbName": "dev:all", "sql": "SELECT 1"}, "dbName must be"),
    ({"dbName": "prod:all", "sql": "DELETE FROM x"}, "0A000"),
    ({"dbName": "prod:all", "sql": "SELECT 1; SELECT 2"}, "exactly one statement"),
    ({"dbName": "prod:all", "sql": "SELECT 1", "ctasParameters": {}}, "datasetName"),
    ({"dbName": "prod:all", "sql": "SELECT * FROM x LIMIT 200000"}, "53400"),
    ([1, 2], "JSON object"),
])
def test_bad_requests_are_400_with_the_documented_body(env: Env, body: Any, words: str):
    r = env.post(body)
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"message", "statusCode"} and r.json()["statusCode"] == 400
    assert words in r.json()["message"]
    assert "\n" not in r.json()["message"]


def test_the_query_log_pages_with_links_and_filters(env: Env):
    ids = [env.post({"sql": f"SELECT {i} AS n", "name": f"page {i}"}).json()["id"] for i in range(5)]
    for qid in ids:
        env.wait(qid)
    seen: list[str] = []
    url = f"{QS}/queries?limit=2&orderby=-created"
    pages = 0
    while url:
        r = env.raw.get(url, headers=env.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert "_links" in body and body["version"] == 1 and len(body["queries"]) <= 2
        seen += [q["id"] for q in body["queries"]]
        nxt = body["_links"].get("next")
        url = nxt["href"].replace(env.aep.url, "") if nxt else ""
        pages += 1
    assert pages >= 3 and len(seen) == len(set(seen))
    assert seen[: len(ids)] == ids[::-1]  # newest first
    asc = env.raw.get(f"{QS}/queries", params={"orderby": "+created", "limit": 1000}, headers=env.headers).json()
    assert [q["id"] for q in asc["queries"]] == seen[::-1] and "next" not in asc["_links"]
    ok = env.raw.get(f"{QS}/queries", params={"property": "state==FAILED", "limit": 1000},
                     headers=env.headers).json()["queries"]
    assert ok and all(q["state"] == "FAILED" for q in ok)
    some = env.raw.get(f"{QS}/queries", params={"property": "sql~SELECT 3 AS", "limit": 1000},
                       headers=env.headers).json()["queries"]
    assert [q["id"] for q in some] == [ids[3]]
    for bad in ({"orderby": "name"}, {"limit": "0"}, {"property": "nope==1"}, {"property": "sql==x"},
                {"start": "yesterday"}):
        r = env.raw.get(f"{QS}/queries", params=bad, headers=env.headers)
        assert r.status_code == 400 and r.json()["statusCode"] == 400, (bad, r.text)


def test_cancel_and_soft_delete(env: Env):
    qid = env.post({"sql": "SELECT 1 AS n"}).json()["id"]
    env.wait(qid)
    patch = f"{QS}/queries/{qid}"
    h = env.raw.headers(json=True)
    r = env.raw.patch(patch, json={"op": "cancel"}, headers=h)
    assert r.status_code == 409 and r.json()["statusCode"] == 409
    assert env.raw.patch(patch, json={"op": "explode"}, headers=h).status_code == 400
    r = env.raw.patch(patch, json={"op": "soft_delete"}, headers=h)
    assert r.status_code == 202 and r.json()["statusCode"] == 202
    assert env.raw.get(patch, headers=env.headers).status_code == 404
    listed = env.raw.get(f"{QS}/queries", params={"limit": 1000}, headers=env.headers).json()["queries"]
    assert qid not in [q["id"] for q in listed]
    assert env.raw.get(f"{QS}/queries/nope", headers=env.headers).status_code == 404


def test_cancel_kills_a_running_query(env: Env):
    t = env.table
    heavy = (f"SELECT a.personID FROM {t} a CROSS JOIN {t} b CROSS JOIN {t} c "
             f"WHERE a._id || b._id || c._id LIKE '%x%'")
    qid = env.post({"sql": heavy}).json()["id"]
    r = env.raw.patch(f"{QS}/queries/{qid}", json={"op": "cancel"}, headers=env.raw.headers(json=True))
    assert r.status_code == 202 and r.json() == {"message": "Query cancel request received", "statusCode": 202}
    assert env.wait(qid)["state"] == "KILLED"


def test_queries_are_invisible_to_other_sandboxes(env: Env):
    qid = env.post({"sql": "SELECT 1 AS n"}).json()["id"]
    env.wait(qid)
    dev = env.raw.headers(sandbox="dev")
    assert env.raw.get(f"{QS}/queries/{qid}", headers=dev).status_code == 404
    assert qid not in [q["id"] for q in env.raw.get(f"{QS}/queries", headers=dev).json()["queries"]]
    failed = env.wait(env.post({"dbName": "dev:all", "sql": f"SELECT * FROM {env.table}"}, sandbox="dev")
                      .json()["id"], sandbox="dev")
    assert failed["state"] == "FAILED" and failed["errors"][0]["code"] == "42P01"


def test_interactive_statements_are_logged_with_their_client(env: Env):
    s = env.qs.interactive(Tenant(DEV_ORG_ID, "prod"), user="aep-local-dev@AdobeID", client="psql")
    s.execute("SET auto_to_json = true")
    s.execute(f"SELECT count(*) FROM {env.table}")
    s.close()
    shown = env.raw.get(f"{QS}/queries", params={"property": "client==psql", "limit": 1000},
                        headers=env.headers).json()["queries"]
    assert [q["request"]["sql"] for q in shown] == [f"SELECT count(*) FROM {env.table}"]
    assert shown[0]["state"] == "SUCCESS" and shown[0]["rowCount"] == 1
    every = env.raw.get(f"{QS}/queries", params={"property": "client==psql", "excludeHidden": "false",
                                                 "limit": 1000}, headers=env.headers).json()["queries"]
    assert len(every) == 2
