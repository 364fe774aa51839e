"""The console's pages as data: each view reads through the REST routes' own handlers (:class:`Api`) and returns the
template to render with its context. Nothing here knows HTTP requests, cookies or sessions (:mod:`.routes` does).

Every read is recorded, so each page can show "The API call behind this page": the method, the path and a curl
command with ``$ACCESS_TOKEN``, ``$API_KEY`` and ``$ORG_ID`` placeholders.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from werkzeug.datastructures import Headers

from ..errors import ServiceError
from ..services.base import Call, Reply
from ..store import GLOBAL_SANDBOX, Tenant

FLOW = "/data/foundation/flowservice"
CATALOG = "/data/foundation/catalog"
EXPORT = "/data/foundation/export"
DATAPREP = "/data/foundation/conversion"
REGISTRY = "/data/foundation/schemaregistry"
SANDBOXES = "/data/foundation/sandbox-management"
#: Runs per page of a dataflow's activity (one page is read, through the Flow Service's paged listing).
RUNS_PAGE = 25
#: Rows of a dataset's preview shown.
PREVIEW_ROWS = 20
#: Rows a SQL statement of the console returns at most.
SQL_MAX_ROWS = 500
#: The dataset tag that names its Query Service table (Catalog ``tags``).
PQS_TABLE_TAG = "adobe/pqs/table"
#: A Query Service table name (what the SQL box prefills a SELECT with).
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
#: Statement kinds the console's SQL box runs: reads only.
SQL_READ_KINDS = ("query", "explain", "show", "show_tables")
_FULL = "application/vnd.adobe.xed-full+json; version=1"
_PLAIN = "application/vnd.adobe.xed+json; version=1"


class NotFound(Exception):
    """A page whose object does not exist in the sandbox: one line to show."""


@dataclass
class ApiCall:
    method: str
    path: str
    query: list[tuple[str, str]]
    accept: str | None = None
    body: Any = None

    @property
    def target(self) -> str:
        return self.path + (f"?{urlencode(self.query)}" if self.query else "")

    def curl(self, base_url: str, sandbox: str | None) -> str:
        parts = ["curl", "-X", self.method, shlex.quote(base_url.rstrip("/") + self.target), "\\\n  -H",
                 '"Authorization: Bearer $ACCESS_TOKEN"', "\\\n  -H", '"x-api-key: $API_KEY"', "\\\n  -H",
                 '"x-gw-ims-org-id: $ORG_ID"']
        if sandbox:
            parts += ["\\\n  -H", shlex.quote(f"x-sandbox-name: {sandbox}")]
        if self.accept:
            parts += ["\\\n  -H", shlex.quote(f"Accept: {self.accept}")]
        if self.body is not None:
            parts += ["\\\n  -H", '"Content-Type: application/json"', "\\\n  -d",
                      shlex.quote(json.dumps(self.body, ensure_ascii=False))]
        return " ".join(parts)


@dataclass
class Api:
    """GET calls through the handlers of the REST routes, as the signed-in client in one sandbox."""

    serve: Callable[[Call], Reply]
    org: str
    client_id: str
    sandbox: str
    request_id: str = ""
    calls: list[ApiCall] = field(default_factory=list)

    def get(self, path: str, query: Mapping[str, str] | list[tuple[str, str]] | None = None, *,
            accept: str | None = None, org_wide: bool = False, record: bool = True) -> Any:
        pairs = list(query.items()) if isinstance(query, Mapping) else list(query or [])
        headers = Headers()
        if accept:
            headers["Accept"] = accept
        multi: dict[str, list[str]] = {}
        for k, v in pairs:
            multi.setdefault(k, []).append(v)
        tenant = Tenant(self.org, GLOBAL_SANDBOX if org_wide else self.sandbox)
        call = Call(method="GET", path=path, params={}, query=multi, body=None, headers=headers, tenant=tenant,
                    client_id=self.client_id, request_id=self.request_id)
        if record and not any(c.target == ApiCall("GET", path, pairs).target for c in self.calls):
            self.calls.append(ApiCall("GET", path, pairs, accept))
        return self.serve(call).body


def message_of(exc: ServiceError) -> str:
    """The one line a service's error body says, whatever its documented shape."""
    body = exc.body if isinstance(exc.body, dict) else {}
    report = body.get("report") if isinstance(body.get("report"), dict) else {}
    detailed = (report or {}).get("detailed-message")
    for value in (body.get("detail"), body.get("errorMessage"), detailed, body.get("message"), body.get("title")):
        if isinstance(value, str) and value:
            return value
    return f"error {exc.status}"


