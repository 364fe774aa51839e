"""Query Service (``/data/foundation/query``): the connection parameters of the PostgreSQL interface, the query log
(``/queries``: create, list, get, cancel, soft delete) and the interactive sessions the PostgreSQL door runs
statements in (https://experienceleague.adobe.com/en/docs/experience-platform/query/api/queries,
https://experienceleague.adobe.com/en/docs/experience-platform/query/api/connection-parameters).

SQL runs over the data lake through :mod:`aep_magics.local.engine.lakesql` (DuckDB, one connection per session).
A query sent through REST runs as a batch job on the service's worker thread: a SELECT returns no rows and records
its ``rowCount``; ``CREATE TABLE ... AS SELECT`` (or ``ctasParameters``) creates a Catalog dataset carrying the
``adobe/pqs/table`` tag and one batch of Parquet files in the lake, which Data Access, Catalog and later queries see.
Interactive statements are logged in ``/queries`` too (``client`` = the session's client); catalog queries, ``SET``,
``SHOW`` and transaction statements are logged hidden (``excludeHidden=false`` lists them).

Errors answer the Query Service body ``{"message": ..., "statusCode": ...}`` (query-service.yaml); a failed query
carries ``errors: [{code, message, errorType}]`` with the PostgreSQL SQLSTATE as ``code``.
"""

from __future__ import annotations

import copy
import logging
import queue
import re
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pyarrow as pa

from .. import batches
from ..engine import lakesql
from ..engine.datalake import DataLake
from ..engine.lakesql import SqlError, SqlResult, Statement
from ..errors import ServiceError
from ..store import Tenant
from .base import Call, Reply, Route, Service

if TYPE_CHECKING:
    from ..platform import Platform

log = logging.getLogger(__name__)

BASE = "/data/foundation/query"
CATALOG = "/data/foundation/catalog"
#: States of a query (query-service.yaml ``query.state``).
TERMINAL = ("SUCCESS", "FAILED", "KILLED", "TIMEOUT")
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
#: Property filter fields and the operators each takes (Queries API guide, "Retrieve a list of queries").
PROPERTY_OPS = {
    "created": ("<=", ">=", "==", "!=", "<", ">", "~"), "updated": ("<=", ">=", "==", "!=", "<", ">", "~"),
    "state": ("<=", ">=", "==", "!=", "<", ">", "~"), "id": ("<=", ">=", "==", "!=", "<", ">", "~"),
    "referenced_datasets": ("==",), "userId": ("==",), "sql": ("~",), "templateId": ("==",),
    "templateName": ("~",), "client": ("==",), "scheduleId": ("==",), "scheduleRunId": ("==",),
}
_PROPERTY = re.compile(r"^(?P<field>[A-Za-z_]+)\s*(?P<op><=|>=|==|!=|<|>|~)\s*(?P<value>.*)$", re.S)
#: The client a REST query is logged with.
API_CLIENT = "API"
#: The XDM behaviour of the classes of ad hoc schemas (the schemas CTAS creates).
ADHOC_BEHAVIOR = "https://ns.adobe.com/xdm/data/adhoc"


def _xdm_field(dtype: pa.DataType) -> dict[str, Any]:
    """The XDM field (JSON Schema with ``meta:xdmType``) describing values of Arrow type ``dtype``."""
    t = pa.types
    if t.is_dictionary(dtype):
        return _xdm_field(dtype.value_type)
    if t.is_boolean(dtype):
        return {"type": "boolean"}
    for check, xdm in ((t.is_int8, "byte"), (t.is_int16, "short"), (t.is_int32, "int"), (t.is_integer, "long")):
        if check(dtype):
            return {"type": "integer", "meta:xdmType": xdm}
    if t.is_floating(dtype) or t.is_decimal(dtype):
        return {"type": "number"}
    if t.is_date(dtype):
        return {"type": "string", "format": "date"}
    if t.is_timestamp(dtype):
        return {"type": "string", "format": "date-time"}
    if t.is_map(dtype):
        return {"type": "object", "additionalProperties": _xdm_field(dtype.item_type)}
    if t.is_struct(dtype):
        return {"type": "object", "properties": {f.name: _xdm_field(f.type) for f in dtype}}
    if t.is_list(dtype) or t.is_large_list(dtype) or t.is_fixed_size_list(dtype):
        return {"type": "array", "items": _xdm_field(dtype.value_type)}
    return {"type": "string"}


