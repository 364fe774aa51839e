"""Tenancy: every resource belongs to one (org, sandbox); sandbox management creates and deletes sandboxes."""

from __future__ import annotations

import pytest

from conftest import FLOW, SANDBOXES

SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
OTHER_ORG = "0THER0RG0000000000000000@AdobeOrg"
CONNECTION = {
    "name": "Shopify source",
    "auth": {"specName": "Basic Authentication", "params": {"host": "a.myshopify.com", "accessToken": "t"}},
    "connectionSpec": {"id": SHOPIFY, "version": "1.0"},
}


@pytest.fixture(scope="module")
def other_org(raw, local_server):
    r = raw.post("/aep-local/clients", json={"client_id": "other-org-client", "client_secret": "other-secret",
                                             "org_id": OTHER_ORG},
                 headers={"Authorization": f"Bearer {local_server.admin_token}"})
    assert r.status_code == 201, r.text
    return raw.headers(client_id="other-org-client", client_secret="other-secret", org=OTHER_ORG)


def test_cross_org_isolation(raw, tenant_headers, other_org):
    created = raw.post(f"{FLOW}/connections", json=CONNECTION, headers=tenant_headers).json()
    assert raw.get(f"{FLOW}/connections/{created['id']}", headers=tenant_headers).status_code == 200
    r = raw.get(f"{FLOW}/connections/{created['id']}", headers=other_org)
    assert r.status_code == 404
    assert r.json()["type"] == "https://ns.adobe.com/aep/errors/FLOW-1439-404"
    ids = [i["id"] for i in raw.get(f"{FLOW}/connections", headers=other_org).json()["items"]]
    assert created["id"] not in ids
    # another org cannot delete or patch it either
    assert raw.delete(f"{FLOW}/connections/{created['id']}", headers=other_org).status_code == 404
    assert raw.patch(f"{FLOW}/connections/{created['id']}", json=[{"op": "add", "path": "/description",
                                                                   "value": "x"}],
                     headers={**other_org, "If-Match": created["etag"]}).status_code == 404
    # a token of one org cannot be used with another org's id
    r = raw.get(f"{FLOW}/connections", headers=other_org(org="AEPLOCAL000000000000000@AdobeOrg"))
    assert r.status_code == 403 and r.json()["error_code"] == "403025"


def test_each_org_has_its_own_prod(raw, other_org):
    mine = raw.get(f"{SANDBOXES}/prod", headers=raw.headers(sandbox=None)).json()
    theirs = raw.get(f"{SANDBOXES}/prod", headers=other_org(sandbox=None)).json()
    assert mine["isDefault"] and theirs["isDefault"]
    assert mine["id"] != theirs["id"]


def test_cross_sandbox_isolation(raw, tenant_headers):
    r = raw.post(SANDBOXES, json={"name": "tenancy-dev", "title": "Tenancy dev", "type": "development"},
                 headers=raw.headers(sandbox=None))
    assert r.status_code == 202, r.text
    assert r.json()["name"] == "tenancy-dev" and r.json()["state"] == "creating"
    got = raw.get(f"{SANDBOXES}/tenancy-dev", headers=raw.headers(sandbox=None)).json()
    assert got["state"] == "active" and got["type"] == "development" and got["isDefault"] is False
    dev = raw.headers(sandbox="tenancy-dev")
    created = raw.post(f"{FLOW}/connections", json=CONNECTION, headers=dev).json()
    item = raw.get(f"{FLOW}/connections/{created['id']}", headers=dev).json()["items"][0]
    assert item["sandboxName"] == "tenancy-dev" and item["sandboxId"] == got["id"]
    assert raw.get(f"{FLOW}/connections/{created['id']}", headers=tenant_headers).status_code == 404
    prod_ids = [i["id"] for i in raw.get(f"{FLOW}/connections", headers=tenant_headers).json()["items"]]
    assert created["id"] not in prod_ids
    dev_ids = [i["id"] for i in raw.get(f"{FLOW}/connections", headers=dev).json()["items"]]
    assert dev_ids == [created["id"]]