# -- small formatters --------------------------------------------------------------------------------------------------
def when(ms: Any) -> str:
    if isinstance(ms, bool) or not isinstance(ms, (int, float)):
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(start: Any, end: Any) -> str:
    if not isinstance(start, (int, float)) or not isinstance(end, (int, float)):
        return ""
    s = max(0.0, (end - start) / 1000)
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def _first(body: Any) -> dict[str, Any]:
    """``{"items": [x]}`` (Flow Service) or ``{id: x}`` (Catalog) -> x."""
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return body["items"][0] if body["items"] else {}
    if isinstance(body, dict) and len(body) == 1:
        value = next(iter(body.values()))
        return value if isinstance(value, dict) else {}
    return body if isinstance(body, dict) else {}


def _get(api: Api, what: str, path: str, query: Mapping[str, str] | None = None, **kw: Any) -> dict[str, Any]:
    """One object, or :class:`NotFound` naming it."""
    try:
        return _first(api.get(path, query, **kw))
    except ServiceError as exc:
        if exc.status == 404:
            raise NotFound(f"No {what} in sandbox '{api.sandbox}': {message_of(exc)}") from None
        raise


def _optional(api: Api, path: str, query: Mapping[str, str] | None = None, **kw: Any) -> dict[str, Any] | None:
    try:
        return _first(api.get(path, query, **kw))
    except ServiceError:
        return None


def sandboxes(api: Api) -> list[dict[str, Any]]:
    body = api.get(f"{SANDBOXES}/", {"limit": "200", "offset": "0"}, org_wide=True, record=False)
    return [s for s in body.get("sandboxes", []) if isinstance(s, dict)]


def run_status(run: dict[str, Any]) -> str:
    return str(((run.get("metrics") or {}).get("statusSummary") or {}).get("status") or "scheduled")


def run_batch_ids(run: dict[str, Any]) -> list[str]:
    """The batches a run wrote: its activities' ``targetInfo`` references of type Batch."""
    ids: list[str] = []
    for act in run.get("activities") or []:
        for info in (act or {}).get("targetInfo") or []:
            ref = (info or {}).get("reference") or {}
            if ref.get("type") == "Batch":
                ids += [i for i in ref.get("ids") or [] if isinstance(i, str) and i not in ids]
    return ids


def run_row(run: dict[str, Any]) -> dict[str, Any]:
    metrics = run.get("metrics") or {}
    rec = metrics.get("recordSummary") or {}
    dur = metrics.get("durationSummary") or {}
    status = metrics.get("statusSummary") or {}
    return {"id": run.get("id", ""), "status": run_status(run), "created": when(run.get("createdAt")),
            "createdAt": run.get("createdAt"), "started": when(dur.get("startedAtUTC")),
            "duration": duration(dur.get("startedAtUTC"), dur.get("completedAtUTC")),
            "input": rec.get("inputRecordCount"), "output": rec.get("outputRecordCount"),
            "failed": rec.get("failedRecordCount"),
            "errors": [e for e in status.get("errors") or [] if isinstance(e, dict)],
            "batches": run_batch_ids(run)}


def runs_chart(rows: list[dict[str, Any]], width: int = 720, height: int = 180) -> dict[str, Any]:
    """Bars of records ingested and failed per run, oldest left, as SVG geometry for the template."""
    rows = sorted(rows, key=lambda r: (r["createdAt"] or 0))
    top = max([(r["output"] or 0) + (r["failed"] or 0) for r in rows] + [1])
    left, bottom, plot_h = 48, 24, height - 24 - 8
    slot = (width - left - 8) / max(len(rows), 1)
    bar_w = max(2.0, min(28.0, slot * 0.7))
    bars = []
    for i, r in enumerate(rows):
        ok, bad = r["output"] or 0, r["failed"] or 0
        h_ok, h_bad = plot_h * ok / top, plot_h * bad / top
        x = left + i * slot + (slot - bar_w) / 2
        y_ok = height - bottom - h_ok
        bars.append({"x": round(x, 1), "w": round(bar_w, 1), "y_ok": round(y_ok, 1), "h_ok": round(h_ok, 1),
                     "y_bad": round(y_ok - h_bad, 1), "h_bad": round(h_bad, 1), "ok": ok, "bad": bad,
                     "status": r["status"], "label": r["created"], "id": r["id"]})
    ticks = [{"y": round(height - bottom - plot_h * f, 1), "value": round(top * f)} for f in (0, 0.5, 1)]
    return {"width": width, "height": height, "left": left, "base": height - bottom, "bars": bars, "ticks": ticks,
            "first": rows[0]["created"] if rows else "", "last": rows[-1]["created"] if rows else ""}


