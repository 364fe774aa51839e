"""The Adobe I/O gateway and IMS of AEP Local: client registry, opaque bearer tokens, and the header checks every
platform call passes before it reaches a service (REFERENCE §1.2, §1.3, §2.3).

Clients and tokens are platform-wide records (the ``PLATFORM`` pseudo-tenant). Client secrets are kept only as an
HMAC-SHA256 digest keyed by the client id; tokens only as their SHA-256 digest. Token expiry follows the platform
clock, so a fast-forward expires tokens exactly as the passing of time would.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import errors
from .services.base import ServiceError
from .store import GLOBAL_SANDBOX, Tenant

if TYPE_CHECKING:
    from werkzeug.datastructures import Headers

    from .platform import Platform

#: Platform-wide records: IMS clients and tokens.
PLATFORM = Tenant("", GLOBAL_SANDBOX)
#: IMS ``expires_in`` for OAuth Server-to-Server tokens (REFERENCE §1.1).
DEFAULT_TOKEN_LIFETIME = 86399
FLOW_PREFIX = "/data/foundation/flowservice"


# -- clients ------------------------------------------------------------------------------------------------------
def _digest(client_id: str, secret: str) -> str:
    return hmac.new(client_id.encode(), secret.encode(), hashlib.sha256).hexdigest()


def get_client(platform: Platform, client_id: str) -> dict[str, Any] | None:
    rec = platform.store.get(PLATFORM, "client", client_id)
    return rec.doc if rec else None


def register_client(platform: Platform, client_id: str, client_secret: str, org_id: str) -> dict[str, Any]:
    """Add an IMS client; raises ``KeyError`` when the id is taken. Makes sure the org has its ``prod`` sandbox."""
    from .services.sandboxes import ensure_org

    if get_client(platform, client_id) is not None:
        raise KeyError(client_id)
    now = platform.clock.now_ms()
    doc = {"client_id": client_id, "org_id": org_id, "secret_digest": _digest(client_id, client_secret),
           "createdAt": now}
    platform.store.insert(PLATFORM, "client", client_id, doc, created=now, name=client_id)
    ensure_org(platform, org_id)
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


def ensure_dev_client(platform: Platform) -> None:
    """Register the well-known development credentials unless present (Azurite's ``devstoreaccount1`` idea)."""
    from .platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID
    from .services.sandboxes import ensure_org

    if get_client(platform, DEV_CLIENT_ID) is None:
        register_client(platform, DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID)
    else:
        ensure_org(platform, DEV_ORG_ID)


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


# -- header checks ------------------------------------------------------------------------------------------------
def _header(headers: Mapping[str, str] | Headers, name: str) -> str:
    return (headers.get(name) or "").strip()


def check(platform: Platform, headers: Mapping[str, str] | Headers, path: str, *, sandbox: bool,
          request_id: str = "") -> tuple[Tenant, str]:
    """Run the gateway checks in order; return ``(tenant, client_id)`` or raise the documented error body.

    Order: token present, token valid, api key present, api key matches the token's client, org present, org is
    the token's org, then (for sandboxed routes) sandbox header present and sandbox known and active.
    """
    auth = _header(headers, "Authorization")
    if not auth:
        raise errors.gateway(403, "403010", "Oauth token is missing.")
    scheme, _, token = auth.partition(" ")
    info = token_info(platform, token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if info is None:
        raise errors.gateway(401, "401013", "Oauth token is not valid")
    api_key = _header(headers, "x-api-key")
    if not api_key:
        raise errors.gateway(403, "403000", "Api Key is required")
    if not hmac.compare_digest(api_key.encode(), info["client_id"].encode()):
        raise errors.gateway(403, "403003", "Api Key is invalid")
    org = _header(headers, "x-gw-ims-org-id")
    if not org:
        raise errors.gateway(400, "400003", "Missing header")
    if org != info["org_id"]:
        raise errors.gateway(403, "403025", "Profile is not valid")
    if not sandbox:
        return Tenant(org, GLOBAL_SANDBOX), info["client_id"]

    from .services.sandboxes import active_sandbox

    flow = path == FLOW_PREFIX or path.startswith(FLOW_PREFIX + "/")
    name = _header(headers, "x-sandbox-name")
    if not name:
        if flow:
            raise errors.flow("2105-400", "Header is missing", "The header x-sandbox-name is missing in the request. "
                              "Please add the header in the request and try again.", request_id=request_id)
        raise errors.gateway(400, "400003", "Missing header x-sandbox-name")
    if active_sandbox(platform, org, name) is None:
        message = f"The sandbox with the name '{name}' could not be found."
        if flow:
            raise errors.flow("2100-404", "Sandbox not found",
                              message + " Please ensure that the sandbox name is correct and try again.",
                              request_id=request_id)
        raise errors.gateway(404, "404100", message)
    return Tenant(org, name), info["client_id"]


__all__ = ["PLATFORM", "ServiceError", "check", "issue_token", "register_client", "revoke_client",
           "authenticate_client", "token_info", "ensure_dev_client", "set_token_lifetime", "token_lifetime"]
