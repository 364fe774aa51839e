"""Date and time functions of Data Prep
(https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions):
now, timestamp, date, format, dformat, date_part, set_date_part, make_date_time, zone_date_to_utc,
zone_date_to_zone; Java ``DateTimeFormatter`` patterns compiled for formatting and parsing, row by row and
vectorised.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .core import (
    Const, EvaluationError, Fallback, NULL, UTC, _as_int, _is_string, _is_utc, _offset_text, _q, _string_arg,
    as_aware, is_number, to_str, unify,
)


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
    if not compiled.groups:  # literal text only: a matching text is the epoch (as parse_with_pattern has it)
        matched = pc.match_substring_regex(arr, pattern=f"^(?:{compiled.regex})$")
        return micros_out, pc.fill_null(matched, False).to_numpy(zero_copy_only=False).copy()
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
