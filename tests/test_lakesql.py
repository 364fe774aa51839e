"""SQL over the data lake (``aep_magics.local.engine.lakesql``) and the Query Service session that runs it.

A real AEP Local runs the tutorial's Shopify flow with an Email identity over loopback HTTP; then statements run in
Query Service sessions over the Parquet lake: the Spark dialect, nested XDM fields, ``identityMap``, the row limits,
SHOW/SET, the catalog queries of PostgreSQL clients, CTAS/DROP, tenant isolation, and every way out of the lake the
DuckDB connection must refuse.
"""

from __future__ import annotations

import io
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_engine_e2e import PROFILE_GROUPS, Kit

from aep_magics import local
from aep_magics.local.engine import lakesql
from aep_magics.local.engine.lakesql import LakeSql, SqlError
from aep_magics.local.platform import DEV_ORG_ID
from aep_magics.local.services.queryservice import QueryService
from aep_magics.local.store import Tenant

PROD = Tenant(DEV_ORG_ID, "prod")
USER = "aep-local-dev@AdobeID"
#: psql 15's ``\dt`` (psql -E), with ``v`` for views as ``\dtv`` sends it.
PSQL_DT = """SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;"""
#: SQLAlchemy 2's PostgreSQL dialect: ``inspect(engine).get_table_names()`` and ``has_table(name)`` (compiled with
#: literal binds from sqlalchemy.dialects.postgresql.base.PGDialect).
SA_TABLE_NAMES = ("SELECT pg_catalog.pg_class.relname \nFROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace ON "
                  "pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace \nWHERE pg_catalog.pg_class.relkind "
                  "= ANY (ARRAY['r', 'p']) AND pg_catalog.pg_class.relpersistence != 't' AND "
                  "pg_catalog.pg_table_is_visible(pg_catalog.pg_class.oid) AND pg_catalog.pg_namespace.nspname != "
                  "'pg_catalog'")
SA_HAS_TABLE = ("SELECT pg_catalog.pg_class.relname \nFROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace ON "
                "pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace \nWHERE pg_catalog.pg_class.relname IN "
                "(%s) AND pg_catalog.pg_class.relkind = ANY (ARRAY['r', 'p', 'f', 'v', 'm']) AND "
                "pg_catalog.pg_table_is_visible(pg_catalog.pg_class.oid) AND pg_catalog.pg_namespace.nspname != "
                "'pg_catalog'")


class Lake:
    """One AEP Local with one ingested dataset (the identities flow) and its Query Service."""

    def __init__(self, aep):
        self.aep = aep
        self.kit = Kit(aep, orders=800)
        mappings = [
            {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "lower(trim(Email))", "identity": True,
             "primaryIdentity": True, "namespaceCode": "Email"},
            {"destinationXdmPath": "personID", "sourceAttribute": "Order_Id"},
        ]
        groups = ["https://ns.adobe.com/xdm/context/identitymap", *PROFILE_GROUPS]
        self.ids = self.kit.flow(columns=["Order_Id", "Email"], mappings=mappings, groups=groups,
                                 options={"partialIngestionPercent": 50}, name="Orders SQL")
        self.kit.idle()
        (run,) = self.kit.runs(self.ids["flow"])
        assert run["metrics"]["statusSummary"]["status"] == "success", run["metrics"]
        self.rows = self.kit.read_batch(self.kit.batch_ids(run)[0])
        ds = self.kit.client.catalog.get_dataset(self.ids["dataset"])
        self.table = ds["tags"]["adobe/pqs/table"][0]
        self.qs = next(s for s in aep.app.services if isinstance(s, QueryService))

    def session(self, tenant: Tenant = PROD, **kw):
        return self.qs.interactive(tenant, user=kw.pop("user", USER), client=kw.pop("client", "pytest"), **kw)

    def sql(self, text: str, params=None):
        s = self.session()
        try:
            return s.execute(text, params)
        finally:
            s.close()


@pytest.fixture(scope="module")
def lake():
    with local.start(seed=1717) as aep:
        yield Lake(aep)


