"""String functions of Data Prep (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions):
concat, explode, instr, replacestr, substr, lower/upper, split, join, lpad/rpad, left/right, ltrim/rtrim/trim, and
the string methods (equals, equalsIgnoreCase, contains, startsWith, endsWith, toString, toLowerCase, ...).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .core import (
    MAX_STRING_LENGTH, NULL, SPACE, UNKNOWN, Const, EvaluationError, Fallback, LimitError, _as_int, _int_arg,
    _null_where, _q, _s, _string_arg, check_length, might_be_too_long, str_array, to_str,
)
from .operators import _vec_equal
from .regex import compile_pattern


def fn_concat(ctx, *args):
    if all(a is None for a in args):
        return None
    parts = [to_str(a) or "" for a in args]
    check_length(sum(map(len, parts)))
    return "".join(parts)


def vec_concat(ctx, n, *args):
    parts = [str_array(a, n) for a in args]
    if might_be_too_long(parts, n):
        raise Fallback  # the rows check the length before they build the string
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


def _full_case(py: Callable[[str], str], kernel: Callable[[pa.Array], pa.Array]) -> Callable[[pa.Array], pa.Array]:
    """Arrow's case kernels map one code point at a time; Java (and Python) use the full Unicode mappings
    ("İ" → "i̇", "ß" → "SS", a final "Σ" → "ς"), so rows with non-ASCII text are converted in Python."""

    def convert(arr: pa.Array) -> pa.Array:
        out = kernel(arr)
        non_ascii = pc.invert(pc.fill_null(pc.string_is_ascii(arr), True))
        if not pc.any(non_ascii).as_py():
            return out
        texts = pc.filter(arr, non_ascii).to_pylist()
        return pc.replace_with_mask(out, non_ascii, pa.array([py(t) for t in texts], type=out.type))

    return convert


_lower_kernel = _full_case(str.lower, pc.utf8_lower)
_upper_kernel = _full_case(str.upper, pc.utf8_upper)
fn_lower, vec_lower = _str_unary(str.lower, _lower_kernel)
fn_upper, vec_upper = _str_unary(str.upper, _upper_kernel)
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
    find, rep = to_str(find), to_str(replacement) or ""
    if len(rep) > len(find):  # the length is known before the string is built
        check_length(len(s) + s.count(find) * (len(rep) - len(find)))
    return s.replace(find, rep)


def vec_replacestr(ctx, n, s, find, replacement):
    pattern, rep = _string_arg(find), _string_arg(replacement) or ""
    if pattern is None:
        return str_array(s, n)
    if pattern == "":
        raise Fallback  # Arrow loops forever on an empty pattern; Python matches Java here
    arr = str_array(s, n)
    if isinstance(arr, Const):
        raise Fallback
    growth = len(rep) - len(pattern)
    if growth > 0:
        lengths = pc.add(pc.utf8_length(arr).cast(pa.int64()),
                         pc.multiply(pc.count_substring(arr, pattern).cast(pa.int64()), growth))
        over = pc.fill_null(pc.greater(lengths, MAX_STRING_LENGTH), False)
        if pc.any(over).as_py():
            raise Fallback  # the rows past the limit report it; no string is built for them
    return pc.replace_substring(arr, pattern=pattern, replacement=rep)


def _pad_text(pad: Any) -> str:
    pad = to_str(pad)
    return pad if pad else " "


def pad_size(count: Any) -> int:
    """The COUNT of lpad/rpad: an integer no larger than MAX_STRING_LENGTH (a smaller one leaves the string as it
    is)."""
    try:
        size = _as_int(count, "COUNT")
    except EvaluationError as exc:
        raise EvaluationError(f"COUNT must be an integer, got {_q(count)}" if count is not None else str(exc)) from None
    if size > MAX_STRING_LENGTH:
        raise LimitError(f"COUNT {size:,} is more than the longest string allowed ({MAX_STRING_LENGTH:,} characters)")
    return size


def check_pad(args: list) -> None:
    """Validation of a constant COUNT (raises EvaluationError)."""
    if len(args) > 1 and args[1] is not UNKNOWN:
        pad_size(args[1])


def _pad(s, count, pad, left):
    s = to_str(s)
    if s is None:
        return None
    need = pad_size(count) - len(s)
    if need <= 0:
        return s
    pad = _pad_text(pad)
    fill = (pad * (need // len(pad) + 1))[:need]
    return fill + s if left else s + fill


def _prefixes(text: str, need: np.ndarray) -> pa.Array:
    """Row i holds the first ``need[i]`` characters of ``text`` repeated; memory in proportion to the output."""
    top = int(need.max()) if len(need) else 0
    full = (text * (top // len(text) + 1))[:top]
    encoded = full.encode("utf-8")
    if len(encoded) == len(full):
        ends = need.astype(np.int64)
    else:  # the byte offset of every character boundary
        points = np.frombuffer(full.encode("utf-32-le"), dtype=np.uint32)
        widths = 1 + (points >= 0x80).astype(np.int64) + (points >= 0x800) + (points >= 0x10000)
        ends = np.concatenate([[0], np.cumsum(widths)])[need]
    view = memoryview(encoded)
    data = b"".join(view[:k] for k in ends.tolist())
    offsets = np.concatenate([[0], np.cumsum(ends)])
    kind = pa.string() if len(data) < 2**31 else pa.large_string()
    offsets = offsets.astype(np.int32 if kind == pa.string() else np.int64)
    return pa.Array.from_buffers(kind, len(need), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _vec_pad(left):
    def vec(ctx, n, s, count, pad=SPACE):
        if not isinstance(count, Const) or count.value is None:
            raise Fallback
        size = pad_size(count.value)  # an EvaluationError: the rows report it (a null string stays null)
        text = _pad_text(_string_arg(pad))
        arr = str_array(s, n)
        if isinstance(arr, Const):
            raise Fallback
        if size <= 0:
            return arr
        lengths = pc.fill_null(pc.utf8_length(arr), size).to_numpy(zero_copy_only=False)
        fills = _prefixes(text, np.maximum(size - lengths.astype(np.int64), 0))
        if fills.type != arr.type:
            arr = arr.cast(fills.type)
        return pc.binary_join_element_wise(fills, arr, "") if left else pc.binary_join_element_wise(arr, fills, "")

    return vec


def fn_lpad(ctx, s, count, pad=" "):
    """``lpad(STRING, COUNT, PADDING)``: STRING padded on the left to COUNT characters with PADDING repeated
    (a space by default). COUNT is an integer of at most MAX_STRING_LENGTH (1,000,000, AEP Local's limit): a larger
    one, or one that is not an integer, is a row error, and fails validation when it is a constant."""
    return _pad(s, count, pad, True)


def fn_rpad(ctx, s, count, pad=" "):
    """``rpad(STRING, COUNT, PADDING)``: as :func:`fn_lpad`, padded on the right (same COUNT limit)."""
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
    return [p for p in compile_pattern(_char_class(sep)).split(s) if p]


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
    rx = compile_pattern(pattern)
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
    parts = [to_str(v) or "" for v in values]
    check_length(sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0))
    return sep.join(parts)


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
            x = Const(x.value.lower() if x.value is not None else None) if isinstance(x, Const) else _lower_kernel(x)
            y = Const(y.value.lower() if y.value is not None else None) if isinstance(y, Const) else _lower_kernel(y)
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
