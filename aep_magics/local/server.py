"""The HTTP skin of AEP Local: a werkzeug WSGI app that turns requests into :class:`Call` objects, runs the gateway
checks, dispatches to a service and turns the :class:`Reply` (or :class:`ServiceError`) back into a response.

Services never see werkzeug. Every response carries ``x-request-id``. The access log
(``logging.getLogger("aep_magics.local")``) records method, path (no query string), status and milliseconds --
never headers or bodies; control characters in what it records are escaped (``\n``, ``\x1b``), so a request
cannot forge a line.

:class:`ServerThread` serves the app behind :class:`LoopbackGuard` (no request a web page could make: foreign
``Origin`` or ``Host``); :class:`App` asks a credential of every state-changing control-plane call
(:func:`.gateway.check_control`).
"""

from __future__ import annotations

import importlib
import io
import ipaddress
import json
import logging
import re
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import ClientDisconnected, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from . import errors, gateway
from .ids import Ids
from .services.base import Call, Reply, Route, Service, ServiceError
from .store import Tenant

if TYPE_CHECKING:
    from .platform import Platform

log = logging.getLogger("aep_magics.local")

#: Every service AEP Local serves: (module, class name or None to take the module's only Service subclass).
#: The first four are part of this package; the others are loaded when their module exists.
SERVICES: list[tuple[str, str | None, bool]] = [
    ("aep_magics.local.services.ims", "IMSService", True),
    ("aep_magics.local.services.sandboxes", "SandboxService", True),
    ("aep_magics.local.services.flowservice", "FlowService", True),
    ("aep_magics.local.services.control", "ControlService", True),
    ("aep_magics.local.services.schemaregistry", None, False),
    ("aep_magics.local.services.catalog", None, False),
    ("aep_magics.local.services.dataprep", None, False),
    ("aep_magics.local.services.dataaccess", None, False),
    ("aep_magics.local.services.queryservice", "QueryService", False),
]

_BODY_METHODS = ("POST", "PUT", "PATCH")
_FORM = "application/x-www-form-urlencoded"
_RAW_TYPES = ("application/octet-stream",)
#: Keep-alive: idle seconds before the server closes a connection, and the largest body read ahead of the app.
KEEP_ALIVE_IDLE_S = 120
KEEP_ALIVE_MAX_BODY = 1024 * 1024
_CONNECTIONS_LOCK = threading.Lock()
#: Largest request body taken; a larger one gets 413 (with or without a Content-Length).
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Deepest nesting of arrays and objects a JSON body may have (AEP Local's limit: deeper bodies would exhaust the
#: recursion of the code that copies and validates them; Adobe documents none).
MAX_JSON_DEPTH = 128
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = str.maketrans("[]{}", "()()")
#: What the access log escapes: C0/C1 controls, line and paragraph separators, bidi controls, lone surrogates, and the
#: backslash that starts an escape.
_UNPRINTABLE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(value: str) -> str:
    """``value`` for a log line: control characters as Python escapes (``\\n``, ``\\x1b``, ``\\u2028``)."""
    if _UNPRINTABLE.search(value) is None:
        return value
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), value)


def _service_classes(module_name: str, class_name: str | None, required: bool) -> list[type[Service]]:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if required or exc.name != module_name:
            raise
        return []
    if class_name:
        return [getattr(module, class_name)]
    return [obj for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, Service) and obj is not Service
            and obj.__module__ == module.__name__ and not getattr(obj, "abstract", False)]


def load_services(platform: Platform) -> list[Service]:
    services: list[Service] = []
    for module_name, class_name, required in SERVICES:
        for cls in _service_classes(module_name, class_name, required):
            services.append(cls(platform))
    return services


def _service_style(path: str) -> str:
    if path.startswith("/data/foundation/flowservice"):
        return "flow"
    if path.startswith("/data/foundation/schemaregistry"):
        return "xdm"
    return "problem"


def _bad_json(path: str, detail: str, request_id: str) -> ServiceError:
    """A body that is not JSON, in the style of the service it was sent to."""
    style = _service_style(path)
    if style == "flow":
        return errors.flow("1405-400", "Invalid request", f"The request body is not valid JSON: {detail}",
                           request_id=request_id)
    if style == "xdm":
        return errors.xdm("1000-400", "Bad Request", f"The request body is not valid JSON: {detail}",
                          request_id=request_id)
    return errors.problem(400, "BadRequestError", f"The request body is not valid JSON: {detail}")


