"""Data Prep expression limits: output size bombs and deep nesting give a clear error, never a 500 or a runaway
allocation.

- Strings: no function returns more than ``MAX_STRING_LENGTH`` (1,000,000) characters; a pad COUNT past it, or not
  a valid integer, is a row error (runs and preview rows) and fails validation when it is a constant (400).
- Nesting: expressions nested deeper than ``MAX_NESTING`` (100) levels fail to compile with the column; so does
  ``json_to_object`` of a constant JSON text nested deeper, and a row's JSON text nested deeper is a row error.

Engine-level checks call the public compile/evaluate API; the service-level ones go over loopback HTTP to AEP Local.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest

from aep_magics.local.engine import functions as F
from aep_magics.local.engine.expressions import (
    MAX_NESTING,
    EvaluationError,
    ExpressionError,
    compile_expression,
)

LIMIT = F.MAX_STRING_LENGTH
DP = "/data/foundation/conversion"
PROFILE = "https://ns.adobe.com/xdm/context/profile"


def both_paths(text: str, rows: list[dict], schema: dict | None = None) -> list[tuple[object, str | None]]:
    """[(value, error or None)] per row, after checking that the row and Arrow evaluators agree."""
    compiled = compile_expression(text)
    table = pa.Table.from_pylist(rows, schema=pa.schema(schema) if schema else None)
    values, errors = compiled.evaluate_arrow(table)
    by_row = dict(errors)
    out = []
    for i, row in enumerate(table.to_pylist()):
        try:
            value, error = compiled.evaluate_row(row), None
        except EvaluationError as exc:
            value, error = None, str(exc)
        assert (i in by_row) == (error is not None), (text, i, error, by_row)
        out.append((value, error))
    # a run writes the Arrow form of what the rows give
    assert values.to_pylist() == F.py_to_arrow([value for value, _ in out]).to_pylist(), text
    return out


# -- output size ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    'lpad("a", 300000000, "b")',
    'rpad("a", 5000000000)',
    'lpad(x, 5e9, "0")',
    f'rpad(x, {LIMIT + 1})',
    'lpad(x, "many")',
    'lpad(x, 2.5)',
    'lpad(x, null)',
])
def test_a_constant_pad_count_that_is_too_large_or_not_an_integer_fails_compilation(text):
    with pytest.raises(ExpressionError) as info:
        compile_expression(text)
    message = str(info.value)
    assert "COUNT" in message and "at column 1" in message and "\n" not in message


def test_a_pad_count_up_to_the_limit_is_fine():
    assert compile_expression(f'lpad("a", {LIMIT}, "xy")').evaluate_row() == ("xy" * LIMIT)[: LIMIT - 1] + "a"


def test_a_pad_count_read_from_the_row_is_a_row_error_on_both_paths():
    rows = [{"x": "ab", "c": 5_000_000_000}, {"x": "ab", "c": 4}, {"x": None, "c": 5_000_000_000},
            {"x": "ab", "c": LIMIT + 1}, {"x": "ab", "c": None}]
    out = both_paths('lpad(x, c, "-")', rows)
    assert out[1] == ("--ab", None) and out[2] == (None, None)
    for i in (0, 3):
        assert out[i][0] is None and "COUNT" in out[i][1] and "1,000,000" in out[i][1]
    assert "must not be null" in out[4][1]
    out = both_paths('rpad(x, c)', [{"x": "ab", "c": "lots"}, {"x": "ab", "c": "3"}])
    assert "COUNT must be an integer, got 'lots'" in out[0][1] and out[1] == ("ab ", None)


def test_the_vectorised_pad_builds_no_prefix_table():
    """Memory in proportion to the output: one row padded to 20,000 characters used to build all 20,001 prefixes
    (hundreds of MB); the peak resident size of a fresh interpreter must stay small."""
    script = textwrap.dedent("""
        import resource, pyarrow as pa
        from aep_magics.local.engine.expressions import compile_expression
        compile_expression('lpad(x, 5, "ab")').evaluate_arrow(pa.table({"x": ["warm", None]}))
        compiled = compile_expression('lpad(x, 20000, "ab")')
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        values, errors = compiled.evaluate_arrow(pa.table({"x": ["a", None, "é" * 19999]}))
        assert values.to_pylist() == [("ab" * 10000)[:19999] + "a", None, "a" + "é" * 19999] and not errors
        values, _ = compile_expression('lpad(x, 20000, "ĳ")').evaluate_arrow(pa.table({"x": ["z"] * 500}))
        assert values.to_pylist() == ["ĳ" * 19999 + "z"] * 500
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    grown_mb = int(done.stdout.strip())
    assert grown_mb < 60, f"peak memory grew by {grown_mb} MB"  # the output itself is about 20 MB


@pytest.mark.parametrize("text", [
    'replacestr(x, "", "0123456789")',
    'replacestr(x, "a", "0123456789")',
    'join(lpad("", 2000, "0123456789"), explode(substr(x, 0, 600), ""))',
    "concat(x, x)",
    "x + x",
    'concat(x, lpad("", 500000))',
])
def test_growing_functions_stop_at_the_limit(text):
    big = "a" * 600_000
    out = both_paths(text, [{"x": big}, {"x": "ab"}, {"x": None}])
    assert out[0][0] is None and "1,000,000" in out[0][1], out[0][1]
    assert out[1][1] is None and len(out[1][0]) <= LIMIT


