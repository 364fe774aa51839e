"""Crash consistency: a platform killed mid-run shows no partial batch, leaves no run in progress, and recovers.

- ``aep-local serve`` runs as a subprocess over a data dir holding a large-ish store; a run is triggered and the
  process is killed with SIGKILL while the batch is being written; after a restart the batch is ``failed`` with no
  file, the run is ``failed`` (``CONNECTOR-2001-500``), no staging directory remains, and a new run ingests
  everything, readable through Data Access.
- In process: a crash after the batch directory was moved into place but before the Catalog and the run were
  updated — recovery removes the data and fails both, so the next run copies the window again without duplicates.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from helpers.serve import serve
import requests
from test_engine_e2e import EMAIL, ORDERS, SHOPIFY, TUTORIAL_MAPPINGS, Kit

from aep_magics import local
from aep_magics.api import AEPClient
from aep_magics.auth import Secret
from aep_magics.config import Profile
from aep_magics.http import AEPSession
from aep_magics.local.engine import datalake, recovery, runner
from aep_magics.local.ids import DETERMINISTIC_EPOCH_MS
from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID
from aep_magics.local.shopify import ShopStore
from aep_magics.local.shopify.store import DEFAULT_SEED as STORE_SEED

SEED = 99
ORDERS_IN_STORE = 200_000


class RemoteKit(Kit):
    """The tutorial builder against a server in another process (no in-process platform)."""

    def __init__(self, url: str):
        self.aep = SimpleNamespace(url=url)
        self.platform = None
        profile = Profile(name="crash", base_url=url, ims_url=url, org_id=DEV_ORG_ID, sandbox="prod",
                          client_id=DEV_CLIENT_ID, client_secret=Secret(DEV_CLIENT_SECRET))
        self.client = AEPClient(AEPSession(profile))
        self.base = self.client.flow.create_connection({
            "name": "Shopify", "auth": {"specName": "Basic Authentication",
                                        "params": {"host": "aeplocal.myshopify.com", "accessToken": "t"}},
            "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})["id"]
        self._schemas = {}

    def now_s(self) -> int:
        return requests.get(f"{self.aep.url}/aep-local/clock", timeout=30).json()["now"] // 1000

    def run_status(self, run_id: str) -> dict[str, Any]:
        body = self.client.flow.get_run(run_id)
        return body["items"][0] if "items" in body else body

    def wait_run(self, flow_id: str, until, timeout: float = 120) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs(flow_id)
            if until(runs):
                return runs
            time.sleep(0.05)
        raise AssertionError(f"runs of {flow_id} never reached the expected state: {runs}")


def _serve(data_dir: Path) -> tuple[subprocess.Popen, str]:
    return serve(data_dir, SEED)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_kill_9_mid_run_then_restart(tmp_path: Path):
    data = tmp_path / "aep"
    start = datetime.fromtimestamp(DETERMINISTIC_EPOCH_MS / 1000, tz=UTC)
    ShopStore(data / "shopify", seed=STORE_SEED).generate(ORDERS_IN_STORE, start=start)
    lake = data / "lake"

    proc, url = _serve(data)
    try:
        kit = RemoteKit(url)
        ids = kit.flow(columns=["Email", "Shipping_Address_Phone"],
                       options={"errorDiagnosticsEnabled": True, "partialIngestionPercent": 10})
        deadline = time.monotonic() + 120
        staging: list[Path] = []
        while time.monotonic() < deadline and not staging:
            staging = list(lake.glob("*/*/*/.staging-*")) if lake.exists() else []
            if not staging:
                time.sleep(0.005)
        assert staging, "the run never started writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # what the crash left on disk: a staging directory, no published batch (unless the kill landed in the instant
    # between the directory move and the Catalog update -- recovery must then remove the published data)
    leftovers = list(lake.glob("*/*/*/.staging-*"))
    published = [p for p in lake.glob("*/*/*/*") if not p.name.startswith(".")]
    assert leftovers or published
    if leftovers:
        assert published == []

    proc, url = _serve(data)
    try:
        kit = RemoteKit(url)
        assert list(lake.glob("*/*/*/.staging-*")) == [], "recovery removes staging directories"
        assert not list(lake.glob("*/*/*/*/part-*.parquet")), "no data of the interrupted batch is left"
        (run,) = kit.runs(ids["flow"])
        status = run["metrics"]["statusSummary"]
        assert status["status"] == "failed"
        assert status["errors"][0]["code"] == "CONNECTOR-2001-500"
        batches = kit.client.catalog.list_batches(ids["dataset"])
        assert len(batches) == 1, "the interrupted run's batch"
        for batch_id, doc in batches.items():
            assert doc["status"] == "failed"
            assert kit.client.data.list_batch_files(batch_id) == []

        # the platform works again: an ad hoc run copies everything and its data is readable
        new = kit.client.flow.create_run({"flowId": ids["flow"]})
        kit.wait_run(ids["flow"], lambda runs: any(
            r["id"] == new["id"] and r["metrics"]["statusSummary"]["status"] in ("success", "failed") for r in runs))
        done = kit.run_status(new["id"])
        assert done["metrics"]["statusSummary"]["status"] == "success", done["metrics"]
        rec = done["metrics"]["recordSummary"]
        assert rec["inputRecordCount"] >= ORDERS_IN_STORE
        (batch_id,) = kit.batch_ids(done)
        files = kit.client.data.list_batch_files(batch_id)
        listing = kit.client.data.get_file(files[0]["dataSetFileId"])
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq

        # a batch this large is written as several part files, encoded in parallel
        table = pa.concat_tables(
            pq.read_table(io.BytesIO(kit.client.data.download(files[0]["dataSetFileId"], part["name"])))
            for part in listing["data"])
        assert table.num_rows == rec["outputRecordCount"] == rec["inputRecordCount"] - rec["failedRecordCount"]
        # batch ingestion checks no format: the e-mails land as the store holds them, malformed ones included
        emails = [e for e in table.column("personalEmail").combine_chunks().field("address").to_pylist() if e]
        assert emails and any(not EMAIL.match(e) for e in emails)
    finally:
        _stop(proc)


class Crash(BaseException):
    """Stands for the process dying: not an ``Exception``, so the runner cannot turn it into a failed run."""


def test_crash_between_publish_and_catalog_update(tmp_path: Path, monkeypatch):
    aep = local.start(data_dir=tmp_path / "aep", seed=5)
    try:
        kit = Kit(aep, orders=500)
        calls = {"n": 0}
        real = runner._advance_watermark

        def crash_in_commit(*args: Any, **kw: Any) -> None:
            calls["n"] += 1
            raise Crash()

        # the commit transaction of a successful run: crash at its end (the directory is already in place)
        monkeypatch.setattr(runner, "_advance_watermark", crash_in_commit)
        scheduler = aep.platform.scheduler
        scheduler.stop()                                    # execute in this thread, where the "crash" is visible
        aep.platform.scheduler = None
        ids = kit.flow(columns=["Email"], mappings=TUTORIAL_MAPPINGS[:1], options={"partialIngestionPercent": 50})
        from aep_magics.local.engine.scheduler import Scheduler

        Scheduler(aep.platform).flow_changed(_tenant(aep), ids["flow"])   # creates the due run (no worker)
        (run_rec,) = aep.platform.store.select(_tenant(aep), "run")
        with pytest.raises(Crash):
            runner.execute_run(aep.platform, _tenant(aep), run_rec.id)
        assert calls["n"] == 1
        # the transaction rolled back: the run is in progress, the batch loading, the directory in place
        run = aep.platform.store.get(_tenant(aep), "run", run_rec.id).doc
        assert run["metrics"]["statusSummary"]["status"] == "inProgress"
        (batch,) = aep.platform.store.select(_tenant(aep), "batch")
        assert batch.doc["status"] == "loading"
        lake = datalake.DataLake(aep.platform.lake_dir)
        assert lake.data_files(_tenant(aep), ids["dataset"], batch.id)

        counts = recovery.recover(aep.platform)
        assert counts == {"staging": 0, "batches": 1, "runs": 1}
        assert lake.data_files(_tenant(aep), ids["dataset"], batch.id) == []
        assert aep.platform.store.get(_tenant(aep), "batch", batch.id).doc["status"] == "failed"
        run = aep.platform.store.get(_tenant(aep), "run", run_rec.id).doc
        assert run["metrics"]["statusSummary"]["status"] == "failed"
        assert run["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-2001-500"

        # the next run copies the same window again: nothing lost, nothing twice
        monkeypatch.setattr(runner, "_advance_watermark", real)
        new = kit.client.flow.create_run({"flowId": ids["flow"]})
        done = runner.execute_run(aep.platform, _tenant(aep), new["id"])
        assert done["metrics"]["statusSummary"]["status"] == "success"
        assert done["activities"][0]["durationSummary"]["extensions"]["windowStart"] == 0
        rows = kit.read_batch(kit.batch_ids(done)[0])
        source = aep.platform.shop.read(ORDERS, columns=["Email"], window=(
            None, done["activities"][0]["durationSummary"]["extensions"]["windowEnd"] // 1000)).to_pylist()
        assert len(rows) == len(source)
    finally:
        aep.stop()


def _tenant(aep):
    from aep_magics.local.store import Tenant

    return Tenant(DEV_ORG_ID, "prod")


def test_recover_is_a_no_op_on_a_clean_platform(tmp_path: Path):
    aep = local.start(data_dir=tmp_path / "aep", seed=6)
    try:
        assert recovery.recover(aep.platform) == {"staging": 0, "batches": 0, "runs": 0}
        # a leftover staging directory of an unknown batch is removed
        d = aep.platform.lake_dir / "org" / "prod" / "0123456789abcdef01234567" / ".staging-01EF01X41KJD82Y9ZX6ET54PCZ"
        d.mkdir(parents=True)
        (d / "part-00000.parquet").write_bytes(b"PAR1")
        assert recovery.recover(aep.platform)["staging"] == 1
        assert not d.exists()
        json.dumps(aep.platform.store.get_meta("clock"))
    finally:
        aep.stop()
