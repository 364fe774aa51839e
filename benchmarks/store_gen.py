"""Time and peak RSS of generating the sample Shopify store.

    python benchmarks/store_gen.py --orders 1000000 [--dir /tmp/shopbench] [--seed 7] [--advance-hours 24]
"""
from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from aep_magics.local.shopify import ShopStore


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--advance-hours", type=float, default=0)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args(argv)
    path = Path(a.dir or tempfile.mkdtemp(prefix="shopbench-"))
    try:
        store = ShopStore(path, a.seed)
        t = time.perf_counter()
        s = store.generate(a.orders)
        gen_s = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"generate orders={a.orders} rows={s['rows']} size={s['bytes'] / 1e6:.1f}MB "
              f"seconds={gen_s:.1f} peak_rss={rss:.0f}MB peak_rss_worker={child:.0f}MB")
        if a.advance_hours:
            t = time.perf_counter()
            added = store.advance(store.as_of + timedelta(hours=a.advance_hours))
            print(f"advance {a.advance_hours}h appended={added} seconds={time.perf_counter() - t:.1f} "
                  f"peak_rss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}MB")
        t = time.perf_counter()
        n = sum(b.num_rows for b in store.scan("Shopify.Orders", columns=["Order_Id", "Updated_At"]))
        print(f"scan Orders(Order_Id, Updated_At) rows={n} seconds={time.perf_counter() - t:.1f}")
    finally:
        if not a.keep:
            shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
