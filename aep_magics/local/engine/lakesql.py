"""SQL over the data lake: one in-memory DuckDB connection per Query Service session, a view per Catalog dataset
of one tenant (org + sandbox) over the Parquet files of its successful batches, and the statement rules of Query
Service (https://experienceleague.adobe.com/en/docs/experience-platform/query/sql/syntax).

Each dataset is a table named by its Catalog tag ``adobe/pqs/table`` (one element). Its view reads
``read_parquet([...], union_by_name=true)`` over the files of its batches whose Catalog status is ``success``; the
views are checked before every statement and rebuilt when the batch list changed, so a new run's batch shows.

Closed to SQL users: the connection may read files only under this tenant's lake directory
(``allowed_directories`` + ``enable_external_access=false``), installs and loads no extension, scans no Python
objects, and its configuration is locked. Statements are refused by kind before they reach DuckDB: only queries
(``SELECT``/``WITH``/``VALUES``), ``EXPLAIN``, ``SHOW``, ``SET`` of Query Service session keys, the transaction
statements (no-ops), ``CREATE TABLE ... AS SELECT`` and ``DROP TABLE`` pass (:func:`parse`); the caller (the Query
Service) carries out CTAS and DROP against Catalog and the lake.

Query Service speaks Spark SQL; statements are translated to DuckDB's dialect with sqlglot (``identityMap['Email'][0]``
becomes DuckDB's 1-based ``[1]``). The catalog queries PostgreSQL clients send (psql ``\\dt``, SQLAlchemy's
inspector) are read as PostgreSQL and run over DuckDB's ``pg_catalog``, where the dataset views show as tables.

Limits (https://experienceleague.adobe.com/en/docs/experience-platform/query/guardrails and
https://experienceleague.adobe.com/en/docs/experience-platform/query/troubleshooting-guide): 50,000 rows unless the
statement has a ``LIMIT``; ``LIMIT 0`` removes the cap; a ``LIMIT`` above 100,000 is SQLSTATE 53400; a statement runs
at most 10 minutes (53400 "Statement timeout").
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from ..batches import SUCCESS_STATES
from . import pgcatalog
from .datalake import DataLake, LakePathError

if TYPE_CHECKING:  # pragma: no cover
    from ..platform import Platform
    from ..store import Tenant

#: Rows a statement without a LIMIT returns (guardrails: "50,000 rows" to PSQL and third-party clients).
DEFAULT_ROW_CAP = 50_000
#: The largest LIMIT taken ("LIMIT exceeds max value" past it, troubleshooting guide).
MAX_LIMIT = 100_000
#: How long one interactive statement may run (guardrails: 10 minutes).
STATEMENT_TIMEOUT_S = 600.0
#: The Catalog tag naming a dataset's table.
PQS_TABLE_TAG = "adobe/pqs/table"
#: The schema the dataset views live in (psql ``\\d`` shows ``public``).
SCHEMA = pgcatalog.USER_SCHEMA
#: Map columns every tenant may have: XDM's ``identityMap`` (map of namespace -> identities).
_MAP_COLUMNS = frozenset({"identitymap"})
#: What ``version()`` answers: a PostgreSQL-style string clients parse (SQLAlchemy reads "PostgreSQL <major>.<minor>").
SERVER_VERSION = "0.1.0"
VERSION_STRING = "PostgreSQL 15.0 (AEP Local Query Service over DuckDB)"
#: ``SET`` keys a session records (Query Service's Spark session keys and what PostgreSQL clients set on connect).
SESSION_KEYS = frozenset({
    "auto_to_json", "drop_system_columns", "resolve_fallback_snapshot_on_failure", "application_name",
    "client_encoding", "datestyle", "extra_float_digits", "timezone", "search_path", "statement_timeout",
    "intervalstyle", "client_min_messages", "standard_conforming_strings", "bytea_output"})
#: What ``SHOW <name>`` answers besides the keys a session set (PostgreSQL parameter names, lower case).
SERVER_SETTINGS = {
    "server_version": SERVER_VERSION, "server_encoding": "UTF8", "client_encoding": "UTF8",
    "lc_collate": "en_US.utf8", "lc_ctype": "en_US.utf8", "is_superuser": "off", "datestyle": "ISO, MDY",
    "standard_conforming_strings": "on", "transaction isolation level": "read committed",
    "transaction_isolation": "read committed", "integer_datetimes": "on", "timezone": "UTC",
    "search_path": SCHEMA, "intervalstyle": "postgres", "application_name": "", "auto_to_json": "false",
    "drop_system_columns": "true", "max_identifier_length": "63",
}
_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
_CATALOG_REF = re.compile(r"\b(?:pg_catalog|information_schema)\b|\bpg_[a-z_]+\b", re.I)
_SET = re.compile(r"^SET\s+(?:SESSION\s+|LOCAL\s+)?(?P<key>[A-Za-z_][\w.]*)\s*(?:=|\s+TO\s+)\s*(?P<value>.*?)$",
                  re.I | re.S)
_SHOW = re.compile(r"^SHOW\s+(?P<name>.+?)$", re.I | re.S)
_TRANSACTION = re.compile(r"^(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT)\b(?:\s+(?:WORK|TRANSACTION)\b)?"
                          r"(?:\s+ISOLATION\s+LEVEL\s+[\w ]+|\s+READ\s+(?:ONLY|WRITE))*$", re.I)
#: First words of the statements :func:`parse` reads further; any other statement is refused before parsing.
_STATEMENT_HEADS = frozenset({"SELECT", "WITH", "VALUES", "CREATE", "DROP", "EXPLAIN", "TABLE"})
_DUCKDB_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                  "python_enable_replacements": False, "allow_persistent_secrets": False}
#: Filesystem access refused: what the user sees.
_NO_FILES = ("Query Service reads the datasets of this sandbox only; files, extensions and other databases are not "
             "accessible. Query a table from SHOW TABLES instead.")


class SqlError(Exception):
    """A statement that failed, with its PostgreSQL SQLSTATE and, for syntax errors, the 1-based character position."""

    def __init__(self, sqlstate: str, message: str, position: int | None = None):
        super().__init__(f"{sqlstate}: {message}")
        self.sqlstate = sqlstate
        self.message = message
        self.position = position


@dataclass
class SqlResult:
    """A statement's outcome: the PostgreSQL CommandComplete tag and the rows (None without a row description)."""

    tag: str
    table: pa.Table | None = None


