"""What every Data Prep function shares: the value model (row semantics on plain Python values), the errors a
function raises, :class:`Const` for values that are the same in every row, and the Arrow helpers the vector
implementations are built from.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


UTC = _dt.UTC
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


class EvaluationError(ValueError):
    """A value could not be computed for one row (the destination column becomes null for that row)."""


#: The longest string any function returns, in characters. AEP Local's choice (Adobe documents no limit): a
#: longer result, or a pad/repeat count past it, is a row error, and a constant call past it fails validation.
MAX_STRING_LENGTH = 1_000_000
#: How deep expressions and the values ``json_to_object`` reads may nest. AEP Local's choice.
MAX_NESTING = 100


class LimitError(EvaluationError):
    """A value past one of AEP Local's limits (:data:`MAX_STRING_LENGTH`, :data:`MAX_NESTING`)."""


def too_long(length: int) -> LimitError:
    return LimitError(f"the result would be {length:,} characters long, more than the limit of "
                      f"{MAX_STRING_LENGTH:,}")


def check_length(length: int) -> None:
    """Raise a LimitError when a result of ``length`` characters would be past :data:`MAX_STRING_LENGTH`."""
    if length > MAX_STRING_LENGTH:
        raise too_long(length)


def might_be_too_long(parts: list, n: int) -> bool:
    """Whether joining these strings (arrays or Consts) could give a row more than MAX_STRING_LENGTH characters
    (counted in bytes, an upper bound)."""
    total = np.zeros(n, dtype=np.int64)
    for p in parts:
        if isinstance(p, Const):
            total += len((p.value or "").encode("utf-8"))
        else:
            total += pc.fill_null(pc.binary_length(p), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return bool(n) and int(total.max()) > MAX_STRING_LENGTH


def over_length(arr: Any) -> dict[int, str]:
    """{row: message} for the strings of an array longer than :data:`MAX_STRING_LENGTH` characters."""
    if not isinstance(arr, pa.Array) or not _is_string(arr.type) or len(arr) == 0:
        return {}
    if arr.buffers()[2] is None or arr.buffers()[2].size <= MAX_STRING_LENGTH:
        return {}  # the data buffer itself is no longer than the limit (a character has at least one byte)
    if (pc.max(pc.binary_length(arr)).as_py() or 0) <= MAX_STRING_LENGTH:
        return {}
    lengths = pc.fill_null(pc.utf8_length(arr), 0).to_numpy(zero_copy_only=False)
    return {int(i): str(too_long(int(lengths[i]))) for i in np.flatnonzero(lengths > MAX_STRING_LENGTH)}


class Fallback(Exception):
    """Raised by a vector implementation: evaluate this call row by row instead."""


class Const:
    """A value that is the same for every row of a batch."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Const({self.value!r})"


class Rows:
    """Per-row Python values that have no faithful Arrow form (numbers of both kinds, objects with different keys,
    dates in different zones, ...). The evaluator hands them to the row implementations exactly as they are, so
    that what follows a row-by-row call computes what the row evaluator computes."""

    __slots__ = ("values",)

    def __init__(self, values: list) -> None:
        self.values = values

    def __repr__(self) -> str:
        return f"Rows({self.values!r})"


NULL = Const(None)  # the default of optional vector arguments
UNKNOWN = object()  # an argument not known before a row is read (compile-time checks)
SPACE = Const(" ")
UTF8 = Const("UTF-8")


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


# ASCII digits and whitespace only, so that Python's re and Arrow's RE2 accept the same texts
INT_PATTERN = r"^[ \t\n\x0b\f\r]*[+-]?[0-9]+[ \t\n\x0b\f\r]*$"
FLOAT_PATTERN = r"^[ \t\n\x0b\f\r]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\n\x0b\f\r]*$"
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


def const_value(v: Any) -> Any:
    return v.value if isinstance(v, Const) else None


def as_array(v: Any, n: int) -> pa.Array:
    """Broadcast a Const to an array of length n (arrays pass through; Rows are converted as a run writes them)."""
    if isinstance(v, Rows):
        return py_to_arrow(v.values)
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
    if isinstance(v, Rows):
        return v.values
    values = v.to_pylist()
    if pa.types.is_timestamp(v.type) and _is_utc(v.type.tz):
        # UTC as the row path has it (datetime.UTC, not a ZoneInfo named "UTC": the pattern letter V differs)
        return [d if d is None else d.replace(tzinfo=UTC) for d in values]
    return values


def _same(a: Any, b: Any) -> bool:
    """Whether two values are the same for every function: same types, same zone, same key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, _dt.datetime):
        return (a == b and a.utcoffset() == b.utcoffset() and a.tzname() == b.tzname()
                and getattr(a.tzinfo, "key", None) == getattr(b.tzinfo, "key", None))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


