"""Flow Service list queries: ``property`` filters, ``orderby``, ``limit``/``continuationToken`` paging, ``count``
(https://experienceleague.adobe.com/en/docs/experience-platform/dataflows/api/sort-and-filter), translated to SQL over :meth:`Store.select` -- a collection is never loaded into Python to be
filtered. Also the PQL evaluator used by ``explore?preview=true&filters=...`` (https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/explore/ecommerce).

Filter grammar: ``property=<path><op><value>[,<value>...]``; ``op`` is one of ``== != > < >= <=``; comma-separated
values are ORed; repeated ``property`` parameters are ANDed; ``a.b.c`` walks objects, ``arr[]`` walks array items
(``sourceConnectionIds[]==x``, ``params.columns[].name==Email``); values may be quoted (``name=="CRMToAEP"``).

Paging is keyset-based: the continuation token carries the sort key and the store sequence number of the last row
handed out, so rows inserted or deleted between pages never make a page skip or repeat a row.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from . import errors
from .errors import ServiceError
from .store import Record, Store, Tenant

#: Page size when the caller gives no ``limit`` (UNCONFIRMED: the real default is not documented).
DEFAULT_LIMIT = 100
#: Largest page served (FlowFilterRequest documents ``maximum: 1000``).
MAX_LIMIT = 1000
#: Most ``property`` filters, and most values over all of them, in one list call. Adobe documents no limit; more
#: would exceed what one SQL statement can hold (docs/deviations.md, "Limits").
MAX_FILTERS = 100
MAX_FILTER_VALUES = 1000
#: The integers SQLite stores (64-bit): a continuation token carries nothing outside them.
_SQL_INT = (-(1 << 63), (1 << 63) - 1)

LIST_PARAMS = frozenset({"property", "orderby", "limit", "continuationToken", "count"})
_OPS = ("==", "!=", ">=", "<=", ">", "<")
_ORDERED = {">": ">", "<": "<", ">=": ">=", "<=": "<="}
_SEGMENT = r"[A-Za-z_@$][\w@$:-]*"
_FIELD_RE = re.compile(rf"^{_SEGMENT}(?:\[\])?(?:\.(?:{_SEGMENT}|\d+)(?:\[\])?)*$")
_FILTER_RE = re.compile(r"^(?P<field>[^=!<>~]*?)(?P<op>[=!<>~]+)(?P<value>.*)$", re.S)
_INT_RE = re.compile(r"^-?\d+$")
_FLOAT_RE = re.compile(r"^-?\d+\.\d+(?:[eE][-+]?\d+)?$")


def _number(text: str) -> int | float:
    """An integer text as a number SQLite can bind: int up to 18 digits, else float (huge values become inf)."""
    return int(text) if len(text.strip().lstrip("-")) <= 18 else float(text)


@dataclass(frozen=True)
class Collection:
    """One Flow Service list: its URL segment, store kind, filterable root fields and indexed columns."""

    name: str                                   # "flows" -- the URL segment and the error ``type``
    kind: str                                   # store kind
    fields: frozenset[str]                      # root fields that may be filtered / ordered on
    columns: Mapping[str, str] = field(default_factory=dict)   # field -> indexed store column
    numeric: frozenset[str] = frozenset({"createdAt", "updatedAt"})
    #: Paths never filterable (secret-bearing); refused as invalid fields.
    hidden: tuple[str, ...] = ("auth.params",)


_AUDIT = {"id", "createdAt", "updatedAt", "createdBy", "updatedBy", "createdClient", "updatedClient", "sandboxId",
          "sandboxName", "imsOrgId", "name", "description", "state", "version", "etag"}
_COLUMNS = {"id": "id", "name": "name", "state": "state", "createdAt": "created", "updatedAt": "updated"}
_CONNECTION_FIELDS = {"connectionSpec", "baseConnectionId", "data", "params", "providerRefId", "inheritedAttributes"}

CONNECTIONS = Collection("connections", "connection", frozenset(_AUDIT | {"connectionSpec", "auth"}), _COLUMNS)
SOURCE_CONNECTIONS = Collection(
    "sourceConnections", "sourceConnection",
    frozenset(_AUDIT | _CONNECTION_FIELDS),
    _COLUMNS)
TARGET_CONNECTIONS = Collection(
    "targetConnections", "targetConnection",
    frozenset(_AUDIT | _CONNECTION_FIELDS),
    _COLUMNS)
FLOWS = Collection(
    "flows", "flow",
    frozenset(_AUDIT | {"flowSpec", "sourceConnectionIds", "targetConnectionIds", "inheritedAttributes",
                        "scheduleParams", "transformations", "runs", "lastOperation", "lastRunDetails", "options",
                        "providerRefId"}),
    _COLUMNS)
RUNS = Collection(
    "runs", "run",
    frozenset(_AUDIT | {"flowId", "flowSpec", "providerRefId", "eTag", "metrics", "activities", "params"}),
    {"id": "id", "flowId": "parent", "createdAt": "created", "updatedAt": "updated"})
CONNECTION_SPECS = Collection(
    "connectionSpecs", "connectionSpec",
    frozenset({"id", "name", "providerId", "version", "authSpec", "sourceSpec", "targetSpec", "exploreSpec",
               "attributes", "permissionsInfo"}),
    {"id": "id", "name": "name"})
FLOW_SPECS = Collection(
    "flowSpecs", "flowSpec",
    frozenset({"id", "name", "providerId", "version", "attributes", "sourceConnectionSpecIds",
               "targetConnectionSpecIds", "permissionsInfo", "optionSpec", "scheduleSpec", "transformationSpec",
               "transformationSpecs", "runSpec"}),
    {"id": "id", "name": "name"})


def invalid(code: str, message: str, request_id: str = "") -> ServiceError:
    return errors.flow(code, "Invalid request", message, request_id=request_id)


# ---------------------------------------------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Filter:
    field: str
    op: str
    values: list[tuple[str, bool]]              # (text, quoted)


@dataclass
class ListQuery:
    filters: list[Filter]
    order_field: str | None
    descending: bool
    limit: int | None
    count: bool
    cursor: dict[str, Any] | None

    @property
    def orderby(self) -> str:
        if not self.order_field:
            return ""
        return ("-" if self.descending else "") + self.order_field


def parse(query: Mapping[str, list[str]], coll: Collection, *, extra_params: Iterable[str] = (),
          request_id: str = "") -> ListQuery:
    """Validate and parse the list parameters of one request (raising the documented Flow Service errors)."""
    allowed = LIST_PARAMS | set(extra_params)
    for name in query:
        if name not in allowed:
            raise invalid("1451-400", f"Invalid params {name} provided in query params.", request_id)

    raw_filters = [raw for raw in query.get("property", []) if raw != ""]
    if len(raw_filters) > MAX_FILTERS:
        raise invalid("1453-400", f"Too many property filters ({len(raw_filters):,}): AEP Local takes at most "
                      f"{MAX_FILTERS} in one request; combine values as property=field==a,b,c.", request_id)
    filters = [_parse_filter(raw, coll, request_id) for raw in raw_filters]
    if sum(len(f.values) for f in filters) > MAX_FILTER_VALUES:
        raise invalid("1453-400", f"Too many filter values: AEP Local takes at most {MAX_FILTER_VALUES:,} values "
                      "over all property filters of one request.", request_id)

    order_field, descending = None, False
    orderby = _first(query, "orderby")
    if orderby:
        order_field, descending = _parse_orderby(orderby, coll, request_id)

    count = False
    raw_count = _first(query, "count")
    if raw_count is not None:
        if raw_count.lower() not in ("true", "false"):
            raise invalid("1453-400", f"Invalid query value count={raw_count} provided in query param.", request_id)
        count = raw_count.lower() == "true"

    limit = None
    raw_limit = _first(query, "limit")
    if raw_limit is not None:
        if count:
            raise invalid("1401-400", "The limit and count parameters cannot be given together in the same request. "
                          "Please provide either only the limit or the count parameter and try again.", request_id)
        if not _INT_RE.match(raw_limit.strip()) or _number(raw_limit) <= 0:
            raise invalid("1453-400", f"Invalid query value limit={raw_limit} provided in query param.", request_id)
        limit = int(min(_number(raw_limit), MAX_LIMIT))

    cursor = None
    token = _first(query, "continuationToken")
    if token and not count:
        cursor = decode_token(token, request_id)
        if cursor.get("o", "") != (("-" if descending else "") + order_field if order_field else ""):
            raise invalid("1453-400", f"Invalid query value continuationToken={token} provided in query param.",
                          request_id)
    return ListQuery(filters, order_field, descending, limit, count, cursor)


def _first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _parse_filter(raw: str, coll: Collection, request_id: str) -> Filter:
    m = _FILTER_RE.match(raw)
    if not m:
        raise invalid("1453-400", f"Invalid query value {raw} provided in query param.", request_id)
    fld, op, value = m.group("field").strip(), m.group("op"), m.group("value")
    if "~" in op:
        raise invalid("1440-400", "Operator '~' not implemented.", request_id)
    if op not in _OPS:
        if op[:2] in ("==", "!=", ">=", "<=") and op[2:3] not in ("=", ">", "<", "!"):
            op, value = op[:2], op[2:] + value
        else:
            raise invalid("1450-400", f"Invalid operator {op} in filter params.", request_id)
    if not fld or not _FIELD_RE.match(fld):
        raise invalid("1449-400", f"Invalid field {fld} in filter params.", request_id)
    root = fld.split(".", 1)[0].removesuffix("[]")
    plain = fld.replace("[]", "")
    if root not in coll.fields or any(plain == h or plain.startswith(h + ".") for h in coll.hidden):
        raise invalid("1449-400", f"Invalid field {fld} in filter params.", request_id)
    if value.strip() == "":
        raise invalid("1453-400", f"Invalid query value {raw} provided in query param.", request_id)
    values = _split_values(value)
    if op in _ORDERED and len(values) > 1:
        raise invalid("1443-400", f"Operator '{op}' is not allowed for multiple values.", request_id)
    if op in _ORDERED and plain == "id":
        raise invalid("1448-400", f"Operator {op} not supported for field id.", request_id)
    if plain in coll.numeric and any(q or not (_INT_RE.match(v) or _FLOAT_RE.match(v)) for v, q in values):
        raise invalid("1452-400", f"Invalid value {value} for field {plain}.", request_id)
    return Filter(fld, op, values)


def _split_values(text: str) -> list[tuple[str, bool]]:
    """Split ``a,"b,c",'d'`` on commas outside quotes; quoted values keep their content verbatim."""
    out: list[tuple[str, bool]] = []
    buf: list[str] = []
    quote: str | None = None
    quoted = False
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
            else:
                buf.append(ch)
        elif ch in "\"'" and not "".join(buf).strip():
            quote, quoted = ch, True
            buf = []
        elif ch == ",":
            out.append(("".join(buf) if quoted else "".join(buf).strip(), quoted))
            buf, quoted = [], False
        else:
            buf.append(ch)
    out.append(("".join(buf) if quoted else "".join(buf).strip(), quoted))
    return out


def _parse_orderby(raw: str, coll: Collection, request_id: str) -> tuple[str, bool]:
    text = raw.strip()
    # A literal '+' arrives as a space when the client did not percent-encode it.
    if raw[:1] == " ":
        text = "+" + text
    if not text:  # only whitespace (a tab, a newline, a no-break space): no field at all
        raise invalid("1433-400", "Incorrect field=  passed in orderBy, example are +name, -name, name.", request_id)
    sign, name = (text[0], text[1:]) if text[0] in "+-" else ("+", text)
    if name[:1] in "+-" or name[-1:] in "+-":
        raise invalid("1432-400", "Sort order specified is not correct, prepend + for ascending order and - for "
                      "descending order in the fieldName.", request_id)
    root = name.split(".", 1)[0]
    if not name or "[]" in name or not _FIELD_RE.match(name) or root not in coll.fields:
        raise invalid("1433-400", f"Incorrect field= {name} passed in orderBy, example are +name, -name, name.",
                      request_id)
    return name, sign == "-"


# ---------------------------------------------------------------------------------------------------------------
# SQL
# ---------------------------------------------------------------------------------------------------------------
def json_path(fld: str) -> str:
    """``a.b.0.c`` -> ``$."a"."b"[0]."c"`` (segments are validated identifiers: no quotes can occur)."""
    out = "$"
    for seg in fld.split(".") if fld else []:
        out += f"[{seg}]" if seg.isdigit() else f'."{seg}"'
    return out


def _candidates(values: list[tuple[str, bool]]) -> list[Any]:
    """Every value a text may stand for: the text itself, and unquoted numbers / booleans as such."""
    out: list[Any] = []
    for text, quoted in values:
        out.append(text)
        if quoted:
            continue
        if _INT_RE.match(text):
            out.append(_number(text))
        elif _FLOAT_RE.match(text):
            out.append(float(text))
        elif text in ("true", "false"):
            out.append(1 if text == "true" else 0)
    return out


def _typed(text: str, quoted: bool) -> Any:
    if not quoted:
        if _INT_RE.match(text):
            return _number(text)
        if _FLOAT_RE.match(text):
            return float(text)
    return text


def _compare(expr: str, expr_params: list[Any], f: Filter) -> tuple[str, list[Any]]:
    if f.op in _ORDERED:
        text, quoted = f.values[0]
        return f"{expr} {_ORDERED[f.op]} ?", [*expr_params, _typed(text, quoted)]
    cands = _candidates(f.values)
    marks = ",".join("?" * len(cands))
    if f.op == "==":
        return f"{expr} IN ({marks})", [*expr_params, *cands]
    return f"({expr} IS NULL OR {expr} NOT IN ({marks}))", [*expr_params, *expr_params, *cands]


def _filter_sql(f: Filter, coll: Collection, depth: int = 0) -> tuple[str, list[Any]]:
    if "[]" in f.field:
        return _array_sql(f.field.split("[]"), "doc", f, depth)
    if f.field in coll.columns:
        return _compare(coll.columns[f.field], [], f)
    path = json_path(f.field)
    sql, params = _compare("json_extract(doc, ?)", [path], f)
    if f.op == "==":
        # A plain path naming an array matches when any item matches (``sourceConnectionIds==x``).
        cands = _candidates(f.values)
        marks = ",".join("?" * len(cands))
        sql = (f"({sql} OR (json_type(doc, ?) = 'array' AND EXISTS (SELECT 1 FROM json_each(doc, ?) "
               f"WHERE value IN ({marks}))))")
        params += [path, path, *cands]
    return sql, params


def _array_sql(parts: list[str], src: str, f: Filter, depth: int) -> tuple[str, list[Any]]:
    """``a.b[].c[].d`` split on ``[]`` -> nested ``EXISTS (SELECT 1 FROM json_each(...))``."""
    if f.op == "!=":
        # "no item equals": the negation of "some item equals"
        sql, params = _array_sql(parts, src, Filter(f.field, "==", f.values), depth)
        return f"NOT {sql}", params
    alias = f"je{depth}"
    head, rest = parts[0].strip("."), parts[1:]
    path = json_path(head)
    if len(rest) == 1 and rest[0].strip(".") == "":
        inner, inner_params = _compare(f"{alias}.value", [], f)
    elif len(rest) == 1:
        inner, inner_params = _compare(f"json_extract({alias}.value, ?)", [json_path(rest[0].strip("."))], f)
    else:
        inner, inner_params = _array_sql(rest, f"{alias}.value", f, depth + 1)
    return f"EXISTS (SELECT 1 FROM json_each({src}, ?) AS {alias} WHERE {inner})", [path, *inner_params]


def _order_expr(q: ListQuery, coll: Collection) -> str:
    if not q.order_field:
        return "seq"
    if q.order_field in coll.columns:
        return coll.columns[q.order_field]
    return f"json_extract(doc, '{json_path(q.order_field)}')"


def where_clause(q: ListQuery, coll: Collection) -> tuple[str, list[Any]]:
    parts, params = [], []
    for f in q.filters:
        sql, p = _filter_sql(f, coll)
        parts.append(sql)
        params += p
    return " AND ".join(parts), params


def _after_cursor(key: str, cursor: dict[str, Any], descending: bool) -> tuple[str, list[Any]]:
    v, s = cursor.get("k"), int(cursor["s"])
    if key == "seq":
        return "seq > ?", [s]
    if not descending:           # NULLs sort first ascending
        if v is None:
            return f"({key} IS NOT NULL OR seq > ?)", [s]
        return f"({key} > ? OR ({key} = ? AND seq > ?))", [v, v, s]
    if v is None:                # NULLs sort last descending
        return f"({key} IS NULL AND seq > ?)", [s]
    return f"({key} < ? OR {key} IS NULL OR ({key} = ? AND seq > ?))", [v, v, s]


def _sort_value(record: Record, q: ListQuery, coll: Collection) -> Any:
    name = q.order_field
    if not name:
        return None
    column = coll.columns.get(name)
    if column == "id":
        return record.id
    if column == "created":
        return record.created
    if column == "updated":
        return record.updated
    value: Any = record.doc
    for seg in name.split("."):
        if isinstance(value, dict):
            value = value.get(seg)
        elif isinstance(value, list) and seg.isdigit() and int(seg) < len(value):
            value = value[int(seg)]
        else:
            value = None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


def encode_token(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, request_id: str = "") -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        if not isinstance(payload, dict) or not _token_value(payload.get("s"), key=True) \
                or not _token_value(payload.get("k")) or not isinstance(payload.get("o", ""), str):
            raise ValueError
        return payload
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("1453-400", f"Invalid query value continuationToken={token} provided in query param.",
                      request_id) from None


def _token_value(value: Any, *, key: bool = False) -> bool:
    """A value a continuation token may carry: the sequence number (``key``) is an integer, a sort value is null, text
    or a number -- all within what SQLite can compare."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return _SQL_INT[0] <= value <= _SQL_INT[1]
    if key:
        return False
    if isinstance(value, str):
        return value.isascii() or not any("\ud800" <= ch <= "\udfff" for ch in value)  # SQLite binds UTF-8 only
    return value is None or (isinstance(value, float) and math.isfinite(value))


