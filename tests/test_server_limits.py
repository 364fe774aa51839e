"""AEP Local's limits, secrets and concurrency control under hostile input -- over loopback HTTP.

- bombs: a Data Prep preview of a million rows, a mapping set of thousands of mappings, 1,500 ``property`` filters,
  crafted continuation tokens, a field group nested 300 deep: each gets a 400 in the service's documented error
  body, quickly, and the server stays up; a YAML alias bomb in a cell body is refused in one line (kit side);
- secrets: a secret connection parameter of the wrong type (a number, a list, an object) never comes back in the
  error, whatever the spec marks it with;
- etags and tokens: with one seed, an etag never repeats for a resource across restarts (a stale ``If-Match`` gets
  412), and two servers never accept each other's tokens.

The limits are documented in docs/deviations.md ("Limits").
"""

from __future__ import annotations

import base64
import json
import re
import time
from urllib.parse import quote

import pytest
import requests
from helpers.shell import magic_shell

from aep_magics import local
from aep_magics.errors import InputError
from aep_magics.local import listing as query
from aep_magics.local.services import dataprep
from aep_magics.local.services.flowservice import _schema_errors
from aep_magics.local.xdm import compose
from aep_magics.magics.body import YAML_ALIAS_BUDGET, parse_body
from conftest import FLOW, SANDBOXES, Raw
from test_local_flowservice import (BASE_CONNECTION_DOC, SOURCE_CONNECTION_DOC, TARGET_CONNECTION_DOC,
                                    assert_flow_error, flow_body)

DP = "/data/foundation/conversion"
SR = "/data/foundation/schemaregistry"
SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
SANDBOX = "limits"
#: A value no error body may ever contain: sent as a secret connection parameter of the wrong type.
CANARY = 98765432101234
CANARY_TEXT = "CANARY-5f3e-never-echo"
#: 341 bytes of YAML that stand for 387 million values ("billion laughs").
YAML_BOMB = "\n".join([
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    *(f"{n}: &{n} [{','.join(['*' + p] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi")),
])


