"""AEP Local's PostgreSQL door (``aep_magics.local.pgwire``): real clients -- psycopg 3, psql, SQLAlchemy -- against
``aep_magics.local.start()`` after a dataflow has ingested data, over loopback TCP.

Connections are made as Query Service documents them: user = org id, password = an IMS access token, dbname
``{sandbox}:all``, ``sslmode=require`` (https://experienceleague.adobe.com/en/docs/experience-platform/query/ui/credentials).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
from typing import Any

import psycopg
import pytest
from conftest import Raw
from test_engine_e2e import Kit

from aep_magics import local
from aep_magics.local import cli
from aep_magics.local.pgwire import PgServer, data_rows, split_statements, text_column
from aep_magics.local.platform import DEV_ORG_ID
from aep_magics.local.services.ims import register_client

OTHER_ORG = "OTHERORG0000000000000000@AdobeOrg"
OTHER_CLIENT, OTHER_SECRET = "pgwire-other", "pgwire-other-secret"
CATALOG = "/data/foundation/catalog"


class Lake:
    """One AEP Local whose tutorial flow has ingested a batch, and how to reach its PostgreSQL door."""

    def __init__(self, aep: Any):
        self.aep = aep
        self.raw = Raw(aep.url)
        self.token = self.raw.token()
        kit = Kit(aep, orders=400)
        ids = kit.flow(columns=["Email", "Phone", "Shipping_Address_Phone"], name="pgwire orders")
        kit.idle()
        (run,) = kit.runs(ids["flow"])
        assert run["metrics"]["statusSummary"]["status"] == "success"
        self.rows = run["metrics"]["recordSummary"]["outputRecordCount"]
        dataset = self.raw.get(f"{CATALOG}/dataSets/{ids['dataset']}", headers=self.raw.headers()).json()
        self.table = dataset[ids["dataset"]]["tags"]["adobe/pqs/table"][0]
        register_client(aep.platform, OTHER_CLIENT, OTHER_SECRET, OTHER_ORG)
        self.other_token = self.raw.token(OTHER_CLIENT, OTHER_SECRET)

    def dsn(self, **kw: Any) -> dict[str, Any]:
        params = {"host": "127.0.0.1", "port": self.aep.pg_port, "dbname": "prod:all", "user": DEV_ORG_ID,
                  "password": self.token, "sslmode": "require", "connect_timeout": 10}
        params.update(kw)
        return params

    def connect(self, **kw: Any) -> psycopg.Connection:
        return psycopg.connect(**self.dsn(**kw), autocommit=True)


@pytest.fixture(scope="module")
def lake():
    with local.start(seed=1717) as aep:
        yield Lake(aep)


# -- clients -----------------------------------------------------------------------------------------------------
def test_psycopg_over_tls_with_a_bound_parameter(lake: Lake):
    with lake.connect() as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.info.parameter_status("server_version").startswith("13.0")
        assert conn.info.parameter_status("TimeZone") == "UTC"
        (count,) = conn.execute(f"SELECT count(*) FROM {lake.table}").fetchone()
        assert count == lake.rows > 0
        # a value with a quote and a statement separator is bound, never pasted into the SQL
        evil = "it's'; DROP TABLE x; --"
        cur = conn.execute(f"SELECT count(*) AS n, %s AS echoed FROM {lake.table} WHERE personalEmail.address = %s",
                           [evil, evil])
        assert cur.fetchone() == (0, evil)
        assert [d.name for d in cur.description] == ["n", "echoed"]
        assert conn.execute(f"SELECT count(*) FROM {lake.table}").fetchone() == (count,)
        rows = conn.execute(f"SELECT personalEmail, personalEmail.address AS email FROM {lake.table} "
                            "WHERE personalEmail.address IS NOT NULL LIMIT 3").fetchall()
        assert len(rows) == 3 and all(r[0] == {"address": r[1]} for r in rows)  # a struct: JSON (OID 114)


def test_binary_format_results_and_parameters(lake: Lake):
    """psycopg's ``cursor(binary=True)`` asks for binary results (and sends numbers as binary parameters): the
    values equal the text format's."""
    import datetime as dt
    import decimal

    sql = ("SELECT %s::BIGINT AS big, %s::INTEGER AS i, 2.5::DOUBLE AS d, 1.25::REAL AS r, true AS b, NULL::INTEGER "
           "AS n, 'é''x' AS s, DATE '1999-12-31' AS day, TIMESTAMP '2024-02-29 12:34:56.789' AS ts, "
           "TIMESTAMPTZ '1970-01-01 00:00:00.000001+00' AS tz, 12345.678::DECIMAL(12,3) AS dec, "
           "-0.05::DECIMAL(6,2) AS small, 1e20::DECIMAL(38,0) AS huge, {'a': 1} AS st")
    params = [2**40, -7]
    with lake.connect() as conn:
        text_row = conn.execute(sql, params).fetchone()
        cur = conn.cursor(binary=True)
        binary_row = cur.execute(sql, params).fetchone()
        assert [d.name for d in cur.description][:3] == ["big", "i", "d"]
    assert binary_row == text_row
    assert binary_row[:8] == (2**40, -7, 2.5, 1.25, True, None, "é'x", dt.date(1999, 12, 31))
    assert binary_row[8] == dt.datetime(2024, 2, 29, 12, 34, 56, 789000)
    assert binary_row[9] == dt.datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC)
    assert binary_row[10:13] == (decimal.Decimal("12345.678"), decimal.Decimal("-0.05"), decimal.Decimal("1E+20"))
    assert binary_row[13] == {"a": 1}