def _token_of(href: str) -> str | None:
    values = parse_qs(urlsplit(href).query).get("continuationToken")
    return values[0] if values else None


# -- pages -------------------------------------------------------------------------------------------------------------
def sources_page(api: Api) -> tuple[str, dict[str, Any]]:
    """Sources: base connections (accounts) with their connection spec, and the dataflows with status, schedule and
    last run."""
    connections = api.get(f"{FLOW}/connections", {"limit": "100"}).get("items", [])
    specs: dict[str, str] = {}
    for c in connections:
        sid = (c.get("connectionSpec") or {}).get("id", "")
        if sid and sid not in specs:
            spec = _optional(api, f"{FLOW}/connectionSpecs/{sid}", record=False) or {}
            specs[sid] = spec.get("name", sid)
    sources = {s["id"]: s for s in api.get(f"{FLOW}/sourceConnections", {"limit": "100"}).get("items", [])}
    flows = api.get(f"{FLOW}/flows", {"limit": "100"}).get("items", [])
    by_base: dict[str, list[dict[str, Any]]] = {}
    flow_rows = []
    for f in flows:
        base_ids = [sources.get(s, {}).get("baseConnectionId") for s in f.get("sourceConnectionIds") or []]
        last = f.get("lastRunDetails") or {}
        row = {"id": f.get("id", ""), "name": f.get("name", ""), "state": f.get("state", ""),
               "schedule": schedule_text(f.get("scheduleParams") or {}), "last_state": last.get("state", ""),
               "last_run": last.get("id", ""), "last_started": when(last.get("startedAtUTC")),
               "last_completed": when(last.get("completedAtUTC"))}
        flow_rows.append(row)
        for b in base_ids:
            if b:
                by_base.setdefault(b, []).append(row)
    accounts = []
    for c in connections:
        auth = c.get("auth") or {}
        sid = (c.get("connectionSpec") or {}).get("id", "")
        accounts.append({"id": c.get("id", ""), "name": c.get("name", ""), "spec": specs.get(sid, sid),
                         "spec_id": sid, "auth": auth.get("specName", ""),
                         "params": sorted((str(k), json.dumps(v) if not isinstance(v, str) else v)
                                          for k, v in (auth.get("params") or {}).items()),
                         "created": when(c.get("createdAt")), "flows": by_base.get(c.get("id", ""), [])})
    return "sources.html", {"accounts": accounts, "flows": flow_rows, "title": "Sources"}


def schedule_text(params: dict[str, Any]) -> str:
    freq = str(params.get("frequency") or "once")
    interval = params.get("interval")
    start = params.get("startTime")
    text = freq if not interval or freq == "once" else f"every {interval} {freq}"
    try:
        text += f", from {when(int(start) * 1000)}" if start not in (None, "") else ""
    except (TypeError, ValueError):
        pass
    return text


def dataflow_page(api: Api, flow_id: str, token: str | None) -> tuple[str, dict[str, Any]]:
    """A dataflow's activity: one page of runs (newest first) with a chart, its source, target and mapping set."""
    flow = _get(api, f"dataflow {flow_id}", f"{FLOW}/flows/{quote(flow_id, safe='')}")
    query = {"limit": str(RUNS_PAGE), "orderby": "-createdAt"}
    if token:
        query["continuationToken"] = token
    try:
        body = api.get(f"{FLOW}/flows/{quote(flow_id, safe='')}/runs", query)
    except ServiceError as exc:
        if exc.status == 400:
            raise NotFound(f"That page of runs does not exist: {message_of(exc)}") from None
        raise
    runs = [run_row(r) for r in body.get("items", [])]
    next_href = ((body.get("_links") or {}).get("next") or {}).get("href")
    source = target = base = None
    for sid in flow.get("sourceConnectionIds") or []:
        source = _optional(api, f"{FLOW}/sourceConnections/{sid}")
        if source and source.get("baseConnectionId"):
            base = _optional(api, f"{FLOW}/connections/{source['baseConnectionId']}")
    for tid in flow.get("targetConnectionIds") or []:
        target = _optional(api, f"{FLOW}/targetConnections/{tid}")
    dataset_id = ((target or {}).get("params") or {}).get("dataSetId")
    mappings, mapping_set = [], None
    for t in flow.get("transformations") or []:
        params = (t or {}).get("params") or {}
        if t.get("name") == "Mapping" and params.get("mappingId"):
            mapping_set = _optional(api, f"{DATAPREP}/mappingSets/{quote(str(params['mappingId']), safe='')}")
            for m in (mapping_set or {}).get("mappings") or []:
                mappings.append({"source": m.get("source") or m.get("sourceAttribute") or "",
                                 "type": m.get("sourceType") or "ATTRIBUTE",
                                 "destination": m.get("destination") or m.get("destinationXdmPath") or "",
                                 "identity": bool(m.get("identity")),
                                 "namespace": m.get("identityGroup") or m.get("namespaceCode") or ""})
    last = flow.get("lastRunDetails") or {}
    return "dataflow.html", {
        "title": flow.get("name") or flow_id, "flow": flow, "flow_id": flow_id, "runs": runs,
        "chart": runs_chart(runs), "next_token": _token_of(next_href) if next_href else None, "paged": bool(token),
        "source": source, "base": base, "target": target, "dataset_id": dataset_id, "mappings": mappings,
        "mapping_set": mapping_set, "schedule": schedule_text(flow.get("scheduleParams") or {}),
        "last": {"state": last.get("state", ""), "id": last.get("id", ""), "started": when(last.get("startedAtUTC"))},
        "options": flow.get("options") or {}}


