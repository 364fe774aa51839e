"""Hierarchies - Objects and Hierarchies - Arrays of Data Prep
(https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions): is_empty, size_of,
to_object, arrays_to_object, str_to_object, get_keys, get_values, contains_key, nullify, coalesce, first, last,
add_to_array, join_arrays, to_array, upsert_array_append/replace, and the ``get`` method.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .core import Const, EvaluationError, Fallback, _as_int, _is_string, _q, is_number, list_take, to_str, truthy, unify


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


def fn_contains_key(ctx, path):  # replaced by a path lookup at compile time; kept for the registry
    raise EvaluationError("contains_key expects a string literal path")
