"""Catalog Service (``/data/foundation/catalog``): datasets, batches and dataset files (https://experienceleague.adobe.com/en/docs/experience-platform/catalog/api/getting-started).

Datasets are store documents of kind ``dataSet`` (id: 24 hex, name indexed); batches are kind ``batch`` with
``parent`` = their dataset id and ``state`` = their status. AEP Local's engine writes batches through
:func:`record_batch` / :func:`update_batch` of :mod:`aep_magics.local.batches` (re-exported here). Dataset files
are derived from successful batches (one file per batch, id ``{batchId}-1``, the id the Data Access service
serves).

Lists answer the documented object map ``{id: object}`` with ``limit`` (default 20, 1..100), ``start`` (offset),
``properties``, ``orderBy`` (``asc:created,desc:updated``), simple filters (``?name=x``, ``!x``, ``a,b``, ``*``
wildcards), ``property=`` expressions (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``~``, bare name = exists,
``!name`` = does not exist) and ``tags=name:value`` filters; batches also ``dataSet``, ``createdAfter``/``Before``,
``startAfter``/``Before``, ``endAfter``/``Before``.

Choices where Adobe documents nothing (deviations list): error bodies use the generic ``{type,title,status,detail}``
envelope (``BadRequestError`` / ``NotFoundError``); ``Location`` is the dataset's path; a new dataset starts in
``state`` ``DRAFT``; ``requestDataSource=true`` is accepted and only adds a ``dataSourceId``; PATCH/PUT bump the
patch number of ``version``; deleting a dataset deletes its batch records and its files in the data lake.
"""

from __future__ import annotations

import copy
import re
import shutil
from typing import TYPE_CHECKING, Any

from .. import errors
from ..batches import SUCCESS_STATES
from ..batches import batch_dataset as _batch_dataset
from ..store import Record, Tenant
from ..jsonpatch import PatchError, apply_patch
from .base import Call, Reply, Route, Service

if TYPE_CHECKING:
    from ..platform import Platform

BASE = "/data/foundation/catalog"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
DEFAULT_CONTENT_TYPE = "application/vnd.adobe.xed+json;version=1"

#: Query parameters that are not simple field filters.
RESERVED = frozenset({"limit", "start", "properties", "orderBy", "orderby", "property", "requestDataSource", "tags",
                      "createdAfter", "createdBefore", "startAfter", "startBefore", "endAfter", "endBefore",
                      "dataSet", "batch", "dataSetId", "batchId", "expandSchema", "observableSchema"})
#: Dataset fields the caller cannot set.
SYSTEM_FIELDS = frozenset({"imsOrg", "created", "updated", "createdClient", "createdUser", "updatedUser", "version",
                           "files", "viewId", "lastBatchId", "lastBatchStatus", "lastSuccessfulBatch", "state",
                           "dataSourceId", "basePath"})
#: Batch fields the engine is expected to provide (see :func:`record_batch`).
BATCH_FIELDS = ("status", "recordCount", "failedRecordCount", "errors", "relatedObjects", "created", "updated",
                "started", "completed", "size", "metrics", "tags", "inputFormat", "externalId", "replay",
                "createdClient", "createdUser", "updatedUser", "imsOrg", "version")
FINAL_STATES = ("success", "active", "failed", "failure", "aborted", "abandoned", "inactive", "deleted")

#: Tags every dataset carries, as Adobe's Catalog examples show them: the dataset's Query Service table
#: (``"tags": {"adobe/pqs/table": ["sample_dataset"]}`` for "Sample Dataset",
#: https://experienceleague.adobe.com/en/docs/experience-platform/catalog/api/look-up-object) and its lake table format
#: (``adobe/siphon/table/format``, catalog.yaml ``datasetPatchRequestV2``). AEP Local writes Parquet.
PQS_TABLE_TAG = "adobe/pqs/table"
TABLE_FORMAT_TAG = "adobe/siphon/table/format"
TABLE_FORMAT = "parquet"
#: ``classification.dataBehavior`` from the behaviour of the schema's class (catalog.yaml ``classification``).
BEHAVIORS = {"https://ns.adobe.com/xdm/data/time-series": "time-series",
             "https://ns.adobe.com/xdm/data/record": "record",
             "https://ns.adobe.com/xdm/data/adhoc": "adhoc"}
#: Datasets created through the API belong to the customer (catalog.yaml ``managedBy``: CUSTOMER | SYSTEM).
MANAGED_BY = "CUSTOMER"

