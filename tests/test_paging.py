"""The kit's Flow Service paging follows each next link as the server gives it, against AEP Local.

The caller's parameters shape the first request only. A next link (``_links.next.href``) carries the server's own
``continuationToken`` and its own ``limit``/``orderby``, which may differ from what the caller sent (the server caps
``limit`` at 1000 and writes ``orderby`` its way); the client sends them as given, adding only the caller's
parameters the link does not carry (https://developer.adobe.com/experience-platform-apis/references/flow-service/).
Each test records the URLs the client really sent (a ``requests`` response hook) and the links AEP Local answered.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, urlsplit

import pytest

from aep_magics.http import AEPSession
from aep_magics.local.platform import DEV_ORG_ID
from aep_magics.local.store import Tenant
from conftest import FLOW, SANDBOXES

CONNECTIONS = f"{FLOW}/connections"
SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
COUNT = 8
#: AEP Local's largest page (query.MAX_LIMIT; Flow Service's FlowFilterRequest documents ``maximum: 1000``).
MAX_LIMIT = 1000


def _connection(name: str) -> dict:
    return {"name": name, "auth": {"specName": "Basic Authentication",
                                   "params": {"host": "a.myshopify.com", "accessToken": "t"}},
            "connectionSpec": {"id": SHOPIFY, "version": "1.0"}}


def _sandbox(raw, name: str):
    r = raw.post(SANDBOXES, json={"name": name, "title": name, "type": "development"},
                 headers=raw.headers(sandbox=None))
    assert r.status_code == 202, r.text
    return raw.headers(sandbox=name)


@pytest.fixture(scope="module")
def paging(raw, local_server):
    """A sandbox with connections ``page-0`` … ``page-7``, created in that order."""
    h = _sandbox(raw, "paging")
    ids = []
    for i in range(COUNT):
        r = raw.post(CONNECTIONS, json=_connection(f"page-{i}"), headers=h)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return {"h": h, "ids": ids, "profile": local_server.profile(sandbox="paging")}


class Recorder:
    """An AEPSession whose sent URLs are recorded (requests' response hook: nothing of the kit is replaced)."""

    def __init__(self, profile):
        self.session = AEPSession(profile)
        self.sent: list[str] = []
        self.links: list[str] = []
        self.session.http.hooks["response"].append(self._record)

    def _record(self, response, *args, **kwargs):
        if urlsplit(response.request.url).path == CONNECTIONS:
            self.sent.append(response.request.url)
            href = (((response.json() or {}).get("_links") or {}).get("next") or {}).get("href")
            if href:
                self.links.append(href)

    def items(self, params) -> list[dict]:
        try:
            return list(self.session.iter_flow(CONNECTIONS, params))
        finally:
            self.session.close()


def _query(url: str) -> list[tuple[str, str]]:
    return sorted(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def test_resuming_from_a_continuation_token_follows_the_servers_tokens(raw, paging):
    """The caller starts from a token of an earlier listing (page size 2) and asks pages of 3: the next request
    carries the server's new token, not the caller's again."""
    first = raw.get(CONNECTIONS, params={"limit": 2}, headers=paging["h"]).json()
    assert [i["id"] for i in first["items"]] == paging["ids"][:2]
    token = dict(parse_qsl(urlsplit(first["_links"]["next"]["href"]).query))["continuationToken"]

    rec = Recorder(paging["profile"])
    items = rec.items({"limit": 3, "continuationToken": token})
    assert [i["id"] for i in items] == paging["ids"][2:], "every connection after the token, once, in order"
    assert len(rec.sent) == 2 and len(rec.links) == 1
    assert _query(rec.sent[0]) == sorted([("continuationToken", token), ("limit", "3")])
    assert _query(rec.sent[1]) == _query(rec.links[0])
    assert dict(_query(rec.links[0]))["continuationToken"] != token


def test_the_links_orderby_is_sent_as_the_server_wrote_it(paging):
    """``orderby=+name`` (Adobe's own example of an ascending sort) comes back as ``orderby=name`` in the link."""
    rec = Recorder(paging["profile"])
    items = rec.items({"limit": 3, "orderby": "+name", "property": "name!=page-7"})
    assert [i["name"] for i in items] == [f"page-{i}" for i in range(COUNT - 1)]
    assert len(rec.sent) == 3 and len(rec.links) == 2
    assert _query(rec.sent[0]) == sorted([("limit", "3"), ("orderby", "+name"), ("property", "name!=page-7")])
    for sent, link in zip(rec.sent[1:], rec.links):
        assert dict(_query(link))["orderby"] == "name"
        assert _query(sent) == _query(link), "the next request is the link, as given"


def test_the_links_capped_limit_replaces_the_callers(raw, local_server):
    """Asked for pages of 5000, AEP Local serves 1000 and its link says ``limit=1000``: the client sends that."""
    h = _sandbox(raw, "paging-capped")
    r = raw.post(CONNECTIONS, json=_connection("capped-0"), headers=h)
    assert r.status_code == 201, r.text
    store, tenant = local_server.platform.store, Tenant(DEV_ORG_ID, "paging-capped")
    template = store.get(tenant, "connection", r.json()["id"])
    for i in range(1, MAX_LIMIT + 1):               # the same connection under new ids: one more than a page
        cid = str(uuid.UUID(int=i))
        store.insert(tenant, "connection", cid, {**template.doc, "id": cid, "name": f"capped-{i}"},
                     created=template.created + i, etag=template.etag, name=f"capped-{i}")
    rec = Recorder(local_server.profile(sandbox="paging-capped"))
    items = rec.items({"limit": 5000})
    assert len(items) == len({i["id"] for i in items}) == MAX_LIMIT + 1
    assert len(rec.sent) == 2 and len(rec.links) == 1
    assert dict(_query(rec.sent[0]))["limit"] == "5000"
    assert dict(_query(rec.links[0]))["limit"] == str(MAX_LIMIT)
    assert _query(rec.sent[1]) == _query(rec.links[0])