@dataclass(frozen=True)
class LakeTable:
    """One Catalog dataset as a table: its name, ids and the Parquet files of its successful batches."""

    name: str
    dataset_id: str
    dataset_name: str
    description: str
    files: tuple[str, ...]
    batch_ids: tuple[str, ...] = ()
    created_by_query: bool = False


@dataclass
class Statement:
    """A statement sorted by kind (:func:`parse`). ``sql`` is the DuckDB text to run for ``query``/``explain``/``ctas``
    (the SELECT); ``name`` the table of ``ctas``/``drop``, the key of ``set``/``show``."""

    kind: str              # query | explain | show_tables | show | set | transaction | ctas | drop | empty
    sql: str = ""
    name: str = ""
    value: str = ""
    if_exists: bool = False
    catalog: bool = False  # a client's pg_catalog / information_schema query
    tables: tuple[str, ...] = field(default_factory=tuple)


# -- statements ---------------------------------------------------------------------------------------------------
def split(text: str) -> list[str]:
    """The statements of a simple-query string, in order (empty ones dropped)."""
    try:
        tokens = sqlglot.tokenize(text, read="postgres")
    except sqlglot.errors.TokenError as exc:
        raise SqlError("42601", f"syntax error: {exc}") from None
    out, start = [], 0
    for tok in tokens:
        if tok.token_type == sqlglot.TokenType.SEMICOLON:
            piece = text[start:tok.start].strip()
            if piece:
                out.append(piece)
            start = tok.end + 1
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _position(sql: str, err: sqlglot.errors.ParseError) -> int | None:
    info = (err.errors or [{}])[0]
    line, col = info.get("line"), info.get("col")
    if not line or not col:
        return None
    lines = sql.split("\n")
    before = sum(len(x) + 1 for x in lines[: line - 1])
    highlight = info.get("highlight") or ""
    return max(1, before + int(col) - len(highlight) + 1)


def _syntax(sql: str, exc: sqlglot.errors.ParseError) -> SqlError:
    info = (exc.errors or [{}])[0]
    near = info.get("highlight") or ""
    where = f' at or near "{near}"' if near else ""
    return SqlError("42601", f"syntax error{where}: fix the statement (Query Service speaks Spark SQL).",
                    _position(sql, exc))