_PROPERTY_RE = re.compile(r"^(?P<field>[^=!<>~]+?)\s*(?P<op>==|!=|<=|>=|<|>|~)\s*(?P<value>.*)$", re.S)


def _bad(detail: str) -> errors.ServiceError:
    return errors.problem(400, "BadRequestError", detail)


def _not_found(what: str, id: str) -> errors.ServiceError:
    return errors.problem(404, "NotFoundError", f"The requested {what} {id} was not found.")


def get_dataset(platform: "Platform", tenant: Tenant, dataset_id: str) -> dict[str, Any] | None:
    rec = platform.store.get(tenant, "dataSet", dataset_id)
    return copy.deepcopy(rec.doc) if rec else None


def table_name(name: Any, taken: set[str]) -> str:
    """The Query Service table of a dataset named ``name``: lower case, every run of other characters than letters
    and digits one ``_``, trimmed (``"Luma midValues"`` → ``luma_midvalues``); ``_2``, ``_3``... when the sandbox
    already has that table. UNCONFIRMED: Adobe only says the table name "will be generated based on the dataset name"
    (https://experienceleague.adobe.com/en/docs/experience-platform/query/ui/create-datasets)."""
    base = re.sub(r"[^a-z0-9]+", "_", str(name or "").lower()).strip("_") or "dataset"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    return candidate


def data_behavior(schema: dict[str, Any] | None) -> str:
    """``time-series``, ``record`` or ``adhoc``: the behaviour the schema's class extends (``record`` when unknown)."""
    extends = (schema or {}).get("meta:extends") or []
    for behavior_id, behavior in BEHAVIORS.items():
        if behavior_id in extends:
            return behavior
    return "record"


# --------------------------------------------------------------------------------------------------------------------
# list machinery
# --------------------------------------------------------------------------------------------------------------------
def _field(doc: dict[str, Any], path: str) -> Any:
    if path in doc:
        return doc[path]
    node: Any = doc
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _wild(pattern: str) -> re.Pattern[str]:
    """``*`` is a wildcard, ``**`` a literal asterisk."""
    parts = pattern.split("**")
    rx = r"\*".join(".*".join(re.escape(p) for p in part.split("*")) for part in parts)
    return re.compile(f"^{rx}$", re.S)


def _scalar_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _simple_filter(doc: dict[str, Any], fld: str, raw: str) -> bool:
    negate = raw.startswith("!")
    wanted = [w for w in (raw[1:] if negate else raw).split(",")]
    value = _field(doc, fld)
    values = value if isinstance(value, list) else [value]
    hit = any(v is not None and _wild(w).match(_scalar_str(v)) for v in values for w in wanted)
    return not hit if negate else hit


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(str(v))
    except ValueError:
        return None


def _version(v: Any) -> tuple[int, ...] | None:
    if isinstance(v, str) and re.fullmatch(r"\d+(\.\d+)+", v):
        return tuple(int(x) for x in v.split("."))
    return None


def _compare(a: Any, b: str) -> int:
    """Versions (``1.0.3``) compare as versions, numbers as numbers, anything else as text."""
    va, vb = (_version(a) if isinstance(a, str) else None), _version(b)
    if va is not None and vb is not None:
        return (va > vb) - (va < vb)
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    sa = _scalar_str(a)
    return (sa > b) - (sa < b)