def error_of(session, text: str) -> SqlError:
    with pytest.raises(SqlError) as info:
        session.execute(text)
    return info.value


# -- the dataset as a table -------------------------------------------------------------------------------------------
def test_a_dataset_is_a_table_named_by_its_catalog_tag(lake: Lake):
    assert lake.table == "orders_sql_dataset"
    res = lake.sql(f"SELECT count(*) AS n FROM {lake.table}")
    assert res.tag == "SELECT 1"
    assert res.table.column("n")[0].as_py() == len(lake.rows)


def test_nested_fields_by_dot_notation_and_identity_map(lake: Lake):
    res = lake.sql(f"SELECT personID, personalEmail.address AS email, identityMap['Email'][0].id AS ident "
                   f"FROM {lake.table} WHERE personalEmail.address IS NOT NULL ORDER BY personID")
    got = {r["personID"]: (r["email"], r["ident"]) for r in res.table.to_pylist()}
    want = {r["personID"]: (r["personalEmail"]["address"], r["identityMap"][0][1][0]["id"])
            for r in lake.rows if r["personalEmail"] is not None}
    assert got == want and got


def test_spark_functions_are_translated(lake: Lake):
    res = lake.sql(f"SELECT size(collect_set(personalEmail.address)) AS n, date_format(to_timestamp('2024-03-05'), "
                   f"'yyyy-MM') AS month FROM {lake.table}")
    row = res.table.to_pylist()[0]
    assert row["month"] == "2024-03"
    assert row["n"] == len({r["personalEmail"]["address"] for r in lake.rows if r["personalEmail"]})


def test_explode_identity_map_and_inline_as_documented(lake: Lake):
    """aepp's ``querySegmentPopulation`` form: ``explode(identityMap)`` gives ``key`` and ``value`` rows, then
    ``inline(value)`` a row per identity with its fields as columns."""
    res = lake.sql(f"SELECT explode(identityMap) FROM {lake.table} WHERE identityMap IS NOT NULL LIMIT 5")
    assert res.table.column_names == ["key", "value"]
    assert set(res.table.column("key").to_pylist()) == {"Email"}
    res = lake.sql(f"SELECT key, inline(value), 'seg' segmentId FROM (SELECT explode(identityMap) FROM {lake.table} "
                   f"WHERE identityMap IS NOT NULL) LIMIT 0")
    assert res.table.column_names[0] == "key" and {"id", "primary"} <= set(res.table.column_names)
    assert res.table.column_names[-1] == "segmentId"
    want = sorted(r["identityMap"][0][1][0]["id"] for r in lake.rows if r["identityMap"])
    assert sorted(res.table.column("id").to_pylist()) == want and want
    assert set(res.table.column("key").to_pylist()) == {"Email"}


def test_function_columns_are_named_as_postgresql_names_them(lake: Lake):
    res = lake.sql(f"SELECT count(*), max(personID), count(*) AS n, personID FROM {lake.table} GROUP BY personID "
                   f"LIMIT 1")
    assert res.table.column_names == ["count", "max", "n", "personID"]


def test_auto_to_json_returns_nested_columns_as_json(lake: Lake):
    s = lake.session()
    assert s.execute("SET auto_to_json=true").tag == "SET"
    res = s.execute(f"SELECT identityMap FROM {lake.table} WHERE identityMap IS NOT NULL LIMIT 1")
    s.close()
    value = res.table.column(0)[0].as_py()
    assert value.startswith('{"Email":[{"id":"') and value.endswith('","primary":true}]}')


def test_a_new_dataset_and_batch_show_in_an_open_session(lake: Lake):
    s = lake.session()
    assert "fresh_rows" not in s.execute("SHOW TABLES").table.column("name").to_pylist()
    other = lake.session()
    other.execute("CREATE TABLE fresh_rows AS SELECT 1 AS a UNION ALL SELECT 2")
    assert s.execute("SELECT sum(a) FROM fresh_rows").table.column(0)[0].as_py() == 3
    other.execute("DROP TABLE fresh_rows")
    other.close()
    assert error_of(s, "SELECT * FROM fresh_rows").sqlstate == "42P01"
    s.close()


