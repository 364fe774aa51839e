"""The control plane of AEP Local under ``/aep-local/`` (moto's ``/moto-api/``, LocalStack's ``/_localstack/``).

Not part of Adobe's API and not behind the gateway: health, the platform clock (read / fast-forward), IMS client
registration and revocation, the token lifetime (to test expiry), and the OpenAPI document of what is served.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import errors, identity
from .base import Call, Reply, Route, Service
from .ims import register_client

BASE = "/aep-local"
OPENAPI_FILE = Path(__file__).resolve().parent.parent / "openapi.yaml"
#: Largest clock advance / token lifetime taken: times stay within SQLite's 64-bit integers.
_MAX_SECONDS = 100 * 366 * 86400


def _bad(detail: str, status: int = 400) -> errors.ServiceError:
    titles = {400: "BadRequestError", 404: "NotFoundError", 409: "ConflictError"}
    return errors.problem(status, titles.get(status, "Error"), detail)


class ControlService(Service):
    #: Set by the server: ``() -> [(method, rule, service name)]`` of every route served.
    routes_provider: Callable[[], list[tuple[str, str, str]]] | None = None

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
        if isinstance(advance, bool) or not isinstance(advance, (int, float)) or not 0 <= advance <= _MAX_SECONDS:
            raise _bad('Send {"advance": seconds} with a number of seconds >= 0 (at most 100 years); the clock only '
                       'moves forward.')
        now = self.clock.advance(int(round(advance * 1000)))
        self.platform.save_clock()
        scheduler = self.platform.scheduler
        tick = getattr(scheduler, "tick", None) if scheduler is not None else None
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
