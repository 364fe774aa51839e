"""Flow Service (``/data/foundation/flowservice``): connection and flow specs, base / source / target connections,
explore, flows and flow runs (https://developer.adobe.com/experience-platform-apis/references/flow-service/).

Every resource is a JSON document in the store under the caller's (org, sandbox); the built-in specs live under the
platform pseudo-tenant. Create answers ``201 {id, etag}``; GET by id answers ``{"items": [resource]}``; lists go
through :mod:`aep_magics.local.listing`. Errors use the FLOW-nnnn-sss envelope with the documented codes; validation
failures that have no documented code use ``1100-400`` ("Error from flow provider: ...", UNCONFIRMED).
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from .. import errors, listing, specs
from ..jsonpatch import PatchError, apply_patch, pointer_tokens
from ..store import PLATFORM, Record, Tenant
from .base import Call, Reply, Route, Service, ServiceError
from .sandboxes import sandbox_id

BASE = "/data/foundation/flowservice"
MASK = "********"
#: Rows returned by ``explore?preview=true`` (UNCONFIRMED: the real default is not documented).
PREVIEW_ROWS = 10
#: Rows scanned to find ``PREVIEW_ROWS`` rows matching a preview ``filters`` PQL expression.
PREVIEW_SCAN = 2000
#: Run statuses that mean "not finished yet" (excluded from ``lastRunDetails``).
PENDING_STATUSES = ("scheduled", "inProgress", "queued", "pending", "running", "started")
#: Hosts other than ``*.myshopify.com`` that the connection test accepts (the sample store served locally).
LOCAL_SHOP_HOSTS = ("localhost", "127.0.0.1", "::1")

_AUDIT_READONLY = {"id", "createdAt", "updatedAt", "createdBy", "updatedBy", "createdClient", "updatedClient",
                   "sandboxId", "sandboxName", "imsOrgId", "version", "etag", "state", "inheritedAttributes",
                   "runs", "lastOperation", "lastRunDetails", "providerRefId"}
_INT = re.compile(r"^\s*-?\d+\s*$")


def _provider_error(message: str, request_id: str = "") -> ServiceError:
    return errors.flow("1100-400", "Invalid request",
                       f"The request could not be processed. Error from flow provider: {message}",
                       request_id=request_id)


def _import_jsonschema() -> None:
    """Import jsonschema without the optional ``rfc3987_syntax`` (only its ``iri`` format checks use it).

    jsonschema imports every format library it finds at import time, and ``rfc3987_syntax`` (which Jupyter's
    ``jsonschema[format-nongpl]`` pulls in) builds an Earley parser then: 2-5 s on the first connection a kernel
    creates. Nothing here asserts the ``iri`` formats; the block lasts for this one import only.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # makes its import raise ImportError
    try:
        import jsonschema  # noqa: F401
    finally:
        if "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None:
            del sys.modules["rfc3987_syntax"]


def _schema_errors(schema: dict[str, Any], instance: Any) -> str | None:
    """The most relevant JSON Schema violation as one sentence, or None when valid. The sentence never shows the
    value of a secret parameter (:func:`secret_names`), whatever its type: the value is replaced by ``********``."""
    _import_jsonschema()
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import best_match

    error = best_match(Draft7Validator(schema).iter_errors(instance))
    if error is None:
        return None
    path = list(error.absolute_path)
    where = "/".join(str(p) for p in path)
    names = secret_names(schema)
    if any(isinstance(p, str) and p.lower() in names for p in path):
        hidden = [error.instance]
    else:
        hidden = list(_secret_values(error.instance, names))
    message = error.message
    if hidden:
        message = message.replace(repr(error.instance), MASK)
        if any(text in message for value in hidden for text in _shown_as(value)):
            message = f"the value does not satisfy the spec's '{error.validator}' rule"
    return f"{where + ': ' if where else ''}{message}"


#: Parameter names that hold credentials in Adobe's connection specs; masked in error messages also where a spec
#: does not mark them ``"format": "password"`` (the spec's own marks are read first, :func:`secret_names`).
SECRET_NAMES = frozenset(name.lower() for name in (
    "accessToken", "password", "clientSecret", "secret", "secretKey", "secretAccessKey", "sasUri", "sasToken",
    "accountKey", "servicePrincipalKey", "passPhrase", "keyFileContent", "privateKey", "privateKeyContent",
    "serviceAccountJson", "serviceAccountKey", "connectionString", "refreshToken", "apiKey", "token",
    "developerToken", "pgpPrivateKey"))


def secret_names(schema: Any) -> frozenset[str]:
    """The (lower-case) names of the secret parameters of a spec: every property the schema marks
    ``"format": "password"``, at any depth, and the usual credential names (:data:`SECRET_NAMES`)."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                found.update(k.lower() for k, v in props.items()
                             if isinstance(v, dict) and v.get("format") == "password")
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
    return SECRET_NAMES | found


def _secret_values(instance: Any, names: frozenset[str]):
    """The values held under a secret name anywhere inside ``instance``."""
    stack = [instance]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and key.lower() in names:
                    yield value
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)


def _shown_as(value: Any) -> set[str]:
    """How a secret value, or any part of it, could appear in a message (parts shorter than 4 characters aside)."""
    out: set[str] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif node is not None and not isinstance(node, bool):
            out.update(t for t in (str(node), repr(node)) if len(t) >= 4)
    return out


def _coerce(params: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Digit strings become integers and "true"/"false" booleans where the schema says so (GET returns strings)."""
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    out = {}
    for key, value in params.items():
        kind = props.get(key, {}).get("type") if isinstance(props.get(key), dict) else None
        if kind == "integer" and isinstance(value, str) and _INT.match(value):
            value = int(value)
        elif kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        out[key] = value
    return out


def _stringify(params: dict[str, Any]) -> dict[str, Any]:
    """Schedule values as GET shows them: ``{"startTime": "1612310466", "interval": "15", "backfill": "true"}``."""
    out = {}
    for key, value in params.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        out[key] = value
    return out