def _unsupported(what: str) -> SqlError:
    return SqlError("0A000", f"{what} is not supported by Query Service; run SELECT, SHOW, SET, CREATE TABLE ... AS "
                             f"SELECT or DROP TABLE.")


def _strip(sql: str) -> str:
    sql = sql.strip()
    while sql.endswith(";"):
        sql = sql[:-1].rstrip()
    return sql


def _limit_value(node: Any) -> int | None:
    limit = node.args.get("limit")
    if limit is None:
        return None
    value = limit.expression if isinstance(limit, exp.Limit) else limit
    if isinstance(value, exp.Literal) and value.is_int:
        return int(value.this)
    return -1  # an expression: left as it is


def _apply_limits(node: Any, *, cap: bool) -> Any:
    """The documented row limits on the outermost query (``LIMIT 0`` = no cap)."""
    if not isinstance(node, exp.Query):
        return node
    n = _limit_value(node)
    if n is not None and n > MAX_LIMIT:
        raise SqlError("53400", f"LIMIT exceeds max value: {n} is more than {MAX_LIMIT:,}; use LIMIT {MAX_LIMIT} or "
                                f"less, or LIMIT 0 for all rows.")
    if n == 0:
        node.set("limit", None)
    elif n is None and cap:
        node = node.limit(DEFAULT_ROW_CAP, copy=False)
    return node


def _pg_names(node: Any, dialect: str) -> Any:
    """PostgreSQL's output column names for the outermost SELECT: an unaliased function call is named after its
    function (``count(*)`` -> ``count``, ``sum(x)`` -> ``sum``), where DuckDB would name it ``count_star()``."""
    select = node
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return node
    projections = []
    changed = False
    for p in select.expressions:
        if isinstance(p, (exp.Func, exp.Anonymous)) and not isinstance(p, (exp.Cast, exp.Explode, exp.Inline)) \
                and not isinstance(p, exp.Alias):
            name = p.sql(dialect=dialect).split("(", 1)[0].strip().strip('"`').split(".")[-1].lower()
            if re.match(r"^[a-z_][a-z0-9_]*$", name):
                p = exp.alias_(p, name, quoted=True)
                changed = True
        projections.append(p)
    if changed:
        select.set("expressions", projections)
    return node


def _spark_generators(node: Any, maps: frozenset[str]) -> Any:
    """Spark's generators in DuckDB terms: ``explode(map)`` -> rows of ``key``, ``value``
    (``unnest(map_entries(m))``), ``inline(array of structs)`` -> a row per element, a column per field."""

    def fix(n: Any) -> Any:
        if isinstance(n, exp.Explode) and not isinstance(n, exp.Posexplode) and not n.expressions:
            arg = n.this
            if isinstance(arg, (exp.Column, exp.Dot)) and arg.output_name.lower() in maps:
                return exp.Explode(this=exp.Anonymous(this="MAP_ENTRIES", expressions=[arg]),
                                   expressions=[exp.PropertyEQ(this=exp.to_identifier("max_depth"),
                                                               expression=exp.Literal.number(2))])
        if isinstance(n, exp.Inline):
            return exp.Explode(this=n.this, expressions=[exp.PropertyEQ(this=exp.to_identifier("max_depth"),
                                                                        expression=exp.Literal.number(2))])
        return n

    return node.transform(fix)


