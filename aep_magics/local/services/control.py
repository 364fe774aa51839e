"""The control plane of AEP Local under ``/aep-local/`` (moto's ``/moto-api/``, LocalStack's ``/_localstack/``).

Not part of Adobe's API and not behind the gateway: health, the platform clock (read / fast-forward), IMS client
registration and revocation, the token lifetime (to test expiry), and the OpenAPI document of what is served.
Reads are open; every call that changes state passes :func:`aep_magics.local.gateway.check_control` first (a bearer
credential and a JSON body), in the server, before it reaches this service.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import errors, identity
from .base import Call, Reply, Route, Service
from .ims import register_client

BASE = "/aep-local"
OPENAPI_FILE = Path(__file__).resolve().parent.parent / "openapi.yaml"
#: Largest token lifetime taken: times stay within SQLite's 64-bit integers.
_MAX_SECONDS = 100 * 366 * 86400
#: Largest clock move of one call (31 days): what one move makes the sample store grow by (about 0.8 MB of orders per
#: emulated day) stays bounded, and the scheduler caps the runs it creates per flow; a longer jump is several calls.
MAX_ADVANCE_S = 31 * 86400


#: Seconds a console link's ticket stays good (it is good for one use).
TICKET_SECONDS = 60
#: Most unused tickets kept at once (the oldest are forgotten past that).
MAX_TICKETS = 1000
_CONSOLE_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,2000}$")


@dataclass(frozen=True)
class ConsoleTicket:
    """What a one-time console link stands for: who asked (org, client), for which page, until when."""

    org: str
    client_id: str
    path: str                   # a console path with its query, e.g. /dataflows/ID?sandbox=prod
    token_expires_ms: int       # platform clock: the console session lasts as long as the token that asked
    deadline: float             # time.monotonic() after which the ticket is refused


class ConsoleTickets:
    """The one-time tickets of console links (in memory: a restart forgets them, as it forgets console sessions)."""

    def __init__(self) -> None:
        self._tickets: dict[str, ConsoleTicket] = {}
        self._lock = threading.Lock()

    def issue(self, ticket: ConsoleTicket) -> str:
        key = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            for k in [k for k, t in self._tickets.items() if t.deadline <= now]:
                del self._tickets[k]
            while len(self._tickets) >= MAX_TICKETS:
                del self._tickets[next(iter(self._tickets))]
            self._tickets[key] = ticket
        return key

    def redeem(self, key: str) -> ConsoleTicket | None:
        """The ticket, once: None when unknown, already used or older than :data:`TICKET_SECONDS`."""
        with self._lock:
            ticket = self._tickets.pop(key, None)
        return ticket if ticket is not None and ticket.deadline > time.monotonic() else None


def _bad(detail: str, status: int = 400) -> errors.ServiceError:
    titles = {400: "BadRequestError", 404: "NotFoundError", 409: "ConflictError"}
    return errors.problem(status, titles.get(status, "Error"), detail)


class ControlService(Service):
    #: Set by the server: ``() -> [(method, rule, service name)]`` of every route served.
    routes_provider: Callable[[], list[tuple[str, str, str]]] | None = None

    def __init__(self, platform):
        super().__init__(platform)
        #: One-time tickets of ``POST /aep-local/console-links``; the console redeems them.
        self.console_tickets = ConsoleTickets()

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{BASE}/health", self.health, auth=False, sandbox=False),
            Route("GET", f"{BASE}/clock", self.clock_get, auth=False, sandbox=False),
            Route("POST", f"{BASE}/clock", self.clock_post, auth=False, sandbox=False),
            Route("POST", f"{BASE}/clients", self.client_create, auth=False, sandbox=False),
            Route("DELETE", f"{BASE}/clients/<client_id>", self.client_delete, auth=False, sandbox=False),
            Route("POST", f"{BASE}/token-lifetime", self.token_lifetime, auth=False, sandbox=False),
            Route("GET", f"{BASE}/token-lifetime", self.token_lifetime_get, auth=False, sandbox=False),
            Route("GET", f"{BASE}/openapi.yaml", self.openapi_yaml, auth=False, sandbox=False),
            Route("GET", f"{BASE}/openapi.json", self.openapi_json, auth=False, sandbox=False),
            Route("POST", f"{BASE}/console-links", self.console_link, auth=False, sandbox=False),
        ]

    # -- health and clock ----------------------------------------------------------------------------------------
    def health(self, call: Call) -> Reply:
        from ..._version import __version__

        services = sorted({name for _, _, name in self.routes_provider()}) if self.routes_provider else []
        return Reply(200, {"status": "ok", "version": __version__, "deterministic": self.platform.seed is not None,
                           "seed": self.platform.seed, "now": self.clock.peek_ms(), "services": services,
                           "scheduler": self.platform.scheduler is not None})

    def clock_get(self, call: Call) -> Reply:
        return Reply(200, {"now": self.clock.peek_ms()})

    def clock_post(self, call: Call) -> Reply:
        body = call.body if isinstance(call.body, dict) else {}
        advance = body.get("advance")
        if isinstance(advance, bool) or not isinstance(advance, (int, float)) or not 0 <= advance <= MAX_ADVANCE_S:
            raise _bad(f'Send {{"advance": seconds}} with a number of seconds from 0 to {MAX_ADVANCE_S} (31 days) '
                       'per call; the clock only moves forward (move it further with several calls).')
        now = self.clock.advance(int(round(advance * 1000)))
        self.platform.save_clock()
        scheduler = self.platform.scheduler
        catch_up = getattr(scheduler, "catch_up", None) if scheduler is not None else None
        tick = getattr(scheduler, "tick", None) if scheduler is not None else None
        if callable(catch_up):
            report = catch_up()
            answer: dict[str, Any] = {"now": self.clock.peek_ms(), "runsCreated": len(report["created"])}
            if report["capped"]:
                answer["capped"] = report["capped"]
                answer["detail"] = "; ".join(
                    f"flow {c['flowId']} missed {c['dueTimes']} due times: runs were created for the newest "
                    f"{c['runs']} only (their windows chain, so no data is left out)" for c in report["capped"])
            return Reply(200, answer)
        if callable(tick):
            tick()
        return Reply(200, {"now": self.clock.peek_ms() if callable(tick) else now})

    # -- IMS clients ---------------------------------------------------------------------------------------------
    def client_create(self, call: Call) -> Reply:
        body = call.body if isinstance(call.body, dict) else {}
        fields = ("client_id", "client_secret", "org_id")
        missing = [k for k in fields if not isinstance(body.get(k), str) or not body.get(k)]
        if missing:
            raise _bad(f"Missing field(s): {', '.join(missing)} (send client_id, client_secret and org_id).")
        if not body["org_id"].endswith("@AdobeOrg"):
            raise _bad("org_id must look like an IMS org id: '<24 characters>@AdobeOrg'.")
        try:
            client = register_client(self.platform, body["client_id"], body["client_secret"], body["org_id"])
        except KeyError:
            raise _bad(f"The client '{body['client_id']}' is already registered.", 409) from None
        return Reply(201, client)

    def client_delete(self, call: Call) -> Reply:
        if not identity.revoke_client(self.platform, call.params["client_id"]):
            raise _bad(f"No client '{call.params['client_id']}'.", 404)
        return Reply(204, None)

    def token_lifetime(self, call: Call) -> Reply:
        body = call.body if isinstance(call.body, dict) else {}
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= _MAX_SECONDS:
            raise _bad('Send {"seconds": n} with a whole number of seconds >= 1 (at most 100 years).')
        identity.set_token_lifetime(self.platform, seconds)
        return Reply(200, {"seconds": seconds})

    def token_lifetime_get(self, call: Call) -> Reply:
        return Reply(200, {"seconds": identity.token_lifetime(self.platform)})

    # -- console links -------------------------------------------------------------------------------------------
    def console_link(self, call: Call) -> Reply:
        """``POST /aep-local/console-links`` ``{"path": "/dataflows/ID", "sandbox": "prod"}`` with an IMS bearer token:
        ``{"url": ".../console/dataflows/ID?sandbox=prod&ticket=..."}``, a link that signs its opener in to the console
        as the token's client (once, within :data:`TICKET_SECONDS` seconds)."""
        from .sandboxes import NAME_RE, active_sandbox

        token = (call.headers.get("Authorization") or "").partition(" ")[2].strip()
        info = identity.token_info(self.platform, token)
        if info is None:
            raise errors.ServiceError(401, {"error_code": "401013", "message": "Oauth token is not valid: a console "
                                            "link needs Authorization: Bearer <IMS access token of AEP Local> "
                                            "(POST /ims/token/v3); the admin token names no org."})
        body = call.body if isinstance(call.body, dict) else {}
        path, sandbox = body.get("path", "/"), body.get("sandbox", "prod")
        if not isinstance(path, str) or not path:
            path = "/"
        if path.startswith("/console/") or path == "/console":
            path = path[len("/console"):] or "/"
        if not _CONSOLE_PATH.match(path) or "//" in path or "ticket=" in path:
            raise _bad('path must be a console path such as "/dataflows/<flow id>" or "/datasets/<dataset id>" '
                       '(no scheme, host, "//" or ticket).')
        if not isinstance(sandbox, str) or not NAME_RE.match(sandbox):
            raise _bad('sandbox must be a sandbox name such as "prod".')
        if active_sandbox(self.platform, info["org_id"], sandbox) is None:
            raise _bad(f"The sandbox '{sandbox}' is not an active sandbox of the token's org.", 404)
        page, _, query = path.partition("?")
        query = "&".join(p for p in query.split("&") if p and not p.startswith("sandbox="))
        target = f"{page}?sandbox={sandbox}" + (f"&{query}" if query else "")
        key = self.console_tickets.issue(ConsoleTicket(info["org_id"], info["client_id"], target, info["expires"],
                                                       time.monotonic() + TICKET_SECONDS))
        host = (call.headers.get("Host") or "").strip()
        base = f"http://{host}" if host else (self.platform.base_url or "").rstrip("/")
        return Reply(201, {"url": f"{base}/console{target}&ticket={key}", "expiresIn": TICKET_SECONDS},
                     headers={"Cache-Control": "no-store"})

    # -- OpenAPI -------------------------------------------------------------------------------------------------
    def openapi(self) -> dict[str, Any]:
        """The static document (``openapi.yaml``) plus a stub for every served route it does not describe."""
        import yaml

        doc = yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))
        paths = doc.setdefault("paths", {})
        for method, rule, service in (self.routes_provider() if self.routes_provider else []):
            path = _openapi_path(rule)
            item = paths.setdefault(path, {})
            if method.lower() not in item:
                item[method.lower()] = {
                    "summary": f"{method} {path}",
                    "tags": [service],
                    "responses": {"default": {"description": "See the service's documentation."}},
                }
                params = _path_params(rule)
                if params:
                    item[method.lower()]["parameters"] = [
                        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params]
        return doc

    def openapi_yaml(self, call: Call) -> Reply:
        import yaml

        text = yaml.safe_dump(self.openapi(), sort_keys=False, allow_unicode=True)
        return Reply(200, text.encode("utf-8"), content_type="application/yaml")

    def openapi_json(self, call: Call) -> Reply:
        return Reply(200, json.loads(json.dumps(self.openapi(), default=str)))


def _openapi_path(rule: str) -> str:
    """``/flows/<id>`` and ``/x/<path:rest>`` -> ``/flows/{id}``, ``/x/{rest}``."""
    out, i = "", 0
    while i < len(rule):
        if rule[i] == "<":
            j = rule.index(">", i)
            out += "{" + rule[i + 1:j].split(":")[-1] + "}"
            i = j + 1
        else:
            out += rule[i]
            i += 1
    return out


def _path_params(rule: str) -> list[str]:
    names, i = [], 0
    while (i := rule.find("<", i)) != -1:
        j = rule.index(">", i)
        names.append(rule[i + 1:j].split(":")[-1])
        i = j + 1
    return names
