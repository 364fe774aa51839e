"""Regular expressions cannot freeze AEP Local: Data Prep patterns run on RE2, in linear time.

Python's ``re`` backtracks: ``matches_regex(Email, "(a+)+$")`` on ``"a" * 28 + "!"`` took 22 s in a mapping preview
and held the interpreter all that time (the health check waited too), and ``extract_regex(Email, "(.*)*x$")`` in a
flow stopped the server for good. Each case here went through that path; the time limits are catastrophe guards
(the old engine needed tens of seconds to hours), not performance checks.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

import pyarrow as pa
import pytest
import requests
from test_engine_e2e import Kit, _source

from aep_magics import local
from aep_magics.local.engine.expressions import ExpressionError, compile_expression
from aep_magics.local.engine.mapping import compile_mappings, normalise_mappings

DP = "/data/foundation/conversion"
SR = "/data/foundation/schemaregistry"
SANDBOXES = "/data/foundation/sandbox-management/sandboxes"
SANDBOX = "regex-dos-tests"
PROFILE_GROUPS = ["https://ns.adobe.com/xdm/context/profile-person-details",
                  "https://ns.adobe.com/xdm/context/profile-personal-details"]
EVIL = "a" * 28 + "!"
#: Far past any backtracking engine's reach, and still instant for RE2.
LONG_EVIL = "a" * 50_000 + "!"
CATASTROPHE = 5.0


def timed(call: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    out = call()
    return out, time.perf_counter() - start


# -- the engine: row-wise and vectorised ----------------------------------------------------------------------------
@pytest.mark.parametrize("text", [EVIL, LONG_EVIL])
def test_nested_quantifier_row_and_vectorised(text):
    expr = compile_expression('matches_regex(Email, "(a+)+$")')
    assert expr.vectorised
    value, seconds = timed(lambda: expr.evaluate_row({"Email": text}))
    assert value is False and seconds < CATASTROPHE
    table = pa.table({"Email": [text, "aaaa", None, "b"]})
    (values, errors), seconds = timed(lambda: expr.evaluate_arrow(table))
    assert values.to_pylist() == [False, True, None, False] and errors == [] and seconds < CATASTROPHE


@pytest.mark.parametrize("text", [EVIL, LONG_EVIL])
def test_nested_star_row_and_vectorised(text):
    expr = compile_expression('extract_regex(Email, "(.*)*x$")')
    value, seconds = timed(lambda: expr.evaluate_row({"Email": text}))
    assert value is None and seconds < CATASTROPHE
    table = pa.table({"Email": [text, "noah@example.com.mx", None] * 1000})
    (values, errors), seconds = timed(lambda: expr.evaluate_arrow(table))
    assert errors == [] and seconds < CATASTROPHE
    assert [None if v is None else v[0] for v in values.to_pylist()[:3]] == [None, "noah@example.com.mx", None]


def test_split_functions_use_the_same_engine():
    expr = compile_expression('explode(Email, "(a+)+b")')
    value, seconds = timed(lambda: expr.evaluate_row({"Email": EVIL + "xaab" + EVIL}))
    assert value == [EVIL + "x", EVIL] and seconds < CATASTROPHE
    assert compile_expression('split(Email, "+.")').evaluate_row({"Email": "a+b.c"}) == ["a", "b", "c"]


def test_java_escapes_keep_their_meaning():
    row = {"s": "Été\n"}
    assert compile_expression('matches_regex(s, "\\\\u00c9t.\\\\s")').evaluate_row(row) is True
    assert compile_expression('extract_regex(s, "t(.)\\\\Z")').evaluate_row({"s": "Été"}) == ["té", "é"]
    assert compile_expression('extract_regex(s, "\\\\Qa.b\\\\E")').evaluate_row({"s": "xa.b"}) == ["a.b"]


@pytest.mark.parametrize(("pattern", "construct"), [
    ("(a)\\\\1", "a backreference (\\1)"),
    ("(a)\\\\10", "a backreference (\\1)"),
    ("(?<n>a)\\\\k<n>", "a named backreference"),
    ("a(?=b)", "a lookahead"),
    ("a(?!b)", "a negative lookahead"),
    ("(?<=a)b", "a lookbehind"),
    ("(?<!a)b", "a negative lookbehind"),
    ("(?>a+)b", "an atomic group"),
    ("a++b", "a possessive quantifier (++)"),
    ("a{2}+b", "a possessive quantifier ({2}+)"),
])
def test_constructs_without_a_linear_time_match_are_refused_by_name(pattern, construct):
    with pytest.raises(ExpressionError) as info:
        compile_expression(f'extract_regex(Email, "{pattern}")')
    message = str(info.value)
    assert message.startswith("extract_regex: ") and construct in message and "RE2" in message
    assert "\n" not in message


def test_a_pattern_too_large_to_compile_is_refused():
    with pytest.raises(ExpressionError, match=r"matches_regex: .* is too large: .* 8 MiB"):
        compile_expression('matches_regex(Email, "\\\\pL{1000}")')


def test_a_computed_unsupported_pattern_is_a_row_error_in_a_run():
    """Only a literal pattern can be checked when the mapping set is compiled; a computed one fails each row."""
    mapping = compile_mappings(normalise_mappings({"mappings": [
        {"sourceType": "EXPRESSION", "source": 'extract_regex(Email, concat("(a)", "\\\\1"))',
         "destination": "personalEmail.address"},
        {"sourceType": "ATTRIBUTE", "source": "Email", "destination": "workEmail.address"}]}))
    table = pa.table({"Email": ["aa", None, "b"]})
    columns, errors = mapping.apply(table)
    assert columns.column("workEmail.address").to_pylist() == ["aa", None, "b"]
    assert [(row, dest, code) for row, dest, code, _ in errors] == [
        (0, "personalEmail.address", "MAPPER-3700-400"), (2, "personalEmail.address", "MAPPER-3700-400")]
    assert all("extract_regex: " in message and "a backreference (\\1)" in message for *_, message in errors)
    preview = mapping.apply_rows(table.to_pylist())
    assert [r["errors"] is not None for r in preview] == [True, False, True]


# -- over HTTP: preview, validation, a flow run ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def J(raw):
    r = raw.post(SANDBOXES, headers=raw.headers(sandbox=None, json=True),
                 json={"name": SANDBOX, "title": "Regex DoS tests", "type": "development"})
    assert r.status_code in (201, 202, 409), r.text
    return raw.headers(sandbox=SANDBOX, json=True)


@pytest.fixture(scope="module")
def schema_id(raw, J):
    r = raw.post(f"{SR}/tenant/schemas", headers=J, json={
        "title": "Regex DoS target", "type": "object",
        "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}, *({"$ref": g} for g in PROFILE_GROUPS)]})
    assert r.status_code == 201, r.text
    return r.json()["$id"]


def _mapping_set(schema_id: str, expression: str) -> dict:
    return {"outputSchema": {"schemaRef": {"id": schema_id,
                                           "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
            "mappings": [{"sourceType": "EXPRESSION", "source": expression,
                          "destination": "personalEmail.address"}]}


def test_preview_of_the_reported_pattern_answers_at_once(raw, J, schema_id):
    body = {"data": [{"Email": EVIL}, {"Email": "aaaa"}],
            "mappingSet": _mapping_set(schema_id, 'iif(matches_regex(Email, "(a+)+$"), "yes", "no")')}
    r, seconds = timed(lambda: raw.post(f"{DP}/mappingSets/preview", headers=J, json=body, timeout=60))
    assert r.status_code == 200, r.text
    assert [x["data"] for x in r.json()] == [{"personalEmail": {"address": "no"}},
                                             {"personalEmail": {"address": "yes"}}]
    assert seconds < CATASTROPHE


@pytest.mark.parametrize(("pattern", "construct"), [("(\\\\w+)@\\\\1", "a backreference (\\1)"),
                                                    ("(?<=@)\\\\w+", "a lookbehind")])
def test_preview_refuses_an_unsupported_pattern_with_a_400(raw, J, schema_id, pattern, construct):
    expression = f'extract_regex(Email, "{pattern}")[0]'
    r = raw.post(f"{DP}/mappingSets/preview", headers=J,
                 json={"data": [{"Email": "a@a"}], "mappingSet": _mapping_set(schema_id, expression)})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["title"] == "Invalid mapping set"
    assert "extract_regex" in body["detail"] and construct in body["detail"] and "RE2" in body["detail"]
    v = raw.post(f"{DP}/mappingSets/validate", headers=J, json=_mapping_set(schema_id, expression))
    assert v.status_code == 200, v.text
    (result,) = v.json()["validationResponse"]
    assert result["status"] == "FAILED" and construct in result["errors"][0]["exception"]
    e = raw.post(f"{DP}/languages/el/validate", headers=J, json={"expression": {"expression": expression}})
    assert e.status_code == 200 and e.json() is False


def test_health_stays_responsive_while_a_flow_runs_the_reported_pattern():
    """``extract_regex(Email, "(.*)*x$")`` over the sample store's orders (about 12 ms per e-mail address of
    20 characters with the old engine, four times that per two more) while a second thread asks for the health."""
    with local.start(seed=1515) as aep:
        kit = Kit(aep, orders=20_000)
        health = f"{aep.url}/aep-local/health"
        latencies: list[float] = []
        during_run: list[float] = []
        statuses: set[int] = set()
        stop = threading.Event()

        def poll() -> None:
            with requests.Session() as s:
                while not stop.is_set():
                    busy = not aep.platform.scheduler.wait_idle(timeout=0)
                    start = time.perf_counter()
                    r = s.get(health, timeout=30)
                    took = time.perf_counter() - start
                    statuses.add(r.status_code)
                    latencies.append(took)
                    if busy:
                        during_run.append(took)
                    time.sleep(0.01)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            ids = kit.flow(columns=["Email"], mappings=[
                {"destinationXdmPath": "personalEmail.address", "sourceAttribute": 'extract_regex(Email, "(.*)*x$")[0]',
                 "identity": False, "version": 0}], name="regex")
            kit.idle()
        finally:
            stop.set()
            poller.join(30)
        (run,) = kit.runs(ids["flow"])
        assert run["metrics"]["statusSummary"]["status"] == "success"
        (batch_id,) = kit.batch_ids(run)
        got = sorted(r["personalEmail"]["address"] for r in kit.read_batch(batch_id) if r.get("personalEmail"))
        emails = [r["Email"] for r in _source(kit, run, ["Email"])]
        assert got == sorted(e for e in emails if e is not None and e.endswith("x")) and got

    assert statuses == {200}
    assert len(during_run) >= 5, f"only {len(during_run)} health checks while the run executed"
    print(f"health during the run: {len(during_run)} calls, p50 {statistics.median(during_run) * 1000:.1f} ms, "
          f"max {max(during_run) * 1000:.1f} ms")
    assert max(latencies) < 0.5