@pytest.mark.parametrize("text", [
    'replacestr(replacestr(replacestr(replacestr(replacestr(replacestr(replacestr("abc", "", "0123456789"), "", '
    '"0123456789"), "", "0123456789"), "", "0123456789"), "", "0123456789"), "", "0123456789"), "", "0123456789")',
    'lpad("a", 999999) + lpad("b", 999999)',
    'join(lpad("", 999999), [1, 2, 3])',
])
def test_constant_bombs_fail_compilation(text):
    with pytest.raises(ExpressionError, match="1,000,000 at column"):
        compile_expression(text)


# -- nesting --------------------------------------------------------------------------------------------------------

DEEP = {
    "nested calls": "trim(" * 200 + "x" + ")" * 200,
    "parentheses": "(" * 250 + "x" + ")" * 250,
    "not": "!" * 2000 + "x",
    "brackets": "[" * 1000 + "]" * 1000,
    "unary minus": "-" * 300 + "x",
    "ternaries": "x ? " * 150 + "1" + " : 2" * 150,
    "an operator chain": " + ".join(["x"] * 150),
    "a method chain": "x" + ".trim()" * 150,
    "an index chain": "x" + "[y]" * 150,
    "objects": '{"a": ' * 150 + "1" + "}" * 150,
}


@pytest.mark.parametrize("kind", list(DEEP))
def test_nesting_past_the_limit_is_an_expression_error_with_its_column(kind):
    with pytest.raises(ExpressionError) as info:
        compile_expression(DEEP[kind])
    assert str(info.value).startswith(f"expression is nested more than {MAX_NESTING} levels deep at column ")
    assert info.value.position is not None and 1 <= info.value.position <= len(DEEP[kind])


def test_nesting_up_to_the_limit_evaluates_on_both_paths():
    text = "trim(" * (MAX_NESTING - 1) + "x" + ")" * (MAX_NESTING - 1)
    assert both_paths(text, [{"x": " a "}, {"x": None}]) == [("a", None), (None, None)]
    chain = " + ".join(["x"] * MAX_NESTING)
    assert both_paths(chain, [{"x": 1}]) == [(MAX_NESTING, None)]


def test_json_nested_past_the_limit_is_a_row_error():
    deep, fine = "[" * 150 + "]" * 150, "[" * MAX_NESTING + "]" * MAX_NESTING
    very_deep = '{"a": ' * 5000 + "1" + "}" * 5000
    out = both_paths("json_to_object(x)", [{"x": deep}, {"x": fine}, {"x": very_deep}, {"x": '{"a": [1]}'}])
    assert "nests deeper than the limit of 100 levels" in out[0][1] and out[2][1] == out[0][1]
    assert out[1][1] is None and out[3] == ({"a": [1]}, None)
    with pytest.raises(ExpressionError, match="json_to_object: the JSON nests deeper"):
        compile_expression(f"json_to_object({json.dumps(deep)})")


# -- the service: preview and validate over loopback HTTP ---------------------------------------------------------


def mapping_set(source: str) -> dict:
    return {"outputSchema": {"schemaRef": {"id": PROFILE,
                                           "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
            "mappings": [{"sourceType": "EXPRESSION", "source": source, "destination": "_id"}]}


@pytest.fixture(scope="module")
def J(raw):
    return raw.headers(json=True)


@pytest.mark.parametrize("source", ['lpad("a", 300000000, "b")', "(" * 250 + "x" + ")" * 250,
                                    f"json_to_object({json.dumps('[' * 150 + ']' * 150)})"])
def test_preview_and_validate_refuse_constant_bombs_and_deep_nesting(raw, J, source):
    r = raw.post(f"{DP}/mappingSets/preview", headers=J, json={"data": [{"x": "a"}], "mappingSet": mapping_set(source)})
    assert r.status_code == 400, r.text
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body) and "at column" in body["detail"]
    r = raw.post(f"{DP}/mappingSets/validate", headers=J, json=mapping_set(source))
    assert r.status_code == 200, r.text
    (result,) = r.json()["validationResponse"]
    assert result["status"] == "FAILED" and "at column" in result["errors"][0]["exception"]


def test_preview_reports_per_row_bombs_as_row_errors(raw, J):
    data = [{"x": "a", "c": 5_000_000_000}, {"x": "a", "c": 3}, {"x": "[" * 3000 + "]" * 3000, "c": 1}]
    r = raw.post(f"{DP}/mappingSets/preview", headers=J,
                 json={"data": data, "mappingSet": mapping_set("c > 1 ? lpad(x, c, \"0\") : json_to_object(x)")})
    assert r.status_code == 200, r.text
    first, second, third = r.json()
    assert "COUNT 5,000,000,000" in first["errors"][0]["exception"]
    assert second == {"data": {"_id": "00a"}, "errors": None}
    assert "nests deeper than the limit" in third["errors"][0]["exception"]
