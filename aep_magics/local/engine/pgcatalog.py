"""PostgreSQL's system catalog as client programs read it, answered by DuckDB: the one place where the catalog
queries of psql (``\\d``, ``\\dt``, ``\\l``, ...), SQLAlchemy's inspector and psycopg are made to run on DuckDB's
``pg_catalog``.

Query Service answers these catalog queries (its psql meta-commands:
https://experienceleague.adobe.com/en/docs/experience-platform/query/sql/metadata); DuckDB's ``pg_catalog`` has most
of the tables and functions they read, not all. Two pieces close the gap:

- :func:`install` creates, in each DuckDB database, a hidden schema :data:`SHIM_SCHEMA` holding what DuckDB lacks:
  views in place of ``pg_class`` (the dataset views show as tables, ``relkind`` ``r``, plus ``relforcerowsecurity``),
  ``pg_namespace`` (without the hidden schema), ``pg_database`` (one database, ``{sandbox}:all``) and empty
  ``pg_policy``, ``pg_inherits``, ``pg_statistic_ext``, ``pg_publication``, ... with the columns psql 15 reads;
  macros for ``pg_encoding_to_char``, the 3-argument ``pg_get_expr``, ``pg_relation_is_publishable`` and the
  ``regtype`` / ``regclass`` / ``regnamespace`` casts.
- :func:`rewrite_text` (before parsing) and :func:`rewrite` (on the sqlglot tree) point a client's catalog query at
  them: ``OPERATOR(pg_catalog.~)`` becomes ``~``, ``COLLATE pg_catalog.default`` goes, ``pg_catalog.X`` tables and
  functions with a shim become ``pg_shim.X``, ``x::pg_catalog.regtype`` a macro call, ``version()`` the server's
  version string.

Only statements that name the PostgreSQL catalog (``pg_*`` or ``information_schema``) pass through here; queries over
datasets never do.
"""

from __future__ import annotations

import re
from typing import Any

import sqlglot
from sqlglot import exp

#: The hidden schema of the shim's views and macros (never listed by the catalog it serves).
SHIM_SCHEMA = "pg_shim"
#: The schema the dataset views live in (psql ``\\d`` shows ``public``).
USER_SCHEMA = "public"

#: psql's PostgreSQL-only spellings (``c.relname OPERATOR(pg_catalog.~) '^(name)$' COLLATE pg_catalog.default``),
#: rewritten to what sqlglot's PostgreSQL reader takes.
_TEXT_SHIMS = [(re.compile(r"OPERATOR\(\s*pg_catalog\.(~\*?|!~\*?|=|<>)\s*\)"), r"\1"),
               (re.compile(r"\s+COLLATE\s+pg_catalog\.(?:default|\"default\"|\"C\")", re.I), "")]