def run_page(api: Api, run_id: str) -> tuple[str, dict[str, Any]]:
    """One run: metrics, activities, errors, the batches it wrote and its failed records' diagnostics."""
    run = _get(api, f"dataflow run {run_id}", f"{FLOW}/runs/{quote(run_id, safe='')}")
    row = run_row(run)
    activities = []
    for act in run.get("activities") or []:
        rec = act.get("recordSummary") or {}
        st = act.get("statusSummary") or {}
        dur = act.get("durationSummary") or {}
        activities.append({"name": act.get("name", ""), "status": st.get("status", ""),
                           "input": rec.get("inputRecordCount"), "output": rec.get("outputRecordCount"),
                           "failed": rec.get("failedRecordCount"),
                           "duration": duration(dur.get("startedAtUTC"), dur.get("completedAtUTC")),
                           "errors": [e for e in st.get("errors") or [] if isinstance(e, dict)],
                           "details": [e for e in (st.get("extensions") or {}).get("errors") or []
                                       if isinstance(e, dict)]})
    batches = []
    for bid in row["batches"]:
        batch = _optional(api, f"{CATALOG}/batches/{bid}") or {}
        dataset = next((o.get("id") for o in batch.get("relatedObjects") or []
                        if isinstance(o, dict) and o.get("type") == "dataSet"), None)
        files, samples = [], None
        if batch.get("failedRecordCount"):
            try:
                files = [f.get("name", "") for f in api.get(f"{EXPORT}/batches/{bid}/failed").get("data", [])]
                raw = api.get(f"{EXPORT}/batches/{bid}/meta", {"path": "row_error_samples.json"})
                samples = json.loads(raw) if isinstance(raw, (bytes, bytearray)) else raw
            except (ServiceError, ValueError):
                samples = samples or None
        batches.append({"id": bid, "status": batch.get("status", ""), "records": batch.get("recordCount"),
                        "failed": batch.get("failedRecordCount"), "dataset": dataset, "files": files,
                        "samples": (samples or {}).get("samples", [])[:10] if isinstance(samples, dict) else [],
                        "error_counts": (samples or {}).get("errorCounts", {}) if isinstance(samples, dict) else {},
                        "errors": [e for e in batch.get("errors") or [] if isinstance(e, dict)]})
    return "run.html", {"title": f"Run {run_id}", "run": run, "row": row, "activities": activities,
                        "batches": batches, "flow_id": run.get("flowId", "")}


def diagnostics_file(api: Api, batch_id: str, path: str) -> bytes:
    """A failed records file of a batch (``row_errors/part-*.json``), the bytes Data Access serves."""
    name = path if "/" in path else f"row_errors/{path}"
    try:
        body = api.get(f"{EXPORT}/batches/{quote(batch_id, safe='')}/failed", {"path": name})
    except ServiceError as exc:
        if exc.status in (400, 404):
            raise NotFound(f"No diagnostics file {path!r} for batch {batch_id}: {message_of(exc)}") from None
        raise
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def datasets_page(api: Api) -> tuple[str, dict[str, Any]]:
    body = api.get(f"{CATALOG}/dataSets", {"limit": "100"})
    rows = []
    for ds_id, ds in (body or {}).items():
        if not isinstance(ds, dict):
            continue
        rows.append({"id": ds_id, "name": ds.get("name", ""), "schema": (ds.get("schemaRef") or {}).get("id", ""),
                     "last_status": ds.get("lastBatchStatus", ""), "last_batch": ds.get("lastBatchId", ""),
                     "created": when(ds.get("created")),
                     "table": ((ds.get("tags") or {}).get(PQS_TABLE_TAG) or [""])[0]})
    return "datasets.html", {"title": "Datasets", "datasets": rows}