@pytest.fixture(scope="module")
def h(raw) -> dict[str, str]:
    r = raw.post(SANDBOXES, json={"name": SANDBOX, "title": "Limits", "type": "development"},
                 headers=raw.headers(sandbox=None))
    assert r.status_code in (202, 409), r.text
    return {**raw.headers(sandbox=SANDBOX), "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def schema_ref(raw, h) -> dict[str, str]:
    r = raw.post(f"{SR}/tenant/schemas", headers=h, json={
        "title": "Limits target", "type": "object",
        "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"},
                  {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"}]})
    assert r.status_code == 201, r.text
    return {"id": r.json()["$id"], "contentType": "application/vnd.adobe.xed-full+json;version=1"}


def assert_problem(r: requests.Response, fragment: str) -> dict:
    """The generic documented body ``{type, title, status, detail}`` of a 400, naming what is wrong."""
    assert r.status_code == 400, r.text[:500]
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == 400, body
    assert fragment in body["detail"], body["detail"]
    assert "\n" not in body["detail"]
    return body


def assert_xdm_error(r: requests.Response, code: str, fragment: str) -> dict:
    assert r.status_code == 400, r.text[:500]
    body = r.json()
    assert body["type"] == f"http://ns.adobe.com/aep/errors/XDM-{code}", body
    assert fragment in body["detail"] and body["report"]["detailed-message"] == body["detail"], body
    return body


# -- Data Prep ----------------------------------------------------------------------------------------------------
def test_preview_takes_at_most_1000_rows(raw, h, schema_ref):
    mapping_set = {"outputSchema": {"schemaRef": schema_ref},
                   "mappings": [{"sourceType": "ATTRIBUTE", "source": "name", "destination": "person.name.firstName"}]}
    ok = raw.post(f"{DP}/mappingSets/preview", headers=h,
                  json={"data": [{"name": f"n{i}"} for i in range(dataprep.MAX_PREVIEW_ROWS)],
                        "mappingSet": mapping_set})
    assert ok.status_code == 200, ok.text[:300]
    assert len(ok.json()) == 1000 and ok.json()[999]["data"] == {"person": {"name": {"firstName": "n999"}}}
    over = raw.post(f"{DP}/mappingSets/preview", headers=h, json={"data": [{}] * 1001, "mappingSet": mapping_set})
    assert_problem(over, "'data' has 1,001 source records; a preview takes at most 1,000")
    # the red-team body: 3 MB of a million empty records, answered at once instead of after 16 s and 1.75 GB
    body = json.dumps({"data": [{}] * 1_000_000, "mappingSet": mapping_set})
    started = time.perf_counter()
    bomb = raw.post(f"{DP}/mappingSets/preview", headers=h, data=body)
    assert time.perf_counter() - started < 10
    assert_problem(bomb, "'data' has 1,000,000 source records")
    assert raw.get("/aep-local/health").status_code == 200


def test_mapping_sets_take_at_most_2000_mappings(raw, h, schema_ref):
    def mappings(n):
        return [{"sourceType": "ATTRIBUTE", "source": f"c{i}", "destination": f"nope.f{i}"} for i in range(n)]

    for path in ("/mappingSets", "/mappingSets/validate"):
        r = raw.post(DP + path, headers=h, json={"outputSchema": {"schemaRef": schema_ref}, "mappings": mappings(2001)})
        assert_problem(r, "The mapping set has 2,001 mappings; AEP Local takes at most 2,000 per mapping set")
    r = raw.post(f"{DP}/mappingSets/preview", headers=h,
                 json={"data": [{}],
                       "mappingSet": {"outputSchema": {"schemaRef": schema_ref}, "mappings": mappings(2001)}})
    assert_problem(r, "at most 2,000 per mapping set")
    # validate is linear in the mappings: 2,000 that all fail are answered, each with its own error
    started = time.perf_counter()
    r = raw.post(f"{DP}/mappingSets/validate", headers=h,
                 json={"outputSchema": {"schemaRef": schema_ref}, "mappings": mappings(2000)})
    elapsed = time.perf_counter() - started
    assert r.status_code == 200, r.text[:300]
    results = r.json()["validationResponse"]
    assert len(results) == 2000 and all(v["status"] == "FAILED" for v in results)
    assert results[1234]["errors"][0]["destination"] == "nope.f1234"
    assert elapsed < 20, elapsed


# -- Flow Service lists ----------------------------------------------------------------------------------------------
def _token(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_property_filters_are_limited(raw, h):
    many = [("property", f"name==n{i}") for i in range(1500)]
    body = assert_flow_error(raw.get(f"{FLOW}/connections", headers=h, params=many), "1453-400")
    assert "Too many property filters (1,500): AEP Local takes at most 100" in body["errorMessage"]
    assert raw.get(f"{FLOW}/connections", headers=h, params=many[:query.MAX_FILTERS]).status_code == 200
    values = ",".join(f"v{i}" for i in range(1001))
    body = assert_flow_error(raw.get(f"{FLOW}/connections", headers=h, params={"property": f"name=={values}"}),
                             "1453-400")
    assert "at most 1,000 values" in body["errorMessage"]


@pytest.mark.parametrize("payload, orderby", [
    ({"s": 1, "k": {"a": 1}, "o": "name"}, "name"),     # a sort value SQLite cannot bind
    ({"s": 1, "k": [1], "o": "name"}, "name"),
    ({"s": 2 ** 70}, None),                               # past 64 bits
    ({"s": 1, "k": 2 ** 80, "o": "name"}, "name"),
    ({"s": 1, "k": "\ud800", "o": "name"}, "name"),      # a lone surrogate: no UTF-8 text
    ({"s": True}, None),
    ({"s": 1, "o": ["name"]}, None),
])
def test_crafted_continuation_tokens_are_400(raw, h, payload, orderby):
    params = {"continuationToken": _token(payload), **({"orderby": orderby} if orderby else {})}
    assert_flow_error(raw.get(f"{FLOW}/connections", headers=h, params=params), "1453-400")


def test_real_continuation_tokens_still_page(raw, h):
    for i in range(3):
        body = json.loads(BASE_CONNECTION_DOC.replace("{HOST}", "a.myshopify.com").replace("{ACCESS_TOKEN}", "t"))
        body["name"] = f"paging {i}"
        assert raw.post(f"{FLOW}/connections", headers=h, json=body).status_code == 201
    seen, params = [], {"limit": 1, "orderby": "-name", "property": "name>=paging"}
    while True:
        page = raw.get(f"{FLOW}/connections", headers=h, params=params).json()
        seen += [c["name"] for c in page["items"]]
        nxt = page["_links"].get("next")
        if not nxt:
            break
        params = {**params, "continuationToken": nxt["href"].split("continuationToken=")[1].split("&")[0]}
    assert seen == ["paging 2", "paging 1", "paging 0"]


# -- Flow Service bodies ---------------------------------------------------------------------------------------------
def _connection(token) -> dict:
    body = json.loads(BASE_CONNECTION_DOC.replace("{HOST}", "canary.myshopify.com"))
    body["auth"]["params"]["accessToken"] = token
    return body


@pytest.mark.parametrize("secret", [CANARY, [CANARY_TEXT], {"value": CANARY_TEXT}, [CANARY]],
                         ids=["number", "list", "object", "list-of-number"])
def test_secret_of_the_wrong_type_is_never_echoed(raw, h, secret):
    r = raw.post(f"{FLOW}/connections", headers=h, json=_connection(secret))
    body = assert_flow_error(r, "1100-400")
    assert "accessToken: ******** is not of type 'string'" in body["errorMessage"], body
    assert str(CANARY) not in r.text and CANARY_TEXT not in r.text
    # the same through PATCH
    created = raw.post(f"{FLOW}/connections", headers=h, json=_connection("shpat_good")).json()
    r = raw.patch(f"{FLOW}/connections/{created['id']}", headers={**h, "If-Match": created["etag"]},
                  json=[{"op": "replace", "path": "/auth/params/accessToken", "value": secret}])
    assert_flow_error(r, "1100-400")
    assert str(CANARY) not in r.text and CANARY_TEXT not in r.text


def test_secret_masking_follows_the_spec_and_the_usual_names():
    spec = {"type": "object", "properties": {
        "pin": {"type": "string", "format": "password"},        # marked by the spec
        "sasUri": {"type": "string"},                             # not marked: a known credential name
        "nested": {"type": "object", "properties": {"passPhrase": {"type": "string", "minLength": 40}}},
        "mode": {"enum": ["a", "b"]}}, "anyOf": [{"required": ["pin"]}, {"required": ["sasUri"]}]}
    for instance, where in (({"pin": [CANARY_TEXT]}, "pin: ********"), ({"sasUri": CANARY}, "sasUri: ********"),
                            ({"sasUri": "x", "nested": {"passPhrase": CANARY_TEXT}}, "nested/passPhrase: ********"),
                            ({"mode": "c", "sasUri": CANARY_TEXT}, "mode: 'c' is not one of")):
        message = _schema_errors(spec, instance)
        assert message is not None and message.startswith(where), message
        assert CANARY_TEXT not in message and str(CANARY) not in message
    # an error about the whole object names no value of it
    message = _schema_errors(spec, {"passPhrase": CANARY_TEXT, "mode": "a"})
    assert message is not None and CANARY_TEXT not in message, message


@pytest.fixture(scope="module")
def flow(raw, h, schema_ref):
    base = json.loads(BASE_CONNECTION_DOC.replace("{HOST}", "a.myshopify.com").replace("{ACCESS_TOKEN}", "t"))
    base_id = raw.post(f"{FLOW}/connections", json=base, headers=h).json()["id"]
    source = json.loads(SOURCE_CONNECTION_DOC)
    source["baseConnectionId"] = base_id
    source_id = raw.post(f"{FLOW}/sourceConnections", json=source, headers=h).json()["id"]
    dataset = raw.post("/data/foundation/catalog/dataSets", headers=h, json={"name": "limits", "schemaRef": schema_ref})
    assert dataset.status_code == 201, dataset.text
    body = json.loads(TARGET_CONNECTION_DOC)
    body["data"]["schema"]["id"] = schema_ref["id"]
    body["params"]["dataSetId"] = dataset.json()[0].split("/")[-1]
    target = raw.post(f"{FLOW}/targetConnections", json=body, headers=h)
    assert target.status_code == 201, target.text
    body = flow_body({"source": source_id, "target": target.json()["id"]}, transformations=[],
                     scheduleParams={"startTime": "4102444800", "frequency": "hour", "interval": "1"})
    r = raw.post(f"{FLOW}/flows", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize("value", ["daily", 15, ["hour"], None])
def test_patch_schedule_params_with_a_non_object_is_400(raw, h, flow, value):
    etag = raw.get(f"{FLOW}/flows/{flow['id']}", headers=h).json()["items"][0]["etag"]
    r = raw.patch(f"{FLOW}/flows/{flow['id']}", headers={**h, "If-Match": etag},
                  json=[{"op": "replace", "path": "/scheduleParams", "value": value}])
    body = assert_flow_error(r, "1100-400")
    assert "scheduleParams must be an object" in body["errorMessage"]


@pytest.mark.parametrize("change, message", [
    ({"name": ["a", "list"]}, "name must be a string"),
    ({"name": {"an": "object"}}, "name must be a string"),
    ({"baseConnectionId": ["x"]}, "baseConnectionId must be the id (a string)"),
])
def test_target_connection_fields_of_the_wrong_type_are_400(raw, h, change, message):
    body = {**json.loads(TARGET_CONNECTION_DOC), **change}
    r = raw.post(f"{FLOW}/targetConnections", json=body, headers=h)
    assert message in assert_flow_error(r, "1100-400")["errorMessage"]


# -- Schema Registry ---------------------------------------------------------------------------------------------------
def _nested(depth: int, leaf: dict | None = None) -> dict:
    node = leaf or {"type": "string"}
    for i in range(depth):
        node = {"type": "object", "properties": {f"f{i}": node}}
    return node


def _field_group(title: str, fields: dict) -> dict:
    return {"title": title, "type": "object", "meta:intendedToExtend": ["https://ns.adobe.com/xdm/context/profile"],
            "definitions": {"d": {"properties": {"_aeplocal": fields}}}, "allOf": [{"$ref": "#/definitions/d"}]}


def test_field_groups_nested_too_deep_are_400(raw, h):
    r = raw.post(f"{SR}/tenant/fieldgroups", headers=h, json=_field_group("deep 60", _nested(60)))
    assert_xdm_error(r, "1000-400", f"nests objects and arrays more than {compose.MAX_DEPTH} levels deep")
    # deeper still, the body itself is refused before the registry reads it
    r = raw.post(f"{SR}/tenant/fieldgroups", headers=h, json=_field_group("deep 300", _nested(300)))
    assert_xdm_error(r, "1000-400", "The request body is not valid JSON: it is nested more than 128 levels deep")
    ok = raw.post(f"{SR}/tenant/fieldgroups", headers=h, json=_field_group("deep 30", _nested(30)))
    assert ok.status_code == 201, ok.text[:300]
    fg = quote(ok.json()["$id"], safe="")
    r = raw.patch(f"{SR}/tenant/fieldgroups/{fg}", headers=h, json=[
        {"op": "add", "path": "/definitions/d/properties/_aeplocal/properties/deeper", "value": _nested(55)}])
    assert_xdm_error(r, "1000-400", "The patch nests objects and arrays more than 100 levels deep")
    # data types that are shallow one by one but deep once resolved
    inner = raw.post(f"{SR}/tenant/datatypes", headers=h, json={
        "title": "deep inner", "type": "object", "definitions": {"d": {"properties": _nested(40)["properties"]}},
        "allOf": [{"$ref": "#/definitions/d"}]})
    assert inner.status_code == 201, inner.text[:300]
    outer = raw.post(f"{SR}/tenant/datatypes", headers=h, json={
        "title": "deep outer", "type": "object",
        "definitions": {"d": _nested(40, {"$ref": inner.json()["$id"], "type": "object"})},
        "allOf": [{"$ref": "#/definitions/d"}]})
    assert_xdm_error(outer, "1000-400", "The resolved schema nests objects and arrays more than 100 levels deep")
    assert raw.get("/aep-local/health").status_code == 200


# -- kit: YAML alias bombs -------------------------------------------------------------------------------------------
def test_yaml_alias_bomb_is_refused_in_one_line():
    assert len(YAML_BOMB.encode()) < 400
    started = time.perf_counter()
    with pytest.raises(InputError) as info:
        parse_body(YAML_BOMB)
    assert time.perf_counter() - started < 2
    found = re.match(r"the cell body's YAML aliases \(\*name\) add ([\d,]+) values to it, more than 10,000: ",
                     str(info.value))
    assert found and int(found.group(1).replace(",", "")) > 387_420_489, str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="stands inside the value it names"):
        parse_body("params: &p {again: *p}")
    # a few aliases are fine: they are YAML's way to repeat a part, merge keys included
    assert parse_body("base: &b {k: 1}\nuse:\n  <<: *b\n  z: 2\nboth: [*b, *b]") == {
        "base": {"k": 1}, "use": {"k": 1, "z": 2}, "both": [{"k": 1}, {"k": 1}]}
    many = "one: &o [1, 2, 3, 4, 5, 6, 7, 8, 9]\nall: [" + ", ".join(["*o"] * (YAML_ALIAS_BUDGET // 10)) + "]"
    assert len(parse_body(many)["all"]) == YAML_ALIAS_BUDGET // 10


def test_yaml_alias_bomb_in_a_cell(monkeypatch):
    for name in ("AEP_CONFIG", "AEP_CLIENT_ID", "AEP_ACCESS_TOKEN", "AEP_LOCAL_URL"):
        monkeypatch.delenv(name, raising=False)
    shell = magic_shell()
    try:
        result = shell.run_cell("%%aep_connection -o conn -q\n" + YAML_BOMB, store_history=False)
        error = result.error_in_exec or result.error_before_exec
        assert isinstance(error, InputError), error
        lines = error._render_traceback_()
        assert len(lines) == 1 and "YAML aliases (*name) add " in lines[0], lines
    finally:
        shell.extension_manager.unload_extension("aep_magics")


# -- etags and tokens --------------------------------------------------------------------------------------------------
def _sign_in(url: str) -> dict[str, str]:
    return {**Raw(url).headers(), "Content-Type": "application/json"}


def test_etags_never_repeat_across_restarts_with_one_seed(tmp_path):
    """Restarted twice on one data dir with one seed and nothing inserted in between, the platform still hands out
    a new etag: the etag a client read before the last change no longer matches (412)."""
    conn = {"name": "etag", "auth": {"specName": "Basic Authentication",
                                     "params": {"host": "a.myshopify.com", "accessToken": "t"}},
            "connectionSpec": {"id": SHOPIFY, "version": "1.0"}}
    with local.start(tmp_path, seed=77, scheduler=False) as aep:
        headers = _sign_in(aep.url)        # a token stays valid across restarts: no insert later on
        created = requests.post(f"{aep.url}{FLOW}/connections", json=conn, headers=headers, timeout=30).json()
    etags = [created["etag"]]
    for name in ("second", "third"):
        with local.start(tmp_path, seed=77, scheduler=False) as aep:
            r = requests.patch(f"{aep.url}{FLOW}/connections/{created['id']}",
                               headers={**headers, "If-Match": etags[-1]},
                               json=[{"op": "replace", "path": "/name", "value": name}], timeout=30)
            assert r.status_code == 200, r.text
            assert r.json()["etag"] not in etags
            etags.append(r.json()["etag"])
    with local.start(tmp_path, seed=77, scheduler=False) as aep:
        stale = requests.patch(f"{aep.url}{FLOW}/connections/{created['id']}",
                               headers={**headers, "If-Match": etags[1]},
                               json=[{"op": "replace", "path": "/name", "value": "lost update"}], timeout=30)
        assert_flow_error(stale, "1404-412")
        now = requests.get(f"{aep.url}{FLOW}/connections/{created['id']}", headers=headers, timeout=30).json()
        assert now["items"][0]["name"] == "third" and now["items"][0]["etag"] == etags[2]


def test_tokens_of_two_servers_with_one_seed_differ(tmp_path):
    with local.start(tmp_path / "a", seed=5, scheduler=False) as a, local.start(tmp_path / "b", seed=5,
                                                                              scheduler=False) as b:
        token_a, token_b = Raw(a.url).token(), Raw(b.url).token()
        assert token_a != token_b and token_a.startswith("aeplocal.") and len(token_a) == len(token_b)
        foreign = Raw(b.url).headers(token=token_a)
        r = requests.get(f"{b.url}{FLOW}/connections", headers=foreign, timeout=30)
        assert r.status_code == 401 and r.json()["error_code"] == "401013", r.text
        # ids stay what the seed makes them
        conn = {"name": "same", "auth": {"specName": "Basic Authentication",
                                         "params": {"host": "a.myshopify.com", "accessToken": "t"}},
                "connectionSpec": {"id": SHOPIFY, "version": "1.0"}}
        ids = [requests.post(f"{s.url}{FLOW}/connections", json=conn, headers=_sign_in(s.url), timeout=30).json()
               for s in (a, b)]
        assert ids[0] == ids[1]


# -- the body itself: nesting and chunked framing ---------------------------------------------------------------------
@pytest.mark.parametrize("path", [f"{FLOW}/connections", f"{FLOW}/sourceConnections", f"{FLOW}/flows",
                                  "/data/foundation/catalog/dataSets"])
def test_a_body_nested_past_the_limit_is_a_400_everywhere(raw, h, path):
    from aep_magics.local.server import MAX_JSON_DEPTH

    deep = {"name": "deep", "auth": {"specName": "x", "params": {"k": "[" * 900 + "]" * 900}}}
    text = json.dumps(deep).replace('"[' + "[" * 899, "[" * 900).replace("]" * 900 + '"', "]" * 900)
    r = raw.post(path, data=text.encode(), headers=h)
    assert r.status_code == 400, r.text
    assert f"nested more than {MAX_JSON_DEPTH} levels" in r.text
    shallow = json.dumps({"name": "x", "auth": {"params": {"k": json.loads("[" * 50 + "]" * 50)}}})
    assert raw.post(path, data=shallow.encode(), headers=h).status_code != 500


def test_nesting_inside_strings_does_not_count(raw, h):
    body = {"name": "brackets in text", "description": "[" * 5000}
    r = raw.post("/data/foundation/catalog/dataSets", json=body, headers=h)
    assert "nested more than" not in r.text


def test_a_malformed_chunked_body_is_a_400(local_server, raw, h):
    import socket

    host, port = local_server.url.split("//")[1].split(":")
    headers = "".join(f"{k}: {v}\r\n" for k, v in h.items())
    request = (f"POST {FLOW}/connections HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}"
               "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = s.recv(65536)
            if not data:
                break
            answer += data
    status = answer.split(b"\r\n", 1)[0]
    assert b" 400 " in status, answer[:300]
    assert raw.get("/aep-local/health").status_code == 200
