"""Bad input, server side: the corpus in ``tests/data/bad_requests.json`` against a running AEP Local.

Every case is one request -- malformed JSON, wrong content types, bodies past the 16 MB limit, odd Unicode, path
traversal through ids, SQL metacharacters in filters, unknown ids, missing / forged / foreign credentials, wrong
methods, out-of-range numbers -- and states the status and the documented error-body keys it must get. For each
case the test also checks that the server still answers its health check and that the state did not change: the
resources per (org, sandbox, kind) with their etags and update times, the settings table, and the files under the
data dir (the SQLite files aside) are the same before and after.

The platform holds a small real dataflow (run, batch, Parquet file) so that traversal attempts aim at real ids.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests

from aep_magics import local
from aep_magics.api import AEPClient
from aep_magics.http import AEPSession
from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID
from test_faults import SHOPIFY, Resender, _conn_body, frozen_store, tutorial

CORPUS = Path(__file__).resolve().parent / "data" / "bad_requests.json"
CASES = json.loads(CORPUS.read_text(encoding="utf-8"))["cases"]
OTHER_ORG = "BADINPUT0000000000000000@AdobeOrg"
OTHER_CLIENT, OTHER_SECRET = "bad-input-other", "bad-input-other-secret"
REVOKED_CLIENT, REVOKED_SECRET = "bad-input-revoked", "bad-input-revoked-secret"
OTHER_SANDBOX = "other-org-only"


def _token(url: str, client_id: str, secret: str) -> str:
    r = requests.post(f"{url}/ims/token/v3", data={"grant_type": "client_credentials", "client_id": client_id,
                                                   "client_secret": secret, "scope": "openid"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    """AEP Local with a finished dataflow, a second org with its own sandbox, and a revoked client."""
    with local.start(tmp_path_factory.mktemp("bad-input"), seed=6060) as server:
        frozen_store(server)
        url = server.url
        client = AEPClient(AEPSession(server.profile()))
        out = tutorial(client, Resender(), "bad input")
        batch_id = next(iter(client.catalog.list_batches(out["ids"]["dataset"])))
        file_id = client.data.list_batch_files(batch_id)[0]["dataSetFileId"]
        created = client.flow.create_connection(_conn_body("patch target"))
        admin = {"Authorization": f"Bearer {server.admin_token}"}
        for cid, secret, org in ((OTHER_CLIENT, OTHER_SECRET, OTHER_ORG), (REVOKED_CLIENT, REVOKED_SECRET, DEV_ORG_ID)):
            r = requests.post(f"{url}/aep-local/clients", json={"client_id": cid, "client_secret": secret,
                                                                "org_id": org}, timeout=10, headers=admin)
            assert r.status_code == 201, r.text
        other_token = _token(url, OTHER_CLIENT, OTHER_SECRET)
        r = requests.post(f"{url}/data/foundation/sandbox-management/sandboxes",
                          json={"name": OTHER_SANDBOX, "title": "Other org", "type": "development"},
                          headers={"Authorization": f"Bearer {other_token}", "x-api-key": OTHER_CLIENT,
                                   "x-gw-ims-org-id": OTHER_ORG}, timeout=10)
        assert r.status_code == 202, r.text
        revoked_token = _token(url, REVOKED_CLIENT, REVOKED_SECRET)
        assert requests.delete(f"{url}/aep-local/clients/{REVOKED_CLIENT}", timeout=10,
                               headers=admin).status_code == 204
        server.values = {
            "DEV_CLIENT": DEV_CLIENT_ID, "DEV_SECRET": DEV_CLIENT_SECRET, "DEV_TOKEN": _token(url, DEV_CLIENT_ID,
                                                                                              DEV_CLIENT_SECRET),
            "OTHER_CLIENT": OTHER_CLIENT, "OTHER_TOKEN": other_token, "OTHER_ORG": OTHER_ORG,
            "OTHER_SANDBOX": OTHER_SANDBOX, "REVOKED_CLIENT": REVOKED_CLIENT, "REVOKED_SECRET": REVOKED_SECRET,
            "REVOKED_TOKEN": revoked_token, "SHOPIFY": SHOPIFY, "CONN_ID": created["id"],
            "CONN_ETAG": created["etag"], "FILE_ID": file_id, "BATCH_ID": batch_id,
        }
        yield server


# -- building the request ---------------------------------------------------------------------------------------

def fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, replacement in values.items():
            value = value.replace("{" + key + "}", replacement)
        return value
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    if isinstance(value, dict):
        return {fill(k, values): fill(v, values) for k, v in value.items()}
    return value


def _repeat(spec: dict[str, Any]) -> bytes:
    return (spec.get("prefix", "") + spec["unit"] * spec["count"]
            + spec.get("suffix", "") * spec.get("suffix_count", 1)).encode("utf-8")


def _chunks(data: bytes, size: int = 1 << 20):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def build(case: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    headers: dict[str, str] = {}
    if case.get("auth", True):
        headers = {"Authorization": f"Bearer {values['DEV_TOKEN']}", "x-api-key": DEV_CLIENT_ID,
                   "x-gw-ims-org-id": DEV_ORG_ID, "x-sandbox-name": "prod"}
    for name, value in fill(case.get("headers", {}), values).items():
        headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
        if value is not None:
            headers[name] = value
    data: Any = None
    if "json" in case:
        data = json.dumps(fill(case["json"], values)).encode("utf-8")
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    elif "json_as_text" in case:
        data = json.dumps(fill(case["json_as_text"], values)).encode("utf-8")
    elif "text" in case:
        data = fill(case["text"], values).encode("utf-8")
    elif "hex" in case:
        data = bytes.fromhex(case["hex"])
    elif "form" in case:
        data = fill(case["form"], values)
    elif "repeat" in case:
        data = _repeat(case["repeat"])
        if case.get("chunked"):
            data = _chunks(data)
    return {"method": case["method"], "url": None, "path": fill(case["path"], values),
            "params": fill(case.get("params"), values), "headers": headers, "data": data}


# -- what must not change ---------------------------------------------------------------------------------------

def snapshot(server) -> dict[str, Any]:
    db = server.platform.store._conn()
    kinds: dict[str, Any] = {}
    for org, sandbox, kind, n, digest in db.execute(
            "SELECT org, sandbox, kind, COUNT(*), GROUP_CONCAT(id || ':' || COALESCE(etag, '') || ':' || updated, ',')"
            " FROM (SELECT * FROM resources ORDER BY id) GROUP BY org, sandbox, kind"):
        kinds[f"{org}/{sandbox}/{kind}"] = (n, hashlib.sha256((digest or "").encode()).hexdigest()[:16])
    meta = dict(db.execute("SELECT key, value FROM meta"))
    files = sorted(str(p.relative_to(server.data_dir)) for p in Path(server.data_dir).rglob("*")
                   if p.is_file() and not p.name.startswith("state.sqlite3"))
    return {"kinds": kinds, "meta": meta, "files": files}


def _counts(snap: dict[str, Any]) -> dict[str, int]:
    return {k: v[0] for k, v in snap["kinds"].items()}


# -- the cases ------------------------------------------------------------------------------------------------------

def test_corpus_is_large_and_well_formed():
    assert len(CASES) >= 50
    assert len({c["id"] for c in CASES}) == len(CASES)
    categories = {c["category"] for c in CASES}
    assert categories >= {"malformed-json", "content-type", "huge", "unicode", "traversal", "sql", "unknown-id",
                          "auth", "method"}
    for c in CASES:
        assert c["method"] in ("GET", "POST", "PUT", "PATCH", "DELETE") and c["path"].startswith("/")
        assert "status" in c["expect"] and isinstance(c["expect"]["keys"], list)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_request(target, case):
    values = target.values
    before = snapshot(target)
    req = build(case, values)
    r = requests.request(req["method"], target.url + req["path"], params=req["params"], headers=req["headers"],
                         data=req["data"], timeout=60)
    expect = case["expect"]
    statuses = expect["status"] if isinstance(expect["status"], list) else [expect["status"]]
    assert r.status_code in statuses, f"{case['id']}: {r.status_code} {r.text[:300]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict if expect["keys"] or r.status_code >= 400 else (dict, list))
    missing = [k for k in expect["keys"] if k not in body]
    assert not missing, f"{case['id']}: body lacks {missing}: {body}"
    if r.status_code >= 400:
        assert set(body) & {"error_code", "type", "error"}, body
    if "code" in expect:
        code = expect["code"]
        found = [body.get("error_code"), body.get("error"), str(body.get("type", "")).rsplit("/", 1)[-1]]
        assert code in found, f"{case['id']}: expected {code}, got {body}"
    if "detail" in expect:
        assert body.get("detail") == expect["detail"], body
    for listing in ("items", "results", "data"):
        if listing in expect:
            assert len(body[listing]) == expect[listing], body
    if r.status_code == 405:
        assert r.headers.get("Allow"), r.headers
    if r.status_code == 413:
        assert body["status"] == 413 and "16 MB" in body["detail"]
    # no secret comes back, whatever was sent
    for secret in (DEV_CLIENT_SECRET, OTHER_SECRET, REVOKED_SECRET):
        assert secret not in r.text
    health = requests.get(f"{target.url}/aep-local/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    after = snapshot(target)
    assert _counts(after) == _counts(before), f"{case['id']} changed the resource counts"
    assert after == before, f"{case['id']} changed the state"


def test_the_server_survives_the_whole_corpus_and_still_works(target):
    """After every case (whatever order pytest ran them in), the tutorial's resources are intact and readable."""
    client = AEPClient(AEPSession(target.profile()))
    assert client.flow.get_connection(target.values["CONN_ID"])["name"] == "patch target"
    assert client.catalog.get_batch(target.values["BATCH_ID"])
    data = client.data.get_file(target.values["FILE_ID"])
    part = data["data"][0]["name"]
    assert client.data.download(target.values["FILE_ID"], part)[:4] == b"PAR1"
    assert os.path.exists(Path(target.data_dir) / "state.sqlite3")
