"""Contract fuzzing of AEP Local against Adobe's own OpenAPI documents (``specs/adobe/``).

Schemathesis (4.x Python API) loads Adobe's Flow Service, Catalog, Data Prep, Schema Registry, Query Service specs and
generates requests -- valid ones and, with the negative mode, invalid ones -- for every operation of them that AEP
Local serves. Which operations those are is derived from AEP Local's own routing table (the routes every service
lists), so an operation AEP Local starts to serve is fuzzed without a change here. Each request goes over loopback to
one AEP Local per module, seeded with a real chain of resources (base connection, source connection, schema, dataset,
target connection, mapping set, flow, run, descriptor, ...): every path parameter is generated or, in every other
example of an operation, the id of one of those resources (a DELETE gets a spare one nothing else refers to; an update
gets the resource's current etag), so both the "not found" answers and the real bodies are checked. Checks:

- ``not_a_server_error``: no 5xx, ever;
- ``response_schema_conformance``: every answer the specification documents matches its documented schema.

Status code conformance is not checked: Adobe's documents list few of the statuses the services answer (most Flow
Service operations document 200, 403 and 503 only, not the 400 and 404 its documentation pages describe).

Adobe's documents have defects. Where a document contradicts Adobe's own documentation pages, AEP Local follows the
pages and :data:`SPEC_VS_DOCS` names the conflict; the test then amends exactly that schema fragment in its in-memory
copy of the document (the vendored file stays as published), or, when the conflict is about a whole body, leaves out
the one check for the one operation.

CI runs ``CONTRACT_CI_EXAMPLES`` (4) examples per operation (``AEP_CONTRACT_EXAMPLES`` overrides it);
``pytest -m slow tests/test_contract_adobe.py`` runs ``CONTRACT_SLOW_EXAMPLES`` (200).
"""

from __future__ import annotations

import collections
import copy
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from helpers.access_log import StatusCounter
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from aep_magics import local
from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID, Platform
from aep_magics.local.server import App

SPECS_DIR = Path(__file__).resolve().parents[1] / "specs" / "adobe"
SPEC_NAMES = ("flow-service", "catalog", "data-prep", "schema-registry", "query-service")
CONTRACT_CI_EXAMPLES = int(os.environ.get("AEP_CONTRACT_EXAMPLES", "4"))
CONTRACT_SLOW_EXAMPLES = 200
CHECKS = {"not_a_server_error": not_a_server_error, "response_schema_conformance": response_schema_conformance}

SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
XED = "application/vnd.adobe.xed-full-notext+json; version=1"

