"""The parity matrix (``docs/parity.md``, written by ``tools/parity.py``): it is what the specs, AEP Local's routes and
the recorded evidence give today; the evidence is consistent with the routes and the test modules; the matcher and
the recorder do what the page says they do."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_tool():
    spec = importlib.util.spec_from_file_location("aep_parity_tool", ROOT / "tools" / "parity.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


parity = _load_tool()
Route = parity.Route


@pytest.fixture(scope="module")
def routes():
    return parity.live_routes()


@pytest.fixture(scope="module")
def evidence():
    return parity.Evidence.load(parity.EVIDENCE)


# -- the page and its evidence ----------------------------------------------------------------------------------------
def test_page_is_current(routes):
    rendered = parity.build(routes=routes)
    committed = parity.DOC.read_text(encoding="utf-8") if parity.DOC.exists() else ""
    if committed != rendered:
        pytest.fail("docs/parity.md is stale: run python tools/parity.py\n" + parity.diff(rendered, committed),
                    pytrace=False)


def test_rendering_is_deterministic(routes):
    assert parity.build(routes=routes) == parity.build(routes=list(reversed(routes)))


def test_every_proven_route_is_served(routes, evidence):
    assert evidence.hits, "tests/parity-evidence.json is missing or empty: run python tools/parity.py --record"
    served = {(r.method, r.rule) for r in routes}
    gone = sorted((m, rule) for m, rule in evidence.proven_routes()
                  if (m, rule) not in served and not (m == "HEAD" and ("GET", rule) in served))
    assert not gone, (f"tests/parity-evidence.json proves routes AEP Local does not serve: {gone}; "
                      "run python tools/parity.py --record")


def test_every_operation_shown_as_proven_is_served(routes, evidence):
    for name in parity.SCOPE:
        for op in parity.load_spec(name).operations:
            matches = parity.match(op.method, op.local_path, routes)
            proven = parity.proof(op.method, matches, evidence)
            assert matches or not any(proven.values()), f"{name} {op.method} {op.path} proven but not served"


def test_evidence_names_only_existing_test_modules(evidence):
    named = set(evidence.modules) | {module for hits in evidence.hits.values() for module in hits}
    missing = sorted(m for m in named if not (ROOT / m).is_file())
    assert not missing, f"tests/parity-evidence.json names test modules that do not exist: {missing}"
    unlisted = sorted(named - set(evidence.modules))
    assert not unlisted, f"requests from modules missing from the evidence's module list: {unlisted}"


def test_every_vendored_spec_is_in_or_out_of_scope():
    vendored = set(parity.vendored_specs())
    assert set(parity.SCOPE) <= vendored, f"in scope but not in specs/adobe: {set(parity.SCOPE) - vendored}"
    assert not set(parity.SCOPE) & set(parity.OUT_OF_SCOPE)
    undecided = vendored - set(parity.SCOPE) - set(parity.OUT_OF_SCOPE)
    assert not undecided, f"specs/adobe has specs neither in nor out of the parity matrix's scope: {undecided}"


# -- the matcher ------------------------------------------------------------------------------------------------------
FLOWS = "/data/foundation/flowservice/flows/<id>"
TABLE = [Route("GET", FLOWS, "F"), Route("PATCH", FLOWS, "F"),
         Route("GET", "/data/foundation/schemaregistry/tenant/schemas/<path:id>", "S"),
         Route("GET", "/data/foundation/schemaregistry/global/schemas/<path:id>", "S"),
         Route("POST", "/data/foundation/schemaregistry/tenant/schemas", "S"),
         Route("GET", "/data/foundation/conversion/mappingSets/<id>", "D"),
         Route("GET", "/data/foundation/sandbox-management/", "B")]


@pytest.mark.parametrize("method, template, expected", [
    # spec and route name their parameter differently
    ("GET", "/data/foundation/flowservice/flows/{FLOW_ID}", [(FLOWS, ())]),
    ("PATCH", "/data/foundation/flowservice/flows/{FLOW_ID}", [(FLOWS, ())]),
    ("DELETE", "/data/foundation/flowservice/flows/{FLOW_ID}", []),
    ("HEAD", "/data/foundation/flowservice/flows/{FLOW_ID}", [(FLOWS, ())]),
    # one more segment, or one fewer: another operation
    ("GET", "/data/foundation/flowservice/flows/{FLOW_ID}/runs", []),
    ("GET", "/data/foundation/flowservice/flows", []),
    # a trailing slash changes nothing
    ("GET", "/data/foundation/flowservice/flows/{FLOW_ID}/", [(FLOWS, ())]),
    ("GET", "/data/foundation/sandbox-management", [("/data/foundation/sandbox-management/", ())]),
    # a spec literal is not an id
    ("GET", "/data/foundation/conversion/mappingSets/validate", []),
    # a spec parameter the route fixes: served for those values
    ("GET", "/data/foundation/schemaregistry/{CONTAINER_ID}/schemas/{SCHEMA_ID}",
     [("/data/foundation/schemaregistry/tenant/schemas/<path:id>", (("CONTAINER_ID", "tenant"),)),
      ("/data/foundation/schemaregistry/global/schemas/<path:id>", (("CONTAINER_ID", "global"),))]),
    ("POST", "/data/foundation/schemaregistry/{CONTAINER_ID}/schemas",
     [("/data/foundation/schemaregistry/tenant/schemas", (("CONTAINER_ID", "tenant"),))]),
    ("GET", "/data/foundation/catalog/dataSets/{DATASET_ID}", []),
])
def test_match(method, template, expected):
    assert [(m.route.rule, m.bindings) for m in parity.match(method, template, TABLE)] == expected


def test_served_cell():
    fixed = parity.match("GET", "/data/foundation/schemaregistry/{C}/schemas/{ID}", TABLE)
    assert parity._served(fixed) == "yes, for `C` = `global`, `tenant`"
    assert parity._served(parity.match("GET", "/data/foundation/flowservice/flows/{X}", TABLE)) == "yes"
    assert parity._served([]) == "no"


@pytest.mark.parametrize("doc, expected", [
    ({"openapi": "3.0.1", "servers": [{"url": "//{environment}.adobe.io/data/foundation/catalog"}]},
     ("{environment}.adobe.io", "/data/foundation/catalog")),
    ({"openapi": "3.0.1", "servers": [{"url": "https://{environment}.adobe.io/data/foundation/export/"}]},
     ("{environment}.adobe.io", "/data/foundation/export")),
    ({"openapi": "3.0.1", "servers": [{"url": "https://dcs.adobedc.net/"}]}, ("dcs.adobedc.net", "/")),
    ({"swagger": "2.0", "host": "platform.adobe.io", "basePath": "/data/foundation/schemaregistry"},
     ("platform.adobe.io", "/data/foundation/schemaregistry")),
])
def test_server_base(doc, expected):
    assert parity.server_base(doc) == expected


def test_base_path_mapping():
    op = parity.Operation("catalog", "GET", "/batches/{BATCH_ID}", "/data/foundation/catalog", "retrieveBatch", "")
    assert op.local_path == "/data/foundation/catalog/batches/{BATCH_ID}"
    assert parity.Operation("catalog", "GET", "/", "/data/foundation/catalog", "", "").local_path == \
        "/data/foundation/catalog/"
    assert parity.Operation("s", "POST", "/collection/{ID}", "/", "", "").local_path == "/collection/{ID}"
    catalog = parity.load_spec("catalog")
    assert catalog.base == "/data/foundation/catalog"
    assert any(o.operation_id == "retrieveBatch" and o.local_path == "/data/foundation/catalog/batches/{BATCH_ID}"
               for o in catalog.operations)


def test_proof_needs_a_successful_answer():
    ev = parity.Evidence(modules=["tests/test_a.py", "tests/test_aepp.py"],
                         hits={("GET", FLOWS): {"tests/test_a.py": [404], "tests/test_aepp.py": [200, 404]}})
    got = parity.proof("GET", parity.match("GET", "/data/foundation/flowservice/flows/{F}", TABLE), ev)
    assert got == {"unit": [], "aepp": ["tests/test_aepp.py"], "schemathesis": [], "docs example": []}
    assert parity.proof("PATCH", [parity.Match(TABLE[1])], ev) == {k: [] for k in parity.CHECKS}


# -- the recorder -----------------------------------------------------------------------------------------------------
def test_recorder_notes_the_route_and_the_test_module(tmp_path):
    from werkzeug.test import Client

    from aep_magics.local.platform import Platform
    from aep_magics.local.server import App
    from helpers.parity_record import Recorder

    recorder = Recorder(tmp_path / "evidence.json", ROOT)
    platform = Platform(tmp_path / "data")
    recorder.install()
    try:
        client = Client(App(platform))
        item = SimpleNamespace(path=ROOT / "tests" / "test_parity.py")

        run = recorder.pytest_runtest_protocol(item, None)
        next(run)
        assert client.get("/aep-local/health").status_code == 200
        assert client.get("/aep-local/health/").status_code == 200
        assert client.get("/data/foundation/flowservice/flows/abc").status_code == 403  # no token
        assert client.get("/nothing/here").status_code == 404
        next(run, None)

        run = recorder.pytest_runtest_protocol(SimpleNamespace(path=ROOT / "tests" / "test_other.py"), None)
        next(run)
        client.post("/aep-local/clock", json={})
        recorder.pytest_runtest_logreport(SimpleNamespace(failed=True))
        next(run, None)
        client.get("/aep-local/clock")  # between tests: nobody's
    finally:
        recorder.uninstall()
        platform.close()
    assert recorder.as_json() == {
        "modules": ["tests/test_other.py", "tests/test_parity.py"],
        "requests": [
            {"method": "GET", "route": "/aep-local/health", "module": "tests/test_parity.py", "statuses": [200]},
            {"method": "GET", "route": "/data/foundation/flowservice/flows/<id>", "module": "tests/test_parity.py",
             "statuses": [403]},
        ]}
    recorder.write()
    written = parity.Evidence.load(tmp_path / "evidence.json")
    assert written.proving("GET", "/aep-local/health") == ["tests/test_parity.py"]
    assert written.proving("GET", "/data/foundation/flowservice/flows/<id>") == []
