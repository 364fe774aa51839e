"""Data Prep functions and operators: their row semantics and their Arrow kernels.

Every function has a *row* implementation working on plain Python values (str, int, float, bool, None, list,
dict, timezone-aware ``datetime``) and, where possible, a *vector* implementation working on whole
``pyarrow`` arrays.  ``expressions.py`` decides which one to call; this module only knows values.

Vector implementations receive ``(ctx, n, *args)`` where each argument is a ``pyarrow.Array`` of length ``n``
or a :class:`Const` (the same value in every row).  They return a ``pyarrow.Array`` or ``Const`` (optionally
with a ``{row_index: message}`` dict of per-row failures) or raise :class:`Fallback` when the argument types
are not handled, in which case the evaluator runs the row implementation for that call only.

Three kinds of functions (see ``VECTORISED_FUNCTIONS``, ``BATCHED_FUNCTIONS``, ``ROW_FUNCTIONS``):

* Arrow kernels: concat, lower/lcase, upper/ucase, trim/ltrim/rtrim, substr, left, right, replacestr,
  lpad/rpad, split, instr (ASCII input, default start/occurrence), matches_regex (RE2-compatible patterns),
  coalesce, iif, decode, min, max, first, last, is_empty/empty, size_of/size, nullify, to_integer,
  to_decimal, to_float, to_bigint, date, format, dformat, date_part, zone_date_to_utc, zone_date_to_zone,
  now, timestamp, and the methods equals, equalsIgnoreCase, contains, startsWith, endsWith, toString,
  toLowerCase, toUpperCase, trim, length, size, isEmpty, get.
* Batched Python (one pass over the column, no expression interpretation): sha1, sha256, sha512, md5,
  crc32, uuid, guid.
* Per-row fallback (the call is evaluated row by row; everything around it stays vectorised; a call whose
  arguments are all constant is evaluated once): explode, join, extract_regex, get_url_protocol,
  get_url_host, get_url_port, get_url_path, get_url_query_str, get_url_encoded, get_url_decoded,
  set_date_part, make_date_time/make_timestamp, arrays_to_object, to_object, str_to_object, get_keys,
  get_values, add_to_array, join_arrays, to_array, upsert_array_append, upsert_array_replace,
  json_to_object.

Documented semantics that had to be chosen (the public documentation is silent or self-contradictory):
null operands propagate through arithmetic and ``+``; ``concat`` treats null as "" and is null only when all
arguments are null; ``instr`` is 0-based and returns -1 when not found; ``matches_regex`` must match the
whole string; dates without an explicit zone are UTC and parsed dates are normalised to UTC; a date renders
as ``yyyy-MM-dd'T'HH:mm:ssX`` (seconds precision, as in every documented example); date_part "w" is the
weekday (Sunday = 1) and "week"/"ww" the ISO week; zone abbreviations (PST, EST, ...) are fixed offsets;
unknown string escapes such as ``"\\d"`` keep their backslash.  ``fpid_to_ecid`` and the ``ua_*`` user-agent
functions are not implemented (the ECID derivation is not documented).
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus, unquote_plus, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UTC = _dt.UTC
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


class EvaluationError(ValueError):
    """A value could not be computed for one row (the destination column becomes null for that row)."""


class Fallback(Exception):
    """Raised by a vector implementation: evaluate this call row by row instead."""


class Const:
    """A value that is the same for every row of a batch."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Const({self.value!r})"


NULL = Const(None)  # the default of optional vector arguments
SPACE = Const(" ")
UTF8 = Const("UTF-8")


# --------------------------------------------------------------------------------------------------------------
# Values: the row semantics shared by every function
# --------------------------------------------------------------------------------------------------------------


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def _q(v: Any) -> str:
    """Quote a value for an error message (one line, bounded)."""
    text = repr(v) if isinstance(v, str) else to_str(v)
    text = text if text is not None else "null"
    return text if len(text) <= 60 else text[:57] + "..."


def format_float(x: float) -> str:
    """Render a double the way Java does for ordinary magnitudes (``1.0``, ``20.5``, ``1.0E20``)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    text = repr(float(x))
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}E{int(exponent)}"
    return text


def as_aware(d: _dt.datetime) -> _dt.datetime:
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def render_datetime(d: _dt.datetime) -> str:
    """ISO 8601 at seconds precision with ``Z`` for UTC (the form every Data Prep example shows)."""
    d = as_aware(d)
    base = f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
    return base + _offset_text(d.utcoffset(), "XXX")


def to_str(v: Any) -> str | None:
    """Java-style string conversion used wherever a function expects a string."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, _dt.datetime):
        return render_datetime(v)
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(json_ready(v), separators=(",", ":"), ensure_ascii=False)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def json_ready(v: Any) -> Any:
    """Make a value JSON-serialisable (dates rendered, decimals as numbers, tuples as lists)."""
    if v is None or isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, dict):
        return {str(k): json_ready(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_ready(x) for x in v]
    if isinstance(v, (_dt.datetime, _dt.date, bytes)):
        return to_str(v)
    return str(v)


def truthy(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if is_number(v):
        return v != 0
    if isinstance(v, (str, list, dict, tuple)):
        return len(v) > 0
    return True


INT_PATTERN = r"^\s*[+-]?\d+\s*$"
FLOAT_PATTERN = r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$"
_INT_RE = re.compile(INT_PATTERN)
_FLOAT_RE = re.compile(FLOAT_PATTERN)


def to_number(v: Any) -> int | float | None:
    """Numeric coercion for arithmetic: numbers pass, numeric strings are parsed, anything else fails."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise EvaluationError(f"cannot use boolean {_q(v)} as a number")
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, str):
        if _INT_RE.match(v):
            return int(v)
        if _FLOAT_RE.match(v):
            return float(v)
    raise EvaluationError(f"cannot convert {_q(v)} to a number")


def values_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, _dt.datetime) and isinstance(b, _dt.datetime):
        return as_aware(a) == as_aware(b)
    if type(a) is type(b) or (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))):
        return a == b
    return to_str(a) == to_str(b)


def compare(a: Any, b: Any) -> int:
    """Natural ordering; mixed string/number compares numerically; raises when not comparable."""
    if isinstance(a, _dt.datetime) and isinstance(b, _dt.datetime):
        a, b = as_aware(a), as_aware(b)
    elif isinstance(a, str) and isinstance(b, str):
        pass
    elif (is_number(a) or isinstance(a, str)) and (is_number(b) or isinstance(b, str)):
        a, b = to_number(a), to_number(b)
    elif type(a) is not type(b):
        raise EvaluationError(f"cannot compare {_q(a)} with {_q(b)}")
    try:
        return (a > b) - (a < b)
    except TypeError:
        raise EvaluationError(f"cannot compare {_q(a)} with {_q(b)}") from None


def _as_int(v: Any, what: str) -> int:
    n = to_number(v)
    if n is None:
        raise EvaluationError(f"{what} must not be null")
    if isinstance(n, float):
        if not n.is_integer():
            raise EvaluationError(f"{what} must be an integer, got {_q(v)}")
        n = int(n)
    return n


# --------------------------------------------------------------------------------------------------------------
# Arrow helpers
# --------------------------------------------------------------------------------------------------------------


def const_value(v: Any) -> Any:
    return v.value if isinstance(v, Const) else None


def as_array(v: Any, n: int) -> pa.Array:
    """Broadcast a Const to an array of length n (arrays pass through)."""
    if not isinstance(v, Const):
        return v
    value = v.value
    if value is None:
        return pa.nulls(n)
    if isinstance(value, (str, bool, int, float)) and not (isinstance(value, int) and abs(value) >= 2**63):
        return pa.repeat(pa.scalar(value), n)
    return py_to_arrow([value] * n)


def to_pylist(v: Any, n: int) -> list:
    if isinstance(v, Const):
        return [v.value] * n
    return v.to_pylist()


def _normalise_datetimes(values: list) -> tuple[list, Any]:
    zones = {d.tzinfo for d in values if isinstance(d, _dt.datetime)}
    if len(zones) == 1:
        tz = next(iter(zones))
        if tz is None or tz is UTC:
            return values, "UTC"
        key = getattr(tz, "key", None)
        if key is not None:
            return values, key
        offset = tz.utcoffset(None)
        if offset is not None:
            return values, _offset_text(offset, "XXX").replace("Z", "+00:00")
    return [as_aware(d).astimezone(UTC) if isinstance(d, _dt.datetime) else d for d in values], "UTC"


def py_to_arrow(values: list) -> pa.Array:
    """Python values to one Arrow array; datetimes become UTC (or common-zone) timestamps, mixed types strings."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.nulls(len(values))
    if kinds <= {_dt.datetime}:
        values, tz = _normalise_datetimes(values)
        values = [as_aware(d) if d is not None else None for d in values]
        try:
            return pa.array(values, type=pa.timestamp("us", tz))
        except _ARROW_ERRORS:
            return pa.array([d.astimezone(UTC) if d else None for d in values], type=pa.timestamp("us", "UTC"))
    if kinds <= {int, float} and float in kinds:
        return pa.array([float(v) if v is not None else None for v in values], type=pa.float64())
    try:
        return pa.array([json_ready(v) if isinstance(v, (list, dict)) else v for v in values])
    except (*_ARROW_ERRORS, OverflowError, TypeError):
        return pa.array([to_str(v) for v in values], type=pa.string())


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _is_utc(tz: str | None) -> bool:
    return tz is None or tz in ("UTC", "Etc/UTC", "+00:00", "Z", "GMT", "Etc/GMT")


def str_array(v: Any, n: int) -> Any:
    """String view of a value: Const → Const(str), array → string array (Java-style rendering)."""
    if isinstance(v, Const):
        return Const(to_str(v.value))
    t = v.type
    if pa.types.is_string(t):
        return v
    if pa.types.is_large_string(t) or pa.types.is_null(t) or pa.types.is_integer(t) or pa.types.is_boolean(t):
        return v.cast(pa.string())
    if pa.types.is_timestamp(t) and _is_utc(t.tz):
        secs = pc.floor_temporal(v, unit="second").cast(pa.timestamp("s", t.tz))
        return pc.strftime(secs, format="%Y-%m-%dT%H:%M:%SZ")
    return pa.array([to_str(x) for x in v.to_pylist()], type=pa.string())


def scalar_for(value: Any, t: pa.DataType | None = None) -> pa.Scalar:
    return pa.scalar(value, type=t) if t is not None else pa.scalar(value)


def unify(values: list, n: int) -> list:
    """Cast arrays/Consts to one common Arrow type for if_else/coalesce/min/max; raise Fallback otherwise."""
    types: list[pa.DataType | None] = []
    for v in values:
        if isinstance(v, Const):
            if v.value is None:
                types.append(None)
                continue
            if isinstance(v.value, (list, dict, tuple)):
                raise Fallback
            try:
                types.append(pa.scalar(v.value).type)
            except _ARROW_ERRORS:
                raise Fallback from None
        else:
            types.append(None if pa.types.is_null(v.type) else v.type)
    known = {t for t in types if t is not None}
    if not known:
        return [as_array(v, n) if isinstance(v, Const) else v for v in values]
    if len(known) == 1:
        target = next(iter(known))
    elif all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in known):
        target = pa.float64() if any(pa.types.is_floating(t) for t in known) else pa.int64()
    elif all(_is_string(t) for t in known):
        target = pa.string()
    elif all(pa.types.is_timestamp(t) for t in known):
        zones = {t.tz for t in known}
        target = pa.timestamp("us", zones.pop() if len(zones) == 1 else "UTC")
    else:
        raise Fallback
    out = []
    for v in values:
        if isinstance(v, Const):
            value = v.value
            if pa.types.is_timestamp(target) and isinstance(value, _dt.datetime):
                value = as_aware(value)
            out.append(scalar_for(value, target))
        else:
            out.append(v if v.type == target else v.cast(target))
    return out


def truthy_array(v: Any, n: int) -> Any:
    if isinstance(v, Const):
        return Const(truthy(v.value))
    t = v.type
    if pa.types.is_boolean(t):
        return pc.fill_null(v, False)
    if pa.types.is_null(t):
        return Const(False)
    if _is_numeric(t):
        return pc.fill_null(pc.not_equal(v, 0), False)
    if _is_string(t):
        return pc.fill_null(pc.greater(pc.utf8_length(v), 0), False)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pc.fill_null(pc.greater(pc.list_value_length(v), 0), False)
    return pa.array([truthy(x) for x in v.to_pylist()], type=pa.bool_())


def mask_errors(mask: Any, message: Callable[[int], str]) -> dict[int, str]:
    """{row: message} for the rows where a boolean array is true."""
    if isinstance(mask, Const):
        raise Fallback
    idx = np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False))
    return {int(i): message(int(i)) for i in idx}