_EMPTY_TABLES = {
    # psql 15 \d footers (describeOneTableDetails) and \l / \dn columns DuckDB has no table for
    "pg_policy": "oid BIGINT, polname VARCHAR, polrelid BIGINT, polcmd VARCHAR, polpermissive BOOLEAN, "
                 "polroles BIGINT[], polqual VARCHAR, polwithcheck VARCHAR",
    "pg_inherits": "inhrelid BIGINT, inhparent BIGINT, inhseqno INTEGER, inhdetachpending BOOLEAN",
    "pg_statistic_ext": "oid BIGINT, stxrelid BIGINT, stxname VARCHAR, stxnamespace BIGINT, stxowner BIGINT, "
                        "stxstattarget INTEGER, stxkeys SMALLINT[], stxkind VARCHAR[], stxexprs VARCHAR",
    "pg_publication": "oid BIGINT, pubname VARCHAR, pubowner BIGINT, puballtables BOOLEAN, pubinsert BOOLEAN, "
                      "pubupdate BOOLEAN, pubdelete BOOLEAN, pubtruncate BOOLEAN, pubviaroot BOOLEAN",
    "pg_publication_namespace": "oid BIGINT, pnpubid BIGINT, pnnspid BIGINT",
    "pg_publication_rel": "oid BIGINT, prpubid BIGINT, prrelid BIGINT, prqual VARCHAR, prattrs SMALLINT[]",
    "pg_trigger": "oid BIGINT, tgrelid BIGINT, tgparentid BIGINT, tgname VARCHAR, tgfoid BIGINT, tgtype SMALLINT, "
                  "tgenabled VARCHAR, tgisinternal BOOLEAN, tgconstraint BIGINT",
    "pg_rewrite": "oid BIGINT, rulename VARCHAR, ev_class BIGINT, ev_type VARCHAR, ev_enabled VARCHAR, "
                  "is_instead BOOLEAN",
    "pg_partitioned_table": "partrelid BIGINT, partstrat VARCHAR, partnatts SMALLINT, partdefid BIGINT",
    "pg_foreign_table": "ftrelid BIGINT, ftserver BIGINT, ftoptions VARCHAR[]",
    "pg_roles": "oid BIGINT, rolname VARCHAR, rolsuper BOOLEAN",
    "pg_extension": "oid BIGINT, extname VARCHAR, extowner BIGINT, extnamespace BIGINT, extversion VARCHAR",
}

#: Functions the shim defines (a call to one, with or without ``pg_catalog.``, goes to ``pg_shim.<name>``).
_MACROS = {
    "pg_encoding_to_char": "(enc) AS 'UTF8'",
    "pg_get_expr": "(expr, relid) AS expr, (expr, relid, pretty) AS expr",
    "pg_relation_is_publishable": "(relid) AS false",
    "pg_get_statisticsobjdef_columns": "(stat_oid) AS NULL::VARCHAR",
    "pg_get_userbyid": "(role_oid) AS 'postgres'",
    "array_upper": "(arr, dim) AS len(arr)",
    "pg_get_function_result": "(fn_oid) AS NULL::VARCHAR",
    "pg_get_function_arguments": "(fn_oid) AS ''",
    "pg_table_size": "(rel_oid) AS 0::BIGINT",
    "pg_relation_size": "(rel_oid) AS 0::BIGINT, (rel_oid, fork) AS 0::BIGINT",
    "pg_total_relation_size": "(rel_oid) AS 0::BIGINT",
    "pg_database_size": "(db) AS 0::BIGINT",
    "pg_get_serial_sequence": "(rel, col) AS NULL::VARCHAR",
    # structs, lists and maps are sent as json (OID 114): the catalog says so too
    "format_type": "(type_oid, typemod) AS CASE WHEN pg_catalog.format_type(type_oid, typemod) IN ('struct', 'list', "
                   "'map', 'union', 'array') THEN 'json' ELSE pg_catalog.format_type(type_oid, typemod) END",
    "quote_ident": "(ident) AS CASE WHEN regexp_full_match(ident, '[a-z_][a-z0-9_$]*') THEN ident "
                   "ELSE '\"' || replace(ident, '\"', '\"\"') || '\"' END",
    "regtype_name": "(type_oid) AS format_type(type_oid, NULL)",
    "regclass_name": f"(rel_oid) AS (SELECT first(relname) FROM {SHIM_SCHEMA}.pg_class WHERE oid = rel_oid)",
    "regclass_oid": f"(rel_name) AS (SELECT first(oid) FROM {SHIM_SCHEMA}.pg_class WHERE relname = rel_name)",
    "regnamespace_name": "(nsp_oid) AS (SELECT first(nspname) FROM pg_catalog.pg_namespace WHERE oid = nsp_oid)",
    "regnamespace_oid": "(nsp_name) AS (SELECT first(oid) FROM pg_catalog.pg_namespace WHERE nspname = nsp_name)",
    "regtype_oid": "(x_type) AS (SELECT first(oid) FROM pg_catalog.pg_type WHERE typname = x_type)",
}
_SHIM_TABLES = frozenset({"pg_class", "pg_namespace", "pg_database", "pg_proc", "pg_collation", "pg_index",
                          *_EMPTY_TABLES})
