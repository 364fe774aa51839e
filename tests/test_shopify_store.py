"""AEP Local's deterministic sample Shopify store (aep_magics.local.shopify)."""
from __future__ import annotations

import io
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from aep_magics.local.shopify import (
    COUNTRY_LOWERCASE_SHARE,
    EMAIL_MALFORMED_SHARE,
    EMAIL_NULL_SHARE,
    PHONE_NULL_SHARE,
    PHONE_ODD_SHARE,
    TABLES,
    ShopStore,
    default_store,
    store_command,
)
from aep_magics.local.shopify import store as S

START = datetime(2026, 1, 1, tzinfo=UTC)
ORDERS, CUSTOMERS, LINES = "Shopify.Orders", "Shopify.Customers", "Shopify.Order_Line_Items"
VALID_EMAIL = re.compile(r"^[a-z0-9._]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$")
E164 = re.compile(r"^\+\d{9,14}$")


def _bytes(store: ShopStore) -> dict[str, bytes]:
    return {str(p.relative_to(store.path)): p.read_bytes()
            for p in sorted(store.path.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> ShopStore:
    """20k orders / 8k customers: enough rows for the dirt shares."""
    store = ShopStore(tmp_path_factory.mktemp("big"), seed=11)
    store.generate(20_000)
    return store


def test_same_seed_same_bytes_different_seed_differs(tmp_path):
    a, b, c = (ShopStore(tmp_path / n, seed=s) for n, s in (("a", 7), ("b", 7), ("c", 8)))
    for st in (a, b, c):
        st.generate(1500)
    assert _bytes(a) == _bytes(b)
    assert _bytes(a)["Shopify.Orders/part-000000-0000.parquet"] != _bytes(c)["Shopify.Orders/part-000000-0000.parquet"]
    assert a.preview(ORDERS, 3) == b.preview(ORDERS, 3) != c.preview(ORDERS, 3)


def test_sizes_tables_and_root_listing(tmp_path):
    st = ShopStore(tmp_path, seed=7)
    summary = st.generate(3000)
    assert st.tables() == sorted(TABLES)
    assert {"Shopify.Orders", "Shopify.Customers", "Shopify.Order_Line_Items", "Shopify.Products",
            "Shopify.Blogs", "Shopify.Abandoned_Checkout_Line_Items",
            "Shopify.Abandoned_Checkout_Discount_Codes"} <= set(st.tables())
    assert st.count(ORDERS) == st.rows(ORDERS) == 3000
    assert st.count(CUSTOMERS) == 1200
    assert 3000 < st.count(LINES) < 5 * 3000
    assert st.count("Shopify.Products") == 156
    assert summary["rows"][ORDERS] == 3000 and summary["bytes"] > 0
    assert st.as_of == START
    root = st.explore_root()
    assert root[0] == {"type": "table", "name": root[0]["name"], "path": root[0]["name"], "canPreview": True,
                       "canFetchSchema": True}
    assert [r["name"] for r in root] == st.tables()
    # every order's line items sum to Total_Line_Items_Price (non-JPY orders)
    orders = st.read(ORDERS, ["Order_Id", "Currency", "Total_Line_Items_Price"]).to_pylist()
    minor = {o["Order_Id"]: 1 if o["Currency"] == "JPY" else 100 for o in orders}
    sums: Counter = Counter()
    for li in st.read(LINES, ["Order_Id", "Quantity", "Price"]).to_pylist():
        sums[li["Order_Id"]] += round(float(li["Price"]) * minor[li["Order_Id"]]) * li["Quantity"]
    for o in orders:
        assert sums[o["Order_Id"]] == round(float(o["Total_Line_Items_Price"]) * minor[o["Order_Id"]])


def test_columns_and_explore_shapes(big):
    cols = {c["name"]: c for c in big.columns(ORDERS)}
    required = ["Order_Id", "Name", "Order_Number", "Email", "Phone", "Customer_Id", "Customer_First_Name",
                "Customer_Last_Name", "Created_At", "Updated_At", "Processed_At", "Currency", "Total_Price",
                "Subtotal_Price", "Total_Tax", "Total_Discounts", "Financial_Status", "Fulfillment_Status",
                "Customer_Locale", "Shipping_Address_First_Name", "Shipping_Address_Last_Name",
                "Shipping_Address_Address1", "Shipping_Address_City", "Shipping_Address_Province_Code",
                "Shipping_Address_Zip", "Shipping_Address_Country_Code", "Shipping_Address_Phone",
                "Billing_Address_Country_Code", "Tags", "Source_Name", "Time_Zone", "Browser_Ip"]
    assert set(required) <= set(cols)
    assert cols["Order_Id"] == {"name": "Order_Id", "type": "double", "xdm": {"type": "number"}}
    assert cols["Email"] == {"name": "Email", "type": "string", "xdm": {"type": "string"}}
    assert cols["Updated_At"] == {"name": "Updated_At", "type": "string", "meta:xdmType": "date-time",
                                  "xdm": {"type": "string", "format": "date-time"}}
    assert set({c["name"] for c in big.columns(CUSTOMERS)}) >= {
        "Customer_Id", "Email", "Phone", "First_Name", "Last_Name", "Created_At", "Updated_At", "State",
        "Verified_Email", "Orders_Count", "Total_Spent", "Currency", "Default_Address_Country_Code",
        "Accepts_Marketing", "Birth_Date"}
    assert [c["name"] for c in big.columns("Shopify.Products")][:1] == ["Product_Id"]
    assert {"Line_Item_Id", "Order_Id", "Product_Id", "Sku", "Name", "Quantity", "Price", "Updated_At"} <= {
        c["name"] for c in big.columns(LINES)}
    for table in big.tables():
        for c in big.columns(table):
            assert set(c) <= {"name", "type", "xdm", "meta:xdmType"}
            assert c["type"] in {"string", "double", "boolean"}
        body = big.explore_table(table, rows=2)
        assert body["format"] == "flat" and body["schema"]["columns"] == big.columns(table)
        assert list(body["data"][0]) == [c["name"] for c in big.columns(table)]
        # stored arrow schema matches the declared one
        assert big.read(table).schema == big.schema(table)
    blog = big.preview("Shopify.Blogs", 1)[0]
    assert blog["Blog_Id"] == 55458332804 and blog["Created_At"] == "2020-02-14T09:11:15"


def test_value_formats(big):
    rows = big.preview(ORDERS, 200)
    ts = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
    for r in rows:
        assert r["Name"] == f"#{r['Order_Number']}"
        assert ts.match(r["Created_At"]) and ts.match(r["Updated_At"]) and r["Updated_At"] >= r["Created_At"]
        dec = r"^\d+$" if r["Currency"] == "JPY" else r"^\d+\.\d\d$"
        for k in ("Total_Price", "Subtotal_Price", "Total_Tax", "Total_Discounts"):
            assert re.match(dec, r[k]), (k, r[k])
        assert r["Time_Zone"].count("/") >= 1
        assert r["Financial_Status"] in {"paid", "authorized", "pending", "voided", "refunded",
                                         "partially_refunded"}
    currencies = Counter(r["Currency"] for r in big.read(ORDERS, ["Currency"]).to_pylist())
    assert currencies.most_common(1)[0][0] == "USD" and {"EUR", "GBP", "JPY", "CAD", "AUD"} <= set(currencies)
    names = {r["First_Name"] for r in big.read(CUSTOMERS, ["First_Name"]).to_pylist()}
    assert {"Élodie", "Zoë"} & names and any(not n.isascii() for n in names)


def test_dirt_shares(big):
    cust = big.read(CUSTOMERS, ["Email", "Phone", "Default_Address_Country_Code"]).to_pylist()
    n = len(cust)
    emails = [r["Email"] for r in cust]
    null_email = sum(e is None for e in emails) / n
    bad_email = sum(e is not None and not VALID_EMAIL.match(e) for e in emails) / n
    phones = [r["Phone"] for r in cust]
    null_phone = sum(p is None for p in phones) / n
    odd_phone = sum(p is not None and not E164.match(p) for p in phones) / n
    lower_cc = sum(r["Default_Address_Country_Code"].islower() for r in cust) / n
    assert abs(null_email - EMAIL_NULL_SHARE) < 0.004
    assert abs(bad_email - EMAIL_MALFORMED_SHARE) < 0.008
    assert abs(null_phone - PHONE_NULL_SHARE) < 0.02
    assert abs(odd_phone - PHONE_ODD_SHARE) < 0.006
    assert 0 < lower_cc < COUNTRY_LOWERCASE_SHARE * 4
    bad = [e for e in emails if e is not None and not VALID_EMAIL.match(e)]
    assert any("@@" in e for e in bad) and any("@" not in e for e in bad) and any(e.endswith(" ") for e in bad)
    # orders inherit their customer's contact data; their own shipping country codes get lower-cased too
    orders = big.read(ORDERS, ["Email", "Shipping_Address_Phone", "Shipping_Address_Country_Code"])
    assert orders.column("Email").null_count > 0 and orders.column("Shipping_Address_Phone").null_count > 0
    ccs = orders.column("Shipping_Address_Country_Code").to_pylist()
    assert any(c.islower() for c in ccs) and not any(c.islower() and c != c.lower() for c in ccs)


def test_preview_json_safe(big):
    for table in big.tables():
        rows = big.preview(table, 5)
        assert 0 < len(rows) <= 5
        json.dumps(rows)
    assert [r["Order_Number"] for r in big.preview(ORDERS, 3)] == [1001, 1002, 1003]
    assert big.preview(ORDERS, 0) == []


def _versions(store, table, key, window=None):
    t = store.read(table, [key, "Updated_At"], window=window)
    return list(zip(t.column(key).to_pylist(), t.column("Updated_At").to_pylist(), strict=True))


def test_windows_cover_every_version_exactly_once_while_growing(tmp_path):
    st = ShopStore(tmp_path, seed=3)
    st.generate(600)
    seen = {t: _versions(st, t, k, (None, st.as_of)) for t, k in
            ((ORDERS, "Order_Id"), (CUSTOMERS, "Customer_Id"), (LINES, "Line_Item_Id"))}
    steps = [timedelta(minutes=15)] * 4 + [timedelta(hours=1), timedelta(minutes=7, seconds=30),
                                           timedelta(hours=6), timedelta(days=2), timedelta(minutes=15)]
    for step in steps:
        lo = st.as_of
        appended = st.advance(lo + step)
        hi = st.as_of
        assert hi == lo + step
        for t, k in ((ORDERS, "Order_Id"), (CUSTOMERS, "Customer_Id"), (LINES, "Line_Item_Id")):
            got = _versions(st, t, k, (lo, hi))
            assert len(got) == appended[t]
            assert all(S.iso(S.to_epoch(lo)) < u <= S.iso(S.to_epoch(hi)) for _, u in got)
            seen[t] += got
    for t, k in ((ORDERS, "Order_Id"), (CUSTOMERS, "Customer_Id"), (LINES, "Line_Item_Id")):
        everything = _versions(st, t, k)
        assert len(set(everything)) == len(everything), f"duplicate versions in {t}"
        assert Counter(seen[t]) == Counter(everything), f"windows do not partition {t}"
    # orders really get new versions with changed statuses, and preview shows the latest one
    by_id: dict[int, list] = {}
    full = st.read(ORDERS, ["Order_Id", "Updated_At", "Financial_Status", "Fulfillment_Status"]).to_pylist()
    for r in full:
        by_id.setdefault(r["Order_Id"], []).append(r)
    multi = [v for v in by_id.values() if len(v) > 1]
    assert multi and any(v[0]["Fulfillment_Status"] != v[-1]["Fulfillment_Status"] for v in multi)
    for r in st.preview(ORDERS, 50):
        assert r["Updated_At"] == max(v["Updated_At"] for v in by_id[r["Order_Id"]])
    assert st.count(ORDERS) == len(by_id) > 600
    assert st.count(CUSTOMERS) > 240


def test_growth_is_deterministic_and_survives_restart(tmp_path):
    steps = [START + timedelta(minutes=15 * k) for k in range(1, 6)]
    a = ShopStore(tmp_path / "a", seed=5)
    a.generate(500)
    for s in steps:
        a.advance(s)
    b = ShopStore(tmp_path / "b", seed=5)
    b.generate(500)
    for s in steps[:2]:
        b.advance(s)
    b = ShopStore(tmp_path / "b")          # restart: reopen from the manifest
    assert b.generated and b.seed == 5 and b.as_of == steps[1]
    for s in steps[2:]:
        b.advance(s.timestamp())             # epoch seconds work too
    assert _bytes(a) == _bytes(b)
    assert a.advance(steps[0]) == {t: 0 for t in TABLES}   # going back is a no-op
    c = ShopStore(tmp_path / "c", seed=5)
    c.generate(500)
    c.advance(steps[-1])                     # one big step: same versions, other files
    assert sorted(_versions(c, ORDERS, "Order_Id")) == sorted(_versions(a, ORDERS, "Order_Id"))


def test_scan_streams_with_pushdown_and_chunked_files(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "CHUNK_ROWS", 500)
    monkeypatch.setattr(S, "FILE_CHUNKS", 2)
    st = ShopStore(tmp_path / "one", seed=9)
    st.generate(2750, workers=1)
    files = st.files(ORDERS)
    assert len(files) == 3 and [pq.ParquetFile(f).num_row_groups for f in files] == [2, 2, 2]
    assert pq.ParquetFile(st.files(LINES)[0]).num_row_groups == 2
    assert len(st.files(CUSTOMERS)) == 2
    batches = list(st.scan(ORDERS, columns=["Order_Id"], batch_size=200))
    assert all(b.num_rows <= 200 for b in batches) and sum(b.num_rows for b in batches) == 2750
    ids = [i for b in batches for i in b.column(0).to_pylist()]
    assert ids == sorted(ids)
    # a narrow window only returns rows inside it
    lo, hi = "2025-12-31T12:00:00", "2025-12-31T15:00:00"
    rows = st.read(ORDERS, ["Updated_At"], window=(lo, hi)).column(0).to_pylist()
    assert rows and all(lo < r <= hi for r in rows)
    with pytest.raises(KeyError, match=r"unknown column\(s\) for Shopify.Orders: \['Nope'\]"):
        st.read(ORDERS, ["Nope"])


def test_worker_processes_write_identical_bytes(tmp_path, monkeypatch):
    """The default path of a big store (worker processes from PARALLEL_MIN_ORDERS orders on), on a small one: the
    threshold and the chunk sizes are lowered, the worker count is left to generate() (two spawned processes)."""
    monkeypatch.setattr(S, "CHUNK_ROWS", 500)
    monkeypatch.setattr(S, "FILE_CHUNKS", 2)
    monkeypatch.setattr(S, "PARALLEL_MIN_ORDERS", 2000)
    monkeypatch.setattr(S.os, "cpu_count", lambda: 2)
    executors = []
    real_executor = S._executor
    monkeypatch.setattr(S, "_executor", lambda workers: executors.append(workers) or real_executor(workers))
    one, par = ShopStore(tmp_path / "one", seed=9), ShopStore(tmp_path / "par", seed=9)
    one.generate(1999)                  # under the threshold: in-process
    assert executors == [1]
    one.generate(2750, workers=1)
    par.generate(2750)                  # from the threshold on: worker processes, by default
    assert executors == [1, 1, 2]
    assert len(par.files(ORDERS)) == 3
    assert _bytes(par) == _bytes(one)


def test_default_store_reuses_and_store_command(tmp_path):
    st = default_store(tmp_path, seed=7)
    assert st.path == tmp_path / "shopify" and st.count(ORDERS) == 5000
    st.advance(START + timedelta(hours=1))
    again = default_store(tmp_path, seed=7)
    assert again.as_of == START + timedelta(hours=1) and again.count(ORDERS) > 5000
    other = default_store(tmp_path, seed=8)
    assert other.seed == 8 and other.as_of == START and other.count(ORDERS) == 5000
    out = io.StringIO()
    assert store_command(tmp_path / "cli", orders=200, seed=7, out=out) == 0
    line = out.getvalue()
    assert line.count("\n") == 1 and "Orders=200" in line and "MB on disk" in line
    assert (Path(tmp_path) / "cli" / "shopify" / "manifest.json").exists()


def test_default_store_replaces_a_store_whose_history_runs_past_the_clock(tmp_path):
    """A store generated on the wall clock, opened by a deterministic-mode platform (whose clock starts earlier),
    is generated again; one a few seconds ahead (a restart) is kept."""
    from aep_magics.local.shopify.store import default_store, to_epoch

    later = datetime(2026, 12, 1, tzinfo=UTC)
    early = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ShopStore(tmp_path / "shopify").generate(300, start=later)
    store = default_store(tmp_path, orders=200, start=early)
    assert store.manifest["as_of"] == to_epoch(early)
    kept = default_store(tmp_path, orders=999, start=datetime(2026, 3, 2, 8, 59, 50, tzinfo=UTC))
    assert kept.manifest["as_of"] == to_epoch(early) and kept.manifest.get("orders") == store.manifest.get("orders")
