"""The console's HTTP side: its URL table, who is asking, and the responses (HTML, the stylesheet, diagnostics bytes).

Access goes through AEP Local's IMS, three ways:

- **sign-in**: the client id and secret of an IMS client (the dev credentials prefilled on loopback) give a session
  cookie (``HttpOnly; SameSite=Strict; Path=/console``): a random id keyed into a server-side table held in memory
  (org, client, CSRF token), which ends when an IMS token issued then would expire, or at sign-out;
- **one-time link**: ``POST /aep-local/console-links`` (the control plane) hands out a URL with a ticket, good once
  within 60 seconds; opening it trades the ticket for the cookie and moves on to the page without the ticket;
- **bearer**: ``Authorization: Bearer <IMS access token>`` on any GET (scripts, tests).

Without any of them every console URL answers the sign-in page and nothing else. The console changes nothing: its
POSTs are sign-in, sign-out and the SQL box's read-only statements, each with a CSRF token (the server refuses a
foreign ``Origin`` on every route before this). It never shows a secret or a token: connection parameters are shown
masked, as the Flow Service answers them.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .. import identity
from ..errors import ServiceError
from ..gateway import is_loopback
from ..platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from ..services.control import ControlService
from ..services.sandboxes import NAME_RE, active_sandbox
from ..store import Tenant
from . import views

log = logging.getLogger("aep_magics.local")

COOKIE = "aep_console"
SIGNIN_COOKIE = "aep_console_signin"
#: Most console sessions kept at once (the oldest are dropped past that).
MAX_SESSIONS = 10_000
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # Not "no-referrer": with it Chromium sends "Origin: null" on the console's own form posts, which the server
    # refuses as foreign; "same-origin" still keeps a link's ticket from other sites.
    "Referrer-Policy": "same-origin",
    # No script at all; frames only from the console itself or a notebook on loopback (%aep_console --inline).
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'self' http://127.0.0.1:* http://localhost:*",
}


@dataclass
class Session:
    org: str
    client_id: str
    expires_ms: int             # platform clock, as IMS tokens
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))


@dataclass
class Viewer:
    """Who a console request is from: the org and client, and the session behind it (None with a bearer token)."""

    org: str
    client_id: str
    session: Session | None = None
    session_id: str | None = None


class Console:
    """The console, mounted by the server's :class:`App` (``app.console``) for ``/`` and ``/console/...``."""

    def __init__(self, app: Any):
        self.app = app
        self.platform = app.platform
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._env = None
        self.url_map = Map([
            Rule("/", endpoint="root"),
            Rule("/console", endpoint="sources"),
            Rule("/console/", endpoint="sources"),
            Rule("/console/sources", endpoint="sources"),
            Rule("/console/static/console.css", endpoint="css"),
            Rule("/console/sign-in", endpoint="sign_in", methods=["GET", "POST"]),
            Rule("/console/sign-out", endpoint="sign_out", methods=["POST"]),
            Rule("/console/dataflows/<flow_id>", endpoint="dataflow"),
            Rule("/console/runs/<run_id>", endpoint="run"),
            Rule("/console/batches/<batch_id>/failed", endpoint="diagnostics"),
            Rule("/console/datasets", endpoint="datasets"),
            Rule("/console/datasets/<dataset_id>", endpoint="dataset"),
            Rule("/console/schemas", endpoint="schemas"),
            Rule("/console/schemas/<path:schema_id>", endpoint="schema"),
            Rule("/console/sql", endpoint="sql", methods=["GET", "POST"]),
        ], strict_slashes=False, merge_slashes=False)

    @staticmethod
    def serves(path: str) -> bool:
        return path == "/" or path == "/console" or path.startswith("/console/")

    # -- plumbing ---------------------------------------------------------------------------------------------------
    def _templates(self):
        if self._env is None:
            from jinja2 import Environment, PackageLoader, select_autoescape

            self._env = Environment(loader=PackageLoader("aep_magics.local.console", "templates"),
                                    autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
        return self._env

    def _page(self, template: str, status: int = 200, headers: dict[str, str] | None = None, **ctx: Any) -> Response:
        html = self._templates().get_template(template).render(**ctx)
        response = Response(html, status=status, content_type="text/html; charset=utf-8")
        response.headers.update(_SECURITY_HEADERS)
        for k, v in (headers or {}).items():
            response.headers[k] = v
        return response

    def _control(self) -> ControlService:
        return next(s for s in self.app.services if isinstance(s, ControlService))

    def _query_service(self):
        return next((s for s in self.app.services if type(s).__name__ == "QueryService"), None)

    # -- entry --------------------------------------------------------------------------------------------------------
    def handle(self, request: Request, request_id: str) -> Response:
        try:
            adapter = self.url_map.bind_to_environ(request.environ)
            try:
                endpoint, args = adapter.match()
            except HTTPException as exc:
                if exc.code == 405:
                    return self._message(request, 405, f"The console takes {request.method} only where it says so; "
                                         f"use GET for {request.path}.", headers={"Allow": "GET"})
                return self._message(request, 404, f"The console has no page at {request.path}; start at /console/.")
            if endpoint == "root":
                return _redirect("/console/", 302)
            if endpoint == "css":
                css = resources.files(__package__).joinpath("static/console.css").read_bytes()
                return Response(css, content_type="text/css; charset=utf-8",
                                headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
            ticket = request.args.get("ticket")
            if ticket is not None and request.method == "GET":
                return self._redeem(request, ticket)
            if endpoint == "sign_in":
                return self._sign_in(request)
            viewer = self._viewer(request)
            if viewer is None:
                return self._sign_in_page(request, 401, next_path=_local_path(request))
            if endpoint == "sign_out":
                return self._sign_out(request, viewer)
            return self._view(request, request_id, viewer, endpoint, dict(args))
        except RequestEntityTooLarge:
            return self._message(request, 413, "The form is larger than AEP Local takes; send a shorter statement.")
        except ServiceError as exc:
            status = exc.status if 400 <= exc.status < 500 else 500
            return self._message(request, status, views.message_of(exc))
        except Exception:  # noqa: BLE001 - the console must answer, whatever a page reads
            log.exception("console error in %s (request %s)", request.path, request_id)
            return self._message(request, 500, f"The console could not build this page (request id {request_id}); "
                                 "the server log has the details.")

    def _message(self, request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return self._page("message.html", status, headers, message=message, title="AEP Local console",
                          viewer=None, sandbox=None, calls=[], base_url=request.host_url)

    # -- who is asking ------------------------------------------------------------------------------------------------
    def _viewer(self, request: Request) -> Viewer | None:
        auth = request.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if auth:
            info = identity.token_info(self.platform, token.strip()) if scheme.lower() == "bearer" else None
            return Viewer(info["org_id"], info["client_id"]) if info else None
        sid = request.cookies.get(COOKIE)
        if not sid:
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None and (session.expires_ms <= self.platform.clock.peek_ms()
                                        or identity.get_client(self.platform, session.client_id) is None):
                del self._sessions[sid]
                session = None
        return Viewer(session.org, session.client_id, session, sid) if session else None

    def _new_session(self, org: str, client_id: str, expires_ms: int) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(org, client_id, expires_ms)
        with self._lock:
            now = self.platform.clock.peek_ms()
            for k in [k for k, s in self._sessions.items() if s.expires_ms <= now]:
                del self._sessions[k]
            while len(self._sessions) >= MAX_SESSIONS:
                del self._sessions[next(iter(self._sessions))]
            self._sessions[sid] = session
        return sid, session

    def _set_cookie(self, response: Response, sid: str, session: Session) -> None:
        max_age = max(1, (session.expires_ms - self.platform.clock.peek_ms()) // 1000)
        response.set_cookie(COOKIE, sid, max_age=max_age, path="/console", httponly=True, samesite="Strict")

    def _redeem(self, request: Request, key: str) -> Response:
        ticket = self._control().console_tickets.redeem(key)
        if ticket is None or identity.get_client(self.platform, ticket.client_id) is None:
            return self._sign_in_page(request, 403, next_path=_local_path(request, drop="ticket"),
                                      error="This console link was already used or is older than 60 seconds (links "
                                            "work once): ask for a new one (%aep_console) or sign in.")
        sid, session = self._new_session(ticket.org, ticket.client_id, ticket.token_expires_ms)
        target = "/console" + ticket.path
        # A page that moves on by itself rather than a 302: the browser then sends the new SameSite=Strict cookie
        # even when the link was opened from another site (a notebook on another host name).
        response = self._page("moving.html", 200, target=target, title="Signing in", viewer=None, sandbox=None,
                              calls=[], base_url=request.host_url)
        self._set_cookie(response, sid, session)
        return response

    def _sign_in_page(self, request: Request, status: int, *, next_path: str = "/console/", error: str = "",
                      client_id: str = "") -> Response:
        csrf = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)
        loopback = is_loopback(request.remote_addr or "")
        response = self._page("sign_in.html", status, title="Sign in", viewer=None, sandbox=None, calls=[],
                              base_url=request.host_url, csrf=csrf, next_path=next_path, error=error,
                              client_id=client_id or (DEV_CLIENT_ID if loopback else ""),
                              client_secret=DEV_CLIENT_SECRET if loopback and not client_id else "",
                              loopback=loopback)
        response.set_cookie(SIGNIN_COOKIE, csrf, path="/console", httponly=True, samesite="Strict")
        return response

    def _sign_in(self, request: Request) -> Response:
        if request.method == "GET":
            return self._sign_in_page(request, 200, next_path=_safe_next(request.args.get("next")))
        form = request.form
        next_path = _safe_next(form.get("next"))
        expected = request.cookies.get(SIGNIN_COOKIE) or ""
        if not expected or not hmac.compare_digest(expected, form.get("csrf") or ""):
            return self._sign_in_page(request, 403, next_path=next_path,
                                      error="The sign-in form was stale or not sent from this page: sign in again.")
        client_id = (form.get("client_id") or "").strip()
        client = identity.authenticate_client(self.platform, client_id, form.get("client_secret") or "")
        if client is None:
            return self._sign_in_page(request, 401, next_path=next_path, client_id=client_id,
                                      error="Unknown client id or wrong secret: use the credentials of an IMS client "
                                            "of AEP Local (the dev ones, or one registered with POST "
                                            "/aep-local/clients).")
        expires = self.platform.clock.peek_ms() + identity.token_lifetime(self.platform) * 1000
        sid, session = self._new_session(client["org_id"], client["client_id"], expires)
        response = _redirect(next_path, 303)
        self._set_cookie(response, sid, session)
        response.delete_cookie(SIGNIN_COOKIE, path="/console", httponly=True, samesite="Strict")
        return response

    def _sign_out(self, request: Request, viewer: Viewer) -> Response:
        refused = self._csrf_refused(request, viewer)
        if refused is not None:
            return refused
        if viewer.session_id:
            with self._lock:
                self._sessions.pop(viewer.session_id, None)
        response = _redirect("/console/sign-in", 303)
        response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="Strict")
        return response

    def _csrf_refused(self, request: Request, viewer: Viewer) -> Response | None:
        if viewer.session is None:      # a bearer token: no cookie a page of another site could make the browser send
            return None
        if not hmac.compare_digest(viewer.session.csrf, request.form.get("csrf") or ""):
            return self._message(request, 403, "This form was not sent from a console page (its CSRF token is "
                                 "missing or wrong): reload the page and send it again.")
        return None

    # -- pages --------------------------------------------------------------------------------------------------------
    def _view(self, request: Request, request_id: str, viewer: Viewer, endpoint: str, args: dict[str, Any]) -> Response:
        sandbox = request.values.get("sandbox") or "prod"
        if not NAME_RE.match(sandbox) or active_sandbox(self.platform, viewer.org, sandbox) is None:
            return self._message(request, 404, f"The sandbox '{sandbox[:100]}' is not an active sandbox of your org; "
                                 "pick one in the sandbox list (Sandboxes API: GET /data/foundation/sandbox-management/"
                                 "sandboxes).")
        api = views.Api(self.app.serve_call, viewer.org, viewer.client_id, sandbox, request_id)
        try:
            if endpoint == "diagnostics":
                data = views.diagnostics_file(api, args["batch_id"], request.args.get("path") or "")
                name = (request.args.get("path") or "row_errors").rsplit("/", 1)[-1]
                return Response(data, content_type="application/json", headers={
                    **_SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{args["batch_id"]}-{name}"'})
            if endpoint == "sql":
                template, ctx = self._sql(request, viewer, sandbox, api)
                if isinstance(ctx, Response):
                    return ctx
            else:
                template, ctx = self._read(api, endpoint, args, request)
        except views.NotFound as exc:
            return self._message(request, 404, str(exc))
        ctx.setdefault("title", "AEP Local console")
        return self._page(template, 200, viewer=viewer, sandbox=sandbox, sandboxes=views.sandboxes(api),
                          calls=api.calls, base_url=request.host_url, csrf=viewer.session.csrf if viewer.session
                          else "", here=request.path, **ctx)

    def _read(self, api: views.Api, endpoint: str, args: dict[str, Any], request: Request) -> tuple[str, dict]:
        if endpoint == "sources":
            return views.sources_page(api)
        if endpoint == "dataflow":
            return views.dataflow_page(api, args["flow_id"], request.args.get("continuationToken"))
        if endpoint == "run":
            return views.run_page(api, args["run_id"])
        if endpoint == "datasets":
            return views.datasets_page(api)
        if endpoint == "dataset":
            return views.dataset_page(api, args["dataset_id"])
        if endpoint == "schemas":
            return views.schemas_page(api)
        return views.schema_page(api, args["schema_id"])

    def _sql(self, request: Request, viewer: Viewer, sandbox: str, api: views.Api) -> tuple[str, Any]:
        """The SQL box: a SELECT or SHOW through Query Service's interactive session; statements that change
        anything are refused here."""
        from ..engine import lakesql

        table = request.values.get("table") or ""
        sql = request.form.get("sql") if request.method == "POST" else None
        ctx: dict[str, Any] = {"title": "Query", "table": table, "result": None, "error": "", "capped": False,
                               "sql": sql if sql is not None else (f"SELECT * FROM {table} LIMIT 10" if
                                                                     views.TABLE_NAME.match(table) else
                                                                     "SHOW TABLES")}
        api.calls.append(views.ApiCall("POST", "/data/foundation/query/queries", [],
                                       body={"dbName": f"{sandbox}:all", "sql": ctx["sql"],
                                             "name": "console query"}))
        if request.method != "POST":
            return "sql.html", ctx
        refused = self._csrf_refused(request, viewer)
        if refused is not None:
            return "sql.html", refused
        service = self._query_service()
        if service is None:
            ctx["error"] = "Query Service is not part of this AEP Local."
            return "sql.html", ctx
        try:
            kind = lakesql.parse(sql or "").kind
            if kind not in views.SQL_READ_KINDS:
                ctx["error"] = ("The console runs read-only statements (SELECT, SHOW, EXPLAIN); run CREATE TABLE AS, "
                                "DROP TABLE or SET through Query Service's API or a PostgreSQL client.")
                return "sql.html", ctx
            session = service.interactive(Tenant(viewer.org, sandbox), user=f"{viewer.client_id}@AdobeID",
                                          client="AEP Local console")
            try:
                result = session.execute(sql or "")
            finally:
                session.close()
        except lakesql.SqlError as exc:
            ctx["error"] = f"{exc}"
            return "sql.html", ctx
        if result.table is not None:
            table_ = result.table
            ctx["capped"] = table_.num_rows > views.SQL_MAX_ROWS
            table_ = table_.slice(0, views.SQL_MAX_ROWS)
            ctx["result"] = {"columns": table_.column_names, "total": result.table.num_rows,
                             "rows": [[views._cell(v) for v in row.values()] for row in table_.to_pylist()]}
        ctx["tag"] = result.tag
        return "sql.html", ctx


def _redirect(location: str, status: int) -> Response:
    response = Response("", status=status, headers={"Location": location})
    response.headers.update(_SECURITY_HEADERS)
    return response


def _safe_next(value: str | None) -> str:
    """A page of the console to go to after sign-in: a local /console path, nothing else."""
    if value and value.startswith("/console") and not value.startswith("//") and "\\" not in value \
            and all(c.isprintable() for c in value):
        return value
    return "/console/"


def _local_path(request: Request, drop: str = "") -> str:
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k != drop and k != "ticket"]
    return _safe_next(request.path + (f"?{urlencode(pairs)}" if pairs else ""))
