"""The Adobe I/O gateway of AEP Local: the header checks every platform call passes before it reaches a service
(https://experienceleague.adobe.com/en/docs/experience-platform/landing/api-guide,
https://experienceleague.adobe.com/en/docs/experience-platform/landing/troubleshooting).

Tokens are checked against the IMS records of :mod:`aep_magics.local.identity`; the sandbox header against the
Sandbox service. A front door: the server calls it, and it may call the services and lower modules, never the
reverse. The IMS names it re-exports (``issue_token``, ``register_client``, ...) live in :mod:`.identity` and
:mod:`.services.ims`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING

from . import errors
from .errors import ServiceError
from .identity import (DEFAULT_TOKEN_LIFETIME, authenticate_client, get_client, issue_token, public_client,
                       revoke_client, set_token_lifetime, token_info, token_lifetime)
from .services.ims import ensure_dev_client, register_client
from .store import GLOBAL_SANDBOX, PLATFORM, Tenant

if TYPE_CHECKING:
    from werkzeug.datastructures import Headers

    from .platform import Platform

FLOW_PREFIX = "/data/foundation/flowservice"


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


__all__ = ["DEFAULT_TOKEN_LIFETIME", "PLATFORM", "ServiceError", "check", "issue_token", "register_client",
           "revoke_client", "authenticate_client", "get_client", "public_client", "token_info", "ensure_dev_client",
           "set_token_lifetime", "token_lifetime"]