def num_array(v: Any, n: int) -> tuple[Any, dict[int, str]]:
    """Numeric view for arithmetic: numbers pass, numeric strings are parsed; failures become row errors."""
    if isinstance(v, Const):
        return Const(to_number(v.value)), {}
    t = v.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t):
        return v, {}
    if pa.types.is_decimal(t):
        return v.cast(pa.float64()), {}
    if not _is_string(t):
        raise Fallback
    return _parse_numbers(v, integral_only=False)


def _parse_numbers(v: pa.Array, integral_only: bool, message: Callable[[Any], str] | None = None):
    """Parse a string array as numbers (int64 when every valid value is integral, else float64)."""
    message = message or (lambda x: f"cannot convert {_q(x)} to a number")
    is_int = pc.match_substring_regex(v, INT_PATTERN)
    ok = is_int if integral_only else pc.match_substring_regex(v, FLOAT_PATTERN)
    bad = pc.and_(pc.is_valid(v), pc.invert(pc.fill_null(ok, False)))
    values = v.to_pylist() if pc.any(bad).as_py() else None
    errs = mask_errors(bad, lambda i: message(values[i])) if values is not None else {}
    clean = pc.utf8_trim_whitespace(pc.if_else(pc.fill_null(ok, False), v, pa.scalar(None, v.type)))
    all_int = pc.all(pc.or_(pc.invert(pc.fill_null(ok, False)), pc.fill_null(is_int, False))).as_py()
    if all_int is not False:
        return pc.utf8_ltrim(clean, characters="+").cast(pa.int64()), errs
    return clean.cast(pa.float64()), errs


def list_take(arr: pa.Array, index: int | None, last: bool = False) -> pa.Array:
    """Element ``index`` (or the last element) of every list, null where the list is null or too short."""
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths
    flat = pc.list_flatten(arr)
    if last:
        positions, missing = starts + lengths - 1, lengths == 0
    elif index is not None and index >= 0:
        positions, missing = starts + index, lengths <= index
    else:
        k = -(index or 0)
        positions, missing = starts + lengths - k, lengths < k
    positions = np.where(missing, 0, positions)
    return flat.take(pa.array(positions, mask=missing, type=pa.int64()))


def _string_arg(v: Any) -> str | None:
    """A constant argument as a string (raise Fallback for a per-row argument)."""
    if not isinstance(v, Const):
        raise Fallback
    return to_str(v.value)


def _int_arg(v: Any, what: str) -> int:
    if not isinstance(v, Const) or v.value is None:
        raise Fallback
    try:
        return _as_int(v.value, what)
    except EvaluationError:
        raise Fallback from None


def _s(v: Any) -> Any:
    """A string array or Const as an Arrow operand."""
    return pa.scalar(v.value, type=pa.string()) if isinstance(v, Const) else v


def _null_where(values: pa.Array, null_mask: Any) -> pa.Array:
    if isinstance(null_mask, Const):
        return pa.nulls(len(values), values.type) if null_mask.value else values
    return pc.if_else(null_mask, pa.scalar(None, values.type), values)


# --------------------------------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------------------------------


def op_eq(ctx, a, b):
    return values_equal(a, b)


def op_ne(ctx, a, b):
    return not values_equal(a, b)


def _ordering(test: Callable[[int], bool]):
    def row(ctx, a, b):
        if a is None or b is None:
            return False
        return test(compare(a, b))

    return row


def _both_kind(a, b, n) -> tuple[Any, Any, dict[int, str]]:
    """Bring two operands to comparable Arrow types (mirrors ``compare``/``values_equal``)."""
    kind_a, kind_b = _kind(a), _kind(b)
    if kind_a == kind_b and kind_a in ("num", "str", "ts", "bool"):
        return a, b, {}
    if {kind_a, kind_b} <= {"num", "str"}:
        na, ea = num_array(a, n)
        nb, eb = num_array(b, n)
        return na, nb, {**eb, **ea}
    raise Fallback


def _kind(v: Any) -> str:
    """The comparison family of an operand: null, bool, num, str, ts or other."""
    if isinstance(v, Const):
        value = v.value
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "bool"
        if is_number(value):
            return "num"
        if isinstance(value, str):
            return "str"
        if isinstance(value, _dt.datetime):
            return "ts"
        return "other"
    t = v.type
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_boolean(t):
        return "bool"
    if _is_numeric(t):
        return "num"
    if _is_string(t):
        return "str"
    if pa.types.is_timestamp(t):
        return "ts"
    return "other"


def _arrow_operand(v):
    if isinstance(v, Const):
        value = v.value
        if isinstance(value, _dt.datetime):
            return pa.scalar(as_aware(value), type=pa.timestamp("us", "UTC"))
        return value
    if pa.types.is_timestamp(v.type) and v.type.tz is None:
        return v.cast(pa.timestamp(v.type.unit, "UTC"))
    return v


def _vec_equal(ctx, n, a, b, negate=False):
    ka, kb = _kind(a), _kind(b)
    if "null" in (ka, kb):  # x == null
        other = b if ka == "null" else a
        if isinstance(other, Const):
            result = Const(other.value is None)
        else:
            result = pc.is_null(other)
        return _negate(result) if negate else result
    if ka == kb and ka in ("num", "str", "ts", "bool"):
        x, y = _arrow_operand(a), _arrow_operand(b)
    elif "other" in (ka, kb):
        raise Fallback
    else:
        x, y = str_array(a, n), str_array(b, n)
        x, y = (x.value if isinstance(x, Const) else x), (y.value if isinstance(y, Const) else y)
    eq = pc.equal(x, y)
    nulls = [pc.is_null(v) for v in (a, b) if not isinstance(v, Const)]
    if nulls:
        both_null = functools.reduce(pc.and_, nulls) if len(nulls) == 2 else Const(False)
        any_null = functools.reduce(pc.or_, nulls)
        eq = pc.if_else(any_null, both_null.value if isinstance(both_null, Const) else both_null, eq)
    return _negate(eq) if negate else eq


def _negate(v):
    return Const(not v.value) if isinstance(v, Const) else pc.invert(v)


def _vec_ordering(kernel):
    def vec(ctx, n, a, b):
        if "null" in (_kind(a), _kind(b)):
            return Const(False)
        x, y, errs = _both_kind(a, b, n)
        result = pc.fill_null(kernel(_arrow_operand(x), _arrow_operand(y)), False)
        return result, errs

    return vec


def op_add(ctx, a, b):
    if a is None or b is None:
        return None
    if isinstance(a, str) or isinstance(b, str):
        return to_str(a) + to_str(b)
    x, y = to_number(a), to_number(b)
    return x + y


def _vec_add(ctx, n, a, b):
    ka, kb = _kind(a), _kind(b)
    if "null" in (ka, kb):
        return Const(None)
    if "str" in (ka, kb) and {ka, kb} <= {"str", "num", "bool", "ts"}:
        x, y = str_array(a, n), str_array(b, n)
        return pc.binary_join_element_wise(_s(x), _s(y), "")
    if ka == kb == "num":
        return pc.add_checked(_arrow_operand(a), _arrow_operand(b))
    raise Fallback


def _arith_row(fn):
    def row(ctx, a, b):
        if a is None or b is None:
            return None
        return fn(to_number(a), to_number(b))

    return row


def _java_div(x, y):
    if y == 0:
        raise EvaluationError("division by zero")
    if isinstance(x, int) and isinstance(y, int):
        q = abs(x) // abs(y)
        return q if (x >= 0) == (y >= 0) else -q
    return x / y


def _java_mod(x, y):
    if y == 0:
        raise EvaluationError("division by zero")
    if isinstance(x, int) and isinstance(y, int):
        return x - y * _java_div(x, y)
    return x - y * math.trunc(x / y)


def _vec_arith(op):
    def vec(ctx, n, a, b):
        if isinstance(a, Const) and a.value is None or isinstance(b, Const) and b.value is None:
            return Const(None)
        x, ex = num_array(a, n)
        y, ey = num_array(b, n)
        errs = {**ey, **ex}
        x, y = _arrow_operand(x), _arrow_operand(y)
        if op in ("-", "*"):
            return (pc.subtract_checked if op == "-" else pc.multiply_checked)(x, y), errs
        # division and remainder: zero divisors become row errors
        if isinstance(y, (int, float)):
            if y == 0:
                raise Fallback
            safe_y = y
        else:
            zero = pc.fill_null(pc.equal(y, 0), False)
            for i, message in mask_errors(zero, lambda i: "division by zero").items():
                errs.setdefault(i, message)
            safe_y = pc.if_else(zero, pa.scalar(1, y.type), y)
        x_type = pa.scalar(x).type if not isinstance(x, pa.Array) else x.type
        y_type = pa.scalar(safe_y).type if not isinstance(safe_y, pa.Array) else safe_y.type
        integral = pa.types.is_integer(x_type) and pa.types.is_integer(y_type)
        quotient = pc.divide(x, safe_y)
        if op == "/":
            return quotient, errs
        if not integral:
            quotient = pc.trunc(quotient)
        return pc.subtract(x, pc.multiply(safe_y, quotient)), errs

    return vec


