"""Data Prep (``/data/foundation/conversion``): mapping sets, their validation and preview, and the expression
language catalogue (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set).

Mapping sets are store documents of kind ``mappingSet`` (id: 32 hex). The document's top level is the *latest*
version in its GET form (so ``doc["version"]`` and ``doc["outputSchema"]`` are current) plus ``versions``: every
version's GET form, index = version number. :func:`get_mapping_set` returns one version; :func:`engine_form`
(both from :mod:`aep_magics.local.engine.mapping_sets`, re-exported here) turns a stored mapping set back into the
request format the engine compiles
(``{"outputSchema": ..., "mappings": [{"sourceType": ATTRIBUTE|EXPRESSION|STATIC, "source", "destination", ...}]}``).

Both request formats are accepted: the current one (``outputSchema.schemaRef`` + ``mappings[{sourceType, source,
destination}]``) and the legacy one (``xdmSchema`` + ``mappings[{sourceAttribute, destinationXdmPath}]``). Stored
mappings carry both names and report ``"sourceType": "text/x.schema-path"`` (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set); the kind is
recovered from the source (a field path is an ATTRIBUTE, anything else an EXPRESSION; a STATIC value is stored as the
equivalent literal expression, e.g. ``"CUSTOMER"``), exactly as the engine's ``normalise_mappings`` classifies.

Creation (and PUT, and ``/validate``) checks: the target schema exists; every destination exists in the resolved
schema (:func:`aep_magics.local.xdm.find_path`); expressions compile. All problems are reported at once.

Choices where Adobe documents nothing (deviations list): error bodies use ``{type,title,status,detail}`` plus
``report.errors[]`` = ``{mappingIndex, source, destination, sourceType, message}``; STATIC mappings are stored as
literal expressions; list ``_page.count`` is the total number of matching mapping sets, ``orderBy``
defaults to ``updatedDate`` ascending; preview coerces each mapped value to its destination type
(:func:`aep_magics.local.xdm.coerce_record`) and reports a failed conversion as an error of that row.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import re
from typing import Any

from .. import errors
from ..engine.mapping_sets import get_mapping_set
from ..engine.mapping_sets import public_form as _public
from ..engine.mapping_sets import source_type as _source_type
from ..store import Record
from .base import Call, Reply, Route, Service, ServiceError

BASE = "/data/foundation/conversion"
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
#: Stored mappings report ``text/x.schema-path`` whatever their kind (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set); the kind is recovered from
#: the source itself (a plain field path is an ATTRIBUTE, anything else an EXPRESSION), as the engine does.
STORED_SOURCE_TYPE = "text/x.schema-path"
DEFAULT_CONTENT_TYPE = "application/vnd.adobe.xed-full+json;version=1"
#: Most mappings in one mapping set (create, PUT, validate, preview). Adobe documents no limit; AEP Local refuses
#: larger sets with a 400 so that one request cannot hold the server (docs/deviations.md, "Limits").
MAX_MAPPINGS = 2000
#: Most source records in one ``/mappingSets/preview`` call. Adobe documents no limit; a preview is a sample.
MAX_PREVIEW_ROWS = 1000


class _Problems(Exception):
    def __init__(self, problems: list[dict[str, Any]], title: str = "Invalid mapping set"):
        super().__init__(title)
        self.problems = problems
        self.title = title


def _bad(detail: str, problems: list[dict[str, Any]] | None = None, title: str = "BadRequestError"
         ) -> ServiceError:
    extra: dict[str, Any] = {"report": {"errors": problems}} if problems is not None else {}
    return errors.problem(400, title, detail, **extra)


# --------------------------------------------------------------------------------------------------------------------
# request parsing
# --------------------------------------------------------------------------------------------------------------------
def _schema_ref(body: dict[str, Any]) -> tuple[str | None, str]:
    out = body.get("outputSchema")
    if isinstance(out, dict):
        ref = out.get("schemaRef")
        if isinstance(ref, dict) and isinstance(ref.get("id"), str):
            return ref["id"], ref.get("contentType") or DEFAULT_CONTENT_TYPE
        if isinstance(out.get("id"), str):
            return out["id"], DEFAULT_CONTENT_TYPE
    for key in ("outputSchemaRef", "schemaRef"):
        ref = body.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("id"), str) and ref["id"]:
            return ref["id"], ref.get("contentType") or DEFAULT_CONTENT_TYPE
    if isinstance(body.get("xdmSchema"), str) and body["xdmSchema"]:
        return body["xdmSchema"], body.get("xdmVersion") or "1.0"
    return None, DEFAULT_CONTENT_TYPE


def normalise_request(body: Any) -> tuple[str | None, str, list[dict[str, Any]], list[dict[str, Any]]]:
    """``(schema id, content type, mappings in request form, problems)`` of a create/PUT/validate body."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object (a mapping set).")
    schema_id, content_type = _schema_ref(body)
    raw = body.get("mappings")
    if not isinstance(raw, list):
        raise _bad("'mappings' must be an array of mappings.")
    if len(raw) > MAX_MAPPINGS:
        raise _bad(f"The mapping set has {len(raw):,} mappings; AEP Local takes at most {MAX_MAPPINGS:,} per "
                   "mapping set: split it into several mapping sets.")
    problems: list[dict[str, Any]] = []
    mappings: list[dict[str, Any]] = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            problems.append(_problem(i, {}, "A mapping must be a JSON object."))
            mappings.append({})
            continue
        st = _source_type(m)
        source = m.get("source", m.get("sourceAttribute"))
        dest = m.get("destination", m.get("destinationXdmPath"))
        entry = {"sourceType": st, "source": source, "destination": dest}
        for k in ("name", "description", "identity", "primaryIdentity", "identityGroup", "namespaceCode"):
            if k in m:
                entry[k] = m[k]
        if st == "?":
            problems.append(_problem(i, entry, f"Invalid sourceType {m.get('sourceType')!r}; use ATTRIBUTE, "
                                               "EXPRESSION or STATIC."))
        if st != "STATIC" and (not isinstance(source, str) or not source.strip()):
            problems.append(_problem(i, entry, "The mapping has no source."))
        if not isinstance(dest, str) or not dest.strip():
            problems.append(_problem(i, entry, "The mapping has no destination."))
        mappings.append(entry)
    return schema_id, content_type, mappings, problems


