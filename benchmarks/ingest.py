"""Ingestion throughput of the AEP Local engine against the floor of a bare pyarrow read + write.

    python benchmarks/ingest.py                      # 1,000,000 orders
    python benchmarks/ingest.py --orders 10000000 --json

The sample store (``Shopify.Orders``, N orders) is generated once into ``--store`` (default: a temporary folder).
Then, each in its own fresh process so that peak RSS is the phase's own:

- **engine**: the run pipeline of ``aep_magics.local.engine.runner`` called in process (no HTTP on the hot path):
  streaming scan of the source columns, a tutorial-like mapping set of 10 destinations (3 of them expressions, one
  identity), Data Prep's type conversion, XDM validation against Profile + identityMap + person-details +
  personal-details, the valid/failed split (failed rows counted with their errors), nested XDM records with
  ``identityMap``, one Parquet file written in a staging directory and published atomically;
- **floor**: the same source rows and columns read with the same scan and written with a bare
  ``pyarrow.parquet.ParquetWriter`` (same compression).

The two phases alternate ``--repeat`` times (floor, engine, floor, engine, ...), so that a shared machine's changing
speed hits both alike; the ratio is the median of the per-pair ratios, times are medians and peak RSS the largest.
It prints records/s, peak RSS (``ru_maxrss``) and the engine/floor time ratio; ``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TABLE = "Shopify.Orders"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BATCH_SIZE = 65_536
GROUPS = [
    "https://ns.adobe.com/xdm/context/profile",
    "https://ns.adobe.com/xdm/context/identitymap",
    "https://ns.adobe.com/xdm/context/profile-person-details",
    "https://ns.adobe.com/xdm/context/profile-personal-details",
]
#: The tutorial's two mappings plus eight more: 10 destinations, 3 expressions, Email as the primary identity.
MAPPINGS = [
    {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "Email", "identity": True,
     "primaryIdentity": True, "namespaceCode": "Email"},
    {"destinationXdmPath": "mobilePhone.number", "sourceAttribute": "Shipping_Address_Phone"},
    {"destinationXdmPath": "person.name.firstName", "sourceAttribute": "Customer_First_Name"},
    {"destinationXdmPath": "person.name.lastName", "sourceAttribute": "Customer_Last_Name"},
    {"destinationXdmPath": "homeAddress.city", "sourceAttribute": "Shipping_Address_City"},
    {"destinationXdmPath": "homeAddress.postalCode", "sourceAttribute": "Shipping_Address_Zip"},
    {"destinationXdmPath": "homeAddress.country", "sourceAttribute": "Shipping_Address_Country"},
    {"destinationXdmPath": "person.name.fullName",
     "sourceAttribute": 'concat(Customer_First_Name, " ", Customer_Last_Name)'},
    {"destinationXdmPath": "homeAddress.countryCode", "sourceAttribute": "upper(Shipping_Address_Country_Code)"},
    {"destinationXdmPath": "personID", "sourceAttribute": 'concat("shopify-", Order_Id)'},
]


def _rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / 1024 if sys.platform == "darwin" else rss / 1024


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def generate(store_dir: Path, orders: int) -> dict:
    from aep_magics.local.shopify import ShopStore

    store = ShopStore(store_dir, seed=7)
    if store.generated and store.manifest.get("orders") == orders:
        return {"seconds": 0.0, "reused": True}
    began = time.perf_counter()
    store.generate(orders, start=START)
    return {"seconds": round(time.perf_counter() - began, 2), "reused": False}


def _source_columns() -> list[str]:
    from aep_magics.local.engine import mapping as M

    compiled = M.compile_mappings(M.normalise_mappings({"mappings": MAPPINGS}))
    return sorted(compiled.source_fields())


def engine_phase(store_dir: str, out_dir: str, batch_size: int, profile: str | None) -> dict:
    from aep_magics.local import xdm
    from aep_magics.local.engine import mapping as M
    from aep_magics.local.engine.datalake import DataLake
    from aep_magics.local.engine.expressions import EvalContext
    from aep_magics.local.engine.runner import IdentitySpec, Pipeline, prefetch
    from aep_magics.local.engine.validate import TargetSchema
    from aep_magics.local.shopify import ShopStore
    from aep_magics.local.store import Tenant

    shop = ShopStore(store_dir)
    names = [c["name"] for c in shop.columns(TABLE)]
    compiled = M.compile_mappings(M.normalise_mappings({"mappings": MAPPINGS}, names), names)
    columns = [c for c in names if c in compiled.source_fields(names)]
    resolved = xdm.resolve({"type": "object", "allOf": [{"$ref": g} for g in GROUPS]}, full=True, text=False)
    schema = TargetSchema(resolved, compiled.destinations)
    ctx = EvalContext.deterministic(START)
    identities = [IdentitySpec(f.namespace_code, f.primary, f.destination) for f in compiled.identity_fields()]
    tenant = Tenant("AEPLOCAL000000000000000@AdobeOrg", "prod")
    writer = DataLake(out_dir).writer(tenant, "0123456789abcdef01234567", "01KBENCHMARK0000000000000A",
                                      background=True)
    pipeline = Pipeline(lambda b: compiled.apply(b, ctx), schema, identities=identities, writer=writer,
                        diagnostics=False)
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    began, cpu = time.perf_counter(), _cpu_s()
    for rb in prefetch(shop.scan(TABLE, columns=columns, window=(None, START), batch_size=batch_size)):
        pipeline.process(rb)
    writer.commit()
    seconds, cpu = time.perf_counter() - began, _cpu_s() - cpu
    if profiler is not None:
        profiler.stop()
        Path(profile).write_text(profiler.output_text(unicode=True, color=False))
    st = pipeline.stats
    return {"seconds": seconds, "cpu_seconds": cpu, "records": st.input_records, "output": st.output_records,
            "failed": st.failed_records, "warnings": st.warning_records, "errors": st.error_counts,
            "bytes": writer.output_bytes, "rss_mb": _rss_mb(), "columns": columns}


def floor_phase(store_dir: str, out_dir: str, batch_size: int, columns: list[str]) -> dict:
    import pyarrow.parquet as pq

    from aep_magics.local.engine.datalake import PARQUET_COMPRESSION
    from aep_magics.local.shopify import ShopStore

    shop = ShopStore(store_dir)
    began, cpu = time.perf_counter(), _cpu_s()
    writer = None
    n = 0
    path = Path(out_dir) / "floor.parquet"
    for rb in shop.scan(TABLE, columns=columns, window=(None, START), batch_size=batch_size):
        if writer is None:
            writer = pq.ParquetWriter(path, rb.schema, compression=PARQUET_COMPRESSION)
        writer.write_batch(rb)
        n += rb.num_rows
    if writer is not None:
        writer.close()
    seconds, cpu = time.perf_counter() - began, _cpu_s() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "records": n, "bytes": path.stat().st_size if path.exists() else 0,
            "rss_mb": _rss_mb()}


def _in_child(fn, *args) -> dict:
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders in the sample store (default 1M)")
    parser.add_argument("--store", type=Path, default=None, help="store folder (kept; reused when the size matches)")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="rows per record batch")
    parser.add_argument("--repeat", type=int, default=3, help="floor/engine pairs, alternating (default 3)")
    parser.add_argument("--profile", type=Path, default=None, help="write a pyinstrument profile of the engine here")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="aep-bench-"))
    store_dir = args.store or tmp / "shopify"
    try:
        gen = generate(store_dir, args.orders)
        columns = _in_child(_source_columns)
        floors, engines = [], []
        for i in range(max(1, args.repeat)):
            floors.append(_in_child(floor_phase, str(store_dir), str(tmp), args.batch_size, columns))
            engines.append(_in_child(engine_phase, str(store_dir), str(tmp / f"lake{i}"), args.batch_size,
                                     str(args.profile) if args.profile and i == 0 else None))
            shutil.rmtree(tmp / f"lake{i}", ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratios = [e["seconds"] / f["seconds"] for e, f in zip(engines, floors)]
    cpu_ratios = [e["cpu_seconds"] / f["cpu_seconds"] for e, f in zip(engines, floors)]
    engine = {**engines[0], "seconds": statistics.median(e["seconds"] for e in engines),
              "cpu_seconds": statistics.median(e["cpu_seconds"] for e in engines),
              "rss_mb": max(e["rss_mb"] for e in engines)}
    floor = {**floors[0], "seconds": statistics.median(f["seconds"] for f in floors),
             "cpu_seconds": statistics.median(f["cpu_seconds"] for f in floors),
             "rss_mb": max(f["rss_mb"] for f in floors)}
    result = {
        "orders": args.orders,
        "source_columns": len(columns),
        "destinations": len(MAPPINGS),
        "expressions": sum(1 for m in MAPPINGS if "(" in m["sourceAttribute"]),
        "store_generation_s": gen["seconds"],
        "engine": {"seconds": round(engine["seconds"], 3), "cpu_seconds": round(engine["cpu_seconds"], 3),
                   "records_per_s": round(engine["records"] / engine["seconds"]),
                   "peak_rss_mb": round(engine["rss_mb"], 1), "records": engine["records"],
                   "output_records": engine["output"], "failed_records": engine["failed"],
                   "warning_records": engine["warnings"], "error_counts": engine["errors"],
                   "parquet_bytes": engine["bytes"]},
        "floor": {"seconds": round(floor["seconds"], 3), "cpu_seconds": round(floor["cpu_seconds"], 3),
                  "records_per_s": round(floor["records"] / floor["seconds"]),
                  "peak_rss_mb": round(floor["rss_mb"], 1), "parquet_bytes": floor["bytes"]},
        "repeats": len(ratios),
        "ratio_engine_over_floor": round(statistics.median(ratios), 2),
        "cpu_ratio_engine_over_floor": round(statistics.median(cpu_ratios), 2),
        "pair_ratios": [round(r, 2) for r in ratios],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        e, f = result["engine"], result["floor"]
        print(f"{args.orders:,} orders, {len(columns)} source columns -> {len(MAPPINGS)} XDM fields "
              f"({result['expressions']} expressions), {os.cpu_count()} CPUs")
        print(f"  engine: {e['seconds']:8.2f} s ({e['cpu_seconds']:.2f} s CPU)  {e['records_per_s']:>10,} records/s  peak RSS {e['peak_rss_mb']:7.1f} MB"
              f"  ({e['output_records']:,} ingested, {e['failed_records']:,} failed)")
        print(f"  floor : {f['seconds']:8.2f} s ({f['cpu_seconds']:.2f} s CPU)  {f['records_per_s']:>10,} records/s  peak RSS {f['peak_rss_mb']:7.1f} MB")
        print(f"  ratio engine/floor: {result['ratio_engine_over_floor']:.2f} wall (median of "
              f"{', '.join(f'{r:.2f}' for r in result['pair_ratios'])}), "
              f"{result['cpu_ratio_engine_over_floor']:.2f} CPU time (load average {result['load_average'][0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