# ---------------------------------------------------------------------------------------------------------------
# Where Adobe's specification and Adobe's documentation pages disagree (AEP Local follows the pages)
# ---------------------------------------------------------------------------------------------------------------
#: Each entry: ``spec`` (file), ``operation`` ("METHOD /path" as in the file, or "*" for a shared component),
#: ``field``, what the spec says, what the docs say, the public page, and how the test narrows the check:
#: ``amend`` = (JSON pointer into the document, replacement schema) or ``skip_check`` = a check left out for that
#: operation only.
SPEC_VS_DOCS: list[dict[str, Any]] = [
    {"spec": "flow-service", "operation": "*", "field": "ScheduleSpecDTO.startTime (scheduleParams.startTime)",
     "spec_says": "an integer (epoch seconds)",
     "docs_say": 'a string: "startTime": "1604961070" in the create-dataflow request, "1612310466" in a GET response',
     "url": "https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/update-dataflows",
     "amend": ("/components/schemas/ScheduleSpecDTO/properties/startTime",
               {"anyOf": [{"type": "integer", "format": "int64"}, {"type": "string", "pattern": "^[0-9]+$"}]})},
    {"spec": "flow-service", "operation": "*", "field": "ScheduleSpecDTO.backfill (scheduleParams.backfill)",
     "spec_says": "a boolean", "docs_say": 'a string in a GET response: "backfill": "true"',
     "url": "https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/update-dataflows",
     "amend": ("/components/schemas/ScheduleSpecDTO/properties/backfill",
               {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}]})},
    {"spec": "flow-service", "operation": "*", "field": "FlowRunItemDTO.activites (a run's activities)",
     "spec_says": "the list of a run's activities is spelled `activites`",
     "docs_say": "it is spelled `activities` (the runs of the monitoring examples); the test validates `activities` "
                 "against the spec's schema of `activites`",
     "url": "https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/monitor",
     "rename": ("/components/schemas/FlowRunItemDTO/properties", "activites", "activities")},
    {"spec": "data-prep", "operation": "*", "field": "MappingSet.createdDate, MappingSet.modifiedDate",
     "spec_says": 'a string, format "date-time"',
     "docs_say": 'epoch milliseconds: "createdDate": 1614901254724 in the create-mapping-set response',
     "url": "https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set",
     "amend": [("/components/schemas/MappingSet/properties/createdDate", {"type": "integer", "format": "int64"}),
               ("/components/schemas/MappingSet/properties/modifiedDate", {"type": "integer", "format": "int64"})]},
    {"spec": "data-prep", "operation": "*", "field": "MappingOperation.createdDate, MappingOperation.modifiedDate",
     "spec_says": 'a string, format "date-time"',
     "docs_say": 'epoch milliseconds in the stored mappings of a mapping set ("createdDate": 1568047685000)',
     "url": "https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set",
     "amend": [("/components/schemas/MappingOperation/properties/createdDate", {"type": "integer", "format": "int64"}),
               ("/components/schemas/MappingOperation/properties/modifiedDate",
                {"type": "integer", "format": "int64"})]},
    {"spec": "data-prep", "operation": "*", "field": "SourceType (a mapping's sourceType)",
     "spec_says": "one of ATTRIBUTE, EXPRESSION, STATIC",
     "docs_say": 'stored mappings come back with "sourceType": "text/x.schema-path"',
     "url": "https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set",
     "amend": ("/components/schemas/SourceType/enum", ["ATTRIBUTE", "EXPRESSION", "STATIC", "text/x.schema-path"])},
    {"spec": "data-prep", "operation": "GET /mappingSets/{MAPPING_SET_ID}/mappings", "field": "200 response body",
     "spec_says": "one MappingOperation object", "docs_say": "a JSON array of the mapping set's mappings",
     "url": "https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set",
     "amend": ("/paths/~1mappingSets~1{MAPPING_SET_ID}~1mappings/get/responses/200/content/application~1json/schema",
               {"type": "array", "items": {"$ref": "#/components/schemas/MappingOperation"}})},
    {"spec": "data-prep", "operation": "*", "field": "JsonSchema.minimum, .maximum, .default, .enum[] (the expanded "
     "output schema of GET /mappingSets/{id}?expandSchema=true)",
     "spec_says": "each an object",
     "docs_say": "the expanded schema is the XDM schema, a JSON Schema whose minimum and maximum are numbers and "
                 "whose default and enum values are values of the field's type",
     "url": "https://experienceleague.adobe.com/en/docs/experience-platform/xdm/schema/field-constraints",
     "amend": [("/components/schemas/JsonSchema/properties/minimum", {"type": "number"}),
               ("/components/schemas/JsonSchema/properties/maximum", {"type": "number"}),
               ("/components/schemas/JsonSchema/properties/default", {}),
               ("/components/schemas/JsonSchema/properties/enum", {"type": "array"})]},
    {"spec": "schema-registry", "operation": "*", "field": "createDescriptor.xdm:sourceVersion",
     "spec_says": "a string",
     "docs_say": 'an integer: "xdm:sourceVersion": 1 in every descriptor example (and in the spec\'s own example)',
     "url": "https://experienceleague.adobe.com/en/docs/experience-platform/xdm/api/descriptors",
     "amend": ("/definitions/createDescriptor/properties/xdm:sourceVersion", {"type": "integer"})},
]


# ---------------------------------------------------------------------------------------------------------------
# The operations AEP Local serves, from its routing table
# ---------------------------------------------------------------------------------------------------------------
def _route_table() -> list[tuple[str, str]]:
    """(method, werkzeug rule) of every route AEP Local serves, from a throwaway platform."""
    with tempfile.TemporaryDirectory() as tmp:
        platform = Platform(tmp)
        try:
            return [(method, rule) for method, rule, _ in App(platform).route_table()]
        finally:
            platform.close()


