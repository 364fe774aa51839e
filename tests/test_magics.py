"""Every magic in a real IPython shell against AEP Local over loopback."""

from __future__ import annotations

import getpass
import json
import os
import subprocess

import pytest
from helpers.shell import cell, failing, magic_shell
import requests
from IPython.utils.capture import capture_output

from aep_magics import local as aep_local
from aep_magics.display import DryRun, ListResult, Result, RunsResult
from aep_magics.errors import AEPKitError, InputError, NotFoundError
from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID
from aep_magics.magics import state

SEED = 11
SHOPIFY_SPEC = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
DATA_LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
MAGICS_LINE = ["aep_auth", "aep_sandbox", "aep_explore", "aep_flowspec", "aep_runs", "aep_read", "aep_lineage",
               "aep_delete", "aep_clock", "aep"]
MAGICS_CELL = ["aep_connection", "aep_source", "aep_schema", "aep_dataset", "aep_target", "aep_mapping", "aep_flow",
               "aep"]
AEP_ENV = ("AEP_CONFIG", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ACCESS_TOKEN", "AEP_ORG_ID", "AEP_SANDBOX",
           "AEP_BASE_URL", "AEP_IMS_URL", "AEP_SCOPES")


# -- the shell --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shell():
    sh = magic_shell()
    yield sh
    sh.extension_manager.unload_extension("aep_magics")


@pytest.fixture
def aep(shell, monkeypatch):
    """A shell signed in to an in-process AEP Local (started again if a test signed in elsewhere)."""
    for name in AEP_ENV:
        monkeypatch.delenv(name, raising=False)
    if state.current.local is None:
        cell(shell, f"%aep_auth --local --seed {SEED} -q")
    shell.run_line_magic("config", "AEPMagics.widgets = True")
    shell.run_line_magic("config", "AEPMagics.display_limit = 20")
    return shell


def bundles(shell, *objects) -> str:
    """Every mimetype of every object's rendering, widget state included, as one string."""
    parts = []
    for obj in objects:
        data, _ = shell.display_formatter.format(obj)
        parts.append(json.dumps(data, default=str))
        widget = obj.widget() if hasattr(obj, "widget") else None
        stack = [widget] if widget is not None else []
        while stack:
            w = stack.pop()
            parts.append(json.dumps(w.get_state(), default=str))
            stack.extend(getattr(w, "children", ()) or ())
    return "\n".join(parts)


CONNECTION = """%%aep_connection {options}
{{
    "name": "{name}",
    "description": "Shopify source",
    "auth": {{"specName": "Basic Authentication",
             "params": {{"host": "https://aep-local-demo.myshopify.com", "accessToken": "shpat_demo_token_1234"}}}},
    "connectionSpec": {{"id": "4f63aa36-bd48-4e33-bb83-49fbcd11c708", "version": "1.0"}}
}}"""

SOURCE = """%%aep_source {options}
name: {name}
baseConnectionId: "{{{{conn.id}}}}"
description: Shopify source connection
data:
  format: tabular
params:
  tableName: Shopify.Orders
  columns:
    - {{name: Email, type: string}}
    - {{name: Phone, type: string}}
connectionSpec:
  id: 4f63aa36-bd48-4e33-bb83-49fbcd11c708
  version: "1.0"
"""


def make_connection(shell, name: str, options: str = "-o conn -q"):
    return cell(shell, CONNECTION.format(name=name, options=options))


# -- signing in ------------------------------------------------------------------------------------------------------


def test_magics_registered_with_help(aep):
    manager = aep.magics_manager.magics
    for name in MAGICS_LINE:
        doc = manager["line"][name].__doc__
        assert f"%{name}" in doc and "Example" in doc, name
    for name in MAGICS_CELL:
        doc = manager["cell"][name].__doc__
        if name in MAGICS_LINE:  # a line-and-cell magic: the line form's usage, and what its cell body is
            assert f"%{name} [" in doc and "the cell body" in doc, name
        else:
            assert f"%%{name} [" in doc and "Example" in doc, name
    assert "--if-exists {reuse,fail}" in manager["cell"]["aep_source"].__doc__
    assert any(type(c).__name__ == "AEPMagics" for c in aep.configurables)


def test_reload_extension(aep):
    aep.run_line_magic("reload_ext", "aep_magics")
    assert [type(c).__name__ for c in aep.configurables].count("AEPMagics") == 1
    assert "aep_source" in aep.magics_manager.magics["cell"]
    assert state.current.client is None  # unloading closed the session and stopped AEP Local
    assert isinstance(failing(aep, "%aep_runs f1"), AEPKitError)


def test_auth_local_card(aep):
    assert cell(aep, f"%aep_auth --local --seed {SEED} -o card") is None
    card = aep.user_ns["card"]
    text = repr(card)
    assert "AEP Local" in text and f"org {DEV_ORG_ID}" in text and "sandbox prod" in text
    assert "token valid for" in text
    token = state.current.session.tokens.token()
    assert token not in bundles(aep, card)


def test_auth_defaults_to_local_with_a_note(aep):
    with capture_output() as cap:
        cell(aep, "%aep_auth -q")
    assert state.current.local is not None
    with capture_output() as cap:
        cell(aep, f"%aep_auth --seed {SEED}")
    note, *card = cap.stdout.strip().splitlines()  # the note, then the card (the cell's value)
    assert note.startswith("No AEP credentials configured") and "AEP Local" in note
    assert "No AEP" not in "\n".join(card)


def test_auth_errors_are_one_line(aep, tmp_path):
    from aep_magics.errors import ConfigError

    error = failing(aep, f"%aep_auth --config {tmp_path / 'missing.json'}")
    assert isinstance(error, ConfigError) and len(error._render_traceback_()) == 1
    assert "not found" in str(error)
    error = failing(aep, "%aep_auth --local --config x.json")
    assert isinstance(error, InputError)


