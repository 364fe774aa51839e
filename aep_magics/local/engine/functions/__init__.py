"""Data Prep functions and operators: their row semantics and their Arrow kernels.

One module per family of Adobe's function reference
(https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions): :mod:`.strings`,
:mod:`.regex`, :mod:`.hashing`, :mod:`.urls`, :mod:`.dates`, :mod:`.hierarchies` (objects and arrays),
:mod:`.logic` (logical operators and aggregation), :mod:`.conversions` (type conversions and JSON),
:mod:`.special`, plus :mod:`.operators`; :mod:`.core` holds what they all share and :mod:`.registry` lists them
by name. This package re-exports the shared vocabulary and the registry (``from . import functions as F``).

Every function has a *row* implementation working on plain Python values (str, int, float, bool, None, list,
dict, timezone-aware ``datetime``) and, where possible, a *vector* implementation working on whole
``pyarrow`` arrays.  ``expressions.py`` decides which one to call; this package only knows values.

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
unknown string escapes such as ``"\\d"`` keep their backslash; comparisons with NaN are false and ``%`` on
doubles is Java's (the sign of the dividend), as Java's operators have them.  ``fpid_to_ecid`` and the ``ua_*``
user-agent functions are not implemented (the ECID derivation is not documented).
"""

from __future__ import annotations

from .core import (
    FLOAT_PATTERN, INT_PATTERN, MAX_NESTING, MAX_STRING_LENGTH, NULL, SPACE, UNKNOWN, UTC, UTF8, Const,
    EvaluationError, Fallback, LimitError, Rows, as_array, as_aware, compare, const_value, format_float, from_python,
    is_number, json_ready, list_take, mask_errors, num_array, over_length, py_to_arrow, render_datetime, scalar_for,
    str_array, to_number, to_pylist, to_str, too_long, truthy, truthy_array, unify, values_equal,
)
from .dates import (
    DEFAULT_DATE_FORMATS, DatePattern, as_datetime, compile_date_pattern, format_datetime, format_timestamps,
    parse_dates, parse_with_pattern, pattern_tokens, ts_array, zone_from_name,
)
from .registry import (
    BATCHED_FUNCTIONS, FUNCTIONS, METHODS, OPERATORS, ROW_FUNCTIONS, VECTORISED_FUNCTIONS, Function,
)

__all__ = [
    "BATCHED_FUNCTIONS", "DEFAULT_DATE_FORMATS", "FLOAT_PATTERN", "FUNCTIONS", "INT_PATTERN", "MAX_NESTING",
    "MAX_STRING_LENGTH", "METHODS", "NULL", "OPERATORS", "ROW_FUNCTIONS", "SPACE", "UNKNOWN", "UTC", "UTF8",
    "VECTORISED_FUNCTIONS", "Const", "DatePattern", "EvaluationError", "Fallback", "Function", "LimitError", "Rows",
    "as_array", "as_aware", "as_datetime", "compare", "compile_date_pattern", "const_value", "format_datetime",
    "format_float", "format_timestamps", "from_python", "is_number", "json_ready", "list_take", "mask_errors",
    "num_array", "over_length", "parse_dates", "parse_with_pattern", "pattern_tokens", "py_to_arrow",
    "render_datetime", "scalar_for", "str_array", "to_number", "to_pylist", "to_str", "too_long", "truthy",
    "truthy_array", "ts_array", "unify", "values_equal", "zone_from_name",
]