_INT64 = (-(2**63), 2**63 - 1)


def from_python(values: list) -> Any:
    """Per-row results as an Arrow array when the array gives exactly these values back, else as :class:`Rows`."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.nulls(len(values))
    if len(kinds) == 1:
        kind = next(iter(kinds))
        if kind is str:
            return pa.array(values, type=pa.string())
        if kind is bool:
            return pa.array(values, type=pa.bool_())
        if kind is float:
            return pa.array(values, type=pa.float64())
        if kind is int:
            if all(_INT64[0] <= v <= _INT64[1] for v in values if v is not None):
                return pa.array(values, type=pa.int64())
            return Rows(values)
    if len(kinds) > 1:  # an Arrow array holds one type
        return Rows(values)
    try:
        arr = py_to_arrow(values)
    except (*_ARROW_ERRORS, OverflowError, TypeError, ValueError):
        return Rows(values)
    if all(x is None or _same(x, y) for x, y in zip(values, to_pylist(arr, len(values)))):
        return arr
    return Rows(values)


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
        if isinstance(v, Rows):
            raise Fallback
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
    # only conversions that keep every value as the row evaluator has it: integers stay integers (1, not 1.0),
    # dates keep their zone
    if len(known) == 1:
        target = next(iter(known))
    elif all(pa.types.is_integer(t) for t in known):
        target = pa.int64()
    elif all(pa.types.is_floating(t) for t in known):
        target = pa.float64()
    elif all(_is_string(t) for t in known):
        target = pa.string()
    elif all(pa.types.is_timestamp(t) for t in known) and len({t.tz for t in known}) == 1:
        target = pa.timestamp("us", next(iter(known)).tz)
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
    if isinstance(v, Rows):
        return pa.array([truthy(x) for x in v.values], type=pa.bool_())
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
    if pa.types.is_decimal(t) and t.scale == 0:
        return v.cast(pa.int64()), {}
    if not _is_string(t):
        raise Fallback  # decimals with a scale: integral values are integers on the row path
    return _parse_numbers(v, integral_only=False)


def _parse_numbers(v: pa.Array, integral_only: bool, message: Callable[[Any], str] | None = None,
                   floats: bool = False):
    """Parse a string array as numbers: int64 when every valid value is integral, float64 when every one is a
    decimal number or when ``floats`` is set; a mix raises Fallback (the row path gives ints and floats)."""
    message = message or (lambda x: f"cannot convert {_q(x)} to a number")
    is_int = pc.match_substring_regex(v, INT_PATTERN)
    ok = is_int if integral_only else pc.match_substring_regex(v, FLOAT_PATTERN)
    bad = pc.and_(pc.is_valid(v), pc.invert(pc.fill_null(ok, False)))
    values = v.to_pylist() if pc.any(bad).as_py() else None
    errs = mask_errors(bad, lambda i: message(values[i])) if values is not None else {}
    clean = pc.utf8_trim_whitespace(pc.if_else(pc.fill_null(ok, False), v, pa.scalar(None, v.type)))
    all_int = pc.all(pc.or_(pc.invert(pc.fill_null(ok, False)), pc.fill_null(is_int, False))).as_py()
    if all_int is not False and not floats:
        return pc.utf8_ltrim(clean, characters="+").cast(pa.int64()), errs
    if not floats and pc.any(pc.fill_null(is_int, False)).as_py():
        raise Fallback
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