def test_auth_with_token_from_getpass(aep, monkeypatch):
    server = aep_local.start()
    try:
        answer = requests.post(f"{server.url}/ims/token/v3", data={
            "client_id": DEV_CLIENT_ID, "client_secret": DEV_CLIENT_SECRET, "grant_type": "client_credentials",
            "scope": "openid,AdobeID,read_organizations"}, timeout=10)
        token = answer.json()["access_token"]
        monkeypatch.setenv("AEP_CLIENT_ID", DEV_CLIENT_ID)
        monkeypatch.setenv("AEP_ORG_ID", DEV_ORG_ID)
        monkeypatch.setenv("AEP_BASE_URL", server.url)
        monkeypatch.setenv("AEP_IMS_URL", server.url)
        monkeypatch.setattr(getpass, "getpass", lambda prompt="": token)
        with capture_output() as cap:
            cell(aep, "%aep_auth --token -o card")
            specs = cell(aep, "%aep GET /data/foundation/flowservice/connectionSpecs --curl")
        assert isinstance(specs, ListResult) and len(specs) > 0
        assert state.current.profile.client_secret is None
        seen = cap.stdout + bundles(aep, aep.user_ns["card"], specs) + "".join(
            json.dumps(o.data) for o in cap.outputs)
        assert token not in seen
        history = "\n".join(aep.history_manager.input_hist_raw)
        assert "%aep_auth --token" in history and token not in history
    finally:
        state.current.close()
        server.stop()


def test_sandbox_list_and_switch(aep):
    sandboxes = cell(aep, "%aep_sandbox")
    assert isinstance(sandboxes, ListResult) and "prod" in [s["name"] for s in sandboxes]
    card = cell(aep, "%aep_sandbox prod")
    assert "sandbox prod" in repr(card)
    error = failing(aep, "%aep_sandbox no-such-sandbox")
    assert isinstance(error, NotFoundError)
    assert "%aep_sandbox lists them" in str(error) and len(error._render_traceback_()) == 1
    assert state.current.profile.sandbox == "prod"
    dry = cell(aep, "%aep_sandbox dev --dry-run")
    assert isinstance(dry, DryRun) and dry.request.path.endswith("/sandboxes/dev")


# -- options and errors ----------------------------------------------------------------------------------------------


def test_wrong_option_is_an_input_error_with_usage(aep):
    error = failing(aep, "%aep_runs --bogus")
    assert isinstance(error, InputError)
    (line,) = error._render_traceback_()
    assert "unrecognized arguments: --bogus" in line and "usage: %aep_runs" in line
    error = failing(aep, "%%aep_source --if-exists maybe\n{}")
    assert isinstance(error, InputError) and "usage: %%aep_source" in str(error)


