"""Query Service over the PostgreSQL door vs DuckDB reading the same Parquet files in process (the floor).

    python benchmarks/bench_query.py [--size tiny|quick|full] [--json]

Set-up: the sample store (``Shopify.Orders``, N orders) is ingested by the engine exactly as ``benchmarks/ingest.py``
does it (its engine phase: the tutorial-like mapping set, validation, one Parquet batch), into the data lake of an
AEP Local; the dataset and its successful batch are registered in Catalog (table ``bench_orders``), so Query Service
serves it. Then, alternating floor and door, R times each:

- **aggregate**: ``GROUP BY`` country with ``count(*)`` and a ``sum`` over all N orders -- through psycopg over the
  PostgreSQL door (TLS, one connection) vs DuckDB in process over the batch's Parquet files (target <= 1.5x);
- **fetch**: 100,000 rows of 5 columns into a pandas DataFrame -- psycopg through the door in its default text
  format (and in binary format, ``cursor(binary=True)``, reported) vs DuckDB -> pandas in process (target <= 2.0x);
- **connect**: a new TLS connection and its first ``SELECT 1`` (median of K; goal < 100 ms on loopback).

Targets are ratios of medians measured in the same run (never timed asserts).
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import bench_main, fmt, median, result, table, target

sys.path.insert(0, str(Path(__file__).resolve().parent))

AGG_RATIO = 1.5
FETCH_RATIO = 2.0
CONNECT_MS = 100.0
ORDERS = {"tiny": 2_000, "quick": 1_000_000, "full": 10_000_000}
REPEATS = {"tiny": 1, "quick": 5, "full": 5}
CONNECTS = {"tiny": 5, "quick": 30, "full": 30}
FETCH_ROWS = 100_000
TABLE = "bench_orders"
DATASET_ID = "0123456789abcdef01234567"  # the ids benchmarks/ingest.py's engine phase writes under
BATCH_ID = "01KBENCHMARK0000000000000A"
AGGREGATE = ("SELECT homeAddress.country AS country, count(*) AS orders, sum(length(person.name.fullName)) AS "
             "name_chars FROM {src} GROUP BY homeAddress.country ORDER BY country")
FETCH = ("SELECT personID, person.name.fullName AS name, personalEmail.address AS email, homeAddress.city AS city, "
         "homeAddress.country AS country FROM {src} LIMIT {n}")


def ingest(aep: Any, orders: int, work: Path) -> list[str]:
    """The engine's ingestion of ``orders`` sample orders into ``aep``'s lake, registered as table ``bench_orders``:
    the Parquet files of its batch."""
    import ingest as ingest_bench

    from aep_magics.local import batches
    from aep_magics.local.engine.datalake import DataLake
    from aep_magics.local.platform import DEV_ORG_ID
    from aep_magics.local.store import Tenant

    store_dir = work / "shopify"
    ingest_bench.generate(store_dir, orders)
    platform = aep.platform
    stats = ingest_bench._in_child(ingest_bench.engine_phase, str(store_dir), str(platform.lake_dir),
                                   ingest_bench.BATCH_SIZE, None)
    tenant = Tenant(DEV_ORG_ID, "prod")
    now = platform.clock.peek_ms()
    platform.store.insert(tenant, "dataSet", DATASET_ID, {
        "name": "Bench orders", "description": f"{orders:,} sample orders ingested by the engine",
        "tags": {"adobe/pqs/table": [TABLE]}, "created": now, "updated": now, "imsOrg": DEV_ORG_ID,
    }, created=now, name="Bench orders")
    batches.record_batch(platform, tenant, BATCH_ID, {
        "status": "success", "relatedObjects": [{"type": "dataSet", "id": DATASET_ID}],
        "recordCount": stats["output"], "size": stats["bytes"], "completed": now})
    return [str(p) for p in DataLake(platform.lake_dir).data_files(tenant, DATASET_ID, BATCH_ID)]


def _parquet(files: list[str]) -> str:
    return "read_parquet([" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "])"


def run(size: str = "quick") -> dict[str, Any]:
    started = time.perf_counter()
    import duckdb
    import pandas as pd
    import psycopg

    from aep_magics import local
    from aep_magics.local.platform import DEV_ORG_ID
    from common import dev_token, raw_session

    n, repeats = ORDERS[size], REPEATS[size]
    work = Path(tempfile.mkdtemp(prefix="aep-bench-query-"))
    aep = local.start(data_dir=work / "data", scheduler=False)
    try:
        files = ingest(aep, n, work)
        token = dev_token(raw_session(aep.url), aep.url)
        dsn = {"host": "127.0.0.1", "port": aep.pg_port, "dbname": "prod:all", "user": DEV_ORG_ID,
               "password": token, "sslmode": "require"}
        floor_db = duckdb.connect()
        src = _parquet(files)
        fetch_rows = min(FETCH_ROWS, n)
        agg, fetch_bin, fetch_text = [], [], []
        with psycopg.connect(**dsn, autocommit=True) as conn:
            rows_door = conn.execute(AGGREGATE.format(src=TABLE)).fetchall()
            rows_floor = floor_db.sql(AGGREGATE.format(src=src)).fetchall()
            assert [tuple(r) for r in rows_door] == rows_floor, "the door and the floor disagree"
            for _ in range(repeats):
                t = time.perf_counter()
                floor_db.sql(AGGREGATE.format(src=src)).fetchall()
                floor_s = time.perf_counter() - t
                t = time.perf_counter()
                conn.execute(AGGREGATE.format(src=TABLE)).fetchall()
                agg.append((floor_s, time.perf_counter() - t))

                t = time.perf_counter()
                floor_df = floor_db.sql(FETCH.format(src=src, n=fetch_rows)).df()
                floor_s = time.perf_counter() - t
                for mode, out in ((True, fetch_bin), (False, fetch_text)):
                    t = time.perf_counter()
                    cur = conn.cursor(binary=mode)
                    cur.execute(FETCH.format(src=TABLE, n=fetch_rows))
                    df = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
                    out.append((floor_s, time.perf_counter() - t))
                    assert df.shape == floor_df.shape, (df.shape, floor_df.shape)
        connects = []
        for _ in range(CONNECTS[size]):
            t = time.perf_counter()
            with psycopg.connect(**dsn, autocommit=True) as conn:
                conn.execute("SELECT 1").fetchone()
            connects.append(time.perf_counter() - t)
        floor_db.close()
    finally:
        aep.stop()
        shutil.rmtree(work, ignore_errors=True)

    def ratio(pairs: list[tuple[float, float]]) -> float:
        return statistics.median(door / floor for floor, door in pairs)

    agg_ratio, bin_ratio, text_ratio = ratio(agg), ratio(fetch_bin), ratio(fetch_text)
    connect_ms = median(connects) * 1000
    rows = [
        ["aggregate (GROUP BY country, count, sum)", f"{n:,} orders", fmt(median([f for f, _ in agg]) * 1000, 1),
         fmt(median([d for _, d in agg]) * 1000, 1), fmt(agg_ratio)],
        ["fetch into pandas, binary format", f"{fetch_rows:,} rows", fmt(median([f for f, _ in fetch_bin]) * 1000, 1),
         fmt(median([d for _, d in fetch_bin]) * 1000, 1), fmt(bin_ratio)],
        ["fetch into pandas, text format", f"{fetch_rows:,} rows", fmt(median([f for f, _ in fetch_text]) * 1000, 1),
         fmt(median([d for _, d in fetch_text]) * 1000, 1), fmt(text_ratio)],
    ]
    return result(
        "query", "Query Service: PostgreSQL door vs DuckDB in process", size,
        params={"orders": n, "repeats": repeats, "fetch_rows": fetch_rows, "connects": len(connects)},
        tables=[table("Door vs floor (medians)", ["operation", "size", "floor ms", "door ms", "door / floor"], rows),
                table("Connect + first SELECT 1 (TLS, loopback)", ["connections", "median ms", "p90 ms"],
                      [[len(connects), fmt(connect_ms, 1),
                        fmt(sorted(connects)[int(0.9 * (len(connects) - 1))] * 1000, 1)]])],
        targets=[target("aggregate door / floor", f"<= {AGG_RATIO}", fmt(agg_ratio), agg_ratio <= AGG_RATIO),
                 target("fetch 100k rows door / floor (psycopg's default text format)", f"<= {FETCH_RATIO}",
                        fmt(text_ratio), text_ratio <= FETCH_RATIO),
                 target("connect + SELECT 1", f"< {CONNECT_MS:g} ms", f"{fmt(connect_ms, 1)} ms",
                        connect_ms < CONNECT_MS)],
        notes=[f"binary-format fetch (cursor(binary=True)) door / floor: {fmt(bin_ratio)}: the 5 columns are text, "
               "whose binary form is the same bytes",
               "floor: DuckDB in this process over the batch's Parquet files; door: psycopg 3 over TLS to AEP Local "
               "in this process (its own threads)"],
        seconds=time.perf_counter() - started,
        data={"aggregate_pairs": agg, "fetch_binary_pairs": fetch_bin, "fetch_text_pairs": fetch_text,
              "connect_s": connects})


if __name__ == "__main__":
    sys.exit(bench_main(run))
