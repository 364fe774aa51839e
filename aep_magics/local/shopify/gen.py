"""Vectorised, counter-based generation of the sample Shopify store's rows.

Every attribute of a record is a pure function of ``(seed, attribute name, record index)``: a splitmix64 hash of
the three gives a uniform 64-bit number, turned into a choice/integer/float with numpy.  Consequences:

* generation is chunk-size independent and needs no state besides the store's segments and customer statistics;
* an order's row at any emulated time ``T`` can be rebuilt from its index alone, which is how ``advance`` emits
  updated versions (status changes) of old orders without reading the Parquet files back;
* everything is numpy/pyarrow column arithmetic - no per-row Python on the hot path.

Order lifecycle (all offsets derived from the order's hash, seconds):
    created  -- financial status paid 78% / authorized 12% / pending 10%
    capture  -- (non-paid only) +1h..72h: paid 90% / voided 10% (voided => cancelled, reason "declined")
    fulfil   -- (not voided, 97%) +2h..7d after the later of created/capture: fulfilled 94% / partial 6%
    refund   -- (fulfilled, 6%) +1d..21d after fulfilment: refunded 60% / partially_refunded 40%
so every event happens within ``EVENT_HORIZON`` seconds of the order's creation.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import data as D

# --------------------------------------------------------------------------------------------------------------
# Dirt shares (deterministic, per record; see tests/test_shopify_store.py for the tolerance checks)
# --------------------------------------------------------------------------------------------------------------
EMAIL_NULL_SHARE = 0.005          # customers (and so their orders) without an e-mail
EMAIL_MALFORMED_SHARE = 0.02      # missing @, "name@@x.com", trailing/leading space, "x@gmail.", "x@gmail,com"
PHONE_NULL_SHARE = 0.10           # customers without a phone (Phone, *_Address_Phone null)
PHONE_ODD_SHARE = 0.01            # "(212) 555-0147", "0612345678", "0049151...", "+44.7700.900123", "... x12"
COUNTRY_LOWERCASE_SHARE = 0.003   # per address: "us" instead of "US" (breaks XDM's ^[A-Z]{2}$, not checked in batch)
# Shipping address coordinates (per order). Batch ingestion checks ranges: latitude -90..90, longitude -180..180.
GEO_NULL_SHARE = 0.05             # addresses that were never geocoded
GEO_SWAPPED_SHARE = 0.03          # latitude and longitude swapped: out of range where |longitude| > 90
GEO_MERCATOR_SHARE = 0.004        # Web Mercator metres instead of degrees: always out of range
BIRTH_DATE_NULL_SHARE = 0.35
GUEST_NAME_LOCALE_SHARE = 0.12    # customers in en-speaking countries with a de/fr/es/it/nl name

# --------------------------------------------------------------------------------------------------------------
# Id spaces (all < 2**53, so exact when a consumer reads them as doubles - the explore type is "double")
# --------------------------------------------------------------------------------------------------------------
ORDER_ID_BASE = 5_530_000_000_000
ORDER_ID_STRIDE = 37
CUSTOMER_ID_BASE = 7_100_000_000_000
CUSTOMER_ID_STRIDE = 29
LINE_ITEM_ID_BASE = 14_200_000_000_000
LINE_ITEM_ID_STRIDE = 8           # max 5 line items per order
PRODUCT_ID_BASE = 8_800_000_000_000
PRODUCT_ID_STRIDE = 101
VARIANT_ID_BASE = 45_000_000_000_000
FIRST_ORDER_NUMBER = 1001

HOUR = 3600
DAY = 86400
EVENT_HORIZON = 32 * DAY          # every status event happens within this many seconds of creation
NONE_TS = np.iinfo(np.int64).max  # "event never happens"

ORDERS_PER_CUSTOMER = 2.5         # customers sign up at order_rate / ORDERS_PER_CUSTOMER
CUSTOMER_LEAD = 30 * DAY          # the initial customers start signing up this long before the first order
RECENT_CUSTOMERS = 200            # a share of orders comes from one of the most recent sign-ups
RECENT_CUSTOMER_SHARE = 0.35

_LINES_CUM = np.cumsum([0.45, 0.28, 0.15, 0.08, 0.04])
_QTY_CUM = np.cumsum([0.80, 0.13, 0.05, 0.02])

FIN_STATUSES = ("paid", "authorized", "pending", "voided", "refunded", "partially_refunded")
FUL_STATUSES = ("fulfilled", "partial")
SOURCE_NAMES = ("web", "pos", "shopify_draft_order", "iphone", "android")
_SOURCE_CUM = np.cumsum([0.82, 0.05, 0.04, 0.05, 0.04])
ORDER_TAGS = ("", "VIP", "gift", "wholesale", "first-order", "VIP, repeat", "subscription")
_ORDER_TAG_CUM = np.cumsum([0.72, 0.05, 0.06, 0.02, 0.09, 0.03, 0.03])
CUSTOMER_STATES = ("enabled", "disabled", "invited", "declined")
_STATE_CUM = np.cumsum([0.72, 0.20, 0.06, 0.02])
CUSTOMER_TAGS = ("", "VIP", "newsletter", "wholesale", "VIP, newsletter")
_CUSTOMER_TAG_CUM = np.cumsum([0.80, 0.05, 0.08, 0.02, 0.05])

# --------------------------------------------------------------------------------------------------------------
# Table schemas: (column, kind).  kind: id/int -> int64, str -> string, ts -> ISO string "YYYY-MM-DDTHH:MM:SS"
# (UTC, no offset, like the explore docs), date -> "YYYY-MM-DD", bool -> bool.
# --------------------------------------------------------------------------------------------------------------
_ADDR = ("First_Name", "Last_Name", "Address1", "Address2", "City", "Province_Code", "Zip", "Country",
         "Country_Code", "Phone")
_BILL = ("First_Name", "Last_Name", "Address1", "City", "Province_Code", "Zip", "Country_Code", "Phone")

ORDERS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Order_Id", "int"), ("Name", "str"), ("Order_Number", "int"), ("Email", "str"), ("Phone", "str"),
    ("Customer_Id", "int"), ("Customer_First_Name", "str"), ("Customer_Last_Name", "str"),
    ("Created_At", "ts"), ("Updated_At", "ts"), ("Processed_At", "ts"), ("Cancelled_At", "ts"),
    ("Cancel_Reason", "str"), ("Currency", "str"), ("Presentment_Currency", "str"), ("Total_Price", "str"),
    ("Subtotal_Price", "str"), ("Total_Tax", "str"), ("Total_Discounts", "str"),
    ("Total_Line_Items_Price", "str"), ("Financial_Status", "str"), ("Fulfillment_Status", "str"),
    ("Customer_Locale", "str"), ("Buyer_Accepts_Marketing", "bool"), ("Source_Name", "str"), ("Tags", "str"),
    ("Time_Zone", "str"), ("Browser_Ip", "str"), ("Test", "bool"),
    *((f"Shipping_Address_{c}", "str") for c in _ADDR),
    ("Shipping_Address_Latitude", "float"), ("Shipping_Address_Longitude", "float"),
    *((f"Billing_Address_{c}", "str") for c in _BILL),
)
CUSTOMERS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Customer_Id", "int"), ("Email", "str"), ("Phone", "str"), ("First_Name", "str"), ("Last_Name", "str"),
    ("Created_At", "ts"), ("Updated_At", "ts"), ("State", "str"), ("Verified_Email", "bool"),
    ("Accepts_Marketing", "bool"), ("Orders_Count", "int"), ("Total_Spent", "str"), ("Last_Order_Id", "int"),
    ("Last_Order_Name", "str"), ("Currency", "str"), ("Tags", "str"), ("Tax_Exempt", "bool"),
    ("Locale", "str"), ("Birth_Date", "date"),
    *((f"Default_Address_{c}", "str") for c in _ADDR),
)
LINE_ITEMS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Line_Item_Id", "int"), ("Order_Id", "int"), ("Product_Id", "int"), ("Variant_Id", "int"), ("Sku", "str"),
    ("Name", "str"), ("Title", "str"), ("Variant_Title", "str"), ("Vendor", "str"), ("Quantity", "int"),
    ("Price", "str"), ("Taxable", "bool"), ("Requires_Shipping", "bool"), ("Updated_At", "ts"),
)
PRODUCTS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Product_Id", "int"), ("Title", "str"), ("Vendor", "str"), ("Product_Type", "str"), ("Handle", "str"),
    ("Status", "str"), ("Tags", "str"), ("Created_At", "ts"), ("Updated_At", "ts"), ("Published_At", "ts"),
    ("Price", "str"), ("Sku", "str"),
)
BLOGS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Blog_Id", "int"), ("Handle", "str"), ("Title", "str"), ("Commentable", "str"), ("Feedburner", "str"),
    ("Feedburner_Location", "str"), ("Created_At", "ts"), ("Updated_At", "ts"), ("Template_Suffix", "str"),
    ("Tags", "str"),
)
AC_LINE_ITEMS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Abandoned_Checkout_Id", "int"), ("Product_Id", "int"), ("Variant_Id", "int"), ("Sku", "str"),
    ("Title", "str"), ("Variant_Title", "str"), ("Vendor", "str"), ("Quantity", "int"), ("Price", "str"),
    ("Line_Price", "str"), ("Requires_Shipping", "bool"), ("Updated_At", "ts"),
)
AC_DISCOUNT_CODES_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Abandoned_Checkout_Id", "int"), ("Code", "str"), ("Amount", "str"), ("Type", "str"), ("Updated_At", "ts"),
)
AC_NOTE_ATTRIBUTES_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Abandoned_Checkout_Id", "int"), ("Name", "str"), ("Value", "str"), ("Updated_At", "ts"),
)

_ARROW = {"int": pa.int64(), "str": pa.string(), "ts": pa.string(), "date": pa.string(), "bool": pa.bool_(),
          "float": pa.float64()}


def arrow_schema(columns: tuple[tuple[str, str], ...]) -> pa.Schema:
    return pa.schema([pa.field(name, _ARROW[kind]) for name, kind in columns])


# --------------------------------------------------------------------------------------------------------------
# Counter-based hashing
# --------------------------------------------------------------------------------------------------------------
_MASK = (1 << 64) - 1
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV53 = 1.0 / float(1 << 53)


def _mix_int(x: int) -> int:
    x &= _MASK
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


class Hasher:
    """Uniform numbers as pure functions of (seed, stream name, index array)."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._keys: dict[str, np.uint64] = {}

    def _key(self, stream: str) -> np.uint64:
        key = self._keys.get(stream)
        if key is None:
            key = np.uint64(_mix_int(_mix_int(self.seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019)
                                     ^ zlib.crc32(stream.encode())))
            self._keys[stream] = key
        return key

    def bits(self, stream: str, idx: np.ndarray) -> np.ndarray:
        x = idx.astype(np.uint64) * _GOLD
        x ^= self._key(stream)
        x ^= x >> _S30
        x *= _M1
        x ^= x >> _S27
        x *= _M2
        x ^= x >> _S31
        return x

    def unif(self, stream: str, idx: np.ndarray) -> np.ndarray:
        return (self.bits(stream, idx) >> _S11).astype(np.float64) * _INV53

    def below(self, stream: str, idx: np.ndarray, n) -> np.ndarray:
        """Integers in [0, n) (n scalar or array, >= 1)."""
        return np.minimum((self.unif(stream, idx) * n).astype(np.int64), np.asarray(n, dtype=np.int64) - 1)

    def pick(self, stream: str, idx: np.ndarray, cum: np.ndarray) -> np.ndarray:
        """Index into a cumulative-weights array (last element ~1)."""
        u = self.unif(stream, idx) * float(cum[-1])
        return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1).astype(np.int64)

    def chance(self, stream: str, idx: np.ndarray, p: float) -> np.ndarray:
        return self.unif(stream, idx) < p


