"""The Adobe I/O gateway of AEP Local: the header checks every platform call passes before it reaches a service
(https://experienceleague.adobe.com/en/docs/experience-platform/landing/api-guide,
https://experienceleague.adobe.com/en/docs/experience-platform/landing/troubleshooting).

Tokens are checked against the IMS records of :mod:`aep_magics.local.identity`; the sandbox header against the
Sandbox service. A front door: the server calls it, and it may call the services and lower modules, never the
reverse. The IMS names it re-exports (``issue_token``, ``register_client``, ...) live in :mod:`.identity` and
:mod:`.services.ims`.

Two checks guard AEP Local itself rather than emulate Adobe's gateway: :func:`foreign_request` refuses what a web
page in the user's browser could send (a foreign ``Origin``: cross-site requests; a foreign ``Host``: DNS rebinding),
on every route; :func:`check_control` asks a credential and a JSON body of every state-changing call of the control
plane under ``/aep-local/``.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import re
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit
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
#: The control plane of AEP Local; every call to it other than a read needs :func:`check_control`.
CONTROL_PREFIX = "/aep-local/"
_READS = ("GET", "HEAD", "OPTIONS")
_HOST_CHARS = re.compile(r"[A-Za-z0-9.\-_:\[\]]+")


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


# -- AEP Local's own guards ------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def is_loopback(name: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ``::1``)."""
    name = name.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _host_allowed(name: str, bound_names: Collection[str], wildcard: bool) -> bool:
    """A host name the server answers to: loopback, a name or address it was bound to, or -- bound to every
    interface -- any address literal (DNS rebinding needs a name the attacker resolves) or a listed name."""
    return is_loopback(name) or name in bound_names or (wildcard and _is_ip(name))


def foreign_request(host: str | None, origin: str | None, *, bound_names: Collection[str], port: int,
                    wildcard: bool = False) -> ServiceError | None:
    """The 403 for a request a web page could have made, else None.

    ``Host`` must be absent, or a loopback name or address or a bound name (``bound_names``, lower case), with
    ``port`` or no port. ``Origin`` must be absent, or ``http(s)://`` such a host with ``port`` (cross-site requests
    from a browser carry their page's origin). ``wildcard``: the server listens on every interface (0.0.0.0, ::).
    """
    if host is not None:
        parts = _authority(host)
        if parts is None or not _host_allowed(parts[0], bound_names, wildcard) or parts[1] not in (None, port):
            return errors.problem(403, "Forbidden", f"AEP Local answers only requests addressed to itself; the Host "
                                  f"header {_shown(host)} names another host or port (send Host: 127.0.0.1:{port}).")
    if origin is not None:
        scheme, sep, authority = origin.strip().partition("://")
        scheme = scheme.lower()
        parts = _authority(authority) if sep and scheme in ("http", "https") else None
        default = 443 if scheme == "https" else 80
        if parts is None or not _host_allowed(parts[0], bound_names, wildcard) or (parts[1] or default) != port:
            return errors.problem(403, "Forbidden", f"AEP Local refuses requests from web pages: the Origin "
                                  f"{_shown(origin)} is not AEP Local itself. Call it from a notebook, a script or "
                                  "curl (no Origin header).")
    return None


@functools.lru_cache(maxsize=256)
def _authority(value: str) -> tuple[str, int | None] | None:
    """``host[:port]`` -> (lower-case host without brackets, port or None); None when it is not one."""
    value = value.strip()
    if not value or not _HOST_CHARS.fullmatch(value):
        return None
    try:
        split = urlsplit("//" + value)
        port = split.port
    except ValueError:
        return None
    return (split.hostname or "", port) if split.hostname else None


def _shown(value: str) -> str:
    return repr(value[:100])


def is_control_change(method: str, path: str) -> bool:
    """A call that may change the control plane's state: anything but a read under ``/aep-local/``."""
    return method.upper() not in _READS and path.startswith(CONTROL_PREFIX)


def check_control(platform: Platform, headers: Mapping[str, str] | Headers, admin_token: str, *,
                  method: str) -> None:
    """A state-changing control-plane call: ``Authorization: Bearer <token>`` with an IMS access token of AEP Local
    (any client's) or the admin token it printed at start (401 in the gateway's IMS body otherwise), and a JSON body
    (``Content-Type: application/json``; 415 otherwise) -- a web page cannot send either without asking first."""
    auth = _header(headers, "Authorization")
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    challenge = {"WWW-Authenticate": 'Bearer realm="aep-local"'}
    how = ("AEP Local's control plane needs Authorization: Bearer <token> with an IMS access token of AEP Local "
           "(POST /ims/token/v3) or the admin token that aep-local serve prints (server.admin_token)")
    if scheme.lower() != "bearer" or not token:
        raise errors.ServiceError(401, {"error_code": "401013", "message": f"Oauth token is missing: {how}."},
                                  challenge)
    admin = bool(admin_token) and hmac.compare_digest(token.encode(), admin_token.encode())
    if not admin and token_info(platform, token) is None:
        raise errors.ServiceError(401, {"error_code": "401013", "message": f"Oauth token is not valid (unknown, "
                                        f"expired or revoked): {how}."}, challenge)
    content_type = _header(headers, "Content-Type")
    mimetype = content_type.partition(";")[0].strip().lower()
    if (method.upper() != "DELETE" or content_type) and not (mimetype == "application/json"
                                                             or mimetype.endswith("+json")):
        shown = f"Content-Type {_shown(content_type)}" if content_type else "no Content-Type"
        raise errors.problem(415, "UnsupportedMediaType", f"AEP Local's control plane takes JSON bodies only; this "
                             f"request has {shown}: send Content-Type: application/json.")


__all__ = ["DEFAULT_TOKEN_LIFETIME", "PLATFORM", "ServiceError", "check", "issue_token", "register_client",
           "revoke_client", "authenticate_client", "get_client", "public_client", "token_info", "ensure_dev_client",
           "set_token_lifetime", "token_lifetime", "foreign_request", "check_control", "is_control_change",
           "is_loopback", "CONTROL_PREFIX"]