#: ``x::reg<kind>``: a name from an oid (a column) or an oid from a name (a string literal).
_REG_CASTS = {"regtype": "regtype", "regclass": "regclass", "regnamespace": "regnamespace"}


def _view_sql(db_name: str) -> list[str]:
    s = SHIM_SCHEMA
    hidden = f"(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname IN ('{s}', 'main'))"
    out = [
        f"CREATE SCHEMA {s}",
        f"CREATE VIEW {s}.pg_class AS SELECT * REPLACE (CASE WHEN relkind = 'v' AND relnamespace = (SELECT oid FROM "
        f"pg_catalog.pg_namespace WHERE nspname = '{USER_SCHEMA}') THEN 'r' ELSE relkind END AS relkind, "
        "NULL::VARCHAR[] AS reloptions, NULL::VARCHAR[] AS relacl, 'd' AS relreplident), "
        f"false AS relforcerowsecurity FROM pg_catalog.pg_class WHERE relnamespace NOT IN {hidden}",
        f"CREATE VIEW {s}.pg_namespace AS SELECT * FROM pg_catalog.pg_namespace WHERE nspname NOT IN ('{s}', 'main')",
        f"CREATE VIEW {s}.pg_collation AS SELECT oid, collname, (SELECT oid FROM pg_catalog.pg_namespace WHERE "
        "nspname = 'pg_catalog') AS collnamespace, 'c' AS collprovider, -1 AS collencoding FROM pg_catalog.pg_collation",
        f"CREATE VIEW {s}.pg_index AS SELECT *, false AS indnullsnotdistinct FROM pg_catalog.pg_index",
        f"CREATE VIEW {s}.pg_proc AS SELECT * FROM pg_catalog.pg_proc WHERE pronamespace IN "
        f"(SELECT oid FROM {s}.pg_namespace)",
        f"CREATE VIEW {s}.pg_database AS SELECT 16384::BIGINT AS oid, {_lit(db_name)} AS datname, 10::BIGINT AS datdba,"
        " 6 AS encoding, 'c' AS datlocprovider, true AS datallowconn, false AS datistemplate, -1 AS datconnlimit, "
        "1663::BIGINT AS dattablespace, 'en_US.utf8' AS datcollate, 'en_US.utf8' AS datctype, "
        "NULL::VARCHAR AS daticulocale, NULL::VARCHAR AS datcollversion, NULL::VARCHAR[] AS datacl",
    ]
    for name, columns in _EMPTY_TABLES.items():
        nulls = ", ".join(f"NULL::{c.split(' ', 1)[1]} AS {c.split(' ', 1)[0]}" for c in columns.split(", "))
        out.append(f"CREATE VIEW {s}.{name} AS SELECT {nulls} WHERE false")
    for name, body in _MACROS.items():
        out.append(f"CREATE MACRO {s}.{name}{body}")
    return out


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def install(con: Any, db_name: str) -> None:
    """Create the shim's schema, views and macros in the DuckDB database of ``con`` (before its configuration is
    locked); ``db_name`` is the one database ``pg_database`` lists (``{sandbox}:all``)."""
    for statement in _view_sql(db_name):
        con.execute(statement)


def rewrite_text(sql: str) -> str:
    """``sql`` with the operator and collation spellings sqlglot's PostgreSQL reader does not take rewritten."""
    if "pg_catalog." not in sql:
        return sql
    for pattern, replacement in _TEXT_SHIMS:
        sql = pattern.sub(replacement, sql)
    return sql


def _shim_call(name: str, args: list[Any], made: set[int]) -> exp.Expression:
    call = exp.Anonymous(this=name, expressions=args)
    made.add(id(call))
    return exp.Dot(this=exp.to_identifier(SHIM_SCHEMA), expression=call)


