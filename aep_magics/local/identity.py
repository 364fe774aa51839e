"""IMS clients and tokens of AEP Local: the client registry and the opaque bearer tokens issued to its clients
(OAuth Server-to-Server:
https://developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/ims/).

Clients and tokens are platform-wide records (the ``PLATFORM`` pseudo-tenant). Client secrets are kept only as an
HMAC-SHA256 digest keyed by the client id; tokens only as their SHA-256 digest. Token expiry follows the platform
clock, so a fast-forward expires tokens exactly as the passing of time would.

A low module: the IMS service issues tokens with it, the control plane registers and revokes clients, the gateway
checks tokens; it knows neither of them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .store import PLATFORM

if TYPE_CHECKING:
    from .platform import Platform

#: IMS ``expires_in`` for OAuth Server-to-Server tokens (24 hours less a second).
DEFAULT_TOKEN_LIFETIME = 86399


# -- clients ------------------------------------------------------------------------------------------------------
def _digest(client_id: str, secret: str) -> str:
    return hmac.new(client_id.encode(), secret.encode(), hashlib.sha256).hexdigest()


def get_client(platform: Platform, client_id: str) -> dict[str, Any] | None:
    rec = platform.store.get(PLATFORM, "client", client_id)
    return rec.doc if rec else None


def register_client(platform: Platform, client_id: str, client_secret: str, org_id: str) -> dict[str, Any]:
    """Add an IMS client; raises ``KeyError`` when the id is taken. (The org's sandboxes are the Sandbox service's:
    :func:`aep_magics.local.services.ims.register_client` registers a client and makes sure of its org.)"""
    if get_client(platform, client_id) is not None:
        raise KeyError(client_id)
    now = platform.clock.now_ms()
    doc = {"client_id": client_id, "org_id": org_id, "secret_digest": _digest(client_id, client_secret),
           "createdAt": now}
    platform.store.insert(PLATFORM, "client", client_id, doc, created=now, name=client_id)
    return public_client(doc)


def public_client(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {"client_id": doc["client_id"], "org_id": doc["org_id"], "createdAt": doc.get("createdAt")}


def revoke_client(platform: Platform, client_id: str) -> bool:
    """Remove a client and every token issued to it."""
    store = platform.store
    with store.transaction() as db:
        found = store.delete(PLATFORM, "client", client_id)
        db.execute("DELETE FROM resources WHERE org=? AND sandbox=? AND kind='token' AND parent=?",
                   (PLATFORM.org, PLATFORM.sandbox, client_id))
    return found


def authenticate_client(platform: Platform, client_id: str, client_secret: str) -> dict[str, Any] | None:
    client = get_client(platform, client_id)
    # Compute a digest even for unknown clients so both paths cost the same.
    expected = client["secret_digest"] if client else _digest("", "")
    ok = hmac.compare_digest(_digest(client_id, client_secret), expected)
    return client if client and ok else None


# -- tokens -------------------------------------------------------------------------------------------------------
def token_lifetime(platform: Platform) -> int:
    return int(platform.store.get_meta("token_lifetime", str(DEFAULT_TOKEN_LIFETIME)) or DEFAULT_TOKEN_LIFETIME)


def set_token_lifetime(platform: Platform, seconds: int) -> None:
    platform.store.set_meta("token_lifetime", str(int(seconds)))


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(platform: Platform, client: Mapping[str, Any]) -> tuple[str, int]:
    """A new opaque bearer token for ``client``; returns ``(token, expires_in_seconds)``."""
    store = platform.store
    lifetime = token_lifetime(platform)
    now = platform.clock.now_ms()
    token = platform.ids.token()
    doc = {"client_id": client["client_id"], "org_id": client["org_id"], "expires": now + lifetime * 1000}
    with store.transaction() as db:
        db.execute("DELETE FROM resources WHERE org=? AND sandbox=? AND kind='token' AND "
                   "json_extract(doc, '$.expires') <= ?", (PLATFORM.org, PLATFORM.sandbox, now))
        store.insert(PLATFORM, "token", _token_key(token), doc, created=now, parent=client["client_id"])
    return token, lifetime


def token_info(platform: Platform, token: str) -> dict[str, Any] | None:
    """The live token's record (client id, org, expiry), or None when unknown, expired or its client revoked."""
    rec = platform.store.get(PLATFORM, "token", _token_key(token))
    if rec is None or rec.doc["expires"] <= platform.clock.peek_ms():
        return None
    if get_client(platform, rec.doc["client_id"]) is None:
        return None
    return rec.doc