# -- limits -------------------------------------------------------------------------------------------------------------
def test_rows_are_capped_at_50000_without_a_limit(lake: Lake):
    cross = f"SELECT a.personID FROM {lake.table} a CROSS JOIN (SELECT 1 FROM {lake.table} LIMIT 100) b"
    assert len(lake.rows) * 100 > lakesql.DEFAULT_ROW_CAP
    assert lake.sql(cross).table.num_rows == lakesql.DEFAULT_ROW_CAP
    assert lake.sql(cross + " LIMIT 0").table.num_rows == len(lake.rows) * 100
    assert lake.sql(cross + " LIMIT 70000").table.num_rows == 70000


def test_a_limit_past_100000_is_53400(lake: Lake):
    s = lake.session()
    err = error_of(s, f"SELECT * FROM {lake.table} LIMIT 100001")
    s.close()
    assert err.sqlstate == "53400" and "LIMIT exceeds max value" in err.message


def test_syntax_error_has_its_position(lake: Lake):
    s = lake.session()
    err = error_of(s, "SELECT personID FROM WHERE x = 1")
    s.close()
    assert err.sqlstate == "42601" and err.position == 22, (err.message, err.position)


def test_unknown_table_lists_the_tables(lake: Lake):
    s = lake.session()
    err = error_of(s, "SELECT * FROM no_such_table")
    s.close()
    assert err.sqlstate == "42P01" and lake.table in err.message and "no_such_table" in err.message


def test_cancel_interrupts_the_running_statement(lake: Lake):
    s = lake.session()
    heavy = (f"SELECT count(*) FROM {lake.table} a CROSS JOIN {lake.table} b CROSS JOIN {lake.table} c "
             f"WHERE a.personID || b.personID || c.personID LIKE '%x%'")
    errors: list[SqlError] = []

    def run():
        try:
            s.execute(heavy)
        except SqlError as exc:
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    s.cancel()
    t.join(30)
    s.close()
    assert not t.is_alive() and [e.sqlstate for e in errors] == ["57014"]


def test_statement_timeout(lake: Lake):
    engine = LakeSql(lake.aep.platform, PROD, timeout_s=0.3)
    heavy = (f"SELECT count(*) FROM {lake.table} a CROSS JOIN {lake.table} b CROSS JOIN {lake.table} c "
             f"WHERE a.personID || b.personID || c.personID LIKE '%x%'")
    with pytest.raises(SqlError) as info:
        engine.run(lakesql.parse(heavy).sql)
    engine.close()
    assert info.value.sqlstate == "53400" and "Statement timeout" in info.value.message


# -- statements by kind -------------------------------------------------------------------------------------------------
def test_show_tables_has_the_documented_columns(lake: Lake):
    res = lake.sql("SHOW TABLES")
    assert res.table.column_names == ["name", "dataSetId", "dataSet", "description", "resolved"]
    rows = {r["name"]: r for r in res.table.to_pylist()}
    assert rows[lake.table]["dataSetId"] == lake.ids["dataset"] and rows[lake.table]["resolved"] is True


def test_set_show_and_transactions(lake: Lake):
    s = lake.session()
    assert [s.execute(x).tag for x in ("BEGIN", "START TRANSACTION", "COMMIT", "ROLLBACK")] == \
        ["BEGIN", "BEGIN", "COMMIT", "ROLLBACK"]
    assert s.execute("SHOW standard_conforming_strings").table.to_pylist() == [{"standard_conforming_strings": "on"}]
    assert s.execute("show transaction isolation level").table.column(0)[0].as_py() == "read committed"
    s.execute("SET drop_system_columns = false")
    assert s.execute("SHOW drop_system_columns").table.column(0)[0].as_py() == "false"
    assert error_of(s, "SHOW no_such_setting").sqlstate == "42704"
    s.close()


