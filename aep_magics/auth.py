"""Adobe IMS OAuth Server-to-Server: masked secrets and a cached, self-refreshing access token (https://developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/implementation)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import requests

from .errors import MASK, AEPError, AuthError, TransportError, register_secret

if TYPE_CHECKING:
    from .config import Profile

log = logging.getLogger("aep_magics.auth")

TOKEN_PATH = "/ims/token/v3"
EXPIRED_HINT = "access token expired: run %aep_auth again or configure client credentials"


class Secret:
    """A string that shows as ``********`` everywhere except through :meth:`reveal`.

    Equal to another ``Secret`` with the same value; hashable without exposing the value's own hash.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret):
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret wants a str, not {type(value).__name__}")
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        """The real value: only for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, hashlib.sha256(self._value.encode()).digest()))

    def __bool__(self) -> bool:
        return bool(self._value)


class TokenProvider:
    """Hands out a valid access token for one profile.

    With a client secret: ``client_credentials`` grant against ``{ims_url}/ims/token/v3``, cached until
    ``refresh_margin`` seconds before expiry. With only an access token: that token, until it is known to have
    expired (its JWT ``exp``/``expires_in`` claims, or the platform answered 401) — then :class:`AuthError`.
    """

    def __init__(
        self,
        profile: Profile,
        session: requests.Session | None = None,
        *,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = 300.0,
        timeout: float | tuple[float, float] = (5, 30),
    ):
        self.profile = profile
        self._session = session or requests.Session()
        self._clock = clock
        self.refresh_margin = refresh_margin
        self._timeout = timeout
        self._lock = threading.Lock()
        self._token: Secret | None = profile.access_token
        self._expires_at: float | None = _jwt_expiry(profile.access_token.reveal()) if profile.access_token else None
        self._static_expired = False

    @property
    def can_refresh(self) -> bool:
        """True when a fresh token can be fetched (a client secret is configured)."""
        return bool(self.profile.client_secret)

    @property
    def expires_at(self) -> float | None:
        """Epoch seconds at which the current token expires, if known."""
        return self._expires_at

    def token(self) -> str:
        """A token valid for at least ``refresh_margin`` more seconds (or a static token not known to be expired)."""
        with self._lock:
            if self._token is not None and not self._stale():
                return self._token.reveal()
            if not self.can_refresh:
                if self.profile.access_token is None:
                    raise AuthError(f"profile {self.profile.name!r} has neither a client secret nor an access token")
                raise AuthError(EXPIRED_HINT)
            return self._fetch()

    def invalidate(self) -> None:
        """Forget the current token (the platform said 401); the next :meth:`token` fetches a new one."""
        with self._lock:
            if self._token is not None and not self.can_refresh:
                self._static_expired = True
            else:
                self._token, self._expires_at = None, None

    def _stale(self) -> bool:
        if self._static_expired:
            return True
        if self._expires_at is None:
            return False
        margin = self.refresh_margin if self.can_refresh else 0.0
        return self._clock() >= self._expires_at - margin

    def _fetch(self) -> str:
        p = self.profile
        assert p.client_secret is not None
        url = p.ims_url.rstrip("/") + TOKEN_PATH
        form = {
            "client_id": p.client_id,
            "client_secret": p.client_secret.reveal(),
            "grant_type": "client_credentials",
            "scope": p.scopes,
        }
        try:
            resp = self._session.post(url, data=form, headers={"Accept": "application/json"}, timeout=self._timeout)
        except requests.RequestException as exc:
            raise TransportError(
                message=f"cannot reach IMS at {p.ims_url}: {type(exc).__name__}", method="POST", path=url
            ) from None
        if not resp.ok:
            klass = AuthError if resp.status_code < 500 else AEPError
            raise klass.from_response(resp.status_code, resp.content, method="POST", path=url, reason=resp.reason)
        try:
            payload = resp.json()
            token, expires_in = payload["access_token"], float(payload.get("expires_in", 86399))
        except (ValueError, KeyError, TypeError):
            raise AuthError(
                resp.status_code, method="POST", path=url, message="IMS answered without an access_token"
            ) from None
        if expires_in > 10 * 86400:  # the legacy JWT exchange counted milliseconds (https://developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/implementation)
            expires_in /= 1000
        self._token = Secret(token)
        self._expires_at = self._clock() + expires_in
        self._static_expired = False
        log.debug("IMS token issued for client %s, expires in %.0f s", p.client_id, expires_in)
        return token

    def __repr__(self) -> str:
        state = "no token" if self._token is None else "token cached"
        if self._token is not None and self._expires_at is not None:
            state += f", expires in {self._expires_at - self._clock():.0f} s"
        return f"<TokenProvider profile={self.profile.name!r} ims={self.profile.ims_url!r} {state}>"


def _jwt_expiry(token: str) -> float | None:
    """Expiry (epoch s) read from an unverified JWT: ``exp``, or Adobe's ``created_at`` + ``expires_in`` (ms)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        if "exp" in claims:
            return float(claims["exp"])
        return (float(claims["created_at"]) + float(claims["expires_in"])) / 1000
    except (ValueError, KeyError, TypeError):
        return None
