"""Secrets canary: no client secret, access token or source credential leaks anywhere a notebook can show or keep.

A canary client (``CANARY-SECRET-<random>``) is registered on AEP Local through its control plane and signs in
through the ``AEP_*`` environment variables (``%aep_auth``). A representative sequence of magics then runs -- the
auth card, sandboxes, a Shopify base connection whose ``accessToken`` is a second canary (read from the environment
into a notebook variable, never typed in a cell), the whole ingestion tutorial, ``--curl``, ``--dry-run``, runs,
lineage, reading the dataset back, error cells -- with the root logger at DEBUG and every record captured. None of
the three canaries (client secret, Shopify token, the issued access token) may appear in:

- any output: stdout/stderr, every displayed object (all mimetypes), every returned result (all mimetypes of its
  ``_repr_mimebundle_`` and of IPython's formatter);
- the state of any ipywidgets widget;
- ``--curl`` and ``--dry-run`` text;
- a log record at any level (message, args, traceback), AEP Local's access log included;
- an exception: ``str``, ``repr``, ``_render_traceback_``, the formatted traceback, the parsed body;
- IPython's history (input, the ``Out`` cache and the history database with outputs);
- a raw ``GET`` of the base connection (the platform keeps the Shopify token to itself);
- the ``repr`` of the profile, session, token provider, client and every result object (its calls included).

The token lifetime (expiry mid-sequence, refresh, revoked clients) is covered by tests/test_faults.py.
"""

from __future__ import annotations

import json
import logging
import secrets
import traceback
from typing import Any

import pytest
import requests
from helpers.fake_platform import FakePlatform, Reply
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

from aep_magics import local
from aep_magics.magics import state

SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
FLOW = "/data/foundation/flowservice"
AEP_ENV = ("AEP_CONFIG", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ACCESS_TOKEN", "AEP_ORG_ID", "AEP_SANDBOX",
           "AEP_BASE_URL", "AEP_IMS_URL", "AEP_SCOPES", "AEP_LOCAL_URL", "AEP_LOCAL_DATA")


class Seen:
    """Everything the notebook showed or kept, as text."""

    def __init__(self, shell: InteractiveShell):
        self.shell = shell
        self.parts: list[tuple[str, str]] = []
        self.results: list[Any] = []
        self.errors: list[BaseException] = []

    def add(self, where: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value, default=repr, ensure_ascii=False)
        self.parts.append((where, text))

    def run(self, source: str, *, fails: bool = False) -> Any:
        """Run a cell as a notebook does, keeping its printed text, displays, result or error."""
        with capture_output() as cap:
            outcome = self.shell.run_cell(source, store_history=True)
        label = source.splitlines()[0]
        self.add(f"stdout of {label}", cap.stdout + cap.stderr)
        for output in cap.outputs:
            self.add(f"display in {label}", {"data": output.data, "metadata": output.metadata})
        error = outcome.error_in_exec or outcome.error_before_exec
        if fails:
            assert error is not None, f"expected {label!r} to fail"
            self.errors.append(error)
            return error
        elif error is not None:
            raise error
        if outcome.result is not None:
            self.results.append(outcome.result)
        return outcome.result

    def bundle(self, obj: Any, where: str) -> None:
        data, metadata = self.shell.display_formatter.format(obj)
        self.add(f"formatted {where}", {"data": data, "metadata": metadata})
        if hasattr(obj, "_repr_mimebundle_"):
            self.add(f"mimebundle of {where}", obj._repr_mimebundle_())
        self.add(f"repr of {where}", repr(obj))


def _find(text: str, canaries: dict[str, str]) -> list[str]:
    found = []
    for name, canary in canaries.items():
        at = text.find(canary)
        if at >= 0:
            found.append(f"{name} at …{text[max(0, at - 160):at + 40]!r}")
    return found