def parse(sql: str, *, cap: bool = True, maps: frozenset[str] = frozenset()) -> Statement:
    """Sort one statement by kind and give its DuckDB text; raises :class:`SqlError` (42601 syntax, 0A000 refused
    kinds, 53400 LIMIT past the maximum). ``cap``: a query without a LIMIT returns at most :data:`DEFAULT_ROW_CAP`
    rows (interactive sessions; batch queries run uncapped). ``maps``: the (lower-case) names of the map columns of
    the tenant's tables, which ``explode`` turns into ``key``, ``value`` rows (``identityMap`` always is one)."""
    text = _strip(sql)
    if not text:
        return Statement("empty")
    m = re.match(r"\(|[A-Za-z_]+", text)
    head = m.group().upper() if m else text[:1]
    if _TRANSACTION.match(text):
        return Statement("transaction", name=head if head != "START" else "BEGIN")
    if head == "SHOW":
        m = _SHOW.match(text)
        name = " ".join(m.group("name").split()).lower() if m else ""
        if name == "tables":
            return Statement("show_tables")
        return Statement("show", name=name)
    if head in ("SET", "RESET"):
        m = _SET.match(text)
        if head == "RESET" or m is None:
            raise _unsupported(f"{head} {text[len(head):].strip()}".strip())
        key = m.group("key").lower()
        value = m.group("value").strip().strip("'\"")
        if key not in SESSION_KEYS:
            raise SqlError("0A000", f"SET {key} is not supported by Query Service; session settings it takes: "
                                    f"{', '.join(sorted(SESSION_KEYS))}.")
        return Statement("set", name=key, value=value)
    if head not in _STATEMENT_HEADS and not head.startswith("("):
        raise _unsupported(head)
    explain = head == "EXPLAIN"
    body = text[len("EXPLAIN"):].strip() if explain else text
    if explain:
        for opt in ("ANALYZE", "VERBOSE", "FORMAT TEXT"):
            if body.upper().startswith(opt):
                body = body[len(opt):].strip()
    catalog = bool(_CATALOG_REF.search(body))
    dialect = "postgres" if catalog else "spark"
    try:
        trees = pgcatalog.parse(body) if catalog else sqlglot.parse(body, read=dialect)
    except sqlglot.errors.ParseError as exc:
        try:  # DuckDB's own syntax (e.g. a table function sqlglot's Spark reader does not take)
            trees = sqlglot.parse(body, read="duckdb")
        except sqlglot.errors.ParseError:
            raise _syntax(text, exc) from None
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise SqlError("42601", "one statement at a time: split the text at its semicolons.")
    node: Any = trees[0]
    tables = tuple(sorted({t.name.lower() for t in node.find_all(exp.Table) if t.name}))
    if isinstance(node, exp.Create):
        kind = str(node.args.get("kind") or "").upper()
        query = node.expression
        if kind != "TABLE" or not isinstance(query, (exp.Query, exp.Subquery)) or explain:
            raise _unsupported(f"CREATE {kind or 'statement'} (other than CREATE TABLE ... AS SELECT)")
        target = node.this.this if isinstance(node.this, exp.Schema) else node.this
        name = target.name.lower() if isinstance(target, exp.Table) else ""
        if not _TABLE_NAME.match(name) or (isinstance(target, exp.Table) and target.db):
            raise SqlError("42601", f"CREATE TABLE needs a plain table name of letters, digits and _ (got "
                                    f"{target.sql(dialect='spark') if target else 'none'}).")
        if isinstance(query, exp.Subquery):
            query = query.this
        query = _pg_names(_spark_generators(query, maps | _MAP_COLUMNS), "spark")
        return Statement("ctas", sql=query.sql(dialect="duckdb"), name=name,
                         if_exists=bool(node.args.get("exists")), tables=tables)
    if isinstance(node, exp.Drop):
        kind = str(node.args.get("kind") or "").upper()
        if kind != "TABLE":
            raise _unsupported(f"DROP {kind or 'statement'}")
        targets = node.args.get("tables") or ([node.this] if node.this is not None else [])
        if len(targets) != 1 or not isinstance(targets[0], exp.Table):
            raise SqlError("0A000", "DROP TABLE takes one table at a time in Query Service; drop them one by one.")
        return Statement("drop", name=targets[0].name.lower(), if_exists=bool(node.args.get("exists")))
    if not isinstance(node, (exp.Query, exp.Values)):
        word = text.split(None, 1)[0].upper()
        raise _unsupported(word)
    if catalog:
        node = pgcatalog.rewrite(node, version=VERSION_STRING)
    else:
        node = _spark_generators(node, maps | _MAP_COLUMNS)
    node = _pg_names(node, dialect)
    node = _apply_limits(node, cap=cap and not explain)
    out = node.sql(dialect="duckdb")
    return Statement("explain" if explain else "query", sql=("EXPLAIN " + out) if explain else out,
                     catalog=catalog, tables=tables)