def _problem(i: int, m: dict[str, Any], message: str) -> dict[str, Any]:
    return {"mappingIndex": i, "source": m.get("source"), "destination": m.get("destination"),
            "sourceType": m.get("sourceType"), "message": message}


def _static_literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


# --------------------------------------------------------------------------------------------------------------------
# engine access (lazy: the expression engine is optional until it is needed)
# --------------------------------------------------------------------------------------------------------------------
def _mapping_module():
    try:
        from ..engine import mapping
    except ImportError:
        return None
    return mapping


def _problem_index(p: Any) -> int | None:
    for attr in ("index", "mapping_index", "mappingIndex"):
        v = p.get(attr) if isinstance(p, dict) else getattr(p, attr, None)
        if isinstance(v, int):
            return v
    m = re.search(r"mapping[s]?\s*\[?#?\s*(\d+)", str(p), re.I)
    return int(m.group(1)) if m else None


def _problem_message(p: Any) -> str:
    if isinstance(p, dict):
        return str(p.get("message") or p.get("error") or p)
    return str(getattr(p, "message", None) or p)


def compile_problems(mappings: list[dict[str, Any]], schema_doc: dict[str, Any] | None = None
                     ) -> list[dict[str, Any]]:
    """Expression problems of request-form mappings (via the engine's ``compile_mappings``; when that module is
    not there, each EXPRESSION is compiled on its own)."""
    mod = _mapping_module()
    problems: list[dict[str, Any]] = []
    if mod is not None:
        try:
            compiled = mod.normalise_mappings({"outputSchema": schema_doc or {}, "mappings": mappings})
            mod.compile_mappings(compiled)
        except getattr(mod, "MappingError", ValueError) as exc:
            raw = getattr(exc, "problems", None) or getattr(exc, "errors", None) or list(exc.args)
            if not isinstance(raw, (list, tuple)):
                raw = [raw]
            for p in raw:
                i = _problem_index(p)
                m = mappings[i] if i is not None and 0 <= i < len(mappings) else {}
                problems.append(_problem(i if i is not None else -1, m, _problem_message(p)))
        return problems
    try:
        from ..engine.expressions import ExpressionError, compile_expression
    except ImportError:  # pragma: no cover - no engine at all: nothing to check
        return problems
    for i, m in enumerate(mappings):
        if m.get("sourceType") == "EXPRESSION" and isinstance(m.get("source"), str):
            try:
                compile_expression(m["source"])
            except ExpressionError as exc:
                problems.append(_problem(i, m, str(exc)))
    return problems


