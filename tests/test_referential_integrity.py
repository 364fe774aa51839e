"""Referential integrity in AEP Local, over loopback HTTP: a reference is checked in the transaction that stores it,
deletes leave nothing behind, and no resource points into another org or sandbox.

- A DELETE of a source connection racing the creation of a flow on it (two threads released together, 30 trials):
  exactly one wins, and no flow ever points at a deleted connection.
- A target connection naming another org's (or sandbox's) dataset, a flow naming another org's mapping set: 400.
- Deleting a dataset, or a sandbox, removes its Parquet files and batch directories from the data lake.
- A dataset deleted while a run writes into it: the run fails, and neither its batch nor its files stay.
- A sandbox created again under a deleted one's name is empty, even when flows were being created in the deleted
  one while it was deleted (their runs do not reappear).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from test_engine_e2e import CRM_TO_AEP, DATA_LAKE, SHOPIFY, TUTORIAL_MAPPINGS, Kit

from aep_magics import local
from aep_magics.api import AEPClient
from aep_magics.auth import Secret
from aep_magics.config import Profile
from aep_magics.errors import AEPError, BadRequestError
from aep_magics.http import AEPSession
from aep_magics.local.platform import DEV_ORG_ID
from aep_magics.local.store import Tenant

FLOW = "/data/foundation/flowservice"
CATALOG = "/data/foundation/catalog"
SANDBOXES = "/data/foundation/sandbox-management/sandboxes"
OTHER_ORG = "REFINTEGRITY0000000000AB@AdobeOrg"
TRIALS = 30


@pytest.fixture(scope="module")
def aep():
    with local.start(seed=8080) as server:
        yield server


@pytest.fixture(scope="module")
def kit(aep):
    return Kit(aep, orders=100_000)  # a run takes about half a second: long enough to delete a dataset under it


def client_for(aep: Any, sandbox: str = "prod") -> AEPClient:
    return AEPClient(AEPSession(aep.profile(sandbox)))


class SandboxKit(Kit):
    """The tutorial builder of test_engine_e2e in another sandbox (the sample store is the platform's)."""

    def __init__(self, aep: Any, sandbox: str):
        self.aep, self.platform, self.client, self._schemas = aep, aep.platform, client_for(aep, sandbox), {}
        self.base = base_connection(self.client)


def status_of(call: Callable[[], Any]) -> int:
    """The HTTP status a call ended with (2xx as 200)."""
    try:
        call()
    except AEPError as error:
        return int(error.status or 0)
    return 200


def race(first: Callable[[], Any], second: Callable[[], Any]) -> tuple[int, int]:
    """Run both calls on two threads released at the same instant; their statuses."""
    gate = threading.Barrier(2)
    out: dict[int, int] = {}

    def run(i: int, call: Callable[[], Any]) -> None:
        gate.wait()
        out[i] = status_of(call)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out[0], out[1]


def source(client: AEPClient, base: str, name: str) -> str:
    return client.flow.create_source_connection({
        "name": f"{name} source", "baseConnectionId": base, "data": {"format": "tabular"},
        "params": {"tableName": "Shopify.Orders", "columns": [{"name": "Email", "type": "string"}]},
        "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})["id"]


def pipeline(client: AEPClient, base: str, *, dataset: str | None = None, schema: str | None = None,
             name: str = "ri") -> dict[str, str]:
    """A source (Shopify orders) and a Data Lake target; the target names ``dataset`` when given."""
    src = source(client, base, name)
    tgt = client.flow.create_target_connection({
        "name": f"{name} target", "data": {"format": "parquet_xdm", "schema": {
            "id": schema or "https://ns.adobe.com/aeplocal/schemas/none",
            "version": "application/vnd.adobe.xed-full-notext+json; version=1"}},
        "params": {"dataSetId": dataset or "5fa9c083de62e418dd170b42"},
        "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}})["id"]
    return {"source": src, "target": tgt}


def flow_body(src: str, tgt: str, start_s: int, mapping: str | None = None, name: str = "ri flow") -> dict[str, Any]:
    transformations = [] if mapping is None else [
        {"name": "Mapping", "params": {"mappingId": mapping, "mappingVersion": 0}}]
    return {"name": name, "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"}, "sourceConnectionIds": [src],
            "targetConnectionIds": [tgt], "transformations": transformations,
            "scheduleParams": {"startTime": str(start_s), "frequency": "once"}}


def base_connection(client: AEPClient) -> str:
    return client.flow.create_connection({
        "name": "Shopify", "auth": {"specName": "Basic Authentication",
                                    "params": {"host": "aeplocal.myshopify.com", "accessToken": "t"}},
        "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})["id"]


def lake(aep: Any, *parts: str) -> Path:
    return Path(aep.platform.lake_dir, *parts)


def test_delete_racing_a_flow_create_never_leaves_a_flow_on_a_deleted_connection(aep, kit):
    client, deleter, creator = kit.client, client_for(aep), client_for(aep)
    far = kit.now_s() + 30 * 86400  # no run: the race is about the references only
    ids = kit.flow(columns=["Email"], name="race base", schedule={"startTime": str(far), "frequency": "once"})
    outcomes: list[tuple[int, int]] = []
    for i in range(TRIALS):
        src = source(client, kit.base, f"race {i}")
        outcomes.append(race(
            lambda: deleter.session.request("DELETE", f"{FLOW}/sourceConnections/{src}"),
            lambda: creator.flow.create_flow(flow_body(src, ids["target"], far, name=f"race flow {i}"))))
    orphans = [flow["id"] for flow in client.flow.list_flows() for src in flow["sourceConnectionIds"]
               if status_of(lambda: client.session.request("GET", f"{FLOW}/sourceConnections/{src}")) == 404]
    print(json.dumps({"trials": TRIALS, "delete won": outcomes.count((200, 400)),
                      "create won": outcomes.count((400, 200)), "both won": outcomes.count((200, 200)),
                      "flows on deleted connections": len(orphans)}))
    assert orphans == []
    assert all(sorted(outcome) == [200, 400] for outcome in outcomes), outcomes  # exactly one of them wins


def test_references_into_another_org_or_sandbox_are_refused(aep, kit):
    far = kit.now_s() + 30 * 86400
    ids = kit.flow(columns=["Email"], name="owned by org A", schedule={"startTime": str(far), "frequency": "once"})
    mapping = kit.client.dataprep.create_mapping_set({"version": 0, "xdmSchema": ids["schema"], "xdmVersion": "1.0",
                                                      "id": None, "mappings": TUTORIAL_MAPPINGS})["id"]
    r = requests.post(f"{aep.url}/aep-local/clients", timeout=30,
                      json={"client_id": "ri-other-org", "client_secret": "ri-other-secret", "org_id": OTHER_ORG},
                      headers={"Authorization": f"Bearer {aep.admin_token}"})
    assert r.status_code == 201, r.text
    other = AEPClient(AEPSession(Profile(name="other org", base_url=aep.url, ims_url=aep.url, org_id=OTHER_ORG,
                                         client_id="ri-other-org", client_secret=Secret("ri-other-secret"),
                                         sandbox="prod")))
    base = base_connection(other)
    with pytest.raises(BadRequestError, match=f"the dataset {ids['dataset']} does not exist in sandbox 'prod'"):
        pipeline(other, base, dataset=ids["dataset"], schema=ids["schema"])
    # an org without datasets or mapping sets takes ids it cannot check (Flow Service alone), but not org A's
    own = pipeline(other, base)
    with pytest.raises(BadRequestError, match=f"Error while validating mapping with id {mapping}"):
        other.flow.create_flow(flow_body(own["source"], own["target"], far, mapping=mapping))
    assert other.flow.create_flow(flow_body(own["source"], own["target"], far, mapping="0" * 32))["id"]
    # another sandbox of the same org is another tenant too
    kit.client.sandboxes.create("ri-dev", "RI dev")
    dev = client_for(aep, "ri-dev")
    with pytest.raises(BadRequestError, match="does not exist in sandbox 'ri-dev'"):
        pipeline(dev, base_connection(dev), dataset=ids["dataset"], schema=ids["schema"])
    assert kit.client.catalog.get_dataset(ids["dataset"])  # org A's dataset is untouched


def test_deleting_a_dataset_or_a_sandbox_removes_its_lake_files(aep, kit):
    ids = kit.flow(columns=["Email", "Shipping_Address_Phone"], name="lake files")
    kit.idle()
    assert [r["metrics"]["statusSummary"]["status"] for r in kit.runs(ids["flow"])] == ["success"]
    dataset_dir = lake(aep, DEV_ORG_ID, "prod", ids["dataset"])
    assert list(dataset_dir.glob("*/part-*.parquet"))
    kit.client.session.request("DELETE", f"{CATALOG}/dataSets/{ids['dataset']}")
    assert not dataset_dir.exists()
    assert kit.client.session.request("GET", f"{CATALOG}/batches", params={"dataSet": ids["dataset"]}).json() == {}

    kit.client.sandboxes.create("ri-lake", "RI lake")
    SandboxKit(aep, "ri-lake").flow(columns=["Email", "Shipping_Address_Phone"], name="sandboxed lake files")
    kit.idle()
    sandbox_dir = lake(aep, DEV_ORG_ID, "ri-lake")
    assert list(sandbox_dir.glob("*/*/part-*.parquet"))
    kit.client.session.request("DELETE", f"{SANDBOXES}/ri-lake")
    assert not sandbox_dir.exists()


def test_a_dataset_deleted_during_a_run_keeps_no_batch(aep, kit):
    ids = kit.flow(columns=["Email", "Shipping_Address_Phone"], name="deleted under the run")
    deadline = time.monotonic() + 60
    while not [r for r in kit.runs(ids["flow"]) if r["metrics"]["statusSummary"]["status"] == "inProgress"]:
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.005)
    kit.client.session.request("DELETE", f"{CATALOG}/dataSets/{ids['dataset']}")
    kit.idle()
    [run] = kit.runs(ids["flow"])
    summary = run["metrics"]["statusSummary"]
    assert summary["status"] == "failed", summary
    assert f"The target dataset {ids['dataset']} was deleted during the run." in json.dumps(summary)
    assert kit.client.session.request("GET", f"{CATALOG}/batches", params={"dataSet": ids["dataset"]}).json() == {}
    assert not lake(aep, DEV_ORG_ID, "prod", ids["dataset"]).exists()


def test_a_sandbox_created_again_has_no_runs_of_the_deleted_one(aep, kit):
    admin = client_for(aep)
    leftovers = 0
    for i in range(10):
        admin.sandboxes.create("ri-reborn", "RI reborn")
        inside = client_for(aep, "ri-reborn")
        for kind in ("flows", "runs", "sourceConnections", "targetConnections", "connections"):
            assert inside.session.request("GET", f"{FLOW}/{kind}").json()["items"] == [], (i, kind)
        assert inside.session.request("GET", f"{CATALOG}/batches").json() == {}
        assert not lake(aep, DEV_ORG_ID, "ri-reborn").exists()
        ids = pipeline(inside, base_connection(inside), name=f"reborn {i}")
        body = flow_body(ids["source"], ids["target"], kit.now_s() - 60, name=f"reborn flow {i}")  # due: runs now

        def create_flows() -> None:
            for _ in range(3):
                status_of(lambda: inside.flow.create_flow(body))

        race(create_flows, lambda: admin.sandboxes.delete("ri-reborn"))
        kit.idle()
        # what work under way wrote into the deleted sandbox (read from the store: the API no longer serves it)
        leftovers += bool(aep.platform.store.count(Tenant(DEV_ORG_ID, "ri-reborn"), "run"))
    print(json.dumps({"trials": 10, "trials that left runs in the deleted sandbox": leftovers}))
    admin.sandboxes.create("ri-reborn", "RI reborn")
    assert client_for(aep, "ri-reborn").flow.list_runs() == []
