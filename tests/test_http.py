"""AEPSession over real loopback HTTP: headers, token refresh, retries that are safe, typed errors, paging, cURL."""

from __future__ import annotations

import logging
import os
import pickle
import re
import subprocess
import time

import pytest
from helpers.fake_platform import FakePlatform, Reply, free_port, profile_for

from aep_magics.auth import Secret, TokenProvider
from aep_magics.errors import (
    AEPError,
    AEPKitError,
    AuthError,
    BadRequestError,
    ConflictError,
    InputError,
    NotFoundError,
    PreconditionFailedError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from aep_magics.http import AEPSession

FLOWS = "/data/foundation/flowservice/flows"


@pytest.fixture
def fake():
    with FakePlatform() as f:
        yield f


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def session(fake, sleeps):
    with AEPSession(profile_for(fake), sleep=sleeps.append) as s:
        yield s


# -- headers and responses ----------------------------------------------------------------------------------


def test_every_call_carries_the_aep_headers(fake, session):
    fake.script("GET", FLOWS, Reply(200, {"items": []}, headers={"x-request-id": "req-1"}))
    fake.script("POST", FLOWS, Reply(201, {"id": "f1", "etag": '"e1"'}))
    got = session.request("GET", FLOWS, params={"property": ["state==enabled", "name==x"]})
    assert got.json() == {"items": []} and got.status == 200 and got.request_id == "req-1" and got.elapsed >= 0
    session.request("POST", FLOWS, json={"name": "flow"})
    get, post = fake.calls(path=FLOWS)
    for call in (get, post):
        assert call.headers["authorization"] == "Bearer token-1"
        assert call.headers["x-api-key"] == "test-client"
        assert call.headers["x-gw-ims-org-id"] == "TESTORG0000000000@AdobeOrg"
        assert call.headers["x-sandbox-name"] == "dev"
    assert "content-type" not in get.headers
    assert get.param("property") == ["state==enabled", "name==x"]
    assert post.headers["content-type"] == "application/json"
    assert post.json() == {"name": "flow"}
    assert len(fake.calls("POST", "/ims/token/v3")) == 1  # the token is reused


def test_per_call_headers_accept_and_empty_bodies(fake, session):
    fake.script("DELETE", FLOWS + "/f1", Reply(204))
    got = session.request(
        "DELETE",
        FLOWS + "/f1",
        headers={"If-Match": '"e1"', "x-sandbox-name": "other"},
        accept="application/vnd.adobe.xed+json; version=1",
    )
    assert got.status == 204 and got.json() is None and got.text == ""
    call = fake.calls("DELETE")[0]
    assert call.headers["if-match"] == '"e1"' and call.headers["x-sandbox-name"] == "other"
    assert call.headers["accept"] == "application/vnd.adobe.xed+json; version=1"
    with pytest.raises(InputError, match="^the Authorization header is set by the session; do not pass it$"):
        session.request("GET", FLOWS, headers={"Authorization": "Bearer mine"})


def test_absolute_urls_only_under_the_base_url(fake, session):
    fake.script("GET", FLOWS, Reply(200, {"items": [1]}))
    assert session.request("GET", fake.url + FLOWS).json() == {"items": [1]}
    with pytest.raises(InputError, match="refusing to send credentials"):
        session.request("GET", "https://example.com/steal")


def test_with_sandbox_shares_the_token(fake, session):
    fake.script("GET", FLOWS, Reply(200, {"items": []}))
    session.request("GET", FLOWS)
    other = session.with_sandbox("prod")
    other.request("GET", FLOWS)
    assert [c.headers["x-sandbox-name"] for c in fake.calls("GET", FLOWS)] == ["dev", "prod"]
    assert len(fake.calls("POST", "/ims/token/v3")) == 1


# -- 401: refresh once ----------------------------------------------------------------------------------------


def test_refreshes_once_on_401(fake, session):
    fake.script("GET", FLOWS, Reply(200, {"items": []}))
    session.request("GET", FLOWS)
    fake.revoke("token-1")  # the platform stops accepting it before it expires
    session.request("GET", FLOWS)
    assert [c.headers["authorization"] for c in fake.calls("GET", FLOWS)] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]
    assert len(fake.calls("POST", "/ims/token/v3")) == 2