def test_sandbox_create_rules(raw):
    h = raw.headers(sandbox=None)
    assert raw.post(SANDBOXES, json={"name": "rules-a", "title": "A", "type": "development"},
                    headers=h).status_code == 202
    r = raw.post(SANDBOXES, json={"name": "rules-a", "title": "A again", "type": "development"}, headers=h)
    assert r.status_code == 409
    for bad in ("Has-Upper", "has space", "under_score", "-lead", "trail-", ""):
        r = raw.post(SANDBOXES, json={"name": bad, "title": "x", "type": "development"}, headers=h)
        assert r.status_code == 400, bad
        assert r.json()["status"] == 400
    assert raw.post(SANDBOXES, json={"name": "rules-b", "title": "B", "type": "staging"},
                    headers=h).status_code == 400
    assert raw.post(SANDBOXES, json={"name": "rules-c"}, headers=h).status_code == 400
    r = raw.patch(f"{SANDBOXES}/rules-a", json={"title": "Renamed"}, headers=h)
    assert r.status_code == 200 and r.json()["title"] == "Renamed"
    assert raw.get(f"{SANDBOXES}/rules-a", headers=h).json()["eTag"] == 2
    assert raw.get(f"{SANDBOXES}/nope", headers=h).status_code == 404


def test_sandbox_list_paging(raw):
    h = raw.headers(sandbox=None)
    for name in ("page-1", "page-2", "page-3"):
        raw.post(SANDBOXES, json={"name": name, "title": name, "type": "development"}, headers=h)
    everything = raw.get(SANDBOXES, headers=h).json()
    names = [s["name"] for s in everything["sandboxes"]]
    assert names[0] == "prod" and {"page-1", "page-2", "page-3"} <= set(names)
    assert everything["_page"] == {"limit": 50, "count": len(names)}
    for sandbox in everything["sandboxes"]:
        assert {"name", "title", "state", "type", "region", "isDefault", "eTag", "createdDate",
                "lastModifiedDate", "createdBy", "modifiedBy"} <= set(sandbox)
    page = raw.get(SANDBOXES, params={"limit": 2, "offset": 1}, headers=h).json()
    assert [s["name"] for s in page["sandboxes"]] == names[1:3]
    assert page["_page"] == {"limit": 2, "count": 2}
    assert page["_links"]["next"]["href"].endswith("limit=2&offset=3")
    assert raw.get(SANDBOXES, params={"limit": 2}, headers=h).status_code == 400
    available = raw.get("/data/foundation/sandbox-management/", headers=h).json()
    assert all(s["state"] == "active" for s in available["sandboxes"])
    types = raw.get("/data/foundation/sandbox-management/sandboxTypes", headers=h).json()
    assert types == {"sandboxTypes": ["development", "production"]}


def test_delete_sandbox_removes_its_state(raw):
    h = raw.headers(sandbox=None)
    assert raw.delete(f"{SANDBOXES}/prod", headers=h).status_code == 400
    assert raw.post(SANDBOXES, json={"name": "doomed", "title": "Doomed", "type": "development"},
                    headers=h).status_code == 202
    doomed = raw.headers(sandbox="doomed")
    created = raw.post(f"{FLOW}/connections", json=CONNECTION, headers=doomed).json()
    r = raw.delete(f"{SANDBOXES}/doomed", headers=h)
    assert r.status_code == 202 and r.json()["state"] == "deleted"
    assert raw.get(f"{SANDBOXES}/doomed", headers=h).json()["state"] == "deleted"   # still visible
    r = raw.get(f"{FLOW}/connections/{created['id']}", headers=doomed)
    assert r.status_code == 404
    assert r.json()["type"] == "https://ns.adobe.com/aep/errors/FLOW-2100-404"
    assert raw.delete(f"{SANDBOXES}/doomed", headers=h).status_code == 404
    # re-created under the same name: empty
    assert raw.post(SANDBOXES, json={"name": "doomed", "title": "Again", "type": "development"},
                    headers=h).status_code == 202
    assert raw.get(f"{FLOW}/connections", headers=doomed).json()["items"] == []
    assert raw.get(f"{FLOW}/connections/{created['id']}", headers=doomed).status_code == 404


def test_sandbox_api_needs_no_sandbox_header_but_auth(raw):
    r = raw.get(SANDBOXES, headers=raw.headers(sandbox=None))
    assert r.status_code == 200 and "prod" in {sandbox["name"] for sandbox in r.json()["sandboxes"]}
    r = raw.get(SANDBOXES, headers=raw.headers(token=""))
    assert r.status_code == 403 and r.json()["error_code"] == "403010"


def test_specs_are_shared_by_every_tenant(raw, other_org):
    for headers in (raw.headers(), other_org):
        r = raw.get(f"{FLOW}/flowSpecs", params={"property": 'name=="CRMToAEP"'}, headers=headers)
        assert len(r.json()["items"]) == 1
