"""Bad input, client side: the corpus in ``tests/data/bad_magics.json``, cell by cell, in a real IPython shell.

Every case is one notebook cell exactly as a user types it -- malformed JSON and YAML bodies, empty or list bodies,
unknown and conflicting options, unknown or unclosed ``{{references}}``, injection attempts through interpolated
values, wrong schedule types, unknown ids, odd Unicode, 5 MB values -- run against AEP Local over loopback HTTP
(in-process, signed in with ``%aep_auth --local``); a huge cell is built at run time from the case's ``expand``. For each
case the test checks that

- the cell fails with the expected exception class, and its ``_render_traceback_()`` is exactly one line matching
  the case's ``match`` (what is wrong and what to do), which is also all the cell printed;
- nothing was half-created: the ids of connections, source and target connections, flows, mapping sets, datasets
  and schemas (read through a separate client) are the same before and after;
- the session is untouched (same client, same sandbox) and the server still answers ``GET /aep-local/health``;
- no cell takes long (a 5 MB value gets an answer, never a hang) and none prompts for input.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import time
import types
from pathlib import Path
from typing import Any

import pytest
from helpers.shell import magic_shell
import requests
from IPython.utils.capture import capture_output

from aep_magics.api import AEPClient
from aep_magics.http import AEPSession
from aep_magics.magics import state

CORPUS = Path(__file__).resolve().parent / "data" / "bad_magics.json"
CASES = json.loads(CORPUS.read_text(encoding="utf-8"))["cases"]
SEED = 7070
AEP_ENV = ("AEP_CONFIG", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ACCESS_TOKEN", "AEP_ORG_ID", "AEP_SANDBOX",
           "AEP_BASE_URL", "AEP_IMS_URL", "AEP_SCOPES", "AEP_LOCAL_URL", "AEP_LOCAL_DATA")
MAX_SECONDS = 15.0  # per cell, 5 MB values included
MAX_LINE = 2000  # characters in the one-line message (errors.MAX_MESSAGE)

SETUP_CELLS = [
    """%%aep_connection -o conn -q
{"name": "bad input connection",
 "auth": {"specName": "Basic Authentication",
          "params": {"host": "https://aep-local-demo.myshopify.com", "accessToken": "shpat_bad_input"}},
 "connectionSpec": {"id": "4f63aa36-bd48-4e33-bb83-49fbcd11c708", "version": "1.0"}}""",
    """%%aep_source -o src -q