# --------------------------------------------------------------------------------------------------------------
# Arrival segments: record i of segment s is created at t0 + 1 + floor((i - idx0 + jitter_i) * spo)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    t0: int        # epoch seconds; records of the segment are created strictly after t0
    idx0: int      # first record index
    spo: float     # seconds per record

    def as_json(self) -> dict:
        return {"t0": self.t0, "idx0": self.idx0, "spo": self.spo}

    @staticmethod
    def from_json(d: dict) -> Segment:
        return Segment(int(d["t0"]), int(d["idx0"]), float(d["spo"]))


def segment_times(h: Hasher, stream: str, segs: list[Segment], idx: np.ndarray) -> np.ndarray:
    idx = np.asarray(idx, dtype=np.int64)
    out = np.empty(idx.shape, dtype=np.int64)
    jitter = h.unif(stream, idx)
    jitter[idx == 0] = 0.0
    starts = np.array([s.idx0 for s in segs], dtype=np.int64)
    which = np.searchsorted(starts, idx, side="right") - 1
    for k, s in enumerate(segs):
        m = which == k
        if m.any():
            out[m] = s.t0 + 1 + np.floor((idx[m] - s.idx0 + jitter[m]) * s.spo).astype(np.int64)
    return out


def first_index_after(h: Hasher, stream: str, segs: list[Segment], when: int, lo: int,
                      hi: int | None = None) -> int:
    """Smallest index i >= lo (and <= hi) whose creation time is > when (times are non-decreasing in i)."""
    def t(i: int) -> int:
        return int(segment_times(h, stream, segs, np.array([i], dtype=np.int64))[0])

    if hi is None:
        hi = max(lo, 1)
        while t(hi) <= when:
            hi = hi * 2 + 1
    if lo >= hi or t(lo) > when:
        return lo
    # invariant: t(lo) <= when < t(hi)  (hi may also be a closed bound we never evaluate above)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if t(mid) <= when:
            lo = mid
        else:
            hi = mid
    return hi


