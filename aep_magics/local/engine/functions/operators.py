"""Data Prep operators (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions):
comparison (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``), arithmetic (``+``, ``-``, ``*``, ``/``, ``%``, unary
minus) and ``not``; ``+`` also concatenates strings.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .core import (
    Const, EvaluationError, Fallback, _is_numeric, _is_string, _s, as_aware, check_length, compare, is_number,
    mask_errors, might_be_too_long, num_array, str_array, to_number, to_str, truthy, truthy_array, values_equal,
)


def op_eq(ctx, a, b):
    return values_equal(a, b)


def op_ne(ctx, a, b):
    return not values_equal(a, b)


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _ordering(test: Callable[[int], bool]):
    def row(ctx, a, b):
        if a is None or b is None:
            return False
        c = compare(a, b)
        if _is_nan(a) or _is_nan(b):  # (numeric strings never parse as NaN)
            return False  # as in Java (IEEE 754): NaN is neither smaller, larger nor equal
        return test(c)

    return row


def _where_both_valid(errs: dict[int, str], a: Any, b: Any) -> dict[int, str]:
    """The errors of the rows where neither operand is null (the row operators answer a null operand before
    converting the other one)."""
    if not errs:
        return errs
    nulls = [pc.is_null(v).to_numpy(zero_copy_only=False) for v in (a, b) if isinstance(v, pa.Array)]
    return {i: m for i, m in errs.items() if not any(mask[i] for mask in nulls)}


def _both_kind(a, b, n) -> tuple[Any, Any, dict[int, str]]:
    """Bring two operands to comparable Arrow types (mirrors ``compare``/``values_equal``)."""
    kind_a, kind_b = _kind(a), _kind(b)
    if kind_a == kind_b and kind_a in ("num", "str", "ts", "bool"):
        return a, b, {}
    if {kind_a, kind_b} <= {"num", "str"}:
        na, ea = num_array(a, n)
        nb, eb = num_array(b, n)
        return na, nb, _where_both_valid({**eb, **ea}, a, b)
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
        x, y = to_str(a), to_str(b)
        check_length(len(x) + len(y))
        return x + y
    x, y = to_number(a), to_number(b)
    return x + y


def _vec_add(ctx, n, a, b):
    ka, kb = _kind(a), _kind(b)
    if "null" in (ka, kb):
        return Const(None)
    if "str" in (ka, kb) and {ka, kb} <= {"str", "num", "bool", "ts"}:
        x, y = str_array(a, n), str_array(b, n)
        if might_be_too_long([x, y], n):
            raise Fallback  # the rows check the length before they build the string
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
    x, y = float(x), float(y)
    if math.isinf(x) or math.isnan(x) or math.isnan(y):
        return math.nan
    return math.fmod(x, y)  # Java's % on doubles: the sign of the dividend, x % ±Infinity == x


def _vec_arith(op):
    def vec(ctx, n, a, b):
        if isinstance(a, Const) and a.value is None or isinstance(b, Const) and b.value is None:
            return Const(None)
        x, ex = num_array(a, n)
        y, ey = num_array(b, n)
        errs = _where_both_valid({**ey, **ex}, a, b)
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
            zero_errs = _where_both_valid(mask_errors(zero, lambda i: "division by zero"), x, y)
            for i, message in zero_errs.items():
                errs.setdefault(i, message)
            safe_y = pc.if_else(zero, pa.scalar(1, y.type), y)
        x_type = pa.scalar(x).type if not isinstance(x, pa.Array) else x.type
        y_type = pa.scalar(safe_y).type if not isinstance(safe_y, pa.Array) else safe_y.type
        integral = pa.types.is_integer(x_type) and pa.types.is_integer(y_type)
        if op == "%" and not integral:
            return _vec_fmod(x, safe_y, n), errs
        quotient = pc.divide(x, safe_y)
        if op == "/":
            return quotient, errs
        return pc.subtract(x, pc.multiply(safe_y, quotient)), errs

    return vec


def _vec_fmod(x: Any, y: Any, n: int) -> pa.Array:
    """Java's % on doubles for Arrow operands (arrays or Python numbers): numpy's fmod, nulls kept."""
    def floats(v):
        if isinstance(v, pa.Array):
            return pc.fill_null(v.cast(pa.float64()), 1.0).to_numpy(zero_copy_only=False), pc.is_null(v)
        return np.full(n, float(v)), None

    (xv, xnull), (yv, ynull) = floats(x), floats(y)
    with np.errstate(invalid="ignore"):
        out = np.fmod(xv, yv)
    nulls = [m for m in (xnull, ynull) if m is not None]
    mask = functools.reduce(pc.or_, nulls).to_numpy(zero_copy_only=False) if nulls else None
    return pa.array(out, type=pa.float64(), mask=mask)


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
