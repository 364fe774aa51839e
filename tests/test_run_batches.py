"""Runs → batches as a first-class accessor: every run the kit hands back (``%aep_runs -o runs`` items, the Flow Service
api's ``list_runs``/``get_run``) offers ``.batch_ids`` and ``.promotion`` over every documented run shape; ``%aep_read
--run`` reads one run's batches and ``%aep_lineage`` shows the batches the flow's own runs wrote."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from helpers.shell import cell as run, failing, magic_shell

from helpers.fake_platform import FakePlatform, Reply, profile_for
from test_api import DOC_RUNS_NEW, DOC_RUNS_OLD

from aep_magics import Run, local
from aep_magics.api import AEPClient
from aep_magics.display import RunsResult
from aep_magics.errors import InputError
from aep_magics.http import AEPSession
from aep_magics.magics import state

ROOT = Path(__file__).resolve().parents[1]
FLOW = "/data/foundation/flowservice"
SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
AEP_ENV = ("AEP_CONFIG", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ACCESS_TOKEN", "AEP_ORG_ID", "AEP_SANDBOX",
           "AEP_BASE_URL", "AEP_IMS_URL", "AEP_SCOPES", "AEP_LOCAL_URL", "AEP_LOCAL_DATA")


# -- the accessor over each documented shape ------------------------------------------------------------------------


def test_a_run_reads_both_documented_shapes_and_stays_its_json():
    old, new = Run(DOC_RUNS_OLD["items"][0]), Run(DOC_RUNS_NEW["items"][0])
    assert old.batch_ids == ["01EF01X41KJD82Y9ZX6ET54PCZ"]          # targetInfo of the "promotionActivity" id
    assert new.batch_ids == ["01ES3TRN69E9W2DZ770XCGYAH1"]          # a UUID id named "Promotion Activity": manifest
    assert old.promotion["targetInfo"][0]["reference"]["type"] == "Batch"
    assert new.promotion["name"] == "Promotion Activity"
    assert old.id == "9830305a-985f-47d0-b030-5a985fd7d004" and old.status == "success"
    spelled = copy.deepcopy(DOC_RUNS_OLD["items"][0])
    spelled["activites"] = spelled.pop("activities")                 # flow-service.yaml's spelling
    assert Run(spelled).batch_ids == ["01EF01X41KJD82Y9ZX6ET54PCZ"] and len(Run(spelled).activities) == 2
    pending = Run({"id": "r", "activities": [DOC_RUNS_NEW["items"][0]["activities"][0]]})
    assert pending.batch_ids == [] and pending.promotion is None
    # still the run's JSON: equal to it, serialised as it, copied as it
    assert old == DOC_RUNS_OLD["items"][0] and json.loads(json.dumps(old)) == DOC_RUNS_OLD["items"][0]
    assert copy.deepcopy(old).batch_ids == old.batch_ids and "batch_ids" not in old


def test_runs_result_items_are_runs_oldest_first():
    old, new = DOC_RUNS_OLD["items"][0], DOC_RUNS_NEW["items"][0]
    runs = RunsResult("f", [new, old])                                # plain dicts in, newest first
    assert all(isinstance(run, Run) for run in runs)
    assert runs[0].batch_ids == ["01EF01X41KJD82Y9ZX6ET54PCZ"]       # started 2020-08: the oldest
    assert runs[-1].batch_ids == ["01ES3TRN69E9W2DZ770XCGYAH1"]
    assert runs.batch_ids == ["01EF01X41KJD82Y9ZX6ET54PCZ", "01ES3TRN69E9W2DZ770XCGYAH1"]
    assert [r["batch"] for r in runs.rows()] == ["01EF01X41KJD82Y9ZX6ET54PCZ", "01ES3TRN69E9W2DZ770XCGYAH1"]


def test_the_flow_service_api_hands_back_runs_in_either_shape():
    with FakePlatform() as fake:
        fake.script("GET", f"{FLOW}/runs", Reply(200, {"items": [DOC_RUNS_NEW["items"][0]], "_links": {}}))
        fake.script("GET", f"{FLOW}/runs/{DOC_RUNS_OLD['items'][0]['id']}", Reply(200, DOC_RUNS_OLD))
        client = AEPClient(AEPSession(profile_for(fake)))
        (listed,) = client.flow.list_runs("f00c8762-df2f-432b-a7d7-38999fef5e8e")
        fetched = client.flow.get_run(DOC_RUNS_OLD["items"][0]["id"])
    assert isinstance(listed, Run) and listed.batch_ids == ["01ES3TRN69E9W2DZ770XCGYAH1"]
    assert isinstance(fetched, Run) and fetched.batch_ids == ["01EF01X41KJD82Y9ZX6ET54PCZ"]


def test_no_tutorial_compares_activity_ids():
    """The tutorials read a run's batches through its accessors, never by an activity's id or name."""
    import nbformat

    sources = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "notebooks").rglob("*.md")}
    for path in (ROOT / "notebooks").rglob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        sources[path.name] = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert len(sources) >= 12 and any(".batch_ids" in text for text in sources.values())
    for name, text in sources.items():
        assert not re.search(r"promotionActivity|copyActivity|Promotion Activity", text), name
        assert not re.search(r"run_batch_ids\(|promotion_activity\(", text), f"{name}: use run.batch_ids"
        assert not re.search(r"""\[["']id["']\]\s*[!=]=|\[["']name["']\]\s*[!=]=""", text), f"{name} compares ids"


# -- on AEP Local: %aep_runs, %aep_read --run, %aep_lineage ---------------------------------------------------------


@pytest.fixture(scope="module")
def platform():
    with local.start(seed=7321) as server:
        yield server


@pytest.fixture
def shell(platform, monkeypatch):
    for name in AEP_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AEP_LOCAL_URL", platform.url)  # %aep_auth --local uses this server
    sh = magic_shell()
    run(sh, "%aep_auth --local -q")
    sh.run_line_magic("config", "AEPMagics.wait_poll_interval = 0.2")
    yield sh
    state.current.close()


def _flow_into(client: AEPClient, name: str, dataset_id: str, schema_id: str, start_s: int) -> str:
    base = client.flow.create_connection({
        "name": f"{name} base", "auth": {"specName": "Basic Authentication",
                                         "params": {"host": "aeplocal.myshopify.com", "accessToken": "t"}},
        "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})["id"]
    src = client.flow.create_source_connection({
        "name": f"{name} source", "baseConnectionId": base, "data": {"format": "tabular"},
        "params": {"tableName": "Shopify.Orders", "columns": [{"name": "Email", "type": "string"}]},
        "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})["id"]
    tgt = client.flow.create_target_connection({
        "name": f"{name} target", "data": {"format": "parquet_xdm", "schema": {
            "id": schema_id, "version": "application/vnd.adobe.xed-full-notext+json; version=1"}},
        "params": {"dataSetId": dataset_id}, "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}})["id"]
    mapping = client.dataprep.create_mapping_set({"version": 0, "xdmSchema": schema_id, "xdmVersion": "1.0", "id": None,
                                                  "mappings": [{"destinationXdmPath": "personalEmail.address",
                                                                "sourceAttribute": "Email", "identity": False,
                                                                "version": 0}]})
    return client.flow.create_flow({
        "name": name, "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"}, "sourceConnectionIds": [src],
        "targetConnectionIds": [tgt],
        "transformations": [{"name": "Mapping", "params": {"mappingId": mapping["id"], "mappingVersion": 0}}],
        "scheduleParams": {"startTime": str(start_s - 60), "frequency": "once"}})["id"]


@pytest.fixture(scope="module")
def two_flows(platform):
    """Two flows into one dataset, each run once: {"a": flow id, "b": flow id, "dataset": id}."""
    from datetime import UTC, datetime

    # a small store whose history ends at the platform's "now": each once-run copies the same few hundred orders
    platform.platform.shop.generate(300, start=datetime.fromtimestamp(platform.platform.clock.peek_ms() / 1000, tz=UTC))
    client = AEPClient(AEPSession(platform.profile()))
    schema = client.schemas.create_schema({
        "type": "object", "title": "Run batches profile", "description": "",
        "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"},
                  {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"}],
        "meta:containerId": "tenant", "meta:resourceType": "schemas", "meta:xdmType": "object",
        "meta:class": "https://ns.adobe.com/xdm/context/profile"})["$id"]
    dataset = client.catalog.create_dataset({"name": "Run batches", "schemaRef": {
        "id": schema, "contentType": "application/vnd.adobe.xed-full-notext+json; version=1"}})
    now_s = platform.platform.clock.peek_ms() // 1000
    flows = {key: _flow_into(client, f"Run batches {key}", dataset, schema, now_s) for key in ("a", "b")}
    assert platform.platform.scheduler.wait_idle(120), "the scheduler did not finish its runs"
    return {**flows, "dataset": dataset}


def test_runs_of_a_magic_name_their_batches(shell, two_flows):
    run(shell, f"%aep_runs {two_flows['a']} --wait --timeout 60 -o runs -q")
    runs = shell.user_ns["runs"]
    assert isinstance(runs[0], Run) and runs[0].status == "success"
    (batch_id,) = runs[0].batch_ids
    catalog = state.current.client.catalog.list_batches(two_flows["dataset"])
    assert batch_id in catalog and len(catalog) == 2                  # the dataset holds both flows' batches
    assert runs[-1].batch_ids == runs.batch_ids == [batch_id]
    fetched = state.current.client.flow.get_run(runs[0].id)
    assert isinstance(fetched, Run) and fetched.batch_ids == [batch_id]


def test_read_a_runs_batches(shell, two_flows):
    run(shell, f"%aep_runs {two_flows['a']} -o runs_a -q")
    run(shell, f"%aep_runs {two_flows['b']} -o runs_b -q")
    everything = run(shell, f"%aep_read {two_flows['dataset']}")
    mine = run(shell, "%aep_read --run {{runs_a[0].id}}")
    theirs = run(shell, "%aep_read --run {runs_b[-1].id}")                 # IPython's own {expr} works too
    assert len(mine) > 0 and len(theirs) > 0 and len(mine) + len(theirs) == len(everything)
    dry = run(shell, "%aep_read --run {{runs_a[0].id}} --dry-run")
    assert dry.request.method == "GET" and f"/runs/{shell.user_ns['runs_a'][0].id}" in dry.request.url
    both = failing(shell, f"%aep_read {two_flows['dataset']} --run {{{{runs_a[0].id}}}}")
    assert isinstance(both, InputError) and "not both" in str(both)


def test_read_a_run_without_batches_says_so(shell):
    from aep_magics.magics import ops

    empty = Run({"id": "r-1", "metrics": {"statusSummary": {"status": "inProgress"}}, "activities": []})
    with pytest.raises(InputError, match=r"run r-1 wrote no batch \(status inProgress\)"):
        ops.read_dataset(state.current.client, run=empty)


def test_lineage_shows_the_batches_of_the_flows_own_runs(shell, two_flows):
    lineage = run(shell, f"%aep_lineage {two_flows['a']}")
    batches = lineage.node("batches")
    assert batches.name == "1 batch"                                   # flow a's own, not flow b's
    details = dict(batches.details)
    assert details["other batches in the dataset"] == "1"
    (mine,) = state.current.client.flow.list_runs(two_flows["a"])[0].batch_ids
    assert details["latest"].startswith(mine)
    assert any("/runs" in call.url for call in lineage.calls)
