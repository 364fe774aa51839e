"""The registry of the expression language: every function, method and operator by name, with its arity and its
row and vector implementations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow.compute as pc

from .operators import (
    _arith_row, _java_div, _java_mod, _ordering, _vec_add, _vec_arith, _vec_equal, _vec_neg, _vec_not, _vec_ordering,
    op_add, op_eq, op_ne, op_neg, op_not,
)
from .strings import (
    _vec_pad, _vec_str_equal, check_pad, fn_concat, fn_contains, fn_ends_with, fn_equals, fn_equals_ignore_case,
    fn_explode, fn_instr, fn_join, fn_left, fn_lower, fn_lpad, fn_ltrim, fn_replacestr, fn_right, fn_rpad, fn_rtrim,
    fn_split, fn_starts_with, fn_substr, fn_to_string, fn_trim, fn_upper, vec_concat, vec_contains, vec_ends_with, vec_instr,
    vec_left, vec_lower, vec_ltrim, vec_replacestr, vec_right, vec_rtrim, vec_split, vec_starts_with, vec_substr,
    vec_to_string, vec_trim, vec_upper,
)
from .regex import fn_extract_regex, fn_matches_regex, vec_matches_regex
from .hashing import _hash_function
from .urls import (
    fn_get_url_decoded, fn_get_url_encoded, fn_get_url_host, fn_get_url_path, fn_get_url_port, fn_get_url_protocol,
    fn_get_url_query_str,
)
from .dates import (
    fn_date, fn_date_part, fn_dformat, fn_format, fn_make_date_time, fn_now, fn_set_date_part, fn_timestamp,
    fn_zone_date_to_utc, fn_zone_date_to_zone, vec_date, vec_date_part, vec_dformat, vec_format, vec_now,
    vec_timestamp, vec_zone_date_to_utc, vec_zone_date_to_zone,
)
from .hierarchies import (
    _vec_pick, fn_add_to_array, fn_arrays_to_object, fn_coalesce, fn_contains_key, fn_first, fn_get, fn_get_keys,
    fn_get_values, fn_is_empty, fn_join_arrays, fn_last, fn_nullify, fn_size_of, fn_str_to_object, fn_to_array,
    fn_to_object, fn_upsert_array, vec_coalesce, vec_get, vec_is_empty, vec_nullify, vec_size_of,
)
from .logic import _extreme, fn_decode, fn_iif, vec_decode, vec_iif
from .conversions import _vec_convert, fn_json_to_object, fn_to_bigint, fn_to_decimal, fn_to_float, fn_to_integer
from .special import fn_uuid, vec_uuid


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
    #: validation of the arguments known at compile time (the others are UNKNOWN); raises EvaluationError
    check: Callable[[list], None] | None = None

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
              batched=False, check=None) -> None:
    for name in [names] if table is OPERATORS else names.split("/"):
        label = "" if table is OPERATORS else name
        table[name] = Function(name, lo, hi, row, vec, volatile=volatile, batched=batched, label=label,
                               check=check)


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
_fn("lpad", 2, 3, fn_lpad, _vec_pad(True), check=check_pad)
_fn("rpad", 2, 3, fn_rpad, _vec_pad(False), check=check_pad)
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