@pytest.fixture
def canary(tmp_path, monkeypatch):
    """AEP Local with a canary client registered, its credentials in the AEP_* environment, and a shell."""
    for name in AEP_ENV:
        monkeypatch.delenv(name, raising=False)
    server = local.start(data_dir=tmp_path / "aep-local", seed=4242)
    values = {
        "client_id": f"canary-{secrets.token_hex(4)}",
        "client_secret": f"CANARY-SECRET-{secrets.token_hex(12)}",
        "org_id": "CANARY0000000000000000AB@AdobeOrg",
        "shopify": f"shpat_CANARY{secrets.token_hex(12)}",
        "number": str(7 * 10**14 + secrets.randbelow(10**14)),  # a token sent as a JSON number
        "listed": f"CANARY-LISTED-{secrets.token_hex(8)}",  # a token sent inside a list
        "rotated": f"shpat_CANARYROTATED{secrets.token_hex(8)}",  # the token a JSON Patch rotates to
    }
    reply = requests.post(f"{server.url}/aep-local/clients", json={
        "client_id": values["client_id"], "client_secret": values["client_secret"], "org_id": values["org_id"]},
        timeout=10, headers={"Authorization": f"Bearer {server.admin_token}"})
    assert reply.status_code == 201, reply.text
    assert values["client_secret"] not in reply.text  # the control plane does not echo the secret either
    monkeypatch.setenv("AEP_CLIENT_ID", values["client_id"])
    monkeypatch.setenv("AEP_CLIENT_SECRET", values["client_secret"])
    monkeypatch.setenv("AEP_ORG_ID", values["org_id"])
    monkeypatch.setenv("AEP_BASE_URL", server.url)
    monkeypatch.setenv("AEP_IMS_URL", server.url)
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", values["shopify"])
    for name in ("number", "listed", "rotated"):
        monkeypatch.setenv(f"CANARY_{name.upper()}", values[name])

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.history_manager.db_log_output = True
    if "aep_magics" in shell.extension_manager.loaded:
        shell.extension_manager.reload_extension("aep_magics")
    else:
        shell.extension_manager.load_extension("aep_magics")
    shell.run_line_magic("config", "AEPMagics.widgets = True")
    shell.run_line_magic("config", "AEPMagics.wait_poll_interval = 0.2")
    try:
        yield server, values, shell
    finally:
        state.current.close()
        server.stop()
        shell.history_manager.db_log_output = False


CONNECTION = """%%aep_connection -o conn {options}
{{
    "name": "{name}",
    "description": "Shopify source",
    "auth": {{"specName": "Basic Authentication",
             "params": {{"host": "https://aep-local-demo.myshopify.com", "accessToken": "{{{{shop_token}}}}"}}}},
    "connectionSpec": {{"id": "{spec}", "version": "1.0"}}
}}"""

#: A base connection whose token has the wrong type: AEP Local's 400 quotes the value back.
BAD_TOKEN = """%%aep_connection
{{"name": "Canary bad token", "auth": {{"specName": "Basic Authentication",
  "params": {{"host": "https://aep-local-demo.myshopify.com", "accessToken": {value}}}}},
 "connectionSpec": {{"id": "{spec}", "version": "1.0"}}}}"""

#: JSON Patch of the base connection's token (``If-Match`` from a variable); the body is one replace operation.
PATCH = """%%aep PATCH {flow}/connections/{{{{conn.id}}}} -H "If-Match: {{{{{etag}}}}}" {options}
[{{"op": "replace", "path": "/auth/params/accessToken", "value": {value}}}]"""

