"""One semantics for Data Prep expressions: the row evaluator (preview, ``/mappingSets/preview``) and the
vectorised Arrow evaluator (dataflow runs) give the same value and the same error/no-error for every row.

A hypothesis strategy builds expressions over a few typed source columns from the function catalogue (the
registry), with well-typed and ill-typed arguments, operators, ternaries and nesting; each one runs on a generated
batch both ways through ``compile_mappings(...).apply_rows`` (preview) and ``.apply`` (runs), and the results are
compared row by row.  The row evaluator is the reference; the vectorised one must give what it gives.

The default suite runs a bounded sample; ``-m slow`` runs at least 10,000 cases.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aep_magics.local.engine import functions as F
from aep_magics.local.engine.expressions import EvalContext
from aep_magics.local.engine.mapping import MappingError, compile_mappings, normalise_mappings

NOW = dt.datetime(2021, 10, 26, 10, 10, 24, tzinfo=dt.UTC)

# -- source columns ------------------------------------------------------------------------------------------------

TEXTS = ["", " ", "abc", "Alice", "  Bob ", "İstanbul", "straße", "ΟΔΟΣ", "ǅ", "ﬃ", "x\ty", "\u00a0nb\u2028",
         "\x1fctl\x1c", "12", " -7 ", "1.5", "1e3", "99999999999", "true", "null", "a,b;c", "a@b.c", "Ünïcödé",
         "%41+b", "5.", ".5", "+5", "007", "٣", "1\x0b", "https://shop.example.com:8443/a/b?x=1&y=2#top",
         "http://[::1]/p", "😀 emoji", "ab" * 30]
DATES = ["2021-03-04", "2021-03-04 05:06:07", "03/04/2021", "2020-02-29T23:59:59Z", "2021-13-40", "20210304",
         "04-Mar-2021", "2021-03-04T05:06:07.123+02:00", "not a date", "1614816000000"]
JSONS = ['{"a": 1, "b": [1, 2]}', "[1, 2.5, \"x\"]", '{"a": {"b": null}}', "[]", "{}", '"s"', "3", "true",
         "{bad", '[[[[1]]]]', '{"k": "İ"}']

COLUMNS = {
    "s": (pa.string(), st.sampled_from(TEXTS) | st.text(max_size=6)),
    "i": (pa.int64(), st.sampled_from([0, 1, -1, 2, 3, 7, 10, 255, -4, 86400000, 2**31, 2**31 - 1, -(2**31) - 1,
                                       2**62, 1614816000000])),
    "f": (pa.float64(), st.sampled_from([0.0, -0.0, 1.0, 2.5, -1.25, 0.1, 1e20, 3.0, 1e-7, 123456.789,
                                         float("inf"), float("nan")])),
    "b": (pa.bool_(), st.booleans()),
    "d": (pa.string(), st.sampled_from(DATES)),
    "j": (pa.string(), st.sampled_from(JSONS)),
}


@st.composite
def batches(draw) -> pa.Table:
    n = draw(st.integers(1, 5))
    data = {}
    for name, (kind, values) in COLUMNS.items():
        null_rate = draw(st.sampled_from([0.0, 0.3, 1.0]))
        column = [None if draw(st.floats(0, 1)) < null_rate else draw(values) for _ in range(n)]
        data[name] = pa.array(column, type=kind)
    return pa.table(data)


# -- expressions ---------------------------------------------------------------------------------------------------

_SKIP = {"uuid", "guid", "contains_key", "is_set"}  # volatile (a different draw order per path) / compile-time only
FUNCTION_NAMES = sorted(n for n in F.FUNCTIONS if n not in _SKIP)
METHOD_NAMES = sorted(F.METHODS)
BINARY = ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||"]

STRING_LITERALS = ["", " ", "a", "x,y", "İ", "ß", "-", "0", "12", "2.5", "true", "UTF-8", "UTF-16", "yyyy-MM-dd",
                   "dd/MM/yyyy HH:mm", "EEE, d MMM yyyy", "XXX", "year", "dw", "hh12", "month", "week",
                   "Europe/Paris", "PST", "+05:30", "retain", "append", "remove", "{\"a\": 1}", "[1, 2]", "a",
                   "b", "k", "@", ",", ".", "yyyy-MM-dd HH:mm:ss", "2021-03-04", "b{2}", "[a-z]+", "(a)(b)?"]


def _string_literal(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


FIELDS = st.sampled_from(list(COLUMNS) + ["zz", "s", "s", "i", "f", "d", "j"])
LEAVES = st.one_of(
    FIELDS, FIELDS, FIELDS,
    st.sampled_from(STRING_LITERALS).map(_string_literal),
    st.sampled_from(["0", "1", "2", "3", "-1", "5", "10", "1000", "2.5", "0.5", "-3", "86400000", "3000000000"])
    .map(lambda t: f"({t})" if t.startswith("-") else t),
    st.sampled_from(["true", "false", "null"]),
)


# well-typed arguments: what each parameter of a function expects (the rest take anything)
TYPED = {
    "str": st.sampled_from(["s", "s", "d", "j", "lower(s)", "trim(s)", '"İ"', '"a,b"', '""']),
    "int": st.sampled_from(["i", "0", "1", "2", "5", "(-1)", "size_of(s)", "300", "to_integer(s)"]),
    "num": st.sampled_from(["i", "f", "2.5", "3", "(-1)", "0"]),
    "date": st.sampled_from(["d", "date(d)", "now()", "i", '"2021-03-04"', "date(d, \"yyyy-MM-dd\")"]),
    "fmt": st.sampled_from(['"yyyy-MM-dd"', '"dd/MM/yyyy HH:mm"', '"EEE, d MMM yyyy hh:mm a"', '"XXX"',
                            '"yyyy-MM-dd\'T\'HH:mm:ss.SSSX"', '"D"', '"V z"', "s"]),
    "zone": st.sampled_from(['"Europe/Paris"', '"PST"', '"+05:30"', '"UTC"', '"Nowhere/Zone"', "s"]),
    "part": st.sampled_from(['"year"', '"dw"', '"hh12"', '"month"', '"week"', '"ms"', '"nope"', "s"]),
    "json": st.sampled_from(["j", "s", '"{\\"a\\": [1, 2]}"']),
    "array": st.sampled_from(['split(s, ",")', "explode(s)", "[s, i]", "[i, f]", "json_to_object(j)", "[]",
                              'split(d, "-")', "[1, 2, 3]"]),
    "obj": st.sampled_from(["json_to_object(j)", 'to_object("a", s, "b", i)', "get_url_query_str(s)",
                            'str_to_object(s, ":", ",")']),
    "bool": st.sampled_from(["b", "true", "false", "i > 2", "is_empty(s)"]),
    "url": st.sampled_from(["s", '"https://u:p@shop.example.com:8443/a/b?x=1&y=2#top"', '"ftp://f.org/p.txt"']),
}
SIGNATURES = {
    "concat": "str*", "explode": "str str", "instr": "str str int int", "replacestr": "str str str",
    "substr": "str int int", "lower": "str", "lcase": "str", "upper": "str", "ucase": "str", "split": "str str",
    "join": "str array", "lpad": "str int str", "rpad": "str int str", "left": "str int", "right": "str int",
    "ltrim": "str", "rtrim": "str", "trim": "str", "sha1": "str str", "sha256": "str str", "sha512": "str str",
    "md5": "str str", "crc32": "str str", "get_url_protocol": "url", "get_url_host": "url", "get_url_port": "url",
    "get_url_path": "url bool", "get_url_query_str": "url str", "get_url_encoded": "str",
    "get_url_decoded": "str", "format": "date fmt", "dformat": "int fmt", "date": "str fmt date",
    "date_part": "part date", "set_date_part": "part int date", "make_date_time": "int int int int int int int zone",
    "make_timestamp": "int int int int int int int zone", "zone_date_to_utc": "date", "zone_date_to_zone": "date zone",
    "is_empty": "str", "empty": "str", "size_of": "array", "size": "array", "get_keys": "obj",
    "get_values": "str str str str", "str_to_object": "str str str", "first": "array", "last": "array",
    "to_integer": "str", "to_bigint": "str", "to_decimal": "num", "to_float": "str", "json_to_object": "json",
    "iif": "bool any any", "min": "num*", "max": "num*", "coalesce": "any*", "decode": "str str any str any",
    "add_to_array": "array any*", "join_arrays": "array*", "to_array": "bool any*", "arrays_to_object": "str array*",
}


def _call(draw, children, name: str, fn: F.Function, shift: int = 0) -> list[str]:
    low = fn.min_args - shift
    high = (fn.max_args if fn.max_args is not None else fn.min_args + 3) - shift
    count = draw(st.integers(max(low, 0), max(min(high, low + 3), 0)))
    kinds = SIGNATURES.get(name, "").split() if not shift else []
    args = []
    for k in range(count):
        kind = kinds[min(k, len(kinds) - 1)].rstrip("*") if kinds else "any"
        typed = kind != "any" and draw(st.booleans())
        args.append(draw(TYPED[kind]) if typed else draw(children))
    return args


@st.composite
def _compound(draw, children) -> str:
    kind = draw(st.sampled_from(["fn", "fn", "fn", "fn", "method", "binary", "binary", "unary", "ternary",
                                 "elvis", "index", "array", "object"]))
    if kind == "fn":
        name = draw(st.sampled_from(FUNCTION_NAMES))
        return f"{name}({', '.join(_call(draw, children, name, F.FUNCTIONS[name]))})"
    if kind == "method":
        name = draw(st.sampled_from(METHOD_NAMES))
        args = _call(draw, children, name, F.METHODS[name], shift=1)
        return f"({draw(children)}).{name}({', '.join(args)})"
    if kind == "binary":
        return f"({draw(children)} {draw(st.sampled_from(BINARY))} {draw(children)})"
    if kind == "unary":
        return f"{draw(st.sampled_from(['!', '-']))}({draw(children)})"
    if kind == "ternary":
        return f"({draw(children)} ? {draw(children)} : {draw(children)})"
    if kind == "elvis":
        return f"({draw(children)} ?: {draw(children)})"
    if kind == "index":
        return f"({draw(children)})[{draw(children)}]"
    if kind == "array":
        return f"[{', '.join(draw(st.lists(children, max_size=3)))}]"
    keys = draw(st.lists(st.sampled_from(["a", "b", "k"]), max_size=3, unique=True))
    return "{" + ", ".join(f'"{k}": {draw(children)}' for k in keys) + "}"


def _levels(depth: int) -> list[st.SearchStrategy[str]]:
    levels = [LEAVES]
    for _ in range(depth):
        below = levels[-1]
        levels.append(st.one_of(LEAVES, _compound(below), _compound(below), _compound(below)))
    return levels


#: expressions of one to four levels of calls and operators (mostly over columns, so that the vector kernels run)
EXPRESSIONS = st.one_of(_levels(4)[1:])


# -- the comparison --------------------------------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    """A comparable form: datetimes as UTC instants, object keys holding null dropped (an Arrow struct column has
    every key of the batch), NaN as a marker; types kept (1 and 1.0 differ, as their text does)."""
    if isinstance(value, dt.datetime):
        return ("datetime", F.as_aware(value).astimezone(dt.UTC).isoformat())
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def disagreements(text: str, table: pa.Table) -> list[str] | None:
    """How the two paths differ on this batch (empty: they agree); None when the expression does not compile."""
    mapping = normalise_mappings([{"sourceType": "EXPRESSION", "source": text, "destination": "out"}])
    try:
        compiled = compile_mappings(mapping)
    except MappingError:
        return None
    expression = compiled.mappings[0].expression
    rows = table.to_pylist()
    expected: list[Any] = []
    failed: list[bool] = []
    for row in rows:
        try:
            expected.append(expression.evaluate_row(row, EvalContext.deterministic(NOW)))
            failed.append(False)
        except F.EvaluationError:
            expected.append(None)
            failed.append(True)
    out, errors = compiled.apply(table, EvalContext.deterministic(NOW))
    run_failed = [False] * len(rows)
    for row_index, _destination, _code, _message in errors:
        run_failed[row_index] = True
    # what a run writes is the Arrow form of the values: the row path's values, converted the same way
    want = F.py_to_arrow(expected).to_pylist()
    got = out.column("out").to_pylist()
    problems = []
    for i in range(len(rows)):
        if failed[i] != run_failed[i]:
            problems.append(f"row {i}: preview {'fails' if failed[i] else 'succeeds'}, run "
                            f"{'fails' if run_failed[i] else 'succeeds'} ({rows[i]})")
        elif _canonical(want[i]) != _canonical(got[i]):
            problems.append(f"row {i}: preview {want[i]!r}, run {got[i]!r} ({rows[i]})")
    preview = compiled.apply_rows(rows, EvalContext.deterministic(NOW))
    for i, result in enumerate(preview):
        if bool(result["errors"]) != failed[i]:
            problems.append(f"row {i}: apply_rows and evaluate_row disagree on failing")
    return problems


SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)


@settings(max_examples=1000, **SETTINGS)
@given(text=EXPRESSIONS, table=batches())
def test_row_and_vectorised_evaluation_agree(text, table):
    problems = disagreements(text, table)
    assert not problems, f"{text}\n" + "\n".join(problems)


@pytest.mark.slow
@settings(max_examples=10_000, **SETTINGS)
@given(text=EXPRESSIONS, table=batches())
def test_row_and_vectorised_evaluation_agree_at_length(text, table):
    problems = disagreements(text, table)
    assert not problems, f"{text}\n" + "\n".join(problems)