def test_a_second_401_is_an_auth_error(fake, session):
    fake.script("GET", FLOWS, Reply(401, {"error_code": "401013", "message": "Oauth token is not valid"}))
    with pytest.raises(AuthError, match="^401 401013 Oauth token is not valid") as info:
        session.request("GET", FLOWS)
    assert str(info.value) == f"401 401013 Oauth token is not valid (GET {FLOWS})"
    assert len(fake.calls("GET", FLOWS)) == 2


def test_static_token_401_says_what_to_do(fake, sleeps):
    session = AEPSession(profile_for(fake, client_secret=None, access_token="old-token"), sleep=sleeps.append)
    with pytest.raises(AuthError, match="access token expired: run %aep_auth again") as info:
        session.request("GET", FLOWS)
    assert str(info.value) == (
        f"401 401013 Oauth token is not valid (GET {FLOWS}): access token expired: "
        "run %aep_auth again or configure client credentials"
    )
    assert len(fake.calls("GET", FLOWS)) == 1
    with pytest.raises(AuthError, match="access token expired"):
        session.request("GET", FLOWS)  # known expired now: not even sent
    assert len(fake.calls("GET", FLOWS)) == 1


# -- error bodies -----------------------------------------------------------------------------------------------

FLOW_404 = {
    "type": "https://ns.adobe.com/aep/errors/FLOW-1439-404",
    "title": "Resource not found",
    "status": 404,
    "report": {
        "detailed-message": "The requested flows resource X is not found. Verify the resource ID before trying again.",
        "id": "X",
        "request-id": "body-req-7",
        "type": "flows",
    },
    "errorMessage": "The requested flows resource X is not found. Verify the resource ID before trying again.",
    "errorDetails": "The requested flows resource X is not found. Verify the resource ID before trying again.",
}
XDM_404 = {
    "type": "http://ns.adobe.com/aep/errors/XDM-1010-404",
    "title": "Resource not found",
    "status": 404,
    "report": {
        "registryRequestId": "reg-1",
        "timestamp": "t",
        "detailed-message": "Schema s not found",
        "sub-errors": [],
    },
    "detail": "Schema s not found",
}


@pytest.mark.parametrize(
    "reply, cls, message",
    [
        (
            Reply(404, FLOW_404, headers={"x-request-id": "hdr-req-1"}),
            NotFoundError,
            (
                "404 FLOW-1439-404 Resource not found: The requested flows resource X is not found. Verify the resource ID "
                "before trying again. (GET /p)"
            ),
        ),
        (
            Reply(404, FLOW_404),
            NotFoundError,
            (
                "404 FLOW-1439-404 Resource not found: The requested flows resource X is not found. Verify the resource ID "
                "before trying again. (GET /p)"
            ),
        ),
        (
            Reply(404, XDM_404),
            NotFoundError,
            "404 XDM-1010-404 Resource not found: Schema s not found (GET /p)",
        ),
        (
            Reply(403, {"error_code": "403003", "message": "Api Key is invalid"}),
            AuthError,
            "403 403003 Api Key is invalid (GET /p)",
        ),
        (
            Reply(
                400,
                {
                    "type": "/placeholder/type/uri",
                    "status": 400,
                    "title": "BadRequestError",
                    "detail": "A valid content-type must be specified",
                },
            ),
            BadRequestError,
            "400 BadRequestError: A valid content-type must be specified (GET /p)",
        ),
        (
            Reply(412, {"errorMessage": 'Supplied version=["a"] does not match the current version on entity=["b"]'}),
            PreconditionFailedError,
            '412 Supplied version=["a"] does not match the current version on entity=["b"] (GET /p)',
        ),
        (
            Reply(409, {"message": "Dataset name already exists"}),
            ConflictError,
            "409 Dataset name already exists (GET /p)",
        ),
        (
            Reply(
                422,
                {
                    "type": "https://ns.adobe.com/aep/errors/CATALOG-2001-422",
                    "title": "Invalid",
                    "status": 422,
                    "detail": "limit must be 1-100",
                },
            ),
            BadRequestError,
            "422 CATALOG-2001-422 Invalid: limit must be 1-100 (GET /p)",
        ),
        (
            Reply(400, {"error": "invalid_scope", "error_description": "bad scopes"}),
            BadRequestError,
            "400 invalid_scope bad scopes (GET /p)",
        ),
        (
            Reply(500, body="<html><body><h1>Internal explosion</h1>\n<p>x</p></body></html>"),
            ServerError,
            "500 Internal explosion (GET /p)",
        ),
        (Reply(500), ServerError, "500 Internal Server Error (GET /p)"),
        (
            Reply(418, [{"title": "Teapot", "detail": "short and stout"}]),
            AEPError,
            "418 Teapot: short and stout (GET /p)",
        ),
    ],
)
def test_error_bodies_become_one_typed_line(fake, session, reply, cls, message):
    fake.script("GET", "/p", reply)
    with pytest.raises(cls, match=f"^{re.escape(message)}$") as info:
        session.request("GET", "/p")
    err = info.value
    assert type(err) is cls
    assert str(err) == message
    assert err._render_traceback_() == [f"{cls.__name__}: {message}"]
    assert err.status == reply.status and err.method == "GET" and err.path == "/p"


