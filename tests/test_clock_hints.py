"""Deterministic mode's clock in plain words: with ``--seed`` AEP Local's clock starts at 2026-03-02 09:00 UTC and moves
only when told, so a flow whose ``startTime`` comes from the wall clock never runs. ``%aep_runs --wait`` says so at
once (and how to move the clock) instead of waiting out its timeout; ``%%aep_flow`` adds the same hint to its result
when the start time is far ahead of AEP Local's clock. Only on AEP Local."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from helpers.shell import magic_shell

from aep_magics.magics import ops, state

AEP_ENV = ("AEP_CONFIG", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ACCESS_TOKEN", "AEP_ORG_ID", "AEP_SANDBOX",
           "AEP_BASE_URL", "AEP_IMS_URL", "AEP_SCOPES", "AEP_LOCAL_URL", "AEP_LOCAL_DATA")
SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
SEED_EPOCH_S = 1772442000  # 2026-03-02 09:00 UTC

FLOW = """%%aep_flow -o flow
{
    "name": "{name}",
    "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
    "sourceConnectionIds": ["{{ids['source']}}"],
    "targetConnectionIds": ["{{ids['target']}}"],
    "scheduleParams": {"startTime": "{start}", "frequency": "once"}
}"""


@pytest.fixture
def shell(monkeypatch):
    for name in AEP_ENV:
        monkeypatch.delenv(name, raising=False)
    sh = magic_shell()
    sh.run_cell("%aep_auth --local --seed 41 -q").raise_error()
    sh.run_line_magic("config", "AEPMagics.wait_poll_interval = 0.2")
    sh.user_ns["ids"] = _chain(state.current.client)
    yield sh
    state.current.close()


def _chain(client) -> dict[str, str]:
    """A source connection and a Data Lake target connection for flows to use."""
    base = client.flow.create_connection({
        "name": "Clock base", "auth": {"specName": "Basic Authentication",
                                       "params": {"host": "aeplocal.myshopify.com", "accessToken": "t"}},
        "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})["id"]
    source = client.flow.create_source_connection({
        "name": "Clock source", "baseConnectionId": base, "data": {"format": "tabular"},
        "params": {"tableName": "Shopify.Orders", "columns": [{"name": "Email", "type": "string"}]},
        "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})["id"]
    schema = client.schemas.create_schema({
        "type": "object", "title": "Clock profile", "description": "",
        "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"},
                  {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"}],
        "meta:containerId": "tenant", "meta:resourceType": "schemas", "meta:xdmType": "object",
        "meta:class": "https://ns.adobe.com/xdm/context/profile"})["$id"]
    dataset = client.catalog.create_dataset({"name": "Clock dataset", "schemaRef": {
        "id": schema, "contentType": "application/vnd.adobe.xed-full-notext+json; version=1"}})
    target = client.flow.create_target_connection({
        "name": "Clock target", "data": {"format": "parquet_xdm", "schema": {
            "id": schema, "version": "application/vnd.adobe.xed-full-notext+json; version=1"}},
        "params": {"dataSetId": dataset}, "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}})["id"]
    return {"source": source, "target": target}


def make_flow(shell, name: str, start: int):
    result = shell.run_cell(FLOW.replace("{name}", name).replace("{start}", str(start)))
    result.raise_error()
    return shell.user_ns["flow"]


def test_a_wall_clock_start_is_explained_at_once(shell):
    flow = make_flow(shell, "Wall clock flow", int(time.time()))
    assert flow.note and "ahead of AEP Local's clock (2026-03-02 09:0" in flow.note
    assert "%aep_clock --advance " in flow.note and "{{clock.now_s}}" in flow.note
    data, _ = shell.display_formatter.format(flow)
    assert "ahead of AEP Local" in data["text/plain"] and "ahead of AEP Local" in data["text/html"]
    started = time.monotonic()
    result = shell.run_cell("%aep_runs {{flow.id}} --wait --timeout 300")
    assert time.monotonic() - started < 30                       # said at once, not after 300 s
    error = result.error_in_exec
    assert isinstance(error, ops.FlowNotDueError) and isinstance(error, ops.WaitTimeoutError)
    (line,) = error._render_traceback_()
    assert f"flow {flow.id} has no run yet, and none will come while waiting" in line
    assert "moves only when told" in line and "%aep_clock --advance " in line and "%aep_clock -o clock" in line


def test_a_near_start_has_no_note_but_wait_still_says_how_to_move_the_clock(shell):
    shell.run_cell("%aep_clock -o clock -q").raise_error()
    flow = make_flow(shell, "Near flow", shell.user_ns["clock"]["now_s"] + 60)
    assert flow.note is None                                     # a minute ahead is what notebook 04 does
    error = shell.run_cell("%aep_runs {{flow.id}} --wait --timeout 300").error_in_exec
    assert isinstance(error, ops.FlowNotDueError) and "%aep_clock --advance 1m" in str(error)
    shell.run_cell("%aep_clock --advance 2m -q").raise_error()
    shell.run_cell("%aep_runs {{flow.id}} --wait --timeout 120 -o runs -q").raise_error()
    assert shell.user_ns["runs"].finished and len(shell.user_ns["runs"]) == 1


def test_a_past_start_has_no_note(shell):
    flow = make_flow(shell, "Past flow", 1604961070)
    assert flow.note is None


def test_start_times_and_a_real_sandbox():
    assert ops.start_time({"scheduleParams": {"startTime": "1604961070"}}) == 1604961070
    assert ops.start_time({"scheduleParams": {"startTime": 1604961070000}}) == 1604961070
    assert ops.start_time({"scheduleParams": {}}) is None and ops.start_time({"scheduleParams": {"startTime": "x"}}) is None

    class Refuse:
        def request(self, *args, **kwargs):
            raise AssertionError("a real sandbox is never asked for AEP Local's clock")

    adobe = SimpleNamespace(session=SimpleNamespace(profile=SimpleNamespace(base_url="https://platform.adobe.io"),
                                                    request=Refuse().request))
    far = {"scheduleParams": {"startTime": str(SEED_EPOCH_S + 400 * 86400)}}
    assert ops.clock_hint(adobe, far, far=3600) is None and ops.local_clock(adobe) is None