def run_list(store: Store, tenant: Tenant, coll: Collection, query: Mapping[str, list[str]], *,
             render: Callable[[Record], dict[str, Any]], base_path: str | None = None,
             where: str = "", params: Sequence[Any] = (), extra_params: Iterable[str] = (),
             request_id: str = "", default_limit: int | None = DEFAULT_LIMIT) -> dict[str, Any]:
    """Answer a Flow Service list call: ``{"items": [...], "_links": {...}}`` or ``{"count": N}``.

    ``where``/``params`` add a fixed condition (e.g. ``parent = ?`` for ``/flows/{id}/runs``).
    """
    q = parse(query, coll, extra_params=extra_params, request_id=request_id)
    cond, cond_params = where_clause(q, coll)
    clauses = [c for c in (where, cond) if c]
    all_params = [*params, *cond_params]
    if q.count:
        return {"count": store.count(tenant, coll.kind, where=" AND ".join(f"({c})" for c in clauses),
                                     params=all_params)}
    key = _order_expr(q, coll)
    if q.cursor is not None:
        c, p = _after_cursor(key, q.cursor, q.descending)
        clauses.append(c)
        all_params += p
    order = "seq ASC" if key == "seq" else f"{key} {'DESC' if q.descending else 'ASC'}, seq ASC"
    size = q.limit or default_limit
    records = store.select(tenant, coll.kind, where=" AND ".join(f"({c})" for c in clauses), params=all_params,
                           order=order, limit=None if size is None else size + 1)
    more = size is not None and len(records) > size
    records = records[:size] if size is not None else records
    links: dict[str, Any] = {}
    if more and records:
        last = records[-1]
        token = encode_token({"o": q.orderby, "k": _sort_value(last, q, coll), "s": last.seq})
        pairs: list[tuple[str, Any]] = [("continuationToken", token)]
        if q.limit is not None:
            pairs.append(("limit", q.limit))
        pairs += [("property", v) for v in query.get("property", [])]
        if q.orderby:
            pairs.append(("orderby", q.orderby))
        links["next"] = {"href": f"{base_path or '/' + coll.name}?{urlencode(pairs)}"}
    return {"items": [render(r) for r in records], "_links": links}


