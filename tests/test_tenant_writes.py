"""Writes stay inside their tenant: two orgs with a sandbox of the same name, and resources of the same ids, never
change each other's state.

Ids of one kind are unique only within a tenant (org, sandbox): sandbox records are keyed by their name, which every
org may reuse, and ids a client chooses (or a seed repeats) can meet in two orgs. So every update, delete and wipe
must be scoped by org and sandbox, not by kind and id. The store is exercised directly for identical ids; the HTTP
API for sandboxes and resources by name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aep_magics.local.platform import DEV_ORG_ID
from aep_magics.local.store import GLOBAL_SANDBOX, Store, Tenant
from conftest import FLOW, SANDBOXES

ORG_A = "TENANTA00000000000000000@AdobeOrg"
ORG_B = "TENANTB00000000000000000@AdobeOrg"
SHARED = "shared-name"
SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"


# -- the store, with identical ids in both orgs ---------------------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "state.db")


def _both(store: Store, kind: str, id: str) -> tuple[Tenant, Tenant]:
    a, b = Tenant(ORG_A, SHARED), Tenant(ORG_B, SHARED)
    for tenant in (a, b):
        store.insert(tenant, kind, id, {"owner": tenant.org}, created=1, etag=f'"{tenant.org[:7]}"', name="same",
                     state="enabled", parent="p")
    return a, b


def _snapshot(store: Store, tenant: Tenant, kind: str, id: str):
    rec = store.get(tenant, kind, id)
    assert rec is not None, f"{kind} {id} of {tenant} is gone"
    return rec.doc, rec.etag, rec.updated, [r.id for r in store.find_by_name(tenant, kind, "same")]


def test_replace_touches_only_its_tenant(store):
    a, b = _both(store, "connection", "c1")
    before = _snapshot(store, b, "connection", "c1")
    assert store.replace(a, "connection", "c1", {"owner": "renamed"}, updated=2, etag='"new"', name="other",
                         state="disabled")
    assert store.get(a, "connection", "c1").doc == {"owner": "renamed"}
    assert _snapshot(store, b, "connection", "c1") == before
    # with an expected etag too: org B's etag does not unlock org A's record, and the other way round
    assert not store.replace(a, "connection", "c1", {"owner": "x"}, updated=3, expected_etag=before[1])
    assert store.replace(b, "connection", "c1", {"owner": "b2"}, updated=3, etag='"b2"', expected_etag=before[1],
                         name="same")
    assert store.get(a, "connection", "c1").doc == {"owner": "renamed"}


def test_replace_touches_only_its_sandbox(store):
    prod, dev = Tenant(ORG_A, "prod"), Tenant(ORG_A, "dev")
    for tenant in (prod, dev):
        store.insert(tenant, "flow", "f1", {"sandbox": tenant.sandbox}, created=1, etag='"e"')
    assert store.replace(dev, "flow", "f1", {"sandbox": "changed"}, updated=2, etag='"e2"', expected_etag='"e"')
    assert store.get(prod, "flow", "f1").doc == {"sandbox": "prod"} and store.get(prod, "flow", "f1").etag == '"e"'


def test_delete_and_wipe_touch_only_their_tenant(store):
    a, b = _both(store, "flow", "f1")
    before = _snapshot(store, b, "flow", "f1")
    assert store.delete(a, "flow", "f1")
    assert store.get(a, "flow", "f1") is None
    assert _snapshot(store, b, "flow", "f1") == before
    store.insert(a, "flow", "f2", {}, created=1)
    store.insert(b, "flow", "f2", {}, created=1)
    assert store.delete_tenant(a) == 1
    assert {r.id for r in store.select(b, "flow")} == {"f1", "f2"}


def test_sandbox_records_of_two_orgs_share_a_name(store):
    """Sandbox records are keyed by name under the org's pseudo sandbox: the same id in every org."""
    a, b = Tenant(ORG_A, GLOBAL_SANDBOX), Tenant(ORG_B, GLOBAL_SANDBOX)
    for tenant in (a, b):
        store.insert(tenant, "sandbox", SHARED, {"title": tenant.org}, created=1, name=SHARED, state="active")
    assert store.replace(a, "sandbox", SHARED, {"title": "A renamed"}, updated=2, name=SHARED, state="deleted")
    assert store.get(b, "sandbox", SHARED).doc == {"title": ORG_B}
    assert [r.id for r in store.select(b, "sandbox", where="state = ?", params=["active"])] == [SHARED]