def test_from_response_on_each_shape_without_network():
    err = AEPError.from_response(404, FLOW_404, method="GET", path="/f")
    assert (type(err), err.code, err.title, err.request_id) == (
        NotFoundError,
        "FLOW-1439-404",
        "Resource not found",
        "body-req-7",
    )
    assert err.body == FLOW_404
    assert type(AEPError.from_response(429, b"slow down")) is RateLimitedError
    assert str(AEPError.from_response(503, None)) == "503 Service Unavailable"
    assert type(AuthError.from_response(400, {"error": "invalid_client"})) is AuthError
    for klass in (AEPKitError, InputError, TransportError, ServerError):
        assert klass("x")._render_traceback_() == [f"{klass.__name__}: x"]


def test_error_constructor_fields_and_pickling():
    err = NotFoundError(404, "XDM-1010-404", "Resource not found", "no such\nschema", "GET", "/s", "rid", {"a": 1})
    assert str(err) == "404 XDM-1010-404 Resource not found: no such schema (GET /s)"
    assert err.request_id == "rid"
    assert (err.status, err.code, err.body) == (404, "XDM-1010-404", {"a": 1})
    assert str(AEPError(500, message="custom")) == "custom"
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is NotFoundError and str(again) == str(err)


# -- retries ----------------------------------------------------------------------------------------------------


def test_429_retry_after_is_honoured(fake, session, sleeps):
    fake.script(
        "GET",
        FLOWS,
        Reply(429, {"title": "RequestRateTooLarge", "status": 429}, headers={"Retry-After": "3"}),
        Reply(429, {}, headers={"Retry-After": "0.25"}),
        Reply(200, {"items": ["ok"]}),
    )
    assert session.request("GET", FLOWS).json() == {"items": ["ok"]}
    assert len(fake.calls("GET", FLOWS)) == 3
    assert sleeps == [3.0, 0.25]