# ---------------------------------------------------------------------------------------------------------------
# PQL (explore preview filters)
# ---------------------------------------------------------------------------------------------------------------
class PQLError(ValueError):
    pass


def decode_filters(text: str) -> dict[str, Any]:
    """The ``filters`` query parameter: base64 of a PQL JSON document (plain JSON is accepted too)."""
    text = text.strip()
    try:
        if text.startswith("{"):
            doc = json.loads(text)
        else:
            std = text.replace("-", "+").replace("_", "/")
            doc = json.loads(base64.b64decode(std + "=" * (-len(std) % 4), validate=True))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise PQLError(f"filters is not base64-encoded PQL JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise PQLError("filters must be a JSON object")
    return doc


def pql_predicate(doc: dict[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """Compile ``{"type": "PQL", "format": "pql/json", "value": {...}}`` (or a bare node) to a row predicate."""
    if "value" in doc and "nodeType" not in doc:
        if doc.get("type", "PQL") != "PQL" or doc.get("format", "pql/json") != "pql/json":
            raise PQLError("only filters of type PQL and format pql/json are supported")
        node = doc["value"]
    else:
        node = doc
    fn = _compile(node)

    def predicate(row: Mapping[str, Any]) -> bool:
        return bool(fn(row))

    return predicate


def _compile(node: Any) -> Callable[[Mapping[str, Any]], Any]:
    if not isinstance(node, dict):
        raise PQLError(f"not a PQL node: {node!r}")
    kind = node.get("nodeType")
    if kind == "literal":
        value = node.get("value")
        return lambda row: value
    if kind == "fieldLookup":
        name = node.get("fieldName")
        if not isinstance(name, str):
            raise PQLError("fieldLookup needs a fieldName")
        return lambda row: row.get(name)
    if kind != "fnApply":
        raise PQLError(f"unsupported nodeType {kind!r}")
    fn = str(node.get("fnName", ""))
    params = [_compile(p) for p in node.get("params", [])]
    low = fn.lower()
    if low in ("and", "or"):
        if not params:
            raise PQLError(f"{fn} needs parameters")
        if low == "and":
            return lambda row: all(p(row) for p in params)
        return lambda row: any(p(row) for p in params)
    if low == "not":
        _arity(fn, params, 1)
        return lambda row: not params[0](row)
    if low == "isnull":
        _arity(fn, params, 1)
        return lambda row: params[0](row) is None
    if low == "in":
        if len(params) < 2:
            raise PQLError("in needs a value and at least one candidate")

        def _in(row: Mapping[str, Any]) -> bool:
            value = params[0](row)
            cands: list[Any] = []
            for p in params[1:]:
                v = p(row)
                cands.extend(v if isinstance(v, list) else [v])
            return any(_cmp(value, c) == 0 for c in cands)

        return _in
    if low == "like":
        _arity(fn, params, 2)

        def _like(row: Mapping[str, Any]) -> bool:
            value, pattern = params[0](row), params[1](row)
            if value is None or pattern is None:
                return False
            glob = "".join("*" if ch == "%" else "?" if ch == "_" else "[" + ch + "]" if ch in "[]*?" else ch
                           for ch in str(pattern))
            return fnmatch.fnmatchcase(str(value).lower(), glob.lower())

        return _like
    tests = {"=": lambda c: c == 0, "!=": lambda c: c != 0, "<": lambda c: c < 0, "<=": lambda c: c <= 0,
             ">": lambda c: c > 0, ">=": lambda c: c >= 0}
    if fn in tests:
        _arity(fn, params, 2)
        test = tests[fn]

        def _rel(row: Mapping[str, Any]) -> bool:
            c = _cmp(params[0](row), params[1](row))
            if c is None:
                return fn == "!="
            return test(c)

        return _rel
    raise PQLError(f"unsupported fnName {fn!r}")


def _arity(fn: str, params: list[Any], n: int) -> None:
    if len(params) != n:
        raise PQLError(f"{fn} takes {n} parameter(s), got {len(params)}")


def _cmp(a: Any, b: Any) -> int | None:
    """Three-way comparison; numbers compare with numeric text; None compares with nothing."""
    if a is None or b is None:
        return None
    if isinstance(a, (int, float)) or isinstance(b, (int, float)):
        try:
            fa, fb = float(a), float(b)
        except (TypeError, ValueError):
            return None
        return (fa > fb) - (fa < fb)
    sa, sb = str(a), str(b)
    return (sa > sb) - (sa < sb)