TUTORIAL = [
    """%%aep_source -o src --curl
name: Canary source
baseConnectionId: "{{conn.id}}"
data: {format: tabular}
params:
  tableName: Shopify.Orders
  columns: [{name: Email, type: string}, {name: Phone, type: string}]
connectionSpec: {id: 4f63aa36-bd48-4e33-bb83-49fbcd11c708, version: "1.0"}""",
    """%%aep_schema -o schema
{"type": "object", "title": "Canary schema", "description": "",
 "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"},
           {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
           {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"}],
 "meta:containerId": "tenant", "meta:resourceType": "schemas", "meta:xdmType": "object",
 "meta:class": "https://ns.adobe.com/xdm/context/profile"}""",
    """%%aep_dataset -o dataset
{"name": "Canary dataset",
 "schemaRef": {"id": "{{schema.id}}", "contentType": "application/vnd.adobe.xed-full-notext+json; version=1"}}""",
    f"""%%aep_target -o tgt
{{"name": "Canary target", "data": {{"format": "parquet_xdm",
  "schema": {{"id": "{{{{schema.id}}}}", "version": "application/vnd.adobe.xed-full-notext+json; version=1"}}}},
 "params": {{"dataSetId": "{{{{dataset.id}}}}"}}, "connectionSpec": {{"id": "{LAKE}", "version": "1.0"}}}}""",
    """%%aep_mapping -o mapping --validate --preview --source {{src.id}} --curl
{"version": 0, "xdmSchema": "{{schema.id}}", "xdmVersion": "1.0", "mappings": [
  {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "Email", "identity": false, "version": 0},
  {"destinationXdmPath": "mobilePhone.number", "sourceAttribute": "Phone", "identity": false, "version": 0}]}""",
    "%aep_flowspec CRMToAEP -o spec",
    """%%aep_flow -o flow --curl
name: Canary dataflow
flowSpec: {id: "{{spec.id}}", version: "1.0"}
sourceConnectionIds: ["{{src.id}}"]
targetConnectionIds: ["{{tgt.id}}"]
transformations:
  - name: Mapping
    params: {mappingId: "{{mapping.id}}", mappingVersion: {{mapping["version"]}}}
scheduleParams: {startTime: "1604961070", frequency: once}""",
    "%aep_runs {{flow.id}} --wait --timeout 60 --curl -o runs",
    "%aep_runs --curl",
    "%aep_lineage {{flow.id}}",
    "%aep_read {{dataset.id}} --limit 5 --curl",
]