def _error(status: int, message: str) -> ServiceError:
    return ServiceError(status, {"message": message, "statusCode": status})


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _parse_iso(text: str) -> int:
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _error(400, f"'{text}' is not a timestamp; give an ISO 8601 UTC time such as "
                          f"2024-01-31T12:00:00.000Z.") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _error_type(sqlstate: str) -> str:
    return "SYSTEM_ERROR" if sqlstate.startswith(("58", "XX", "53")) else "USER_ERROR"


class SqlSession:
    """One PostgreSQL connection's session: a DuckDB connection over the tenant's lake, the ``SET`` values it
    recorded, and the statement running now (which :meth:`cancel` interrupts)."""

    def __init__(self, service: QueryService, tenant: Tenant, *, user: str, client: str, table: str | None = None,
                 timeout_s: float = lakesql.STATEMENT_TIMEOUT_S, log: bool = True):
        self.service = service
        self.tenant = tenant
        self.user = user
        self.client = client
        self.table = table
        self.db_name = f"{tenant.sandbox}:{table or 'all'}"
        self.settings: dict[str, str] = {}
        self.lake = lakesql.LakeSql(service.platform, tenant, table=table, timeout_s=timeout_s,
                                    database=service.database(tenant, table))
        self._log = log
        self._lock = threading.Lock()
        self.closed = False

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> SqlResult:
        """Run one statement; raises :class:`SqlError`."""
        if self.closed:
            raise SqlError("08003", "the session is closed; open a new connection.")
        with self._lock:
            started = time.perf_counter()
            stmt: Statement | None = None
            try:
                if "explode" in sql.lower():  # the map columns ``explode`` reads as key, value
                    self.lake.refresh()
                stmt = lakesql.parse(sql, maps=self.lake.maps)
                result = self._run(stmt, params)
            except SqlError as exc:
                self._record(sql, stmt, started, error=exc)
                raise
            except Exception as exc:  # noqa: BLE001 - the client gets a SQLSTATE, the log the traceback
                log.exception("statement failed in session %s", self.db_name)
                err = SqlError("58000", f"System error: {type(exc).__name__}: {exc}"[:500])
                self._record(sql, stmt, started, error=err)
                raise err from None
            self._record(sql, stmt, started, result=result)
            return result

    def _run(self, stmt: Statement, params: Sequence[Any] | None) -> SqlResult:
        kind = stmt.kind
        if kind == "empty":
            return SqlResult("", None)
        if kind == "transaction":
            return SqlResult(stmt.name if stmt.name in ("BEGIN", "COMMIT", "ROLLBACK") else
                             {"END": "COMMIT", "ABORT": "ROLLBACK"}.get(stmt.name, stmt.name))
        if kind == "set":
            self.settings[stmt.name] = stmt.value
            return SqlResult("SET")
        if kind == "show":
            return SqlResult("SHOW", self._show(stmt.name))
        if kind == "show_tables":
            return SqlResult("SHOW", lakesql.show_tables(self.lake.refresh()))
        if kind == "ctas":
            rows, _ = self.service.create_table(self, stmt.name, stmt.sql, if_not_exists=stmt.if_exists)
            return SqlResult(f"SELECT {rows}")
        if kind == "drop":
            self.service.drop_table(self, stmt.name, if_exists=stmt.if_exists)
            return SqlResult("DROP TABLE")
        self._check_tables(stmt)
        table = self.lake.run(stmt.sql, params)
        if kind == "explain":
            return SqlResult("EXPLAIN", table)
        if self.settings.get("auto_to_json", "false").lower() in ("true", "on", "1"):
            table = lakesql.to_json_columns(table)
        return SqlResult(f"SELECT {table.num_rows}", table)

    def _check_tables(self, stmt: Statement) -> None:
        """42P01 naming the tables that exist, for a dataset table without data yet or an unknown one."""
        if stmt.catalog:
            return
        tables = {t.name: t for t in self.lake.refresh()}
        for name in stmt.tables:
            t = tables.get(name)
            if t is not None and not t.files:
                raise SqlError("42P01", f'Table "{name}" has no data yet: its dataset {t.dataset_id} has no '
                                        f"successful batch; run its dataflow first.")

    def _show(self, name: str) -> pa.Table:
        if name == "all":
            values = {**lakesql.SERVER_SETTINGS, **self.settings}
            return pa.table({"name": list(values), "setting": list(values.values())})
        key = name.replace(" ", "_") if name not in lakesql.SERVER_SETTINGS else name
        value = self.settings.get(name, self.settings.get(key))
        if value is None:
            value = lakesql.SERVER_SETTINGS.get(name, lakesql.SERVER_SETTINGS.get(key))
        if value is None:
            raise SqlError("42704", f'unrecognized configuration parameter "{name}"; SHOW ALL lists them.')
        return pa.table({name.replace(" ", "_"): [value]})

    def _record(self, sql: str, stmt: Statement | None, started: float, *, result: SqlResult | None = None,
                error: SqlError | None = None) -> None:
        if not self._log:
            return
        hidden = stmt is None and error is None or (stmt is not None and (
            stmt.catalog or stmt.kind in ("set", "show", "transaction", "empty")))
        rows = result.table.num_rows if result is not None and result.table is not None else 0
        self.service.log_interactive(self, sql, stmt, hidden=hidden, rows=rows, error=error,
                                     elapsed_ms=int((time.perf_counter() - started) * 1000))

    def cancel(self) -> None:
        """Interrupt the running statement (thread-safe): it fails with SQLSTATE 57014."""
        self.lake.interrupt()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.lake.close()