def dataset_page(api: Api, dataset_id: str) -> tuple[str, dict[str, Any]]:
    """A dataset: its schema, its batches with status and record counts, and a flattened preview of its rows."""
    ds = _get(api, f"dataset {dataset_id}", f"{CATALOG}/dataSets/{quote(dataset_id, safe='')}")
    body = api.get(f"{CATALOG}/batches", {"dataSet": dataset_id, "limit": "100", "orderBy": "desc:created"})
    batches = [{"id": bid, "status": b.get("status", ""), "records": b.get("recordCount"),
                "failed": b.get("failedRecordCount"), "created": when(b.get("created")),
                "completed": when(b.get("completed"))}
               for bid, b in (body or {}).items() if isinstance(b, dict)]
    try:
        rows = api.get(f"{EXPORT}/datasets/{quote(dataset_id, safe='')}/preview", {"flatten": "true"}).get("data", [])
    except ServiceError:
        rows = []
    rows = rows[:PREVIEW_ROWS]
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    schema_id = (ds.get("schemaRef") or {}).get("id", "")
    table = ((ds.get("tags") or {}).get(PQS_TABLE_TAG) or [""])[0]
    return "dataset.html", {"title": ds.get("name") or dataset_id, "ds": ds, "dataset_id": dataset_id,
                            "batches": batches, "columns": columns,
                            "rows": [[_cell(r.get(c)) for c in columns] for r in rows], "schema_id": schema_id,
                            "table": table, "created": when(ds.get("created"))}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def schemas_page(api: Api) -> tuple[str, dict[str, Any]]:
    body = api.get(f"{REGISTRY}/tenant/schemas", {"limit": "300"}, accept="application/vnd.adobe.xed-id+json")
    rows = [{"id": s.get("$id", ""), "title": s.get("title", ""), "version": s.get("version", ""),
             "alt": s.get("meta:altId", "")} for s in (body or {}).get("results", []) if isinstance(s, dict)]
    return "schemas.html", {"title": "Schemas", "schemas": rows}


def schema_page(api: Api, schema_id: str) -> tuple[str, dict[str, Any]]:
    """A schema: the resolved field tree with types, the field groups it uses and its identity fields."""
    path = f"{REGISTRY}/tenant/schemas/{quote(schema_id, safe='')}"
    full = _get(api, f"schema {schema_id}", path, accept=_FULL)
    plain = _optional(api, path, accept=_PLAIN) or {}
    groups = [{"id": ref, "title": ref.rsplit("/", 1)[-1]} for ref in
              [r.get("$ref") for r in plain.get("allOf") or [] if isinstance(r, dict)] if ref]
    descriptors = api.get(f"{REGISTRY}/tenant/descriptors",
                          [("property", f"xdm:sourceSchema=={full.get('$id', schema_id)}")],
                          accept="application/vnd.adobe.xdm+json")
    identities = []
    for d in (descriptors or {}).get("xdm:descriptorIdentity", []):
        if isinstance(d, dict):
            identities.append({"path": d.get("xdm:sourceProperty", ""), "namespace": d.get("xdm:namespace", ""),
                               "primary": bool(d.get("xdm:isPrimary"))})
    fields: list[dict[str, Any]] = []
    _walk(full.get("properties") or {}, "", 0, fields)
    return "schema.html", {"title": full.get("title") or schema_id, "schema": full, "schema_id": schema_id,
                           "fields": fields, "groups": groups, "identities": identities,
                           "class": full.get("meta:class", "")}


def _walk(props: Mapping[str, Any], prefix: str, depth: int, out: list[dict[str, Any]]) -> None:
    for name, spec in props.items():
        if not isinstance(spec, dict) or len(out) >= 2000:
            continue
        path = f"{prefix}.{name}" if prefix else name
        ftype = spec.get("type", "")
        if ftype == "array":
            item = spec.get("items") or {}
            ftype = f"array of {item.get('type', 'object')}"
        out.append({"path": path, "name": name, "depth": depth, "type": ftype or "",
                    "format": spec.get("format", ""), "title": spec.get("title", "")})
        if isinstance(spec.get("properties"), dict):
            _walk(spec["properties"], path, depth + 1, out)
        elif isinstance((spec.get("items") or {}).get("properties"), dict):
            _walk(spec["items"]["properties"], path + "[]", depth + 1, out)
