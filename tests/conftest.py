"""Shared fixtures: one AEP Local server per test session, and raw HTTP helpers to call it.

- ``local_server``: ``aep_magics.local.start()`` on a temporary data dir with a fixed seed (session-scoped).
- ``raw``: a :class:`Raw` helper -- a ``requests`` session bound to the server URL, with ``token()`` (IMS) and
  ``headers()`` (the platform headers for any client / org / sandbox).
- ``tenant_headers``: the headers of the dev credentials in ``prod`` (a dict; call it with keyword overrides for a
  variant, e.g. ``tenant_headers(sandbox="dev")``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID  # noqa: E402

SESSION_SEED = 20260302
FLOW = "/data/foundation/flowservice"
SANDBOXES = "/data/foundation/sandbox-management/sandboxes"


class Headers(dict):
    """A header dict that can also produce variants: ``headers(sandbox="dev", api_key=None)``."""

    def __init__(self, raw: Raw, values: dict[str, str], options: dict[str, Any]):
        super().__init__(values)
        self._raw = raw
        self._options = options

    def __call__(self, **overrides: Any) -> Headers:
        return self._raw.headers(**{**self._options, **overrides})


class Raw:
    """Plain ``requests`` against a running AEP Local (no client package involved)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self._tokens: dict[tuple[str, str], str] = {}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, self.url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def token(self, client_id: str = DEV_CLIENT_ID, client_secret: str = DEV_CLIENT_SECRET, *,
              fresh: bool = False) -> str:
        key = (client_id, client_secret)
        if fresh or key not in self._tokens:
            r = self.post("/ims/token/v3", data={"grant_type": "client_credentials", "client_id": client_id,
                                                 "client_secret": client_secret, "scope": "openid,AdobeID"})
            assert r.status_code == 200, r.text
            self._tokens[key] = r.json()["access_token"]
        return self._tokens[key]

    def headers(self, *, sandbox: str | None = "prod", client_id: str = DEV_CLIENT_ID,
                client_secret: str = DEV_CLIENT_SECRET, org: str | None = DEV_ORG_ID, token: str | None = None,
                api_key: str | None = "", json: bool = False) -> Headers:
        """Platform headers; pass ``None`` to leave a header out (``api_key=""`` means "the client id")."""
        values: dict[str, str] = {}
        tok = token if token is not None else self.token(client_id, client_secret)
        if tok:
            values["Authorization"] = f"Bearer {tok}"
        if api_key is not None:
            values["x-api-key"] = api_key or client_id
        if org is not None:
            values["x-gw-ims-org-id"] = org
        if sandbox is not None:
            values["x-sandbox-name"] = sandbox
        if json:
            values["Content-Type"] = "application/json"
        options = dict(sandbox=sandbox, client_id=client_id, client_secret=client_secret, org=org, token=token,
                       api_key=api_key, json=json)
        return Headers(self, values, options)


@pytest.fixture(scope="session")
def local_server(tmp_path_factory):
    from aep_magics import local

    server = local.start(data_dir=tmp_path_factory.mktemp("aep-local"), seed=SESSION_SEED)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def raw(local_server) -> Raw:
    return Raw(local_server.url)


@pytest.fixture
def tenant_headers(raw) -> Headers:
    return raw.headers()