@pytest.mark.parametrize("text", ["DELETE FROM x", "INSERT INTO x SELECT 1", "UPDATE x SET a = 1",
                                  "CREATE VIEW v AS SELECT 1", "ALTER TABLE x ADD COLUMN y int", "VACUUM",
                                  "CHECKPOINT", "EXPORT DATABASE 'x'", "USE memory", "DETACH x", "CALL pragma_version()"])
def test_other_statements_are_not_supported(lake: Lake, text: str):
    s = lake.session()
    err = error_of(s, text)
    s.close()
    assert err.sqlstate == "0A000" and "not supported by Query Service" in err.message


# -- closed to SQL users --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/etc/*')",
    "COPY (SELECT 1) TO '/tmp/aep-local-copy.csv'",
    "ATTACH '/tmp/aep-local-attach.db' AS x",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET threads = 1",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "PRAGMA threads = 1",
])
def test_files_extensions_and_settings_are_closed(lake: Lake, text: str):
    s = lake.session()
    err = error_of(s, text)
    s.close()
    assert err.sqlstate in ("42501", "0A000"), (err.sqlstate, err.message)


@pytest.mark.parametrize("text", [
    "SET threads = 1", "SET lock_configuration = false", "SET enable_external_access = true",
    "INSTALL httpfs", "LOAD httpfs", "COPY (SELECT 1) TO '/tmp/aep-local-copy.csv'",
    "SELECT * FROM read_csv('/etc/passwd')", "ATTACH '/tmp/aep-local-attach.db' AS x",
    "SELECT * FROM secret_rows",
])
def test_the_duckdb_connection_itself_is_locked(lake: Lake, text: str):
    """Below the statement filter, DuckDB itself refuses: locked settings, no file outside the tenant's lake, no
    extension, no Python object (``secret_rows`` is a local Arrow table DuckDB could otherwise scan)."""
    secret_rows = pa.table({"x": [1]})  # noqa: F841 - what a replacement scan would find
    engine = LakeSql(lake.aep.platform, PROD)
    with pytest.raises(SqlError) as info:
        engine.run(text)
    engine.close()
    assert info.value.sqlstate in ("42501", "0A000", "42P01"), (info.value.sqlstate, info.value.message)


def test_another_tenants_lake_is_unreadable(lake: Lake):
    platform = lake.aep.platform
    other = platform.lake_dir / DEV_ORG_ID / "dev" / "abc123" / "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    other.mkdir(parents=True)
    pq.write_table(pa.table({"secret": ["dev data"]}), other / "part-00000.parquet")
    s = lake.session()
    for path in (other / "part-00000.parquet",
                 platform.lake_dir / DEV_ORG_ID / "prod" / ".." / "dev" / "abc123" / "*" / "*.parquet"):
        err = error_of(s, f"SELECT * FROM read_parquet('{path}')")
        assert err.sqlstate == "42501", err.message
    s.close()


def test_another_sandbox_does_not_see_the_table(lake: Lake):
    s = lake.session(Tenant(DEV_ORG_ID, "dev"))
    assert s.execute("SHOW TABLES").table.num_rows == 0
    err = error_of(s, f"SELECT * FROM {lake.table}")
    s.close()
    assert err.sqlstate == "42P01"
    other_org = lake.session(Tenant("OTHERORG0000000000000000@AdobeOrg", "prod"))
    assert error_of(other_org, f"SELECT * FROM {lake.table}").sqlstate == "42P01"
    other_org.close()


def test_a_single_table_database(lake: Lake):
    s = lake.session(table=lake.table)
    assert [r["name"] for r in s.execute("SHOW TABLES").table.to_pylist()] == [lake.table]
    s.close()
    with pytest.raises(SqlError) as info:
        lake.session(table="nope")
    assert info.value.sqlstate == "42P12"