class QueryService(Service):
    """The Query Service REST API and the interactive sessions behind the PostgreSQL door."""

    def __init__(self, platform: Platform):
        super().__init__(platform)
        self._clock_lock = threading.Lock()
        self._last_ms = 0
        self._jobs: queue.Queue[tuple[Tenant, str] | None] = queue.Queue()
        self._running: dict[str, SqlSession] = {}
        self._running_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        self._databases: dict[tuple[str, str, str | None], lakesql.LakeDatabase] = {}
        self._databases_lock = threading.Lock()

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{BASE}/connection_parameters", self.connection_parameters),
            Route("GET", f"{BASE}/queries", self.list_queries),
            Route("POST", f"{BASE}/queries", self.create_query),
            Route("GET", f"{BASE}/queries/<id>", self.get_query),
            Route("PATCH", f"{BASE}/queries/<id>", self.patch_query),
        ]

    # -- sessions -----------------------------------------------------------------------------------------------------
    def database(self, tenant: Tenant, table: str | None = None) -> lakesql.LakeDatabase:
        """The DuckDB database of a tenant (or of one of its tables), opened on first use and kept: sessions take a
        cursor of it."""
        key = (tenant.org, tenant.sandbox, table)
        with self._databases_lock:
            db = self._databases.get(key)
            if db is None or db.closed:
                db = self._databases[key] = lakesql.LakeDatabase(self.platform, tenant, table=table)
            return db

    def close(self) -> None:
        """Close the tenants' DuckDB databases (a later session opens them again)."""
        with self._databases_lock:
            databases = list(self._databases.values())
            self._databases.clear()
        for db in databases:
            db.close()

    def interactive(self, tenant: Tenant, *, user: str, client: str, table: str | None = None) -> SqlSession:
        """A session for one PostgreSQL connection (dbName ``{sandbox}:all`` -> ``table=None``,
        ``{sandbox}:{table}``). Raises :class:`SqlError` 42P12 when ``table`` is not a table of the sandbox."""
        if table is not None:
            table = table.lower()
            names = [t.name for t in lakesql.tenant_tables(self.platform, tenant)]
            if table not in names:
                listing = ", ".join(sorted(names)) or "none yet"
                raise SqlError("42P12", f"No table found for dbName {tenant.sandbox}:{table}; use "
                                        f"{tenant.sandbox}:all or one of: {listing}.")
        return SqlSession(self, tenant, user=user, client=client, table=table)

    # -- time -------------------------------------------------------------------------------------------------------
    def _now(self) -> int:
        """The platform time in ms, strictly increasing across the service's records (a unique paging cursor)."""
        with self._clock_lock:
            now = max(self.clock.peek_ms(), self._last_ms + 1)
            self._last_ms = now
            return now

    # -- CTAS / DROP -------------------------------------------------------------------------------------------------
    def create_table(self, session: SqlSession, name: str, select_sql: str, *, if_not_exists: bool = False,
                     dataset_name: str | None = None, description: str = "") -> tuple[int, str | None]:
        """``CREATE TABLE name AS select``: run the SELECT, create the Catalog dataset (tagged with its table and its
        creator) and write its rows as one successful batch. Returns (rows, dataset id)."""
        tenant = session.tenant
        existing = {t.name: t for t in lakesql.tenant_tables(self.platform, tenant)}
        if name in existing:
            if if_not_exists:
                return 0, existing[name].dataset_id
            raise SqlError("42P07", f'Table "{name}" already exists (dataset {existing[name].dataset_id}); choose '
                                    f"another name or DROP TABLE {name} first.")
        table = session.lake.run(select_sql)
        from .catalog import CatalogService

        schema_id = self._adhoc_schema(session, name, table.schema)
        body = {"name": dataset_name or name, "description": description,
                "tags": {lakesql.PQS_TABLE_TAG: [name], lakesql.QUERY_CREATED_TAG: [session.user]},
                "classification": {"dataBehavior": "adhoc"},
                "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"}}
        call = Call(method="POST", path=f"{CATALOG}/dataSets", params={}, query={}, body=body, headers={},
                    tenant=tenant, client_id=session.client)
        reply = CatalogService(self.platform).create_dataset(call)
        dataset_id = reply.body[0].rsplit("/", 1)[-1]
        now = self.clock.peek_ms()
        batch_id = self.ids.batch(now)
        batches.record_batch(self.platform, tenant, batch_id, {
            "status": "loading", "relatedObjects": [{"type": "dataSet", "id": dataset_id}], "started": now,
            "createdClient": session.client, "createdUser": session.user})
        writer = DataLake(self.platform.lake_dir).writer(tenant, dataset_id, batch_id)
        try:
            writer.write(table)
            size = writer.output_bytes
            writer.commit()
        except BaseException:
            writer.abort()
            batches.update_batch(self.platform, tenant, batch_id, {"status": "failed"})
            raise
        batches.update_batch(self.platform, tenant, batch_id, {
            "status": "success", "recordCount": table.num_rows, "size": size, "completed": self.clock.peek_ms()})
        return table.num_rows, dataset_id

    def _adhoc_schema(self, session: SqlSession, name: str, schema: pa.Schema) -> str:
        """The ad hoc XDM schema of a CTAS output: a class of behaviour ``https://ns.adobe.com/xdm/data/adhoc``
        whose fields (one per output column) sit under the tenant namespace, and a schema of that class
        (https://experienceleague.adobe.com/en/docs/experience-platform/xdm/tutorials/ad-hoc,
        https://experienceleague.adobe.com/en/docs/experience-platform/query/ui/create-datasets). Returns its $id."""
        from .schemaregistry import SchemaRegistryService

        registry = SchemaRegistryService(self.platform)
        suffix = self.ids.uuid().split("-")[0]
        fields = {f.name: _xdm_field(f.type) for f in schema}
        headers = {"Accept": "application/vnd.adobe.xed+json", "Content-Type": "application/json"}

        def create(segment: str, body: dict[str, Any]) -> str:
            call = Call(method="POST", path=f"/data/foundation/schemaregistry/tenant/{segment}", params={},
                        query={}, body=body, headers=headers, tenant=session.tenant, client_id=session.client)
            return str(registry.create(call, segment).body["$id"])

        class_id = create("classes", {
            "title": f"{name} ad hoc class {suffix}", "type": "object",
            "description": f"Ad hoc class of the Query Service table {name} (CREATE TABLE AS SELECT).",
            "allOf": [{"$ref": ADHOC_BEHAVIOR}],
            "properties": {f"_{self.platform.tenant_id}": {"type": "object", "properties": fields}}})
        return create("schemas", {
            "title": f"{name} ad hoc schema {suffix}", "type": "object",
            "description": f"Ad hoc schema of the Query Service table {name} (CREATE TABLE AS SELECT).",
            "allOf": [{"$ref": class_id}]})

    def _drop_adhoc_schema(self, tenant: Tenant, schema_id: str) -> None:
        """Remove the ad hoc schema a CTAS made, and its class, once its dataset is gone."""
        from .schemaregistry import SchemaRegistryService

        rec = self.store.get(tenant, "schema", schema_id)
        if rec is None or rec.doc.get("meta:extends") is None or ADHOC_BEHAVIOR not in rec.doc["meta:extends"]:
            return
        registry = SchemaRegistryService(self.platform)
        for segment, sid in (("schemas", schema_id), ("classes", rec.doc.get("meta:class"))):
            if not sid:
                continue
            call = Call(method="DELETE", path=f"/data/foundation/schemaregistry/tenant/{segment}/{sid}",
                        params={"id": sid}, query={}, body=None, headers={}, tenant=tenant, client_id=API_CLIENT)
            try:
                registry.delete(call, segment)
            except ServiceError:  # still in use or already gone: kept
                log.info("ad hoc %s %s kept", segment, sid)

    def drop_table(self, session: SqlSession, name: str, *, if_exists: bool = False) -> None:
        """``DROP TABLE``: only a table that CREATE TABLE AS made, by the same user (42501 otherwise)."""
        tables = {t.name: t for t in lakesql.tenant_tables(self.platform, session.tenant)}
        t = tables.get(name)
        if t is None:
            if if_exists:
                return
            raise session.lake.unknown_table(name)
        rec = self.store.get(session.tenant, "dataSet", t.dataset_id)
        creators = ((rec.doc.get("tags") or {}).get(lakesql.QUERY_CREATED_TAG) or []) if rec else []
        if not creators:
            raise SqlError("42501", f'Table "{name}" was not created by Query Service; DROP TABLE removes only '
                                    f"tables made with CREATE TABLE AS (delete the dataset in Catalog instead).")
        if session.user not in creators:
            raise SqlError("42501", f'Table "{name}" was created by another user; only its creator can drop it.')
        from .catalog import CatalogService

        call = Call(method="DELETE", path=f"{CATALOG}/dataSets/{t.dataset_id}", params={"id": t.dataset_id},
                    query={}, body=None, headers={}, tenant=session.tenant, client_id=session.client)
        CatalogService(self.platform).delete_dataset(call)
        schema_id = ((rec.doc.get("schemaRef") or {}).get("id") if rec else None) or ""
        if schema_id:
            self._drop_adhoc_schema(session.tenant, schema_id)

    # -- the query log ------------------------------------------------------------------------------------------------
    def _user(self, call: Call) -> str:
        return f"{call.client_id}@AdobeID" if call.client_id else "aep-local@AdobeID"

    def _new_record(self, tenant: Tenant, request: dict[str, Any], *, client: str, user: str, client_id: str,
                    state: str, hidden: bool = False, **fields: Any) -> dict[str, Any]:
        now = self._now()
        qid = self.ids.uuid()
        doc: dict[str, Any] = {
            "id": qid, "request": request, "state": state, "rowCount": 0, "errors": [], "isCTAS": False,
            "isInsertInto": False, "version": 1, "elapsedTime": 0, "created": now, "updated": now, "client": client,
            "userId": user, "clientId": client_id, "hidden": hidden, "softDeleted": False, "referencedDatasets": [],
        }
        doc.update(fields)
        self.store.insert(tenant, "query", qid, doc, created=now, state=state)
        return doc

    def _save(self, tenant: Tenant, doc: dict[str, Any]) -> None:
        doc["updated"] = self._now()
        self.store.replace(tenant, "query", doc["id"], doc, updated=doc["updated"], state=doc["state"])

    def log_interactive(self, session: SqlSession, sql: str, stmt: Statement | None, *, hidden: bool, rows: int,
                        error: SqlError | None, elapsed_ms: int) -> None:
        """Record one interactive statement in the query log."""
        errors = [] if error is None else [{"code": error.sqlstate, "message": error.message,
                                            "errorType": _error_type(error.sqlstate)}]
        self._new_record(session.tenant, {"dbName": session.db_name, "sql": sql}, client=session.client,
                         user=session.user, client_id=session.client, state="FAILED" if error else "SUCCESS",
                         hidden=hidden, rowCount=rows, elapsedTime=elapsed_ms,
                         isCTAS=bool(stmt and stmt.kind == "ctas"), errors=errors,
                         referencedDatasets=self._referenced(session, stmt))

    def _referenced(self, session: SqlSession, stmt: Statement | None) -> list[str]:
        if stmt is None or not stmt.tables:
            return []
        return [t.dataset_id for t in session.lake.tables if t.name in stmt.tables]

    def _href(self, path: str) -> str:
        return f"{(self.platform.base_url or '').rstrip('/')}{path}"

    def _public(self, doc: dict[str, Any]) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in doc.items()
               if k not in ("hidden", "softDeleted", "referencedDatasets", "createdDataset")}
        out["created"], out["updated"] = _iso(doc["created"]), _iso(doc["updated"])
        self_href = self._href(f"{BASE}/queries/{doc['id']}")
        links: dict[str, Any] = {
            "self": {"href": self_href, "method": "GET"},
            "soft_delete": {"href": self_href, "method": "PATCH", "body": '{ "op": "soft_delete"}'},
        }
        if doc["state"] not in TERMINAL:
            links["cancel"] = {"href": self_href, "method": "PATCH", "body": '{ "op": "cancel"}'}
        if doc.get("referencedDatasets"):
            links["referenced_datasets"] = [{"id": d, "href": self._href(f"{CATALOG}/dataSets/{d}")}
                                            for d in doc["referencedDatasets"]]
        if doc.get("createdDataset"):
            d = doc["createdDataset"]
            links["created_dataset"] = {"id": d, "href": self._href(f"{CATALOG}/dataSets/{d}")}
        out["_links"] = links
        return out

    # -- REST ---------------------------------------------------------------------------------------------------------
    def connection_parameters(self, call: Call) -> Reply:
        auth = call.headers.get("Authorization") or call.headers.get("authorization") or ""
        token = auth.split(None, 1)[1].strip() if " " in auth else ""
        address = self.platform.pg_address
        host = (address[0] if address else None) or urlparse(self.platform.base_url or "").hostname or "127.0.0.1"
        port = int(address[1]) if address else 0
        return Reply(200, {"username": call.tenant.org, "dbName": f"{call.tenant.sandbox}:all", "host": host,
                           "port": port, "token": token, "compressedToken": token, "websocketHost": host,
                           "version": 1})

    def create_query(self, call: Call) -> Reply:
        body = call.body
        if not isinstance(body, dict):
            raise _error(400, 'The request body must be a JSON object such as {"dbName": "prod:all", "sql": '
                              '"SELECT ...", "name": "..."}.')
        sql = body.get("sql")
        if body.get("templateId") is not None and sql is None:
            raise _error(400, "templateId is not supported by AEP Local's Query Service; send the SQL in 'sql'.")
        if not isinstance(sql, str) or not sql.strip():
            raise _error(400, "'sql' is required: the statement to run, e.g. \"SELECT * FROM my_table\".")
        db_name = body.get("dbName", f"{call.tenant.sandbox}:all")
        if not isinstance(db_name, str) or db_name.split(":", 1)[0] != call.tenant.sandbox:
            raise _error(400, f"dbName must be '{call.tenant.sandbox}:all' (the sandbox of x-sandbox-name, then "
                              f"':all' or ':<table>'); got {db_name!r}.")
        params = body.get("queryParameters") or {}
        if not isinstance(params, dict):
            raise _error(400, "queryParameters must be an object of values, e.g. {\"country\": \"FR\"}.")
        for key, value in params.items():
            sql = sql.replace(f"${key}", str(value))
        ctas = body.get("ctasParameters")
        if ctas is not None and (not isinstance(ctas, dict) or not isinstance(ctas.get("datasetName"), str)
                                 or not ctas["datasetName"].strip()):
            raise _error(400, "ctasParameters needs a 'datasetName' (and optionally 'description').")
        if body.get("insertIntoParameters") is not None:
            raise _error(400, "insertIntoParameters (INSERT INTO) is not supported by AEP Local's Query Service; "
                              "use ctasParameters or CREATE TABLE ... AS SELECT.")
        for name in ("name", "description"):
            if body.get(name) is not None and not isinstance(body[name], str):
                raise _error(400, f"'{name}' must be a string.")
        pieces = lakesql.split(sql)
        if len(pieces) != 1:
            raise _error(400, "'sql' must hold exactly one statement; send one query per request.")
        try:
            stmt = lakesql.parse(pieces[0], cap=False)
        except SqlError as exc:
            where = f" (at character {exc.position})" if exc.position else ""
            raise _error(400, f"{exc.sqlstate}: {exc.message}{where}") from None
        if ctas is not None and stmt.kind != "query":
            raise _error(400, "ctasParameters takes a SELECT in 'sql'; the dataset is created from its rows.")
        if stmt.kind not in ("query", "ctas", "drop"):
            raise _error(400, f"A query sent through the API runs as a batch job; send a SELECT, CREATE TABLE ... AS "
                              f"SELECT or DROP TABLE (got {stmt.kind.replace('_', ' ').upper()}).")
        request = copy.deepcopy(body)
        doc = self._new_record(call.tenant, request, client=API_CLIENT, user=self._user(call),
                               client_id=call.client_id, state="SUBMITTED")
        doc["isCTAS"] = stmt.kind == "ctas" or ctas is not None
        if ctas is not None:
            doc["effectiveSQL"] = f"CREATE TABLE <table> AS {pieces[0]}"
        self._save(call.tenant, doc)
        self._submit(call.tenant, doc["id"])
        return Reply(202, self._public(doc))

    def _record_or_404(self, tenant: Tenant, qid: str) -> dict[str, Any]:
        rec = self.store.get(tenant, "query", qid)
        if rec is None or rec.doc.get("softDeleted"):
            raise _error(404, f"Query {qid} was not found in sandbox '{tenant.sandbox}'; list the queries with GET "
                              f"{BASE}/queries.")
        return rec.doc

    def get_query(self, call: Call) -> Reply:
        return Reply(200, self._public(self._record_or_404(call.tenant, call.params["id"])))

    def patch_query(self, call: Call) -> Reply:
        body = call.body
        op = body.get("op") if isinstance(body, dict) else None
        if op not in ("cancel", "soft_delete"):
            raise _error(400, 'The body must be {"op": "cancel"} or {"op": "soft_delete"}.')
        doc = self._record_or_404(call.tenant, call.params["id"])
        if op == "soft_delete":
            doc["softDeleted"] = True
            self._save(call.tenant, doc)
            return Reply(202, {"message": "Query soft delete request received", "statusCode": 202})
        if doc["state"] in TERMINAL:
            raise _error(409, f"Query {doc['id']} is already {doc['state']}; the termination request failed because "
                              f"the query has already terminated.")
        doc["state"] = "KILLED"
        self._save(call.tenant, doc)
        with self._running_lock:
            session = self._running.get(doc["id"])
        if session is not None:
            session.cancel()
        return Reply(202, {"message": "Query cancel request received", "statusCode": 202})

    def list_queries(self, call: Call) -> Reply:
        orderby = (call.arg("orderby") or "-created").strip()
        if orderby.lstrip("+-") not in ("created", "updated") or orderby[:1] not in ("+", "-", "c", "u"):
            raise _error(400, f"orderby must be created or updated, prefixed with + or - (got {orderby!r}); "
                              f"send + as %2B.")
        desc = not orderby.startswith("+") if orderby[:1] in "+-" else False
        key = orderby.lstrip("+-")
        limit = self._int(call, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        prev = (call.arg("isPrevLink") or "false").lower() == "true"
        exclude_deleted = (call.arg("excludeSoftDeleted") or "true").lower() != "false"
        exclude_hidden = (call.arg("excludeHidden") or "true").lower() != "false"
        filters = self._filters(call)
        docs = [r.doc for r in self.store.select(call.tenant, "query")]
        docs = [d for d in docs if not (exclude_deleted and d.get("softDeleted"))
                and not (exclude_hidden and d.get("hidden")) and all(f(d) for f in filters)]
        docs.sort(key=lambda d: (d[key], d["id"]), reverse=desc)
        start = call.arg("start")
        if start:
            at = _parse_iso(start)
            if prev:  # paging backwards: the page before ``start``
                docs = [d for d in docs if (d[key] > at if desc else d[key] < at)][-limit:]
            else:
                docs = [d for d in docs if (d[key] <= at if desc else d[key] >= at)]
        page, rest = docs[:limit], docs[limit:]
        base = f"{BASE}/queries?orderby={orderby.replace('+', '%2B')}&limit={limit}"
        links: dict[str, Any] = {}
        page_info: dict[str, Any] = {"orderby": orderby, "count": len(page)}
        if page:
            page_info["start"] = _iso(page[0][key])
            links["prev"] = {"href": self._href(f"{base}&start={_iso(page[0][key])}&isPrevLink=true")}
        if rest:
            page_info["next"] = _iso(rest[0][key])
            links["next"] = {"href": self._href(f"{base}&start={_iso(rest[0][key])}")}
        return Reply(200, {"queries": [self._public(d) for d in page], "_page": page_info, "_links": links,
                           "version": 1})

    @staticmethod
    def _int(call: Call, name: str, default: int, low: int, high: int) -> int:
        raw = call.arg(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise _error(400, f"{name} must be a whole number from {low} to {high} (got {raw!r}).") from None
        if not low <= value <= high:
            raise _error(400, f"{name} must be from {low} to {high} (got {value}).")
        return value

    def _filters(self, call: Call) -> list[Any]:
        out = []
        for expr in ",".join(call.args("property")).split(","):
            expr = expr.strip()
            if not expr:
                continue
            m = _PROPERTY.match(expr)
            if m is None or m.group("field") not in PROPERTY_OPS:
                raise _error(400, f"Unsupported property filter {expr!r}; use field<op>value with one of "
                                  f"{', '.join(PROPERTY_OPS)}, e.g. state==SUCCESS.")
            fld, op, value = m.group("field"), m.group("op"), m.group("value").strip()
            if op not in PROPERTY_OPS[fld]:
                raise _error(400, f"The property {fld} takes {' '.join(PROPERTY_OPS[fld])}, not {op}.")
            out.append(self._filter(fld, op, value))
        return out

    @staticmethod
    def _filter(fld: str, op: str, value: str) -> Any:
        if fld in ("created", "updated"):
            target: Any = _parse_iso(value)
        else:
            target = value

        def get(d: dict[str, Any]) -> Any:
            if fld == "sql":
                return (d.get("request") or {}).get("sql") or ""
            if fld == "referenced_datasets":
                return d.get("referencedDatasets") or []
            return d.get(fld)

        def test(d: dict[str, Any]) -> bool:
            v = get(d)
            if fld == "referenced_datasets":
                return any(x in v for x in target.split("||"))
            if op == "~":
                return isinstance(v, str) and target.lower() in v.lower() if not isinstance(v, int) else False
            if v is None:
                return op == "!="
            if isinstance(target, str) and fld == "state":
                v, t = str(v).upper(), target.upper()
            else:
                t = target
            try:
                return {"==": v == t, "!=": v != t, "<": v < t, ">": v > t, "<=": v <= t, ">=": v >= t}[op]
            except TypeError:
                return False

        return test

    # -- the worker ---------------------------------------------------------------------------------------------------
    def _submit(self, tenant: Tenant, qid: str) -> None:
        with self._worker_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="query-service-worker", daemon=True)
                self._worker.start()
        self._jobs.put((tenant, qid))

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                self._run_job(*job)
            except Exception:  # noqa: BLE001 - a job's failure is logged, the worker goes on
                log.exception("query job %s failed", job[1])

    def _run_job(self, tenant: Tenant, qid: str) -> None:
        rec = self.store.get(tenant, "query", qid)
        if rec is None or rec.doc["state"] != "SUBMITTED":
            return
        doc = rec.doc
        doc["state"] = "IN_PROGRESS"
        self._save(tenant, doc)
        started = time.perf_counter()
        request = doc["request"]
        sql = request["sql"]
        for key, value in (request.get("queryParameters") or {}).items():
            sql = sql.replace(f"${key}", str(value))
        session = SqlSession(self, tenant, user=doc["userId"], client=API_CLIENT, timeout_s=24 * 3600, log=False)
        with self._running_lock:
            self._running[qid] = session
        try:
            session.lake.refresh()
            stmt = lakesql.parse(lakesql.split(sql)[0], cap=False, maps=session.lake.maps)
            ctas = request.get("ctasParameters")
            if ctas is not None:
                taken = {t.name for t in lakesql.tenant_tables(self.platform, tenant)}
                from .catalog import table_name

                name = table_name(ctas["datasetName"], taken)
                rows, dataset_id = self.create_table(session, name, stmt.sql, dataset_name=ctas["datasetName"],
                                                     description=str(ctas.get("description") or ""))
                doc["effectiveSQL"] = f"CREATE TABLE {name} AS {stmt.sql}"
                doc["createdDataset"] = dataset_id
            elif stmt.kind == "ctas":
                rows, dataset_id = self.create_table(session, stmt.name, stmt.sql, if_not_exists=stmt.if_exists)
                doc["createdDataset"] = dataset_id
            elif stmt.kind == "drop":
                self.drop_table(session, stmt.name, if_exists=stmt.if_exists)
                rows = 0
            else:
                session._check_tables(stmt)
                rows = int(session.lake.run(f"SELECT count(*) AS n FROM ({stmt.sql}) AS q").column(0)[0].as_py())
            doc["rowCount"] = rows
            doc["referencedDatasets"] = session.service._referenced(session, stmt)
            state, errors = "SUCCESS", []
        except SqlError as exc:
            state = "KILLED" if exc.sqlstate == "57014" else "FAILED"
            errors = [{"code": exc.sqlstate, "message": exc.message, "errorType": _error_type(exc.sqlstate)}]
        except Exception as exc:  # noqa: BLE001 - recorded as a system error, the traceback logged
            log.exception("query %s failed", qid)
            state = "FAILED"
            errors = [{"code": "58000", "message": f"System error: {type(exc).__name__}: {exc}"[:500],
                       "errorType": "SYSTEM_ERROR"}]
        finally:
            with self._running_lock:
                self._running.pop(qid, None)
            session.close()
        current = self.store.get(tenant, "query", qid)
        if current is not None and current.doc["state"] == "KILLED":
            state = "KILLED"
            doc["softDeleted"] = current.doc.get("softDeleted", False)
        doc["state"] = state
        doc["errors"] = errors
        doc["elapsedTime"] = int((time.perf_counter() - started) * 1000)
        self._save(tenant, doc)