class App:
    """The WSGI application: one routing table over every service's routes."""

    def __init__(self, platform: Platform, services: list[Service] | None = None, *, admin_token: str | None = None):
        self.platform = platform
        #: The credential, besides an IMS token of AEP Local, that state-changing control-plane calls take.
        self.admin_token = admin_token or secrets.token_urlsafe(32)
        self.services = services if services is not None else load_services(platform)
        self._routes: list[tuple[Route, Service]] = []
        rules = []
        for service in self.services:
            for route in service.routes():
                rules.append(Rule(route.rule, methods=[route.method], endpoint=len(self._routes)))
                self._routes.append((route, service))
        self.url_map = Map(rules, strict_slashes=False, merge_slashes=False)
        seed = platform.seed
        # Request ids come from their own generator so they never shift the resource ids of a seeded platform.
        self._request_ids = Ids(None if seed is None else seed + 7919)
        for service in self.services:
            if hasattr(service, "routes_provider"):
                service.routes_provider = self.route_table
        from .console import Console

        #: The web console under ``/console/`` (and ``/``): it reads through :meth:`serve_call`.
        self.console = Console(self)

    def route_table(self) -> list[tuple[str, str, str]]:
        return [(r.method, r.rule, type(s).__name__) for r, s in self._routes]

    def serve_call(self, call: Call) -> Reply:
        """Run a :class:`Call` whose tenant is already checked through the handler that serves its method and path
        (the console's reads: what it shows is what the REST route answers). Raises :class:`ServiceError`."""
        try:
            index, params = self.url_map.bind("aep-local").match(call.path, method=call.method)
        except (NotFound, MethodNotAllowed):
            raise errors.problem(404, "NotFoundError", f"AEP Local serves nothing at {call.method} {call.path}.") \
                from None
        call.params = dict(params)
        return self._routes[index][0].handler(call)

    # -- WSGI ----------------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = MAX_BODY_BYTES
        started = time.perf_counter()
        request_id = (request.headers.get("x-request-id") or "").strip()[:128] or self._request_ids.request_id()
        response = self.handle(request, request_id)
        response.headers["x-request-id"] = request_id
        ms = (time.perf_counter() - started) * 1000
        log.info("%s %s %d %.1fms", printable(request.method), printable(request.path), response.status_code, ms)
        return response(environ, start_response)

    def handle(self, request: Request, request_id: str) -> Response:
        path = request.path
        if self.console.serves(path):
            return self.console.handle(request, request_id)
        try:
            if (request.content_length or 0) > MAX_BODY_BYTES:
                raise RequestEntityTooLarge()
            adapter = self.url_map.bind_to_environ(request.environ)
            try:
                index, params = adapter.match(path, method=request.method)
            except MethodNotAllowed as exc:
                allowed = sorted(m for m in (exc.valid_methods or []) if m != "HEAD")
                err = errors.problem(405, "MethodNotAllowed", f"The method {request.method} is not allowed for "
                                     f"{path}; use {', '.join(allowed)}.")
                return self._json(err.status, err.body, {"Allow": ", ".join(allowed)})
            except NotFound:
                err = errors.problem(404, "NotFoundError", f"AEP Local serves nothing at {request.method} {path}.")
                return self._json(err.status, err.body)
            route, service = self._routes[index]
            call = self._call(request, route, params, request_id)
            reply = route.handler(call)
            return self._reply(reply)
        except ServiceError as exc:
            return self._json(exc.status, exc.body, exc.headers)
        except RequestEntityTooLarge:
            err = errors.problem(413, "PayloadTooLarge", f"The request body is larger than "
                                 f"{MAX_BODY_BYTES // (1024 * 1024)} MB; AEP Local does not take it.")
            return self._json(err.status, err.body)
        except Exception:  # noqa: BLE001 - the server must answer, whatever a service does
            log.error("unhandled error in %s %s (request %s)\n%s", printable(request.method), printable(path),
                      printable(request_id), traceback.format_exc())
            if _service_style(path) == "flow":
                err = errors.flow("1102-500", "Internal Error", "An internal error has occurred. Please try again. "
                                  "If the problem persists, please contact customer support.", request_id=request_id)
            else:
                err = errors.problem(500, "InternalServerError",
                                     f"An internal error has occurred (request id {request_id}).")
            return self._json(err.status, err.body)

    def _call(self, request: Request, route: Route, params: Mapping[str, Any], request_id: str) -> Call:
        tenant, client_id = Tenant("", ""), ""
        if gateway.is_control_change(request.method, request.path):
            gateway.check_control(self.platform, request.headers, self.admin_token, method=request.method)
        if route.auth:
            tenant, client_id = gateway.check(self.platform, request.headers, request.path, sandbox=route.sandbox,
                                              request_id=request_id)
        raw = _read_body(request)
        body: Any = None
        mimetype = request.mimetype or ""
        if raw and request.method == "DELETE" and (mimetype == "application/json" or mimetype.endswith("+json")):
            body = _parse_json(raw, None, request.path, request_id)
        elif raw and request.method in _BODY_METHODS:
            if mimetype == "application/json" or mimetype.endswith("+json"):
                body = _parse_json(raw, request.mimetype_params.get("charset", "utf-8"), request.path, request_id)
            elif mimetype in _RAW_TYPES:
                body = None
            elif route.auth:
                # Platform calls: "All requests with a payload ... must include Content-Type: application/json".
                raise errors.bad_content_type()
            elif mimetype == _FORM:
                body = request.form.to_dict()
            else:
                body = _parse_json(raw, None, request.path, request_id)
        query = {k: request.args.getlist(k) for k in request.args.keys()}
        return Call(method=request.method, path=request.path, params=dict(params), query=query, body=body,
                    headers=request.headers, tenant=tenant, client_id=client_id, request_id=request_id, raw=raw)

    def authorize_control(self, environ: dict[str, Any]) -> None:
        """:func:`.gateway.check_control` for a control route served outside the app (``/aep-local/faults``)."""
        gateway.check_control(self.platform, EnvironHeaders(environ), self.admin_token,
                              method=environ.get("REQUEST_METHOD", "GET"))

    def _reply(self, reply: Reply) -> Response:
        if reply.status == 204 or reply.body is None:
            return Response(b"", status=reply.status, headers=reply.headers,
                            content_type=None if reply.status == 204 else reply.content_type)
        if isinstance(reply.body, (bytes, bytearray)):
            return Response(bytes(reply.body), status=reply.status, headers=reply.headers,
                            content_type=reply.content_type)
        return self._json(reply.status, reply.body, reply.headers, reply.content_type)

    @staticmethod
    def _json(status: int, body: Any, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> Response:
        try:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate in an echoed value: escape it rather than fail
            data = json.dumps(body, separators=(",", ":")).encode("ascii")
        return Response(data, status=status, headers=headers or {}, content_type=content_type)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _parse_json(raw: bytes, charset: str | None, path: str, request_id: str) -> Any:
    """A JSON body, or the service's bad-JSON error: also for nesting too deep to parse and for lone surrogates
    (``"\\ud800"``), which no UTF-8 store or answer can hold."""
    try:
        text = raw.decode(charset or "utf-8")
    except (UnicodeDecodeError, LookupError):
        text = None  # json.loads below says what is wrong (or reads UTF-16/32 itself)
    if text is not None and _too_deep(text):
        raise _bad_json(path, f"it is nested more than {MAX_JSON_DEPTH} levels deep", request_id)
    try:
        body = json.loads(raw if charset is None else raw.decode(charset), parse_constant=_no_constant,
                          parse_float=_finite_float)
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise _bad_json(path, "it is nested too deeply", request_id) from None
    except UnicodeEncodeError:
        raise _bad_json(path, "it contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text",
                        request_id) from None
    except (ValueError, UnicodeDecodeError, LookupError) as exc:
        raise _bad_json(path, str(exc), request_id) from None
    return body


def _too_deep(text: str) -> bool:
    """Whether the JSON text nests arrays and objects more than :data:`MAX_JSON_DEPTH` levels deep, in linear passes:
    strings are dropped, every bracket becomes ``(`` or ``)``, and each pass removes the innermost pairs."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    brackets = "".join(re.findall(r"[\[\]{}]", _JSON_STRING.sub("", text))).translate(_BRACKETS)
    for _ in range(MAX_JSON_DEPTH):
        inner = brackets.replace("()", "")
        if inner == brackets or not inner:
            return False  # flat enough, or unbalanced (the parser reports that)
        brackets = inner
    return "()" in brackets


def _read_body(request: Request) -> bytes:
    """The request body, at most :data:`MAX_BODY_BYTES` (werkzeug checks a Content-Length, not a chunked body)."""
    if request.content_length is None and request.environ.get("wsgi.input_terminated"):
        parts, size = [], 0
        while True:
            try:
                chunk = request.stream.read(1 << 16)
            except (OSError, ClientDisconnected):  # werkzeug's de-chunking: "Invalid chunk header" and the like
                raise errors.problem(400, "BadRequest", "The chunked request body is malformed or cut short; send "
                                     "valid chunked framing or a Content-Length.") from None
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise RequestEntityTooLarge()
            parts.append(chunk)
        request._cached_data = b"".join(parts)  # werkzeug's cache: get_data() and form parsing read it
    return request.get_data(cache=True)


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's default handler logs the request line (query string included): the app logs instead.

    It also closes the connection after every response ("Connection: close": it cannot drain an unread body before
    the next request line), so each call paid a TCP connect, a new thread and a new SQLite connection. This one reads
    a request's (Content-Length) body before the app runs, so the connection can stay open for the client's next
    call; chunked, ``Expect`` and large bodies keep werkzeug's close-after-response path.
    """

    #: Seconds a kept-alive connection may sit idle (socket timeout); the client then reconnects transparently.
    timeout = KEEP_ALIVE_IDLE_S
    #: TCP_NODELAY: headers and body are two writes; on a kept-alive connection Nagle would hold the body back
    #: until the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    _keep_alive = False

    def setup(self) -> None:
        super().setup()
        with _CONNECTIONS_LOCK:
            getattr(self.server, "aep_connections", set()).add(self.connection)

    def finish(self) -> None:
        with _CONNECTIONS_LOCK:
            getattr(self.server, "aep_connections", set()).discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        self._keep_alive = False
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if (self.close_connection or self.headers.get("Transfer-Encoding") or self.headers.get("Expect")
                or not length.isdigit() or int(length) > KEEP_ALIVE_MAX_BODY):
            super().run_wsgi()
            return
        body = self.rfile.read(int(length)) if int(length) else b""
        if len(body) != int(length):  # the client went away mid-body
            self.close_connection = True
            return
        socket_file, self.rfile = self.rfile, io.BytesIO(body)  # werkzeug's after-response drain reads this
        self._keep_alive = True
        try:
            super().run_wsgi()
        finally:
            self.rfile = socket_file
            self._keep_alive = False

    def send_header(self, keyword: str, value: str) -> None:
        if self._keep_alive and keyword.lower() == "connection" and value.lower() == "close":
            return
        super().send_header(keyword, value)

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:
        # werkzeug's messages can quote the raw request line (and so a query string): keep only the kind.
        if type == "error":
            log.debug("server: a request could not be read")


class LoopbackGuard:
    """WSGI middleware in front of everything AEP Local serves: it refuses (403) a request with a foreign ``Origin``
    (a web page's cross-site request) or a foreign ``Host`` (DNS rebinding), see :func:`.gateway.foreign_request`.

    The names it answers to are set by :class:`ServerThread` once the socket is bound (``bind``)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app
        self.names: frozenset[str] = frozenset()
        self.port = 0
        self.wildcard = False

    def bind(self, host: str, address: str, port: int) -> None:
        """The server listens on ``address:port``, asked for as ``host``."""
        self.port = port
        self.wildcard = ipaddress.ip_address(address.split("%")[0]).is_unspecified
        names = {host.strip("[]").lower(), address.lower()}
        if self.wildcard:
            names.add(socket.gethostname().lower())
        self.names = frozenset(n for n in names if n)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        refused = gateway.foreign_request(environ.get("HTTP_HOST"), environ.get("HTTP_ORIGIN"),
                                          bound_names=self.names, port=self.port, wildcard=self.wildcard)
        if refused is None:
            return self.app(environ, start_response)
        request_id = (environ.get("HTTP_X_REQUEST_ID") or "").strip()[:128]
        response = App._json(refused.status, refused.body)
        if request_id:
            response.headers["x-request-id"] = request_id
        request = Request(environ)
        log.info("%s %s %d %.1fms", printable(request.method), printable(request.path), refused.status, 0.0)
        return response(environ, start_response)


class ServerThread:
    """A threaded werkzeug server on a background thread, behind :class:`LoopbackGuard`."""

    def __init__(self, app: Callable[..., Iterable[bytes]], host: str = "127.0.0.1", port: int = 0):
        self.guard = LoopbackGuard(app)
        self.server = make_server(host, port, self.guard, threaded=True, request_handler=_QuietHandler)
        #: The address the socket is bound to (``0.0.0.0`` when asked for every interface) and its real port.
        self.address: str = str(self.server.server_address[0])
        self.guard.bind(host, self.address, self.server.server_port)
        self.server.daemon_threads = True  # type: ignore[attr-defined]  # a ThreadedWSGIServer (threaded=True)
        self._connections: set[socket.socket] = set()  # open (kept-alive) connections, closed by stop()
        self.server.aep_connections = self._connections  # type: ignore[attr-defined]  # kept by _QuietHandler
        self.host = host
        self.port = self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever, name=f"aep-local:{self.port}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        with _CONNECTIONS_LOCK:  # idle keep-alive connections would otherwise still be served after stop
            open_connections = list(self._connections)
        for conn in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=10)