def available_customers(csegs: list[Segment], n_customers_cap: int | None, t: np.ndarray) -> np.ndarray:
    """For each time t, a count c >= 1 such that customers [0, c) have all signed up at or before t."""
    out = np.ones(t.shape, dtype=np.int64)
    t0s = np.array([s.t0 for s in csegs], dtype=np.int64)
    which = np.searchsorted(t0s, t, side="left") - 1   # last segment with t0 < t
    for k, s in enumerate(csegs):
        m = which == k
        if not m.any():
            continue
        got = np.floor((t[m] - s.t0 - 1) / s.spo).astype(np.int64) - 1
        got = s.idx0 + np.maximum(got, 0)
        if k + 1 < len(csegs):
            got = np.minimum(got, csegs[k + 1].idx0)
        out[m] = got
    if n_customers_cap is not None:
        out = np.minimum(out, n_customers_cap)
    return np.maximum(out, 1)


# --------------------------------------------------------------------------------------------------------------
# Small helpers on arrow arrays
# --------------------------------------------------------------------------------------------------------------
def _pool(values) -> pa.Array:
    return pa.array(list(values), type=pa.string())


_FIRST_POOL = _pool(D.FIRST_NAMES)
_LAST_POOL = _pool(D.LAST_NAMES)
_EMAIL_NAME_POOL = _pool(D.FIRST_ASCII + D.FIRST_INITIALS + D.LAST_ASCII)
_N_FIRST = len(D.FIRST_ASCII)
_SEP_POOL = _pool((".", "", ".", "_", "."))
_DOMAIN_POOL = _pool(D.EMAIL_DOMAINS)
_PHONE_PREFIX_POOL = _pool(D.PHONE_PREFIXES)
_CITY_POOL = _pool(D.CITY_NAMES)
_PROVINCE_POOL = pa.array(D.CITY_PROVINCE, type=pa.string())
_TZ_POOL = _pool(D.CITY_TZ)
_LOCALE_POOL = _pool(D.CITY_LOCALE)
_ZIP_POOL = _pool(D.ZIP_POOL)
_STREET_POOL = _pool(D.STREET_POOL)
_ADDRESS2_POOL = _pool(D.ADDRESS2_POOL)
_CC_POOL = _pool(D.COUNTRY_CODES + [c.lower() for c in D.COUNTRY_CODES])
_COUNTRY_NAME_POOL = _pool(D.COUNTRY_NAMES)
_CURRENCY_POOL = _pool(D.CURRENCY_CODES)
_N_COUNTRIES = len(D.COUNTRY_CODES)
# Browser IPs: "a.b" (public-looking first octets) + "c.d"
_IP_HI_POOL = _pool(f"{a}.{b}" for a in (23, 31, 37, 45, 62, 66, 73, 81, 86, 92, 98, 104, 109, 151, 172, 176,
                                        185, 188, 201, 203, 212, 217) for b in range(0, 256, 5))
_IP_LO_POOL = _pool(f"{c}.{d}" for c in range(256) for d in range(1, 255))


def take(pool: pa.Array, idx: np.ndarray) -> pa.Array:
    """Values of a small pool by index.  (Plain arrays on purpose: dictionary arrays are no faster to write
    and Parquet's dictionary page for them is not byte-stable across writes.)"""
    return pool.take(pa.array(idx, type=pa.int64()))


def ptake(pool: pa.Array, idx: np.ndarray) -> pa.Array:
    """Plain (non-dictionary) take, for inputs of string kernels."""
    return pool.take(pa.array(idx, type=pa.int64()))


def null_where(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    if not mask.any():
        return arr
    if isinstance(arr, pa.DictionaryArray):
        indices = pc.if_else(pa.array(mask), pa.scalar(None, arr.indices.type), arr.indices)
        return pa.DictionaryArray.from_arrays(indices, arr.dictionary)
    return pc.if_else(pa.array(mask), pa.scalar(None, arr.type), arr)


def make_table(cols: dict, columns: tuple[tuple[str, str], ...]) -> pa.Table:
    """Table in the declared column order and types."""
    return pa.Table.from_pydict({n: cols[n] for n, _ in columns}, schema=arrow_schema(columns))


def int_str(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values, type=pa.int64()), pa.string())


def fmt_ts(ts: np.ndarray) -> pa.Array:
    """Epoch seconds -> 'YYYY-MM-DDTHH:MM:SS' (UTC, no offset); NONE_TS -> null."""
    ts = np.asarray(ts, dtype=np.int64)
    none = ts == NONE_TS
    arr = pa.array(np.where(none, 0, ts).astype("datetime64[s]"), mask=none if none.any() else None)
    return pc.utf8_replace_slice(pc.cast(arr, pa.string()), 10, 11, "T")


def fmt_date(days: np.ndarray, null: np.ndarray) -> pa.Array:
    arr = pa.array(days.astype("datetime64[D]"), mask=null if null.any() else None)
    return pc.cast(arr, pa.string())


def fmt_money(minor: np.ndarray, currency: np.ndarray) -> pa.Array:
    """Integer minor units -> decimal string ('598.94'; JPY '1200')."""
    minor = np.asarray(minor, dtype=np.int64)
    wide = np.empty((len(minor), 2), dtype=np.int64)   # little-endian int128 = unscaled decimal value
    wide[:, 0] = minor
    wide[:, 1] = np.where(minor < 0, -1, 0)
    buf = pa.py_buffer(np.ascontiguousarray(wide))
    two = pc.cast(pa.Array.from_buffers(pa.decimal128(20, 2), len(minor), [None, buf]), pa.string())
    zero_dec = D.CURRENCY_DECIMALS[currency] == 0
    if not zero_dec.any():
        return two
    return pc.if_else(pa.array(zero_dec), int_str(minor), two)