# -- the tenant's tables ------------------------------------------------------------------------------------------
def tenant_tables(platform: Platform, tenant: Tenant, *,
                  files_cache: dict[tuple[str, str], tuple[str, ...]] | None = None) -> list[LakeTable]:
    """Every Catalog dataset of ``tenant`` that has a table name, with the files of its successful batches (oldest
    batch first), read from the store as the Catalog service keeps it. ``files_cache`` keeps the files of each
    (dataset, batch) once listed: a successful batch's files do not change."""
    lake = DataLake(platform.lake_dir)
    marks = ",".join("?" * len(SUCCESS_STATES))
    by_dataset: dict[str, list[str]] = {}
    for b in platform.store.select(tenant, "batch", where=f"state IN ({marks})", params=list(SUCCESS_STATES)):
        for rel in b.doc.get("relatedObjects") or []:
            if isinstance(rel, dict) and rel.get("type") == "dataSet" and isinstance(rel.get("id"), str):
                by_dataset.setdefault(rel["id"], []).append(b.id)
    out = []
    for rec in platform.store.select(tenant, "dataSet"):
        names = (rec.doc.get("tags") or {}).get(PQS_TABLE_TAG) or []
        if not names or not isinstance(names[0], str) or not _TABLE_NAME.match(names[0]):
            continue
        files: list[str] = []
        batch_ids = tuple(by_dataset.get(rec.id, []))
        for batch_id in batch_ids:
            cached = files_cache.get((rec.id, batch_id)) if files_cache is not None else None
            if cached is None:
                try:
                    cached = tuple(str(p.resolve()) for p in lake.data_files(tenant, rec.id, batch_id))
                except LakePathError:
                    continue
                if files_cache is not None and cached:
                    files_cache[(rec.id, batch_id)] = cached
            files.extend(cached)
        out.append(LakeTable(names[0], rec.id, str(rec.doc.get("name") or ""), str(rec.doc.get("description") or ""),
                             tuple(files), batch_ids, bool((rec.doc.get("tags") or {}).get(QUERY_CREATED_TAG))))
    return out


#: The Catalog tag marking a dataset that a CTAS statement created (and DROP TABLE may remove): its creator.
QUERY_CREATED_TAG = "aep-local/query/createdBy"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _arrow(relation: Any) -> pa.Table:
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # DuckDB 2 / 1.x
    return fetch()


class LakeDatabase:
    """One in-memory DuckDB database over the lake of one tenant (``table``: of one table of it, dbName
    ``sandbox:table``): its configuration locked, the PostgreSQL catalog shim (:mod:`.pgcatalog`) installed, a view
    per dataset. Sessions query it through cursors of their own (:meth:`cursor`), which share its views and settings;
    it is kept as long as its owner (the Query Service) keeps it, so that opening a session costs a cursor, not a
    database.

    Thread-safety: :meth:`refresh` and :meth:`cursor` may be called from any thread."""

    def __init__(self, platform: Platform, tenant: Tenant, *, table: str | None = None):
        self.platform = platform
        self.tenant = tenant
        self.only = table
        self._signature: tuple | None = None
        self.tables: list[LakeTable] = []
        #: The lower-case names of the map columns of the views (``explode`` gives their key and value).
        self.maps: frozenset[str] = frozenset()
        self._files: dict[tuple[str, str], tuple[str, ...]] = {}
        self._lock = threading.Lock()
        root = DataLake(platform.lake_dir).dataset_dir(tenant, "x").parent  # <lake>/<org>/<sandbox>
        self.root = Path(root).resolve()
        con = duckdb.connect(":memory:", config=dict(_DUCKDB_CONFIG))
        try:
            con.execute(f"SET allowed_directories=[{_lit(str(self.root) + '/')}]")
            con.execute("SET temp_directory=''")
            con.execute("SET enable_external_access=false")
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            con.execute(f"SET schema={_lit(SCHEMA)}")
            pgcatalog.install(con, f"{tenant.sandbox}:{table or 'all'}")
            con.execute("SET lock_configuration=true")
        except BaseException:
            con.close()
            raise
        self.con = con
        self.closed = False

    def cursor(self) -> Any:
        """A connection of its own to this database (DuckDB ``cursor()``), in the datasets' schema."""
        with self._lock:
            if self.closed:
                raise SqlError("08003", "the Query Service is stopping; reconnect once AEP Local is back.")
            cur = self.con.cursor()
        cur.execute(f"SET schema={_lit(SCHEMA)}")
        return cur

    def refresh(self) -> list[LakeTable]:
        """Make the views match the tenant's datasets and successful batches: a view is rebuilt only when its
        dataset's batch list changed, so a new run's batch shows in every open session."""
        tables = tenant_tables(self.platform, self.tenant, files_cache=self._files)
        if self.only is not None:
            tables = [t for t in tables if t.name == self.only]
        signature = tuple((t.name, t.dataset_id, t.files) for t in tables)
        if signature == self._signature:
            return self.tables
        with self._lock:
            if signature == self._signature:
                return self.tables
            before = {t.name: (t.dataset_id, t.files) for t in self.tables if t.files}
            after = {t.name: (t.dataset_id, t.files) for t in tables if t.files}
            for name in before.keys() - after.keys():
                self.con.execute(f"DROP VIEW IF EXISTS {SCHEMA}.{_quote(name)}")
            for name, (_, files) in after.items():
                if before.get(name) == after[name]:
                    continue
                listing = ", ".join(_lit(f) for f in files)
                self.con.execute(f"CREATE OR REPLACE VIEW {SCHEMA}.{_quote(name)} AS "
                                 f"SELECT * FROM read_parquet([{listing}], union_by_name=true)")
            maps = self.con.execute(
                "SELECT lower(column_name) FROM duckdb_columns() WHERE schema_name = ? AND data_type LIKE 'MAP(%'",
                [SCHEMA]).fetchall()
            self.maps = frozenset(m for (m,) in maps)
            self.tables, self._signature = tables, signature
            return tables

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            try:
                self.con.close()
            except duckdb.Error:  # pragma: no cover - closing twice
                pass