def _type_name(to: Any) -> str:
    """The PostgreSQL type name of a cast target, without ``pg_catalog.`` (``""`` for DuckDB's own types)."""
    if isinstance(to, exp.ObjectIdentifier):
        return to.name.lower()
    kind = to.args.get("kind") if isinstance(to, exp.DataType) else None
    if isinstance(kind, exp.Dot):
        return kind.expression.name.lower() if kind.this.name.lower() == "pg_catalog" else ""
    if isinstance(to, exp.DataType) and to.this == exp.DataType.Type.USERDEFINED and kind is not None:
        return str(kind.name if hasattr(kind, "name") else kind).lower()
    return ""


def rewrite(node: Any, *, version: str) -> Any:
    """A client's catalog query (a sqlglot tree read as PostgreSQL) in DuckDB terms, over the shim."""
    made: set[int] = set()  # the shim's own calls, not rewritten again

    def fix(n: Any) -> Any:
        if id(n) in made:
            return n
        out = step(n)
        # sqlglot's transform does not visit the children of a replaced node: rewrite them too
        return out if out is n else out.transform(fix, copy=False)

    def step(n: Any) -> Any:
        if isinstance(n, exp.Dot) and isinstance(n.expression, (exp.Anonymous, exp.Func)):
            if isinstance(n.this, (exp.Identifier, exp.Var, exp.Column)) and n.this.name.lower() == "pg_catalog":
                n = n.expression
        if isinstance(n, (exp.Anonymous, exp.Func)) and not isinstance(n, exp.Cast):
            name = (n.name if isinstance(n, exp.Anonymous) else n.sql_name()).lower()
            if name == "version":
                return exp.Literal.string(version)
            if name == "json_build_object" and isinstance(n, exp.Anonymous):
                return exp.Anonymous(this="json_object", expressions=list(n.expressions))
            if name in _MACROS:
                args = list(n.expressions) if isinstance(n, exp.Anonymous) else \
                    [a for a in (n.args.get("this"), *(n.args.get("expressions") or [])) if a is not None]
                return _shim_call(name, args, made)
        if isinstance(n, exp.Cast):
            name = _type_name(n.to)
            if name in _REG_CASTS:
                # an oid column shows as its name; a name (a string) gives its oid
                value = n.this
                if isinstance(value, exp.Literal) and value.is_string:
                    bare = value.this.split(".")[-1].strip('"')
                    return _shim_call(f"{_REG_CASTS[name]}_oid", [exp.Literal.string(bare)], made)
                if isinstance(value, exp.Column):
                    return _shim_call(f"{_REG_CASTS[name]}_name", [value], made)
                return _shim_call(f"{_REG_CASTS[name]}_oid", [value], made)
            if name and not isinstance(n.to, exp.ObjectIdentifier):
                to = exp.DataType.build(n.to.sql(dialect="postgres").split(".", 1)[-1], dialect="postgres")
                n.set("to", to)
                return n
        if isinstance(n, exp.Collate):
            return n.this
        if isinstance(n, exp.Column) and n.db.lower() == "pg_catalog":
            n.set("db", None)  # pg_catalog.pg_index.indrelid: DuckDB binds the column by its table's name
            return n
        if isinstance(n, exp.Table) and isinstance(n.this, (exp.Func, exp.Anonymous)) and n.db.lower() == "pg_catalog":
            n.set("db", None)  # a table function: pg_catalog.unnest(...)
            return n
        if isinstance(n, exp.Table) and n.name.lower() in _SHIM_TABLES and n.db.lower() in ("", "pg_catalog"):
            n.set("db", exp.to_identifier(SHIM_SCHEMA))
            return n
        return n

    return node.transform(fix)


def parse(sql: str) -> list[Any]:
    """A catalog query read as PostgreSQL (after :func:`rewrite_text`)."""
    return sqlglot.parse(rewrite_text(sql), read="postgres")
