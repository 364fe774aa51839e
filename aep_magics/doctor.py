"""A read-only check of an Experience Platform setup before the tutorials: ``%aep_doctor`` and ``aep-magics doctor``.

One line per check, in order; each says ok with the value worth knowing, or the one thing to fix:

=================  =============================================================================================
credentials        the profile, resolved as ``%aep_auth`` does: arguments > ``AEP_*`` environment > config file
token              an access token from IMS, and when it expires
org and sandbox    the sandboxes this credential may use (``GET /data/foundation/sandbox-management/``, open to
                   every user: https://experienceleague.adobe.com/en/docs/experience-platform/sandbox/api/available)
                   hold the profile's sandbox, active
Flow Service       the Shopify connection spec (``GET /connectionSpecs/{id}``) and the ``CRMToAEP`` flow spec
                   (``GET /flowSpecs?property=name=="CRMToAEP"``) of the eCommerce tutorial
Schema Registry    ``GET /stats``: the tenant id (the ``_{TENANT_ID}`` of custom fields)
Catalog            ``GET /dataSets?limit=1``
Data Prep          ``GET /mappingSets?limit=1&start=0``
=================  =============================================================================================

Every call is a GET: nothing is created. A 403 names the permission the credential's role (product profile) lacks
for that service (https://experienceleague.adobe.com/en/docs/experience-platform/access-control/home), a 401 the
credential. A check that cannot run because an earlier one failed says "not checked". Secrets are never shown.

Plain Python: ``from aep_magics.doctor import check; report = check(); report.ok``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .display.results import Renderable, badge, epoch_text, esc
from .errors import AEPError, AEPKitError, AuthError, NotFoundError, TransportError, scrub

#: The Shopify connection spec id (https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/create/ecommerce/shopify).
SHOPIFY_SPEC_ID = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
#: The flow spec of the eCommerce tutorial (https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce).
FLOW_SPEC_NAME = "CRMToAEP"
ACCESS_CONTROL = "https://experienceleague.adobe.com/en/docs/experience-platform/access-control/home"

FLOW = "/data/foundation/flowservice"
SANDBOXES = "/data/foundation/sandbox-management/"
#: Gateway codes of a 403 that is about the credential itself, not a permission (Adobe I/O gateway answers).
GATEWAY_CREDENTIAL_CODES = frozenset({"403000", "403003", "403010", "403025", "403027"})


@dataclass(frozen=True)
class Check:
    """One line of the report: ``ok`` True (``text`` is the useful value), False (``text`` is the one thing to fix)
    or None (not checked: an earlier check failed); ``call`` is the request it made, if any."""

    name: str
    ok: bool | None
    text: str
    call: str = ""

    @property
    def mark(self) -> str:
        return "ok" if self.ok else ("FIX" if self.ok is False else "--")


class DoctorReport(Renderable):
    """The checks, as a table (``text/plain`` + HTML); ``.ok`` is True when every check passed."""

    def __init__(self, checks: Sequence[Check], *, where: str = "", org_id: str = "", sandbox: str = ""):
        self.checks = list(checks)
        self.where = where
        self.org_id = org_id
        self.sandbox = sandbox

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks)

    def __len__(self) -> int:
        return len(self.checks)

    def __getitem__(self, key: int | str) -> Check:
        """``report[0]`` or ``report["Schema Registry"]``."""
        if isinstance(key, str):
            for found in self.checks:
                if found.name == key:
                    return found
            raise KeyError(key)
        return self.checks[key]

    def heading(self) -> str:
        target = ", ".join(p for p in (self.where, f"org {self.org_id}" if self.org_id else "",
                                       f"sandbox {self.sandbox}" if self.sandbox else "") if p)
        if self.ok:
            verdict = f"all {len(self.checks)} checks ok"
        else:
            failed = len(self.failed)
            verdict = f"{failed} check{'s' if failed != 1 else ''} to fix"
        return f"AEP doctor{': ' + target if target else ''} · {verdict} · read-only, nothing was created"

    def lines(self) -> list[str]:
        """One plain line per check (what the shell prints)."""
        width = max(len(c.name) for c in self.checks) if self.checks else 0
        return [f"{c.mark:<3}  {c.name.ljust(width)}  {c.text}" for c in self.checks]

    def _text(self) -> str:
        return "\n".join([self.heading(), *self.lines()])

    def _html(self) -> str:
        rows = []
        for c in self.checks:
            tone = "aep-ok" if c.ok else ("aep-bad" if c.ok is False else "aep-warn")
            call = f"<div class='aep-dim' style='font-size:11px'><code>{esc(c.call)}</code></div>" if c.call else ""
            rows.append(f"<tr><td>{badge(c.mark, tone)}</td> <th style='text-align:left;padding-right:12px'>"
                        f"{esc(c.name)}</th> <td style='text-align:left'>{esc(c.text)}{call}</td></tr>")
        return (f'<div class="aep-card"><div><span class="aep-kind">{esc(self.heading())}</span></div>'
                f"<table>{''.join(rows)}</table></div>")


# -- the checks -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Service:
    name: str
    call: str  # "GET path?query"
    permission: str  # the permission a 403 means is missing
    read: Callable[[Any], str]  # the answer's JSON -> the ok text


def _spec_text(answer: Any) -> str:
    items = answer.get("items") if isinstance(answer, dict) and "items" in answer else [answer]
    spec = items[0] if items and isinstance(items[0], dict) else {}
    return f"Shopify connection spec {spec.get('id', SHOPIFY_SPEC_ID)} ({spec.get('name', '?')})"


def _flow_spec_text(answer: Any) -> str:
    items = (answer or {}).get("items") or [] if isinstance(answer, dict) else []
    found = next((i for i in items if isinstance(i, dict) and i.get("name") == FLOW_SPEC_NAME), None)
    if found is None:
        raise NotFoundError(status=404, detail=f"no flow spec named {FLOW_SPEC_NAME}")
    return f"flow spec {FLOW_SPEC_NAME} {found.get('id')}"


def _stats_text(answer: Any) -> str:
    tenant = (answer or {}).get("tenantId") if isinstance(answer, dict) else None
    if not tenant:
        raise AEPError(message="GET /stats answered without a tenantId")
    return f"tenant id {tenant} (custom fields live under _{tenant})"


SERVICES = (
    _Service("Flow Service: connection spec", f"GET {FLOW}/connectionSpecs/{SHOPIFY_SPEC_ID}",
             "View Sources (category Sources; the tutorial also needs Manage Sources)", _spec_text),
    _Service("Flow Service: flow spec", f'GET {FLOW}/flowSpecs?property=name=="{FLOW_SPEC_NAME}"',
             "View Sources (category Sources; the tutorial also needs Manage Sources)", _flow_spec_text),
    _Service("Schema Registry", "GET /data/foundation/schemaregistry/stats",
             "View Schemas (category Data Modeling; the tutorial also needs Manage Schemas)", _stats_text),
    _Service("Catalog", "GET /data/foundation/catalog/dataSets?limit=1",
             "View Datasets (category Data Management; the tutorial also needs Manage Datasets)",
             lambda answer: "datasets readable"),
    _Service("Data Prep", "GET /data/foundation/conversion/mappingSets?limit=1&start=0",
             "View Sources and Manage Sources (category Sources: Data Prep maps a source dataflow's data)",
             lambda answer: "mapping sets readable"),
)

CHECK_NAMES = ("credentials", "token", "org and sandbox", *(s.name for s in SERVICES))


def check(
    session: Any = None,
    *,
    config: str | None = None,
    sandbox: str | None = None,
    timeout: float | tuple[float, float] = (5.0, 30.0),
    clock: Callable[[], float] = time.time,
) -> DoctorReport:
    """Run every check, read-only: on ``session`` (an :class:`~aep_magics.http.AEPSession`), or on the profile that
    ``config`` / ``sandbox``, the ``AEP_*`` variables and the config file (``AEP_CONFIG``) make, first wins."""
    from .config import load_profile
    from .http import AEPSession

    checks: list[Check] = []
    own = session is None
    if session is None:
        try:
            profile = load_profile(config, sandbox=sandbox)
        except AEPKitError as exc:
            checks.append(Check("credentials", False, f"{exc} (%aep_auth --local uses AEP Local instead)"))
            return _finish(checks, None)
        session = AEPSession(profile, timeout=timeout, retries=1)
    profile = session.profile
    try:
        checks.append(Check("credentials", True, f"profile {profile.name}: client id {profile.client_id}, "
                                                 f"org {profile.org_id}, sandbox {profile.sandbox}, {profile.base_url}"))
        checks.append(_token(session, clock))
        if checks[-1].ok:
            checks.append(_sandbox(session))
        if all(c.ok for c in checks):  # each service on its own: every missing permission shows at once
            checks.extend(_service(session, service) for service in SERVICES)
    finally:
        if own:
            session.close()
    return _finish(checks, session)


def _finish(checks: list[Check], session: Any) -> DoctorReport:
    have = {c.name for c in checks}
    checks = checks + [Check(name, None, "not checked: fix the line above first") for name in CHECK_NAMES
                       if name not in have]
    profile = getattr(session, "profile", None)
    where = ""
    if profile is not None:
        from urllib.parse import urlsplit

        host = (urlsplit(profile.base_url).hostname or "").lower()
        where = "Adobe Experience Platform" if host.endswith((".adobe.io", ".adobe.com", ".adobe.net")) else "AEP Local"
    return DoctorReport(checks, where=where, org_id=getattr(profile, "org_id", ""),
                        sandbox=getattr(profile, "sandbox", ""))


def _token(session: Any, clock: Callable[[], float]) -> Check:
    profile = session.profile
    try:
        session.tokens.token()
    except TransportError as exc:
        return Check("token", False, f"{exc}: check the network and the IMS URL ({profile.ims_url}, AEP_IMS_URL)")
    except AEPError as exc:
        text = " ".join(str(part) for part in (exc.code, exc.detail) if part).lower()
        if "scope" in text:
            fix = "IMS refused the scopes: set AEP_SCOPES (or the config file's scopes) to the credential's scopes"
        elif exc.status in (400, 401) or "client" in text:
            fix = ("IMS refused the client id and secret: copy them again from the Developer Console "
                   "(AEP_CLIENT_ID, AEP_CLIENT_SECRET or the config file)")
        else:
            fix = "IMS refused to issue a token"
        return Check("token", False, f"{fix} ({exc})", f"POST {profile.ims_url}/ims/token/v3")
    except AEPKitError as exc:  # a static access token known to be expired
        return Check("token", False, f"{exc}")
    expires = session.tokens.expires_at
    if expires is None:
        return Check("token", True, "access token given as is; its expiry is not known")
    left = expires - clock()
    if left <= 0:
        return Check("token", False, "the access token has expired: get a new one, or configure the client secret")
    span = f"{round(left / 3600)} h" if left >= 5400 else f"{max(1, round(left / 60))} min"
    return Check("token", True, f"expires {epoch_text(expires)} UTC (in {span})",
                 f"POST {profile.ims_url}/ims/token/v3" if session.tokens.can_refresh else "")


def _sandbox(session: Any) -> Check:
    profile = session.profile
    call = f"GET {SANDBOXES}"
    found: list[dict[str, Any]] = []
    limit = 50
    try:
        for page in range(20):
            answer = session.request("GET", SANDBOXES, params={"limit": limit, "offset": page * limit}).json() or {}
            sandboxes = [s for s in answer.get("sandboxes") or [] if isinstance(s, dict)]
            found.extend(sandboxes)
            if any(s.get("name") == profile.sandbox for s in sandboxes) or len(sandboxes) < limit:
                break
    except AEPError as exc:
        return Check("org and sandbox", False, _fix(exc, "the org", None, profile), call)
    mine = next((s for s in found if s.get("name") == profile.sandbox), None)
    if mine is None:
        names = ", ".join(str(s.get("name")) for s in found[:10]) or "none"
        return Check("org and sandbox", False,
                     f"sandbox {profile.sandbox!r} is not one this credential may use in org {profile.org_id} "
                     f"({names}): set AEP_SANDBOX (or --sandbox) to one of them, or ask an admin for access", call)
    state = str(mine.get("state", "active"))
    if state.lower() != "active":
        return Check("org and sandbox", False, f"sandbox {profile.sandbox} is {state}, not active: use another", call)
    kind = mine.get("type") or "sandbox"
    return Check("org and sandbox", True, f"org {profile.org_id}, sandbox {profile.sandbox} ({kind}, {state})", call)


def _service(session: Any, service: _Service) -> Check:
    method, target = service.call.split(" ", 1)
    path, _, query = target.partition("?")
    params = [tuple(part.split("=", 1)) for part in query.split("&")] if query else None
    try:
        answer = session.request(method, path, params=params, accept="application/json").json()
        return Check(service.name, True, service.read(answer), service.call)
    except AEPError as exc:
        return Check(service.name, False, _fix(exc, service.name, service.permission, session.profile), service.call)


def _fix(error: AEPError, what: str, permission: str | None, profile: Any) -> str:
    """The one thing to do about ``error`` (a platform answer to one check)."""
    code = str(error.code or "")
    if isinstance(error, AuthError) and error.status == 401:
        return (f"401: the platform refused the credential ({error}): check AEP_CLIENT_ID and AEP_CLIENT_SECRET, or "
                "get a new access token")
    if isinstance(error, AuthError) and error.status == 403:
        if code in GATEWAY_CREDENTIAL_CODES:
            return (f"403 {code}: this credential is not entitled to Experience Platform in org {profile.org_id} "
                    f"({error.detail or error.title}): add the Experience Platform API, with a product profile, to "
                    "its Developer Console project, and check AEP_ORG_ID")
        if permission:
            return (f"403: the credential's role (product profile) lacks {permission} in sandbox {profile.sandbox}: "
                    f"ask an admin to add it ({ACCESS_CONTROL})")
        return f"403: this credential may not reach org {profile.org_id} ({error}): check its product profile"
    if isinstance(error, NotFoundError):
        return f"404: not found in sandbox {profile.sandbox} ({error.detail or error}): check AEP_SANDBOX"
    if isinstance(error, TransportError):
        return f"{error}: check the network and the base URL ({profile.base_url}, AEP_BASE_URL)"
    return f"{error}"


# -- the shell ----------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``aep-magics doctor``: print the checks, one line each; exit status 1 when one failed."""
    parser = argparse.ArgumentParser(
        prog="aep-magics doctor",
        description="Check, read-only, that your Adobe Experience Platform credentials reach everything the "
                    "tutorials need. Credentials: the options, then AEP_* environment variables, then the config "
                    "file (AEP_CONFIG).")
    parser.add_argument("--config", metavar="PATH", help="JSON credentials file (Developer Console export, aepp or "
                                                          "kit format)")
    parser.add_argument("--sandbox", metavar="NAME", help="sandbox to check (default: the profile's, else prod)")
    args = parser.parse_args(argv)
    report = check(config=args.config, sandbox=args.sandbox)
    print(scrub(report.heading()))
    for line in report.lines():
        print(scrub(line))
    return 0 if report.ok else 1
