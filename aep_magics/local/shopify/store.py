"""AEP Local's deterministic sample Shopify store, kept as Parquet files that grow over emulated time.

Layout of a store directory::

    manifest.json                       seed, segments, counts, emulated "now" (as_of), file list per table
    _state/customers-<gen>.npz          per-customer statistics (orders count, spent, last order)
    Shopify.Orders/part-000000-0000.parquet  initial snapshot, FILE_CHUNKS row groups of CHUNK_ROWS orders
    Shopify.Orders/part-000000-0001.parquet  ... (one file per CHUNK_ROWS * FILE_CHUNKS orders)
    Shopify.Orders/part-000001.parquet       rows appended by the 1st advance(), ...

Each table is an append-only log of record versions.  ``Shopify.Orders`` gets a new row every time an order is
created or changes status (capture/void, fulfilment, refund); ``Shopify.Customers`` gets a new row per customer
touched by an advance (sign-up, new orders).  ``preview`` shows the latest version of each record; ``scan`` with
a window returns every version whose delta column (``Updated_At``) falls in ``(start, end]``.

Column types: Shopify numbers (ids, counts, quantities) are int64 in Parquet and are exposed by ``columns()``
with the only numeric source type AEP documents for the Shopify connector - ``"double"`` / xdm ``number``
(explore example ``Blog_Id``).  All ids stay below 2**53 so they are exact as doubles.  Money amounts are
decimal strings ("598.94", JPY "1200") as in Shopify's REST API; timestamps are ISO strings without offset
(UTC) like the documented ``"2020-02-14T09:11:15"`` and carry ``meta:xdmType: date-time``.

Determinism: every value is a pure function of (seed, record index, emulated time) - see ``gen.py``.  The same
seed and size give byte-identical Parquet files (for one pyarrow version); the same sequence of ``advance()``
calls gives the same appended rows.
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from . import gen as G

log = logging.getLogger(__name__)

DEFAULT_SEED = 7
DEFAULT_ORDERS = 5000
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
MAX_HISTORY_DAYS = 365              # the initial orders span orders/orders_per_hour, at most this long
DEFAULT_ORDERS_PER_HOUR = 120.0     # growth rate used by advance()
CHUNK_ROWS = 100_000                # orders (or customers) per generated chunk / Parquet row group
FILE_CHUNKS = 5                     # chunks per file of the initial snapshot (500k orders per file)
PARALLEL_MIN_ORDERS = 500_000       # generate() uses worker processes from this size on
COMPRESSION = "zstd"
FORMAT_VERSION = 2  # 2: shipping address coordinates
#: default_store() regenerates a store whose history runs further than this past the platform's clock (e.g. one
#: generated on the wall clock, opened by a deterministic-mode platform that starts on 2026-03-02).
FUTURE_SLACK_S = 86_400
STORE_DIRNAME = "shopify"           # default_store(data_dir) keeps the store in data_dir/shopify

ORDERS = "Shopify.Orders"
CUSTOMERS = "Shopify.Customers"
LINE_ITEMS = "Shopify.Order_Line_Items"
PRODUCTS = "Shopify.Products"
BLOGS = "Shopify.Blogs"
AC_LINE_ITEMS = "Shopify.Abandoned_Checkout_Line_Items"
AC_DISCOUNT_CODES = "Shopify.Abandoned_Checkout_Discount_Codes"
AC_NOTE_ATTRIBUTES = "Shopify.Abandoned_Checkout_Note_Attributes"

TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    AC_DISCOUNT_CODES: G.AC_DISCOUNT_CODES_COLUMNS,
    AC_LINE_ITEMS: G.AC_LINE_ITEMS_COLUMNS,
    AC_NOTE_ATTRIBUTES: G.AC_NOTE_ATTRIBUTES_COLUMNS,
    BLOGS: G.BLOGS_COLUMNS,
    CUSTOMERS: G.CUSTOMERS_COLUMNS,
    LINE_ITEMS: G.LINE_ITEMS_COLUMNS,
    ORDERS: G.ORDERS_COLUMNS,
    PRODUCTS: G.PRODUCTS_COLUMNS,
}
TABLES: tuple[str, ...] = tuple(sorted(TABLE_COLUMNS))
# Tables whose records get new versions: preview() shows the latest version per key.
VERSION_KEYS: dict[str, str] = {ORDERS: "Order_Id", CUSTOMERS: "Customer_Id"}

Window = tuple[Any, Any]


# --------------------------------------------------------------------------------------------------------------
# time helpers
# --------------------------------------------------------------------------------------------------------------
def to_epoch(value: Any) -> int:
    """datetime (naive = UTC) / epoch seconds / ISO string -> integer epoch seconds (floored)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(np.floor(value.timestamp()))
    if isinstance(value, str):
        return to_epoch(datetime.fromisoformat(value.removesuffix("Z")))
    return int(np.floor(float(value)))


