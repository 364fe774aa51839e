"""Durability: ``aep-local serve`` killed with SIGKILL at random points of a mixed workload, restarted, checked.

One data dir, ``KILLS`` rounds (CI; ``pytest -m slow tests/test_durability.py`` runs ``KILLS_SLOW``). Each round starts
``aep-local serve`` as a subprocess, runs a workload from a few threads -- base connections and Catalog datasets
created, connections renamed (PATCH + If-Match), and new ``once`` dataflows over a sample store big enough that
their runs are still writing when the kill comes -- then ``kill -9``s the server after a random delay (every other
round, the kill waits for a batch being written). Before the restart, with the server dead:

- the SQLite state opens and ``PRAGMA integrity_check`` answers ``ok``;

after it (recovery runs before the server answers):

- every write the server acknowledged (2xx received before the kill) is there, with the last acknowledged name (or
  the name of a rename whose answer the kill cut off: such a call may or may not have been applied);
- every listed resource (connections, source and target connections, flows, runs, datasets, batches, mapping sets,
  schemas) can be fetched by id;
- no run stays ``inProgress`` (or ``scheduled``): all reach a final state, and no batch stays ``loading``;
- no partial batch is visible: every ``success`` batch's Parquet files download through Data Access, parse, and
  hold exactly the batch's ``recordCount`` rows; no staging directory is left in the lake.

The summary (``pytest -s``) counts kills, acknowledged writes, runs interrupted and recovered, batches checked, writes
lost and integrity checks passed, all measured. The test fails when the run tested nothing: no flow created, no batch
verified, or no kill during a batch write.
"""

from __future__ import annotations

import collections
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from helpers.serve import serve
import requests

from aep_magics.api import AEPClient
from aep_magics.http import AEPSession
from aep_magics.local.ids import DETERMINISTIC_EPOCH_MS
from aep_magics.local import dev_profile
from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID
from aep_magics.local.shopify import ShopStore
from aep_magics.local.shopify.store import DEFAULT_SEED as STORE_SEED

SEED = 4711
ORDERS_IN_STORE = 5_000
KILLS = 5
KILLS_SLOW = 20
SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
FLOW = "/data/foundation/flowservice"
CATALOG = "/data/foundation/catalog"
XDM_CT = "application/vnd.adobe.xed-full-notext+json; version=1"
PROFILE_GROUPS = ["https://ns.adobe.com/xdm/context/profile-person-details",
                  "https://ns.adobe.com/xdm/context/profile-personal-details"]
FINAL = {"success", "failed", "cancelled"}


def _serve(data_dir: Path) -> tuple[subprocess.Popen, str]:
    return serve(data_dir, SEED)