# -- PostgreSQL clients' catalog queries ----------------------------------------------------------------------------------
def test_client_catalog_queries(lake: Lake):
    s = lake.session()
    assert s.execute("select pg_catalog.version()").table.column(0)[0].as_py().startswith("PostgreSQL ")
    assert s.execute("select current_schema()").table.column(0)[0].as_py() == "public"
    dt = s.execute(PSQL_DT).table.to_pylist()
    assert {"Schema": "public", "Name": lake.table, "Type": "table", "Owner": "postgres"} in dt
    names = s.execute(SA_TABLE_NAMES).table.column(0).to_pylist()
    assert lake.table in names
    assert s.execute(SA_HAS_TABLE % f"'{lake.table}'").table.num_rows == 1
    assert s.execute(SA_HAS_TABLE % "'nope'").table.num_rows == 0
    s.close()


def test_bound_parameters(lake: Lake):
    email = next(r["personalEmail"]["address"] for r in lake.rows if r["personalEmail"])
    res = lake.sql(f"SELECT count(*) FROM {lake.table} WHERE personalEmail.address = $1", [email])
    assert res.table.column(0)[0].as_py() >= 1
    assert lake.sql(f"SELECT count(*) FROM {lake.table} WHERE personalEmail.address = $1",
                    ["x'; DROP TABLE y; --"]).table.column(0)[0].as_py() == 0


# -- CTAS and DROP TABLE --------------------------------------------------------------------------------------------------
def test_ctas_creates_a_catalog_dataset_that_later_queries_see(lake: Lake):
    s = lake.session()
    res = s.execute(f"CREATE TABLE email_domains AS SELECT split(personalEmail.address, '@')[1] AS domain, "
                    f"count(*) AS orders FROM {lake.table} WHERE personalEmail.address IS NOT NULL GROUP BY 1")
    n = int(res.tag.split()[1])
    assert res.tag.startswith("SELECT ") and n > 0
    assert error_of(s, "CREATE TABLE email_domains AS SELECT 1 AS a").sqlstate == "42P07"
    assert s.execute("CREATE TABLE IF NOT EXISTS email_domains AS SELECT 1 AS a").tag == "SELECT 0"
    assert s.execute("SELECT sum(orders) FROM email_domains").table.column(0)[0].as_py() == \
        sum(1 for r in lake.rows if r["personalEmail"])
    client = lake.kit.client
    (ds_id, ds), = [(i, d) for i, d in client.catalog.list_datasets().items()
                    if d.get("tags", {}).get("adobe/pqs/table") == ["email_domains"]]
    # an ad hoc XDM schema matching the output, its fields under the tenant namespace
    schema = client.schemas.get_schema(ds["schemaRef"]["id"], accept="xed-full")
    assert "https://ns.adobe.com/xdm/data/adhoc" in schema["meta:extends"]
    fields = schema["properties"]["_aeplocal"]["properties"]
    assert fields["domain"]["type"] == "string" and fields["orders"]["type"] == "integer"
    assert ds["classification"]["dataBehavior"] == "adhoc"
    rows = []
    for f in client.data.list_batch_files(ds["lastBatchId"]):
        listing = client.data.get_file(f["dataSetFileId"])
        for part in listing["data"]:
            rows.extend(pq.read_table(io.BytesIO(client.data.download(f["dataSetFileId"], part["name"]))).to_pylist())
    assert len(rows) == n and ds["lastBatchStatus"] == "success"
    # only its creator drops it; a dataflow's dataset is not Query Service's to drop
    other = lake.session(user="someone-else@AdobeID")
    assert error_of(other, "DROP TABLE email_domains").sqlstate == "42501"
    assert error_of(other, f"DROP TABLE {lake.table}").sqlstate == "42501"
    other.close()
    assert s.execute("DROP TABLE email_domains").tag == "DROP TABLE"
    assert error_of(s, "SELECT * FROM email_domains").sqlstate == "42P01"
    assert s.execute("DROP TABLE IF EXISTS email_domains").tag == "DROP TABLE"
    assert error_of(s, "DROP TABLE email_domains").sqlstate == "42P01"
    s.close()
    assert ds_id not in client.catalog.list_datasets()
    assert not lake.aep.platform.store.get(PROD, "schema", ds["schemaRef"]["id"])  # its ad hoc schema goes too