def _segments(path: str) -> list[str]:
    return [s for s in path.strip("/").split("/")]


def _base_path(raw: dict[str, Any]) -> str:
    if "servers" in raw:
        return urlsplit(raw["servers"][0]["url"]).path.rstrip("/")
    return raw.get("basePath", "").rstrip("/")


def served_literals(method: str, path: str, routes: list[tuple[str, str]]) -> dict[str, set[str]] | None:
    """``None`` when no route of AEP Local serves ``METHOD path`` (a full path, ``{NAME}`` parameters); otherwise,
    for each parameter that stands where a route has a fixed segment (``/{CONTAINER_ID}/schemas``), the segments
    that route serves (``{"CONTAINER_ID": {"global", "tenant"}}``). A route must have as many segments as the path."""
    spec_segments = _segments(path)
    literals: dict[str, set[str]] = {}
    found = False
    for route_method, rule in routes:
        if route_method != method:
            continue
        rule_segments = _segments(rule)
        if len(rule_segments) != len(spec_segments):
            continue
        bound: dict[str, str] = {}
        for s, r in zip(spec_segments, rule_segments):
            if s.startswith("{"):
                if not r.startswith("<"):
                    bound[s.strip("{}")] = r
            elif not (r.startswith("<") or s == r):
                break
        else:
            found = True
            for name, value in bound.items():
                literals.setdefault(name, set()).add(value)
    return literals if found else None


ROUTES = _route_table()