def _replace_subset(arr: pa.Array, mask: np.ndarray, transform) -> pa.Array:
    if not mask.any():
        return arr
    sub = arr.filter(pa.array(mask))
    return pc.replace_with_mask(arr, pa.array(mask), transform(sub, np.flatnonzero(mask)))


def _choose(kinds: np.ndarray, variants: list[pa.Array]) -> pa.Array:
    out = variants[0]
    for k in range(1, len(variants)):
        out = pc.if_else(pa.array(kinds == k), variants[k], out)
    return out


# --------------------------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------------------------


def customer_profile(h: Hasher, c: np.ndarray) -> dict:
    """Everything about customers ``c`` that does not depend on their orders (arrow arrays + numpy)."""
    c = np.asarray(c, dtype=np.int64)
    city = h.pick("c.city", c, D.CITY_CUM)
    country = D.CITY_COUNTRY[city]
    nl = D.COUNTRY_NAME_LOCALE[country]
    mixed = D.COUNTRY_ALLOWS_MIXED[country] & h.chance("c.mixed", c, GUEST_NAME_LOCALE_SHARE)
    nl = np.where(mixed, D.MIXED_NAME_LOCALE_IDX[h.below("c.mixloc", c, len(D.MIXED_NAME_LOCALE_IDX))], nl)
    first = D.NAME_LOCALE_FIRST_OFF[nl] + h.below("c.first", c, D.NAME_LOCALE_FIRST_SIZE[nl])
    last = D.NAME_LOCALE_LAST_OFF[nl] + h.below("c.last", c, D.NAME_LOCALE_LAST_SIZE[nl])

    # e-mail: <a><sep><b><num>@<domain>
    pattern = h.pick("c.epat", c, np.cumsum([0.40, 0.20, 0.15, 0.10, 0.15]))
    last_pos = 2 * _N_FIRST + last
    a_idx = np.where(pattern == 2, _N_FIRST + first, np.where(pattern == 4, last_pos, first))
    b_idx = np.where(pattern == 4, first, last_pos)
    has_num = h.chance("c.enum", c, 0.55)
    year = h.chance("c.eyear", c, 0.3)
    num = np.where(year, 1960 + h.below("c.eyv", c, 47), 1 + h.below("c.enn", c, 99))
    num_s = pc.if_else(pa.array(has_num), int_str(num), pa.scalar(""))
    domain = D.COUNTRY_DOMAIN_OFF[country] + h.below("c.dom", c, D.COUNTRY_DOMAIN_SIZE[country])
    email = pc.binary_join_element_wise(ptake(_EMAIL_NAME_POOL, a_idx), ptake(_SEP_POOL, pattern),
                                        ptake(_EMAIL_NAME_POOL, b_idx), num_s, "@", ptake(_DOMAIN_POOL, domain),
                                        "")
    u_mail = h.unif("c.edirt", c)
    email_null = u_mail < EMAIL_NULL_SHARE
    email_bad = (u_mail >= EMAIL_NULL_SHARE) & (u_mail < EMAIL_NULL_SHARE + EMAIL_MALFORMED_SHARE)

    def _malform(sub: pa.Array, pos: np.ndarray) -> pa.Array:
        kinds = h.below("c.ekind", c[pos], 6)
        return _choose(kinds, [
            pc.replace_substring(sub, "@", ""),                               # missing @
            pc.replace_substring(sub, "@", "@@"),                             # name@@x.com
            pc.binary_join_element_wise(sub, " ", ""),                       # trailing space
            pc.replace_substring_regex(sub, r"\.[a-z]+$", "."),               # gmail. (no TLD)
            pc.replace_substring_regex(sub, r"\.([a-z]+)$", r",\1"),          # gmail,com
            pc.binary_join_element_wise(" ", sub, ""),                       # leading space
        ])

    email = null_where(_replace_subset(email, email_bad, _malform), email_null)

    # phone: E.164 city/country prefix + 7-digit subscriber number
    prefix = D.CITY_PHONE_OFF[city] + h.below("c.pfx", c, D.CITY_PHONE_SIZE[city])
    subscriber = 2_000_000 + h.below("c.psub", c, 8_000_000)
    phone = pc.binary_join_element_wise(ptake(_PHONE_PREFIX_POOL, prefix), int_str(subscriber), "")
    u_ph = h.unif("c.pdirt", c)
    phone_null = u_ph < PHONE_NULL_SHARE
    phone_odd = (u_ph >= PHONE_NULL_SHARE) & (u_ph < PHONE_NULL_SHARE + PHONE_ODD_SHARE)

    def _oddify(sub: pa.Array, pos: np.ndarray) -> pa.Array:
        kinds = h.below("c.pkind", c[pos], 5)
        national = pc.replace_substring_regex(
            pc.replace_substring_regex(sub, r"^\+1(\d{3})(\d{3})(\d{4})$", r"(\1) \2-\3"), r"^\+\d\d", "0")
        return _choose(kinds, [
            national,                                                        # (212) 555-0147 / 0612345678
            pc.replace_substring_regex(sub, r"^\+", "00"),                   # 0049151...
            pc.replace_substring_regex(sub, r"^(\+\d+)(\d{3})(\d{4})$", r"\1.\2.\3"),
            pc.binary_join_element_wise(sub, " x12", ""),                   # extension
            pc.replace_substring_regex(sub, r"^\+", ""),                     # no plus
        ])

    phone = null_where(_replace_subset(phone, phone_odd, _oddify), phone_null)

    street = country * D.ADDRESSES_PER_COUNTRY + h.below("c.street", c, D.ADDRESSES_PER_COUNTRY)
    addr2 = h.below("c.addr2", c, len(D.ADDRESS2_POOL))
    addr2_null = ~h.chance("c.hasaddr2", c, 0.15)
    zipc = city * D.ZIPS_PER_CITY + h.below("c.zip", c, D.ZIPS_PER_CITY)
    cc_lower = h.chance("c.cclow", c, COUNTRY_LOWERCASE_SHARE)
    return {
        "c": c, "city": city, "country": country, "first_idx": first, "last_idx": last,
        "first": take(_FIRST_POOL, first), "last": take(_LAST_POOL, last),
        "email": email, "email_ok": ~(email_null | email_bad), "phone": phone,
        "street": street, "addr2": addr2, "addr2_null": addr2_null, "zip": zipc, "cc_lower": cc_lower,
        "currency": D.COUNTRY_CURRENCY[country],
        "accepts_marketing": h.chance("c.mkt", c, 0.45),
    }