def test_errors_render_as_one_line(aep):
    with capture_output() as cap:
        result = aep.run_cell("%aep GET /data/foundation/flowservice/flows/00000000-0000-0000-0000-000000000000")
    assert isinstance(result.error_in_exec, NotFoundError)
    lines = [ln for ln in (cap.stdout + cap.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("NotFoundError: 404")
    assert "Traceback" not in cap.stdout + cap.stderr


def test_body_errors(aep):
    error = failing(aep, '%%aep_source\n{"name": "x", "baseConnectionId": "{{nope.id}}"}')
    assert isinstance(error, InputError) and "'nope'" in str(error)
    error = failing(aep, '%%aep_source\n{\n  "name": "x"\n  "data": {}\n}')
    assert isinstance(error, InputError) and "line 3, column 3" in str(error)
    error = failing(aep, "%%aep_source\n   \n")
    assert isinstance(error, InputError) and str(error).startswith("the cell body is empty: write the source")


def test_output_variable_returns_none(aep):
    assert aep.run_line_magic("aep_flowspec", "CRMToAEP -o spec -q") is None
    spec = aep.user_ns["spec"]
    assert spec.id == "14518937-270c-4525-bdec-c2ba7cce3860" and spec.name == "CRMToAEP"
    assert "scheduleSpec" in spec.body
    specs = cell(aep, "%aep_flowspec")
    assert isinstance(specs, ListResult) and "CRMToAEP" in [s["name"] for s in specs]
    error = failing(aep, "%aep_flowspec CRMToAEP -o 'not a name'")
    assert isinstance(error, InputError)


def test_config_traits(aep):
    magics = next(c for c in aep.configurables if type(c).__name__ == "AEPMagics")
    aep.run_line_magic("config", "AEPMagics.timeout = 33")
    aep.run_line_magic("config", "AEPMagics.connect_timeout = 4")
    assert state.current.session.timeout == (4.0, 33.0)
    aep.run_line_magic("config", "AEPMagics.display_limit = 1")
    specs = cell(aep, "%aep GET /data/foundation/flowservice/connectionSpecs")
    assert len(specs) > 1 and f"rows 1–1 of {len(specs):,}" in repr(specs)
    aep.run_line_magic("config", "AEPMagics.widgets = False")
    data, _ = aep.display_formatter.format(specs)
    assert "application/vnd.jupyter.widget-view+json" not in data
    aep.run_line_magic("config", "AEPMagics.wait_poll_interval = 0.5")
    assert magics.wait_poll_interval == 0.5
    aep.run_line_magic("config", "AEPMagics.timeout = 60")
    aep.run_line_magic("config", "AEPMagics.connect_timeout = 5")


def test_dry_run_sends_nothing_and_fetches_no_token(aep, monkeypatch):
    from aep_magics.auth import TokenProvider
    from aep_magics.http import AEPSession

    def refuse(*a, **k):
        raise AssertionError("a dry run reached for the network")

    monkeypatch.setattr(AEPSession, "send", refuse)
    monkeypatch.setattr(TokenProvider, "token", refuse)
    aep.user_ns["conn"] = Result("BaseConnection", id="582f4f8d-71e9-4a5c-a164-9d2056318d6c")
    dry = cell(aep, SOURCE.format(name="Dry source", options="--dry-run --if-exists reuse"))
    assert isinstance(dry, DryRun)
    assert dry.request.method == "POST" and dry.request.path.endswith("/sourceConnections")
    assert dry.request.body["baseConnectionId"] == "582f4f8d-71e9-4a5c-a164-9d2056318d6c"
    assert "DRY RUN, nothing sent: POST" in repr(dry) and "{ACCESS_TOKEN}" in dry.curl
    for line in ["%aep_runs f1 --dry-run", "%aep_runs f1 --wait --dry-run", "%aep_read 5fa9c083de62e418dd170b42 --dry-run",
                 "%aep_delete flow f1 --dry-run", "%aep_lineage f1 --dry-run", "%aep_explore c1 --dry-run",
                 "%aep_explore c1 --table Shopify.Orders --preview --dry-run", "%aep_flowspec CRMToAEP --dry-run",
                 "%aep_sandbox --dry-run", "%aep GET /data/foundation/catalog/dataSets --dry-run"]:
        assert isinstance(cell(aep, line), DryRun), line
    flow = cell(aep, '%%aep_flow --dry-run\n{"name": "f", "flowSpec": {"id": "x", "version": "1.0"}, '
                     '"scheduleParams": {"frequency": "minute", "interval": 1}}')
    assert isinstance(flow, DryRun)  # the schedule check needs the platform: skipped
    mapping = cell(aep, '%%aep_mapping --dry-run --validate\n{"xdmSchema": "x", "mappings": []}')
    assert isinstance(mapping, DryRun) and mapping.request.path.endswith("/mappingSets")  # checks skipped
    check = cell(aep, '%%aep_mapping --dry-run --validate --no-create\n{"xdmSchema": "x", "mappings": []}')
    assert isinstance(check, DryRun) and check.request.path.endswith("/mappingSets/validate")


def test_curl_runs_under_bash_and_gives_the_same_answer(aep):
    with capture_output() as cap:
        assert cell(aep, "%aep GET /data/foundation/flowservice/connectionSpecs --curl -o specs") is None
    specs = aep.user_ns["specs"]
    assert any("curl -X GET" in o.data["text/plain"] for o in cap.outputs)  # shown beside the result
    for placeholder in ("{ACCESS_TOKEN}", "{API_KEY}", "{ORG_ID}", "{SANDBOX_NAME}"):
        assert placeholder in specs.curl
    token = state.current.session.tokens.token()
    env = {**os.environ, "ACCESS_TOKEN": token}
    command = specs.request.prepared.curl(resolve=True)
    assert token not in command
    out = subprocess.run(["bash", "-c", command + " --silent"], env=env, capture_output=True, text=True, timeout=30,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == specs.body

    conn = make_connection(aep, "curl twin", options="--dry-run")
    out = subprocess.run(["bash", "-c", conn.request.prepared.curl(resolve=True) + " --silent"], env=env,
                         capture_output=True, text=True, timeout=30, check=False)
    created = json.loads(out.stdout)
    assert set(created) >= {"id", "etag"}
    fetched = cell(aep, f"%aep GET /data/foundation/flowservice/connections/{created['id']}")
    assert fetched.body["items"][0]["name"] == "curl twin"


def test_if_exists_reuse_flow_service(aep):
    first = make_connection(aep, "Reused connection", options="--if-exists reuse -o conn -q")
    make_connection(aep, "Reused connection", options="--if-exists reuse -o conn2 -q")
    conn, conn2 = aep.user_ns["conn"], aep.user_ns["conn2"]
    assert first is None and conn.id == conn2.id and conn2.reused and not conn.reused
    assert "reused existing" in repr(conn2)
    client = state.current.client
    assert len([c for c in client.flow.list_connections() if c["name"] == "Reused connection"]) == 1
    cell(aep, SOURCE.format(name="Reused source", options="--if-exists reuse -o src -q"))
    cell(aep, SOURCE.format(name="Reused source", options="--if-exists reuse -o src2 -q"))
    assert aep.user_ns["src"].id == aep.user_ns["src2"].id
    assert len([s for s in client.flow.list_source_connections() if s["name"] == "Reused source"]) == 1
    make_connection(aep, "Twice without reuse", options="-q")
    make_connection(aep, "Twice without reuse", options="-q")
    assert len([c for c in client.flow.list_connections() if c["name"] == "Twice without reuse"]) == 2


def test_explore_and_remembered_ids(aep):
    make_connection(aep, "Explore me")
    tables = cell(aep, "%aep_explore")  # the connection just created
    assert isinstance(tables, ListResult) and "Shopify.Orders" in [t["path"] for t in tables]
    columns = cell(aep, "%aep_explore {{conn.id}} --table Shopify.Orders")
    assert "Email" in [c["name"] for c in columns]
    frame = cell(aep, "%aep_explore --table Shopify.Orders --preview --rows 3")
    assert type(frame).__name__ == "DataFrame" and len(frame) == 3 and "Email" in frame.columns
    error = failing(aep, "%aep_explore --preview")
    assert isinstance(error, InputError)


def test_generic_call_cell_and_delete(aep):
    body = CONNECTION.format(name="Generic", options="").split("\n", 1)[1]
    created = cell(aep, "%%aep POST /data/foundation/flowservice/connections\n" + body)
    assert created.status == 201 and created.body["id"]
    aep.user_ns["made"] = created
    fetched = cell(aep, "%aep GET /data/foundation/flowservice/connections/{{made.body.id}}")
    assert fetched.body["items"][0]["name"] == "Generic"
    assert "accessToken" in json.dumps(fetched.body) and "shpat_demo_token_1234" not in bundles(aep, fetched)
    deleted = cell(aep, "%aep_delete connection {{made.body.id}}")
    assert deleted.status == 204 and repr(deleted).startswith("Deleted BaseConnection")
    assert isinstance(failing(aep, "%aep GET /data/foundation/flowservice/connections/{{made.body.id}}"),
                      NotFoundError)
    listing = cell(aep, "%aep GET /data/foundation/flowservice/connections?property=name==Generic -H 'x-extra: 1'")
    assert isinstance(listing, ListResult) and len(listing) == 0


def test_secrets_canary(aep, tmp_path, monkeypatch):
    canary_secret = "CANARY-secret-4b1e9c2d"
    canary_body_secret = "shpat_CANARY_body_77"
    server = aep_local.start()
    try:
        reply = requests.post(f"{server.url}/aep-local/clients", json={
            "client_id": "canary-client", "client_secret": canary_secret,
            "org_id": "CANARY000000000000000000@AdobeOrg"}, timeout=10,
            headers={"Authorization": f"Bearer {server.admin_token}"})
        assert reply.status_code == 201, reply.text
        client_id, secret, org = "canary-client", canary_secret, "CANARY000000000000000000@AdobeOrg"
        config = tmp_path / "aep.json"
        config.write_text(json.dumps({"client_id": client_id, "client_secret": secret, "org_id": org,
                                      "base_url": server.url, "ims_url": server.url}))
        aep.user_ns["shop_token"] = canary_body_secret
        seen = []
        with capture_output() as cap:
            card = cell(aep, f"%aep_auth --config {config}")
            token = state.current.session.tokens.token()
            body = CONNECTION.format(name="Canary", options="{options}").replace(
                "shpat_demo_token_1234", "{{shop_token}}")
            dry = cell(aep, body.replace("{options}", "--dry-run"))
            conn = cell(aep, body.replace("{options}", "--curl"))
            aep.user_ns["conn"] = conn
            fetched = cell(aep, "%aep GET /data/foundation/flowservice/connections/{{conn.id}} --curl")
            specs = cell(aep, "%aep_sandbox --curl")
            failing(aep, "%aep GET /data/foundation/flowservice/flows/nope")
        assert conn.request.body["auth"]["params"]["accessToken"] == canary_body_secret  # really sent
        seen.append(cap.stdout + cap.stderr)
        seen.extend(json.dumps(o.data, default=str) for o in cap.outputs)
        seen.append(bundles(aep, card, dry, conn, fetched, specs))
        seen.append(dry.curl + conn.curl + repr(dry.request) + json.dumps(dry.request.headers))
        seen.append("\n".join(aep.history_manager.input_hist_raw))
        everything = "\n".join(seen)
        for canary in (secret, token, canary_body_secret):
            where = everything.find(canary)
            assert where < 0, everything[max(0, where - 300):where + 50]
        assert "********" in everything
    finally:
        state.current.close()
        server.stop()


def test_flow_schedule_is_checked_before_anything_is_created(aep):
    client = state.current.client
    before = len(client.flow.list_flows())
    error = failing(aep, """%%aep_flow
{"name": "Too often", "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
 "sourceConnectionIds": ["s"], "targetConnectionIds": ["t"],
 "scheduleParams": {"startTime": "1604961070", "frequency": "minute", "interval": "5"}}""")
    assert isinstance(error, InputError)
    assert "minimum" in str(error) and "nothing was created" in str(error)
    error = failing(aep, """%%aep_flow
{"name": "No start", "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
 "scheduleParams": {"frequency": "once"}}""")
    assert "startTime" in str(error)
    assert len(client.flow.list_flows()) == before


# -- the tutorial, end to end (https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce) --------------------------------------------------------------------------

SCHEMA = """%%aep_schema -o schema {options}
{
    "type": "object",
    "title": "{title}",
    "description": "",
    "allOf": [
        {"$ref": "https://ns.adobe.com/xdm/context/profile"},
        {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
        {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"}
    ],
    "meta:containerId": "tenant",
    "meta:resourceType": "schemas",
    "meta:xdmType": "object",
    "meta:class": "https://ns.adobe.com/xdm/context/profile"
}"""

DATASET = """%%aep_dataset -o dataset {options}
{
    "name": "{name}",
    "schemaRef": {"id": "{{schema.id}}", "contentType": "application/vnd.adobe.xed-full-notext+json; version=1"}
}"""

TARGET = """%%aep_target -o tgt {options}
{
    "name": "{name}",
    "description": "Shopify target connection",
    "data": {"format": "parquet_xdm",
             "schema": {"id": "{{schema.id}}", "version": "application/vnd.adobe.xed-full-notext+json; version=1"}},
    "params": {"dataSetId": "{{dataset.id}}"},
    "connectionSpec": {"id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c", "version": "1.0"}
}"""

MAPPING = """%%aep_mapping -o mapping {options}
{
    "version": 0,
    "xdmSchema": "{{schema.id}}",
    "xdmVersion": "1.0",
    "id": null,
    "mappings": [
        {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "Email", "identity": false, "version": 0},
        {"destinationXdmPath": "mobilePhone.number", "sourceAttribute": "Phone", "identity": false, "version": 0}
    ]
}"""

FLOW = """%%aep_flow -o flow {options}
name: {name}
description: Shopify With mapping ingestion
flowSpec:
  id: "{{spec.id}}"
  version: "1.0"
sourceConnectionIds: ["{{src.id}}"]
targetConnectionIds: ["{{tgt.id}}"]
transformations:
  - name: Mapping
    params:
      mappingId: "{{mapping.id}}"
      mappingVersion: {{mapping["version"]}}
scheduleParams:
  startTime: "1604961070"
  frequency: once
options:
  partialIngestionPercent: 10
  errorDiagnosticsEnabled: true
"""


def fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def test_tutorial_sequence_with_magics_only(aep):
    conn = make_connection(aep, "Shopify source", options="-o conn")
    assert conn is None and aep.user_ns["conn"].status == 201
    tables = cell(aep, "%aep_explore {{conn.id}}")
    assert "Shopify.Orders" in [t["path"] for t in tables]
    preview = cell(aep, "%aep_explore {{conn.id}} --table Shopify.Orders --preview --rows 5")
    assert len(preview) == 5
    cell(aep, SOURCE.format(name="Shopify source connection", options="-o src"))
    src = aep.user_ns["src"]
    assert src.kind == "SourceConnection" and src.status == 201
    cell(aep, fill(SCHEMA, title="Test Shopify schema", options=""))
    schema = aep.user_ns["schema"]
    assert schema.id.startswith("https://ns.adobe.com/") and schema.status == 201
    cell(aep, fill(DATASET, name="Shopify dataset", options=""))
    dataset = aep.user_ns["dataset"]
    assert len(dataset.id) == 24 and dataset.status == 201
    cell(aep, fill(TARGET, name="Shopify target connection", options=""))
    assert aep.user_ns["tgt"].status == 201
    cell(aep, fill(MAPPING, options="--validate --preview --source {{src.id}}"))
    mapping = aep.user_ns["mapping"]
    assert mapping.kind == "MappingSet" and mapping.id and mapping["version"] == 0
    assert mapping.validation is not None and all(r["status"] == "SUCCESS" for r in mapping.validation)
    assert mapping.preview is not None and len(mapping.preview) > 0
    cell(aep, "%aep_flowspec CRMToAEP -o spec -q")
    cell(aep, fill(FLOW, name="Test Shopify dataflow", options=""))
    flow = aep.user_ns["flow"]
    assert flow.kind == "Flow" and flow.status == 201 and flow.id
    assert isinstance(cell(aep, "%aep_runs"), RunsResult)  # the flow just created

    lineage = cell(aep, "%aep_lineage {{flow.id}}")
    kinds = [n.kind for n in lineage.nodes]
    assert kinds == ["base connection", "source connection", "flow", "target connection", "dataset", "batches"]
    assert lineage.node("dataset").id == dataset.id

    aep.run_line_magic("config", "AEPMagics.wait_poll_interval = 0.2")
    result = aep.run_cell("%aep_runs {{flow.id}} --wait --timeout 60 -o runs")
    assert result.error_in_exec is None, f"the flow's run did not finish within 60 s: {result.error_in_exec}"
    runs = aep.user_ns["runs"]
    assert isinstance(runs, RunsResult) and runs.finished
    rows = runs.rows()
    assert [r["status"] for r in rows] == ["success"], "; ".join(f"{r['status']} {r['errors']}" for r in rows)
    frame = cell(aep, "%aep_read {{dataset.id}} --limit 50")
    assert 0 < len(frame) <= 50
    assert any(c.startswith("personalEmail") for c in frame.columns)


def test_if_exists_reuse_registry_catalog_dataprep(aep):
    cell(aep, fill(SCHEMA, title="Reused schema", options="--if-exists reuse -q"))
    first_schema = aep.user_ns["schema"]
    cell(aep, fill(SCHEMA, title="Reused schema", options="--if-exists reuse -q"))
    assert aep.user_ns["schema"].id == first_schema.id and aep.user_ns["schema"].reused
    client = state.current.client
    assert len([s for s in client.schemas.list_schemas() if s["title"] == "Reused schema"]) == 1
    cell(aep, fill(DATASET, name="Reused dataset", options="--if-exists reuse -q"))
    cell(aep, fill(DATASET, name="Reused dataset", options="--if-exists reuse -q"))
    assert len([d for d in client.catalog.list_datasets().values() if d.get("name") == "Reused dataset"]) == 1
    cell(aep, fill(MAPPING, options="--if-exists reuse -q"))
    first_mapping = aep.user_ns["mapping"]
    cell(aep, fill(MAPPING, options="--if-exists reuse -q"))
    assert aep.user_ns["mapping"].id == first_mapping.id and aep.user_ns["mapping"].reused
    assert "name" not in first_mapping.request.body  # found again by its content, not by a name the cell lacks
    cell(aep, fill(TARGET, name="Reused target", options="--if-exists reuse -q"))
    cell(aep, fill(TARGET, name="Reused target", options="--if-exists reuse -q"))
    assert len([t for t in client.flow.list_target_connections() if t["name"] == "Reused target"]) == 1
    make_connection(aep, "Reuse flow connection")
    cell(aep, SOURCE.format(name="Reuse flow source", options="-o src -q"))
    cell(aep, "%aep_flowspec CRMToAEP -o spec -q")
    cell(aep, fill(FLOW, name="Reused flow", options="--if-exists reuse -q"))
    cell(aep, fill(FLOW, name="Reused flow", options="--if-exists reuse -q"))
    assert aep.user_ns["flow"].reused
    assert len([f for f in client.flow.list_flows() if f["name"] == "Reused flow"]) == 1


def test_mapping_checks_with_rows_variable(aep):
    cell(aep, fill(SCHEMA, title="Mapping check schema", options="-q"))
    aep.user_ns["sample"] = [{"Email": "ada@example.com", "Phone": "+15551234567"}]
    assert cell(aep, fill(MAPPING, options="--preview --rows sample --no-create")) is None
    check = aep.user_ns["mapping"]
    assert check.kind == "MappingCheck" and check.preview is not None
    assert check.preview.rows()[0].get("personalEmail.address") == "ada@example.com"
    error = failing(aep, fill(MAPPING, options="--preview --rows missing_var"))
    assert isinstance(error, InputError) and "missing_var" in str(error)


# -- reading a dataset back (Data Access API), against a recorded transport -------------------------------------------


def test_read_dataset_through_the_data_access_api(monkeypatch):
    """Batches → files → Parquet parts, flattened and concatenated in batch order (no engine needed)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from aep_magics.api import AEPClient
    from aep_magics.config import Profile
    from aep_magics.http import AEPSession, Response
    from aep_magics.magics import ops

    def parquet(emails):
        table = pa.table({"_id": [f"id-{e}" for e in emails],
                          "personalEmail": [{"address": e, "type": "personal"} for e in emails]})
        sink = io.BytesIO()
        pq.write_table(table, sink)
        return sink.getvalue()

    export = "/data/foundation/export"
    answers = {
        "/data/foundation/catalog/batches": {
            "b2": {"status": "success", "created": 2}, "b1": {"status": "success", "created": 1},
            "b3": {"status": "failed", "created": 3}},
        f"{export}/batches/b1/files": {"data": [{"dataSetFileId": "b1-1"}]},
        f"{export}/batches/b2/files": {"data": [{"dataSetFileId": "b2-1"}]},
        f"{export}/files/b1-1": {"data": [{"name": "part-00000.parquet", "length": "10"}]},
        f"{export}/files/b2-1": {"data": [{"name": "part-00000.parquet", "length": "10"},
                                          {"name": "_SUCCESS", "length": "0"}]},
    }
    parts = {"b1-1": parquet(["a@x", "b@x"]), "b2-1": parquet(["c@x"])}
    sent = []

    def send(self, call):
        sent.append(call.url)
        if "path=" in call.url:
            content = parts[call.path.rsplit("/", 1)[-1]]
        else:
            content = json.dumps(answers[call.path]).encode()
        return Response(200, {}, content, call.method, call.url, None, 0.0)

    monkeypatch.setattr(AEPSession, "send", send)
    client = AEPClient(AEPSession(Profile(org_id="O@AdobeOrg", client_id="c", access_token="t")))
    frame, calls = ops.read_dataset(client, "5fa9c083de62e418dd170b42", with_calls=True)
    assert list(frame["personalEmail.address"]) == ["a@x", "b@x", "c@x"]
    assert "_id" in frame.columns and len(calls) == len(sent)
    # the documented Data Access sequence: the dataset's batches, then per successful batch (oldest first) its
    # files, each file's listing and its Parquet parts -- not the failed batch b3, nor the _SUCCESS marker
    page = "limit=100&start=0"
    assert sent == [f"https://platform.adobe.io{path}" for path in (
        f"/data/foundation/catalog/batches?dataSet=5fa9c083de62e418dd170b42&{page}",
        f"{export}/batches/b1/files?{page}", f"{export}/files/b1-1", f"{export}/files/b1-1?path=part-00000.parquet",
        f"{export}/batches/b2/files?{page}", f"{export}/files/b2-1", f"{export}/files/b2-1?path=part-00000.parquet")]
    nested = ops.read_dataset(client, "5fa9c083de62e418dd170b42", nested=True, limit=2)
    assert len(nested) == 2 and nested["personalEmail"][0]["address"] == "a@x"
    empty_answers = {"/data/foundation/catalog/batches": {},  # no batches: the dataset is checked to exist
                     "/data/foundation/catalog/dataSets/5fa9c083de62e418dd170b42": {"5fa9c083de62e418dd170b42": {}}}
    answers.update(empty_answers)
    assert ops.read_dataset(client, "5fa9c083de62e418dd170b42").empty


def test_a_cell_magic_without_body_is_a_real_error(aep):
    from aep_magics.errors import InputError

    for source in ("%%aep_source -o nothing", "%%aep_source -o nothing\n", "%%aep_flow\n"):
        err = failing(aep, source)
        assert isinstance(err, InputError), source      # not IPython's UsageError, which only prints to stderr
        assert "the cell body is empty" in str(err)
    assert "nothing" not in aep.user_ns
    assert failing(aep, "%%aep_nosuchmagic").__class__.__name__ == "UsageError"   # not ours: IPython's answer


def test_wait_for_runs_polls_then_times_out(monkeypatch):
    from aep_magics.magics import ops

    scheduled = {"id": "r1", "metrics": {"statusSummary": {"status": "scheduled"}}}
    done = {"id": "r1", "metrics": {"statusSummary": {"status": "success"}}}
    answers = iter([[], [scheduled], [done]])
    monkeypatch.setattr(ops, "list_runs", lambda client, flow_id: RunsResult(flow_id, next(answers)))
    progress, now, pauses = [], [0.0], []

    def sleep(seconds):
        pauses.append(seconds)
        now[0] += seconds

    result = ops.wait_for_runs(None, "f1", timeout=10, poll_interval=1, on_progress=lambda d, t: progress.append((d, t)),
                               sleep=sleep, clock=lambda: now[0])
    assert result.finished and progress == [(0, 0), (0, 1), (1, 1)]
    assert pauses == [0.25, 0.5]                     # quick first polls, doubling towards poll_interval

    monkeypatch.setattr(ops, "list_runs", lambda client, flow_id: RunsResult(flow_id, [scheduled]))
    pauses.clear()
    with pytest.raises(ops.WaitTimeoutError, match=r"^runs of flow f1 not finished after 6 s \(1 scheduled\)"):
        ops.wait_for_runs(None, "f1", timeout=6, poll_interval=2, sleep=sleep, clock=lambda: now[0])
    assert pauses[:4] == [0.25, 0.5, 1.0, 2.0] and max(pauses) == 2.0

    monkeypatch.setattr(ops, "list_runs", lambda client, flow_id: RunsResult(flow_id, [scheduled]))
    with pytest.raises(ops.WaitTimeoutError, match="^runs of flow f1 not finished after 3 s") as err:
        ops.wait_for_runs(None, "f1", timeout=3, poll_interval=1, sleep=lambda s: now.__setitem__(0, now[0] + s),
                          clock=lambda: now[0])
    (line,) = err.value._render_traceback_()
    assert "not finished after 3 s (1 scheduled)" in line


# -- re-runs: reuse hands back the full resource ------------------------------------------------------------------


def _kinds_created_twice(shell, prefix: str) -> dict[str, tuple[Result, Result]]:
    """Every create magic run twice with --if-exists reuse: {kind: (created, reused)}."""
    pairs = {}

    def twice(kind: str, source: str, var: str) -> None:
        cell(shell, source)
        first = shell.user_ns[var]
        cell(shell, source)
        pairs[kind] = (first, shell.user_ns[var])

    reuse = "--if-exists reuse -q"
    twice("connection", CONNECTION.format(name=f"{prefix} connection", options=f"-o conn {reuse}"), "conn")
    twice("source", SOURCE.format(name=f"{prefix} source", options=f"-o src {reuse}"), "src")
    twice("schema", fill(SCHEMA, title=f"{prefix} schema", options=reuse), "schema")
    twice("dataset", fill(DATASET, name=f"{prefix} dataset", options=reuse), "dataset")
    twice("target", fill(TARGET, name=f"{prefix} target", options=reuse), "tgt")
    twice("mapping", fill(MAPPING, options=reuse).replace('"Phone"', f'"{prefix} Phone"'), "mapping")
    cell(shell, "%aep_flowspec CRMToAEP -o spec -q")
    twice("flow", fill(FLOW, name=f"{prefix} flow", options=reuse), "flow")
    return pairs


def test_reuse_hands_back_the_full_resource_of_every_kind(aep):
    pairs = _kinds_created_twice(aep, "Full reuse")
    client = state.current.client
    for kind, (created, reused) in pairs.items():
        assert not created.reused and reused.reused, kind
        assert reused.id == created.id and reused.kind == created.kind, kind
        if kind == "dataset":  # the create answers its link only; reuse gives the dataset itself
            assert created.body == [f"@/dataSets/{created.id}"]
            assert reused["name"] == "Full reuse dataset" and reused["schemaRef"]["id"] == pairs["schema"][0].id
            continue
        # every key of the create's answer, with the same values but for the ones that move (AEP Local's schema
        # lookup leaves out "refs", which its create answers)
        missing = set(created.body) - set(reused.body) - ({"refs"} if kind == "schema" else set())
        assert not missing, (kind, missing)
        for key in created.body:
            if key in reused.body and key not in ("modifiedDate", "updatedAt"):
                assert reused[key] == created[key], (kind, key)
        assert reused.etag == created.etag, kind
    schema = pairs["schema"][1]
    assert schema["meta:class"] == "https://ns.adobe.com/xdm/context/profile" and schema["meta:altId"]
    assert pairs["flow"][1]["name"] == "Full reuse flow" and pairs["mapping"][1]["version"] == 0
    assert pairs["connection"][1].etag == client.flow.get_connection(pairs["connection"][0].id)["etag"]
    # a fresh create still answers as the platform does: Flow Service {id, etag}
    assert set(pairs["flow"][0].body) == {"id", "etag"}


def test_mapping_is_sent_exactly_as_written_and_found_again_by_content(aep):
    cell(aep, fill(SCHEMA, title="Sent as written schema", options="-q --if-exists reuse"))
    source = fill(MAPPING, options="--if-exists reuse -q --curl").replace('"Phone"', '"Cell"')
    written = json.loads(source.split("\n", 1)[1].replace("{{schema.id}}", aep.user_ns["schema"].id))
    cell(aep, source.replace("-q --curl", "--dry-run -q"))
    dry = aep.user_ns["mapping"]
    assert isinstance(dry, DryRun) and dry.request.body == written
    with capture_output() as cap:
        cell(aep, source)
    first = aep.user_ns["mapping"]
    assert first.request.method == "POST" and first.request.body == written and not first.reused
    shown = "\n".join(o.data["text/plain"] + o.data.get("text/html", "") for o in cap.outputs)
    assert "curl -X POST" in shown and '"name"' not in shown and "aep-magics:" not in shown  # nor shown
    curl = first.curl  # the full command
    assert json.loads(curl[curl.index("-d '") + 4: curl.rindex("'")]) == written
    cell(aep, source)
    again = aep.user_ns["mapping"]
    assert again.reused and again.id == first.id
    assert not any(c.method == "POST" for c in again.calls)
    edited = source.replace('"mobilePhone.number"', '"homePhone.number"')
    cell(aep, edited)
    assert aep.user_ns["mapping"].id != first.id and not aep.user_ns["mapping"].reused
    # a named set is reused only for the same content: the same cell over a schema created again makes a new one
    named = source.replace('"version": 0,', '"name": "Named mapping", "version": 0,', 1)
    cell(aep, named)
    cell(aep, named)
    assert aep.user_ns["mapping"].reused and aep.user_ns["mapping"]["name"] == "Named mapping"
    named_id = aep.user_ns["mapping"].id
    cell(aep, fill(SCHEMA, title="Sent as written schema, again", options="-q"))
    cell(aep, named)
    assert not aep.user_ns["mapping"].reused and aep.user_ns["mapping"].id != named_id


def test_clock_shows_and_moves_the_platform_clock(aep):
    cell(aep, "%aep_clock -o before -q")
    before = aep.user_ns["before"]
    assert isinstance(before, dict) and before["now_s"] == before["now"] // 1000
    data, _ = aep.display_formatter.format(cell(aep, "%aep_clock"))
    shown = data["text/plain"]
    assert shown.startswith("AEP Local clock: 20") and " UTC (" in shown and shown.endswith(" ms)")
    assert "AEP Local clock" in data["text/html"] and "application/json" not in data
    for duration, seconds in (("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400)):
        cell(aep, "%aep_clock -o was -q")
        was = aep.user_ns["was"]["now"]
        assert cell(aep, f"%aep_clock --advance {duration} -o moved -q") is None
        assert aep.user_ns["moved"]["now"] >= was + seconds * 1000, duration
        assert aep.user_ns["moved"]["advanced"] == seconds
    answer = requests.get(state.current.profile.base_url + "/aep-local/clock", timeout=30).json()
    assert answer["now"] >= aep.user_ns["moved"]["now"]
    for bad in ("soon", "-5", "15 minutes", "2w"):
        error = failing(aep, f"%aep_clock --advance '{bad}'")
        assert isinstance(error, InputError) and "90s" in str(error) and "15m" in str(error), bad
    dry = cell(aep, "%aep_clock --advance 15m --dry-run")
    assert isinstance(dry, DryRun) and dry.request.method == "POST" and dry.request.body == {"advance": 900}


def test_clock_refuses_a_real_sandbox(aep, monkeypatch):
    from types import SimpleNamespace

    from aep_magics.config import Profile
    from aep_magics.magics import ops

    def refuse(*a, **k):
        raise AssertionError("no call may reach a real sandbox")

    profile = Profile(org_id="X@AdobeOrg", client_id="c", base_url="https://platform.adobe.io")
    real = SimpleNamespace(session=SimpleNamespace(profile=profile, send=refuse, prepare=refuse, request=refuse))
    monkeypatch.setattr(state.current, "client", real)
    for line in ("%aep_clock", "%aep_clock --advance 15m"):
        error = failing(aep, line)
        assert isinstance(error, InputError)
        assert str(error) == "%aep_clock moves AEP Local's clock; a real sandbox runs on real time"
        assert len(error._render_traceback_()) == 1
    assert ops.is_local(state.current.client) is False


RUNS = [{"id": f"run-{i}", "createdAt": 1000 + i, "metrics": {
    "durationSummary": {"startedAtUTC": 1000 + i, "completedAtUTC": 2000 + i},
    "recordSummary": {"inputRecordCount": 10 * i, "outputRecordCount": 10 * i, "failedRecordCount": 0},
    "statusSummary": {"status": "success"}}} for i in range(1, 7)]


def test_runs_last_restricts_table_chart_and_result(aep, monkeypatch):
    from aep_magics.api import FlowService

    monkeypatch.setattr(FlowService, "list_runs", lambda self, flow_id=None, property=None, orderby=None: list(RUNS))
    everything = cell(aep, "%aep_runs flow-1")
    assert [r["id"] for r in everything.items] == [f"run-{i}" for i in range(1, 7)]
    assert cell(aep, '%aep_runs flow-1 --last 2 --title "Scheduled runs" -o recent -q') is None
    recent = aep.user_ns["recent"]
    assert isinstance(recent, RunsResult) and [r["id"] for r in recent.items] == ["run-5", "run-6"]
    assert recent.finished and list(recent.to_dataframe()["id"]) == ["run-5", "run-6"]
    assert recent.title == "Scheduled runs"
    shown = bundles(aep, recent)
    assert "run-6" in shown and "run-4" not in shown and "records in 110" in shown and "Scheduled runs" in shown
    waited = cell(aep, "%aep_runs flow-1 --wait --last 3")
    assert [r["id"] for r in waited.items] == ["run-4", "run-5", "run-6"] and "3 most recent" in waited.title
    assert len(cell(aep, "%aep_runs flow-1 --last 50").items) == 6
    for bad in ("0", "-1", "x"):
        assert isinstance(failing(aep, f"%aep_runs flow-1 --last {bad}"), InputError), bad


def test_delete_by_name_in_a_loop_with_spaces_and_quotes(aep):
    names = ['Bob\'s "old" connection', "Cleanup me"]
    for name in names:
        make_connection(aep, name.replace('"', '\\"'), options="-q")
    make_connection(aep, "Cleanup me", options="-q")  # the same name twice: both go
    make_connection(aep, "Cleanup me too", options="-o keep -q")
    aep.user_ns["NAMES"] = names + ["Never created"]
    cell(aep, 'gone = []\nfor name in NAMES:\n    %aep_delete connection --name "{name}" -o one -q\n    gone.append(one)')
    first, second, third = aep.user_ns["gone"]
    assert [(r["kind"], r["name"]) for r in first] == [("connection", names[0])]
    assert len(second) == 2 and {r["name"] for r in second} == {"Cleanup me"}
    assert len(third) == 0 and "nothing to delete" in repr(third)
    client = state.current.client
    left = {c["name"] for c in client.flow.list_connections()}
    assert not left & set(names) and "Cleanup me too" in left
    assert set(first.to_dataframe().columns) >= {"kind", "name", "id"}
    again = cell(aep, "%aep_delete connection --name 'Cleanup me'")
    assert len(again) == 0 and "nothing to delete" in repr(again)  # not an error
    cell(aep, fill(SCHEMA, title="Delete me by title", options="-q"))
    by_title = cell(aep, '%aep_delete schema --name "Delete me by title"')
    assert [r["id"] for r in by_title] == [aep.user_ns["schema"].id]
    dry = cell(aep, "%aep_delete connection --name 'Cleanup me too' --dry-run")
    assert isinstance(dry, DryRun) and dry.request.method == "GET"
    assert "Cleanup me too" in {c["name"] for c in client.flow.list_connections()}
    for bad in ("%aep_delete connection", "%aep_delete connection some-id --name x"):
        assert isinstance(failing(aep, bad), InputError), bad