def test_simple_query_with_several_statements_and_a_syntax_error_position(lake: Lake):
    with lake.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1 AS a; SELECT 'x;y' AS b -- ; not a statement\n;")
        assert cur.fetchall() == [(1,)]
        assert cur.nextset() and cur.fetchall() == [("x;y",)]
        sql = "SELECT 1;  SELECT * FROM WHERE"
        with pytest.raises(psycopg.errors.SyntaxError) as err:
            conn.execute(sql)
        assert err.value.diag.sqlstate == "42601"
        position = int(err.value.diag.statement_position)
        assert sql[position - 1:] == "WHERE"  # counted from the start of the whole string
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_transaction_block_and_an_error_inside_it(lake: Lake):
    with psycopg.connect(**lake.dsn()) as conn:  # not autocommit: psycopg sends BEGIN
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM no_such_table")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        assert conn.execute("SELECT 3").fetchone() == (3,)
        conn.commit()


def test_psql_select_dt_and_d(lake: Lake):
    assert shutil.which("psql"), "psql is missing: apt-get install postgresql-client (.ci/run does)"
    env = {**os.environ, "PGPASSWORD": lake.token, "PGCONNECT_TIMEOUT": "10"}
    conninfo = f"host=127.0.0.1 port={lake.aep.pg_port} dbname=prod:all user={DEV_ORG_ID} sslmode=require"

    def psql(command: str) -> str:
        run = subprocess.run(["psql", conninfo, "-X", "-v", "ON_ERROR_STOP=1", "-c", command], env=env,
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"psql -c {command!r} failed: {run.stderr}"
        return run.stdout

    assert re.search(rf"^\s*{lake.rows}$", psql(f"SELECT count(*) FROM {lake.table}"), re.M)
    assert lake.table in psql("\\dt")
    assert lake.table in psql("\\d")
    assert "public" in psql("\\dn")


def test_psql_describes_a_table_and_lists_databases(lake: Lake):
    """psql 15's ``\\d <table>`` (its catalog queries read relforcerowsecurity, ``::pg_catalog.regtype``,
    3-argument ``pg_get_expr``, pg_policy, pg_statistic_ext, pg_publication, pg_inherits) and ``\\l``
    (``pg_encoding_to_char``)."""
    assert shutil.which("psql"), "psql is missing: apt-get install postgresql-client (.ci/run does)"
    env = {**os.environ, "PGPASSWORD": lake.token, "PGCONNECT_TIMEOUT": "10"}
    conninfo = f"host=127.0.0.1 port={lake.aep.pg_port} dbname=prod:all user={DEV_ORG_ID} sslmode=require"

    def psql(*command: str) -> str:
        args = [a for c in command for a in ("-c", c)]
        run = subprocess.run(["psql", conninfo, "-X", "-v", "ON_ERROR_STOP=1", *args], env=env,
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"psql {command!r} failed: {run.stderr}"
        return run.stdout

    described = psql(f"\\d {lake.table}")
    assert f'Table "public.{lake.table}"' in described
    columns = dict(re.findall(r"^\s*(\w+)\s*\|\s*(\w[\w ()]*?)\s*\|", described, re.M))
    assert columns.get("personalEmail") == "json" and "Column" in columns  # a struct is sent as json
    assert "Did not find" not in psql(f"\\d+ {lake.table}", "\\dt+")
    listing = psql("\\l")
    assert re.search(r"^\s*prod:all\s*\|\s*postgres\s*\|\s*UTF8\s*\|", listing, re.M), listing
    assert psql("\\dn").count("|") == 2  # public only: no engine or shim schema shows

def test_sqlalchemy_inspector_and_a_query(lake: Lake):
    from urllib.parse import quote

    import sqlalchemy

    engine = sqlalchemy.create_engine(
        f"postgresql+psycopg://{quote(DEV_ORG_ID)}:{quote(lake.token)}@127.0.0.1:{lake.aep.pg_port}/prod:all",
        connect_args={"sslmode": "require"})
    try:
        inspector = sqlalchemy.inspect(engine)
        assert lake.table in inspector.get_table_names()
        columns = {c["name"]: c for c in inspector.get_columns(lake.table)}
        assert "personalEmail" in columns and isinstance(columns["personalEmail"]["type"], sqlalchemy.JSON)
        assert inspector.get_pk_constraint(lake.table)["constrained_columns"] == []
        with engine.connect() as conn:
            result = conn.execute(sqlalchemy.text(f"SELECT count(*) FROM {lake.table}"))
            assert list(result.keys()) == ["count"]  # named as PostgreSQL names it
            assert result.scalar_one() == lake.rows
    finally:
        engine.dispose()


# -- authentication and tenancy ------------------------------------------------------------------------------------
def test_a_wrong_token_is_28P01(lake: Lake):
    with pytest.raises(psycopg.OperationalError) as err:
        lake.connect(password="not-a-token")
    assert "28P01" in str(err.value) or "invalid password or token" in str(err.value)
    with pytest.raises(psycopg.OperationalError) as err:  # another org's token for this org
        lake.connect(password=lake.other_token)
    assert "invalid password or token" in str(err.value)


def test_an_unknown_sandbox_is_3D000(lake: Lake):
    with pytest.raises(psycopg.OperationalError) as err:
        lake.connect(dbname="nosuchsandbox:all")
    assert "nosuchsandbox" in str(err.value) and "does not exist" in str(err.value)


def test_another_org_sees_none_of_the_tables(lake: Lake):
    with lake.connect(user=OTHER_ORG, password=lake.other_token) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute(f"SELECT count(*) FROM {lake.table}")
    with lake.connect() as conn:  # the table's own org still sees it
        assert conn.execute(f"SELECT count(*) FROM {lake.table}").fetchone() == (lake.rows,)


def test_plain_connections_are_taken_on_loopback(lake: Lake):
    with lake.connect(sslmode="disable") as conn:
        assert not conn.pgconn.ssl_in_use
        assert conn.execute("SELECT 1").fetchone() == (1,)


# -- cancel, limits, bad input ---------------------------------------------------------------------------------------
def test_cancel_interrupts_a_long_query_with_57014(lake: Lake):
    with lake.connect() as conn:
        t = lake.table
        timer = threading.Timer(1.0, conn.cancel_safe)
        timer.start()
        started = time.monotonic()
        try:
            with pytest.raises(psycopg.errors.QueryCanceled) as err:
                conn.execute(f"SELECT count(*), sum(length(a.personalEmail.address || b.personalEmail.address)) "
                             f"FROM {t} a, {t} b, {t} c, {t} d")
        finally:
            timer.cancel()
        assert err.value.diag.sqlstate == "57014"
        assert time.monotonic() - started < 30
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection goes on


def _raw_startup(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except OSError:
        pass
    return data


def test_garbage_and_a_2gb_length_are_dropped_without_hurting_others(lake: Lake):
    with lake.connect() as conn:
        garbage = _raw_startup(lake.aep.pg_port)
        garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = _read_all(garbage)
        assert reply == b"" or reply.startswith(b"E")
        huge = _raw_startup(lake.aep.pg_port)
        huge.sendall(struct.pack("!i", 0x7FFFFFF0) + b"\x00\x03\x00\x00")
        reply = _read_all(huge)
        assert reply.startswith(b"E") and b"08P01" in reply
        # after startup too: a message announcing 2 GB closes only that connection
        params = lake.dsn()
        authed = socket.create_connection(("127.0.0.1", lake.aep.pg_port), timeout=10)
        body = struct.pack("!i", 196608) + b"user\x00" + DEV_ORG_ID.encode() + b"\x00database\x00prod:all\x00\x00"
        authed.sendall(struct.pack("!i", len(body) + 4) + body)
        assert authed.recv(9) == b"R\x00\x00\x00\x08\x00\x00\x00\x03"
        password = params["password"].encode() + b"\x00"
        authed.sendall(b"p" + struct.pack("!i", len(password) + 4) + password)
        time.sleep(0.2)
        authed.sendall(b"Q" + struct.pack("!i", 0x7FFFFFF0))
        assert b"08P01" in _read_all(authed)
        for s in (garbage, huge, authed):
            s.close()
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
    with lake.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_full_door_refuses_with_53300(lake: Lake):
    aep = lake.aep
    door = PgServer(aep.platform, aep.app.services, "127.0.0.1", 0, max_connections=1).start()
    try:
        with lake.connect(port=door.port) as first:
            with pytest.raises(psycopg.OperationalError) as err:
                lake.connect(port=door.port)
            assert "at most 1 PostgreSQL connections" in str(err.value)
            assert first.execute("SELECT 1").fetchone() == (1,)
    finally:
        door.stop()
        aep.platform.pg_address = ("127.0.0.1", aep.pg_port)


# -- lifecycle ------------------------------------------------------------------------------------------------------
def test_the_door_starts_and_stops_with_the_server_and_keeps_its_certificate(tmp_path):
    with local.start(data_dir=tmp_path, seed=5) as aep:
        assert aep.pg_port and aep.platform.pg_address == ("127.0.0.1", aep.pg_port)
        token = Raw(aep.url).token()
        params = Raw(aep.url).get("/data/foundation/query/connection_parameters",
                                  headers=Raw(aep.url).headers()).json()
        assert params["port"] == aep.pg_port
        with psycopg.connect(host="127.0.0.1", port=aep.pg_port, dbname="prod:all", user=DEV_ORG_ID,
                             password=token, sslmode="require") as conn:
            conn.execute("SELECT 1")
        cert = (tmp_path / "pg" / "server.crt").read_bytes()
        assert (tmp_path / "pg" / "server.key").stat().st_mode & 0o077 == 0
        port = aep.pg_port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with local.start(data_dir=tmp_path, seed=5) as aep:
        with psycopg.connect(host="127.0.0.1", port=aep.pg_port, dbname="prod:all", user=DEV_ORG_ID,
                             password=Raw(aep.url).token(), sslmode="require") as conn:
            conn.execute("SELECT 1")
        assert (tmp_path / "pg" / "server.crt").read_bytes() == cert  # reused across restarts
    with local.start(pg_port=None) as aep:
        assert aep.pg_port is None


def test_serve_prints_the_psql_command_and_no_token(tmp_path, capsys):
    args = cli.build_parser().parse_args(["serve", "--port", "0", "--data-dir", str(tmp_path)])
    stop = threading.Event()
    stop.set()
    assert cli._run_serve(args, stop=stop) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if 'psql "' in line)
    assert f'dbname=prod:all user={DEV_ORG_ID} sslmode=require"' in line and "password=" not in line
    assert "aeplocal." not in out  # no access token


def test_a_pg_port_in_use_is_one_clear_line(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert cli.main(["serve", "--port", "0", "--pg-port", str(port), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"127.0.0.1:{port} for PostgreSQL" in err and "--pg-port" in err


# -- the wire format, without a server ------------------------------------------------------------------------------
def test_statements_split_outside_quotes_and_comments():
    sql = "select 'a;b', \"x;y\", `p;q`, $$ ;; $$ -- c;\n; /* ; */ ; select E'\\';' ;"
    parts = split_statements(sql)
    assert [p for p, _ in parts] == ["select 'a;b', \"x;y\", `p;q`, $$ ;; $$ -- c;", "select E'\\';'"]
    assert all(sql[offset:].startswith(p) for p, offset in parts)
    assert split_statements("  ;; -- nothing\n") == []
    assert split_statements("select 'unterminated; x") == [("select 'unterminated; x", 0)]


def test_text_format_of_arrow_types():
    import datetime as dt
    import decimal

    import pyarrow as pa

    def text(values: list[Any], type_: Any = None) -> list[Any]:
        return text_column(pa.array(values, type_)).to_pylist()

    assert text([True, False, None]) == [b"t", b"f", None]
    assert text([1.5, float("nan"), float("-inf")]) == [b"1.5", b"NaN", b"-Infinity"]
    assert text([dt.datetime(2024, 1, 1, 1, 2, 3), dt.datetime(2024, 1, 1, 1, 2, 3, 500)],
                pa.timestamp("us", tz="UTC")) == [b"2024-01-01 01:02:03+00", b"2024-01-01 01:02:03.0005+00"]
    assert text([dt.datetime(2024, 1, 1, 1, 2, 30)], pa.timestamp("us")) == [b"2024-01-01 01:02:30"]
    assert text([decimal.Decimal("1.50")]) == [b"1.50"]
    assert text([b"\x01\xff"]) == [b"\\x01ff"]
    assert text([{"a": 1, "m": [("k", 2)]}], pa.struct([("a", pa.int64()), ("m", pa.map_(pa.string(), pa.int64()))])) \
        == [b'{"a":1,"m":{"k":2}}']
    batch = pa.record_batch({"a": pa.array([1, None]), "b": pa.array(["xy", None])})
    assert data_rows(batch) == (b"D" + struct.pack("!ih", 17, 2) + struct.pack("!i", 1) + b"1"
                                + struct.pack("!i", 2) + b"xy"
                                + b"D" + struct.pack("!ih", 14, 2) + struct.pack("!ii", -1, -1))