def test_retry_after_is_capped_and_dates_are_read(fake, sleeps):
    fake.script(
        "GET",
        FLOWS,
        Reply(503, headers={"Retry-After": "86400"}),
        Reply(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        Reply(200, {"items": []}),
    )
    # a timeout long enough for the capped wait (a call never waits past its timeout, see test_interrupts.py)
    with AEPSession(profile_for(fake), timeout=(5, 600), sleep=sleeps.append) as session:
        session.request("GET", FLOWS)
    assert sleeps == [120.0, 0.0]


def test_a_post_that_timed_out_is_not_retried(fake, sleeps):
    def slow(r):
        time.sleep(0.5)
        return Reply(201, {"id": "late"})

    fake.script("POST", FLOWS, slow)
    session = AEPSession(profile_for(fake), timeout=(2, 0.1), sleep=sleeps.append)
    with pytest.raises(TransportError, match=r"no answer from .* in time; the call may have been applied \(POST"):
        session.request("POST", FLOWS, json={})
    assert len(fake.calls("POST", FLOWS)) == 1


def test_429_that_never_ends_becomes_rate_limited(fake, sleeps):
    session = AEPSession(profile_for(fake), retries=2, sleep=sleeps.append)
    fake.script(
        "GET",
        FLOWS,
        Reply(
            429,
            {"title": "RequestRateTooLarge", "status": 429, "detail": "Request rate is large. Please try again later."},
            headers={"Retry-After": "1"},
        ),
    )
    with pytest.raises(RateLimitedError, match="429 RequestRateTooLarge: Request rate is large"):
        session.request("GET", FLOWS)
    assert len(fake.calls("GET", FLOWS)) == 3
    assert sleeps == [1.0, 1.0]


def test_idempotent_5xx_is_retried_with_backoff(fake, session, sleeps):
    fake.script("PUT", "/x", Reply(503), Reply(502), Reply(504), Reply(200, {"ok": True}))
    assert session.request("PUT", "/x", json={}).json() == {"ok": True}
    assert len(fake.calls("PUT", "/x")) == 4
    assert len(sleeps) == 3 and sleeps[0] == 0 and 0 < sleeps[1] <= sleeps[2] + 0.5


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_non_idempotent_call_that_reached_the_server_is_not_retried(fake, session, sleeps, method):
    fake.script(method, FLOWS, Reply(503, {"title": "Service Unavailable", "status": 503}), Reply(201, {"id": "x"}))
    with pytest.raises(ServerError, match="503"):
        session.request(method, FLOWS, json={"name": "once"})
    assert len(fake.calls(method, FLOWS)) == 1
    assert sleeps == []


def test_connection_refused_post_is_retried_safely(sleeps):
    port = free_port()
    late = FakePlatform(port=port)
    late.accepted.add("static-token")
    late.script("POST", FLOWS, Reply(201, {"id": "created-once"}))

    def sleep(seconds: float) -> None:  # the server comes up while the client backs off
        sleeps.append(seconds)
        if len(sleeps) == 2:
            late.start()

    session = AEPSession(profile_for(late, client_secret=None, access_token="static-token"), sleep=sleep)
    try:
        assert session.request("POST", FLOWS, json={"name": "f"}).json() == {"id": "created-once"}
    finally:
        late.stop()
    assert len(sleeps) == 2
    assert len(late.calls("POST", FLOWS)) == 1


def test_nobody_listening_is_a_transport_error(sleeps):
    port = free_port()
    session = AEPSession(
        profile_for(FakePlatform(port=port), client_secret=None, access_token="t0ken"), retries=2, sleep=sleeps.append
    )
    with pytest.raises(TransportError, match=f"^cannot reach 127\\.0\\.0\\.1:{port}: ") as info:
        session.request("POST", FLOWS, json={})
    text = str(info.value)
    assert text.startswith(f"cannot reach 127.0.0.1:{port}: ") and text.endswith(f"(POST {FLOWS})")
    assert "Connection refused" in text and "\n" not in text and "0x" not in text
    assert len(sleeps) == 2


# -- paging -----------------------------------------------------------------------------------------------------


def test_iter_flow_follows_next_links_relative_to_the_service(fake, session):
    fake.script(
        "GET",
        FLOWS,
        lambda r: {
            None: Reply(
                200, {"items": [{"id": 1}, {"id": 2}], "_links": {"next": {"href": "/flows?continuationToken=p2"}}}
            ),
            "p2": Reply(
                200, {"items": [{"id": 3}], "_links": {"next": {"href": "/flows?continuationToken=p3&limit=2"}}}
            ),
            "p3": Reply(200, {"items": [{"id": 4}], "_links": {}}),
        }[dict(r.query).get("continuationToken")],
    )
    items = list(session.iter_flow(FLOWS, {"property": "state==enabled", "limit": 2}))
    assert [i["id"] for i in items] == [1, 2, 3, 4]
    calls = fake.calls("GET", FLOWS)
    assert len(calls) == 3
    assert all(c.param("property") == ["state==enabled"] for c in calls)
    assert [c.param("continuationToken") for c in calls] == [[], ["p2"], ["p3"]]
    assert calls[2].param("limit") == ["2"]


def test_iter_flow_refuses_a_link_loop(fake, session):
    fake.script("GET", FLOWS, Reply(200, {"items": [1], "_links": {"next": {"href": "/flows?continuationToken=same"}}}))
    with pytest.raises(AEPError, match="repeats itself"):
        list(session.iter_flow(FLOWS))


def test_iter_catalog_pages_by_limit_and_start(fake, session):
    objects = {f"id{n}": {"name": f"ds{n}"} for n in range(5)}

    def page(r):
        start, limit = int(dict(r.query)["start"]), int(dict(r.query)["limit"])
        keys = list(objects)[start : start + limit]
        return Reply(200, {k: objects[k] for k in keys})

    fake.script("GET", "/data/foundation/catalog/dataSets", page)
    got = list(session.iter_catalog("/data/foundation/catalog/dataSets", {"properties": "name"}, limit=2))
    assert got == list(objects.items())
    calls = fake.calls("GET", "/data/foundation/catalog/dataSets")
    assert [(c.param("start"), c.param("limit")) for c in calls] == [(["0"], ["2"]), (["2"], ["2"]), (["4"], ["2"])]
    assert all(c.param("properties") == ["name"] for c in calls)


def test_iter_registry_passes_page_next_as_start(fake, session):
    pages = {None: ("b", [1, 2]), "b": ("c", [3]), "c": (None, [4, 5])}

    def page(r):
        following, results = pages[dict(r.query).get("start")]
        return Reply(200, {"results": results, "_page": {"orderby": "title", "next": following, "count": len(results)}})

    path = "/data/foundation/schemaregistry/tenant/schemas"
    fake.script("GET", path, page)
    assert list(session.iter_registry(path)) == [1, 2, 3, 4, 5]
    calls = fake.calls("GET", path)
    assert [c.param("start") for c in calls] == [[], ["b"], ["c"]]
    assert all(c.param("orderby") == ["title"] for c in calls)
    assert all(c.headers["accept"] == "application/vnd.adobe.xed-id+json" for c in calls)


# -- prepared calls: cURL and dry runs ----------------------------------------------------------------------------


def test_curl_in_adobe_documentation_style(session):
    call = session.prepare(
        "POST", "/data/foundation/catalog/dataSets", params={"requestDataSource": "true"}, json={"name": "It's data"}
    )
    assert call.curl() == (
        f"curl -X POST '{session.profile.base_url}/data/foundation/catalog/dataSets?requestDataSource=true' \\\n"
        "  -H 'Authorization: Bearer {ACCESS_TOKEN}' \\\n"
        "  -H 'x-api-key: {API_KEY}' \\\n"
        "  -H 'x-gw-ims-org-id: {ORG_ID}' \\\n"
        "  -H 'x-sandbox-name: {SANDBOX_NAME}' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        '  -d \'{\n    "name": "It\'"\'"\'s data"\n}\''
    )
    assert call.as_dict() == {
        "method": "POST",
        "url": f"{session.profile.base_url}/data/foundation/catalog/dataSets?requestDataSource=true",
        "headers": {
            "Authorization": "Bearer ********",
            "x-api-key": "test-client",
            "x-gw-ims-org-id": "TESTORG0000000000@AdobeOrg",
            "x-sandbox-name": "dev",
            "Content-Type": "application/json",
        },
        "body": {"name": "It's data"},
    }


def test_resolved_curl_runs_under_bash(fake, session):
    fake.accepted.add("shell-token")
    fake.script("POST", FLOWS, Reply(201, {"id": "from-curl"}))
    command = session.prepare("POST", FLOWS, params={"property": "name==a b"}, json={"name": "it's"}).curl(resolve=True)
    assert '-H "Authorization: Bearer $ACCESS_TOKEN"' in command and "-H 'x-api-key: test-client'" in command
    out = subprocess.run(
        ["bash", "-c", command],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "ACCESS_TOKEN": "shell-token"},
    )
    assert '"from-curl"' in out.stdout
    (call,) = fake.calls("POST", FLOWS)
    assert call.headers["authorization"] == "Bearer shell-token"
    assert call.headers["x-sandbox-name"] == "dev"
    assert call.json() == {"name": "it's"} and call.param("property") == ["name==a b"]