def op_neg(ctx, a):
    if a is None:
        return None
    return -to_number(a)


def _vec_neg(ctx, n, a):
    x, errs = num_array(a, n)
    return pc.negate_checked(x), errs


def op_not(ctx, a):
    return not truthy(a)


def _vec_not(ctx, n, a):
    return _negate(truthy_array(a, n))


# --------------------------------------------------------------------------------------------------------------
# String functions
# --------------------------------------------------------------------------------------------------------------


def fn_concat(ctx, *args):
    if all(a is None for a in args):
        return None
    return "".join(to_str(a) or "" for a in args)


def vec_concat(ctx, n, *args):
    parts = [str_array(a, n) for a in args]
    arrays = [p for p in parts if not isinstance(p, Const)]
    joined = pc.binary_join_element_wise(*[_s(p) for p in parts], "", null_handling="replace", null_replacement="")
    if any(isinstance(p, Const) and p.value is not None for p in parts):
        return joined
    return _null_where(joined, functools.reduce(pc.and_, [pc.is_null(a) for a in arrays]))


def _str_unary(py: Callable[[str], Any], kernel: Callable[[pa.Array], pa.Array]):
    def row(ctx, s):
        s = to_str(s)
        return None if s is None else py(s)

    def vec(ctx, n, s):
        return kernel(str_array(s, n))

    return row, vec


fn_lower, vec_lower = _str_unary(str.lower, pc.utf8_lower)
fn_upper, vec_upper = _str_unary(str.upper, pc.utf8_upper)
fn_trim, vec_trim = _str_unary(str.strip, pc.utf8_trim_whitespace)
fn_ltrim, vec_ltrim = _str_unary(str.lstrip, pc.utf8_ltrim_whitespace)
fn_rtrim, vec_rtrim = _str_unary(str.rstrip, pc.utf8_rtrim_whitespace)


def fn_substr(ctx, s, start, length=None):
    s = to_str(s)
    if s is None:
        return None
    start = max(_as_int(start, "START_INDEX"), 0)
    if length is None:
        return s[start:]
    length = _as_int(length, "LENGTH")
    return s[start : start + length] if length > 0 else ""


def vec_substr(ctx, n, s, start, length=None):
    begin = max(_int_arg(start, "START_INDEX"), 0)
    arr = str_array(s, n)
    if length is None:
        return pc.utf8_slice_codeunits(arr, begin)
    size = _int_arg(length, "LENGTH")
    return pc.utf8_slice_codeunits(arr, begin, begin + max(size, 0))


def fn_left(ctx, s, count):
    s = to_str(s)
    if s is None:
        return None
    count = _as_int(count, "COUNT")
    return s[:count] if count > 0 else ""


def vec_left(ctx, n, s, count):
    return pc.utf8_slice_codeunits(str_array(s, n), 0, max(_int_arg(count, "COUNT"), 0))


def fn_right(ctx, s, count):
    s = to_str(s)
    if s is None:
        return None
    count = _as_int(count, "COUNT")
    return s[-count:] if count > 0 else ""


def vec_right(ctx, n, s, count):
    k = _int_arg(count, "COUNT")
    arr = str_array(s, n)
    if k <= 0:
        return pc.utf8_slice_codeunits(arr, 0, 0)
    return pc.utf8_slice_codeunits(arr, -k)


def fn_replacestr(ctx, s, find, replacement):
    s = to_str(s)
    if s is None or find is None:
        return s
    return s.replace(to_str(find), to_str(replacement) or "")


def vec_replacestr(ctx, n, s, find, replacement):
    pattern, rep = _string_arg(find), _string_arg(replacement)
    if pattern is None:
        return str_array(s, n)
    if pattern == "":
        raise Fallback  # Arrow loops forever on an empty pattern; Python matches Java here
    return pc.replace_substring(str_array(s, n), pattern=pattern, replacement=rep or "")


def _pad_text(pad: Any) -> str:
    pad = to_str(pad)
    return pad if pad else " "


