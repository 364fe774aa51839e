"""Optimistic locking under contention: of many writers holding one etag, exactly one wins.

Flow Service PATCH takes ``If-Match`` (https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/update-connections):
a stale etag is answered ``412`` (``FLOW-1404-412``). Eight PATCHes sent at once with the same etag, over real HTTP
from eight threads, must give one ``200`` and seven ``412``, round after round; the store's ``replace`` with an
``expected_etag`` is the lock they rely on, checked here on its own too.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from aep_magics.local.store import Store, Tenant
from conftest import FLOW, SANDBOXES

WRITERS = 8
ROUNDS = 20
SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
CONNECTION = {
    "name": "contended",
    "auth": {"specName": "Basic Authentication", "params": {"host": "a.myshopify.com", "accessToken": "t"}},
    "connectionSpec": {"id": SHOPIFY, "version": "1.0"},
}
TENANT = Tenant("AEPLOCAL000000000000000@AdobeOrg", "prod")


@pytest.fixture(scope="module")
def headers(raw):
    """A sandbox of its own, so that nothing else touches the contended resources."""
    r = raw.post(SANDBOXES, json={"name": "contention", "title": "Contention", "type": "development"},
                 headers=raw.headers(sandbox=None))
    assert r.status_code == 202, r.text
    return raw.headers(sandbox="contention", json=True)


def _race(url: str, headers: dict[str, str], etag: str) -> list[tuple[int, dict]]:
    """``WRITERS`` PATCHes of ``url`` with ``If-Match: etag``, released together; ``(status, body)`` of each."""
    start = threading.Barrier(WRITERS)

    def write(i: int) -> tuple[int, dict]:
        with requests.Session() as http:
            # a kept-alive connection of its own, open before the start: the PATCHes then arrive together
            assert http.get(url, headers=headers, timeout=60).status_code == 200
            start.wait(timeout=30)
            r = http.patch(url, json=[{"op": "replace", "path": "/description", "value": f"writer {i}"}],
                           headers={**headers, "If-Match": etag}, timeout=60)
            return r.status_code, r.json()

    with ThreadPoolExecutor(WRITERS) as pool:
        return list(pool.map(write, range(WRITERS)))


def test_concurrent_patches_with_one_etag_let_exactly_one_through(raw, headers):
    for round_ in range(ROUNDS):
        created = raw.post(f"{FLOW}/connections", json={**CONNECTION, "description": "before"}, headers=headers)
        assert created.status_code == 201, created.text
        conn_id, etag = created.json()["id"], created.json()["etag"]
        url = f"{raw.url}{FLOW}/connections/{conn_id}"
        answers = _race(url, dict(headers), etag)
        statuses = sorted(status for status, _ in answers)
        assert statuses == [200] + [412] * (WRITERS - 1), f"round {round_}: {statuses}"
        for status, body in answers:
            if status == 412:
                assert body["type"] == "https://ns.adobe.com/aep/errors/FLOW-1404-412", body
        winner = next(body for status, body in answers if status == 200)
        stored = raw.get(f"{FLOW}/connections/{conn_id}", headers=headers).json()["items"][0]
        assert stored["etag"] == winner["etag"] != etag
        assert stored["description"].startswith("writer ")
        # the winner's etag is the one that now counts; the original one stays stale
        again = raw.patch(f"{FLOW}/connections/{conn_id}", headers={**headers, "If-Match": etag},
                          json=[{"op": "replace", "path": "/description", "value": "late"}])
        assert again.status_code == 412, again.text
        assert raw.patch(f"{FLOW}/connections/{conn_id}", headers={**headers, "If-Match": winner["etag"]},
                         json=[{"op": "replace", "path": "/description", "value": "next"}]).status_code == 200


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "state.db")


def test_replace_with_a_stale_etag_changes_nothing(store):
    store.insert(TENANT, "connection", "c1", {"description": "first"}, created=1, etag='"e1"', name="c")
    assert store.replace(TENANT, "connection", "c1", {"description": "second"}, updated=2, etag='"e2"',
                         expected_etag='"e1"', name="c")
    assert not store.replace(TENANT, "connection", "c1", {"description": "stale"}, updated=3, etag='"e3"',
                             expected_etag='"e1"', name="stale")
    rec = store.get(TENANT, "connection", "c1")
    assert (rec.doc, rec.etag, rec.updated) == ({"description": "second"}, '"e2"', 2)
    assert [r.id for r in store.find_by_name(TENANT, "connection", "c")] == ["c1"]
    assert not store.replace(TENANT, "connection", "nope", {}, updated=4, expected_etag='"e2"')


def test_replace_from_many_threads_with_one_etag_succeeds_once(store):
    store.insert(TENANT, "connection", "c1", {"n": -1}, created=1, etag='"e0"')
    start = threading.Barrier(WRITERS)

    def write(i: int) -> bool:
        start.wait(timeout=30)
        return store.replace(TENANT, "connection", "c1", {"n": i}, updated=2, etag=f'"w{i}"', expected_etag='"e0"')

    with ThreadPoolExecutor(WRITERS) as pool:
        won = list(pool.map(write, range(WRITERS)))
    assert won.count(True) == 1, won
    rec = store.get(TENANT, "connection", "c1")
    assert rec.etag == f'"w{won.index(True)}"' and rec.doc == {"n": won.index(True)}