def test_binary_body_dry_run(session):
    call = session.prepare(
        "PUT",
        "/data/foundation/import/batches/b/datasets/d/files/f.parquet",
        data=b"\xff\x00PAR1",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert call.as_dict()["body"] == "<6 bytes>"
    assert call.curl().endswith("--data-binary '@{FILE}'")
    with pytest.raises(InputError, match="^give either json= or data=, not both$"):
        session.prepare("POST", "/x", json={}, data="y")


# -- logging and secrets ----------------------------------------------------------------------------------------


def test_debug_log_line_per_call(fake, session, caplog):
    fake.script("GET", FLOWS, Reply(200, {"items": []}, headers={"x-request-id": "rid-9"}))
    with caplog.at_level(logging.DEBUG, logger="aep_magics.http"):
        session.request("GET", FLOWS)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "aep_magics.http"]
    assert line.startswith(f"GET {FLOWS} -> 200 in ") and line.endswith("request id rid-9")


def test_canaries_never_leak(fake, caplog, sleeps):
    secret, token = "CANARY-SECRET-9f3b", "CANARY-TOKEN-77aa"
    fake.next_tokens.extend([token, token])
    caplog.set_level(logging.DEBUG)
    profile = profile_for(fake, client_secret=secret)
    session = AEPSession(profile, sleep=sleeps.append)
    texts: list[str] = [
        repr(profile),
        str(profile),
        repr(profile.client_secret),
        f"{profile.client_secret}",
        repr(session),
        repr(session.tokens),
        str(profile.as_dict()),
    ]

    fake.script("GET", FLOWS, Reply(200, {"items": []}))
    fake.script(
        "GET",
        "/echo",
        Reply(404, {"title": "Not found", "status": 404, "detail": f"token {token} and secret {secret} echoed back"}),
    )
    session.request("GET", FLOWS)
    fake.revoke(token)
    fake.next_tokens.append(token)
    session.request("GET", FLOWS)  # 401 -> refresh path
    with pytest.raises(NotFoundError, match=r"^404 Not found: token \*+ and secret \*+ echoed back") as info:
        session.request("GET", "/echo")
    texts += [
        str(info.value),
        repr(info.value),
        repr(info.value.args),
        str(info.value.body),
        *info.value._render_traceback_(),
    ]

    call = session.prepare("POST", FLOWS, json={"x": 1})
    texts += [call.curl(), call.curl(resolve=True), str(call.as_dict()), repr(call)]

    fake.script(
        "POST", "/ims/token/v3", Reply(401, {"error": "invalid_client", "error_description": f"bad secret {secret}"})
    )
    with pytest.raises(AuthError, match=r"^401 invalid_client bad secret \*+ ") as ims:
        TokenProvider(profile).token()
    texts += [str(ims.value), repr(ims.value), repr(TokenProvider(profile))]

    with pytest.raises(TransportError, match="^cannot reach IMS at http://127.0.0.1:") as refused:
        AEPSession(profile_for(FakePlatform(port=free_port()), client_secret=secret), retries=0).request("GET", "/x")
    texts += [str(refused.value), repr(refused.value)]

    texts += [r.getMessage() for r in caplog.records] + [str(r.args) for r in caplog.records]
    joined = "\n".join(texts)
    assert fake.calls(path=FLOWS)[0].headers["authorization"] == f"Bearer {token}"  # it was really used
    assert secret not in joined and token not in joined
    assert len(caplog.records) > 3
    assert Secret(secret) == profile.client_secret