def test_no_secret_anywhere(canary, caplog, monkeypatch):
    server, values, shell = canary
    caplog.set_level(logging.DEBUG)  # the root logger: every library's records, AEP Local's access log included
    seen = Seen(shell)

    card = seen.run("%aep_auth")
    token = state.current.session.tokens.token()  # for searching only
    assert state.current.local is None and state.current.profile.client_id == values["client_id"]
    seen.run("%aep_auth -o card")
    seen.run("%aep_sandbox --curl")
    seen.run("import os\nshop_token = os.environ['SHOPIFY_ACCESS_TOKEN']")

    seen.run(CONNECTION.format(options="--dry-run --curl", name="Canary connection", spec=SHOPIFY))
    dry = shell.user_ns["conn"]
    assert type(dry).__name__ == "DryRun"
    seen.run(CONNECTION.format(options="--curl", name="Canary connection", spec=SHOPIFY))
    conn = created = shell.user_ns["conn"]
    assert conn.request.body["auth"]["params"]["accessToken"] == values["shopify"]  # really sent
    seen.run(CONNECTION.format(options="--if-exists reuse --curl", name="Canary connection", spec=SHOPIFY))
    seen.run("%aep_explore {{conn.id}} --curl")
    # tokens of the wrong type (a number, a list, an object holding a list): the 400 quotes them back
    seen.run("bad_number = int(os.environ['CANARY_NUMBER'])\nbad_list = [os.environ['CANARY_LISTED']]\n"
             "rotated = os.environ['CANARY_ROTATED']")
    for value in ("{{bad_number}}", "{{bad_list}}", '{"inner": {{bad_list}}}'):
        seen.run(BAD_TOKEN.format(value=value, spec=SHOPIFY), fails=True)
    # a JSON Patch that rotates the token (dry run, then for real), then two that send it with the wrong type
    seen.run(f"%aep GET {FLOW}/connections/{{{{conn.id}}}} -o before -q")
    etag = "before['items'][0]['etag']"
    seen.run(PATCH.format(flow=FLOW, etag=etag, options="--dry-run --curl", value='"{{rotated}}"'))
    seen.run(PATCH.format(flow=FLOW, etag=etag, options="--curl -o rotation", value='"{{rotated}}"'))
    for value in ("{{bad_number}}", "{{bad_list}}"):
        seen.run(PATCH.format(flow=FLOW, etag="rotation['etag']", options="--curl", value=value), fails=True)
    seen.run("%aep_explore {{conn.id}} --table Shopify.Orders --preview --rows 3")
    for source in TUTORIAL:
        seen.run(source)
    fetched = seen.run(f"%aep GET {FLOW}/connections/{{{{conn.id}}}} --curl")
    listed = seen.run(f"%aep GET {FLOW}/connections --curl")
    seen.run("%aep GET /data/foundation/flowservice/flows/no-such-flow", fails=True)
    seen.run(CONNECTION.format(options="", name="Canary bad spec", spec="no-such-spec"), fails=True)
    seen.run("%%aep_source\n{\"name\": \"{{shop_token}}\", \"baseConnectionId\": \"{{shop_token}}\"}", fails=True)
    seen.run("%aep_auth")
    session = state.current.session  # the good one, for the reprs below
    # a wrong secret that contains the canary: IMS refuses it, and the refusal shows neither
    monkeypatch.setenv("AEP_CLIENT_SECRET", values["client_secret"] + "-wrong")
    refused = seen.run("%aep_auth", fails=True)
    assert type(refused).__name__ == "AuthError", refused

    # -- what the notebook kept --------------------------------------------------------------------------------
    kept = [shell.user_ns[n] for n in ("card", "conn", "src", "mapping", "flow", "runs", "rotation")]
    for i, result in enumerate(seen.results + kept + [dry, created]):
        seen.bundle(result, f"result {i} ({type(result).__name__})")
        for call in getattr(result, "calls", None) or []:
            seen.add("call", repr(call) + call.curl + json.dumps(call.headers) + repr(call.prepared))
        for section in (getattr(result, "validation", None), getattr(result, "preview", None)):
            if section is not None:
                seen.bundle(section, "mapping check")
    seen.add("dry run", repr(dry) + dry.curl + repr(dry.request) + json.dumps(dry.request.headers))
    seen.add("curl", conn.curl + fetched.curl + listed.curl)

    import ipywidgets
    from ipywidgets.widgets import widget as widget_module

    registry = getattr(widget_module, "_instances", None)
    widgets = list((registry if registry is not None else ipywidgets.Widget.widgets).values())
    assert widgets, "no widget was created: the widget views were not exercised"
    for widget in widgets:
        seen.add(f"widget {type(widget).__name__}", widget.get_state())

    for error in seen.errors:
        seen.add("error", [str(error), repr(error), error._render_traceback_(), getattr(error, "body", None),
                           getattr(error, "title", None), getattr(error, "detail", None),
                           repr(error.args), "".join(traceback.format_exception(error))])

    history = shell.history_manager
    history.writeout_cache()
    seen.add("input history", "\n".join(history.input_hist_raw))
    seen.add("Out", {str(k): repr(v) for k, v in history.output_hist.items()})
    seen.add("history database", [list(map(repr, row)) for row in history.get_range(raw=True, output=True)])
    assert "%aep_auth" in "\n".join(history.input_hist_raw)

    access_log = [r for r in caplog.records if r.name == "aep_magics.local"]
    assert any("/ims/token/v3" in r.getMessage() for r in access_log), "AEP Local's access log was not captured"
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        seen.add(f"log {record.name}", [formatter.format(record), repr(record.args), record.exc_text or ""])

    for name, obj in (("profile", state.current.profile), ("session", session), ("tokens", session.tokens),
                      ("refused session", state.current.session), ("refused tokens", state.current.session.tokens),
                      ("client", state.current.client), ("state", state.current)):
        seen.add(f"repr of {name}", repr(obj) + str(obj))

    headers = {"Authorization": f"Bearer {token}", "x-api-key": values["client_id"], "x-gw-ims-org-id": values["org_id"],
               "x-sandbox-name": "prod"}
    for path in (f"{FLOW}/connections/{conn.id}", f"{FLOW}/connections"):
        raw = requests.get(server.url + path, headers=headers, timeout=10)
        assert raw.status_code == 200, raw.text
        assert "accessToken" in raw.text  # the field is there, its value is not
        seen.add(f"raw GET {path}", raw.text)

    # -- the check --------------------------------------------------------------------------------------------
    canaries = {"client secret": values["client_secret"], "Shopify token": values["shopify"], "access token": token,
                "token sent as a number": values["number"], "token sent in a list": values["listed"],
                "rotated token": values["rotated"]}
    assert values["rotated"] in json.dumps(shell.user_ns["rotation"].request.body)  # the patch really sent it
    assert _find(json.dumps(created.request.body), canaries)  # the search finds a canary where one is (as data)
    leaks = [f"{where}: {hit}" for where, text in seen.parts for hit in _find(text, canaries)]
    assert not leaks, "\n".join(leaks[:20])
    everything = "\n".join(text for _, text in seen.parts)
    assert "********" in everything  # the secrets were there to mask
    assert card is not None and len(seen.parts) > 100