def customer_ids(h: Hasher, c: np.ndarray) -> np.ndarray:
    return CUSTOMER_ID_BASE + c * CUSTOMER_ID_STRIDE + h.below("c.idj", c, CUSTOMER_ID_STRIDE)


def order_ids(h: Hasher, i: np.ndarray) -> np.ndarray:
    return ORDER_ID_BASE + i * ORDER_ID_STRIDE + h.below("o.idj", i, ORDER_ID_STRIDE)


def _address(prefix: str, first, last, street, addr2, addr2_null, city, zipc, country, cc_lower, phone,
             cols: tuple[str, ...]) -> dict:
    vals = {
        "First_Name": first, "Last_Name": last, "Address1": take(_STREET_POOL, street),
        "Address2": null_where(take(_ADDRESS2_POOL, addr2), addr2_null), "City": take(_CITY_POOL, city),
        "Province_Code": take(_PROVINCE_POOL, city), "Zip": take(_ZIP_POOL, zipc),
        "Country": take(_COUNTRY_NAME_POOL, country),
        "Country_Code": take(_CC_POOL, country + np.where(cc_lower, _N_COUNTRIES, 0)), "Phone": phone,
    }
    return {f"{prefix}_{k}": vals[k] for k in cols}


def shipping_coordinates(h: Hasher, i: np.ndarray, city: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Latitude and longitude of the orders' shipping addresses: near the city centre, with the dirt of real
    geocoded data (missing, swapped, Web Mercator metres; see the shares at the top)."""
    lat = np.round(D.CITY_LAT[city] + (h.unif("o.latj", i) - 0.5) * 0.12, 6)
    lon = np.round(D.CITY_LON[city] + (h.unif("o.lonj", i) - 0.5) * 0.12, 6)
    u = h.unif("o.geodirt", i)
    missing = u < GEO_NULL_SHARE
    swapped = (u >= GEO_NULL_SHARE) & (u < GEO_NULL_SHARE + GEO_SWAPPED_SHARE)
    mercator = (u >= GEO_NULL_SHARE + GEO_SWAPPED_SHARE) & (u < GEO_NULL_SHARE + GEO_SWAPPED_SHARE
                                                           + GEO_MERCATOR_SHARE)
    merc_x = np.round(lon * 20037508.34 / 180.0, 2)
    merc_y = np.round(np.log(np.tan((90.0 + lat) * np.pi / 360.0)) * 6378137.0, 2)
    out_lat = np.where(swapped, lon, np.where(mercator, merc_y, lat))
    out_lon = np.where(swapped, lat, np.where(mercator, merc_x, lon))
    return pa.array(out_lat, mask=missing), pa.array(out_lon, mask=missing)


def build_customers(h: Hasher, csegs: list[Segment], oseg: list[Segment], c: np.ndarray, counts: np.ndarray,
                    spent: np.ndarray, last_order: np.ndarray) -> pa.Table:
    """Customer rows for indices ``c``; counts/spent/last_order are the customers' statistics (aligned)."""
    p = customer_profile(h, c)
    created = segment_times(h, "c.t", csegs, c)
    has_last = last_order >= 0
    last_t = np.where(has_last, segment_times(h, "o.t", oseg, np.maximum(last_order, 0)), 0)
    updated = np.maximum(created, last_t)
    cur = p["currency"]
    state = h.pick("c.state", c, _STATE_CUM)
    birth_null = h.chance("c.bnull", c, BIRTH_DATE_NULL_SHARE)
    birth_days = -7305 + h.below("c.bday", c, 20454)  # 1950-01-01 .. 2005-12-31
    cols = {
        "Customer_Id": pa.array(customer_ids(h, c)), "Email": p["email"], "Phone": p["phone"],
        "First_Name": p["first"], "Last_Name": p["last"], "Created_At": fmt_ts(created),
        "Updated_At": fmt_ts(updated), "State": take(_pool(CUSTOMER_STATES), state),
        "Verified_Email": pa.array(p["email_ok"] & h.chance("c.verified", c, 0.92)),
        "Accepts_Marketing": pa.array(p["accepts_marketing"]),
        "Orders_Count": pa.array(counts.astype(np.int64)), "Total_Spent": fmt_money(spent, cur),
        "Last_Order_Id": pa.array(order_ids(h, np.maximum(last_order, 0)), mask=~has_last),
        "Last_Order_Name": null_where(pc.binary_join_element_wise(
            "#", int_str(FIRST_ORDER_NUMBER + np.maximum(last_order, 0)), ""), ~has_last),
        "Currency": take(_CURRENCY_POOL, cur),
        "Tags": take(_pool(CUSTOMER_TAGS), h.pick("c.tags", c, _CUSTOMER_TAG_CUM)),
        "Tax_Exempt": pa.array(h.chance("c.taxex", c, 0.01)),
        "Locale": take(_LOCALE_POOL, p["city"]),
        "Birth_Date": fmt_date(birth_days, birth_null),
    }
    cols.update(_address("Default_Address", p["first"], p["last"], p["street"], p["addr2"], p["addr2_null"],
                         p["city"], p["zip"], p["country"], p["cc_lower"], p["phone"], _ADDR))
    return make_table(cols, CUSTOMERS_COLUMNS)


# --------------------------------------------------------------------------------------------------------------
# Products (static catalogue)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    n: int
    popularity_cum: np.ndarray       # products by popularity
    price_usd_cents: np.ndarray      # per product
    variant_price: np.ndarray        # (n * VARIANTS, n_currencies) minor units
    free_shipping: np.ndarray        # per currency, minor units
    flat_shipping: np.ndarray        # per currency
    title: pa.Array
    vendor: pa.Array
    ptype: pa.Array
    handle: pa.Array
    sku: pa.Array                    # per variant
    variant_title: pa.Array          # per variant
    line_name: pa.Array              # per variant: "Title - Variant"


def _local_price(usd_cents: np.ndarray) -> np.ndarray:
    """USD cents -> per-currency minor units with retail endings (.99 / round yen)."""
    out = np.empty((len(usd_cents), len(D.CURRENCY_CODES)), dtype=np.int64)
    for k, (dec, fx) in enumerate(zip(D.CURRENCY_DECIMALS, D.CURRENCY_FX)):
        local = usd_cents * fx / 100.0
        out[:, k] = (np.round(local / 10.0) * 10).astype(np.int64) if dec == 0 else \
            np.maximum(np.round(local), 1).astype(np.int64) * 100 - 1
    return out


def build_catalogue(h: Hasher) -> Catalogue:
    types = D.PRODUCT_TYPES
    n = len(types) * len(D.PRODUCT_ADJECTIVES)
    p = np.arange(n, dtype=np.int64)
    t = p % len(types)
    adj = p // len(types)
    lo = np.array([types[k][3][0] for k in t], dtype=np.float64)
    hi = np.array([types[k][3][1] for k in t], dtype=np.float64)
    price = np.round(lo + (hi - lo) * h.unif("p.price", p)).astype(np.int64) * 100 - 1   # USD cents x.99
    titles = [f"{D.PRODUCT_ADJECTIVES[a]} {types[k][0]}" for a, k in zip(adj, t)]
    rank = np.argsort(h.unif("p.rank", p), kind="stable")          # popularity order
    weight = np.empty(n)
    weight[rank] = 1.0 / (np.arange(n) + 4.0)
    vendor = [D.VENDORS[v] for v in h.below("p.vendor", p, len(D.VENDORS))]
    v_sku, v_title, v_name = [], [], []
    for k in range(n):
        code, options = types[t[k]][1], types[t[k]][4]
        for v, opt in enumerate(options):
            v_sku.append(f"{code}-{k + 1:04d}-{D.ascii_fold(opt).upper()[:6]}")
            v_title.append(opt)
            v_name.append(f"{titles[k]} - {opt}")
    usd_free, usd_flat = np.array([7500]), np.array([799])
    return Catalogue(
        n=n, popularity_cum=np.cumsum(weight) / weight.sum(), price_usd_cents=price,
        variant_price=np.repeat(_local_price(price), D.VARIANTS_PER_PRODUCT, axis=0),
        free_shipping=_local_price(usd_free)[0] + np.where(D.CURRENCY_DECIMALS == 0, 0, 1),
        flat_shipping=_local_price(usd_flat)[0],
        title=_pool(titles), vendor=_pool(vendor), ptype=_pool(types[k][2] for k in t),
        handle=_pool(t.lower().replace(" ", "-") for t in titles), sku=_pool(v_sku),
        variant_title=_pool(v_title), line_name=_pool(v_name))


def product_ids(p: np.ndarray) -> np.ndarray:
    return PRODUCT_ID_BASE + p * PRODUCT_ID_STRIDE


def build_products(h: Hasher, cat: Catalogue, start: int, history: int) -> pa.Table:
    p = np.arange(cat.n, dtype=np.int64)
    created = start - history - 30 * DAY - h.below("p.created", p, 400 * DAY)
    updated = created + (h.unif("p.updated", p) * (start - created)).astype(np.int64)
    published = created + h.below("p.pub", p, DAY)
    usd = np.zeros(cat.n, dtype=np.int64)  # USD is currency 0
    cols = {
        "Product_Id": pa.array(product_ids(p)), "Title": cat.title, "Vendor": cat.vendor,
        "Product_Type": cat.ptype, "Handle": cat.handle,
        "Status": take(_pool(("active", "draft", "archived")), h.pick("p.status", p, np.cumsum([.9, .04, .06]))),
        "Tags": take(_pool(("", "new", "bestseller", "sale", "eco")), h.pick("p.tags", p,
                                                                            np.cumsum([.5, .15, .15, .1, .1]))),
        "Created_At": fmt_ts(created), "Updated_At": fmt_ts(updated), "Published_At": fmt_ts(published),
        "Price": fmt_money(cat.price_usd_cents, usd), "Sku": take(cat.sku, p * D.VARIANTS_PER_PRODUCT),
    }
    return make_table(cols, PRODUCTS_COLUMNS)


# --------------------------------------------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------------------------------------------


def order_events(h: Hasher, i: np.ndarray, created: np.ndarray) -> dict:
    """Lifecycle event times (NONE_TS when absent) and outcomes for orders ``i``."""
    init = h.pick("o.fin0", i, np.cumsum([0.78, 0.12, 0.10]))              # paid / authorized / pending
    needs_capture = init != 0
    t_cap = np.where(needs_capture, created + HOUR + h.below("o.dcap", i, 71 * HOUR), NONE_TS)
    voided = needs_capture & h.chance("o.void", i, 0.10)
    fulfils = ~voided & h.chance("o.fulfils", i, 0.97)
    base = np.where(needs_capture, t_cap, created)
    t_ful = np.where(fulfils, base + 2 * HOUR + h.below("o.dful", i, 7 * DAY - 2 * HOUR), NONE_TS)
    partial = h.chance("o.partial", i, 0.06)
    refunds = fulfils & h.chance("o.refund", i, 0.06)
    t_ref = np.where(refunds, np.where(fulfils, t_ful, 0) + DAY + h.below("o.dref", i, 20 * DAY), NONE_TS)
    full_refund = h.chance("o.fullref", i, 0.60)
    return {"init": init, "t_cap": t_cap, "voided": voided, "t_ful": t_ful, "partial": partial,
            "t_ref": t_ref, "full_refund": full_refund}


def build_orders(h: Hasher, cat: Catalogue, oseg: list[Segment], cseg: list[Segment], i: np.ndarray,
                 at: np.ndarray, with_lines, n_customers: int | None = None):
    """Rows of orders ``i`` as they are at times ``at`` (one row per element; ``at`` >= creation).

    ``with_lines``: bool, or a bool mask per row selecting the rows whose line items are wanted.

    Returns (orders table, line items table or None, customer index per row, total price minor units per row,
    creation time per row).
    """
    i = np.asarray(i, dtype=np.int64)
    at = np.asarray(at, dtype=np.int64)
    n = len(i)
    created = segment_times(h, "o.t", oseg, i)
    avail = available_customers(cseg, n_customers, created)
    recent = h.chance("o.recent", i, RECENT_CUSTOMER_SHARE)
    r = h.below("o.cust_r", i, np.minimum(avail, RECENT_CUSTOMERS))
    cust = np.where(recent, avail - 1 - r, h.below("o.cust_u", i, avail))
    prof = customer_profile(h, cust)
    country, cur = prof["country"], prof["currency"]

    # line items
    k = h.pick("o.nlines", i, _LINES_CUM) + 1
    pos = np.repeat(np.arange(n, dtype=np.int64), k)
    line_no = np.arange(len(pos), dtype=np.int64) - np.repeat(np.cumsum(k) - k, k)
    li = i[pos] * LINE_ITEM_ID_STRIDE + line_no
    prod = h.pick("l.prod", li, cat.popularity_cum)
    var = prod * D.VARIANTS_PER_PRODUCT + h.below("l.var", li, D.VARIANTS_PER_PRODUCT)
    qty = h.pick("l.qty", li, _QTY_CUM) + 1
    price = cat.variant_price[var, cur[pos]]
    items = np.bincount(pos, weights=(price * qty).astype(np.float64), minlength=n).astype(np.int64)

    disc_pct = np.where(h.chance("o.disc", i, 0.15), np.array([10, 15, 20])[h.below("o.dpct", i, 3)], 0)
    discount = np.round(items * disc_pct / 100.0).astype(np.int64)
    subtotal = items - discount
    tax = np.round(subtotal * D.COUNTRY_TAX[country]).astype(np.int64)
    shipping = np.where(items >= cat.free_shipping[cur], 0, cat.flat_shipping[cur])
    total = subtotal + tax + shipping

    # status at time `at`
    ev = order_events(h, i, created)
    fin = ev["init"].copy()
    captured = ev["t_cap"] <= at
    fin = np.where(captured, np.where(ev["voided"], 3, 0), fin)
    refunded = ev["t_ref"] <= at
    fin = np.where(refunded, np.where(ev["full_refund"], 4, 5), fin)
    fulfilled = ev["t_ful"] <= at
    ful_null = ~fulfilled
    ful = np.where(ev["partial"], 1, 0)
    updated = created.copy()
    for tk in (ev["t_cap"], ev["t_ful"], ev["t_ref"]):
        updated = np.where(tk <= at, np.maximum(updated, tk), updated)
    cancelled = np.where(captured & ev["voided"], ev["t_cap"], NONE_TS)

    # shipping address: the customer's default one, or (12%) another address in the same country
    alt = h.chance("o.altship", i, 0.12)
    alt_city = D.COUNTRY_CITY_LIST[D.COUNTRY_CITY_OFF[country] + h.below("o.acity", i, D.COUNTRY_CITY_SIZE[country])]
    s_city = np.where(alt, alt_city, prof["city"])
    s_street = np.where(alt, country * D.ADDRESSES_PER_COUNTRY + h.below("o.astreet", i, D.ADDRESSES_PER_COUNTRY),
                        prof["street"])
    s_zip = np.where(alt, s_city * D.ZIPS_PER_CITY + h.below("o.azip", i, D.ZIPS_PER_CITY), prof["zip"])
    s_addr2_null = np.where(alt, ~h.chance("o.aaddr2", i, 0.15), prof["addr2_null"])
    s_cc_lower = h.chance("o.cclow", i, COUNTRY_LOWERCASE_SHARE)

    source = h.pick("o.source", i, _SOURCE_CUM)
    browser_ip = pc.binary_join_element_wise(ptake(_IP_HI_POOL, h.below("o.iphi", i, len(_IP_HI_POOL))),
                                             ptake(_IP_LO_POOL, h.below("o.iplo", i, len(_IP_LO_POOL))), ".")
    no_ip = (source == 1) | h.chance("o.noip", i, 0.03)
    number = FIRST_ORDER_NUMBER + i
    oid = order_ids(h, i)
    cur_s = take(_CURRENCY_POOL, cur)
    created_s = fmt_ts(created)

    cols = {
        "Order_Id": pa.array(oid), "Name": pc.binary_join_element_wise("#", int_str(number), ""),
        "Order_Number": pa.array(number), "Email": prof["email"], "Phone": prof["phone"],
        "Customer_Id": pa.array(customer_ids(h, cust)), "Customer_First_Name": prof["first"],
        "Customer_Last_Name": prof["last"], "Created_At": created_s, "Updated_At": fmt_ts(updated),
        "Processed_At": created_s, "Cancelled_At": fmt_ts(cancelled),
        "Cancel_Reason": null_where(pa.array(np.full(n, "declined"), type=pa.string()), cancelled == NONE_TS),
        "Currency": cur_s, "Presentment_Currency": cur_s, "Total_Price": fmt_money(total, cur),
        "Subtotal_Price": fmt_money(subtotal, cur), "Total_Tax": fmt_money(tax, cur),
        "Total_Discounts": fmt_money(discount, cur), "Total_Line_Items_Price": fmt_money(items, cur),
        "Financial_Status": take(_pool(FIN_STATUSES), fin),
        "Fulfillment_Status": null_where(take(_pool(FUL_STATUSES), ful), ful_null),
        "Customer_Locale": take(_LOCALE_POOL, prof["city"]),
        "Buyer_Accepts_Marketing": pa.array(prof["accepts_marketing"]),
        "Source_Name": take(_pool(SOURCE_NAMES), source),
        "Tags": take(_pool(ORDER_TAGS), h.pick("o.tags", i, _ORDER_TAG_CUM)),
        "Time_Zone": take(_TZ_POOL, s_city), "Browser_Ip": null_where(browser_ip, no_ip),
        "Test": pa.array(np.zeros(n, dtype=bool)),
    }
    cols.update(_address("Shipping_Address", prof["first"], prof["last"], s_street, prof["addr2"], s_addr2_null,
                         s_city, s_zip, country, s_cc_lower, prof["phone"], _ADDR))
    cols["Shipping_Address_Latitude"], cols["Shipping_Address_Longitude"] = shipping_coordinates(h, i, s_city)
    cols.update(_address("Billing_Address", prof["first"], prof["last"], prof["street"], prof["addr2"],
                         prof["addr2_null"], prof["city"], prof["zip"], country, prof["cc_lower"], prof["phone"],
                         _BILL))
    orders = make_table(cols, ORDERS_COLUMNS)

    lines = None
    line_mask = np.broadcast_to(np.asarray(with_lines, dtype=bool), (n,))
    if line_mask.any():
        if not line_mask.all():
            keep = line_mask[pos]
            pos, li, prod, var, qty, price = pos[keep], li[keep], prod[keep], var[keep], qty[keep], price[keep]
        lines = make_table({
            "Line_Item_Id": pa.array(LINE_ITEM_ID_BASE + li), "Order_Id": pa.array(oid[pos]),
            "Product_Id": pa.array(product_ids(prod)), "Variant_Id": pa.array(VARIANT_ID_BASE + var),
            "Sku": take(cat.sku, var), "Name": take(cat.line_name, var), "Title": take(cat.title, prod),
            "Variant_Title": take(cat.variant_title, var), "Vendor": take(cat.vendor, prod),
            "Quantity": pa.array(qty), "Price": fmt_money(price, cur[pos]),
            "Taxable": pa.array(np.ones(len(pos), dtype=bool)),
            "Requires_Shipping": pa.array(np.ones(len(pos), dtype=bool)),
            "Updated_At": created_s.take(pa.array(pos)),
        }, LINE_ITEMS_COLUMNS)
    return orders, lines, cust, total, created


# --------------------------------------------------------------------------------------------------------------
# Small static tables (root-listing realism)
# --------------------------------------------------------------------------------------------------------------
ABANDONED_CHECKOUTS = 200
ABANDONED_CHECKOUT_ID_BASE = 31_100_000_000_000
_DISCOUNT_CODES = (("WELCOME10", "10.0", "percentage"), ("SPRING15", "15.0", "percentage"),
                   ("FREESHIP", "7.99", "shipping"), ("VIP20", "20.0", "percentage"),
                   ("SAVE5", "5.00", "fixed_amount"))
_NOTE_ATTRS = (("gift_message", ("Happy birthday!", "Joyeux anniversaire 🎉", "Alles Gute!", "For you ❤")),
               ("delivery_date", ("2025-12-24", "2025-12-31", "asap")),
               ("how_did_you_hear", ("Instagram", "Friend", "Google", "Podcast", "TikTok")))


def build_static(h: Hasher, cat: Catalogue, start: int) -> dict[str, pa.Table]:
    # Blogs: the first row is the one shown in AEP's explore documentation.
    blogs = pa.Table.from_pylist([
        {"Blog_Id": 55458332804, "Handle": "news", "Title": "News", "Commentable": "no", "Feedburner": None,
         "Feedburner_Location": None, "Created_At": "2020-02-14T09:11:15", "Updated_At": "2020-11-05T10:54:36",
         "Template_Suffix": None, "Tags": ""},
        {"Blog_Id": 55458365572, "Handle": "journal", "Title": "Journal", "Commentable": "moderate",
         "Feedburner": None, "Feedburner_Location": None, "Created_At": "2021-03-02T16:40:09",
         "Updated_At": "2024-06-18T08:02:51", "Template_Suffix": None, "Tags": "stories, makers"},
        {"Blog_Id": 55458398340, "Handle": "lookbook", "Title": "Lookbook", "Commentable": "no",
         "Feedburner": "lookbook", "Feedburner_Location": "https://feeds.example.com/lookbook",
         "Created_At": "2022-09-27T11:15:44", "Updated_At": "2025-10-01T07:30:00", "Template_Suffix": "gallery",
         "Tags": "seasonal"},
    ], schema=arrow_schema(BLOGS_COLUMNS))

    a = np.arange(ABANDONED_CHECKOUTS, dtype=np.int64)
    acid = ABANDONED_CHECKOUT_ID_BASE + a * 13 + h.below("ac.idj", a, 13)
    a_upd = start - h.below("ac.upd", a, 60 * DAY)
    a_cur = np.zeros(len(a), dtype=np.int64)  # checkouts kept in shop currency (USD)
    k = h.pick("ac.nlines", a, np.cumsum([0.6, 0.3, 0.1])) + 1
    pos = np.repeat(a, k)
    li = pos * 4 + (np.arange(len(pos)) - np.repeat(np.cumsum(k) - k, k))
    prod = h.pick("acl.prod", li, cat.popularity_cum)
    var = prod * D.VARIANTS_PER_PRODUCT + h.below("acl.var", li, D.VARIANTS_PER_PRODUCT)
    qty = h.pick("acl.qty", li, _QTY_CUM) + 1
    price = cat.variant_price[var, 0]
    upd_s = fmt_ts(a_upd)
    ac_lines = make_table({
        "Abandoned_Checkout_Id": pa.array(acid[pos]), "Product_Id": pa.array(product_ids(prod)),
        "Variant_Id": pa.array(VARIANT_ID_BASE + var), "Sku": take(cat.sku, var), "Title": take(cat.title, prod),
        "Variant_Title": take(cat.variant_title, var), "Vendor": take(cat.vendor, prod),
        "Quantity": pa.array(qty), "Price": fmt_money(price, a_cur[pos]),
        "Line_Price": fmt_money(price * qty, a_cur[pos]),
        "Requires_Shipping": pa.array(np.ones(len(pos), dtype=bool)), "Updated_At": upd_s.take(pa.array(pos)),
    }, AC_LINE_ITEMS_COLUMNS)

    has_code = np.flatnonzero(h.chance("ac.code", a, 0.3))
    code = h.below("ac.codek", has_code, len(_DISCOUNT_CODES))
    ac_codes = make_table({
        "Abandoned_Checkout_Id": pa.array(acid[has_code]),
        "Code": _pool(_DISCOUNT_CODES[c][0] for c in code), "Amount": _pool(_DISCOUNT_CODES[c][1] for c in code),
        "Type": _pool(_DISCOUNT_CODES[c][2] for c in code), "Updated_At": upd_s.take(pa.array(has_code)),
    }, AC_DISCOUNT_CODES_COLUMNS)

    has_note = np.flatnonzero(h.chance("ac.note", a, 0.15))
    attr = h.below("ac.notek", has_note, len(_NOTE_ATTRS))
    val = h.unif("ac.notev", has_note)
    ac_notes = make_table({
        "Abandoned_Checkout_Id": pa.array(acid[has_note]), "Name": _pool(_NOTE_ATTRS[t][0] for t in attr),
        "Value": _pool(_NOTE_ATTRS[t][1][int(v * len(_NOTE_ATTRS[t][1]))] for t, v in zip(attr, val)),
        "Updated_At": upd_s.take(pa.array(has_note)),
    }, AC_NOTE_ATTRIBUTES_COLUMNS)
    return {
        "Shopify.Blogs": blogs,
        "Shopify.Abandoned_Checkout_Line_Items": ac_lines,
        "Shopify.Abandoned_Checkout_Discount_Codes": ac_codes,
        "Shopify.Abandoned_Checkout_Note_Attributes": ac_notes,
    }
