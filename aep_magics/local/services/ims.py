"""Adobe IMS token endpoint, OAuth Server-to-Server (``client_credentials``) only
(https://developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/ims/).

``POST /ims/token/v3`` takes ``grant_type``, ``client_id``, ``client_secret`` and ``scope`` in a form body or the
query string and answers ``{"access_token", "token_type": "bearer", "expires_in"}``. Errors follow OAuth 2
(RFC 6749 https://experienceleague.adobe.com/en/docs/experience-platform/catalog/api/look-up-object): ``{"error": "invalid_client", "error_description": "..."}`` (UNCONFIRMED for Adobe IMS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import identity
from .base import Call, Reply, Route, Service, ServiceError
from .sandboxes import ensure_org

if TYPE_CHECKING:
    from ..platform import Platform


def register_client(platform: Platform, client_id: str, client_secret: str, org_id: str) -> dict[str, Any]:
    """Add an IMS client (:func:`aep_magics.local.identity.register_client`; ``KeyError`` when the id is taken) and
    make sure its org has its ``prod`` sandbox."""
    client = identity.register_client(platform, client_id, client_secret, org_id)
    ensure_org(platform, org_id)
    return client


def ensure_dev_client(platform: Platform) -> None:
    """Register the well-known development credentials unless present (Azurite's ``devstoreaccount1`` idea)."""
    from ..platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID

    if identity.get_client(platform, DEV_CLIENT_ID) is None:
        register_client(platform, DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID)
    else:
        ensure_org(platform, DEV_ORG_ID)


def _oauth_error(status: int, error: str, description: str) -> ServiceError:
    return ServiceError(status, {"error": error, "error_description": description})


class IMSService(Service):
    def routes(self) -> list[Route]:
        return [
            Route("POST", "/ims/token/v3", self.token, auth=False, sandbox=False),
            # The older path the Postman collections use (params in the query string).
            Route("POST", "/ims/token/v2", self.token, auth=False, sandbox=False),
        ]

    def token(self, call: Call) -> Reply:
        params: dict[str, Any] = {k: v[0] for k, v in call.query.items() if v}
        if isinstance(call.body, dict):
            params.update({k: v for k, v in call.body.items() if isinstance(v, str)})
        missing = [k for k in ("grant_type", "client_id", "client_secret") if not params.get(k)]
        if missing:
            raise _oauth_error(400, "invalid_request", f"missing required parameter: {missing[0]}")
        if params["grant_type"] != "client_credentials":
            raise _oauth_error(400, "unsupported_grant_type",
                               f"grant_type {params['grant_type']!r} is not supported; use client_credentials")
        client = identity.authenticate_client(self.platform, params["client_id"], params["client_secret"])
        if client is None:
            raise _oauth_error(401, "invalid_client", "invalid client_id or client_secret: the credential is unknown, "
                               "was revoked or its secret was changed; check the client id and secret in use "
                               "(AEP Local registers clients with POST /aep-local/clients)")
        token, expires_in = identity.issue_token(self.platform, client)
        return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": expires_in},
                     headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
