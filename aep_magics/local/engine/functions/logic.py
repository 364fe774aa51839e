"""Logical operators and Aggregation of Data Prep
(https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions): decode, iif, min, max.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .core import Const, Fallback, _is_string, compare, py_to_arrow, truthy, truthy_array, unify, values_equal
from .hierarchies import _pairs, _spread


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
    if len(kinds) > 1 or not kinds <= {str, int, float, bool}:
        raise Fallback  # one Arrow type holds the results exactly (1 stays 1, not 1.0)
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
        if any(isinstance(a, pa.Array) and pa.types.is_floating(a.type) and pc.any(pc.is_nan(a)).as_py()
               for a in args):
            raise Fallback  # NaN compares equal to everything on the row path (the first one stays); Arrow skips it
        arrays = unify(list(args), n)
        kernel = pc.max_element_wise if pick_max else pc.min_element_wise
        return kernel(*arrays, skip_nulls=True)

    return row, vec