def _kill9(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            _kill9(proc)


class Ledger:
    """What the server acknowledged, across rounds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections: dict[str, str] = {}   # id -> last acknowledged name
        self.in_flight: dict[str, str] = {}     # id -> name of a rename the kill cut off (applied or not)
        self.datasets: dict[str, str] = {}
        self.flows: set[str] = set()
        self.acknowledged = 0
        self.cut = 0                            # calls the kill cut off (no answer)


class Workload:
    """A few threads hammering one server until it dies under them."""

    def __init__(self, url: str, ledger: Ledger, base: dict[str, str], rnd: random.Random, round_no: int):
        self.url = url
        self.ledger = ledger
        self.base = base
        self.round = round_no
        self.seed = rnd.randrange(1 << 30)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._crud, args=(k,), daemon=True) for k in range(2)]
        self.threads.append(threading.Thread(target=self._flows, daemon=True))

    def _session(self) -> requests.Session:
        token = requests.post(f"{self.url}/ims/token/v3", data={
            "grant_type": "client_credentials", "client_id": DEV_CLIENT_ID, "client_secret": DEV_CLIENT_SECRET},
            timeout=10).json()["access_token"]
        s = requests.Session()
        s.headers.update({"Authorization": f"Bearer {token}", "x-api-key": DEV_CLIENT_ID,
                          "x-gw-ims-org-id": DEV_ORG_ID, "x-sandbox-name": "prod"})
        return s

    def _call(self, s: requests.Session, method: str, path: str, **kw: Any) -> requests.Response | None:
        try:
            r = s.request(method, self.url + path, timeout=30, **kw)
        except requests.RequestException:
            with self.ledger.lock:
                self.ledger.cut += 1
            self.stop.set()
            return None
        if r.ok:
            with self.ledger.lock:
                self.ledger.acknowledged += 1
        return r

    def _crud(self, k: int) -> None:
        rng = random.Random(self.seed + k)
        try:
            s = self._session()
        except requests.RequestException:
            return
        mine: dict[str, str] = {}
        i = 0
        while not self.stop.is_set():
            i += 1
            choice = rng.random()
            if choice < 0.45 or not mine:
                name = f"dur r{self.round} t{k} c{i}"
                r = self._call(s, "POST", f"{FLOW}/connections", json={
                    "name": name, "auth": {"specName": "Basic Authentication", "params": {
                        "host": "aeplocal.myshopify.com", "accessToken": "t"}},
                    "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})
                if r is not None and r.status_code == 201:
                    mine[r.json()["id"]] = r.json()["etag"]
                    with self.ledger.lock:
                        self.ledger.connections[r.json()["id"]] = name
            elif choice < 0.7:
                cid = rng.choice(list(mine))
                name = f"dur r{self.round} t{k} renamed {i}"
                r = self._call(s, "PATCH", f"{FLOW}/connections/{cid}", headers={"If-Match": mine[cid]},
                               json=[{"op": "replace", "path": "/name", "value": name}])
                if r is not None and r.status_code == 200:
                    mine[cid] = r.json()["etag"]
                    with self.ledger.lock:
                        self.ledger.connections[cid] = name
                elif r is None:  # no answer: the rename may or may not have been applied
                    with self.ledger.lock:
                        self.ledger.in_flight[cid] = name
            elif choice < 0.85:
                name = f"dur r{self.round} t{k} d{i}"
                r = self._call(s, "POST", f"{CATALOG}/dataSets", json={"name": name})
                if r is not None and r.status_code == 201:
                    with self.ledger.lock:
                        self.ledger.datasets[r.json()[0].rsplit("/", 1)[-1]] = name
            else:
                self._call(s, "GET", f"{FLOW}/connections", params={"limit": 20})

    def _flows(self) -> None:
        """New ``once`` flows over the shared source/target: each run copies the whole store."""
        try:
            s = self._session()
        except requests.RequestException:
            return
        i = 0
        while not self.stop.is_set():
            i += 1
            r = self._call(s, "POST", f"{FLOW}/flows", json={
                "name": f"dur r{self.round} flow {i}", "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
                "sourceConnectionIds": [self.base["source"]], "targetConnectionIds": [self.base["target"]],
                "transformations": [{"name": "Mapping", "params": {"mappingId": self.base["mapping"],
                                                                   "mappingVersion": 0}}],
                "scheduleParams": {"startTime": str(DETERMINISTIC_EPOCH_MS // 1000 - 60), "frequency": "once"},
                "options": {"partialIngestionPercent": 50}})
            if r is not None and r.status_code == 201:
                with self.ledger.lock:
                    self.ledger.flows.add(r.json()["id"])
            time.sleep(0.4)

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def _setup(url: str) -> dict[str, str]:
    """The tutorial's resources that every workload flow shares."""
    c = AEPClient(AEPSession(dev_profile(url)))
    base = c.flow.create_connection({"name": "dur base", "auth": {"specName": "Basic Authentication", "params": {
        "host": "aeplocal.myshopify.com", "accessToken": "t"}}, "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})
    source = c.flow.create_source_connection({
        "name": "dur source", "baseConnectionId": base["id"], "data": {"format": "tabular"},
        "params": {"tableName": "Shopify.Orders", "columns": [{"name": n, "type": "string"}
                                                               for n in ("Email", "Shipping_Address_Phone")]},
        "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})
    schema = c.schemas.create_schema({
        "type": "object", "title": "dur profile", "description": "",
        "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}, *({"$ref": g} for g in PROFILE_GROUPS)],
        "meta:containerId": "tenant", "meta:resourceType": "schemas", "meta:xdmType": "object",
        "meta:class": "https://ns.adobe.com/xdm/context/profile"})["$id"]
    dataset = c.catalog.create_dataset({"name": "dur dataset", "schemaRef": {"id": schema, "contentType": XDM_CT}})
    target = c.flow.create_target_connection({
        "name": "dur target", "data": {"format": "parquet_xdm", "schema": {"id": schema, "version": XDM_CT}},
        "params": {"dataSetId": dataset}, "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}})
    mapping = c.dataprep.create_mapping_set({"version": 0, "xdmSchema": schema, "xdmVersion": "1.0", "id": None,
                                             "mappings": [
        {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "Email", "identity": False, "version": 0},
        {"destinationXdmPath": "mobilePhone.number", "sourceAttribute": "Shipping_Address_Phone", "identity": False,
         "version": 0}]})
    return {"base": base["id"], "source": source["id"], "schema": schema, "dataset": dataset,
            "target": target["id"], "mapping": mapping["id"]}


def _staging(data: Path) -> int:
    lake = data / "lake"
    return sum(1 for _ in lake.glob("*/*/*/.staging-*")) if lake.exists() else 0


def _wait_for_staging(data: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not _staging(data):
        time.sleep(0.002)


# -- the invariants ------------------------------------------------------------------------------------------------

def integrity(data_dir: Path) -> str:
    db = sqlite3.connect(data_dir / "state.sqlite3")
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def _items(body: Any) -> list:
    return body["items"] if isinstance(body, dict) and "items" in body else [body]


def check_after_restart(url: str, data_dir: Path, ledger: Ledger, stats: collections.Counter,
                        verified: set[str]) -> None:
    c = AEPClient(AEPSession(dev_profile(url)))
    s = c.session
    # every acknowledged write survived, with its last acknowledged value
    connections = {x["id"]: x for x in s.iter_flow(f"{FLOW}/connections", {"limit": 1000})}
    datasets = dict(s.iter_catalog(f"{CATALOG}/dataSets", limit=100))
    flows = {x["id"]: x for x in s.iter_flow(f"{FLOW}/flows", {"limit": 1000})}
    lost = [cid for cid in ledger.connections if cid not in connections]
    stale = [cid for cid, name in ledger.connections.items()
             if cid in connections and connections[cid]["name"] not in (name, ledger.in_flight.get(cid))]
    lost_datasets = [d for d in ledger.datasets if d not in datasets]
    renamed_datasets = [d for d, n in ledger.datasets.items() if d in datasets and datasets[d]["name"] != n]
    lost_flows = sorted(ledger.flows - set(flows))
    stats["lost_writes"] += len(lost) + len(stale) + len(lost_datasets) + len(renamed_datasets) + len(lost_flows)
    assert not lost, f"acknowledged connections lost: {lost[:5]}"
    assert not stale, f"acknowledged renames lost: {[(cid, connections[cid]['name']) for cid in stale[:5]]}"
    for cid in list(ledger.in_flight):  # settled: the cut rename was applied or it was not
        ledger.connections[cid] = connections[cid]["name"]
        del ledger.in_flight[cid]
    assert not lost_datasets, f"acknowledged datasets lost: {lost_datasets[:5]}"
    assert not renamed_datasets, f"datasets with another name than acknowledged: {renamed_datasets[:5]}"
    assert not lost_flows, f"acknowledged flows lost: {lost_flows[:5]}"

    # every listed resource can be fetched
    for kind in ("connections", "sourceConnections", "targetConnections", "flows"):
        for item in s.iter_flow(f"{FLOW}/{kind}", {"limit": 1000}):
            got = _items(s.request("GET", f"{FLOW}/{kind}/{item['id']}").json())[0]
            assert got["id"] == item["id"]
            stats["fetched"] += 1
    for did, doc in datasets.items():
        got = c.catalog.get_dataset(did)
        assert got.get(did, got)["name"] == doc["name"]
        stats["fetched"] += 1
    for ms in c.dataprep.list_mapping_sets():
        assert c.dataprep.get_mapping_set(ms["id"])["id"] == ms["id"]
        stats["fetched"] += 1
    for schema in c.schemas.list_schemas():
        assert c.schemas.get_schema(schema["$id"])["$id"] == schema["$id"]
        stats["fetched"] += 1

    # no run stays in progress: recovery failed the interrupted ones, the queued ones run to the end
    deadline = time.monotonic() + 180
    while True:
        runs = list(s.iter_flow(f"{FLOW}/runs", {"limit": 1000}))
        pending = [r for r in runs if r["metrics"]["statusSummary"]["status"] not in FINAL]
        if not pending:
            break
        assert time.monotonic() < deadline, f"runs stuck: {[(r['id'], r['metrics']['statusSummary']) for r in pending]}"
        time.sleep(0.2)
    for run in runs:
        got = _items(c.flow.get_run(run["id"]))[0]
        assert got["id"] == run["id"]
        stats["fetched"] += 1
    stats["runs_final"] = len(runs)
    stats["runs_success_total"] = sum(r["metrics"]["statusSummary"]["status"] == "success" for r in runs)
    stats["runs_interrupted_total"] = sum(
        any("platform stopped" in str(e.get("message", "")) for e in r["metrics"]["statusSummary"].get("errors", []))
        for r in runs)

    # no partial batch: success batches are complete and readable; nothing stays loading
    batches = dict(s.iter_catalog(f"{CATALOG}/batches", limit=100))
    for batch_id, batch in batches.items():
        status = str(batch.get("status", "")).lower()
        assert status in ("success", "failed", "aborted", "abandoned", "inactive"), (batch_id, status)
        got = c.catalog.get_batch(batch_id)
        assert got.get(batch_id, got).get("status") == batch.get("status")
        files = c.data.list_batch_files(batch_id)
        if status != "success":
            assert files == [], f"batch {batch_id} is {status} but shows files"
            continue
        assert files, f"success batch {batch_id} has no files"
        if batch_id in verified:  # read in full after an earlier restart; published files never change
            continue
        rows = 0
        for f in files:
            listing = c.data.get_file(f["dataSetFileId"])
            for part in listing["data"]:
                data = c.data.download(f["dataSetFileId"], part["name"])
                rows += pq.read_table(io.BytesIO(data)).num_rows
        assert rows == batch.get("recordCount"), f"batch {batch_id}: {rows} rows, recordCount {batch.get('recordCount')}"
        verified.add(batch_id)
        stats["batches_verified"] += 1
        stats["rows_verified"] += rows
    assert not list((data_dir / "lake").glob("**/.staging-*")), "a staging directory was left behind"


def durability(tmp_path: Path, kills: int, window: tuple[float, float] = (0.2, 1.2)) -> dict[str, Any]:
    data = tmp_path / "aep"
    start = datetime.fromtimestamp(DETERMINISTIC_EPOCH_MS / 1000 - 86400, tz=timezone.utc)
    ShopStore(data / "shopify", seed=STORE_SEED).generate(ORDERS_IN_STORE, start=start)
    rnd = random.Random(SEED)
    ledger = Ledger()
    stats: collections.Counter[str] = collections.Counter()
    interrupted_runs = 0
    verified: set[str] = set()
    checks: list[str] = []  # PRAGMA integrity_check after every kill and at the end
    timings: collections.Counter[str] = collections.Counter()
    proc, url = _serve(data)
    try:
        base = _setup(url)
        for round_no in range(kills):
            work = Workload(url, ledger, base, rnd, round_no)
            work.start()
            time.sleep(rnd.uniform(*window))
            if round_no % 2:  # every other round: wait (a little) for a batch being written, then strike
                _wait_for_staging(data, timeout=2.0)
            inflight = _staging(data)
            _kill9(proc)
            work.join()
            stats["kills"] += 1
            stats["kills_during_batch_write"] += bool(inflight)
            checks.append(integrity(data))
            assert checks[-1] == "ok", f"round {round_no}: integrity_check answered {checks[-1]!r}"
            t0 = time.perf_counter()
            proc, url = _serve(data)
            t1 = time.perf_counter()
            check_after_restart(url, data, ledger, stats, verified)
            timings["restart_s"] += t1 - t0
            timings["check_s"] += time.perf_counter() - t1
            interrupted_runs = stats["runs_interrupted_total"]
        _stop(proc)
        checks.append(integrity(data))
        assert checks[-1] == "ok", f"after the last stop: integrity_check answered {checks[-1]!r}"
    finally:
        if proc.poll() is None:
            _kill9(proc)
    summary = {"kills": stats["kills"], "kills_during_batch_write": stats["kills_during_batch_write"],
               "acknowledged_writes": ledger.acknowledged, "calls_cut_by_kill": ledger.cut,
               "connections": len(ledger.connections), "datasets": len(ledger.datasets), "flows": len(ledger.flows),
               "runs": stats["runs_final"], "runs_success": stats["runs_success_total"],
               "runs_failed_by_crash_recovery": interrupted_runs, "batches_verified": stats["batches_verified"],
               "rows_verified": stats["rows_verified"], "resources_fetched": stats["fetched"],
               "lost_writes": stats["lost_writes"],
               "integrity_checks_ok": f"{checks.count('ok')}/{len(checks)}",
               **{k: round(v, 1) for k, v in timings.items()}}
    print("\nDURABILITY " + json.dumps(summary, sort_keys=True))
    return summary


def assert_the_workload_was_tested(summary: dict[str, Any], kills: int) -> None:
    """A round that created nothing, or kills that never hit a batch being written, would prove nothing."""
    assert summary["kills"] == kills
    assert summary["flows"] > 0, f"no flow was created: nothing ran when the server was killed ({summary})"
    assert summary["runs"] > 0 and summary["batches_verified"] > 0, f"no batch was written and checked ({summary})"
    assert summary["kills_during_batch_write"] > 0, f"no kill came while a batch was being written ({summary})"
    assert summary["acknowledged_writes"] > 0 and summary["resources_fetched"] > 0, summary
    assert summary["lost_writes"] == 0 and summary["integrity_checks_ok"] == f"{kills + 1}/{kills + 1}", summary


def test_kill_9_at_random_points(tmp_path: Path):
    assert_the_workload_was_tested(durability(tmp_path, KILLS), KILLS)


@pytest.mark.slow
def test_kill_9_at_random_points_soak(tmp_path: Path):
    assert_the_workload_was_tested(durability(tmp_path, KILLS_SLOW, window=(0.5, 3.0)), KILLS_SLOW)