def _pad(s, count, pad, left):
    s = to_str(s)
    if s is None:
        return None
    need = _as_int(count, "COUNT") - len(s)
    if need <= 0:
        return s
    pad = _pad_text(pad)
    fill = (pad * (need // len(pad) + 1))[:need]
    return fill + s if left else s + fill


def _vec_pad(left):
    def vec(ctx, n, s, count, pad=SPACE):
        size = _int_arg(count, "COUNT")
        text = _pad_text(_string_arg(pad))
        arr = str_array(s, n)
        if isinstance(arr, Const):
            raise Fallback
        if size <= 0:
            return arr
        need = np.maximum(size - pc.fill_null(pc.utf8_length(arr), 0).to_numpy(zero_copy_only=False), 0)
        full = text * (size // len(text) + 1)
        fills = pa.array([full[:k] for k in range(size + 1)], type=pa.string()).take(pa.array(need))
        return pc.binary_join_element_wise(fills, arr, "") if left else pc.binary_join_element_wise(arr, fills, "")

    return vec


def fn_lpad(ctx, s, count, pad=" "):
    return _pad(s, count, pad, True)


def fn_rpad(ctx, s, count, pad=" "):
    return _pad(s, count, pad, False)


def _char_class(chars: str) -> str:
    return "[" + "".join("\\" + c if c in "\\]^-[" else c for c in chars) + "]"


def fn_split(ctx, s, sep=None):
    s = to_str(s)
    if s is None:
        return None
    sep = to_str(sep)
    if not sep:
        return s.split()
    return [p for p in re.split(_char_class(sep), s) if p]


def vec_split(ctx, n, s, sep=NULL):
    chars = _string_arg(sep)
    arr = str_array(s, n)
    if isinstance(arr, Const) or not chars:
        raise Fallback
    parts = pc.split_pattern(arr, chars) if len(chars) == 1 else pc.split_pattern_regex(arr, _char_class(chars))
    flat = pc.list_flatten(parts)
    parents = pc.list_parent_indices(parts)
    keep = pc.not_equal(flat, "")
    kept_parents = pc.filter(parents, keep).to_numpy(zero_copy_only=False)
    counts = np.bincount(kept_parents, minlength=n) if n else np.zeros(0, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pc.filter(flat, keep), mask=pc.is_null(parts))


def _java_split(pattern: str, s: str) -> list[str]:
    rx = re.compile(pattern)
    parts, last = [], 0
    for m in rx.finditer(s):
        if m.end() == 0:
            continue
        if m.start() == m.end() and m.start() >= len(s):
            break
        parts.append(s[last : m.start()])
        last = m.end()
    parts.append(s[last:])
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return parts


def fn_explode(ctx, s, regex=None):
    s = to_str(s)
    if s is None:
        return None
    pattern = to_str(regex) if regex is not None else ","
    return _java_split(pattern, s)


def fn_instr(ctx, s, sub, start=None, occurrence=None):
    s, sub = to_str(s), to_str(sub)
    if s is None or sub is None:
        return None
    pos = _as_int(start, "START_POSITION") if start is not None else 0
    times = _as_int(occurrence, "OCCURRENCE") if occurrence is not None else 1
    idx = -1
    for _ in range(max(times, 1)):
        idx = s.find(sub, max(pos, 0))
        if idx < 0:
            return -1
        pos = idx + 1
    return idx


def vec_instr(ctx, n, s, sub, start=NULL, occurrence=NULL):
    if not all(isinstance(v, Const) for v in (sub, start, occurrence)):
        raise Fallback
    if sub.value is None or start.value not in (None, 0) or occurrence.value not in (None, 1):
        raise Fallback
    arr = str_array(s, n)
    if isinstance(arr, Const) or not pc.all(pc.fill_null(pc.string_is_ascii(arr), True)).as_py():
        raise Fallback  # Arrow returns byte offsets; they equal character offsets only for ASCII
    return pc.find_substring(arr, to_str(sub.value)).cast(pa.int64())


def fn_join(ctx, sep, *items):
    if len(items) == 1 and items[0] is None:
        return None
    sep = to_str(sep) or ""
    values = items[0] if len(items) == 1 and isinstance(items[0], (list, tuple)) else items
    return sep.join(to_str(v) or "" for v in values)


def fn_equals(ctx, a, b):
    if a is None or b is None:
        return a is None and b is None
    return to_str(a) == to_str(b)


def fn_equals_ignore_case(ctx, a, b):
    if a is None or b is None:
        return a is None and b is None
    return to_str(a).lower() == to_str(b).lower()


def _vec_str_equal(fold: bool):
    def vec(ctx, n, a, b):
        x, y = str_array(a, n), str_array(b, n)
        if fold:
            x = Const(x.value.lower() if x.value is not None else None) if isinstance(x, Const) else pc.utf8_lower(x)
            y = Const(y.value.lower() if y.value is not None else None) if isinstance(y, Const) else pc.utf8_lower(y)
        return _vec_equal(ctx, n, x, y)

    return vec


def _str_predicate(py, kernel_name):
    def row(ctx, s, part):
        s, part = to_str(s), to_str(part)
        if s is None or part is None:
            return None
        return py(s, part)

    def vec(ctx, n, s, part):
        needle = _string_arg(part)
        arr = str_array(s, n)
        if needle is None or isinstance(arr, Const):
            raise Fallback
        return getattr(pc, kernel_name)(arr, pattern=needle)

    return row, vec


fn_contains, vec_contains = _str_predicate(lambda s, p: p in s, "match_substring")
fn_starts_with, vec_starts_with = _str_predicate(str.startswith, "starts_with")
fn_ends_with, vec_ends_with = _str_predicate(str.endswith, "ends_with")


def fn_to_string(ctx, v):
    return to_str(v)


def vec_to_string(ctx, n, v):
    return str_array(v, n)


# --------------------------------------------------------------------------------------------------------------
# Regular expressions
# --------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise EvaluationError(f"invalid regular expression {_q(pattern)}: {exc}") from None


def fn_matches_regex(ctx, s, pattern):
    s = to_str(s)
    if s is None:
        return None
    return _regex(to_str(pattern)).fullmatch(s) is not None


def vec_matches_regex(ctx, n, s, pattern):
    text = _string_arg(pattern)
    if text is None:
        raise Fallback
    _regex(text)  # same validation as the row path
    return pc.match_substring_regex(str_array(s, n), pattern=f"^(?:{text})$")


def fn_extract_regex(ctx, s, pattern):
    s = to_str(s)
    if s is None:
        return None
    m = _regex(to_str(pattern)).search(s)
    if m is None:
        return None
    return [m.group(0), *m.groups()]


# --------------------------------------------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------------------------------------------

_CHARSETS = {
    "UTF-8": ("utf-8", b""),
    "UTF8": ("utf-8", b""),
    "UTF-16": ("utf-16-be", b"\xfe\xff"),  # Java writes a big-endian byte-order mark
    "UTF-16BE": ("utf-16-be", b""),
    "UTF-16LE": ("utf-16-le", b""),
    "ISO-8859-1": ("latin-1", b""),
    "US-ASCII": ("ascii", b""),
}


def _encoder(charset: Any) -> Callable[[str], bytes]:
    name = (to_str(charset) or "UTF-8").upper()
    if name not in _CHARSETS:
        raise EvaluationError(f"unsupported charset {_q(charset)}")
    codec, prefix = _CHARSETS[name]
    return lambda s: prefix + s.encode(codec, errors="replace")


def _digest(algorithm: str) -> Callable[[bytes], str]:
    if algorithm == "crc32":  # Data Prep prints the checksum's little-endian bytes (documented: 8df92e80)
        return lambda data: zlib.crc32(data).to_bytes(4, "little").hex()
    return lambda data: hashlib.new(algorithm, data).hexdigest()


def _hash_function(algorithm: str):
    digest = _digest(algorithm)

    def row(ctx, value, charset="UTF-8"):
        s = to_str(value)
        return None if s is None else digest(_encoder(charset)(s))

    def vec(ctx, n, value, charset=UTF8):
        if not isinstance(charset, Const):
            raise Fallback
        encode = _encoder(charset.value)
        strings = str_array(value, n)
        if isinstance(strings, Const):
            raise Fallback
        out = [None if s is None else digest(encode(s)) for s in strings.to_pylist()]
        return pa.array(out, type=pa.string())

    return row, vec


# --------------------------------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "sftp": 22, "ssh": 22, "scp": 22, "ws": 80, "wss": 443,
                  "smtp": 25, "ldap": 389, "ldaps": 636, "telnet": 23, "gopher": 70, "imap": 143, "pop3": 110}


def _url(value):
    s = to_str(value)
    if s is None:
        return None
    try:
        parts = urlsplit(s)
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        return None
    if not parts.scheme or not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*$", parts.scheme):
        return None
    return parts


def fn_get_url_protocol(ctx, url):
    parts = _url(url)
    return parts.scheme if parts else None


def fn_get_url_host(ctx, url):
    parts = _url(url)
    if not parts or not parts.netloc:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[: host.index("]") + 1]
    return host.split(":", 1)[0] or None


def fn_get_url_port(ctx, url):
    parts = _url(url)
    if not parts or not parts.netloc:
        return None
    return parts.port if parts.port is not None else _DEFAULT_PORTS.get(parts.scheme.lower())


def fn_get_url_path(ctx, url, full_path=True):
    parts = _url(url)
    if not parts:
        return None
    if full_path is None or truthy(full_path):
        return parts.path
    return parts.path.rstrip("/").rsplit("/", 1)[-1]


def _parse_query(query: str) -> dict:
    out: dict[str, Any] = {}
    for item in query.split("&"):
        if item:
            key, _, value = item.partition("=")
            out[key] = value
    return out


def fn_get_url_query_str(ctx, url, anchor="retain"):
    parts = _url(url)
    if not parts:
        return None
    mode = (to_str(anchor) or "retain").lower()
    if mode not in ("retain", "remove", "append"):
        raise EvaluationError(f"ANCHOR must be 'retain', 'remove' or 'append', got {_q(anchor)}")
    query = parts.query
    if mode == "retain" and parts.fragment:
        query = f"{query}#{parts.fragment}"
    result = _parse_query(query)
    if mode == "append" and parts.fragment:
        result["_anchor_"] = parts.fragment
    return result


def fn_get_url_encoded(ctx, url):
    s = to_str(url)
    return None if s is None else quote_plus(s, safe="*").replace("~", "%7E")


def fn_get_url_decoded(ctx, url):
    s = to_str(url)
    return None if s is None else unquote_plus(s)


# --------------------------------------------------------------------------------------------------------------
# Dates: Java pattern formatting and parsing
# --------------------------------------------------------------------------------------------------------------

_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_ZONE_ABBREVIATIONS = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "BST": 60, "IST": 330, "CET": 60, "CEST": 120, "EET": 120,
    "EEST": 180, "MSK": 180, "JST": 540, "KST": 540, "HKT": 480, "SGT": 480, "AEST": 600, "AEDT": 660,
    "ACST": 570, "AWST": 480, "NZST": 720, "NZDT": 780, "HST": -600, "AKST": -540, "AKDT": -480,
    "PST": -480, "PDT": -420, "MST": -420, "MDT": -360, "CST": -360, "CDT": -300, "EST": -300, "EDT": -240,
    "AST": -240, "ADT": -180, "NST": -210, "NDT": -150,
}
_PATTERN_TOKEN = re.compile(r"'((?:[^']|'')*)'|([A-Za-z])\2*|(.)", re.DOTALL)

#: The formats tried, in order, when ``date()`` is given no format (documented list, then ISO-like forms).
DEFAULT_DATE_FORMATS = (
    "yyyy-MM-dd HH:mm:ssZ",
    "yyyy-MM-dd HH:mm:ss.SSSZ",
    "yyyy-MM-dd HH:mm:ss.SSS",
    "yyyy-MM-dd'T'HH:mm:ss.SSSX",
    "yyyy-MM-dd'T'HH:mm:ss'Z'",
    "yyyy-MM-dd",
    "yyyy/MM/dd",
    "yyyy.MM.dd",
    "yyyy-MMM-dd",
    "yyyyMMdd",
    "MM-dd-yyyy",
    "MMddyyyy",
    "M/dd/yyyy",
    "dd.M.yyyy",
    "M/dd/yyyy hh:mm:ss a",
    "dd.M.yyyy hh:mm:ss a",
    "dd.MMM.yyyy",
    "dd-MMM-yyyy",
    "yyyy-MM-dd HH:mm:ss",
    "yyyy-MM-dd HH:mm",
    "yyyy-MM-dd'T'HH:mm:ssX",
    "yyyy-MM-dd'T'HH:mm:ss",
    "yyyy-MM-dd'T'HH:mm:ss.SSS",
    "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX",
    "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
    "yyyy-MM-dd'T'HH:mmX",
    "yyyy-MM-dd'T'HH:mm",
)


def pattern_tokens(pattern: str) -> list[tuple[str, Any]]:
    """Split a Java DateTimeFormatter pattern into ("lit", text) and (letter, count) tokens."""
    out: list[tuple[str, Any]] = []
    for m in _PATTERN_TOKEN.finditer(pattern):
        if m.group(1) is not None:
            out.append(("lit", m.group(1).replace("''", "'") if m.group(1) else "'"))
        elif m.group(2) is not None:
            out.append((m.group(2), len(m.group(0))))
        else:
            out.append(("lit", m.group(3)))
    return out


def _offset_text(offset: _dt.timedelta | None, style: str) -> str:
    """Zone offset as Java prints it: style X/XX/XXX (``Z`` for zero), x/xx/xxx, Z (+HHMM)."""
    total = int(offset.total_seconds()) if offset is not None else 0
    if total == 0 and style.startswith("X"):
        return "Z"
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    hh, mm = total // 3600, total % 3600 // 60
    kind, count = style[0], len(style)
    if kind == "Z":
        return f"{sign}{hh:02d}:{mm:02d}" if count == 5 else f"{sign}{hh:02d}{mm:02d}"
    if count == 1:
        return f"{sign}{hh:02d}" + (f"{mm:02d}" if mm else "")
    if count == 2 or count == 4:
        return f"{sign}{hh:02d}{mm:02d}"
    return f"{sign}{hh:02d}:{mm:02d}"


def format_datetime(d: _dt.datetime, pattern: str) -> str:
    d = as_aware(d)
    out = []
    for kind, arg in pattern_tokens(pattern):
        if kind == "lit":
            out.append(arg)
            continue
        c = arg
        if kind == "y":
            out.append(f"{d.year % 100:02d}" if c == 2 else f"{d.year:0{c}d}")
        elif kind in "ML":
            out.append(str(d.month).zfill(c) if c <= 2 else _MONTHS[d.month - 1].title()[: 3 if c == 3 else None])
        elif kind == "d":
            out.append(str(d.day).zfill(c))
        elif kind == "H":
            out.append(str(d.hour).zfill(c))
        elif kind == "h":
            out.append(str(d.hour % 12 or 12).zfill(c))
        elif kind == "K":
            out.append(str(d.hour % 12).zfill(c))
        elif kind == "k":
            out.append(str(d.hour or 24).zfill(c))
        elif kind == "m":
            out.append(str(d.minute).zfill(c))
        elif kind == "s":
            out.append(str(d.second).zfill(c))
        elif kind == "S":
            out.append(f"{d.microsecond * 1000:09d}"[:c].ljust(c, "0"))
        elif kind == "a":
            out.append("AM" if d.hour < 12 else "PM")
        elif kind == "E":
            out.append(_DAYS[d.weekday()].title()[: 3 if c <= 3 else None])
        elif kind == "D":
            out.append(str(d.timetuple().tm_yday).zfill(c))
        elif kind == "u":
            out.append(str(d.isoweekday()))
        elif kind in "Qq":
            out.append(str((d.month - 1) // 3 + 1).zfill(c))
        elif kind in "XxZ":
            out.append(_offset_text(d.utcoffset(), kind * min(c, 5)))
        elif kind == "z":
            out.append(d.tzname() or "UTC")
        elif kind == "V":
            out.append(getattr(d.tzinfo, "key", None) or _offset_text(d.utcoffset(), "XXX"))
        elif kind == "G":
            out.append("AD")
        else:
            raise EvaluationError(f"unsupported date pattern letter {kind!r} in {_q(pattern)}")
    return "".join(out)


def zone_from_name(name: Any) -> _dt.tzinfo:
    text = to_str(name)
    if text is None:
        raise EvaluationError("time zone must not be null")
    upper = text.upper()
    if upper in _ZONE_ABBREVIATIONS:
        return _dt.timezone(_dt.timedelta(minutes=_ZONE_ABBREVIATIONS[upper]))
    m = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?", text)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        return _dt.timezone(_dt.timedelta(minutes=minutes if m.group(1) == "+" else -minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise EvaluationError(f"unknown time zone {_q(text)}") from None


def _arrow_zone(name: Any) -> str:
    """The Arrow timestamp timezone string for a zone argument (same resolution as ``zone_from_name``)."""
    tz = zone_from_name(name)
    key = getattr(tz, "key", None)
    return key if key else _offset_text(tz.utcoffset(None), "XXX").replace("Z", "+00:00")


def _re_literal(text: str) -> str:
    return "".join(c if c.isalnum() or c in " :,;_'\"@#%&=<>!~`" else "\\" + c for c in text)


@dataclass(frozen=True)
class DatePattern:
    """A Java date pattern compiled to a regular expression with named groups (Python ``re`` and RE2 alike)."""

    pattern: str
    regex: str
    groups: tuple[str, ...]
    zone_names: bool
    min_length: int  # bounds on the length of a matching text (a cheap filter before the regex)
    max_length: int | None


_NUMERIC_GROUPS = {"d": "d", "H": "H", "h": "h", "K": "K", "k": "k", "m": "mi", "s": "s"}


_UNBOUNDED = 10**6


@functools.lru_cache(maxsize=512)
def compile_date_pattern(pattern: str) -> DatePattern:
    parts: list[str] = []
    groups: list[str] = []
    zone_names = False
    lo = hi = 0

    def add(body: str, low: int, high: int, name: str | None = None) -> None:
        nonlocal lo, hi
        if name is not None:
            if name in groups:
                raise EvaluationError(f"date pattern {_q(pattern)} repeats a field")
            groups.append(name)
            body = f"(?P<{name}>{body})"
        parts.append(body)
        lo, hi = lo + low, hi + high

    for kind, count in pattern_tokens(pattern):
        if kind == "lit":
            add(_re_literal(count), len(count), len(count))
        elif kind == "u":
            add(r"[1-7]", 1, 1)
        elif kind == "y":
            if count == 2:
                add(r"\d{2}", 2, 2, "yy")
            elif count == 4:
                add(r"\d{4}", 4, 4, "y")
            else:
                add(r"\d{1,9}", 1, 9, "y")
        elif kind in "ML":
            if count <= 2:
                add(r"\d{2}" if count == 2 else r"\d{1,2}", count, 2, "M")
            elif count == 3:
                add(r"[A-Za-z]{3}", 3, 3, "Mn")
            else:
                add(r"[A-Za-z]+", 3, 9, "Mn")
        elif kind in _NUMERIC_GROUPS:
            add(r"\d{2}" if count == 2 else r"\d{1,2}", min(count, 2), 2, _NUMERIC_GROUPS[kind])
        elif kind == "S":
            add(rf"\d{{{count}}}", count, count, "S")
        elif kind == "a":
            add(r"[AaPp][Mm]", 2, 2, "a")
        elif kind == "E":
            add(r"[A-Za-z]+", 1, _UNBOUNDED)
        elif kind in "Xx":
            add((r"Z|" if kind == "X" else "") + r"[+-]\d{2}(?::?\d{2})?", 1 if kind == "X" else 3, 6, "off")
        elif kind == "Z":
            add(r"Z|[+-]\d{2}:?\d{2}", 1, 6, "off")
        elif kind in "zV":
            zone_names = True
            add(r"[A-Za-z][A-Za-z0-9_+\-/]*", 1, _UNBOUNDED, "zn")
        else:
            raise EvaluationError(f"unsupported date pattern letter {kind!r} in {_q(pattern)}")
    return DatePattern(pattern, "".join(parts), tuple(groups), zone_names, lo, hi if hi < _UNBOUNDED else None)


def _month_from_name(name: str) -> int:
    low = name.lower()
    for i, month in enumerate(_MONTHS):
        if (len(low) == 3 and month[:3] == low) or month == low:
            return i + 1
    raise ValueError(f"unknown month {name!r}")


def _hour(g: dict) -> int:
    pm = g.get("a", "").upper() == "PM" if "a" in g else None
    if "H" in g:
        return int(g["H"])
    if "k" in g:
        k = int(g["k"])
        if not 1 <= k <= 24:
            raise ValueError("hour out of range")
        return k % 24
    if "h" in g:
        h = int(g["h"])
        if not 1 <= h <= 12:
            raise ValueError("clock hour out of range")
        return h % 12 + (12 if pm else 0)
    if "K" in g:
        h = int(g["K"])
        if not 0 <= h <= 11:
            raise ValueError("hour of am/pm out of range")
        return h + (12 if pm else 0)
    return 0


def _parse_offset(text: str) -> int:
    """Minutes east of UTC for Z / +HH / +HHMM / +HH:MM."""
    if text == "Z":
        return 0
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
    return -minutes if text[0] == "-" else minutes


def parse_with_pattern(text: str, pattern: str) -> _dt.datetime | None:
    """Parse text with a Java pattern; None when it does not match; the result is in UTC."""
    compiled = compile_date_pattern(pattern)
    m = re.fullmatch(compiled.regex, text)
    if m is None:
        return None
    g = {k: v for k, v in m.groupdict().items() if v is not None}
    try:
        year = int(g["y"]) if "y" in g else (2000 + int(g["yy"]) if "yy" in g else 1970)
        month = int(g["M"]) if "M" in g else (_month_from_name(g["Mn"]) if "Mn" in g else 1)
        micro = int((g.get("S", "") + "000000")[:6])
        tz: _dt.tzinfo = UTC
        if "off" in g:
            tz = _dt.timezone(_dt.timedelta(minutes=_parse_offset(g["off"])))
        elif "zn" in g:
            tz = zone_from_name(g["zn"])
        value = _dt.datetime(year, month, int(g.get("d", 1)), _hour(g), int(g.get("mi", 0)), int(g.get("s", 0)),
                             micro, tzinfo=tz)
        return value.astimezone(UTC)
    except (ValueError, OverflowError, EvaluationError):
        return None


def as_datetime(v: Any) -> _dt.datetime | None:
    """Coerce a value to a zoned datetime: datetimes pass, dates are midnight UTC, numbers are epoch ms,
    strings are parsed with the default formats."""
    if v is None:
        return None
    if isinstance(v, _dt.datetime):
        return as_aware(v)
    if isinstance(v, _dt.date):
        return _dt.datetime(v.year, v.month, v.day, tzinfo=UTC)
    if is_number(v):
        return _EPOCH + _dt.timedelta(milliseconds=int(v))
    text = to_str(v)
    assert text is not None  # to_str gives None for None only
    for pattern in DEFAULT_DATE_FORMATS:
        parsed = parse_with_pattern(text, pattern)
        if parsed is not None:
            return parsed
    raise EvaluationError(f"cannot parse {_q(text)} as a date")


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)


def fn_now(ctx):
    return as_aware(ctx.now())


def fn_timestamp(ctx):
    return int((as_aware(ctx.now()) - _EPOCH) / _dt.timedelta(milliseconds=1))


def fn_date(ctx, value, fmt=None, default=None):
    if value is None:
        return as_datetime(default)
    if not isinstance(value, str) or fmt is None:
        return as_datetime(value)
    pattern = to_str(fmt)
    parsed = parse_with_pattern(value, pattern)
    if parsed is None:
        raise EvaluationError(f"cannot parse {_q(value)} as a date with format {_q(pattern)}")
    return parsed


def fn_format(ctx, value, pattern):
    d = as_datetime(value)
    if d is None:
        return None
    if pattern is None:
        raise EvaluationError("FORMAT must not be null")
    return format_datetime(d, to_str(pattern))


def fn_dformat(ctx, millis, pattern):
    if millis is None:
        return None
    ms = _as_int(millis, "TIMESTAMP")
    return format_datetime(_EPOCH + _dt.timedelta(milliseconds=ms), to_str(pattern))


_DATE_PARTS = {
    "year": "year", "yyyy": "year", "yy": "year",
    "quarter": "quarter", "qq": "quarter", "q": "quarter",
    "month": "month", "mm": "month", "m": "month",
    "dayofyear": "dayofyear", "dy": "dayofyear", "y": "dayofyear",
    "day": "day", "dd": "day", "d": "day",
    "week": "week", "ww": "week",
    "weekday": "weekday", "dw": "weekday", "w": "weekday",
    "hour": "hour", "hh": "hour", "hh24": "hour", "hh12": "hour12",
    "minute": "minute", "mi": "minute", "n": "minute",
    "second": "second", "ss": "second", "s": "second",
    "millisecond": "millisecond", "ms": "millisecond", "sss": "millisecond",
}


def _date_part_name(component: Any) -> str:
    name = _DATE_PARTS.get((to_str(component) or "").lower())
    if name is None:
        raise EvaluationError(f"unknown date component {_q(component)}")
    return name


def fn_date_part(ctx, component, value):
    part = _date_part_name(component)
    d = as_datetime(value)
    if d is None:
        return None
    return {
        "year": lambda: d.year,
        "quarter": lambda: (d.month - 1) // 3 + 1,
        "month": lambda: d.month,
        "dayofyear": lambda: d.timetuple().tm_yday,
        "day": lambda: d.day,
        "week": lambda: d.isocalendar()[1],
        "weekday": lambda: d.isoweekday() % 7 + 1,
        "hour": lambda: d.hour,
        "hour12": lambda: d.hour % 12 or 12,
        "minute": lambda: d.minute,
        "second": lambda: d.second,
        "millisecond": lambda: d.microsecond // 1000,
    }[part]()


def fn_set_date_part(ctx, component, value, date):
    part = _date_part_name(component)
    d = as_datetime(date)
    if d is None:
        return None
    number = _as_int(value, "VALUE")
    field = {"year": "year", "month": "month", "day": "day", "hour": "hour", "minute": "minute",
             "second": "second"}.get(part)
    if field is None:
        raise EvaluationError(f"set_date_part cannot set {_q(component)}")
    try:
        return d.replace(**{field: number})
    except ValueError as exc:
        raise EvaluationError(str(exc)) from None


def fn_make_date_time(ctx, year, month, day, hour=0, minute=0, second=0, nanosecond=0, zone="UTC"):
    parts = [_as_int(v, name) for v, name in ((year, "YEAR"), (month, "MONTH"), (day, "DAY"), (hour, "HOUR"),
                                               (minute, "MINUTE"), (second, "SECOND"), (nanosecond, "NANOSECOND"))]
    try:
        return _dt.datetime(*parts[:6], parts[6] // 1000, tzinfo=zone_from_name(zone if zone is not None else "UTC"))
    except ValueError as exc:
        raise EvaluationError(str(exc)) from None


def fn_zone_date_to_utc(ctx, value):
    d = as_datetime(value)
    return None if d is None else d.astimezone(UTC)


def fn_zone_date_to_zone(ctx, value, zone):
    d = as_datetime(value)
    return None if d is None else d.astimezone(zone_from_name(zone))


# --- vectorised dates ------------------------------------------------------------------------------------------


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _vec_parse_pattern(arr: pa.Array, pattern: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse a string array with one pattern: (epoch microseconds, ok mask)."""
    compiled = compile_date_pattern(pattern)
    if compiled.zone_names:
        raise Fallback
    total = len(arr)
    micros_out, ok_out = np.zeros(total, dtype=np.int64), np.zeros(total, dtype=bool)
    if not compiled.groups:
        return micros_out, ok_out
    lengths = pc.utf8_length(arr)
    fits = pc.greater_equal(lengths, compiled.min_length)
    if compiled.max_length is not None:
        fits = pc.and_(fits, pc.less_equal(lengths, compiled.max_length))
    candidates = np.flatnonzero(pc.fill_null(fits, False).to_numpy(zero_copy_only=False))
    if not len(candidates):
        return micros_out, ok_out
    subset = arr if len(candidates) == total else arr.take(pa.array(candidates))
    fields = pc.extract_regex(subset, pattern=f"^{compiled.regex}$")
    matched = pc.fill_null(pc.is_valid(fields), False).to_numpy(zero_copy_only=False)
    hits = np.flatnonzero(matched)
    if not len(hits):
        return micros_out, ok_out
    fields = fields.take(pa.array(hits))
    rows = candidates[hits]
    n = len(hits)
    ok = np.ones(n, dtype=bool)

    def text(name: str) -> pa.Array:
        return pc.struct_field(fields, name)

    def number(name: str, default: int = 0) -> np.ndarray:
        if name not in compiled.groups:
            return np.full(n, default, dtype=np.int64)
        return text(name).cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)

    year = number("y", 1970) if "yy" not in compiled.groups else number("yy") + 2000
    if "Mn" in compiled.groups:
        names = pc.utf8_lower(text("Mn"))
        full = pc.index_in(names, value_set=pa.array(_MONTHS))
        short = pc.index_in(names, value_set=pa.array([m[:3] for m in _MONTHS]))
        short = pc.if_else(pc.equal(pc.utf8_length(names), 3), short, pa.scalar(None, pa.int32()))
        idx = pc.coalesce(full, short)
        ok &= pc.fill_null(pc.is_valid(idx), False).to_numpy(zero_copy_only=False)
        month = pc.fill_null(idx, 0).to_numpy(zero_copy_only=False).astype(np.int64) + 1
    else:
        month = number("M", 1)
    day = number("d", 1)
    pm = pc.fill_null(pc.equal(pc.utf8_upper(text("a")), "PM"), False).to_numpy(zero_copy_only=False) \
        if "a" in compiled.groups else np.zeros(n, dtype=bool)
    if "H" in compiled.groups:
        hour = number("H")
        ok &= hour <= 23
    elif "k" in compiled.groups:
        k = number("k")
        ok &= (k >= 1) & (k <= 24)
        hour = k % 24
    elif "h" in compiled.groups:
        h = number("h")
        ok &= (h >= 1) & (h <= 12)
        hour = h % 12 + np.where(pm, 12, 0)
    elif "K" in compiled.groups:
        h = number("K")
        ok &= h <= 11
        hour = h + np.where(pm, 12, 0)
    else:
        hour = np.zeros(n, dtype=np.int64)
    minute, second = number("mi"), number("s")
    ok &= (minute <= 59) & (second <= 59)
    if "S" in compiled.groups:
        frac = pc.utf8_slice_codeunits(pc.utf8_rpad(text("S"), 6, "0"), 0, 6)
        micro = frac.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        micro = np.zeros(n, dtype=np.int64)
    offset = np.zeros(n, dtype=np.int64)
    if "off" in compiled.groups:
        off = text("off")
        is_z = pc.equal(off, "Z")
        digits = pc.replace_substring(pc.utf8_slice_codeunits(off, 1), pattern=":", replacement="")
        digits = pc.if_else(is_z, "0000", pc.utf8_rpad(digits, 4, "0"))
        hh = pc.utf8_slice_codeunits(digits, 0, 2).cast(pa.int64()).to_numpy(zero_copy_only=False)
        mm = pc.utf8_slice_codeunits(digits, 2, 4).cast(pa.int64()).to_numpy(zero_copy_only=False)
        negative = pc.fill_null(pc.starts_with(off, "-"), False).to_numpy(zero_copy_only=False)
        offset = np.where(negative, -1, 1) * (hh * 60 + mm)
        ok &= (hh <= 23) & (mm <= 59)  # Python's timezone() accepts |offset| < 24h
    ok &= (year >= 1) & (year <= 9999) & (month >= 1) & (month <= 12) & (day >= 1)
    safe_month = np.clip(month, 1, 12)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    ok &= day <= _DAYS_IN_MONTH[safe_month - 1] + ((safe_month == 2) & leap)
    days = _days_from_civil(year, safe_month, day)
    micros = ((days * 86400 + hour * 3600 + minute * 60 + second - offset * 60) * 1_000_000) + micro
    micros_out[rows] = np.where(ok, micros, 0)
    ok_out[rows] = ok
    return micros_out, ok_out


def parse_dates(arr: pa.Array, patterns: tuple[str, ...]) -> tuple[pa.Array, np.ndarray]:
    """Parse a string array trying patterns in order: (timestamp[us, UTC] array, failed-and-non-null mask)."""
    n = len(arr)
    valid = pc.is_valid(arr).to_numpy(zero_copy_only=False)
    done = ~valid
    micros = np.zeros(n, dtype=np.int64)
    for pattern in patterns:
        if done.all():
            break
        todo = np.flatnonzero(~done)
        subset = arr.take(pa.array(todo))
        values, ok = _vec_parse_pattern(subset, pattern)
        hit = todo[ok]
        micros[hit] = values[ok]
        done[hit] = True
    parsed = valid & done
    result = pa.array(micros, type=pa.int64(), mask=~parsed).cast(pa.timestamp("us", "UTC"))
    return result, valid & ~done


def ts_array(v: Any, n: int) -> tuple[Any, dict[int, str]]:
    """Timestamp view of a value (dates parse with the default formats, numbers are epoch ms)."""
    if isinstance(v, Const):
        return Const(as_datetime(v.value)), {}
    t = v.type
    if pa.types.is_timestamp(t):
        return (v if t.tz is not None else v.cast(pa.timestamp(t.unit, "UTC"))), {}
    if pa.types.is_date(t):
        return v.cast(pa.timestamp("us", "UTC")), {}
    if pa.types.is_null(t):
        return pa.nulls(n, pa.timestamp("us", "UTC")), {}
    if pa.types.is_integer(t):
        return v.cast(pa.int64()).cast(pa.timestamp("ms", "UTC")).cast(pa.timestamp("us", "UTC")), {}
    if _is_string(t):
        result, failed = parse_dates(v, DEFAULT_DATE_FORMATS)
        values: list[Any] = v.to_pylist() if failed.any() else []
        errs = {int(i): f"cannot parse {_q(values[i])} as a date" for i in np.flatnonzero(failed)}
        return result, errs
    raise Fallback


def vec_date(ctx, n, value, fmt=NULL, default=NULL):
    if not isinstance(fmt, Const):
        raise Fallback
    if isinstance(value, Const):
        raise Fallback
    if fmt.value is None or not _is_string(value.type):
        result, errs = ts_array(value, n)
    else:
        pattern = to_str(fmt.value)
        result, failed = parse_dates(value, (pattern,))
        values = value.to_pylist() if failed.any() else None
        errs = {int(i): f"cannot parse {_q(values[i])} as a date with format {_q(pattern)}"
                for i in np.flatnonzero(failed)}
    if isinstance(default, Const) and default.value is None:
        return result, errs
    fallback, default_errs = ts_array(default, n)
    null_input = pc.is_null(value)
    errs.update({i: m for i, m in default_errs.items() if null_input[i].as_py()})
    fallback = unify([Const(fallback.value) if isinstance(fallback, Const) else fallback, result], n)
    return pc.if_else(null_input, fallback[0], fallback[1]), errs


_STRFTIME = {("y", 2): "%y", ("y", 4): "%Y", ("M", 2): "%m", ("M", 3): "%b", ("M", 4): "%B", ("d", 2): "%d",
             ("H", 2): "%H", ("h", 2): "%I", ("m", 2): "%M", ("s", 2): "%S", ("a", 1): "%p", ("E", 1): "%a",
             ("E", 2): "%a", ("E", 3): "%a", ("E", 4): "%A", ("D", 3): "%j"}
_UNPADDED = {"M": pc.month, "d": pc.day, "H": pc.hour, "m": pc.minute, "s": pc.second}


def format_timestamps(arr: pa.Array, pattern: str) -> pa.Array:
    """Vectorised ``format_datetime`` for a timestamp array (raises Fallback for what it does not cover)."""
    tz = arr.type.tz
    seconds = pc.floor_temporal(arr, unit="second").cast(pa.timestamp("s", tz))
    pieces: list[Any] = []
    fmt: list[str] = []

    def flush() -> None:
        if fmt:
            pieces.append(pc.strftime(seconds, format="".join(fmt)))
            fmt.clear()

    for kind, arg in pattern_tokens(pattern):
        if kind == "lit":
            fmt.append(arg.replace("%", "%%"))
        elif (kind, arg) in _STRFTIME:
            fmt.append(_STRFTIME[(kind, arg)])
        elif kind in _UNPADDED and arg == 1:
            flush()
            pieces.append(_UNPADDED[kind](arr).cast(pa.string()))
        elif kind == "S" and arg <= 9:
            flush()
            nanos = pc.add(pc.add(pc.multiply(pc.millisecond(arr), 1_000_000), pc.multiply(pc.microsecond(arr), 1000)),
                           pc.nanosecond(arr))
            pieces.append(pc.utf8_slice_codeunits(pc.utf8_lpad(nanos.cast(pa.string()), 9, "0"), 0, arg))
        elif kind in "XxZ" and _is_utc(tz):
            fmt.append(_offset_text(_dt.timedelta(0), kind * min(arg, 5)).replace("%", "%%"))
        else:
            raise Fallback
    flush()
    if not pieces:
        return pc.if_else(pc.is_valid(arr), "".join(fmt), pa.scalar(None, pa.string()))
    if len(pieces) == 1:
        return pieces[0]
    return pc.binary_join_element_wise(*pieces, "")


def vec_format(ctx, n, value, pattern):
    text = _string_arg(pattern)
    if text is None:
        raise Fallback
    stamps, errs = ts_array(value, n)
    if isinstance(stamps, Const):
        raise Fallback
    return format_timestamps(stamps, text), errs


def vec_dformat(ctx, n, millis, pattern):
    text = _string_arg(pattern)
    if text is None or isinstance(millis, Const) or not pa.types.is_integer(millis.type):
        raise Fallback
    stamps = millis.cast(pa.int64()).cast(pa.timestamp("ms", "UTC")).cast(pa.timestamp("us", "UTC"))
    return format_timestamps(stamps, text)


_ARROW_PARTS = {
    "year": pc.year, "quarter": pc.quarter, "month": pc.month, "dayofyear": pc.day_of_year, "day": pc.day,
    "week": pc.iso_week, "weekday": lambda a: pc.day_of_week(a, count_from_zero=False, week_start=7),
    "hour": pc.hour, "minute": pc.minute, "second": pc.second, "millisecond": pc.millisecond,
}


def vec_date_part(ctx, n, component, value):
    if not isinstance(component, Const):
        raise Fallback
    part = _date_part_name(component.value)
    stamps, errs = ts_array(value, n)
    if isinstance(stamps, Const):
        raise Fallback
    if part == "hour12":
        h = pc.hour(stamps)
        twelve = pc.subtract(h, pc.multiply(pc.divide(h, 12), 12))
        return pc.if_else(pc.equal(twelve, 0), 12, twelve).cast(pa.int64()), errs
    return _ARROW_PARTS[part](stamps).cast(pa.int64()), errs


def vec_zone_date_to_utc(ctx, n, value):
    stamps, errs = ts_array(value, n)
    if isinstance(stamps, Const):
        raise Fallback
    return stamps.cast(pa.timestamp(stamps.type.unit, "UTC")), errs


def vec_zone_date_to_zone(ctx, n, value, zone):
    if not isinstance(zone, Const):
        raise Fallback
    stamps, errs = ts_array(value, n)
    if isinstance(stamps, Const):
        raise Fallback
    return stamps.cast(pa.timestamp(stamps.type.unit, _arrow_zone(zone.value))), errs


def vec_now(ctx, n):
    return Const(fn_now(ctx))


def vec_timestamp(ctx, n):
    return Const(fn_timestamp(ctx))


# --------------------------------------------------------------------------------------------------------------
# Objects and arrays
# --------------------------------------------------------------------------------------------------------------


def fn_is_empty(ctx, v):
    if v is None:
        return True
    if isinstance(v, (str, list, dict, tuple)):
        return len(v) == 0
    return False


def vec_is_empty(ctx, n, v):
    if isinstance(v, Const):
        return Const(fn_is_empty(ctx, v.value))
    t = v.type
    if _is_string(t):
        return pc.fill_null(pc.equal(pc.utf8_length(v), 0), True)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pc.fill_null(pc.equal(pc.list_value_length(v), 0), True)
    if pa.types.is_struct(t) and t.num_fields == 0:
        return Const(True)
    return pc.is_null(v)


def fn_size_of(ctx, v):
    if v is None:
        return 0
    if isinstance(v, (str, list, dict, tuple)):
        return len(v)
    raise EvaluationError(f"size_of expects an array, object or string, got {_q(v)}")


def vec_size_of(ctx, n, v):
    if isinstance(v, Const):
        raise Fallback
    t = v.type
    if _is_string(t):
        return pc.fill_null(pc.utf8_length(v), 0).cast(pa.int64())
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pc.fill_null(pc.list_value_length(v), 0).cast(pa.int64())
    if pa.types.is_null(t):
        return Const(0)
    if pa.types.is_struct(t):
        return pc.if_else(pc.is_valid(v), t.num_fields, 0).cast(pa.int64())
    raise Fallback


def _pairs(args: tuple, what: str) -> list[tuple[Any, Any]]:
    if len(args) % 2:
        raise EvaluationError(f"{what} expects key/value pairs, got {len(args)} arguments")
    return [(args[i], args[i + 1]) for i in range(0, len(args), 2)]


def fn_to_object(ctx, *args):
    return {to_str(k): v for k, v in _pairs(args, "to_object")}


def fn_arrays_to_object(ctx, *args):
    pairs = [(to_str(k), v if isinstance(v, (list, tuple)) else ([] if v is None else [v]))
             for k, v in _pairs(args, "arrays_to_object")]
    size = max((len(v) for _, v in pairs), default=0)
    return [{k: (v[i] if i < len(v) else None) for k, v in pairs} for i in range(size)]


def _kv_object(text: Any, value_delimiter: Any, field_delimiter: Any) -> dict | None:
    s = to_str(text)
    if s is None:
        return None
    vd = to_str(value_delimiter) or ":"
    fd = to_str(field_delimiter) or ","
    out: dict[str, Any] = {}
    for field in s.split(fd):
        if vd in field:
            key, value = field.split(vd, 1)
            out[key.strip()] = value.strip()
    return out


def fn_str_to_object(ctx, s, value_delimiter=":", field_delimiter=","):
    return _kv_object(s, value_delimiter, field_delimiter)


def fn_get_values(ctx, s, key, value_delimiter=":", field_delimiter=","):
    obj = _kv_object(s, value_delimiter, field_delimiter)
    return None if obj is None else obj.get(to_str(key))


def fn_get_keys(ctx, obj):
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise EvaluationError(f"get_keys expects an object, got {_q(obj)}")
    return list(obj.keys())


def fn_nullify(ctx):
    return None


def vec_nullify(ctx, n):
    return Const(None)


def fn_coalesce(ctx, *args):
    return next((a for a in args if a is not None), None)


def vec_coalesce(ctx, n, *args):
    live = [a for a in args if not (isinstance(a, Const) and a.value is None)]
    if not live:
        return Const(None)
    if isinstance(live[0], Const):
        return live[0]
    return pc.coalesce(*unify(live, n))


def _spread(args: tuple) -> tuple:
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else args


def fn_first(ctx, *args):
    values = _spread(args)
    return values[0] if values else None


def fn_last(ctx, *args):
    values = _spread(args)
    return values[-1] if values else None


def _vec_pick(last: bool):
    def vec(ctx, n, *args):
        if len(args) > 1:
            return args[-1] if last else args[0]
        (v,) = args
        if isinstance(v, Const):
            raise Fallback
        if pa.types.is_list(v.type) or pa.types.is_large_list(v.type):
            return list_take(v, 0, last=last)
        return v

    return vec


def _as_list(v: Any) -> list:
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) else [v]


def fn_add_to_array(ctx, array, *values):
    return _as_list(array) + list(values)


def fn_join_arrays(ctx, *arrays):
    out: list = []
    for a in arrays:
        out.extend(_as_list(a))
    return out


def fn_to_array(ctx, include_nulls, *values):
    keep = truthy(include_nulls)
    return [v for v in values if keep or v is not None]


def fn_upsert_array(ctx, array):
    return array


def fn_decode(ctx, key, *options):
    pairs = options[: len(options) - len(options) % 2]
    for k, v in _pairs(pairs, "decode"):
        if values_equal(key, k):
            return v
    return options[-1] if len(options) % 2 else None


def vec_decode(ctx, n, key, *options):
    if isinstance(key, Const) or not _is_string(key.type) or not all(isinstance(o, Const) for o in options):
        raise Fallback
    values = [o.value for o in options]
    default = values[-1] if len(values) % 2 else None
    keys: list[str] = []
    results: list[Any] = []
    for k, v in _pairs(tuple(values[: len(values) - len(values) % 2]), "decode"):
        if not isinstance(k, str):
            raise Fallback
        if k not in keys:
            keys.append(k)
            results.append(v)
    outputs = results + [default]
    kinds = {type(v) for v in outputs if v is not None}
    if not (kinds <= {str} or kinds <= {int, float} or kinds <= {bool}):
        raise Fallback
    if not keys:
        return Const(default)
    idx = pc.index_in(key, value_set=pa.array(keys, type=pa.string()))
    return py_to_arrow(outputs).take(pc.fill_null(idx, len(keys)).cast(pa.int64()))


def fn_iif(ctx, condition, when_true, when_false):
    return when_true if truthy(condition) else when_false


def vec_iif(ctx, n, condition, when_true, when_false):
    cond = truthy_array(condition, n)
    if isinstance(cond, Const):
        return when_true if cond.value else when_false
    a, b = unify([when_true, when_false], n)
    return pc.if_else(cond, a, b)


def _extreme(pick_max: bool):
    def row(ctx, *args):
        values = [v for v in _spread(args) if v is not None]
        if not values:
            return None
        best = values[0]
        for v in values[1:]:
            c = compare(v, best)
            if (c > 0) if pick_max else (c < 0):
                best = v
        return best

    def vec(ctx, n, *args):
        if len(args) == 1:
            raise Fallback
        arrays = unify(list(args), n)
        kernel = pc.max_element_wise if pick_max else pc.min_element_wise
        return kernel(*arrays, skip_nulls=True)

    return row, vec


def fn_get(ctx, obj, key):
    if obj is None or key is None:
        return None
    if isinstance(obj, dict):
        return obj.get(to_str(key))
    if isinstance(obj, (list, tuple)):
        i = _as_int(key, "index")
        return obj[i] if -len(obj) <= i < len(obj) else None
    raise EvaluationError(f"cannot read {_q(key)} of {_q(obj)}")


def vec_get(ctx, n, obj, key):
    if isinstance(obj, Const) or not isinstance(key, Const) or key.value is None:
        raise Fallback
    t = obj.type
    if pa.types.is_struct(t):
        name = to_str(key.value)
        if t.get_field_index(name) < 0:
            return Const(None)
        return pc.struct_field(obj, name)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        if not is_number(key.value) or isinstance(key.value, float):
            raise Fallback
        return list_take(obj, int(key.value))
    if pa.types.is_null(t):
        return Const(None)
    raise Fallback


# --------------------------------------------------------------------------------------------------------------
# Type conversions and JSON
# --------------------------------------------------------------------------------------------------------------

_INT32 = (-(2**31), 2**31 - 1)


def _convert_message(value: Any, kind: str) -> str:
    return f"cannot convert {_q(value)} to {kind}"


def fn_to_integer(ctx, v):
    if v is None:
        return None
    if isinstance(v, str):
        if not _INT_RE.match(v):
            raise EvaluationError(_convert_message(v, "an integer"))
        n = int(v)
    elif isinstance(v, bool) or not is_number(v):
        raise EvaluationError(_convert_message(v, "an integer"))
    else:
        if isinstance(v, float) and not math.isfinite(v):
            raise EvaluationError(_convert_message(v, "an integer"))
        n = int(v)
    if not _INT32[0] <= n <= _INT32[1]:
        raise EvaluationError(f"{n} is out of the integer range")
    return n


def fn_to_bigint(ctx, v):
    if v is None:
        return None
    if isinstance(v, str):
        if _INT_RE.match(v):
            return int(v)
        if _FLOAT_RE.match(v):
            return float(v)
    elif is_number(v):
        return int(v) if isinstance(v, int) else float(v)
    raise EvaluationError(_convert_message(v, "a big integer"))


def _to_double(kind: str):
    def row(ctx, v):
        if v is None:
            return None
        if isinstance(v, str) and _FLOAT_RE.match(v):
            return float(v)
        if is_number(v):
            return float(v)
        raise EvaluationError(_convert_message(v, kind))

    return row


fn_to_decimal = _to_double("a decimal")
fn_to_float = _to_double("a float")


def _vec_convert(kind: str, integral: bool, int32: bool = False, floats: bool = False):
    def vec(ctx, n, v):
        if isinstance(v, Const):
            raise Fallback
        t = v.type
        if pa.types.is_null(t):
            return Const(None)
        if _is_string(t):
            values, errs = _parse_numbers(v, integral_only=integral, message=lambda x: _convert_message(x, kind))
        elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            values, errs = v, {}
            if integral and not pa.types.is_integer(t):
                finite = pc.fill_null(pc.is_finite(v.cast(pa.float64())), True)
                raw = v.to_pylist() if not pc.all(finite).as_py() else None
                errs = mask_errors(pc.invert(finite), lambda i: _convert_message(raw[i], kind)) if raw else {}
                values = pc.trunc(pc.if_else(finite, v.cast(pa.float64()), 0.0)).cast(pa.int64())
        else:
            raise Fallback
        if floats:
            return values.cast(pa.float64()), errs
        if int32 and pa.types.is_integer(values.type):
            values = values.cast(pa.int64())
            out = pc.or_(pc.less(values, _INT32[0]), pc.greater(values, _INT32[1]))
            if pc.any(out).as_py():
                raw = values.to_pylist()
                errs.update(mask_errors(out, lambda i: f"{raw[i]} is out of the integer range"))
        return values, errs

    return vec


def fn_json_to_object(ctx, s):
    if s is None or isinstance(s, (dict, list)):
        return s
    try:
        return json.loads(to_str(s))
    except ValueError as exc:
        raise EvaluationError(f"invalid JSON: {exc}") from None


# --------------------------------------------------------------------------------------------------------------
# Special
# --------------------------------------------------------------------------------------------------------------


def fn_uuid(ctx):
    return str(ctx.new_uuid())


def vec_uuid(ctx, n):
    return pa.array([str(ctx.new_uuid()) for _ in range(n)], type=pa.string())


def fn_contains_key(ctx, path):  # replaced by a path lookup at compile time; kept for the registry
    raise EvaluationError("contains_key expects a string literal path")


# --------------------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    """One callable of the expression language."""

    name: str
    min_args: int
    max_args: int | None
    row: Callable[..., Any]
    vec: Callable[..., Any] | None = None
    volatile: bool = False  # a new value per row even with constant arguments (uuid)
    batched: bool = False  # the vector implementation loops in Python over the column (hashes, uuid)
    label: str = ""  # prefix for error messages ("" for operators)

    def arity_text(self) -> str:
        if self.max_args == self.min_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


FUNCTIONS: dict[str, Function] = {}
METHODS: dict[str, Function] = {}
OPERATORS: dict[str, Function] = {}


def _register(table: dict, names: str, lo: int, hi: int | None, row, vec=None, *, volatile=False,
              batched=False) -> None:
    for name in [names] if table is OPERATORS else names.split("/"):
        label = "" if table is OPERATORS else name
        table[name] = Function(name, lo, hi, row, vec, volatile=volatile, batched=batched, label=label)


def _fn(names, lo, hi, row, vec=None, **kw):
    _register(FUNCTIONS, names, lo, hi, row, vec, **kw)


_fn("concat", 1, None, fn_concat, vec_concat)
_fn("explode", 1, 2, fn_explode)
_fn("instr", 2, 4, fn_instr, vec_instr)
_fn("replacestr", 3, 3, fn_replacestr, vec_replacestr)
_fn("substr", 2, 3, fn_substr, vec_substr)
_fn("lower/lcase", 1, 1, fn_lower, vec_lower)
_fn("upper/ucase", 1, 1, fn_upper, vec_upper)
_fn("split", 1, 2, fn_split, vec_split)
_fn("join", 2, None, fn_join)
_fn("lpad", 2, 3, fn_lpad, _vec_pad(True))
_fn("rpad", 2, 3, fn_rpad, _vec_pad(False))
_fn("left", 2, 2, fn_left, vec_left)
_fn("right", 2, 2, fn_right, vec_right)
_fn("ltrim", 1, 1, fn_ltrim, vec_ltrim)
_fn("rtrim", 1, 1, fn_rtrim, vec_rtrim)
_fn("trim", 1, 1, fn_trim, vec_trim)
_fn("extract_regex", 2, 2, fn_extract_regex)
_fn("matches_regex", 2, 2, fn_matches_regex, vec_matches_regex)
for _alg in ("sha1", "sha256", "sha512", "md5", "crc32"):
    _row, _vec = _hash_function(_alg)
    _fn(_alg, 1, 2, _row, _vec, batched=True)
_fn("get_url_protocol", 1, 1, fn_get_url_protocol)
_fn("get_url_host", 1, 1, fn_get_url_host)
_fn("get_url_port", 1, 1, fn_get_url_port)
_fn("get_url_path", 1, 2, fn_get_url_path)
_fn("get_url_query_str", 1, 2, fn_get_url_query_str)
_fn("get_url_encoded", 1, 1, fn_get_url_encoded)
_fn("get_url_decoded", 1, 1, fn_get_url_decoded)
_fn("now", 0, 0, fn_now, vec_now)
_fn("timestamp", 0, 0, fn_timestamp, vec_timestamp)
_fn("format", 2, 2, fn_format, vec_format)
_fn("dformat", 2, 2, fn_dformat, vec_dformat)
_fn("date", 1, 3, fn_date, vec_date)
_fn("date_part", 2, 2, fn_date_part, vec_date_part)
_fn("set_date_part", 3, 3, fn_set_date_part)
_fn("make_date_time/make_timestamp", 3, 8, fn_make_date_time)
_fn("zone_date_to_utc", 1, 1, fn_zone_date_to_utc, vec_zone_date_to_utc)
_fn("zone_date_to_zone", 2, 2, fn_zone_date_to_zone, vec_zone_date_to_zone)
_fn("is_empty/empty", 1, 1, fn_is_empty, vec_is_empty)
_fn("size_of/size", 1, 1, fn_size_of, vec_size_of)
_fn("arrays_to_object", 2, None, fn_arrays_to_object)
_fn("to_object", 0, None, fn_to_object)
_fn("str_to_object", 1, 3, fn_str_to_object)
_fn("contains_key/is_set", 1, 1, fn_contains_key)
_fn("nullify", 0, 0, fn_nullify, vec_nullify)
_fn("get_keys", 1, 1, fn_get_keys)
_fn("get_values", 2, 4, fn_get_values)
_fn("coalesce", 1, None, fn_coalesce, vec_coalesce)
_fn("first", 1, None, fn_first, _vec_pick(False))
_fn("last", 1, None, fn_last, _vec_pick(True))
_fn("add_to_array", 1, None, fn_add_to_array)
_fn("join_arrays", 1, None, fn_join_arrays)
_fn("to_array", 1, None, fn_to_array)
_fn("upsert_array_append", 1, 1, fn_upsert_array)
_fn("upsert_array_replace", 1, 1, fn_upsert_array)
_fn("decode", 2, None, fn_decode, vec_decode)
_fn("iif", 3, 3, fn_iif, vec_iif)
_fn("min", 1, None, *_extreme(False))
_fn("max", 1, None, *_extreme(True))
_fn("to_bigint", 1, 1, fn_to_bigint, _vec_convert("a big integer", integral=False))
_fn("to_decimal", 1, 1, fn_to_decimal, _vec_convert("a decimal", integral=False, floats=True))
_fn("to_float", 1, 1, fn_to_float, _vec_convert("a float", integral=False, floats=True))
_fn("to_integer", 1, 1, fn_to_integer, _vec_convert("an integer", integral=True, int32=True))
_fn("json_to_object", 1, 1, fn_json_to_object)
_fn("uuid/guid", 0, 0, fn_uuid, vec_uuid, volatile=True, batched=True)

_register(METHODS, "equals", 2, 2, fn_equals, _vec_str_equal(False))
_register(METHODS, "equalsIgnoreCase", 2, 2, fn_equals_ignore_case, _vec_str_equal(True))
_register(METHODS, "contains", 2, 2, fn_contains, vec_contains)
_register(METHODS, "startsWith", 2, 2, fn_starts_with, vec_starts_with)
_register(METHODS, "endsWith", 2, 2, fn_ends_with, vec_ends_with)
_register(METHODS, "toString", 1, 1, fn_to_string, vec_to_string)
_register(METHODS, "toLowerCase", 1, 1, fn_lower, vec_lower)
_register(METHODS, "toUpperCase", 1, 1, fn_upper, vec_upper)
_register(METHODS, "trim", 1, 1, fn_trim, vec_trim)
_register(METHODS, "length/size", 1, 1, fn_size_of, vec_size_of)
_register(METHODS, "isEmpty", 1, 1, fn_is_empty, vec_is_empty)
_register(METHODS, "get", 2, 2, fn_get, vec_get)

_register(OPERATORS, "==", 2, 2, op_eq, _vec_equal)
_register(OPERATORS, "!=", 2, 2, op_ne, lambda ctx, n, a, b: _vec_equal(ctx, n, a, b, negate=True))
_register(OPERATORS, "<", 2, 2, _ordering(lambda c: c < 0), _vec_ordering(pc.less))
_register(OPERATORS, "<=", 2, 2, _ordering(lambda c: c <= 0), _vec_ordering(pc.less_equal))
_register(OPERATORS, ">", 2, 2, _ordering(lambda c: c > 0), _vec_ordering(pc.greater))
_register(OPERATORS, ">=", 2, 2, _ordering(lambda c: c >= 0), _vec_ordering(pc.greater_equal))
_register(OPERATORS, "+", 2, 2, op_add, _vec_add)
_register(OPERATORS, "-", 2, 2, _arith_row(lambda x, y: x - y), _vec_arith("-"))
_register(OPERATORS, "*", 2, 2, _arith_row(lambda x, y: x * y), _vec_arith("*"))
_register(OPERATORS, "/", 2, 2, _arith_row(_java_div), _vec_arith("/"))
_register(OPERATORS, "%", 2, 2, _arith_row(_java_mod), _vec_arith("%"))
_register(OPERATORS, "neg", 1, 1, op_neg, _vec_neg)
_register(OPERATORS, "not", 1, 1, op_not, _vec_not)

#: Functions evaluated with Arrow kernels.
VECTORISED_FUNCTIONS = sorted(n for n, f in FUNCTIONS.items() if f.vec is not None and not f.batched)
#: Functions evaluated in one Python pass over the column (no per-row expression interpretation).
BATCHED_FUNCTIONS = sorted(n for n, f in FUNCTIONS.items() if f.batched)
#: Functions that fall back to per-row evaluation (unless all their arguments are constant).
ROW_FUNCTIONS = sorted(n for n, f in FUNCTIONS.items() if f.vec is None and n not in ("contains_key", "is_set"))