# --------------------------------------------------------------------------------------------------------------------
# the service
# --------------------------------------------------------------------------------------------------------------------
class DataPrepService(Service):
    """Mapping sets, validation, preview and the expression language catalogue."""

    def routes(self) -> list[Route]:
        return [
            Route("POST", f"{BASE}/mappingSets", self.create),
            Route("GET", f"{BASE}/mappingSets", self.list),
            Route("POST", f"{BASE}/mappingSets/validate", self.validate),
            Route("POST", f"{BASE}/mappingSets/preview", self.preview),
            Route("GET", f"{BASE}/mappingSets/<id>", self.get),
            Route("PUT", f"{BASE}/mappingSets/<id>", self.put),
            Route("GET", f"{BASE}/mappingSets/<id>/mappings", self.list_mappings),
            Route("GET", f"{BASE}/mappingSets/<id>/mappings/<mid>", self.get_mapping),
            Route("GET", f"{BASE}/languages/el/functions", self.functions),
            Route("GET", f"{BASE}/languages/el/operators", self.operators),
            Route("POST", f"{BASE}/languages/el/validate", self.validate_expression),
        ]

    def _user(self, call: Call) -> str:
        return f"{call.client_id}@AdobeID" if call.client_id else "aep-local@AdobeID"

    # -- checks -------------------------------------------------------------------------------------------------------
    def _resolved(self, call: Call, schema_id: str) -> dict[str, Any]:
        from . import schemaregistry

        resolved = schemaregistry.resolved_schema(self.platform, call.tenant, schema_id, text=False)
        if resolved is None:
            raise _bad(f"The target schema {schema_id} does not exist in sandbox '{call.tenant.sandbox}'.")
        return resolved

    def _check(self, call: Call, body: Any) -> tuple[str, str, list[dict[str, Any]], dict[str, Any],
                                                       list[dict[str, Any]]]:
        """``(schema id, content type, request-form mappings, resolved schema, problems)``."""
        from ..xdm import find_path

        schema_id, content_type, mappings, problems = normalise_request(body)
        if not schema_id:
            raise _bad("The mapping set has no target schema: give outputSchema.schemaRef.id (or xdmSchema).")
        resolved = self._resolved(call, schema_id)
        schema_id = resolved.get("$id") or schema_id          # an altId given: store the $id
        for i, m in enumerate(mappings):
            dest = m.get("destination")
            if isinstance(dest, str) and dest.strip() and find_path(resolved, dest) is None:
                problems.append(_problem(i, m, f"The destination {dest} does not exist in the target schema "
                                               f"{schema_id}."))
        failed = {p["mappingIndex"] for p in problems}
        index = [i for i in range(len(mappings)) if i not in failed]
        good = [mappings[i] for i in index]
        for p in compile_problems(good, {"schemaRef": {"id": schema_id, "contentType": content_type}}):
            j = p["mappingIndex"]
            if 0 <= j < len(index):
                p = {**p, "mappingIndex": index[j]}
            problems.append(p)
        problems.sort(key=lambda p: p["mappingIndex"])
        return schema_id, content_type, mappings, resolved, problems

    @staticmethod
    def _raise(problems: list[dict[str, Any]]) -> None:
        if problems:
            detail = "; ".join(f"mapping {p['mappingIndex']}: {p['message']}" for p in problems)
            raise _bad(f"The mapping set is invalid: {detail}", problems, title="Invalid mapping set")

    # -- create / update ------------------------------------------------------------------------------------------------
    def _version_doc(self, call: Call, body: dict[str, Any], ms_id: str, version: int, created: int, now: int,
                     created_by: str, schema_id: str, content_type: str, mappings: list[dict[str, Any]],
                     old_ids: list[str]) -> dict[str, Any]:
        user = self._user(call)
        stored = []
        for i, m in enumerate(mappings):
            st = m["sourceType"]
            source = _static_literal(m.get("source")) if st == "STATIC" else m.get("source")
            mid = old_ids[i] if i < len(old_ids) else self.ids.mapping_set()
            entry = {"id": mid, "version": version, "createdDate": now, "modifiedDate": now, "createdBy": user,
                     "modifiedBy": user, "sourceType": STORED_SOURCE_TYPE, "source": source,
                     "destination": m["destination"]}
            for k in ("name", "description"):
                if k in m:
                    entry[k] = m[k]
            entry.update({"identity": bool(m.get("identity", False)),
                          "primaryIdentity": bool(m.get("primaryIdentity", False)),
                          "identityGroup": m.get("identityGroup"), "namespaceCode": m.get("namespaceCode"),
                          "matchScore": 0.0, "functionVersion": 1,
                          "sourceAttribute": source, "destinationXdmPath": m["destination"]})
            stored.append(entry)
        ref = {"id": schema_id, "contentType": content_type}
        doc: dict[str, Any] = {"id": ms_id, "version": version, "createdDate": created, "modifiedDate": now,
                               "createdBy": created_by, "modifiedBy": user}
        if isinstance(body.get("name"), str):
            doc["name"] = body["name"]
        if isinstance(body.get("description"), str):
            doc["description"] = body["description"]
        doc["supportVersion"] = "1.1"
        if isinstance(body.get("inputSchema"), dict):
            doc["inputSchema"] = copy.deepcopy(body["inputSchema"])
        doc["outputSchema"] = {"schemaRef": ref}
        doc["mappings"] = stored
        doc["status"] = "PUBLISHED"
        doc["strictMapping"] = bool(body.get("strictMapping", False))
        doc["allowNullValues"] = bool(body.get("allowNullValues", False))
        doc["xdmVersion"] = body.get("xdmVersion") or content_type
        doc["schemaRef"] = ref
        doc["xdmSchema"] = schema_id
        return doc

    @staticmethod
    def _summary(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: doc[k] for k in ("id", "version", "createdDate", "modifiedDate", "createdBy", "modifiedBy")}

    def create(self, call: Call) -> Reply:
        schema_id, content_type, mappings, _resolved, problems = self._check(call, call.body)
        self._raise(problems)
        now = self.clock.now_ms()
        ms_id = self.ids.mapping_set()
        doc = self._version_doc(call, call.body, ms_id, 0, now, now, self._user(call), schema_id, content_type,
                                mappings, [])
        stored = {**doc, "versions": [doc]}
        self.store.insert(call.tenant, "mappingSet", ms_id, stored, created=now, name=doc.get("name"),
                          state="PUBLISHED", parent=schema_id)
        return Reply(200, self._summary(doc))

    def _record(self, call: Call) -> Record:
        rec = self.store.get(call.tenant, "mappingSet", call.params["id"])
        if rec is None:
            raise errors.problem(404, "NotFoundError", f"The mapping set {call.params['id']} was not found.")
        return rec

    def put(self, call: Call) -> Reply:
        rec = self._record(call)
        schema_id, content_type, mappings, _resolved, problems = self._check(call, call.body)
        self._raise(problems)
        now = self.clock.now_ms()
        latest = rec.doc
        version = int(latest.get("version", 0)) + 1
        doc = self._version_doc(call, call.body, rec.id, version, latest.get("createdDate", rec.created), now,
                                latest.get("createdBy", self._user(call)), schema_id, content_type, mappings,
                                [m.get("id") for m in latest.get("mappings") or []])
        versions = list(latest.get("versions") or []) + [doc]
        self.store.replace(call.tenant, "mappingSet", rec.id, {**doc, "versions": versions}, updated=now,
                           name=doc.get("name"), state="PUBLISHED", parent=schema_id)
        return Reply(200, doc)

    # -- reads ----------------------------------------------------------------------------------------------------------
    def get(self, call: Call) -> Reply:
        rec = self._record(call)
        raw = call.arg("version")
        if raw is not None and raw != "":
            try:
                version = int(raw)
            except ValueError:
                raise _bad(f"Invalid version {raw!r}: it must be an integer.") from None
            doc = get_mapping_set(self.platform, call.tenant, rec.id, version)
            if doc is None:
                raise errors.problem(404, "NotFoundError", f"The mapping set {rec.id} has no version {version}.")
        else:
            doc = _public(rec.doc)
        if (call.arg("expandSchema") or "").lower() == "true":
            from . import schemaregistry

            resolved = schemaregistry.resolved_schema(self.platform, call.tenant, doc.get("xdmSchema", ""),
                                                      text=True)
            if resolved is not None:
                doc["outputSchema"]["jsonSchema"] = resolved
        return Reply(200, doc)

    def list(self, call: Call) -> Reply:
        try:
            limit = int(call.arg("limit") or DEFAULT_LIMIT)
            start = int(call.arg("start") or 0)
        except ValueError:
            raise _bad("limit and start must be integers.") from None
        if not 1 <= limit <= MAX_LIMIT or start < 0:
            raise _bad(f"limit must be between 1 and {MAX_LIMIT} and start must not be negative.")
        docs = [_public(r.doc) for r in self.store.select(call.tenant, "mappingSet")]
        name = call.arg("name")
        if name:
            docs = [d for d in docs if d.get("name") == name]
        order = call.arg("orderBy") or "updatedDate"
        desc = order.startswith("-")
        fld = order.lstrip("+- ")
        key = {"createdDate": "createdDate", "updatedDate": "modifiedDate", "lastUpdateDate": "modifiedDate",
               "modifiedDate": "modifiedDate"}.get(fld)
        if key is None:
            raise _bad(f"Invalid orderBy {order!r}: use createdDate or updatedDate, prefixed with + or -.")
        docs.sort(key=lambda d: (d.get(key) or 0, d.get("id", "")), reverse=desc)
        page = docs[start:start + limit]
        body: dict[str, Any] = {"data": page, "_page": {"count": len(docs), "limit": limit}}
        if start + limit < len(docs):
            body["_links"] = {"next": {"href": f"{BASE}/mappingSets?limit={limit}&start={start + limit}",
                                       "templated": False}}
        else:
            body["_links"] = {}
        return Reply(200, body)

    def list_mappings(self, call: Call) -> Reply:
        rec = self._record(call)
        return Reply(200, copy.deepcopy(rec.doc.get("mappings") or []))

    def get_mapping(self, call: Call) -> Reply:
        rec = self._record(call)
        for m in rec.doc.get("mappings") or []:
            if m.get("id") == call.params["mid"]:
                return Reply(200, copy.deepcopy(m))
        raise errors.problem(404, "NotFoundError",
                             f"The mapping {call.params['mid']} was not found in mapping set {rec.id}.")

    # -- validate / preview -------------------------------------------------------------------------------------------------
    def validate(self, call: Call) -> Reply:
        _sid, _ct, mappings, _resolved, problems = self._check(call, call.body)
        by_index: dict[int, list[dict[str, Any]]] = {}
        for p in problems:
            by_index.setdefault(p["mappingIndex"], []).append(
                {"destination": p["destination"], "exception": p["message"], "source": p["source"],
                 "columnName": p["source"] if p["sourceType"] == "ATTRIBUTE" else None,
                 "sourceType": p["sourceType"]})
        out = []
        for i in range(len(mappings)):
            errs = by_index.get(i)
            out.append({"status": "FAILED" if errs else "SUCCESS", "errors": errs or None})
        return Reply(200, {"validationResponse": out})

    def _context(self):
        from ..engine.expressions import EvalContext

        clock = self.platform.clock
        return EvalContext(clock=lambda: _dt.datetime.fromtimestamp(clock.peek_ms() / 1000, tz=_dt.timezone.utc),
                           uuid_factory=self.platform.ids.uuid)

    def preview(self, call: Call) -> Reply:
        body = call.body
        if not isinstance(body, dict) or not isinstance(body.get("mappingSet"), dict):
            raise _bad("The preview body needs 'data' (an array of source records) and 'mappingSet'.")
        data = body.get("data")
        if isinstance(data, dict):
            data = [data]
        if isinstance(data, list) and len(data) > MAX_PREVIEW_ROWS:
            raise _bad(f"'data' has {len(data):,} source records; a preview takes at most {MAX_PREVIEW_ROWS:,}: "
                       "preview a sample of the data.")
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise _bad("'data' must be an array of source records (JSON objects).")
        schema_id, content_type, mappings, resolved, problems = self._check(call, body["mappingSet"])
        self._raise(problems)
        mod = _mapping_module()
        if mod is None:
            raise errors.problem(503, "ServiceUnavailableError",
                                 "The Data Prep mapping engine (aep_magics.local.engine.mapping) is not available.")
        try:
            compiled = mod.compile_mappings(mod.normalise_mappings(
                {"outputSchema": {"schemaRef": {"id": schema_id, "contentType": content_type}},
                 "mappings": mappings}), source_columns=None)
        except getattr(mod, "MappingError", ValueError) as exc:
            raise _bad(f"The mapping set is invalid: {exc}", title="Invalid mapping set") from None
        results = compiled.apply_rows(copy.deepcopy(data), self._context())
        from ..xdm import coerce_record

        out = []
        for res in results:
            nested = res.get("data") if isinstance(res, dict) else None
            errs = list((res.get("errors") if isinstance(res, dict) else None) or [])
            coerced, problems2 = coerce_record(resolved, nested or {})
            for p in problems2:
                errs.append({"destination": p["destination"], "exception": p["message"], "source": None,
                             "columnName": p["destination"], "sourceType": None})
            out.append({"data": coerced, "errors": errs or None})
        return Reply(200, out)

    # -- expression language -------------------------------------------------------------------------------------------
    def functions(self, call: Call) -> Reply:
        return Reply(200, function_catalogue())

    def operators(self, call: Call) -> Reply:
        return Reply(200, OPERATOR_CATALOGUE)

    def validate_expression(self, call: Call) -> Reply:
        body = call.body
        expr = body.get("expression") if isinstance(body, dict) else body
        if isinstance(expr, dict):
            expr = expr.get("expression")
        if not isinstance(expr, str):
            raise _bad("The body must be {\"expression\": {\"expression\": \"...\"}}.")
        try:
            from ..engine.expressions import ExpressionError, compile_expression
        except ImportError:  # pragma: no cover
            raise errors.problem(503, "ServiceUnavailableError", "The expression engine is not available.") from None
        try:
            compile_expression(expr)
        except ExpressionError:
            return Reply(200, False)
        return Reply(200, True)