# -- over HTTP: two orgs, one sandbox name ---------------------------------------------------------------------------
def _register(raw, client_id: str, org: str):
    """A client of ``org`` through the control plane (a state change: it takes a bearer token and a JSON body)."""
    r = raw.post("/aep-local/clients", json={"client_id": client_id, "client_secret": f"{client_id}-secret",
                                             "org_id": org},
                 headers={"Authorization": f"Bearer {raw.token()}"})
    assert r.status_code == 201, r.text
    return lambda **kw: raw.headers(client_id=client_id, client_secret=f"{client_id}-secret", org=org, **kw)


@pytest.fixture(scope="module")
def orgs(raw):
    """Org A and org B, each with a sandbox named ``shared-name`` holding a connection named ``shared``."""
    heads = {"A": _register(raw, "tenant-writes-a", ORG_A), "B": _register(raw, "tenant-writes-b", ORG_B)}
    out = {}
    for org, headers in heads.items():
        r = raw.post(SANDBOXES, json={"name": SHARED, "title": f"Org {org}", "type": "development"},
                     headers=headers(sandbox=None))
        assert r.status_code == 202, r.text
        h = headers(sandbox=SHARED)
        conn = raw.post(f"{FLOW}/connections", headers=h, json={
            "name": "shared", "description": f"org {org}",
            "auth": {"specName": "Basic Authentication", "params": {"host": "a.myshopify.com", "accessToken": "t"}},
            "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})
        assert conn.status_code == 201, conn.text
        out[org] = {"headers": headers, "h": h, "conn": conn.json()["id"]}
    return out


def _sandbox(raw, org) -> dict:
    r = raw.get(f"{SANDBOXES}/{SHARED}", headers=org["headers"](sandbox=None))
    assert r.status_code == 200, r.text
    return r.json()


def _connections(raw, org) -> list[dict]:
    r = raw.get(f"{FLOW}/connections", params={"property": "name==shared"}, headers=org["h"])
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_renaming_a_sandbox_leaves_the_other_orgs_namesake_alone(raw, orgs):
    b_before = _sandbox(raw, orgs["B"])
    r = raw.patch(f"{SANDBOXES}/{SHARED}", json={"title": "A renamed"}, headers=orgs["A"]["headers"](sandbox=None))
    assert r.status_code == 200, r.text
    assert _sandbox(raw, orgs["A"])["title"] == "A renamed"
    assert _sandbox(raw, orgs["B"]) == b_before
    assert b_before["title"] == "Org B"


def test_patching_a_resource_leaves_the_other_org_alone(raw, orgs):
    (b_before,) = _connections(raw, orgs["B"])
    (a_conn,) = _connections(raw, orgs["A"])
    r = raw.patch(f"{FLOW}/connections/{a_conn['id']}", headers={**orgs["A"]["h"], "If-Match": a_conn["etag"]},
                  json=[{"op": "replace", "path": "/description", "value": "A patched"}])
    assert r.status_code == 200, r.text
    assert _connections(raw, orgs["A"])[0]["description"] == "A patched"
    assert _connections(raw, orgs["B"]) == [b_before]
    # org B's id is unknown to org A, whatever the etag
    r = raw.patch(f"{FLOW}/connections/{orgs['B']['conn']}", headers={**orgs["A"]["h"], "If-Match": b_before["etag"]},
                  json=[{"op": "replace", "path": "/description", "value": "A again"}])
    assert r.status_code == 404 and _connections(raw, orgs["B"]) == [b_before]


def test_deleting_a_sandbox_leaves_the_other_orgs_namesake_and_its_state(raw, orgs):
    """Runs last in this module: org A's ``shared-name`` goes, org B's stays active with its connection."""
    b_sandbox, b_conns = _sandbox(raw, orgs["B"]), _connections(raw, orgs["B"])
    r = raw.delete(f"{SANDBOXES}/{SHARED}", headers=orgs["A"]["headers"](sandbox=None))
    assert r.status_code == 202, r.text
    assert _sandbox(raw, orgs["A"])["state"] == "deleted"
    assert _sandbox(raw, orgs["B"]) == b_sandbox and b_sandbox["state"] == "active"
    assert _connections(raw, orgs["B"]) == b_conns
    assert raw.get(f"{FLOW}/connections/{orgs['B']['conn']}", headers=orgs["B"]["h"]).status_code == 200
    # the dev org never had a sandbox of that name
    assert raw.get(f"{SANDBOXES}/{SHARED}", headers=raw.headers(sandbox=None, org=DEV_ORG_ID)).status_code == 404