def iso(epoch: int) -> str:
    """Epoch seconds -> 'YYYY-MM-DDTHH:MM:SS' (the stored timestamp format)."""
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _explore_column(name: str, kind: str) -> dict:
    if kind in ("int", "float"):
        return {"name": name, "type": "double", "xdm": {"type": "number"}}
    if kind == "bool":
        return {"name": name, "type": "boolean", "xdm": {"type": "boolean"}}
    if kind == "ts":
        return {"name": name, "type": "string", "meta:xdmType": "date-time",
                "xdm": {"type": "string", "format": "date-time"}}
    if kind == "date":
        return {"name": name, "type": "string", "meta:xdmType": "date", "xdm": {"type": "string", "format": "date"}}
    return {"name": name, "type": "string", "xdm": {"type": "string"}}


class StoreNotGenerated(RuntimeError):
    pass


class ShopStore:
    """A deterministic, growing sample Shopify store in ``path`` (see module docstring)."""

    def __init__(self, path: str | os.PathLike, seed: int = DEFAULT_SEED):
        self.path = Path(path)
        self._seed_arg = int(seed)
        self._lock = threading.RLock()
        self._manifest: dict | None = None
        mf = self.path / "manifest.json"
        if mf.exists():
            self._manifest = json.loads(mf.read_text())

    # ------------------------------------------------------------------------------------------------ state
    @property
    def generated(self) -> bool:
        return self._manifest is not None

    @property
    def seed(self) -> int:
        return int(self._manifest["seed"]) if self._manifest else self._seed_arg

    @property
    def as_of(self) -> datetime:
        """The store's emulated "now": data exists up to and including this instant."""
        return datetime.fromtimestamp(self._m()["as_of"], tz=UTC)

    @property
    def manifest(self) -> dict:
        return json.loads(json.dumps(self._m()))

    def _m(self) -> dict:
        m = self._manifest
        if m is None:
            raise StoreNotGenerated(f"no Shopify store in {self.path}; call generate() first")
        return m

    def _hasher(self) -> G.Hasher:
        return G.Hasher(self.seed)

    def _segments(self, m: dict) -> tuple[list[G.Segment], list[G.Segment]]:
        return ([G.Segment.from_json(s) for s in m["order_segments"]],
                [G.Segment.from_json(s) for s in m["customer_segments"]])

    def _write_manifest(self, m: dict) -> None:
        tmp = self.path / "manifest.json.tmp"
        tmp.write_text(json.dumps(m, indent=1, sort_keys=True))
        os.replace(tmp, self.path / "manifest.json")
        self._manifest = m

    def _load_stats(self, m: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.load(self.path / m["stats"]) as z:
            return z["count"].copy(), z["spent"].copy(), z["last"].copy()

    def _save_stats(self, gen_no: int, count, spent, last) -> str:
        rel = f"_state/customers-{gen_no:06d}.npz"
        (self.path / "_state").mkdir(parents=True, exist_ok=True)
        with open(self.path / rel, "wb") as fh:
            np.savez(fh, count=count, spent=spent, last=last)
        return rel

    # ------------------------------------------------------------------------------------------- generate
    def generate(self, orders: int = DEFAULT_ORDERS, start: Any = DEFAULT_START, *,
                 history_days: float | None = None,
                 orders_per_hour: float = DEFAULT_ORDERS_PER_HOUR, workers: int | None = None) -> dict:
        """(Re)build the store with ``orders`` orders created in the ``history_days`` before ``start``.

        ``history_days`` defaults to the time the growth rate needs for that many orders (5,000 orders at
        120/h: ~42 hours), capped at ``MAX_HISTORY_DAYS`` - so a default store continues at the same pace.

        Afterwards ``as_of == start``.  The initial snapshot of the big tables is split into files of
        ``FILE_CHUNKS`` row groups of ``CHUNK_ROWS`` rows; from ``PARALLEL_MIN_ORDERS`` orders on, the files are
        written by ``workers`` (default: CPU count) spawned processes.  The bytes do not depend on ``workers``.
        Memory stays bounded by one chunk per process plus per-customer statistics (24 bytes per customer).
        Returns a summary dict (rows per table, bytes, seconds).
        """
        if orders < 0:
            raise ValueError("orders must be >= 0")
        if orders_per_hour <= 0:
            raise ValueError("orders_per_hour must be > 0")
        t_start = to_epoch(start)
        if history_days is None:
            history_days = min(MAX_HISTORY_DAYS, max(orders, 1) / orders_per_hour / 24.0)
        history = round(history_days * G.DAY)
        seed = self._seed_arg
        began = time.perf_counter()
        with self._lock:
            self._wipe()
            h = G.Hasher(seed)
            cat = G.build_catalogue(h)
            n_orders = int(orders)
            n_customers = max(1, round(n_orders / G.ORDERS_PER_CUSTOMER))
            oseg = [G.Segment(t_start - history - 1, 0, history / max(n_orders, 1))]
            cspan = history + G.CUSTOMER_LEAD
            cseg = [G.Segment(t_start - cspan - 1, 0, cspan / n_customers)]
            count = np.zeros(n_customers, dtype=np.int64)
            spent = np.zeros(n_customers, dtype=np.int64)
            last = np.full(n_customers, -1, dtype=np.int64)
            rows = {t: 0 for t in TABLES}
            files: dict[str, list[str]] = {t: [] for t in TABLES}
            for t in TABLES:
                (self.path / t).mkdir(parents=True, exist_ok=True)
            if workers is None:
                workers = (os.cpu_count() or 1) if n_orders >= PARALLEL_MIN_ORDERS else 1
            spec = {"path": str(self.path), "seed": seed, "t_start": t_start, "n_customers": n_customers,
                    "oseg": [x.as_json() for x in oseg], "cseg": [x.as_json() for x in cseg],
                    "chunk_rows": CHUNK_ROWS, "file_chunks": FILE_CHUNKS}
            order_ranges = _file_ranges(n_orders, CHUNK_ROWS * FILE_CHUNKS)
            customer_ranges = _file_ranges(n_customers, CHUNK_ROWS * FILE_CHUNKS)
            workers = max(1, min(int(workers), len(order_ranges)))
            try:
                self._generate_files(spec, workers, order_ranges, customer_ranges, count, spent, last, files, rows)
            except BrokenProcessPool as exc:   # e.g. a __main__ that spawned processes cannot re-import
                log.warning("shopify store: worker processes failed (%s); generating in-process", exc)
                count[:], spent[:], last[:] = 0, 0, -1
                files.update({t: [] for t in TABLES})
                rows.update({t: 0 for t in TABLES})
                self._generate_files(spec, 1, order_ranges, customer_ranges, count, spent, last, files, rows)

            statics = G.build_static(h, cat, t_start)
            statics[PRODUCTS] = G.build_products(h, cat, t_start, history)
            for t, tbl in statics.items():
                rel = f"{t}/part-000000-0000.parquet"
                with _Writer(self.path / rel, t) as w:
                    w.write(tbl)
                files[t].append(rel)
                rows[t] = w.rows

            manifest = {
                "format": FORMAT_VERSION, "seed": seed, "start": t_start, "start_iso": iso(t_start) + "Z",
                "as_of": t_start, "as_of_iso": iso(t_start) + "Z", "history_seconds": history,
                "orders_per_hour": float(orders_per_hour), "chunk_rows": CHUNK_ROWS,
                "order_segments": [s.as_json() for s in oseg], "customer_segments": [s.as_json() for s in cseg],
                "orders": n_orders, "customers": n_customers, "products": cat.n,
                "generation": 0, "advances": 0, "stats": self._save_stats(0, count, spent, last),
                "files": files, "rows": rows,
            }
            self._write_manifest(manifest)
        return self._summary(time.perf_counter() - began)

    def _generate_files(self, spec, workers, order_ranges, customer_ranges, count, spent, last, files,
                        rows) -> None:
        spec = dict(spec, threads=workers <= 1)
        with _executor(workers) as ex:
            results = ex.map(_orders_file_task, [spec] * len(order_ranges), order_ranges)
            for (lo, hi, _k), (rel_o, rel_l, n_o, n_l, cust, total) in zip(order_ranges, results):
                _accumulate(count, spent, last, cust, total, np.arange(lo, hi, dtype=np.int64))
                files[ORDERS].append(rel_o)
                files[LINE_ITEMS].append(rel_l)
                rows[ORDERS] += n_o
                rows[LINE_ITEMS] += n_l
            args = [(lo, hi, k, count[lo:hi], spent[lo:hi], last[lo:hi]) for lo, hi, k in customer_ranges]
            for rel_c, n_c in ex.map(_customers_file_task, [spec] * len(args), args):
                files[CUSTOMERS].append(rel_c)
                rows[CUSTOMERS] += n_c

    def _wipe(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        mf = self.path / "manifest.json"
        if mf.exists():
            mf.unlink()
        self._manifest = None
        for child in self.path.iterdir():
            if child.is_dir() and (child.name.startswith("Shopify.") or child.name == "_state"):
                shutil.rmtree(child)

    # -------------------------------------------------------------------------------------------- advance
    def advance(self, to: Any, orders_per_hour: float | None = None) -> dict[str, int]:
        """Grow the store from ``as_of`` to ``to``: append new orders/line items/customers created in
        ``(as_of, to]`` and new versions of orders whose status changes in that window (and of customers
        whose statistics change).  Returns rows appended per table; a ``to`` not after ``as_of`` is a no-op.
        """
        with self._lock:
            m = json.loads(json.dumps(self._m()))
            a, b = int(m["as_of"]), to_epoch(to)
            appended = {t: 0 for t in TABLES}
            if b <= a:
                return appended
            h = self._hasher()
            cat = G.build_catalogue(h)
            oseg, cseg = self._segments(m)
            rate = float(orders_per_hour or m["orders_per_hour"])
            if rate <= 0:
                raise ValueError("orders_per_hour must be > 0")
            if len(oseg) == 1 or rate != m["orders_per_hour"]:
                oseg.append(G.Segment(a, m["orders"], 3600.0 / rate))
                cseg.append(G.Segment(a, m["customers"], 3600.0 * G.ORDERS_PER_CUSTOMER / rate))
                m["orders_per_hour"] = rate
            n_old, c_old = int(m["orders"]), int(m["customers"])
            o_end = G.first_index_after(h, "o.t", oseg, b, n_old)
            c_end = G.first_index_after(h, "c.t", cseg, b, c_old)
            count, spent, last = self._load_stats(m)
            grow = c_end - len(count)
            if grow > 0:
                count = np.concatenate([count, np.zeros(grow, dtype=np.int64)])
                spent = np.concatenate([spent, np.zeros(grow, dtype=np.int64)])
                last = np.concatenate([last, np.full(grow, -1, dtype=np.int64)])

            gen_no = int(m["generation"]) + 1
            rel = {t: f"{t}/part-{gen_no:06d}.parquet" for t in (ORDERS, LINE_ITEMS, CUSTOMERS)}
            touched: list[np.ndarray] = [np.arange(c_old, c_end, dtype=np.int64)]
            cand_lo = G.first_index_after(h, "o.t", oseg, a - G.EVENT_HORIZON, 0, n_old)
            with _Writer(self.path / rel[ORDERS], ORDERS) as wo, _Writer(self.path / rel[LINE_ITEMS],
                                                                       LINE_ITEMS) as wl:
                for lo in range(cand_lo, o_end, CHUNK_ROWS):
                    idx = np.arange(lo, min(o_end, lo + CHUNK_ROWS), dtype=np.int64)
                    created = G.segment_times(h, "o.t", oseg, idx)
                    ev = G.order_events(h, idx, created)
                    ri_parts: list[np.ndarray] = []
                    rt_parts: list[np.ndarray] = []
                    rk_parts: list[np.ndarray] = []
                    for k, times in enumerate((created, ev["t_cap"], ev["t_ful"], ev["t_ref"])):
                        sel = (times > a) & (times <= b)
                        ri_parts.append(idx[sel])
                        rt_parts.append(times[sel])
                        rk_parts.append(np.full(int(sel.sum()), k, dtype=np.int64))
                    ri, rt, rk = np.concatenate(ri_parts), np.concatenate(rt_parts), np.concatenate(rk_parts)
                    if not len(ri):
                        continue
                    order = np.lexsort((rk, ri, rt))
                    ri, rt, rk = ri[order], rt[order], rk[order]
                    o, li, cust, total, _ = G.build_orders(h, cat, oseg, cseg, ri, rt, rk == 0, c_end)
                    wo.write(o)
                    if li is not None:
                        wl.write(li)
                    new = rk == 0
                    _accumulate(count, spent, last, cust[new], total[new], ri[new])
                    touched.append(cust[new])
                appended[ORDERS], appended[LINE_ITEMS] = wo.rows, wl.rows

            with _Writer(self.path / rel[CUSTOMERS], CUSTOMERS) as wc:
                tc = np.unique(np.concatenate(touched))
                if len(tc):
                    created_c = G.segment_times(h, "c.t", cseg, tc)
                    has_last = last[tc] >= 0
                    last_t = np.where(has_last, G.segment_times(h, "o.t", oseg, np.maximum(last[tc], 0)), 0)
                    tc = tc[np.lexsort((tc, np.maximum(created_c, last_t)))]
                    for lo in range(0, len(tc), CHUNK_ROWS):
                        c = tc[lo:lo + CHUNK_ROWS]
                        wc.write(G.build_customers(h, cseg, oseg, c, count[c], spent[c], last[c]))
                appended[CUSTOMERS] = wc.rows

            for t in (ORDERS, LINE_ITEMS, CUSTOMERS):
                if appended[t]:
                    m["files"][t].append(rel[t])
                    m["rows"][t] += appended[t]
                else:
                    (self.path / rel[t]).unlink(missing_ok=True)
            old_stats = m["stats"]
            m.update({
                "as_of": b, "as_of_iso": iso(b) + "Z", "orders": o_end, "customers": c_end, "generation": gen_no,
                "advances": int(m["advances"]) + 1, "order_segments": [s.as_json() for s in oseg],
                "customer_segments": [s.as_json() for s in cseg],
                "stats": self._save_stats(gen_no, count, spent, last),
            })
            self._write_manifest(m)
            if old_stats != m["stats"]:
                (self.path / old_stats).unlink(missing_ok=True)
            return appended

    # ----------------------------------------------------------------------------------------------- read
    def tables(self) -> list[str]:
        return list(TABLES)

    def _check(self, table: str) -> None:
        if table not in TABLE_COLUMNS:
            raise KeyError(f"unknown table {table!r}; known: {', '.join(TABLES)}")

    def columns(self, table: str) -> list[dict]:
        """Explore-shaped column list: ``{"name","type",["meta:xdmType"],"xdm":{"type"[,"format"]}}``."""
        self._check(table)
        return [_explore_column(n, k) for n, k in TABLE_COLUMNS[table]]

    def schema(self, table: str) -> pa.Schema:
        self._check(table)
        return G.arrow_schema(TABLE_COLUMNS[table])

    def count(self, table: str) -> int:
        """Number of records in the current table (distinct keys for versioned tables)."""
        self._check(table)
        m = self._m()
        if table == ORDERS:
            return int(m["orders"])
        if table == CUSTOMERS:
            return int(m["customers"])
        return int(m["rows"][table])

    def rows(self, table: str) -> int:
        """Number of stored rows (all versions)."""
        self._check(table)
        return int(self._m()["rows"][table])

    def files(self, table: str) -> list[Path]:
        self._check(table)
        return [self.path / f for f in self._m()["files"][table]]

    def scan(self, table: str, columns: list[str] | None = None, window: Window | None = None,
             delta_column: str = "Updated_At", batch_size: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Stream the table's rows (every stored version) in a deterministic order: files in append order,
        rows in file order.  ``window=(start_exclusive, end_inclusive)`` (datetimes, epoch seconds or ISO
        strings; either side may be None) keeps rows whose ``delta_column`` is in the window; the filter is
        pushed down to Parquet row-group statistics."""
        self._check(table)
        files = self.files(table)
        names = [n for n, _ in TABLE_COLUMNS[table]]
        if columns is not None:
            unknown = [c for c in columns if c not in names]
            if unknown:
                raise KeyError(f"unknown column(s) for {table}: {unknown}")
        expr = None
        if window is not None:
            if delta_column not in names:
                raise KeyError(f"{table} has no delta column {delta_column!r}")
            lo, hi = window
            field = ds.field(delta_column)
            if lo is not None:
                expr = field > iso(to_epoch(lo))
            if hi is not None:
                upper = field <= iso(to_epoch(hi))
                expr = upper if expr is None else (expr & upper)
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        return self._scan_files(files, columns, expr, batch_size)

    @staticmethod
    def _scan_files(files, columns, expr, batch_size) -> Iterator[pa.RecordBatch]:
        for f in files:
            # decode in reasonably large batches (tiny reader batches are very slow), hand out slices
            scanner = ds.dataset(f, format="parquet").scanner(
                columns=columns, filter=expr, batch_size=max(batch_size, _MIN_READ_BATCH), use_threads=False,
                batch_readahead=1, fragment_readahead=1)
            for batch in scanner.to_batches():
                for off in range(0, batch.num_rows, batch_size):
                    yield batch.slice(off, batch_size)

    def read(self, table: str, columns: list[str] | None = None, window: Window | None = None,
             delta_column: str = "Updated_At") -> pa.Table:
        """``scan`` collected into one table (small tables / tests)."""
        return pa.Table.from_batches(list(self.scan(table, columns, window, delta_column)),
                                     schema=_project(self.schema(table), columns))

    def preview(self, table: str, rows: int = 10) -> list[dict]:
        """First ``rows`` records of the current table (latest version of each), as JSON-safe dicts."""
        self._check(table)
        if rows <= 0:
            return []
        key = VERSION_KEYS.get(table)
        files = self.files(table)
        if key is None:
            out: list[dict] = []
            for f in files:
                out.extend(ds.dataset(f, format="parquet").head(rows - len(out)).to_pylist())
                if len(out) >= rows:
                    break
            return out
        keys: list[int] = []
        seen: set[int] = set()
        for f in files:
            for k in ds.dataset(f, format="parquet").head(rows * 8, columns=[key]).column(0).to_pylist():
                if k not in seen and len(keys) < rows:
                    seen.add(k)
                    keys.append(k)
            if len(keys) >= rows:
                break
        if not keys:
            return []
        expr = ds.field(key).isin(pa.array(keys, type=pa.int64()))
        latest: dict[int, dict] = {}
        for batch in self._scan_files(files, None, expr, 65536):
            for row in batch.to_pylist():
                latest[row[key]] = row
        return [latest[k] for k in keys]

    # -------------------------------------------------------------------------------------- explore views
    def explore_root(self) -> list[dict]:
        """The ``GET /connections/{id}/explore?objectType=root`` array."""
        return [{"type": "table", "name": t, "path": t, "canPreview": True, "canFetchSchema": True}
                for t in TABLES]

    def explore_table(self, table: str, rows: int = 10) -> dict:
        """The ``objectType=table`` body: ``{"format":"flat","schema":{"columns":[...]},"data":[...]}``."""
        body: dict[str, Any] = {"format": "flat", "schema": {"columns": self.columns(table)}}
        if rows:
            body["data"] = self.preview(table, rows)
        return body

    # ---------------------------------------------------------------------------------------------- misc
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    def _summary(self, seconds: float) -> dict:
        m = self._m()
        return {"path": str(self.path), "seed": m["seed"], "as_of": m["as_of_iso"], "rows": dict(m["rows"]),
                "orders": m["orders"], "customers": m["customers"], "bytes": self.size_bytes(),
                "seconds": round(seconds, 3)}


def _project(schema: pa.Schema, columns: list[str] | None) -> pa.Schema:
    return schema if columns is None else pa.schema([schema.field(c) for c in columns])


def _accumulate(count, spent, last, cust, total, idx) -> None:
    if not len(cust):
        return
    n = len(count)
    count += np.bincount(cust, minlength=n)
    spent += np.bincount(cust, weights=total.astype(np.float64), minlength=n).astype(np.int64)
    np.maximum.at(last, cust, idx)


def _file_ranges(n: int, step: int) -> list[tuple[int, int, int]]:
    """(lo, hi, file number) of the initial snapshot files for n records (one empty file when n == 0)."""
    return [(lo, min(n, lo + step), k) for k, lo in enumerate(range(0, n, step))] or [(0, 0, 0)]


class _InlineExecutor:
    def map(self, fn, *iterables):
        return map(fn, *iterables)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def _executor(workers: int):
    if workers <= 1:
        return _InlineExecutor()
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _task_context(spec: dict):
    h = G.Hasher(spec["seed"])
    return (h, G.build_catalogue(h), [G.Segment.from_json(x) for x in spec["oseg"]],
            [G.Segment.from_json(x) for x in spec["cseg"]])


def _orders_file_task(spec: dict, rng: tuple[int, int, int]):
    """Write orders [lo, hi) and their line items to initial-snapshot file number k (worker-process safe).
    Returns (orders file, line items file, order rows, line rows, customer per order, total per order)."""
    lo, hi, k = rng
    h, cat, oseg, cseg = _task_context(spec)
    root = Path(spec["path"])
    rel_o, rel_l = f"{ORDERS}/part-000000-{k:04d}.parquet", f"{LINE_ITEMS}/part-000000-{k:04d}.parquet"
    custs, totals = [], []

    step = spec["chunk_rows"]

    def chunk(start: int):
        idx = np.arange(start, min(hi, start + step), dtype=np.int64)
        o, li, cust, total, _ = G.build_orders(h, cat, oseg, cseg, idx, np.full(len(idx), spec["t_start"]), True,
                                               spec["n_customers"])
        return o, li, cust, total

    with _Writer(root / rel_o, ORDERS) as wo, _Writer(root / rel_l, LINE_ITEMS) as wl:
        starts = range(lo, hi, step)
        for o, li, cust, total in (_pipelined(chunk, starts) if spec["threads"] else map(chunk, starts)):
            wo.write(o)
            wl.write(li)
            custs.append(cust)
            totals.append(total)
    empty = np.zeros(0, dtype=np.int64)
    return (rel_o, rel_l, wo.rows, wl.rows, np.concatenate(custs) if custs else empty,
            np.concatenate(totals) if totals else empty)


def _customers_file_task(spec: dict, args) -> tuple[str, int]:
    lo, hi, k, count, spent, last = args
    h, _cat, oseg, cseg = _task_context(spec)
    rel = f"{CUSTOMERS}/part-000000-{k:04d}.parquet"

    step = spec["chunk_rows"]

    def chunk(start: int) -> pa.Table:
        c = np.arange(start, min(hi, start + step), dtype=np.int64)
        s = slice(start - lo, start - lo + len(c))
        return G.build_customers(h, cseg, oseg, c, count[s], spent[s], last[s])

    with _Writer(Path(spec["path"]) / rel, CUSTOMERS) as wc:
        starts = range(lo, hi, step)
        for tbl in (_pipelined(chunk, starts) if spec["threads"] else map(chunk, starts)):
            wc.write(tbl)
    return rel, wc.rows


def _pipelined(fn, items, lookahead: int = 2):
    """``map(fn, items)`` in order, building up to ``lookahead`` items ahead on a worker thread so that
    generation (numpy/pyarrow, GIL released) overlaps with Parquet writing in the caller."""
    items = list(items)
    if len(items) <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopify-gen") as pool:
        pending: deque = deque()
        it = iter(items)
        for item in it:
            pending.append(pool.submit(fn, item))
            if len(pending) > lookahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class _Writer:
    """ParquetWriter for one table file; one row group per written chunk.

    Statistics (for window / key pushdown) are kept for the id and timestamp columns only - string statistics
    are costly to write - and dictionary encoding is attempted only where it pays off.
    """

    def __init__(self, path: Path, table: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.columns = TABLE_COLUMNS[table]
        self.rows = 0
        self._w: pq.ParquetWriter | None = None

    def _open(self, schema: pa.Schema) -> pq.ParquetWriter:
        dict_cols = [n for n, k in self.columns if k == "str" and n not in _HIGH_CARDINALITY]
        self._w = pq.ParquetWriter(
            self.path, schema, compression=COMPRESSION, use_dictionary=dict_cols,
            write_statistics=[n for n, k in self.columns if k in ("int", "ts", "date")])
        return self._w

    def write(self, tbl: pa.Table) -> None:
        if tbl.num_rows:
            w = self._w if self._w is not None else self._open(tbl.schema)
            w.write_table(tbl, row_group_size=max(tbl.num_rows, 1))
            self.rows += tbl.num_rows

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        w = self._w if self._w is not None else self._open(G.arrow_schema(self.columns))
        w.close()


_MIN_READ_BATCH = 32_768

# string columns with (nearly) unique values: no dictionary encoding
_HIGH_CARDINALITY = frozenset({"Name", "Email", "Phone", "Browser_Ip", "Shipping_Address_Phone",
                               "Billing_Address_Phone", "Default_Address_Phone", "Last_Order_Name"})


# ------------------------------------------------------------------------------------------------------------
# entry points
# ------------------------------------------------------------------------------------------------------------
def default_store(data_dir: str | os.PathLike, seed: int = DEFAULT_SEED, *, orders: int = DEFAULT_ORDERS,
                  start: Any = DEFAULT_START) -> ShopStore:
    """The store in ``data_dir/shopify``: generated with ``orders`` orders up to ``start`` on first use (or when
    the seed or format differs, or when its history reaches past ``start``), reused afterwards - including whatever
    growth earlier advance() calls added."""
    store = ShopStore(Path(data_dir) / STORE_DIRNAME, seed)
    if not store.generated or store.seed != int(seed) or store.manifest.get("format") != FORMAT_VERSION \
            or store.manifest["as_of"] > to_epoch(start) + FUTURE_SLACK_S:  # its history runs past the clock
        store.generate(int(orders), start)
    return store


def store_command(data_dir: str | os.PathLike, orders: int = DEFAULT_ORDERS, seed: int = DEFAULT_SEED,
                  out=None, start: Any = DEFAULT_START) -> int:
    """``aep-local store --orders N``: (re)generate ``data_dir/shopify`` and print a one-line summary."""
    out = out or sys.stdout
    store = ShopStore(Path(data_dir) / STORE_DIRNAME, seed)
    s = store.generate(int(orders), start)
    counts = " ".join(f"{t.split('.', 1)[1]}={n}" for t, n in s["rows"].items())
    print(f"shopify store {s['path']}: seed={s['seed']} as_of={s['as_of']} {len(s['rows'])} tables "
          f"({counts}) {s['bytes'] / 1e6:.1f} MB on disk in {s['seconds']:.2f}s", file=out)
    return 0