# --------------------------------------------------------------------------------------------------------------------
# the function catalogue (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions; names restricted to what the engine implements when it is there)
# --------------------------------------------------------------------------------------------------------------------
_CATALOGUE: list[tuple[str, str, str, str, str, str]] = [
    # (category, function, syntax, returnType, example, result)
    ("String", "concat", "String concat(String...)", "java.lang.String", 'concat("Hi, ", "there", "!")', '"Hi, there!"'),
    ("String", "explode", "String[] explode(String, String)", "java.lang.String[]", 'explode("Hi, there!", " ")',
     '["Hi,", "there"]'),
    ("String", "instr", "int instr(String, String, int, int)", "java.lang.Integer", 'instr("adobe.com", "com")', "6"),
    ("String", "replacestr", "String replacestr(String, String, String)", "java.lang.String",
     'replacestr("This is a string re test", "re", "replace")', '"This is a string replace test"'),
    ("String", "substr", "String substr(String, int, int)", "java.lang.String",
     'substr("This is a substring test", 7, 8)', '" a subst"'),
    ("String", "lower", "String lower(String)", "java.lang.String", 'lower("HeLLo")', '"hello"'),
    ("String", "lcase", "String lcase(String)", "java.lang.String", 'lcase("HeLLo")', '"hello"'),
    ("String", "upper", "String upper(String)", "java.lang.String", 'upper("HeLLo")', '"HELLO"'),
    ("String", "ucase", "String ucase(String)", "java.lang.String", 'ucase("HeLLo")', '"HELLO"'),
    ("String", "split", "String[] split(String, String)", "java.lang.String[]", 'split("Hello world", " ")',
     '["Hello", "world"]'),
    ("String", "join", "String join(String, Object...)", "java.lang.String",
     'join(" ", to_array(true, "Hello", "world"))', '"Hello world"'),
    ("String", "lpad", "String lpad(String, int, String)", "java.lang.String", 'lpad("bat", 8, "yz")', '"yzyzybat"'),
    ("String", "rpad", "String rpad(String, int, String)", "java.lang.String", 'rpad("bat", 8, "yz")', '"batyzyzy"'),
    ("String", "left", "String left(String, int)", "java.lang.String", 'left("abcde", 2)', '"ab"'),
    ("String", "right", "String right(String, int)", "java.lang.String", 'right("abcde", 2)', '"de"'),
    ("String", "ltrim", "String ltrim(String)", "java.lang.String", 'ltrim(" hello")', '"hello"'),
    ("String", "rtrim", "String rtrim(String)", "java.lang.String", 'rtrim("hello ")', '"hello"'),
    ("String", "trim", "String trim(String)", "java.lang.String", 'trim(" hello ")', '"hello"'),
    ("Regular expressions", "extract_regex", "String[] extract_regex(String, String)", "java.lang.String[]",
     'extract_regex("E259,E259B_009,1_1", "([^,]+),[^,]*,([^,]+)")', '["E259,E259B_009,1_1", "E259", "1_1"]'),
    ("Regular expressions", "matches_regex", "boolean matches_regex(String, String)", "java.lang.Boolean",
     'matches_regex("E259,E259B_009,1_1", "([^,]+),[^,]*,([^,]+)")', "true"),
    ("Hashing", "sha1", "String sha1(String, String)", "java.lang.String", 'sha1("my text", "UTF-8")', ""),
    ("Hashing", "sha256", "String sha256(String, String)", "java.lang.String", 'sha256("my text", "UTF-8")',
     '"7330d2b39ca35eaf4cb95fc846c21ee6a39af698154a83a586ee270a0d372104"'),
    ("Hashing", "sha512", "String sha512(String, String)", "java.lang.String", 'sha512("my text", "UTF-8")', ""),
    ("Hashing", "md5", "String md5(String, String)", "java.lang.String", 'md5("my text", "UTF-8")',
     '"d3b96ce8c9fb4e9bd0198d03ba6852c7"'),
    ("Hashing", "crc32", "String crc32(String, String)", "java.lang.String", 'crc32("my text", "UTF-8")', '"8df92e80"'),
    ("URL", "get_url_protocol", "String get_url_protocol(String)", "java.lang.String",
     'get_url_protocol("https://platform.adobe.com/home")', '"https"'),
    ("URL", "get_url_host", "String get_url_host(String)", "java.lang.String",
     'get_url_host("https://platform.adobe.com/home")', '"platform.adobe.com"'),
    ("URL", "get_url_port", "int get_url_port(String)", "java.lang.Integer",
     'get_url_port("sftp://example.com//home/joe/employee.csv")', "22"),
    ("URL", "get_url_path", "String get_url_path(String, boolean)", "java.lang.String",
     'get_url_path("sftp://example.com//home/joe/employee.csv")', '"//home/joe/employee.csv"'),
    ("URL", "get_url_query_str", "Map get_url_query_str(String, String)", "java.util.Map",
     'get_url_query_str("foo://example.com:8042/over/there?name=ferret#nose", "append")',
     '{"name": "ferret", "_anchor_": "nose"}'),
    ("URL", "get_url_encoded", "String get_url_encoded(String)", "java.lang.String",
     'get_url_encoded("https://example.com/partneralliance_asia-pacific_2022")',
     '"https%3A%2F%2Fexample.com%2Fpartneralliance_asia-pacific_2022"'),
    ("URL", "get_url_decoded", "String get_url_decoded(String)", "java.lang.String",
     'get_url_decoded("https%3A%2F%2Fexample.com%2Fpartneralliance_asia-pacific_2022")',
     '"https://example.com/partneralliance_asia-pacific_2022"'),
    ("Date and time", "now", "ZonedDateTime now()", "java.time.ZonedDateTime", "now()", '"2021-10-26T10:10:24Z"'),
    ("Date and time", "timestamp", "long timestamp()", "java.lang.Long", "timestamp()", "1571850624571"),
    ("Date and time", "format", "String format(ZonedDateTime, String)", "java.lang.String",
     'format(date("2019-10-23 11:24:00", "yyyy-MM-dd HH:mm:ss"), "yyyy-MM-dd HH:mm:ss")', '"2019-10-23 11:24:00"'),
    ("Date and time", "dformat", "String dformat(long, String)", "java.lang.String",
     'dformat(1571829875000, "yyyy-MM-dd\'T\'HH:mm:ss.SSSX")', '"2019-10-23T11:24:35.000Z"'),
    ("Date and time", "date", "ZonedDateTime date(String, String, ZonedDateTime)", "java.time.ZonedDateTime",
     'date("2019-10-23 11:24", "yyyy-MM-dd HH:mm")', '"2019-10-23T11:24:00Z"'),
    ("Date and time", "date_part", "int date_part(String, ZonedDateTime)", "java.lang.Integer",
     'date_part("MM", date("2019-10-17 11:55:12"))', "10"),
    ("Date and time", "set_date_part", "ZonedDateTime set_date_part(String, int, ZonedDateTime)",
     "java.time.ZonedDateTime", 'set_date_part("m", 4, date("2016-11-09T11:44:44.797"))', '"2016-04-09T11:44:44Z"'),
    ("Date and time", "make_date_time", "ZonedDateTime make_date_time(int, int, int, int, int, int, int, String)",
     "java.time.ZonedDateTime", 'make_date_time(2019, 10, 17, 11, 55, 12, 999, "America/Los_Angeles")',
     '"2019-10-17T11:55:12Z"'),
    ("Date and time", "make_timestamp", "ZonedDateTime make_timestamp(int, int, int, int, int, int, int, String)",
     "java.time.ZonedDateTime", 'make_timestamp(2019, 10, 17, 11, 55, 12, 999, "America/Los_Angeles")',
     '"2019-10-17T11:55:12Z"'),
    ("Date and time", "zone_date_to_utc", "ZonedDateTime zone_date_to_utc(ZonedDateTime)", "java.time.ZonedDateTime",
     "zone_date_to_utc(now())", ""),
    ("Date and time", "zone_date_to_zone", "ZonedDateTime zone_date_to_zone(ZonedDateTime, String)",
     "java.time.ZonedDateTime", 'zone_date_to_zone(now(), "Europe/Paris")', ""),
    ("Hierarchies - Objects", "is_empty", "boolean is_empty(Object)", "java.lang.Boolean", "is_empty([1, null, 2, 3])",
     "false"),
    ("Hierarchies - Objects", "arrays_to_object", "Object[] arrays_to_object(Object...)", "java.lang.Object[]",
     "arrays_to_object('sku', explode(\"id1|id2\", '\\\\|'), 'price', [22.5,14.35])",
     '[{"sku": "id1", "price": 22.5}, {"sku": "id2", "price": 14.35}]'),
    ("Hierarchies - Objects", "to_object", "Object to_object(Object...)", "java.lang.Object",
     'to_object("firstName", "John", "lastName", "Doe")', '{"firstName": "John", "lastName": "Doe"}'),
    ("Hierarchies - Objects", "str_to_object", "Object str_to_object(String, String, String)", "java.lang.Object",
     'str_to_object("firstName=John,lastName=Doe", "=", ",")', '{"firstName": "John", "lastName": "Doe"}'),
    ("Hierarchies - Objects", "contains_key", "boolean contains_key(String)", "java.lang.Boolean",
     'contains_key("evars.evar.field1")', "true"),
    ("Hierarchies - Objects", "nullify", "Object nullify()", "java.lang.Object", "nullify()", "null"),
    ("Hierarchies - Objects", "get_keys", "String[] get_keys(Object)", "java.lang.String[]",
     'get_keys({"book1": "Pride and Prejudice", "book2": "1984"})', '["book1", "book2"]'),
    ("Hierarchies - Objects", "get_values", "String get_values(String, String, String, String)", "java.lang.String",
     'get_values("firstName - John , lastName - Cena , phone - 555 420 8692", "firstName", "-", ",")', '"John"'),
    ("Hierarchies - Arrays", "coalesce", "T coalesce(T...)", "java.lang.Object",
     'coalesce(null, null, null, "first", null, "second")', '"first"'),
    ("Hierarchies - Arrays", "first", "T first(T...)", "java.lang.Object", 'first("1", "2", "3")', '"1"'),
    ("Hierarchies - Arrays", "last", "T last(T...)", "java.lang.Object", 'last("1", "2", "3")', '"3"'),
    ("Hierarchies - Arrays", "add_to_array", "Object[] add_to_array(Object[], Object...)", "java.lang.Object[]",
     "add_to_array(['a', 'b'], 'c', 'd')", "['a', 'b', 'c', 'd']"),
    ("Hierarchies - Arrays", "join_arrays", "Object[] join_arrays(Object[], Object[]...)", "java.lang.Object[]",
     "join_arrays(['a', 'b'], ['c'], ['d', 'e'])", "['a', 'b', 'c', 'd', 'e']"),
    ("Hierarchies - Arrays", "to_array", "Object[] to_array(boolean, Object...)", "java.lang.Object[]",
     "to_array(false, 1, null, 2, 3)", "[1, 2, 3]"),
    ("Hierarchies - Arrays", "size_of", "int size_of(Object)", "java.lang.Integer", "size_of([1, 2, 3, 4])", "4"),
    ("Hierarchies - Arrays", "upsert_array_append", "Object[] upsert_array_append(Object[])", "java.lang.Object[]",
     "upsert_array_append([123, 456])", "[123, 456]"),
    ("Hierarchies - Arrays", "upsert_array_replace", "Object[] upsert_array_replace(Object[])", "java.lang.Object[]",
     "upsert_array_replace([123, 456])", "[123, 456]"),
    ("Logical operators", "decode", "T decode(K, K, T, ..., T)", "java.lang.Object",
     'decode("ca", "ca", "California", "pa", "Pennsylvania", "N/A")', '"California"'),
    ("Logical operators", "iif", "T iif(boolean, T, T)", "java.lang.Object",
     'iif("s".equalsIgnoreCase("S"), "True", "False")', '"True"'),
    ("Aggregation", "min", "T min(T...)", "java.lang.Object", "min(3, 1, 4)", "1"),
    ("Aggregation", "max", "T max(T...)", "java.lang.Object", "max(3, 1, 4)", "4"),
    ("Type conversions", "to_bigint", "BigInteger to_bigint(String)", "java.math.BigInteger",
     'to_bigint("1000000.34")', "1000000.34"),
    ("Type conversions", "to_decimal", "Double to_decimal(String)", "java.lang.Double", 'to_decimal("20.5")', "20.5"),
    ("Type conversions", "to_float", "Float to_float(String)", "java.lang.Float", 'to_float("12.3456")', "12.34566"),
    ("Type conversions", "to_integer", "Integer to_integer(String)", "java.lang.Integer", 'to_integer("12")', "12"),
    ("JSON functions", "json_to_object", "Object json_to_object(String)", "java.lang.Object",
     'json_to_object("{\\"a\\": 1}")', '{"a": 1}'),
    ("Special operations", "uuid", "String uuid()", "java.lang.String", "uuid()",
     '"7c0267d2-bb74-4e1a-9275-3bf4fccda5f4"'),
    ("Special operations", "guid", "String guid()", "java.lang.String", "guid()",
     '"c7016dc7-3163-43f7-afc7-2e1c9c206333"'),
]

