"""The HTTP skin of AEP Local: a werkzeug WSGI app that turns requests into :class:`Call` objects, runs the gateway
checks, dispatches to a service and turns the :class:`Reply` (or :class:`ServiceError`) back into a response.

Services never see werkzeug. Every response carries ``x-request-id``. The access log
(``logging.getLogger("aep_magics.local")``) records method, path (no query string), status and milliseconds --
never headers or bodies.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import MethodNotAllowed, NotFound, RequestEntityTooLarge
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

    def __init__(self, platform: Platform, services: list[Service] | None = None):
        self.platform = platform
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

    def route_table(self) -> list[tuple[str, str, str]]:
        return [(r.method, r.rule, type(s).__name__) for r, s in self._routes]

    # -- WSGI ----------------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = MAX_BODY_BYTES
        started = time.perf_counter()
        request_id = (request.headers.get("x-request-id") or "").strip()[:128] or self._request_ids.request_id()
        response = self.handle(request, request_id)
        response.headers["x-request-id"] = request_id
        ms = (time.perf_counter() - started) * 1000
        log.info("%s %s %d %.1fms", request.method, request.path, response.status_code, ms)
        return response(environ, start_response)

    def handle(self, request: Request, request_id: str) -> Response:
        path = request.path
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
            log.error("unhandled error in %s %s (request %s)\n%s", request.method, path, request_id,
                      traceback.format_exc())
            if _service_style(path) == "flow":
                err = errors.flow("1102-500", "Internal Error", "An internal error has occurred. Please try again. "
                                  "If the problem persists, please contact customer support.", request_id=request_id)
            else:
                err = errors.problem(500, "InternalServerError",
                                     f"An internal error has occurred (request id {request_id}).")
            return self._json(err.status, err.body)

    def _call(self, request: Request, route: Route, params: Mapping[str, Any], request_id: str) -> Call:
        tenant, client_id = Tenant("", ""), ""
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


def _read_body(request: Request) -> bytes:
    """The request body, at most :data:`MAX_BODY_BYTES` (werkzeug checks a Content-Length, not a chunked body)."""
    if request.content_length is None and request.environ.get("wsgi.input_terminated"):
        parts, size = [], 0
        while True:
            chunk = request.stream.read(1 << 16)
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


class ServerThread:
    """A threaded werkzeug server on a background thread."""

    def __init__(self, app: Callable[..., Iterable[bytes]], host: str = "127.0.0.1", port: int = 0):
        self.server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
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
