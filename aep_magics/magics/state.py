"""The notebook's current AEP session: one profile, its AEPSession and AEPClient, and (for ``%aep_auth --local``)
the in-process AEP Local server. State lives here and nowhere else; the magics read it through :data:`current`.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..api import AEPClient
    from ..config import Profile
    from ..display import AuthCard
    from ..http import AEPSession

log = logging.getLogger("aep_magics.magics")

#: Any of these set means "credentials are configured": no silent fallback to AEP Local then.
CREDENTIAL_ENV_VARS = ("AEP_CONFIG", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ACCESS_TOKEN", "AEP_ORG_ID")
LOCAL_NOTE = (
    "No AEP credentials configured (AEP_CLIENT_ID / AEP_CONFIG): using AEP Local, the in-process emulator. "
    "Use %aep_auth --config FILE for Adobe Experience Platform."
)


def credentials_configured() -> bool:
    return any(os.environ.get(name) for name in CREDENTIAL_ENV_VARS)


class SessionState:
    """Who the notebook talks to, and as whom."""

    def __init__(self) -> None:
        self.profile: Profile | None = None
        self.session: AEPSession | None = None
        self.client: AEPClient | None = None
        self.local: Any = None  # aep_magics.local.LocalServer when AEP Local runs in-process
        self.timeout: tuple[float, float] = (5.0, 60.0)
        #: The last resource of each kind this session created or reused ("connection", "flow", ...):
        #: the default for magics whose id argument is left out.
        self.last: dict[str, Any] = {}

    # -- connecting ----------------------------------------------------------------------------------------------

    def require(self) -> AEPClient:
        """The client, or a clear error when ``%aep_auth`` has not run."""
        if self.client is None:
            raise ConfigError("Not signed in: run %aep_auth first (%aep_auth --local for AEP Local)")
        return self.client

    def connect(self, profile: Profile, *, local: Any = None) -> AEPClient:
        """Use ``profile`` from now on (closing the previous session)."""
        from ..api import AEPClient
        from ..http import AEPSession

        if self.session is not None:
            self.session.close()
        if local is not self.local:
            self._stop_local()
        self.profile = profile
        self.session = AEPSession(profile, timeout=self.timeout)
        self.client = AEPClient(self.session)
        self.local = local
        self.last = {}
        return self.client

    def authenticate(
        self,
        *,
        config: str | None = None,
        sandbox: str | None = None,
        local: bool = False,
        seed: int | None = None,
        data_dir: str | None = None,
        port: int = 0,
        token: str | None = None,
        profile_name: str | None = None,
    ) -> tuple[AuthCard, str | None]:
        """Sign in and check the credentials by fetching a token: ``(card, note)``.

        ``local`` (or no credentials configured anywhere) starts AEP Local in-process with its dev credentials;
        ``note`` then says so when it was not asked for explicitly.
        """
        note = None
        if not local and not config and token is None and not credentials_configured():
            local, note = True, LOCAL_NOTE
        if local:
            if token is not None:
                raise InputError("--token and --local do not combine: AEP Local issues its own tokens")
            if config:
                raise InputError("--config and --local do not combine")
            profile, server = self._start_local(seed=seed, data_dir=data_dir, port=port, sandbox=sandbox)
            if profile_name:
                profile = dataclasses.replace(profile, name=profile_name)
            self.connect(profile, local=server)
        else:
            from ..config import load_profile

            explicit: dict[str, Any] = {"sandbox": sandbox, "name": profile_name}
            if token is not None:
                if not token.strip():
                    raise InputError("the access token is empty")
                from ..auth import Secret

                explicit["access_token"] = Secret(token.strip())
                explicit["client_secret"] = None
            profile = load_profile(config, **explicit)
            if token is not None and profile.client_secret is not None:  # the token was asked for: use only it
                profile = dataclasses.replace(profile, client_secret=None)
            self.connect(profile)
        return self.card(), note

    def _start_local(self, *, seed: int | None, data_dir: str | None, port: int, sandbox: str | None) -> tuple[Profile, Any]:
        from .. import local as aep_local

        self._stop_local()
        running = os.environ.get("AEP_LOCAL_URL")
        if running:  # an AEP Local already serves (aep-local serve, aep-local demo): use it, start nothing
            return aep_local.dev_profile(running, sandbox or aep_local.DEFAULT_SANDBOX), None
        data_dir = data_dir or os.environ.get("AEP_LOCAL_DATA") or None
        kwargs: dict[str, Any] = {"data_dir": data_dir, "seed": seed}
        if port:
            kwargs["port"] = port
        server = aep_local.start(**kwargs)
        self.local = server
        profile = server.profile(sandbox) if sandbox else server.profile()
        return profile, server

    def card(self) -> AuthCard:
        """The session card; fetches a token (proving the credentials) but never shows it."""
        from ..display import AuthCard

        session = self._need_session()
        session.tokens.token()
        p = session.profile
        return AuthCard(
            org_id=p.org_id,
            sandbox=p.sandbox,
            base_url=p.base_url,
            client_id=p.client_id,
            expires_at=session.tokens.expires_at,
            now=time.time(),
            local=self.local is not None,
            profile=p.name,
        )

    def switch_sandbox(self, name: str) -> AEPClient:
        """Aim the session at sandbox ``name`` (same org and token)."""
        from ..api import AEPClient

        session = self._need_session()
        new = session.with_sandbox(name)
        self.session, self.profile = new, new.profile
        self.client = AEPClient(new)
        self.last = {}
        return self.client

    def set_timeout(self, connect: float, read: float) -> None:
        self.timeout = (float(connect), float(read))
        if self.session is not None:
            self.session.timeout = self.timeout

    # -- defaults for left-out ids ---------------------------------------------------------------------------------

    def remember(self, kind: str, result: Any) -> None:
        if getattr(result, "id", None):
            self.last[kind] = result

    def default_id(self, kind: str, given: str | None, what: str) -> str:
        if given:
            return given
        last = self.last.get(kind)
        if last is None:
            raise InputError(f"give a {what} id (none was created in this session yet)")
        return str(last.id)

    # -- teardown --------------------------------------------------------------------------------------------------

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        self.session = self.client = self.profile = None
        self.last = {}
        self._stop_local()

    def _stop_local(self) -> None:
        server, self.local = self.local, None
        if server is not None:
            try:
                server.stop()
            except Exception:  # a server that is already down is fine
                log.debug("AEP Local did not stop cleanly", exc_info=True)

    def _need_session(self) -> AEPSession:
        if self.session is None:
            raise ConfigError("Not signed in: run %aep_auth first (%aep_auth --local for AEP Local)")
        return self.session


#: The notebook's session.
current = SessionState()
atexit.register(current.close)
