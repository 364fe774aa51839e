"""A scripted platform on loopback for client tests: records every request, answers from a script.

    with FakePlatform() as fake:
        fake.script("GET", "/data/foundation/flowservice/flows", Reply(200, {"items": []}))
        ...
        fake.requests[-1].headers["x-api-key"]

IMS is built in: ``POST /ims/token/v3`` issues ``token-1``, ``token-2``, ... (or ``fake.next_tokens``); platform
calls must carry a token it issued (or one in ``fake.accepted``), else the gateway's 401 body comes back.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def to_response(self) -> Response:
        if self.json is not None:
            return Response(json.dumps(self.json), self.status, self.headers, content_type="application/json")
        return Response(self.body or b"", self.status, self.headers)


@dataclass
class Recorded:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    raw_uri: str = ""  # as sent, before the server decodes %2F and friends

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))

    def param(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]


Handler = Callable[[Recorded], Reply]


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakePlatform:
    def __init__(self, port: int = 0, *, check_token: bool = True, expires_in: int = 86399):
        self.port = port
        self.check_token = check_token
        self.expires_in = expires_in
        self.requests: list[Recorded] = []
        self.issued: list[str] = []
        self.accepted: set[str] = set()
        self.next_tokens: deque[str] = deque()
        self._count = 0
        self._scripts: dict[tuple[str, str], deque[Reply | Handler]] = {}
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- scripting -------------------------------------------------------------------------------------------

    def script(self, method: str, path: str, *replies: Reply | Handler) -> None:
        """Answer ``method path`` with ``replies`` in order; the last one repeats."""
        self._scripts[(method.upper(), path)] = deque(replies)

    def revoke(self, token: str) -> None:
        self.accepted.discard(token)
        if token in self.issued:
            self.issued.remove(token)

    def calls(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if (method is None or r.method == method) and (path is None or r.path == path)]

    # -- lifecycle -------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._server = make_server("127.0.0.1", self.port, self._app, threaded=True, request_handler=_Quiet)
        self.port = self._server.server_port
        serve = self._server.serve_forever
        self._thread = threading.Thread(target=serve, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the WSGI app ----------------------------------------------------------------------------------------

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        recorded = Recorded(
            method=request.method,
            path=request.path,
            query=list(request.args.items(multi=True)),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.get_data(),
            raw_uri=environ.get("RAW_URI") or environ.get("REQUEST_URI", ""),
        )
        with self._lock:
            self.requests.append(recorded)
            reply = self._answer(recorded)
        return reply.to_response()(environ, start_response)

    def _answer(self, r: Recorded) -> Reply:
        is_ims = (r.method, r.path) == ("POST", "/ims/token/v3")
        if not is_ims and self.check_token:
            auth = r.headers.get("authorization", "")
            token = auth.removeprefix("Bearer ")
            if not auth.startswith("Bearer ") or (token not in self.issued and token not in self.accepted):
                return Reply(401, {"error_code": "401013", "message": "Oauth token is not valid"})
        queue = self._scripts.get((r.method, r.path))
        if queue:
            step = queue.popleft() if len(queue) > 1 else queue[0]
            return step(r) if callable(step) else step
        if is_ims:
            self._count += 1
            token = self.next_tokens.popleft() if self.next_tokens else f"token-{self._count}"
            self.issued.append(token)
            return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in})
        return Reply(404, {"error_code": "404000", "message": f"nothing scripted for {r.method} {r.path}"})


def profile_for(fake: FakePlatform, **overrides: Any) -> Any:
    """A Profile aimed at ``fake`` for both IMS and the platform."""
    from aep_magics.config import Profile

    values: dict[str, Any] = {
        "name": "test",
        "base_url": fake.url,
        "ims_url": fake.url,
        "org_id": "TESTORG0000000000@AdobeOrg",
        "client_id": "test-client",
        "client_secret": "test-secret-value",
        "sandbox": "dev",
    }
    values.update(overrides)
    return Profile(**values)