def _echo(recorded: Any) -> Any:
    """A 400 that quotes the whole request body back, as JSON and as Python shows it, in every field it has."""
    body = recorded.json()
    text = f"invalid request {json.dumps(body)} / {body!r}"
    return Reply(400, {"type": "https://ns.adobe.com/aep/errors/FLOW-1100-400", "title": f"Invalid {body!r}",
                       "status": 400, "report": {"detailed-message": text}, "errorMessage": text,
                       "echo": body})


def test_an_answer_quoting_the_body_shows_no_secret(canary, monkeypatch):
    """Defence in depth: whatever a server quotes back of a request body, the kit's errors never show a value it
    sent under a secret field (a string, a number, list items, nested objects, a JSON Patch value), nor a value of
    a field a connection spec marks ``"format": "password"`` under another name."""
    _, values, shell = canary
    number, listed, rotated = int(values["number"]), values["listed"], values["rotated"]
    pin = f"PIN{secrets.token_hex(6)}"
    spec = {"items": [{"id": "spec-1", "name": "vault", "authSpec": [{"name": "Basic", "spec": {
        "properties": {"host": {"type": "string"}, "vaultPin": {"type": "string", "format": "password"}}}}]}]}
    bodies = [
        {"auth": {"params": {"accessToken": number}}},
        {"auth": {"params": {"clientSecret": [listed, {"deeper": [number]}]}}},
        {"credentials": {"password": f'{listed}"\\quoted'}},
        [{"op": "replace", "path": "/auth/params/accessToken", "value": rotated}],
        [{"op": "add", "path": "/auth/params", "value": {"host": "h", "accessToken": [rotated]}}],
        {"auth": {"params": {"vaultPin": pin}}},
    ]
    with FakePlatform() as fake:
        for method in ("POST", "PATCH"):
            fake.script(method, "/data/foundation/flowservice/connections/c1", _echo)
        fake.script("GET", "/data/foundation/flowservice/connectionSpecs", Reply(200, spec))
        shell.user_ns.update(echoed_bodies=bodies)
        monkeypatch.setenv("AEP_BASE_URL", fake.url)
        monkeypatch.setenv("AEP_IMS_URL", fake.url)
        seen = Seen(shell)
        seen.run("%aep_auth -q")
        seen.run("%aep GET /data/foundation/flowservice/connectionSpecs -q")
        for i, body in enumerate(bodies):
            method = "PATCH" if isinstance(body, list) else "POST"
            error = seen.run(f"%%aep {method} /data/foundation/flowservice/connections/c1\n{{{{echoed_bodies[{i}]}}}}",
                             fails=True)
            assert type(error).__name__ == "BadRequestError", error
            assert "********" in str(error) and "********" in json.dumps(error.body)
            seen.add("error", [str(error), repr(error), error._render_traceback_(), error.body, error.title,
                               error.detail, repr(error.args), "".join(traceback.format_exception(error))])
    canaries = {"number": values["number"], "listed": listed, "rotated": rotated, "password field": pin}
    leaks = [f"{where}: {hit}" for where, text in seen.parts for hit in _find(text, canaries)]
    assert not leaks, "\n".join(leaks[:20])