name: bad input source
baseConnectionId: "{{conn.id}}"
data: {format: tabular}
params: {tableName: Shopify.Orders}
connectionSpec: {id: 4f63aa36-bd48-4e33-bb83-49fbcd11c708, version: "1.0"}""",
    """%%aep_schema -o schema -q
{"type": "object", "title": "bad input schema",
 "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"},
           {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"}],
 "meta:class": "https://ns.adobe.com/xdm/context/profile"}""",
    """%%aep_dataset -o dataset -q
{"name": "bad input dataset",
 "schemaRef": {"id": "{{schema.id}}", "contentType": "application/vnd.adobe.xed-full+json;version=1"}}""",
    """%%aep_target -o tgt -q
{"name": "bad input target",
 "data": {"format": "parquet_xdm", "schema": {"id": "{{schema.id}}", "version": "application/vnd.adobe.xed-full+json;version=1"}},
 "params": {"dataSetId": "{{dataset.id}}"},
 "connectionSpec": {"id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c", "version": "1.0"}}""",
    "%aep_flowspec CRMToAEP -o spec -q",
]


def _value(spec: Any) -> Any:
    """A setup value: JSON as is, or ``{"$py": expression}`` for what JSON cannot hold."""
    if isinstance(spec, dict) and set(spec) == {"$py"}:
        return eval(spec["$py"], {"types": types})  # the corpus is this repository's own data
    return spec


@pytest.fixture(scope="module")
def aep():
    """A shell signed in to its own in-process AEP Local, holding a connection, source, schema, dataset, target."""
    saved = {name: value for name in AEP_ENV if (value := os.environ.pop(name, None)) is not None}
    shell = magic_shell()
    try:
        for source in [f"%aep_auth --local --seed {SEED} -q", *SETUP_CELLS]:
            result = shell.run_cell(source)
            result.raise_error()
        state.current.last = {}  # the cases that leave an id out must find none
        server = state.current.local
        watcher = AEPClient(AEPSession(server.profile()))
        yield types.SimpleNamespace(shell=shell, server=server, watcher=watcher, client=state.current.client)
    finally:
        state.current.close()
        shell.extension_manager.unload_extension("aep_magics")
        os.environ.update(saved)


def snapshot(client: AEPClient) -> dict[str, list[str]]:
    """The ids of every resource a cell could create, per kind."""
    flow = client.flow
    return {
        "connections": sorted(c["id"] for c in flow.list_connections()),
        "sourceConnections": sorted(c["id"] for c in flow.list_source_connections()),
        "targetConnections": sorted(c["id"] for c in flow.list_target_connections()),
        "flows": sorted(c["id"] for c in flow.list_flows()),
        "mappingSets": sorted(m["id"] for m in client.dataprep.list_mapping_sets()),
        "dataSets": sorted(client.catalog.list_datasets()),
        "schemas": sorted(s["$id"] for s in client.schemas.list_schemas()),
    }


def test_corpus_shape():
    ids = [case["id"] for case in CASES]
    assert len(ids) >= 60 and len(set(ids)) == len(ids)
    for case in CASES:
        assert {"id", "cell", "error", "match"} <= set(case), case["id"]
        assert case["cell"].startswith("%"), case["id"]
        re.compile(case["match"])


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_magic(aep, case, monkeypatch):
    def no_prompt(prompt: str = "") -> str:
        raise AssertionError(f"the cell prompted for input: {prompt!r}")

    monkeypatch.setattr(getpass, "getpass", no_prompt)
    shell = aep.shell
    before = snapshot(aep.watcher)
    source = case["cell"]
    for marker, spec in (case.get("expand") or {}).items():  # a huge cell, built here rather than stored
        source = source.replace(marker, spec["unit"] * spec["count"])
    setup = {name: _value(spec) for name, spec in (case.get("setup") or {}).items()}
    shell.user_ns.update(setup)
    try:
        started = time.monotonic()
        with capture_output() as cap:
            result = shell.run_cell(source, store_history=False)
        elapsed = time.monotonic() - started
    finally:
        for name in setup:
            shell.user_ns.pop(name, None)

    error = result.error_in_exec or result.error_before_exec
    assert error is not None, f"the cell did not fail: {case['cell'][:200]!r}"
    assert type(error).__name__ in case["error"].split("|"), f"{type(error).__name__}: {str(error)[:500]}"
    # the kit's errors render themselves; IPython's own UsageError is printed as "UsageError: message"
    render = getattr(error, "_render_traceback_", None)
    lines = render() if render is not None else [f"{type(error).__name__}: {error}"]
    assert len(lines) == 1 and not re.search(r"[\n\r\u2028\u2029\x85]", lines[0]), lines
    line = lines[0]
    assert len(line) <= MAX_LINE, f"{len(line)} characters: {line[:300]}…"
    assert re.search(case["match"], line), line
    printed = [text for text in (cap.stdout + cap.stderr).splitlines() if text.strip()]
    assert printed == [line] and not cap.outputs, (printed[:3], cap.outputs[:3])
    assert elapsed < MAX_SECONDS, f"{elapsed:.1f} s"

    assert snapshot(aep.watcher) == before, "the cell created, changed or deleted something"
    assert state.current.client is aep.client and state.current.profile.sandbox == "prod"
    assert state.current.last == {}
    health = requests.get(f"{aep.server.url}/aep-local/health", timeout=10)
    assert health.status_code == 200, health.text