def _property_filter(doc: dict[str, Any], expr: str) -> bool:
    m = _PROPERTY_RE.match(expr)
    if not m:
        name = expr.strip()
        if name.startswith("!"):
            return _field(doc, name[1:].strip()) is None
        return _field(doc, name) is not None
    fld, op, want = m.group("field").strip(), m.group("op"), m.group("value").strip().strip('"')
    value = _field(doc, fld)
    values = value if isinstance(value, list) else [value]
    values = [v for v in values if v is not None]
    if op == "~":
        try:
            rx = re.compile(want)
        except re.error:
            raise _bad(f"Invalid regular expression in property filter: {want!r}") from None
        return any(rx.search(_scalar_str(v)) for v in values)
    if op == "==":
        return any(_compare(v, want) == 0 for v in values)
    if op == "!=":
        return all(_compare(v, want) != 0 for v in values)
    tests = {"<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0}[op]
    return any(tests(_compare(v, want)) for v in values)


def _tags_filter(doc: dict[str, Any], expr: str) -> bool:
    tags = doc.get("tags") or {}
    for item in expr.split(","):
        name, _, value = item.partition(":")
        values = tags.get(name)
        if values is None:
            return False
        if value and value != "*":
            vals = values if isinstance(values, list) else [values]
            if not any(_wild(value).match(_scalar_str(v)) for v in vals):
                return False
    return True


def _int_param(call: Call, name: str) -> int | None:
    raw = call.arg(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise _bad(f"Invalid value for {name}: {raw!r}; it must be an integer.") from None


def _listing(call: Call, records: list[Record], extra: dict[str, Any] | None = None) -> Reply:
    """Filter, order, page and project a Catalog collection; answer the ``{id: object}`` map."""
    limit = _int_param(call, "limit")
    if limit is None:
        limit = DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise _bad(f"Invalid limit {limit}: the limit must be between 1 and {MAX_LIMIT}.")
    start = _int_param(call, "start") or 0
    if start < 0:
        raise _bad(f"Invalid start {start}: it must not be negative.")
    items = [(r.id, r) for r in records]
    for name, values in call.query.items():
        if name in RESERVED:
            continue
        for v in values:
            items = [(i, r) for i, r in items if _simple_filter(r.doc, name, v)]
    for expr in call.args("property"):
        items = [(i, r) for i, r in items if _property_filter({"id": i, **r.doc}, expr)]
    for expr in call.args("tags"):
        items = [(i, r) for i, r in items if _tags_filter(r.doc, expr)]
    for param, fld, op in (("createdAfter", "created", ">"), ("createdBefore", "created", "<"),
                           ("startAfter", "started", ">"), ("startBefore", "started", "<"),
                           ("endAfter", "completed", ">"), ("endBefore", "completed", "<")):
        bound = _int_param(call, param)
        if bound is None:
            continue
        items = [(i, r) for i, r in items if isinstance(r.doc.get(fld), (int, float)) and (
            r.doc[fld] > bound if op == ">" else r.doc[fld] < bound)]
    order = call.arg("orderBy") or call.arg("orderby")
    if order:
        keys = []
        for part in order.split(","):
            part = part.strip()
            direction, _, fld = part.rpartition(":")
            direction = direction.lower() or "asc"
            if direction not in ("asc", "desc") or not fld:
                raise _bad(f"Invalid orderBy {order!r}: use asc:<field> or desc:<field>, comma separated.")
            keys.append((fld, direction == "desc"))
        for fld, desc in reversed(keys):
            def sort_key(t: tuple[str, Record], f: str = fld) -> Any:
                return _sort_key({"id": t[0], **t[1].doc}.get(f) if f == "id" else _field(t[1].doc, f))

            items.sort(key=sort_key, reverse=desc)
    page = items[start:start + limit]
    props = [p.strip() for p in ",".join(call.args("properties")).split(",") if p.strip()]
    out: dict[str, Any] = {}
    for i, r in page:
        doc = r.doc
        if extra:
            doc = {**doc, **extra.get(i, {})}
        out[i] = {k: copy.deepcopy(doc[k]) for k in props if k in doc} if props else copy.deepcopy(doc)
    return Reply(200, out)


def _sort_key(v: Any):
    if v is None:
        return (2, "")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, v)
    return (1, _scalar_str(v))


# --------------------------------------------------------------------------------------------------------------------
# the service
# --------------------------------------------------------------------------------------------------------------------
class CatalogService(Service):
    """Datasets, batches and dataset files."""

    def routes(self) -> list[Route]:
        return [
            Route("POST", f"{BASE}/dataSets", self.create_dataset),
            Route("GET", f"{BASE}/dataSets", self.list_datasets),
            Route("GET", f"{BASE}/dataSets/<id>", self.get_dataset),
            Route("PUT", f"{BASE}/dataSets/<id>", self.put_dataset),
            Route("PATCH", f"{BASE}/dataSets/<id>", self.patch_dataset),
            Route("DELETE", f"{BASE}/dataSets/<id>", self.delete_dataset),
            Route("GET", f"{BASE}/lastBatches", self.last_batches),
            Route("GET", f"{BASE}/batches", self.list_batches),
            Route("GET", f"{BASE}/batches/<id>", self.get_batch),
            Route("GET", f"{BASE}/dataSetFiles", self.list_files),
            Route("GET", f"{BASE}/dataSetFiles/<id>", self.get_file),
        ]

    def _user(self, call: Call) -> str:
        return f"{call.client_id}@AdobeID" if call.client_id else "aep-local@AdobeID"

    # -- datasets -------------------------------------------------------------------------------------------------
    def _check_schema_ref(self, call: Call, ref: Any) -> dict[str, Any] | None:
        if ref is None:
            return None
        if not isinstance(ref, dict) or not isinstance(ref.get("id"), str) or not ref["id"]:
            raise _bad("schemaRef must be an object with an 'id' (and a 'contentType').")
        from . import schemaregistry

        doc = schemaregistry.get_schema(self.platform, call.tenant, ref["id"])
        if doc is None or doc.get("meta:resourceType") not in ("schemas", "classes"):
            raise _bad(f"The schema {ref['id']} referenced by schemaRef.id does not exist in sandbox "
                       f"'{call.tenant.sandbox}' (a tenant schema or a standard class is required).")
        content_type = ref.get("contentType") or DEFAULT_CONTENT_TYPE
        if not isinstance(content_type, str):
            raise _bad("schemaRef.contentType must be a string.")
        return {"id": doc["$id"], "contentType": content_type}

    def _user_fields(self, call: Call, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object describing the dataset.")
        out = {k: copy.deepcopy(v) for k, v in body.items() if k not in SYSTEM_FIELDS and k != "id"}
        if "name" in out and not isinstance(out["name"], str):
            raise _bad("name must be a string.")
        if "tags" in out and not isinstance(out["tags"], dict):
            raise _bad("tags must be an object of arrays, e.g. {\"unifiedProfile\": [\"enabled:true\"]}.")
        if "enableErrorDiagnostics" in out and not isinstance(out["enableErrorDiagnostics"], bool):
            raise _bad("enableErrorDiagnostics must be a boolean.")
        if "schemaRef" in out:
            out["schemaRef"] = self._check_schema_ref(call, out["schemaRef"])
            if out["schemaRef"] is None:
                del out["schemaRef"]
        return out

    def create_dataset(self, call: Call) -> Reply:
        fields = self._user_fields(call, call.body)
        now = self.clock.now_ms()
        ds_id = self.ids.dataset()
        doc: dict[str, Any] = {"name": fields.pop("name", None)}
        if doc["name"] is None:
            del doc["name"]
        doc.update(fields)
        doc.setdefault("tags", {})
        doc.setdefault("enableErrorDiagnostics", False)
        self._system_metadata(call, doc, None)
        doc.update({"imsOrg": call.tenant.org, "created": now, "updated": now, "createdClient": call.client_id,
                    "createdUser": self._user(call), "updatedUser": self._user(call), "version": "1.0.0",
                    "viewId": self.ids.dataset(), "files": f"@/dataSetFiles?dataSetId={ds_id}", "state": "DRAFT"})
        if (call.arg("requestDataSource") or "").lower() == "true":
            doc["dataSourceId"] = int(self.ids.dataset()[:6], 16)
        self.store.insert(call.tenant, "dataSet", ds_id, doc, created=now, name=doc.get("name"), state="DRAFT")
        return Reply(201, [f"@/dataSets/{ds_id}"], {"Location": f"{BASE}/dataSets/{ds_id}"})

    def _system_metadata(self, call: Call, doc: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Give ``doc`` the ``classification`` and the system tags (Query Service table, table format) every dataset
        carries: kept from ``old`` on updates, derived on create (the table name is unique in the sandbox)."""
        old = old or {}
        tags = doc["tags"] = dict(doc.get("tags") or {})
        old_tags = old.get("tags") or {}
        for tag in (PQS_TABLE_TAG, TABLE_FORMAT_TAG):
            if tag not in tags and tag in old_tags:
                tags[tag] = copy.deepcopy(old_tags[tag])
        if PQS_TABLE_TAG not in tags:
            taken = {t for r in self.store.select(call.tenant, "dataSet")
                     for t in ((r.doc.get("tags") or {}).get(PQS_TABLE_TAG) or [])}
            tags[PQS_TABLE_TAG] = [table_name(doc.get("name"), taken)]
        tags.setdefault(TABLE_FORMAT_TAG, [TABLE_FORMAT])
        classification = doc.get("classification")
        if not isinstance(classification, dict):
            classification = copy.deepcopy(old.get("classification")) or {}
        if "dataBehavior" not in classification:
            from . import schemaregistry

            ref = (doc.get("schemaRef") or {}).get("id")
            schema = schemaregistry.get_schema(self.platform, call.tenant, ref) if ref else None
            classification["dataBehavior"] = data_behavior(schema)
        classification.setdefault("managedBy", MANAGED_BY)
        doc["classification"] = classification

    def _dataset(self, call: Call) -> Record:
        rec = self.store.get(call.tenant, "dataSet", call.params["id"])
        if rec is None:
            raise _not_found("dataset", call.params["id"])
        return rec

    def get_dataset(self, call: Call) -> Reply:
        rec = self._dataset(call)
        props = [p.strip() for p in ",".join(call.args("properties")).split(",") if p.strip()]
        doc = {k: rec.doc[k] for k in props if k in rec.doc} if props else rec.doc
        return Reply(200, {rec.id: doc})

    def list_datasets(self, call: Call) -> Reply:
        return _listing(call, self.store.select(call.tenant, "dataSet"))

    def _save(self, call: Call, rec: Record, doc: dict[str, Any]) -> Reply:
        now = self.clock.now_ms()
        doc["updated"] = now
        doc["updatedUser"] = self._user(call)
        v = _version(doc.get("version")) or (1, 0, 0)
        doc["version"] = ".".join(str(x) for x in (*v[:-1], v[-1] + 1))
        self.store.replace(call.tenant, "dataSet", rec.id, doc, updated=now, name=doc.get("name"),
                           state=doc.get("state"))
        return Reply(200, [f"@/dataSets/{rec.id}"])

    def put_dataset(self, call: Call) -> Reply:
        rec = self._dataset(call)
        fields = self._user_fields(call, call.body)
        doc = {k: v for k, v in rec.doc.items() if k in SYSTEM_FIELDS}
        doc.update(fields)
        doc.setdefault("tags", {})
        self._system_metadata(call, doc, rec.doc)
        return self._save(call, rec, doc)

    def patch_dataset(self, call: Call) -> Reply:
        rec = self._dataset(call)
        body = call.body
        if isinstance(body, list):
            try:
                patched = apply_patch(rec.doc, body)
            except PatchError as exc:
                raise _bad(f"Invalid JSON Patch: {exc}") from None
            if not isinstance(patched, dict):
                raise _bad("The patched dataset must be a JSON object.")
            fields = self._user_fields(call, {k: v for k, v in patched.items() if k not in SYSTEM_FIELDS})
            doc = {k: v for k, v in rec.doc.items() if k in SYSTEM_FIELDS}
            doc.update(fields)
        else:
            fields = self._user_fields(call, body)
            doc = copy.deepcopy(rec.doc)
            doc.update(fields)
        self._system_metadata(call, doc, rec.doc)
        return self._save(call, rec, doc)

    def delete_dataset(self, call: Call) -> Reply:
        """The dataset, its batches (one transaction: a run finishing meanwhile sees the dataset gone and fails, see
        :mod:`aep_magics.local.engine.runner`) and then its directory in the data lake."""
        with self.store.transaction():
            rec = self._dataset(call)
            for b in self.store.select(call.tenant, "batch", where="parent = ?", params=[rec.id]):
                self.store.delete(call.tenant, "batch", b.id)
            self.store.delete(call.tenant, "dataSet", rec.id)
        remove_dataset_files(self.platform, call.tenant, rec.id)
        return Reply(200, [f"@/dataSets/{rec.id}"])

    # -- batches ----------------------------------------------------------------------------------------------------
    def list_batches(self, call: Call) -> Reply:
        where, params = [], []
        ds = call.arg("dataSet")
        if ds:
            where.append("parent = ?")
            params.append(ds)
        records = self.store.select(call.tenant, "batch", where=" AND ".join(where), params=params)
        batch = call.arg("batch")
        if batch:
            records = [r for r in records if r.id in batch.split(",")]
        return _listing(call, records)

    def last_batches(self, call: Call) -> Reply:
        """``GET /lastBatches`` (catalog.yaml ``listLastBatches``): for each dataset with batches, ``{lastBatchId,
        lastBatchStatus, lastSuccessfulBatchId, lastFailedBatchId, imsOrg, sandboxId, created, updated}``, the dates
        being the last batch's; ``dataSetId`` takes a comma list, the other fields filter like any Catalog list."""
        wanted = {d.strip() for d in ",".join(call.args("dataSetId")).split(",") if d.strip()}
        by_dataset: dict[str, list[Record]] = {}
        for b in self.store.select(call.tenant, "batch"):
            ds = _batch_dataset(b.doc)
            if ds and (not wanted or ds in wanted):
                by_dataset.setdefault(ds, []).append(b)
        from .sandboxes import get_sandbox

        sandbox_id = (get_sandbox(self.platform, call.tenant.org, call.tenant.sandbox) or {}).get("id", "")
        records = []
        for ds, batches in by_dataset.items():
            batches.sort(key=lambda r: (int(r.doc.get("created") or r.created), r.seq))
            last = batches[-1]
            doc: dict[str, Any] = {"lastBatchId": last.id, "lastBatchStatus": str(last.doc.get("status") or "")}
            for key, states in (("lastSuccessfulBatchId", SUCCESS_STATES), ("lastFailedBatchId", ("failed", "failure"))):
                found = [r for r in batches if r.doc.get("status") in states]
                if found:
                    doc[key] = found[-1].id
            created = int(last.doc.get("created") or last.created)
            doc.update({"imsOrg": call.tenant.org, "sandboxId": sandbox_id, "created": created,
                        "updated": int(last.doc.get("updated") or created)})
            records.append(Record(ds, doc, None, created, doc["updated"], last.seq))
        records.sort(key=lambda r: (r.created, r.seq))
        return _listing(_without(call, "dataSetId"), records)

    def get_batch(self, call: Call) -> Reply:
        rec = self.store.get(call.tenant, "batch", call.params["id"])
        if rec is None:
            raise _not_found("batch", call.params["id"])
        props = [p.strip() for p in ",".join(call.args("properties")).split(",") if p.strip()]
        doc = {k: rec.doc[k] for k in props if k in rec.doc} if props else rec.doc
        return Reply(200, {rec.id: doc})

    # -- dataset files --------------------------------------------------------------------------------------------
    def _files(self, call: Call) -> list[tuple[str, dict[str, Any]]]:
        ds = call.arg("dataSetId")
        batch = call.arg("batchId")
        where, params = ["state IN ('success', 'active')"], []
        if ds:
            where.append("parent = ?")
            params.append(ds)
        out = []
        views: dict[str, str] = {}
        for b in self.store.select(call.tenant, "batch", where=" AND ".join(where), params=params):
            if batch and b.id != batch:
                continue
            if not b.doc.get("recordCount"):
                continue
            dataset_id = _batch_dataset(b.doc) or ""
            if dataset_id not in views:
                d = self.store.get(call.tenant, "dataSet", dataset_id)
                views[dataset_id] = (d.doc.get("viewId") if d else None) or dataset_id
            out.append((f"{b.id}-1", {
                "batchId": b.id, "dataSetViewId": views[dataset_id], "dataSetId": dataset_id,
                "imsOrg": b.doc.get("imsOrg", call.tenant.org), "created": b.doc.get("created"),
                "updated": b.doc.get("updated"), "createdClient": b.doc.get("createdClient"),
                "createdUser": b.doc.get("createdUser"), "updatedUser": b.doc.get("updatedUser"),
                "availableDates": {}, "isValid": True, "version": "1.0.0",
                "records": b.doc.get("recordCount", 0), "size": b.doc.get("size", 0),
            }))
        return out

    def list_files(self, call: Call) -> Reply:
        files = self._files(call)
        recs = [Record(fid, doc, None, doc.get("created") or 0, doc.get("updated") or 0, 0) for fid, doc in files]
        return _listing(_without(call, "dataSetId", "batchId"), recs)

    def get_file(self, call: Call) -> Reply:
        fid = call.params["id"]
        for i, doc in self._files(_without(call, "dataSetId", "batchId")):
            if i == fid:
                return Reply(200, {i: doc})
        raise _not_found("dataset file", fid)


def remove_dataset_files(platform: Platform, tenant: Tenant, dataset_id: str) -> None:
    """Remove a deleted dataset's directory from the data lake: its batches' Parquet files and diagnostics."""
    from ..engine.datalake import DataLake, LakePathError

    try:
        path = DataLake(platform.lake_dir).dataset_dir(tenant, dataset_id)
    except LakePathError:  # an id the lake never stored anything under
        return
    shutil.rmtree(path, ignore_errors=True)


def _without(call: Call, *names: str) -> Call:
    query = {k: v for k, v in call.query.items() if k not in names}
    return Call(method=call.method, path=call.path, params=call.params, query=query, body=call.body,
                headers=call.headers, tenant=call.tenant, client_id=call.client_id, request_id=call.request_id,
                raw=call.raw)