class LakeSql:
    """One session's connection to the DuckDB database of one tenant (:class:`LakeDatabase`); ``table`` limits it to
    one table (dbName ``sandbox:table``). Without a ``database`` it opens one of its own, closed with it.

    Thread-safety: one statement at a time (the caller serialises); :meth:`interrupt` may come from any thread."""

    def __init__(self, platform: Platform, tenant: Tenant, *, table: str | None = None,
                 timeout_s: float = STATEMENT_TIMEOUT_S, database: LakeDatabase | None = None):
        self.platform = platform
        self.tenant = tenant
        self.only = table
        self.timeout_s = timeout_s
        self._interrupted: str | None = None
        self._owned = database is None
        self.database = database if database is not None else LakeDatabase(platform, tenant, table=table)
        self.root = self.database.root
        try:
            self.con = self.database.cursor()
        except BaseException:
            if self._owned:
                self.database.close()
            raise

    @property
    def tables(self) -> list[LakeTable]:
        return self.database.tables

    @property
    def maps(self) -> frozenset[str]:
        return self.database.maps

    # -- views ------------------------------------------------------------------------------------------------------
    def refresh(self) -> list[LakeTable]:
        """Make the views match the tenant's datasets and successful batches (rebuilt only when they changed)."""
        return self.database.refresh()

    # -- statements ---------------------------------------------------------------------------------------------------
    def run(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run DuckDB ``sql`` (from :func:`parse`) under the statement timeout; the rows as an Arrow table."""
        self._interrupted = None
        timer = threading.Timer(self.timeout_s, self._timeout)
        timer.daemon = True
        timer.start()
        try:
            self.refresh()
            rel = self.con.sql(sql, params=list(params) if params else None)
            return _arrow(rel) if rel is not None else pa.table({})
        except duckdb.Error as exc:
            raise self._error(exc) from None
        finally:
            timer.cancel()

    def _timeout(self) -> None:
        self._interrupted = "timeout"
        self.con.interrupt()

    def interrupt(self) -> None:
        """Stop the running statement (thread-safe): it fails with 57014."""
        self._interrupted = self._interrupted or "cancel"
        self.con.interrupt()

    def close(self) -> None:
        try:
            self.con.close()
        except duckdb.Error:  # pragma: no cover - closing twice
            pass
        if self._owned:
            self.database.close()

    def _error(self, exc: duckdb.Error) -> SqlError:
        msg = str(exc).split("\n", 1)[0]
        for prefix in ("Catalog Error: ", "Binder Error: ", "Parser Error: ", "Permission Error: ",
                       "Invalid Input Error: ", "Conversion Error: ", "Out of Memory Error: ", "INTERNAL Error: "):
            msg = msg.removeprefix(prefix)
        if isinstance(exc, duckdb.InterruptException):
            if self._interrupted == "timeout":
                return SqlError("53400", f"Statement timeout: the statement ran longer than "
                                         f"{self.timeout_s:g} seconds; narrow it with WHERE or LIMIT, or use CTAS.")
            return SqlError("57014", "canceling statement due to user request")
        if isinstance(exc, duckdb.PermissionException):
            return SqlError("42501", _NO_FILES)
        if "configuration has been locked" in msg or "disabled through configuration" in msg:
            return SqlError("42501", "Query Service settings are fixed; SET takes only the session keys "
                                     f"{', '.join(sorted(SESSION_KEYS))}.")
        if isinstance(exc, duckdb.CatalogException):
            m = re.search(r"Table with name (\S+) does not exist", msg)
            if m:
                return self.unknown_table(m.group(1))
            if "Function with name" in msg:
                return SqlError("42883", f"{msg.split('!')[0]}; see the Spark SQL functions Query Service supports.")
            return SqlError("42P01", msg)
        if isinstance(exc, duckdb.ParserException):
            return SqlError("42601", f"syntax error: {msg}", _duck_position(str(exc)))
        if isinstance(exc, duckdb.BinderException):
            return SqlError("42703" if "column" in msg.lower() else "42804", msg)
        if isinstance(exc, (duckdb.ConversionException, duckdb.InvalidInputException)):
            return SqlError("22000", msg)
        if isinstance(exc, duckdb.OutOfMemoryException):
            return SqlError("53200", f"out of memory: {msg}; narrow the query with WHERE or LIMIT.")
        return SqlError("58000", f"System error: {msg}")

    def unknown_table(self, name: str) -> SqlError:
        have = sorted(t.name for t in self.tables)
        listing = ", ".join(have) if have else "none yet (run a dataflow first)"
        return SqlError("42P01", f'Table "{name}" does not exist; tables of this sandbox: {listing}.')


def _duck_position(text: str) -> int | None:
    """The 1-based position of DuckDB's caret under ``LINE n: ...`` (statement on one line)."""
    lines = text.split("\n")
    for i, line in enumerate(lines[:-1]):
        m = re.match(r"^(LINE \d+: )", line)
        if m and "^" in lines[i + 1]:
            return max(1, lines[i + 1].index("^") - len(m.group(1)) + 1)
    return None


def show_tables(tables: Sequence[LakeTable]) -> pa.Table:
    """``SHOW TABLES``: ``name | dataSetId | dataSet | description | resolved`` (psql docs)."""
    rows = sorted(tables, key=lambda t: t.name)
    return pa.table({
        "name": pa.array([t.name for t in rows], pa.string()),
        "dataSetId": pa.array([t.dataset_id for t in rows], pa.string()),
        "dataSet": pa.array([t.dataset_name for t in rows], pa.string()),
        "description": pa.array([t.description for t in rows], pa.string()),
        "resolved": pa.array([bool(t.files) for t in rows], pa.bool_()),
    })


def to_json_columns(table: pa.Table) -> pa.Table:
    """``auto_to_json``: top-level struct, map and list columns as JSON strings."""
    def default(v: Any) -> Any:
        return str(v)

    cols, names = [], []
    for name, col in zip(table.column_names, table.columns):
        t = col.type
        if pa.types.is_struct(t) or pa.types.is_map(t) or pa.types.is_list(t) or pa.types.is_large_list(t):
            values: list[str | None] = []
            for v in col.to_pylist():
                if v is None:
                    values.append(None)
                else:
                    if pa.types.is_map(t):
                        v = _map_dict(v)
                    values.append(json.dumps(_maps(v), default=default, separators=(",", ":")))
            col = pa.array(values, pa.string())
        cols.append(col)
        names.append(name)
    return pa.table(cols, names=names)


def _map_dict(v: Any) -> Any:
    return {k: _maps(x) for k, x in v} if isinstance(v, list) else v


def _maps(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _maps(x) for k, x in v.items()}
    if isinstance(v, list):
        if v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
            return {k: _maps(x) for k, x in v}
        return [_maps(x) for x in v]
    return v
