"""Type conversions and JSON functions of Data Prep
(https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions): to_integer, to_bigint,
to_decimal, to_float, json_to_object.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .core import (
    MAX_NESTING, Const, EvaluationError, Fallback, LimitError, _FLOAT_RE, _INT_RE, _is_string, _parse_numbers, _q,
    is_number, mask_errors, to_str,
)


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
            values, errs = _parse_numbers(v, integral_only=integral, message=lambda x: _convert_message(x, kind),
                                          floats=floats)
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


def depth_of(value: Any) -> int:
    """How deep the lists and objects of a value nest (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((x, level + 1) for x in (item.values() if isinstance(item, dict) else item))
    return deepest


def fn_json_to_object(ctx, s):
    if s is None or isinstance(s, (dict, list)):
        return s
    too_deep = LimitError(f"the JSON nests deeper than the limit of {MAX_NESTING} levels")
    try:
        value = json.loads(to_str(s))
    except ValueError as exc:
        raise EvaluationError(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise too_deep from None
    if depth_of(value) > MAX_NESTING:
        raise too_deep
    return value
