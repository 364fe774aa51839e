"""AEP Local's HTTP skin, IMS and gateway, control plane, persistence, determinism and CLI -- over loopback HTTP."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading

import pytest
import requests
import yaml

from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID

from conftest import FLOW, ROOT, Raw

SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
BASE_CONNECTION = {
    "name": "Shopify source",
    "description": "Shopify source",
    "auth": {"specName": "Basic Authentication",
             "params": {"host": "acme.myshopify.com", "accessToken": "shpat_not_a_real_token"}},
    "connectionSpec": {"id": SHOPIFY, "version": "1.0"},
}


# -- IMS ----------------------------------------------------------------------------------------------------------
def test_token_issue_shape(raw):
    r = raw.post("/ims/token/v3", data={"grant_type": "client_credentials", "client_id": DEV_CLIENT_ID,
                                        "client_secret": DEV_CLIENT_SECRET, "scope": "openid,AdobeID"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399
    assert body["access_token"].count(".") < 2, "tokens are opaque, not JWT-shaped"


def test_token_params_in_query_string(raw):
    r = raw.post("/ims/token/v2", params={"grant_type": "client_credentials", "client_id": DEV_CLIENT_ID,
                                          "client_secret": DEV_CLIENT_SECRET, "scope": "openid"})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]  # a token like any other: the platform takes it
    assert raw.get(f"{FLOW}/flowSpecs", headers=raw.headers(token=token)).json()["items"]


def test_token_bad_client(raw):
    r = raw.post("/ims/token/v3", data={"grant_type": "client_credentials", "client_id": DEV_CLIENT_ID,
                                        "client_secret": "wrong", "scope": "openid"})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert "error_description" in r.json()
    r = raw.post("/ims/token/v3", data={"grant_type": "client_credentials", "client_id": "nobody",
                                        "client_secret": "x", "scope": "openid"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_token_missing_params(raw):
    r = raw.post("/ims/token/v3", data={"grant_type": "client_credentials", "client_id": DEV_CLIENT_ID})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    r = raw.post("/ims/token/v3", data={"grant_type": "password", "client_id": DEV_CLIENT_ID,
                                        "client_secret": DEV_CLIENT_SECRET})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


# -- gateway ------------------------------------------------------------------------------------------------------
def test_missing_token(raw):
    r = raw.get(f"{FLOW}/connections", headers=raw.headers(token=""))
    assert r.status_code == 403
    assert r.json() == {"error_code": "403010", "message": "Oauth token is missing."}


def test_invalid_token(raw):
    r = raw.get(f"{FLOW}/connections", headers=raw.headers(token="aeplocal.forged"))
    assert r.status_code == 401
    assert r.json() == {"error_code": "401013", "message": "Oauth token is not valid"}
    r = raw.get(f"{FLOW}/connections", headers={**raw.headers(), "Authorization": "Basic abc"})
    assert r.status_code == 401 and r.json()["error_code"] == "401013"


def test_missing_and_wrong_api_key(raw):
    r = raw.get(f"{FLOW}/connections", headers=raw.headers(api_key=None))
    assert r.status_code == 403
    assert r.json() == {"error_code": "403000", "message": "Api Key is required"}
    r = raw.get(f"{FLOW}/connections", headers=raw.headers(api_key="someone-else"))
    assert r.status_code == 403
    assert r.json() == {"error_code": "403003", "message": "Api Key is invalid"}


def test_missing_and_wrong_org(raw):
    r = raw.get(f"{FLOW}/connections", headers=raw.headers(org=None))
    assert r.status_code == 400
    assert r.json() == {"error_code": "400003", "message": "Missing header"}
    r = raw.get(f"{FLOW}/connections", headers=raw.headers(org="0123456789ABCDEF01234567@AdobeOrg"))
    assert r.status_code == 403
    assert r.json() == {"error_code": "403025", "message": "Profile is not valid"}


def test_missing_sandbox_on_flow_service(raw):
    r = raw.get(f"{FLOW}/connections", headers=raw.headers(sandbox=None))
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "https://ns.adobe.com/aep/errors/FLOW-2105-400"
    assert body["status"] == 400
    assert body["title"] == "Header is missing"
    assert "x-sandbox-name is missing" in body["errorMessage"]
    assert body["report"]["request-id"] == r.headers["x-request-id"]


def test_unknown_sandbox(raw):
    r = raw.get(f"{FLOW}/connections", headers=raw.headers(sandbox="dev"))
    assert r.status_code == 404
    body = r.json()
    assert body["type"] == "https://ns.adobe.com/aep/errors/FLOW-2100-404"
    assert body["title"] == "Sandbox not found"
    assert body["errorMessage"].startswith("The sandbox with the name 'dev' could not be found.")


def test_expired_token(raw, local_server):
    admin = {"Authorization": f"Bearer {local_server.admin_token}"}
    assert raw.post("/aep-local/token-lifetime", json={"seconds": 30}, headers=admin).status_code == 200
    try:
        token = raw.token(fresh=True)
        assert raw.get(f"{FLOW}/flowSpecs", headers=raw.headers(token=token)).status_code == 200
        assert raw.post("/aep-local/clock", json={"advance": 31}, headers=admin).status_code == 200
        r = raw.get(f"{FLOW}/flowSpecs", headers=raw.headers(token=token))
        assert r.status_code == 401
        assert r.json() == {"error_code": "401013", "message": "Oauth token is not valid"}
    finally:
        raw.post("/aep-local/token-lifetime", json={"seconds": 86399}, headers=admin)
        raw.token(fresh=True)


def test_register_and_revoke_client(raw, local_server):
    org = "C0FFEE00000000000000C0DE@AdobeOrg"
    admin = {"Authorization": f"Bearer {local_server.admin_token}"}
    r = raw.post("/aep-local/clients", json={"client_id": "revocable", "client_secret": "s3cret-value",
                                             "org_id": org}, headers=admin)
    assert r.status_code == 201, r.text
    assert "client_secret" not in r.json() and "s3cret-value" not in r.text
    assert raw.post("/aep-local/clients", json={"client_id": "revocable", "client_secret": "x",
                                                "org_id": org}, headers=admin).status_code == 409
    headers = raw.headers(client_id="revocable", client_secret="s3cret-value", org=org)
    assert raw.get(f"{FLOW}/connections", headers=headers).status_code == 200   # its org has prod
    assert raw.delete("/aep-local/clients/revocable", headers=admin).status_code == 204
    r = raw.get(f"{FLOW}/connections", headers=headers)
    assert r.status_code == 401 and r.json()["error_code"] == "401013"
    assert raw.delete("/aep-local/clients/revocable", headers=admin).status_code == 404
    r = raw.post("/ims/token/v3", data={"grant_type": "client_credentials", "client_id": "revocable",
                                        "client_secret": "s3cret-value"})
    assert r.status_code == 401


def test_client_secrets_are_stored_hashed(local_server):
    from aep_magics.local.gateway import PLATFORM

    rec = local_server.platform.store.get(PLATFORM, "client", DEV_CLIENT_ID)
    assert rec is not None
    assert DEV_CLIENT_SECRET not in json.dumps(rec.doc)


# -- request skin -------------------------------------------------------------------------------------------------
def test_content_type_required(raw, tenant_headers):
    r = raw.post(f"{FLOW}/connections", data=json.dumps(BASE_CONNECTION),
                 headers={**tenant_headers, "Content-Type": "text/plain"})
    assert r.status_code == 400
    assert r.json() == {"type": "/placeholder/type/uri", "status": 400, "title": "BadRequestError",
                        "detail": "A valid content-type must be specified"}
    r = raw.post(f"{FLOW}/connections", data=json.dumps(BASE_CONNECTION).encode(), headers=dict(tenant_headers))
    assert r.status_code == 400 and r.json()["detail"] == "A valid content-type must be specified"


def test_malformed_json(raw, tenant_headers):
    r = raw.post(f"{FLOW}/connections", data='{"name": "x",}',
                 headers={**tenant_headers, "Content-Type": "application/json"})
    assert r.status_code == 400
    body = r.json()
    assert body["type"].startswith("https://ns.adobe.com/aep/errors/FLOW-")
    assert "not valid JSON" in body["errorMessage"]


def test_unknown_path_and_method(raw, tenant_headers):
    r = raw.get("/data/foundation/nothing-here", headers=tenant_headers)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["status"] == 404
    r = raw.delete(f"{FLOW}/connectionSpecs", headers=tenant_headers)
    assert r.status_code == 405
    assert r.json()["status"] == 405
    assert "GET" in r.headers["Allow"]


def test_request_id_on_every_response(raw, tenant_headers):
    for r in (raw.get(f"{FLOW}/flowSpecs", headers=tenant_headers), raw.get("/nowhere"),
              raw.get(f"{FLOW}/flows", headers=raw.headers(token=""))):
        assert len(r.headers["x-request-id"]) >= 16
    r = raw.get("/aep-local/health", headers={"x-request-id": "my-request-1"})
    assert r.headers["x-request-id"] == "my-request-1"


def test_unexpected_exception_is_a_json_500_and_logged_without_headers(local_server, caplog):
    from werkzeug.test import Client

    from aep_magics.local.server import App
    from aep_magics.local.services.base import Route, Service

    class Boom(Service):
        def routes(self):
            return [Route("GET", "/boom", self.boom, auth=False, sandbox=False)]

        def boom(self, call):
            raise RuntimeError("kaboom")

    client = Client(App(local_server.platform, services=[Boom(local_server.platform)]))
    with caplog.at_level(logging.INFO, logger="aep_magics.local"):
        resp = client.get("/boom", headers={"Authorization": "Bearer super-secret-token-value"})
    assert resp.status_code == 500
    body = json.loads(resp.data)
    assert body["status"] == 500 and body["title"] == "InternalServerError"
    assert "kaboom" not in resp.data.decode()
    assert "x-request-id" in resp.headers
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "kaboom" in text                           # the traceback is logged ...
    assert "super-secret-token-value" not in text     # ... but never a header


def test_access_log_has_no_secrets(raw, caplog):
    with caplog.at_level(logging.INFO, logger="aep_magics.local"):
        raw.post("/ims/token/v2", params={"grant_type": "client_credentials", "client_id": DEV_CLIENT_ID,
                                          "client_secret": DEV_CLIENT_SECRET})
        raw.post("/ims/token/v3", data={"grant_type": "client_credentials", "client_id": DEV_CLIENT_ID,
                                        "client_secret": DEV_CLIENT_SECRET})
    lines = [r.getMessage() for r in caplog.records if r.name == "aep_magics.local"]
    assert any(line.startswith("POST /ims/token/v2 200") for line in lines), lines
    assert any(line.startswith("POST /ims/token/v3 200") for line in lines), lines
    assert not any(DEV_CLIENT_SECRET in line or "access_token" in line for line in lines)


# -- control plane ------------------------------------------------------------------------------------------------
def test_health_and_clock(raw, local_server):
    health = raw.get("/aep-local/health").json()
    assert health["status"] == "ok"
    assert "FlowService" in health["services"]
    before = raw.get("/aep-local/clock").json()["now"]
    admin = {"Authorization": f"Bearer {local_server.admin_token}"}
    after = raw.post("/aep-local/clock", json={"advance": 60}, headers=admin).json()["now"]
    assert after >= before + 60_000
    r = raw.post("/aep-local/clock", json={"advance": -1}, headers=admin)
    assert r.status_code == 400


def test_openapi_document(raw):
    r = raw.get("/aep-local/openapi.yaml")
    assert r.status_code == 200
    doc = yaml.safe_load(r.text)
    assert doc["openapi"].startswith("3.")
    assert "/data/foundation/flowservice/flows/{id}" in doc["paths"]
    assert "/ims/token/v3" in doc["paths"]
    served = raw.get("/aep-local/openapi.json").json()
    assert served["paths"].keys() == doc["paths"].keys()


# -- persistence and determinism ----------------------------------------------------------------------------------
def _token_headers(url: str, sandbox: str = "prod") -> dict[str, str]:
    token = requests.post(url + "/ims/token/v3", data={"grant_type": "client_credentials",
                                                       "client_id": DEV_CLIENT_ID,
                                                       "client_secret": DEV_CLIENT_SECRET}, timeout=30)
    return {"Authorization": "Bearer " + token.json()["access_token"], "x-api-key": DEV_CLIENT_ID,
            "x-gw-ims-org-id": DEV_ORG_ID, "x-sandbox-name": sandbox}


def test_restart_keeps_state(tmp_path):
    from aep_magics import local

    with local.start(data_dir=tmp_path, seed=5) as server:
        headers = _token_headers(server.url)
        created = requests.post(server.url + f"{FLOW}/connections", json=BASE_CONNECTION, headers=headers,
                                timeout=30).json()
        url = server.url
    assert (tmp_path / "state.sqlite3").exists()
    with pytest.raises(requests.ConnectionError, match="Connection refused"):
        requests.get(url + "/aep-local/health", timeout=5)
    with local.start(data_dir=tmp_path, seed=5) as again:
        headers = _token_headers(again.url)
        r = requests.get(again.url + f"{FLOW}/connections/{created['id']}", headers=headers, timeout=30)
        assert r.status_code == 200
        assert r.json()["items"][0]["etag"] == created["etag"]
        # a seeded platform reopened on its state does not hand out the same ids again
        second = requests.post(again.url + f"{FLOW}/connections", json=BASE_CONNECTION, headers=headers,
                               timeout=30)
        assert second.status_code == 201 and second.json()["id"] != created["id"]


def _scripted_session(seed: int) -> list:
    from aep_magics import local

    out = []
    with local.start(seed=seed) as server:
        headers = _token_headers(server.url)
        out.append(headers["Authorization"])
        conn = requests.post(server.url + f"{FLOW}/connections", json=BASE_CONNECTION, headers=headers,
                             timeout=30).json()
        out.append(conn)
        got = requests.get(server.url + f"{FLOW}/connections/{conn['id']}", headers=headers, timeout=30).json()
        out.append({k: v for k, v in got["items"][0].items()})
        sandbox = requests.post(server.url + "/data/foundation/sandbox-management/sandboxes",
                                json={"name": "det", "title": "Det", "type": "development"},
                                headers=headers, timeout=30).json()
        out.append(sandbox)
        out.append(requests.get(server.url + "/aep-local/clock", timeout=30).json())
    return out


def test_deterministic_ids_with_a_seed():
    first, second = _scripted_session(99), _scripted_session(99)
    # everything but the bearer token, which is never seeded (tests/test_server_limits.py)
    assert first[0] != second[0] and first[1:] == second[1:]
    assert first[1]["etag"].startswith('"') and len(first[1]["id"]) == 36
    other = _scripted_session(100)
    assert other[1]["id"] != first[1]["id"]


# -- packaging and CLI --------------------------------------------------------------------------------------------
def test_import_is_light():
    code = ("import sys, aep_magics.local; "
            "print(any(m in sys.modules for m in ('pandas', 'pyarrow', 'werkzeug')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_cli_reset(tmp_path, capsys):
    from aep_magics.local import cli

    state = tmp_path / "state"
    state.mkdir()
    (state / "state.sqlite3").write_bytes(b"")
    assert cli.main(["reset", "--data-dir", str(state), "--yes"]) == 0
    assert not state.exists()
    other = tmp_path / "precious"
    other.mkdir()
    (other / "thesis.tex").write_text("do not delete")
    assert cli.main(["reset", "--data-dir", str(other), "--yes"]) == 2
    assert (other / "thesis.tex").exists()


def test_cli_serve_and_registry(tmp_path, capsys):
    from aep_magics.local import cli

    parser = cli.build_parser()
    assert {"serve", "reset"} <= set(cli.COMMANDS)
    args = parser.parse_args(["serve", "--port", "0", "--data-dir", str(tmp_path / "d"), "--seed", "3"])
    stop = threading.Event()
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    assert cli._run_serve(args, stop=stop) == 0
    out = capsys.readouterr().out
    assert "AEP Local is serving http://127.0.0.1:" in out and "AEP_CLIENT_ID=aep-local-dev" in out

    cli.register("hello", lambda p: p.add_argument("--name", default="x"), lambda a: 7, help="test command")
    try:
        assert cli.main(["hello"]) == 7
    finally:
        cli.COMMANDS.pop("hello")


# -- the client package ----------------------------------------------------------------------------------------------
def test_through_the_client_session(local_server):
    from aep_magics.http import AEPSession

    with AEPSession(local_server.profile()) as session:
        resp = session.request("GET", f"{FLOW}/flowSpecs", params={"property": 'name=="CRMToAEP"'})
    assert [(s["id"], s["name"]) for s in resp.json()["items"]] == [("14518937-270c-4525-bdec-c2ba7cce3860",
                                                                       "CRMToAEP")]


def test_raw_helper_is_reusable(local_server):
    other = Raw(local_server.url)
    r = other.get(f"{FLOW}/flowSpecs", headers=other.headers())
    assert r.status_code == 200 and "CRMToAEP" in {spec["name"] for spec in r.json()["items"]}


def test_store_orders_sizes_the_sample_store(tmp_path):
    from aep_magics import local

    with local.start(data_dir=tmp_path, seed=11, store_orders=120, scheduler=False) as server:
        shop = server.platform.shop
        assert shop.count("Shopify.Orders") == 120
        assert (tmp_path / "shopify" / "manifest.json").exists()


def test_cli_store(tmp_path, capsys):
    from aep_magics.local import cli

    assert cli.main(["store", "--data-dir", str(tmp_path), "--orders", "40", "--seed", "3"]) == 0
    assert (tmp_path / "shopify" / "manifest.json").exists()