def _quote_etag(value: str) -> str:
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value if value.startswith('"') and value.endswith('"') and len(value) > 1 else f'"{value}"'


def _spec_ref(ref: Any) -> tuple[str, str] | None:
    if isinstance(ref, dict) and isinstance(ref.get("id"), str):
        return ref["id"], str(ref.get("version", ""))
    return None


# -------------------------------------------------------------------------------------------------------------------
class FlowService(Service):
    """Flow Service for table-based sources (Shopify) into the Data Lake."""

    def __init__(self, platform):
        super().__init__(platform)
        self._install_specs()

    def _install_specs(self) -> None:
        for kind, items in (("connectionSpec", specs.CONNECTION_SPECS), ("flowSpec", specs.FLOW_SPECS)):
            for spec in items:
                rec = self.store.get(PLATFORM, kind, spec["id"])
                if rec is None:
                    self.store.insert(PLATFORM, kind, spec["id"], spec, created=specs.SPEC_EPOCH_MS,
                                      name=spec["name"])
                elif rec.doc != spec:
                    self.store.replace(PLATFORM, kind, spec["id"], spec, updated=specs.SPEC_EPOCH_MS,
                                       name=spec["name"])

    def routes(self) -> list[Route]:
        r = []
        add = lambda method, rule, handler: r.append(Route(method, BASE + rule, handler))  # noqa: E731
        add("GET", "/connectionSpecs", self.list_connection_specs)
        add("GET", "/connectionSpecs/<id>", self.get_connection_spec)
        add("GET", "/flowSpecs", self.list_flow_specs)
        add("GET", "/flowSpecs/<id>", self.get_flow_spec)
        for collection, create in (("connections", self.create_connection),
                                   ("sourceConnections", self.create_source_connection),
                                   ("targetConnections", self.create_target_connection),
                                   ("flows", self.create_flow)):
            coll = self._collections[collection]
            add("GET", f"/{collection}", self._lister(coll))
            add("POST", f"/{collection}", create)
            add("GET", f"/{collection}/<id>", self._getter(coll))
            add("PATCH", f"/{collection}/<id>", self._patcher(coll))
            add("DELETE", f"/{collection}/<id>", self._deleter(coll))
        add("GET", "/connections/<id>/test", self.test_connection)
        add("GET", "/connections/<id>/explore", self.explore)
        add("POST", "/flows/<id>/action", self.flow_action)
        add("GET", "/flows/<id>/runs", self.list_flow_runs)
        add("GET", "/runs", self._lister(listing.RUNS))
        add("POST", "/runs", self.create_run)
        add("GET", "/runs/<id>", self._getter(listing.RUNS))
        return r

    _collections = {c.name: c for c in (listing.CONNECTIONS, listing.SOURCE_CONNECTIONS, listing.TARGET_CONNECTIONS,
                                         listing.FLOWS, listing.RUNS)}

    # -- small helpers -------------------------------------------------------------------------------------------
    def _error(self, call: Call, code: str, title: str, message: str, **report: Any) -> ServiceError:
        return errors.flow(code, title, message, request_id=call.request_id, **report)

    def _invalid(self, call: Call, message: str) -> ServiceError:
        return _provider_error(message, call.request_id)

    def _body(self, call: Call) -> dict[str, Any]:
        if call.body is None or call.body == {} or call.body == "":
            raise self._error(call, "1405-400", "Invalid request", "The request body cannot be null or empty. "
                              "Please provide a request body and try again.")
        if not isinstance(call.body, dict):
            raise self._invalid(call, "the request body must be a JSON object.")
        return call.body

    def _audit(self, call: Call, now: int) -> dict[str, Any]:
        by = f"{call.client_id}@AdobeID"
        return {"createdAt": now, "updatedAt": now, "createdBy": by, "updatedBy": by,
                "createdClient": call.client_id, "updatedClient": call.client_id,
                "sandboxId": sandbox_id(self.platform, call.tenant), "sandboxName": call.tenant.sandbox,
                "imsOrgId": call.tenant.org}

    def _record(self, call: Call, coll: listing.Collection, id: str) -> Record:
        rec = self.store.get(call.tenant, coll.kind, id)
        if rec is None:
            raise errors.flow_not_found(coll.name, id, call.request_id)
        return rec

    def _ref(self, call: Call, coll: listing.Collection, id: Any) -> Record:
        """A resource named in a request body: missing -> 1439-400 (the code the error table lists)."""
        rec = self.store.get(call.tenant, coll.kind, id) if isinstance(id, str) and id else None
        if rec is None:
            raise self._error(call, "1439-400", "Resource not found",
                              f"The requested {coll.name} resource {id} is not found. Verify the resource ID "
                              "before trying again.", id=id, type=coll.name)
        return rec

    def _insert(self, call: Call, coll: listing.Collection, doc: dict[str, Any], *, parent: str | None = None) -> Reply:
        self.store.insert(call.tenant, coll.kind, doc["id"], doc, created=doc["createdAt"], etag=doc["etag"],
                          name=doc.get("name"), state=doc.get("state"), parent=parent)
        return Reply(201, {"id": doc["id"], "etag": doc["etag"]})

    def _notify_flow(self, tenant: Tenant, flow_id: str) -> None:
        scheduler = self.platform.scheduler
        if scheduler is not None:
            scheduler.flow_changed(tenant, flow_id)

    def _conn_spec(self, call: Call, ref: Any) -> dict[str, Any]:
        parsed = _spec_ref(ref)
        spec = specs.connection_spec(parsed[0]) if parsed else None
        if parsed is None or spec is None or (parsed[1] and parsed[1] != spec["version"]):
            raise self._error(call, "1413-400", "Invalid request",
                              "The spec ID provided is  invalid. Please provide a valid spec ID and try again.")
        return spec

    def _shop(self):
        try:
            return self.platform.shop
        except ImportError:
            return None

    # -- renderers -----------------------------------------------------------------------------------------------
    def _render(self, coll: listing.Collection, tenant: Tenant) -> Callable[[Record], dict[str, Any]]:
        if coll.kind == "connection":
            return self._render_connection
        if coll.kind == "flow":
            return lambda rec: self._render_flow(tenant, rec)
        return lambda rec: rec.doc

    def _render_connection(self, rec: Record) -> dict[str, Any]:
        doc = copy.deepcopy(rec.doc)
        auth = doc.get("auth")
        if isinstance(auth, dict) and isinstance(auth.get("params"), dict):
            spec = specs.connection_spec((doc.get("connectionSpec") or {}).get("id", "")) or {}
            for key in specs.secret_params(spec, auth.get("specName", "")):
                if key in auth["params"]:
                    auth["params"][key] = MASK
        return doc

    def _render_flow(self, tenant: Tenant, rec: Record) -> dict[str, Any]:
        doc = rec.doc
        details = self.last_run_details(tenant, rec.id)
        if details is not None:
            doc = dict(doc, lastRunDetails=details)
        return doc

    def last_run_details(self, tenant: Tenant, flow_id: str) -> dict[str, Any] | None:
        """``lastRunDetails`` of a flow from its most recent finished run (None when no run has finished)."""
        marks = ",".join("?" * len(PENDING_STATUSES))
        runs = self.store.select(
            tenant, "run",
            where=f"parent = ? AND COALESCE(json_extract(doc, '$.metrics.statusSummary.status'), 'scheduled') "
                  f"NOT IN ({marks})",
            params=[flow_id, *PENDING_STATUSES], order="seq DESC", limit=1)
        if not runs:
            return None
        run = runs[0].doc
        metrics = run.get("metrics") or {}
        duration = metrics.get("durationSummary") or {}
        return {"id": run["id"], "state": (metrics.get("statusSummary") or {}).get("status"),
                "startedAtUTC": duration.get("startedAtUTC"), "completedAtUTC": duration.get("completedAtUTC")}

    # -- generic list / get / patch / delete ---------------------------------------------------------------------
    def _lister(self, coll: listing.Collection) -> Callable[[Call], Reply]:
        def handler(call: Call) -> Reply:
            body = listing.run_list(self.store, call.tenant, coll, call.query, render=self._render(coll, call.tenant),
                                  request_id=call.request_id)
            return Reply(200, body)

        handler.__name__ = f"list_{coll.name}"
        return handler

    def _getter(self, coll: listing.Collection) -> Callable[[Call], Reply]:
        def handler(call: Call) -> Reply:
            rec = self._record(call, coll, call.params["id"])
            return Reply(200, {"items": [self._render(coll, call.tenant)(rec)]})

        handler.__name__ = f"get_{coll.name}"
        return handler

    def _patcher(self, coll: listing.Collection) -> Callable[[Call], Reply]:
        def handler(call: Call) -> Reply:
            return self._patch(call, coll)

        handler.__name__ = f"patch_{coll.name}"
        return handler

    def _deleter(self, coll: listing.Collection) -> Callable[[Call], Reply]:
        def handler(call: Call) -> Reply:
            return self._delete(call, coll)

        handler.__name__ = f"delete_{coll.name}"
        return handler

    def _patch(self, call: Call, coll: listing.Collection) -> Reply:
        rec = self._record(call, coll, call.params["id"])
        if_match = (call.headers.get("If-Match") or "").strip()
        if not if_match:
            raise self._error(call, "1403-400", "Header is missing", "The header 'If-Match' is missing in the "
                              "request. Please provide the header and try again.")
        ops = call.body
        if ops is None or ops == [] or ops == {}:
            raise self._error(call, "1405-400", "Invalid request", "The request body cannot be null or empty. "
                              "Please provide a request body and try again.")
        if isinstance(ops, dict):
            ops = [ops]
        if not isinstance(ops, list) or not all(isinstance(o, dict) for o in ops):
            raise self._patch_error(call, "the body must be an array of patch instructions")
        supplied = _quote_etag(if_match)
        if supplied != rec.etag:
            raise self._stale(call, supplied, rec.etag or "")
        for op in ops:
            name = op.get("op")
            if not isinstance(name, str) or name.lower() not in ("add", "replace", "remove"):
                raise self._error(call, "1434-400", "Invalid request",
                                  f"Unsupported operation '{name}' received. Please use one of the supported "
                                  "operation types and try again.")
            if "path" not in op:
                raise self._patch_error(call, 'Missing field "path"')
            if name.lower() != "remove" and "value" not in op:
                raise self._patch_error(call, 'Missing field "value"')
            self._check_patch_path(call, coll, op["path"])
        try:
            doc = apply_patch(rec.doc, [{**op, "op": op["op"].lower()} for op in ops])
        except PatchError as exc:
            raise self._patch_error(call, str(exc)) from None
        validate = {"connection": self._validate_connection, "sourceConnection": self._validate_source,
                    "targetConnection": self._validate_target, "flow": self._validate_flow_patch}[coll.kind]
        doc = validate(call, doc, rec.doc)
        now = self.clock.now_ms()
        etag = self.ids.etag()
        doc.update(updatedAt=now, updatedBy=f"{call.client_id}@AdobeID", updatedClient=call.client_id,
                   version=etag, etag=etag)
        if coll.kind == "flow":
            doc["lastOperation"] = {"started": now, "updated": now, "percentCompleted": 100.0,
                                    "status": {"value": "completed", "errors": []}, "ops": ops,
                                    "operation": "update"}
        if not self.store.replace(call.tenant, coll.kind, rec.id, doc, updated=now, etag=etag,
                                  expected_etag=rec.etag, name=doc.get("name"), state=doc.get("state")):
            current = self.store.get(call.tenant, coll.kind, rec.id)
            raise self._stale(call, supplied, current.etag if current else "")
        if coll.kind == "flow":
            self._notify_flow(call.tenant, rec.id)
        return Reply(200, {"id": rec.id, "etag": etag})

    def _stale(self, call: Call, supplied: str, current: str) -> ServiceError:
        return self._error(call, "1404-412", "Version not matching",
                           f"Supplied version=[{supplied}] does not match the current version on entity=[{current}]")

    def _patch_error(self, call: Call, detail: str) -> ServiceError:
        return self._error(call, "1455-400", "Invalid request",
                           f"An error has occurred while validating patch instructions: {detail}.")

    def _check_patch_path(self, call: Call, coll: listing.Collection, path: Any) -> None:
        try:
            if not isinstance(path, str) or not path.startswith("/"):
                raise PatchError(f'Invalid path "{path}"')
            parts = pointer_tokens(path)
        except PatchError as exc:
            raise self._patch_error(call, str(exc)) from None
        root = parts[0]
        if root == "connectionSpec" and coll.kind in ("connection", "sourceConnection", "targetConnection"):
            raise self._error(call, "1414-400", "Invalid request",
                              "The connection spec of a connection cannot be updated.")
        readonly = set(_AUDIT_READONLY)
        if coll.kind == "flow":
            readonly |= {"flowSpec", "sourceConnectionIds", "targetConnectionIds"}
        if coll.kind == "sourceConnection":
            readonly.add("baseConnectionId")
        if root in readonly or root == "":
            raise self._patch_error(call, f'Field "{path}" cannot be updated')

    def _delete(self, call: Call, coll: listing.Collection) -> Reply:
        tenant = call.tenant
        with self.store.transaction() as db:  # the "still used?" checks and the delete: one transaction
            rec = self._record(call, coll, call.params["id"])
            self._check_unused(call, coll, rec)
            self.store.delete(tenant, coll.kind, rec.id)
            if coll.kind == "flow":
                db.execute("DELETE FROM resources WHERE org=? AND sandbox=? AND kind='run' AND parent=?",
                           (tenant.org, tenant.sandbox, rec.id))
        if coll.kind == "flow":
            self._notify_flow(tenant, rec.id)
        return Reply(204, None)

    def _check_unused(self, call: Call, coll: listing.Collection, rec: Record) -> None:
        """Refuse to delete a connection a flow uses (1418-400 for a base connection, 1447-400 otherwise)."""
        tenant = call.tenant
        if coll.kind == "connection":
            used = self.store.count(
                tenant, "flow",
                where="EXISTS (SELECT 1 FROM json_each(doc, '$.sourceConnectionIds') AS j WHERE j.value IN "
                      "(SELECT s.id FROM resources AS s WHERE s.org = ? AND s.sandbox = ? AND "
                      "s.kind = 'sourceConnection' AND s.parent = ?))",
                params=[tenant.org, tenant.sandbox, rec.id])
            if used:
                raise self._error(call, "1418-400", "Invalid request",
                                  f"The base connection with the ID {rec.id} cannot be deleted because the base "
                                  "connection is being used in one or more flows. Please ensure that corresponding "
                                  "flows are deleted before deleting a base connection.")
        elif coll.kind in ("sourceConnection", "targetConnection"):
            field = "sourceConnectionIds" if coll.kind == "sourceConnection" else "targetConnectionIds"
            used = self.store.count(tenant, "flow", where=f"EXISTS (SELECT 1 FROM json_each(doc, '$.{field}') "
                                    "AS j WHERE j.value = ?)", params=[rec.id])
            if used:
                raise self._error(call, "1447-400", "Invalid request", f"Found active flows containing id {rec.id}.")

    # -- specs ---------------------------------------------------------------------------------------------------
    def list_connection_specs(self, call: Call) -> Reply:
        return self._list_specs(call, listing.CONNECTION_SPECS)

    def get_connection_spec(self, call: Call) -> Reply:
        return self._get_spec(call, "connectionSpec", "connectionSpecs")

    def list_flow_specs(self, call: Call) -> Reply:
        return self._list_specs(call, listing.FLOW_SPECS)

    def get_flow_spec(self, call: Call) -> Reply:
        return self._get_spec(call, "flowSpec", "flowSpecs")

    def _list_specs(self, call: Call, coll: listing.Collection) -> Reply:
        """Specs are platform-wide (not per tenant) and read-only: listed as stored."""
        return Reply(200, listing.run_list(self.store, PLATFORM, coll, call.query, render=lambda r: r.doc,
                                         request_id=call.request_id))

    def _get_spec(self, call: Call, kind: str, label: str) -> Reply:
        rec = self.store.get(PLATFORM, kind, call.params["id"])
        if rec is None:
            raise errors.flow_not_found(label, call.params["id"], call.request_id)
        return Reply(200, {"items": [rec.doc]})

    # -- base connections ----------------------------------------------------------------------------------------
    def create_connection(self, call: Call) -> Reply:
        body = self._body(call)
        spec = self._conn_spec(call, body.get("connectionSpec"))
        now = self.clock.now_ms()
        etag = self.ids.etag()
        doc: dict[str, Any] = {"id": self.ids.uuid(), **self._audit(call, now)}
        doc.update(name=body.get("name"), description=body.get("description", ""),
                   connectionSpec={"id": spec["id"], "version": spec["version"]}, state="enabled")
        if "auth" in body:
            doc["auth"] = copy.deepcopy(body["auth"])
        doc.update(version=etag, etag=etag)
        doc = self._validate_connection(call, doc, None)
        return self._insert(call, listing.CONNECTIONS, doc)

    def _validate_connection(self, call: Call, doc: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        spec = self._conn_spec(call, doc.get("connectionSpec"))
        if doc.get("name") is not None and not isinstance(doc.get("name"), str):
            raise self._invalid(call, "name must be a string.")
        if not spec.get("authSpec"):
            return doc
        auth = doc.get("auth")
        if not isinstance(auth, dict) or not isinstance(auth.get("specName"), str) or not auth["specName"]:
            raise self._invalid(call, "auth.specName is required for this connection spec.")
        auth_spec = next((a for a in spec["authSpec"] if a.get("name") == auth["specName"]), None)
        if auth_spec is None:
            raise self._error(call, "1415-400", "Invalid request", f"The auth spec '{auth['specName']}' could not "
                              f"be found for the connection spec ID {spec['id']}.")
        params = auth.get("params")
        if old is not None and isinstance(params, dict):
            # A PATCH may leave masked secrets in place: keep the stored (masked) value.
            old_params = ((old.get("auth") or {}).get("params") or {})
            for key in specs.secret_params(spec, auth["specName"]):
                if params.get(key) == MASK and key in old_params:
                    params[key] = old_params[key]
        problem = _schema_errors(auth_spec["spec"], params if params is not None else {})
        if problem:
            raise self._invalid(call, f"invalid auth params for '{auth['specName']}': {problem}")
        # Secrets are never kept: only their masked placeholder is stored (and shown).
        for key in specs.secret_params(spec, auth["specName"]):
            if params is not None and key in params:
                params[key] = MASK
        return doc

    def test_connection(self, call: Call) -> Reply:
        rec = self._record(call, listing.CONNECTIONS, call.params["id"])
        doc = rec.doc
        if (doc.get("connectionSpec") or {}).get("id") != specs.SHOPIFY_SPEC_ID:
            return Reply(200, {"result": True})
        host = str(((doc.get("auth") or {}).get("params") or {}).get("host", ""))
        name = (urlparse(host).hostname if "://" in host else host.split("/")[0].rsplit(":", 1)[0]) or ""
        name = name.lower().rstrip(".")
        shop_host = str(getattr(self._shop_module(), "SAMPLE_HOST", "") or "").lower()
        if name.endswith(".myshopify.com") or name in LOCAL_SHOP_HOSTS or (shop_host and name == shop_host):
            return Reply(200, {"result": True})
        return Reply(200, {"result": False,
                           "message": f"Cannot reach a Shopify store at '{host}': the host must be "
                                      "'<store>.myshopify.com'."})

    def _shop_module(self):
        import importlib

        try:
            return importlib.import_module("aep_magics.local.shopify")
        except ImportError:
            return None

    # -- explore -------------------------------------------------------------------------------------------------
    def explore(self, call: Call) -> Reply:
        rec = self._record(call, listing.CONNECTIONS, call.params["id"])
        if (rec.doc.get("connectionSpec") or {}).get("id") != specs.SHOPIFY_SPEC_ID:
            raise self._invalid(call, "explore is only supported for connections of a source connection spec.")
        shop = self._shop()
        if shop is None:
            raise self._error(call, "1103-503", "Service Unavailable", "The service is temporarily unavailable. "
                              "Please try again. If the problem persists, please contact customer support.")
        object_type = (call.arg("objectType") or "root").lower()
        if object_type == "root":
            return Reply(200, [self._table_item(t) for t in shop.tables()])
        if object_type != "table":
            raise self._invalid(call, f"objectType '{call.arg('objectType')}' is not supported by a Tabular source; "
                                      "use root or table.")
        table = self._resolve_table(call, shop, call.arg("object"))
        body: dict[str, Any] = {"format": "flat", "schema": {"columns": shop.columns(table)}}
        if (call.arg("preview") or "").lower() == "true":
            raw_filters = call.arg("filters")
            if raw_filters:
                try:
                    predicate = listing.pql_predicate(listing.decode_filters(raw_filters))
                except listing.PQLError as exc:
                    raise self._invalid(call, f"invalid filters: {exc}") from None
                rows = [row for row in shop.preview(table, PREVIEW_SCAN) if predicate(row)][:PREVIEW_ROWS]
            else:
                rows = shop.preview(table, PREVIEW_ROWS)
            body["data"] = rows
        return Reply(200, body)

    @staticmethod
    def _table_name(item: Any) -> str:
        if isinstance(item, dict):
            return str(item.get("path") or item.get("name"))
        return str(item)

    def _table_item(self, item: Any) -> dict[str, Any]:
        if isinstance(item, dict):
            out = {"type": "table", "name": item.get("name"), "path": item.get("path") or item.get("name"),
                   "canPreview": True, "canFetchSchema": True}
            out.update({k: v for k, v in item.items() if k in out})
            return out
        return {"type": "table", "name": str(item), "path": str(item), "canPreview": True, "canFetchSchema": True}

    def _resolve_table(self, call: Call, shop: Any, name: Any) -> str:
        tables = [self._table_name(t) for t in shop.tables()]
        if isinstance(name, str) and name:
            for candidate in (name, f"Shopify.{name}"):
                if candidate in tables:
                    return candidate
            lowered = {t.lower(): t for t in tables}
            for candidate in (name.lower(), f"shopify.{name.lower()}"):
                if candidate in lowered:
                    return lowered[candidate]
        raise self._invalid(call, f"the table '{name}' does not exist. Tables: {', '.join(tables)}.")

    # -- source connections --------------------------------------------------------------------------------------
    def _new_connection_doc(self, call: Call) -> dict[str, Any]:
        """A new source or target connection as stored, from the request body (validated by the caller)."""
        body = self._body(call)
        spec = self._conn_spec(call, body.get("connectionSpec"))
        now = self.clock.now_ms()
        etag = self.ids.etag()
        doc: dict[str, Any] = {"id": self.ids.uuid(), **self._audit(call, now)}
        doc.update(name=body.get("name"), description=body.get("description", ""))
        if body.get("baseConnectionId") is not None:
            doc["baseConnectionId"] = body["baseConnectionId"]
        doc.update(state="enabled", data=copy.deepcopy(body.get("data")),
                   connectionSpec={"id": spec["id"], "version": spec["version"]},
                   params=copy.deepcopy(body.get("params", {})), version=etag, etag=etag)
        return doc

    def create_source_connection(self, call: Call) -> Reply:
        doc = self._validate_source(call, self._new_connection_doc(call), None)
        with self.store.transaction():  # the base connection checked again with the insert: a racing DELETE loses
            if "inheritedAttributes" in doc:
                self._ref(call, listing.CONNECTIONS, doc.get("baseConnectionId"))
            return self._insert(call, listing.SOURCE_CONNECTIONS, doc, parent=doc.get("baseConnectionId"))

    def _validate_source(self, call: Call, doc: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        spec = self._conn_spec(call, doc.get("connectionSpec"))
        if "sourceSpec" not in spec:
            raise self._invalid(call, f"the connection spec {spec['id']} ({spec['name']}) is not a source spec.")
        if not isinstance(doc.get("name"), str) or not doc["name"]:
            raise self._invalid(call, "name is required.")
        if not isinstance(doc.get("data"), dict) or not isinstance(doc["data"].get("format"), str):
            raise self._invalid(call, "data.format is required (\"tabular\" for table-based sources).")
        if spec.get("authSpec"):
            base = self._ref(call, listing.CONNECTIONS, doc.get("baseConnectionId"))
            base_spec = (base.doc.get("connectionSpec") or {}).get("id")
            if base_spec != spec["id"]:
                raise self._invalid(call, f"the base connection {base.id} has connection spec {base_spec}, not "
                                          f"{spec['id']}.")
            doc["inheritedAttributes"] = {"baseConnection": {"id": base.id,
                                                             "connectionSpec": base.doc["connectionSpec"]}}
        params = doc.get("params")
        if not isinstance(params, dict):
            raise self._invalid(call, "params must be an object.")
        problem = _schema_errors(spec["sourceSpec"]["spec"], params)
        if problem:
            raise self._invalid(call, f"invalid source connection params: {problem}")
        if "filters" in params:
            try:
                listing.pql_predicate(params["filters"])
            except listing.PQLError as exc:
                raise self._invalid(call, f"invalid params.filters: {exc}") from None
        shop = self._shop() if spec["id"] == specs.SHOPIFY_SPEC_ID else None
        if shop is not None:
            table = self._resolve_table(call, shop, params.get("tableName"))
            params["tableName"] = table
            known = {c.get("name") for c in shop.columns(table) if isinstance(c, dict)}
            unknown = [c.get("name") for c in params.get("columns", []) if c.get("name") not in known]
            if unknown:
                raise self._invalid(call, f"unknown column(s) {', '.join(map(str, unknown))} in table {table}.")
        return doc

    # -- target connections --------------------------------------------------------------------------------------
    def create_target_connection(self, call: Call) -> Reply:
        doc = self._validate_target(call, self._new_connection_doc(call), None)
        with self.store.transaction():  # the dataset checked again with the insert: a racing DELETE loses
            self._check_dataset(call, doc)
            return self._insert(call, listing.TARGET_CONNECTIONS, doc, parent=doc.get("baseConnectionId"))

    def _validate_target(self, call: Call, doc: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        spec = self._conn_spec(call, doc.get("connectionSpec"))
        if "targetSpec" not in spec:
            raise self._invalid(call, f"the connection spec {spec['id']} ({spec['name']}) is not a target spec.")
        if doc.get("name") is not None and not isinstance(doc.get("name"), str):
            raise self._invalid(call, "name must be a string.")
        if doc.get("baseConnectionId") is not None and not isinstance(doc.get("baseConnectionId"), str):
            raise self._invalid(call, "baseConnectionId must be the id (a string) of a base connection.")
        data = doc.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("format"), str):
            raise self._invalid(call, "data.format is required (\"parquet_xdm\" for the Data Lake).")
        schema_id = (data.get("schema") or {}).get("id") if isinstance(data.get("schema"), dict) else None
        if data["format"] == "parquet_xdm" and not isinstance(schema_id, str):
            raise self._invalid(call, "data.schema.id is required for format parquet_xdm.")
        params = doc.get("params")
        if not isinstance(params, dict):
            raise self._invalid(call, "params must be an object.")
        problem = _schema_errors(spec["targetSpec"]["spec"], params)
        if problem:
            raise self._invalid(call, f"invalid target connection params: {problem}")
        self._check_dataset(call, doc)
        return doc

    def _elsewhere(self, call: Call, kind: str, id: Any) -> bool:
        """``id`` names a resource of another org or sandbox: a reference the caller's tenant cannot hold."""
        return isinstance(id, str) and self.store.held_elsewhere(call.tenant, kind, id)

    def _check_dataset(self, call: Call, doc: dict[str, Any]) -> None:
        """A target's ``params.dataSetId`` names a dataset of the caller's sandbox, with the target's schema.

        A sandbox without any dataset takes any id (Flow Service used alone), except the id of another org's or
        sandbox's dataset."""
        dataset_id = (doc.get("params") or {}).get("dataSetId")
        data = doc.get("data")
        schema = data.get("schema") if isinstance(data, dict) else None
        schema_id = schema.get("id") if isinstance(schema, dict) else None
        if self.store.count(call.tenant, "dataSet") > 0 or self._elsewhere(call, "dataSet", dataset_id):
            dataset = self.store.get(call.tenant, "dataSet", dataset_id) if isinstance(dataset_id, str) else None
            if dataset is None:
                raise self._invalid(call, f"the dataset {dataset_id} does not exist in sandbox "
                                          f"'{call.tenant.sandbox}'.")
            ds_schema = (dataset.doc.get("schemaRef") or {}).get("id")
            if ds_schema and schema_id and ds_schema != schema_id:
                raise self._invalid(call, f"the dataset {dataset_id} uses schema {ds_schema}, not {schema_id}.")

    # -- flows ---------------------------------------------------------------------------------------------------
    def create_flow(self, call: Call) -> Reply:
        body = self._body(call)
        if "state" in body:
            raise self._error(call, "1410-400", "Invalid request", "State is not allowed in the create flow request.")
        now = self.clock.now_ms()
        etag = self.ids.etag()
        flow_id = self.ids.uuid()
        doc: dict[str, Any] = {"id": flow_id, **self._audit(call, now)}
        doc.update(name=body.get("name"), description=body.get("description", ""),
                   flowSpec=copy.deepcopy(body.get("flowSpec")), state="enabled", version=etag, etag=etag,
                   sourceConnectionIds=copy.deepcopy(body.get("sourceConnectionIds")),
                   targetConnectionIds=copy.deepcopy(body.get("targetConnectionIds")))
        flow_spec = self._flow_spec(call, doc["flowSpec"])
        doc["flowSpec"] = {"id": flow_spec["id"], "version": flow_spec["version"]}
        doc["inheritedAttributes"] = self._connections_of(call, doc, flow_spec)
        if "scheduleParams" in body:
            doc["scheduleParams"] = copy.deepcopy(body["scheduleParams"])
        doc["transformations"] = copy.deepcopy(body.get("transformations", []))
        if "options" in body:
            doc["options"] = copy.deepcopy(body["options"])
        doc = self._validate_flow(call, doc, flow_spec)
        doc["runs"] = f"/flows/{flow_id}/runs"
        doc["lastOperation"] = {"started": now, "updated": now, "percentCompleted": 100.0,
                                "status": {"value": "completed", "errors": []}, "operation": "create"}
        with self.store.transaction():  # the references checked again with the insert: a racing DELETE loses
            self._check_references(call, doc, flow_spec)
            reply = self._insert(call, listing.FLOWS, doc)
        self._notify_flow(call.tenant, flow_id)
        return reply

    def _check_references(self, call: Call, doc: dict[str, Any], flow_spec: dict[str, Any]) -> None:
        """The flow's connections and mapping sets still exist (checked inside the transaction of the insert)."""
        self._connections_of(call, doc, flow_spec)
        for item in doc.get("transformations") or []:
            if item.get("name") == "Mapping":
                self._mapping_params(call, doc, dict(item["params"]))

    def _flow_spec(self, call: Call, ref: Any) -> dict[str, Any]:
        parsed = _spec_ref(ref)
        spec = specs.flow_spec(parsed[0]) if parsed else None
        if parsed is None or spec is None or (parsed[1] and parsed[1] != spec["version"]):
            raise self._error(call, "1413-400", "Invalid request",
                              "The spec ID provided is  invalid. Please provide a valid spec ID and try again.")
        return spec

    def _connections_of(self, call: Call, doc: dict[str, Any], flow_spec: dict[str, Any]) -> dict[str, Any]:
        """Check the flow's source/target connections exist and fit the flow spec; build ``inheritedAttributes``."""
        out: dict[str, Any] = {"sourceConnections": [], "targetConnections": []}
        for field, coll, allowed, key in (
                ("sourceConnectionIds", listing.SOURCE_CONNECTIONS, "sourceConnectionSpecIds", "sourceConnections"),
                ("targetConnectionIds", listing.TARGET_CONNECTIONS, "targetConnectionSpecIds", "targetConnections")):
            ids = doc.get(field)
            if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
                raise self._invalid(call, f"{field} must be a non-empty array of ids.")
            for conn_id in ids:
                rec = self._ref(call, coll, conn_id)
                spec_id = (rec.doc.get("connectionSpec") or {}).get("id")
                if spec_id not in flow_spec.get(allowed, []):
                    raise self._invalid(call, f"the {coll.name[:-1]} {conn_id} has connection spec {spec_id}, which "
                                              f"the flow spec {flow_spec['name']} does not accept.")
                item: dict[str, Any] = {"id": rec.id, "connectionSpec": rec.doc.get("connectionSpec")}
                base = (rec.doc.get("inheritedAttributes") or {}).get("baseConnection")
                if base:
                    item["baseConnection"] = base
                out[key].append(item)
        return out

    def _validate_flow(self, call: Call, doc: dict[str, Any], flow_spec: dict[str, Any]) -> dict[str, Any]:
        if doc.get("name") is not None and not isinstance(doc.get("name"), str):
            raise self._invalid(call, "name must be a string.")
        if "scheduleParams" in doc:
            schedule = doc["scheduleParams"]
            if not isinstance(schedule, dict):
                raise self._invalid(call, "scheduleParams must be an object.")
            schema = flow_spec["scheduleSpec"]["spec"]
            coerced = _coerce(schedule, schema)
            problem = _schema_errors(schema, coerced)
            if problem:
                raise self._invalid(call, f"invalid scheduleParams: {problem}")
            doc["scheduleParams"] = _stringify(coerced)
        if "options" in doc:
            option_schema = (flow_spec.get("optionSpec") or {}).get("spec")
            problem = _schema_errors(option_schema, doc["options"]) if option_schema else None
            if problem:
                raise self._invalid(call, f"invalid options: {problem}")
        doc["transformations"] = self._transformations(call, doc, flow_spec)
        return doc

    def _transformations(self, call: Call, doc: dict[str, Any], flow_spec: dict[str, Any]) -> list[dict[str, Any]]:
        items = doc.get("transformations") or []
        if not isinstance(items, list):
            raise self._invalid(call, "transformations must be an array.")
        by_name = {t["name"]: t for t in specs.transformation_specs(flow_spec)}
        out = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise self._invalid(call, "every transformation needs a name and params.")
            spec = by_name.get(item["name"])
            if spec is None:
                raise self._invalid(call, f"the flow spec {flow_spec['name']} has no transformation "
                                          f"'{item['name']}' (use one of {', '.join(by_name)}).")
            params = item.get("params")
            if not isinstance(params, dict):
                raise self._invalid(call, f"the {item['name']} transformation needs params.")
            params = copy.deepcopy(params)
            if item["name"] == "Mapping":
                params = self._mapping_params(call, doc, params)
                check = dict(params, mappingVersion=str(params.get("mappingVersion", "")))
            else:
                check = params
            problem = _schema_errors(spec["spec"], check)
            if problem:
                raise self._invalid(call, f"invalid {item['name']} transformation params: {problem}")
            out.append({"name": item["name"], "params": params})
        return out

    def _mapping_params(self, call: Call, doc: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        mapping_id = params.get("mappingId")
        version = params.get("mappingVersion", 0)
        if isinstance(version, bool) or not (isinstance(version, int) or (isinstance(version, str)
                                                                           and _INT.match(version))):
            raise self._error(call, "1412-400", "Invalid request",
                              "Invalid Mapping Version in request. Please provide correct mapping version.")
        version = int(version)
        if not isinstance(mapping_id, str) or not mapping_id:
            raise self._invalid(call, "the Mapping transformation needs params.mappingId.")
        if self.store.count(call.tenant, "mappingSet") > 0 or self._elsewhere(call, "mappingSet", mapping_id):
            mapping = self.store.get(call.tenant, "mappingSet", mapping_id)
            if mapping is None:
                raise self._error(call, "1419-400", "Invalid request",
                                  f"Error while validating mapping with id {mapping_id}, version {version}. This "
                                  "could be because of inadequate permissions on mapped fields. Please check your "
                                  "mapping or contact your admin.")
            latest = mapping.doc.get("version", 0)
            latest = int(latest) if isinstance(latest, int) or (isinstance(latest, str) and _INT.match(latest)) else 0
            if version < 0 or version > latest:
                raise self._error(call, "1412-400", "Invalid request",
                                  "Invalid Mapping Version in request. Please provide correct mapping version.")
            self._check_mapping_schema(call, doc, mapping_id, mapping.doc)
        params["mappingVersion"] = str(version)
        return params

    def _check_mapping_schema(self, call: Call, doc: dict[str, Any], mapping_id: str,
                              mapping: dict[str, Any]) -> None:
        """1425-400 when the mapping's output schema is not the target's schema."""
        out_schema = ((mapping.get("outputSchema") or {}).get("schemaRef") or {}).get("id")
        if not out_schema:
            return
        for target_id in doc.get("targetConnectionIds") or []:
            target = self.store.get(call.tenant, "targetConnection", target_id)
            if target is None:
                continue
            schema_id = ((target.doc.get("data") or {}).get("schema") or {}).get("id")
            if schema_id and schema_id != out_schema:
                dataset_id = (target.doc.get("params") or {}).get("dataSetId")
                raise self._error(call, "1425-400", "Invalid request",
                                  f"Error while matching schema in target dataset {dataset_id} with schema in mapping "
                                  f"{mapping_id}. Schema with same id and version must be used in both mapping and "
                                  "target dataset.")

    def _validate_flow_patch(self, call: Call, doc: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        flow_spec = self._flow_spec(call, doc.get("flowSpec"))
        if "scheduleParams" in doc and not isinstance(doc["scheduleParams"], dict):
            raise self._invalid(call, "scheduleParams must be an object, e.g. {\"startTime\": \"1612310466\", "
                                      "\"frequency\": \"minute\", \"interval\": \"15\"}.")
        old_start = (old.get("scheduleParams") or {}).get("startTime")
        new_start = (doc.get("scheduleParams") or {}).get("startTime")
        if old_start is not None and str(new_start) != str(old_start) and _INT.match(str(old_start)) \
                and int(old_start) * 1000 <= self.clock.peek_ms():
            raise self._invalid(call, "the startTime of a flow cannot be updated once the scheduled startTime has "
                                      "passed.")
        return self._validate_flow(call, doc, flow_spec)

    def flow_action(self, call: Call) -> Reply:
        rec = self._record(call, listing.FLOWS, call.params["id"])
        op = (call.arg("op") or "").upper()
        if op not in ("ENABLE", "DISABLE"):
            raise self._invalid(call, f"unsupported action op '{call.arg('op')}' (use ENABLE or DISABLE).")
        now = self.clock.now_ms()
        etag = self.ids.etag()
        doc = copy.deepcopy(rec.doc)
        doc.update(state="enabled" if op == "ENABLE" else "disabled", updatedAt=now,
                   updatedBy=f"{call.client_id}@AdobeID", updatedClient=call.client_id, version=etag, etag=etag,
                   lastOperation={"started": now, "updated": now, "percentCompleted": 100.0,
                                  "status": {"value": "completed", "errors": []}, "operation": op.lower()})
        if not self.store.replace(call.tenant, "flow", rec.id, doc, updated=now, etag=etag, expected_etag=rec.etag,
                                  name=doc.get("name"), state=doc["state"]):
            current = self.store.get(call.tenant, "flow", rec.id)
            raise self._stale(call, rec.etag or "", current.etag if current else "")
        self._notify_flow(call.tenant, rec.id)
        return Reply(200, {"id": rec.id, "etag": etag})

    # -- runs ----------------------------------------------------------------------------------------------------
    def list_flow_runs(self, call: Call) -> Reply:
        flow = self._record(call, listing.FLOWS, call.params["id"])
        body = listing.run_list(self.store, call.tenant, listing.RUNS, call.query, render=lambda r: r.doc,
                              base_path=f"/flows/{flow.id}/runs", where="parent = ?", params=[flow.id],
                              request_id=call.request_id)
        return Reply(200, body)

    def create_run(self, call: Call) -> Reply:
        body = self._body(call)
        flow_id = body.get("flowId")
        if not isinstance(flow_id, str) or not flow_id:
            raise self._error(call, "1446-400", "Invalid request",
                              "The flow ID cannot be null or empty. Please update the flow ID and try again.")
        flow = self.store.get(call.tenant, "flow", flow_id)
        if flow is None:
            raise self._error(call, "1430-400", "Invalid request", f"Flow not found with id {flow_id}.")
        params = body.get("params", {})
        if not isinstance(params, dict):
            raise self._invalid(call, "params must be an object.")
        flow_spec = self._flow_spec(call, flow.doc.get("flowSpec"))
        run_schema = copy.deepcopy((flow_spec.get("runSpec") or {}).get("spec") or {})
        if run_schema:
            run_schema.pop("required", None)     # validate what is given; every field is optional ad hoc
            problem = _schema_errors(run_schema, _coerce(params, run_schema))
            if problem:
                raise self._invalid(call, f"invalid run params: {problem}")
        now = self.clock.now_ms()
        etag = self.ids.etag()
        run = {"id": self.ids.uuid(), **self._audit(call, now), "flowId": flow_id,
               "flowSpec": flow.doc.get("flowSpec"), "params": copy.deepcopy(params), "etag": etag,
               "metrics": {"statusSummary": {"status": "scheduled"}}, "activities": []}
        self.store.insert(call.tenant, "run", run["id"], run, created=now, etag=etag, state="scheduled",
                          parent=flow_id)
        scheduler = self.platform.scheduler
        if scheduler is not None:
            scheduler.run_requested(call.tenant, run["id"])
        return Reply(201, run)