def _load(name: str) -> tuple[Any, str]:
    """Adobe's document ``name``, amended as :data:`SPEC_VS_DOCS` says, restricted to what AEP Local serves."""
    raw = yaml.safe_load((SPECS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    for entry in SPEC_VS_DOCS:
        if entry["spec"] != name:
            continue
        amends = entry.get("amend", [])
        for pointer, replacement in [amends] if isinstance(amends, tuple) else amends:
            parent, key = _pointer(raw, pointer, name)
            parent[key] = replacement
        if "rename" in entry:
            pointer, old, new = entry["rename"]
            parent, key = _pointer(raw, pointer + "/" + old, name)
            parent[new] = parent.pop(key)
    base = _base_path(raw)
    served: set[tuple[str, str]] = set()
    for path, item in raw["paths"].items():
        for method, op in list(item.items()):
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            literals = served_literals(method.upper(), base + path, ROUTES)
            if literals is None:
                continue
            served.add((method.upper(), path))
            if literals:  # a parameter standing for fixed segments: generate only the segments AEP Local serves
                op["parameters"] = [_narrowed(raw, p, literals) for p in op.get("parameters", [])]
    schema = schemathesis.openapi.from_dict(raw)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    schema = schema.include(func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in served)
    return schema, base


def _pointer(raw: dict[str, Any], pointer: str, name: str) -> tuple[Any, str]:
    """The container of the node at JSON pointer ``pointer`` and its key (which must exist: a stale entry of
    :data:`SPEC_VS_DOCS` fails loudly)."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
    node: Any = raw
    for part in parts[:-1]:
        assert part in node, f"SPEC_VS_DOCS: {pointer} is not in {name}.yaml"
        node = node[part]
    assert parts[-1] in node, f"SPEC_VS_DOCS: {pointer} is not in {name}.yaml"
    return node, parts[-1]


def _narrowed(raw: dict[str, Any], param: dict[str, Any], literals: dict[str, set[str]]) -> dict[str, Any]:
    resolved = param
    if "$ref" in param:
        node: Any = raw
        for part in param["$ref"].lstrip("#/").split("/"):
            node = node[part]
        resolved = node
    if resolved.get("in") != "path" or resolved.get("name") not in literals:
        return param
    narrowed = copy.deepcopy(resolved)
    values = sorted(literals[resolved["name"]])
    if "schema" in narrowed:
        narrowed["schema"] = {"type": "string", "enum": values}
    else:
        narrowed["enum"] = values
    return narrowed


SCHEMAS = {name: _load(name) for name in SPEC_NAMES}


def _skipped_checks(spec: str, method: str, path: str) -> set[str]:
    return {e["skip_check"] for e in SPEC_VS_DOCS
            if e["spec"] == spec and "skip_check" in e and e["operation"] == f"{method} {path}"}


# ---------------------------------------------------------------------------------------------------------------
# The server, seeded with real resources
# ---------------------------------------------------------------------------------------------------------------
class Seeded:
    """One AEP Local with a real chain of resources; ``ids[param]`` is a real value for a path parameter and
    ``spares[param]`` one that a DELETE may remove (nothing else refers to it)."""

    def __init__(self, server: Any):
        self.server = server
        self.url = server.url
        self.session = requests.Session()
        r = self.session.post(f"{self.url}/ims/token/v3", data={
            "grant_type": "client_credentials", "client_id": DEV_CLIENT_ID, "client_secret": DEV_CLIENT_SECRET,
            "scope": "openid"}, timeout=10)
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}", "x-api-key": DEV_CLIENT_ID,
                        "x-gw-ims-org-id": DEV_ORG_ID, "x-sandbox-name": "prod"}
        self.ids: dict[str, dict[str, str]] = {"tenant": {}, "global": {}}
        self.spares: dict[str, str] = {}
        self.operations: collections.Counter[str] = collections.Counter()
        self._seed()

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        r = self.session.request(method, self.url + path, headers={**self.headers, **kwargs.pop("headers", {})},
                                 timeout=30, **kwargs)
        assert r.status_code == expect, f"seeding {method} {path}: {r.status_code} {r.text[:300]}"
        return r.json() if r.content else None

    def _base(self, name: str) -> str:
        return self.call("POST", "/data/foundation/flowservice/connections", 201, json={
            "name": f"{name} base", "auth": {"specName": "Basic Authentication", "params": {
                "host": "aeplocal.myshopify.com", "accessToken": "shpat_0123"}},
            "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})["id"]

    def _chain(self, name: str) -> dict[str, str]:
        flow = "/data/foundation/flowservice"
        base = self._base(name)
        source = self.call("POST", f"{flow}/sourceConnections", 201, json={
            "name": f"{name} source", "baseConnectionId": base, "data": {"format": "tabular"},
            "params": {"tableName": "Shopify.Orders", "columns": [{"name": "Email", "type": "string"}]},
            "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})["id"]
        schema = self.call("POST", "/data/foundation/schemaregistry/tenant/schemas", 201, json={
            "type": "object", "title": f"{name} profile", "description": "contract fuzzing",
            "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"},
                      {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"}],
            "meta:class": "https://ns.adobe.com/xdm/context/profile"})
        dataset = self.call("POST", "/data/foundation/catalog/dataSets", 201, json={
            "name": f"{name} dataset", "schemaRef": {"id": schema["$id"], "contentType": XED}})[0]
        dataset = dataset.rsplit("/", 1)[-1]
        target = self.call("POST", f"{flow}/targetConnections", 201, json={
            "name": f"{name} target", "data": {"format": "parquet_xdm", "schema": {"id": schema["$id"],
                                                                                  "version": XED}},
            "params": {"dataSetId": dataset}, "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}})["id"]
        mapping = self.call("POST", "/data/foundation/conversion/mappingSets", 200, json={
            "version": 0, "xdmSchema": schema["$id"], "xdmVersion": "1.0", "id": None, "mappings": [
                {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "Email", "identity": False,
                 "version": 0}]})
        flow_id = self.call("POST", f"{flow}/flows", 201, json={
            "name": f"{name} flow", "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
            "sourceConnectionIds": [source], "targetConnectionIds": [target],
            "transformations": [{"name": "Mapping", "params": {"mappingId": mapping["id"], "mappingVersion": 0}}],
            "scheduleParams": {"startTime": "4102444800", "frequency": "once"}})["id"]
        return {"base": base, "source": source, "target": target, "flow": flow_id, "dataset": dataset,
                "schema": schema["meta:altId"], "schema_id": schema["$id"], "mapping": mapping["id"]}

    def _seed(self) -> None:
        registry = "/data/foundation/schemaregistry"
        main = self._chain("contract")
        run = self.call("POST", "/data/foundation/flowservice/runs", 201, json={
            "flowId": main["flow"], "params": {"startTime": 1604961070, "windowStartTime": 1604961070,
                                              "windowEndTime": 1604962070}})
        mapping = self.call("GET", f"/data/foundation/conversion/mappingSets/{main['mapping']}/mappings", 200)
        group = self.call("POST", f"{registry}/tenant/fieldgroups", 201, json={
            "type": "object", "title": "Contract loyalty", "description": "contract fuzzing",
            "meta:intendedToExtend": ["https://ns.adobe.com/xdm/context/profile"],
            "definitions": {"loyalty": {"properties": {"_aeplocal": {"type": "object", "properties": {
                "points": {"type": "integer"}}}}}},
            "allOf": [{"$ref": "#/definitions/loyalty"}]})
        descriptor = self.call("POST", f"{registry}/tenant/descriptors", 201, json={
            "@type": "xdm:descriptorIdentity", "xdm:sourceSchema": main["schema_id"], "xdm:sourceVersion": 1,
            "xdm:sourceProperty": "/personalEmail/address", "xdm:namespace": "Email", "xdm:property": "xdm:code",
            "xdm:isPrimary": False})
        spare = self._chain("spare")
        spare_base = self._base("spare")   # a base connection no source connection refers to
        tenant = {
            "BASE_CONNECTION_ID": main["base"], "SOURCE_CONNECTION_ID": main["source"],
            "TARGET_CONNECTION_ID": main["target"], "FLOW_ID": main["flow"], "RUN_ID": run["id"],
            "CONNECTION_SPEC_ID": SHOPIFY, "FLOW_SPEC_ID": CRM_TO_AEP, "DATASET_ID": main["dataset"],
            "MAPPING_SET_ID": main["mapping"], "MAPPING_ID": mapping[0]["id"] if isinstance(mapping, list)
            else mapping["data"][0]["id"], "SCHEMA_ID": main["schema"], "FIELD_GROUP_ID": group["meta:altId"],
            "MIXIN_ID": group["meta:altId"], "DESCRIPTOR_ID": descriptor["@id"], "CONTAINER_ID": "tenant"}
        self.ids["tenant"] = tenant
        self.ids["global"] = {
            "CONTAINER_ID": "global", "CLASS_ID": "_xdm.context.profile", "SCHEMA_ID": "_xdm.context.profile",
            "FIELD_GROUP_ID": "_xdm.context.profile-personal-details",
            "MIXIN_ID": "_xdm.context.profile-personal-details", "DATA_TYPE_ID": "_xdm.context.person-name",
            "BEHAVIOR_ID": "_xdm.data.time-series"}
        self.spares = {"FLOW_ID": spare["flow"], "BASE_CONNECTION_ID": spare_base, "DATASET_ID": spare["dataset"]}

    def current_etag(self, spec: str, case: Any) -> None:
        """A Flow Service ``If-Match`` the case carries becomes the resource's current etag, so that an update of a
        real resource can succeed (and its answer be checked)."""
        names = [k for k in (case.headers or {}) if k.lower() == "if-match"]
        if spec != "flow-service" or not names:
            return
        path = case.path
        for name, value in case.path_parameters.items():
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        path = re.sub(r"/(action|test|explore)$", "", path.rstrip("/"))
        r = self.session.get(f"{self.url}/data/foundation/flowservice{path}", headers=self.headers, timeout=30)
        if r.status_code == 200 and r.json().get("items"):
            for name in names:
                case.headers[name] = r.json()["items"][0]["etag"]

    def real_path_parameters(self, case: Any) -> dict[str, str]:
        """Real values for the path parameters of ``case`` (those of which there is a real one)."""
        container = case.path_parameters.get("CONTAINER_ID")
        if container is None:
            container = "global" if "/global/" in case.path else "tenant"
        ids = self.ids.get(container, self.ids["tenant"])
        out = {}
        for name in case.path_parameters or {}:
            if case.method.upper() == "DELETE" and name != "CONTAINER_ID":
                if name in self.spares:
                    out[name] = self.spares[name]
            elif name in ids:
                out[name] = ids[name]
        return out


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory):
    counter = StatusCounter()
    logger = logging.getLogger("aep_magics.local")
    level = logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.INFO)
    try:
        with local.start(tmp_path_factory.mktemp("contract"), seed=4711, scheduler=False, store_orders=50) as srv:
            seeded = Seeded(srv)
            yield seeded
            assert requests.get(f"{srv.url}/aep-local/health", timeout=10).status_code == 200
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)
    print(f"\nCONTRACT operations={len(seeded.operations)} requests={sum(counter.counts.values())} "
          + json.dumps(dict(sorted(counter.counts.items()))))
    assert counter.counts["5xx"] == 0


def _call(spec: str, case: Any, seeded: Seeded) -> None:
    operation = f"{spec} {case.operation.method.upper()} {case.operation.path}"
    seeded.operations[operation] += 1
    # every other example of an operation with path parameters gets the ids of the seeded resources
    if case.path_parameters and seeded.operations[operation] % 2 == 0:
        case.path_parameters = {**case.path_parameters, **seeded.real_path_parameters(case)}
        seeded.current_etag(spec, case)
    skipped = _skipped_checks(spec, case.operation.method.upper(), case.operation.path)
    checks = [check for name, check in CHECKS.items() if name not in skipped]
    # the credentials are the seeded server's; a header the document defines (If-Match, Accept) stays generated
    case.call_and_validate(base_url=seeded.url + SCHEMAS[spec][1], headers=dict(seeded.headers), checks=checks,
                           timeout=30)


_settings = dict(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


def _tests(spec: str) -> tuple[Any, Any]:
    schema = SCHEMAS[spec][0]

    @schema.parametrize()
    @settings(max_examples=CONTRACT_CI_EXAMPLES, **_settings)
    def ci(case, contract_server):
        _call(spec, case, contract_server)

    @pytest.mark.slow
    @schema.parametrize()
    @settings(max_examples=CONTRACT_SLOW_EXAMPLES, **_settings)
    def slow(case, contract_server):
        _call(spec, case, contract_server)

    return ci, slow


test_flow_service, test_flow_service_slow = _tests("flow-service")
test_catalog, test_catalog_slow = _tests("catalog")
test_data_prep, test_data_prep_slow = _tests("data-prep")
test_schema_registry, test_schema_registry_slow = _tests("schema-registry")
test_query_service, test_query_service_slow = _tests("query-service")


def test_served_operations_follow_the_routing_table():
    """The fuzzed set is AEP Local's routing table seen through Adobe's documents: the lists and lookups every
    service serves are in it; what AEP Local does not serve is not."""
    served = {(op.method.upper(), SCHEMAS[name][1] + op.path)
              for name in SPEC_NAMES for op in (r.ok() for r in SCHEMAS[name][0].get_all_operations())}
    assert ("GET", "/data/foundation/flowservice/flows/{FLOW_ID}") in served
    assert ("GET", "/data/foundation/catalog/dataSets/{DATASET_ID}") in served
    assert ("POST", "/data/foundation/conversion/mappingSets") in served
    assert ("GET", "/data/foundation/schemaregistry/{CONTAINER_ID}/schemas/{SCHEMA_ID}") in served
    assert ("POST", "/data/foundation/flowservice/flowSpecs") not in served       # AEP Local serves no such call
    assert ("GET", "/data/foundation/schemaregistry/rpc/auditlog/{RESOURCE_ID}") not in served
    assert served_literals("GET", "/data/foundation/schemaregistry/{CONTAINER_ID}/descriptors",
                           [("GET", "/data/foundation/schemaregistry/tenant/descriptors")]) == {
        "CONTAINER_ID": {"tenant"}}
    assert served_literals("GET", "/a/{X}/b", [("GET", "/a/<path:id>")]) is None
