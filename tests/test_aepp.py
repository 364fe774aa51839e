"""The community SDK aepp 0.6.0, unmodified, drives the whole ingestion flow against AEP Local over loopback HTTP.

aepp is configured only through ``aepp.configure(...)`` with ``environment="support"`` (which takes an ``endpoint``
URL) and an ``accesstoken`` from AEP Local's IMS (``POST /ims/token/v3``), as ``aepp/configs.py`` reads them.
aepp keeps that configuration in module-level dicts (``aepp.config.config_object``, ``header``, ``endpoints``): the
``aepp_config`` fixture restores them when the module ends.

aepp 0.6.0's connector reads ``config["connectionType"]`` for a token that is still valid and only writes it when it
fetched the token itself (``aepp/connector.py``, ``AdobeRequest.__init__``); ``configure`` never sets it. Each class is
therefore given the configured dict through its documented ``config`` argument, with the connection type recorded the
way aepp records it (``"support"``). No aepp code is patched.

aepp's ``getData`` returns error bodies instead of raising, so every call's answer is checked for content.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests

import aepp  # a test-only dependency, pinned in pyproject's ``test`` extra
from aepp import catalog, dataaccess, dataprep, flowservice, schema, schemamanager

from aep_magics import local, run_batch_ids
from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID

SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
PROFILE = "https://ns.adobe.com/xdm/context/profile"
GROUPS = ["https://ns.adobe.com/xdm/context/profile-person-details",
          "https://ns.adobe.com/xdm/context/profile-personal-details"]


@pytest.fixture(scope="module")
def aep():
    with local.start(seed=6006) as server:
        start = datetime.fromtimestamp(server.platform.clock.peek_ms() / 1000, tz=UTC)
        server.platform.shop.generate(400, start=start)
        yield server


@pytest.fixture(scope="module")
def cfg(aep) -> Any:
    saved = [copy.deepcopy(d) for d in (aepp.config.config_object, aepp.config.header, aepp.config.endpoints)]
    token = requests.post(f"{aep.url}/ims/token/v3", timeout=30, data={
        "grant_type": "client_credentials", "client_id": DEV_CLIENT_ID, "client_secret": DEV_CLIENT_SECRET,
        "scope": "openid,AdobeID"}).json()["access_token"]
    aepp.configure(org_id=DEV_ORG_ID, client_id=DEV_CLIENT_ID, secret=DEV_CLIENT_SECRET, sandbox="prod",
                   environment="support", endpoint=aep.url, accesstoken=token)
    yield {**aepp.config.config_object, "connectionType": "support"}
    for live, old in zip((aepp.config.config_object, aepp.config.header, aepp.config.endpoints), saved):
        live.clear()
        live.update(old)


@pytest.fixture(scope="module")
def flow(cfg) -> flowservice.FlowService:
    return flowservice.FlowService(config=cfg)


@pytest.fixture(scope="module")
def registry(cfg) -> schema.Schema:
    return schema.Schema(config=cfg)


@pytest.fixture(scope="module")
def cat(cfg) -> catalog.Catalog:
    return catalog.Catalog(config=cfg)


@pytest.fixture(scope="module")
def built(aep, cfg, flow, registry, cat) -> dict[str, Any]:
    """The tutorial's resources, created through aepp, and the flow's finished run."""
    base = flow.createConnection(data={
        "name": "aepp Shopify", "connectionSpec": {"id": SHOPIFY, "version": "1.0"},
        "auth": {"specName": "Basic Authentication",
                 "params": {"host": "aeplocal.myshopify.com", "accessToken": "shpat_test"}}})
    source = flow.createSourceConnection(data={
        "name": "aepp orders", "baseConnectionId": base["id"], "data": {"format": "tabular"},
        "connectionSpec": {"id": SHOPIFY, "version": "1.0"},
        "params": {"tableName": "Shopify.Orders", "columns": [{"name": "Email", "type": "string"}]}})
    created = registry.createSchema({
        "type": "object", "title": "aepp Shopify profile", "description": "created by aepp",
        "allOf": [{"$ref": PROFILE}, *({"$ref": g} for g in GROUPS)], "meta:class": PROFILE})
    schema_id = created["$id"]
    dataset = cat.createDataSet(name="aepp Shopify Orders", schemaId=schema_id)
    dataset_id = dataset[0].rsplit("/", 1)[-1]
    target = flow.createTargetConnectionDataLake(name="aepp Data Lake", datasetId=dataset_id, schemaId=schema_id,
                                                 format="parquet_xdm")
    mapping = dataprep.DataPrep(config=cfg).createMappingSet(mappingSet={
        "version": 0, "xdmSchema": schema_id, "xdmVersion": "1.0", "id": None,
        "mappings": [{"destinationXdmPath": "personalEmail.address", "sourceAttribute": "lower(trim(Email))",
                      "identity": False, "version": 0}]})
    spec_id = flow.getFlowSpecIdFromNames("CRMToAEP", "shopify", "datalake")
    now_s = aep.platform.clock.peek_ms() // 1000
    created_flow = flow.createFlow(spec_id, obj={
        "name": "aepp Shopify flow", "flowSpec": {"id": spec_id, "version": "1.0"},
        "sourceConnectionIds": [source["id"]], "targetConnectionIds": [target["id"]],
        "transformations": [{"name": "Mapping", "params": {"mappingId": mapping["id"], "mappingVersion": 0}}],
        "scheduleParams": {"startTime": str(now_s - 60), "frequency": "once"},
        "options": {"partialIngestionPercent": 50}})
    # the flow is scheduled ``once`` in the past: AEP Local's scheduler runs it now; wait for it through AEP Local
    assert aep.platform.scheduler.wait_idle(120), "the scheduler did not finish its runs"
    return {"base": base, "source": source, "schema": created, "dataset": dataset_id, "target": target,
            "mapping": mapping, "flow_spec": spec_id, "flow": created_flow}


# -- connection specs --------------------------------------------------------------------------------------------------
def test_connection_specs(flow):
    specs = flow.getConnectionSpecs()
    assert {s["id"] for s in specs} >= {SHOPIFY, DATA_LAKE}
    assert flow.getConnectionSpec(SHOPIFY)["items"][0]["id"] == SHOPIFY
    assert flow.getConnectionSpecIdFromName("shopify") == SHOPIFY
    assert flow.getConnectionSpecIdFromName("datalake") == DATA_LAKE


# -- base, source and target connections -------------------------------------------------------------------------------
def test_connections(flow, built):
    base, source, target = built["base"]["id"], built["source"]["id"], built["target"]["id"]
    assert flow.getConnection(base)["auth"]["params"]["accessToken"] == "********"
    assert base in {c["id"] for c in flow.getConnections()}
    got = flow.getSourceConnection(source)
    assert got["params"]["tableName"] == "Shopify.Orders" and got["baseConnectionId"] == base
    assert source in {c["id"] for c in flow.getSourceConnections()}
    tgt = flow.getTargetConnection(target)
    assert tgt["connectionSpec"]["id"] == DATA_LAKE and tgt["params"]["dataSetId"] == built["dataset"]
    assert target in {c["id"] for c in flow.getTargetConnections()}


# -- Schema Registry ---------------------------------------------------------------------------------------------------
def test_schema_lookups(cfg, registry, built):
    schema_id = built["schema"]["$id"]
    assert schema_id in {s["$id"] for s in registry.getSchemas()}
    assert registry.getSchema(schema_id)["title"] == "aepp Shopify profile"
    full = registry.getSchema(schema_id, full=True)
    assert "personalEmail" in full["properties"]
    assert PROFILE in {c["$id"] for c in schema.Schema(config=cfg, containerId="global").getClasses()}
    assert registry.getClasses() == []                                    # the tenant has no classes of its own
    assert isinstance(registry.getFieldGroups(), list)
    sample = registry.getSchemaSample(schema_id)
    assert isinstance(sample["personalEmail"]["address"], str) and "@" in sample["personalEmail"]["address"]
    manager = schemamanager.SchemaManager(schema_id, schemaAPI=registry)
    assert manager.title == "aepp Shopify profile"
    assert "personalEmail.address" in set(manager.to_dataframe()["path"])


def test_unions_follow_profile_enabled_schemas(registry, built):
    assert registry.getUnions() == []                                     # no schema is enabled for Profile yet
    schema_id = built["schema"]["$id"]
    registry.patchSchema(schema_id, [{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}])
    unions = registry.getUnions()
    assert [u["$id"] for u in unions] == [f"{PROFILE}__union"]
    assert {"$ref": GROUPS[0]} in unions[0]["allOf"]


# -- Catalog -----------------------------------------------------------------------------------------------------------
def test_datasets(cat, built):
    datasets = cat.getDataSets()                                          # aepp reads classification and tags here
    ours = datasets[built["dataset"]]
    assert ours["classification"] == {"dataBehavior": "record", "managedBy": "CUSTOMER"}
    assert ours["tags"]["adobe/pqs/table"] == ["aepp_shopify_orders"]
    assert cat.data.table_names["aepp Shopify Orders"] == ["aepp_shopify_orders"]
    info = cat.data.infos.set_index("id").loc[built["dataset"]]
    assert info["dataBehavior"] == "record" and info["qs_table"] == "aepp_shopify_orders"
    assert cat.getDataSet(built["dataset"])[built["dataset"]]["schemaRef"]["id"] == built["schema"]["$id"]


# -- Data Prep ---------------------------------------------------------------------------------------------------------
def test_mapping_sets(cfg, built):
    prep = dataprep.DataPrep(config=cfg)
    mapping_id = built["mapping"]["id"]
    assert prep.getMappingSet(mapping_id)["id"] == mapping_id
    assert mapping_id in {m["id"] for m in prep.getMappingSets()}


# -- flows, runs, batches and data access ------------------------------------------------------------------------------
def test_flow_and_its_run(aep, cfg, flow, cat, built):
    assert built["flow_spec"] == CRM_TO_AEP
    flow_id = built["flow"]["id"]
    assert flow.getFlow(flow_id)["sourceConnectionIds"] == [built["source"]["id"]]
    assert flow_id in {f["id"] for f in flow.getFlows()}
    runs = flow.getRuns(prop=f"flowId=={flow_id}")
    assert len(runs) == 1
    (run,) = flow.getRun(runs[0]["id"])                                # aepp returns the ``items`` list
    assert run["id"] == runs[0]["id"]
    assert run["metrics"]["statusSummary"]["status"] == "success"
    (batch_id,) = run_batch_ids(run)

    assert batch_id in cat.getBatches(dataSet=built["dataset"])
    batch = cat.getBatch(batch_id)[batch_id]
    assert batch["status"] == "success" and batch["recordCount"] == run["metrics"]["recordSummary"][
        "outputRecordCount"]
    last = cat.getLastBatches(dataSetId=built["dataset"])[built["dataset"]]
    assert last["lastBatchId"] == last["lastSuccessfulBatchId"] == batch_id and last["lastBatchStatus"] == "success"

    data = dataaccess.DataAccess(config=cfg)
    files = data.getBatchFiles(batch_id)
    assert files and files[0]["dataSetFileId"]
    listing = data.getFiles(files[0]["dataSetFileId"])
    name = listing["data"][0]["name"]
    assert name.endswith(".parquet")
    table = pq.read_table(data.getFiles(files[0]["dataSetFileId"], path=name))
    assert table.num_rows == batch["recordCount"] > 0
    assert "personalEmail" in table.column_names