OPERATOR_CATALOGUE = [
    {"operator": op, "category": cat, "description": desc}
    for op, cat, desc in [
        ("+", "Arithmetic", "addition (numbers) or concatenation (strings)"), ("-", "Arithmetic", "subtraction"),
        ("*", "Arithmetic", "multiplication"), ("/", "Arithmetic", "division (also div)"),
        ("%", "Arithmetic", "remainder (also mod)"), ("==", "Comparison", "equal (also eq)"),
        ("!=", "Comparison", "not equal (also ne)"), ("<", "Comparison", "less than (also lt)"),
        ("<=", "Comparison", "less than or equal (also le)"), (">", "Comparison", "greater than (also gt)"),
        (">=", "Comparison", "greater than or equal (also ge)"), ("&&", "Logical", "and (also and)"),
        ("||", "Logical", "or (also or)"), ("!", "Logical", "not (also not)"),
        ("? :", "Conditional", "ternary: condition ? value if true : value if false"),
    ]
]


def function_catalogue() -> list[dict[str, Any]]:
    """Function descriptors in the documented shape (``category``, ``function``, ``syntax``, ``returnType``,
    ``since``, ``params``, ``example``, ``result``), limited to the functions the engine implements when it can
    tell."""
    try:
        from ..engine import functions as F

        implemented = set(F.FUNCTIONS)
    except ImportError:  # pragma: no cover
        implemented = None
    out = []
    for cat, fn, syntax, rtype, example, result in _CATALOGUE:
        if implemented is not None and fn not in implemented:
            continue
        params = []
        inner = syntax[syntax.index("(") + 1: syntax.rindex(")")]
        for i, p in enumerate(x.strip() for x in inner.split(",") if x.strip()):
            params.append({"name": f"arg{i + 1}", "type": p})
        out.append({"category": cat, "function": fn, "syntax": syntax, "returnType": rtype, "since": 1,
                    "params": params, "example": example, "result": result})
    return out
