"""Fault injection for AEP Local: a seeded WSGI middleware that makes the platform misbehave the way networks and
gateways do, so that clients can be tested against it (Toxiproxy / moto's fault hooks, in one file).

Configure it with a spec string -- ``aep-local serve --faults SPEC``, ``local.start(faults=SPEC)`` or the
``AEP_LOCAL_FAULTS`` environment variable -- or at run time with ``POST /aep-local/faults {"spec": SPEC}``::

    seed=7,429=0.05,500=0.02,502=0.02,503=0.05,504=0.02,latency=0.1:0.05,drop_before=0.02,drop_after=0.02,slow_body=0.02

Every value is a probability per request (0..1), except where noted:

==============  =================================================================================================
``429``         answer 429 ``{"title": "RequestRateTooLarge", "status": 429, "detail": ...}`` (the identity-service
                body, https://experienceleague.adobe.com/en/docs/experience-platform/landing/troubleshooting) with ``Retry-After: <retry_after>``; the request is not processed
``500/502/503`` answer that status with a gateway-style body ``{"error_code", "message"}``; not processed
``504``         the request **is** processed (state changes), then the gateway answers 504 (an upstream timeout)
``drop_before`` close the connection without an answer; the request is not processed (the app never runs)
``drop_after``  process the request (state changes), then close the connection before sending the answer
``latency``     ``p:seconds``: add that delay before processing (independent of the other faults; at most 30 s)
``slow_body``   trickle the answer in ``slow_chunk``-byte pieces, ``slow_delay`` seconds apart (independent); the
                pauses of one answer add up to at most 30 s, the rest then goes at once
``seed``        seed of the ``random.Random`` that decides (default 0); same seed + same request order = same faults
``retry_after`` the ``Retry-After`` value of a 429 or 503 (default ``0``; fractional seconds allowed, e.g. ``0.05``;
                at most 600)
``slow_chunk``  bytes per piece of a slow body (default 512); ``slow_delay`` seconds between pieces (default 0.002,
                at most 1)
``exempt``      ``|``-separated path prefixes never faulted (default ``/aep-local/|/ims/``); ``exempt=none``
==============  =================================================================================================

Numbers must be finite (``nan`` and ``inf`` are refused) and within those bounds; a spec that is not gets
:class:`FaultSpecError` (``POST /aep-local/faults``: 400). The "status" faults and the two drops are exclusive (one
draw picks at most one of them; their probabilities must add up to at most 1); latency and slow bodies are drawn separately and can come on top. A request carrying the
header ``x-aep-local-faults: off`` is never faulted (a fault-free view for tests).

``GET /aep-local/faults`` reports the configuration and how many faults of each kind were injected;
``DELETE /aep-local/faults`` resets the counters; ``POST /aep-local/faults`` takes ``{"spec": "..."}`` (an empty spec
turns injection off) and/or ``{"reset": true}``. These routes belong to the middleware, so they exist whenever
AEP Local runs (with no spec, nothing is injected). POST and DELETE change state: the injector asks its
``authorize(environ)`` (AEP Local passes the control plane's credential check, which raises the error to answer).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from .errors import ServiceError

log = logging.getLogger("aep_magics.local.faults")

ENV = "AEP_LOCAL_FAULTS"
CONTROL_PATH = "/aep-local/faults"
BYPASS_HEADER = "HTTP_X_AEP_LOCAL_FAULTS"  # "x-aep-local-faults: off"
DEFAULT_EXEMPT = ("/aep-local/", "/ims/")

#: Exclusive faults, in the order of the cumulative draw.
EXCLUSIVE = ("429", "500", "502", "503", "504", "drop_before", "drop_after")
#: Every kind a counter exists for.
KINDS = (*EXCLUSIVE, "latency", "slow_body")
#: Upper bounds, in seconds: a latency fault; all the pauses of one slow body; one pause; a Retry-After value.
MAX_LATENCY_S = 30.0
MAX_SLOW_TOTAL_S = 30.0
MAX_SLOW_DELAY_S = 1.0
MAX_RETRY_AFTER_S = 600.0

_BODIES: dict[str, dict[str, Any]] = {
    "429": {"title": "RequestRateTooLarge", "status": 429, "detail": "Request rate is large. Please try again later."},
    "500": {"error_code": "500000", "message": "Internal Server Error. Please try again later."},
    "502": {"error_code": "502000", "message": "Bad Gateway. The upstream service did not answer correctly."},
    "503": {"error_code": "503000", "message": "Service Unavailable. The service is temporarily unavailable; "
                                               "please try again."},
    "504": {"error_code": "504000", "message": "Gateway Timeout. The upstream service did not answer in time."},
}
_REASONS = {"429": "Too Many Requests", "500": "Internal Server Error", "502": "Bad Gateway",
            "503": "Service Unavailable", "504": "Gateway Timeout"}


class FaultSpecError(ValueError):
    """The fault spec string cannot be used."""


@dataclass
class FaultSpec:
    """A parsed fault spec (see the module docstring)."""

    seed: int = 0
    rates: dict[str, float] = field(default_factory=dict)  # exclusive kinds -> probability
    latency: tuple[float, float] = (0.0, 0.0)             # (probability, seconds)
    slow_body: float = 0.0
    slow_chunk: int = 512
    slow_delay: float = 0.002
    retry_after: str = "0"
    exempt: tuple[str, ...] = DEFAULT_EXEMPT
    text: str = ""

    @property
    def active(self) -> bool:
        return any(self.rates.values()) or self.latency[0] > 0 or self.slow_body > 0

    @classmethod
    def parse(cls, text: str | None) -> FaultSpec:
        spec = cls(text=(text or "").strip())
        if not spec.text:
            return spec
        for item in spec.text.split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            key, value = key.strip().lower(), value.strip()
            if not sep or not value:
                raise FaultSpecError(f"fault spec item {item!r} is not key=value")
            try:
                if key == "seed":
                    spec.seed = int(value)
                elif key in EXCLUSIVE:
                    spec.rates[key] = _probability(value)
                elif key == "latency":
                    p, _, seconds = value.partition(":")
                    spec.latency = (_probability(p), _seconds(seconds or "0.05", MAX_LATENCY_S, "latency"))
                elif key == "slow_body":
                    spec.slow_body = _probability(value)
                elif key == "slow_chunk":
                    spec.slow_chunk = max(1, int(value))
                elif key == "slow_delay":
                    spec.slow_delay = _seconds(value, MAX_SLOW_DELAY_S, "slow_delay")
                elif key == "retry_after":
                    _seconds(value, MAX_RETRY_AFTER_S, "retry_after")
                    spec.retry_after = value
                elif key == "exempt":
                    spec.exempt = () if value.lower() == "none" else tuple(p for p in value.split("|") if p)
                else:
                    raise FaultSpecError(f"unknown fault {key!r}; use one of seed, {', '.join(KINDS)}, "
                                         "retry_after, slow_chunk, slow_delay, exempt")
            except FaultSpecError:
                raise
            except ValueError as exc:
                raise FaultSpecError(f"bad value in fault spec item {item!r}: {exc}") from None
        total = sum(spec.rates.values())
        if total > 1.0 + 1e-9:
            raise FaultSpecError(f"the exclusive fault probabilities add up to {total:g} > 1")
        return spec

    def describe(self) -> dict[str, Any]:
        return {"spec": self.text, "seed": self.seed, "rates": dict(self.rates),
                "latency": {"probability": self.latency[0], "seconds": self.latency[1]},
                "slow_body": {"probability": self.slow_body, "chunk": self.slow_chunk, "delay": self.slow_delay},
                "retry_after": self.retry_after, "exempt": list(self.exempt)}


def _probability(value: str) -> float:
    p = float(value)
    if not 0.0 <= p <= 1.0:  # also refuses nan
        raise ValueError(f"{value} is not a probability between 0 and 1")
    return p


def _seconds(value: str, limit: float, name: str) -> float:
    seconds = float(value)
    if not math.isfinite(seconds) or not 0.0 <= seconds <= limit:
        raise ValueError(f"{name} takes a finite number of seconds from 0 to {limit:g}, not {value}")
    return seconds


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


class _Dropped(ConnectionAbortedError):
    """Raised after the socket was shut down on purpose: werkzeug treats it as a dropped connection."""


class FaultInjector:
    """WSGI middleware around AEP Local's app; see the module docstring."""

    def __init__(self, app: Callable[..., Iterable[bytes]], spec: str | FaultSpec | None = None, *,
                 sleep: Callable[[float], None] = time.sleep,
                 authorize: Callable[[dict[str, Any]], None] | None = None):
        self.app = app
        #: Checks a POST or DELETE of the control route; raises the :class:`ServiceError` to answer.
        self.authorize = authorize
        self._lock = threading.Lock()
        self._sleep = sleep
        self.configure(spec)

    # -- configuration and counters --------------------------------------------------------------------------------
    def configure(self, spec: str | FaultSpec | None) -> FaultSpec:
        parsed = spec if isinstance(spec, FaultSpec) else FaultSpec.parse(spec)
        with self._lock:
            self.spec = parsed
            self._random = random.Random(parsed.seed)
            self._reset_locked()
        if parsed.active:
            log.warning("AEP Local fault injection is ON: %r", parsed.text)
        return parsed

    def reset(self) -> None:
        with self._lock:
            self._reset_locked()

    def _reset_locked(self) -> None:
        self.injected = {kind: 0 for kind in KINDS}
        self.requests = 0   # requests eligible for faults
        self.exempt = 0     # requests passed through untouched (exempt path or bypass header)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            injected = dict(self.injected)
            return {"enabled": self.spec.active, **self.spec.describe(), "requests": self.requests,
                    "exemptRequests": self.exempt, "injected": injected, "total": sum(injected.values())}

    def _decide(self) -> tuple[str | None, float, bool]:
        """One request's fate: (exclusive fault or None, added latency, slow body)."""
        spec = self.spec
        with self._lock:
            self.requests += 1
            rnd = self._random
            u = rnd.random()
            chosen = None
            acc = 0.0
            for kind in EXCLUSIVE:
                acc += spec.rates.get(kind, 0.0)
                if u < acc:
                    chosen = kind
                    break
            delay = spec.latency[1] if rnd.random() < spec.latency[0] else 0.0
            slow = rnd.random() < spec.slow_body
            if chosen:
                self.injected[chosen] += 1
            if delay:
                self.injected["latency"] += 1
            if slow and chosen is None:  # only a real answer trickles
                self.injected["slow_body"] += 1
            else:
                slow = False
        return chosen, delay, slow

    # -- WSGI ------------------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path.rstrip("/") == CONTROL_PATH:
            return self._control(environ, start_response)
        spec = self.spec
        if (not spec.active or path.startswith(spec.exempt)
                or (environ.get(BYPASS_HEADER) or "").strip().lower() in ("off", "0", "false", "no")):
            with self._lock:
                self.exempt += 1
            return self.app(environ, start_response)

        fault, delay, slow = self._decide()
        if delay:
            self._sleep(delay)
        if fault in ("429", "500", "502", "503"):
            _drain(environ)
            return self._status(fault, start_response)
        if fault == "drop_before":
            _drain(environ)
            _drop(environ)
        if fault in ("drop_after", "504"):
            captured: list[Any] = []

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
                captured[:] = [status, headers]
                return lambda data: None

            body = self.app(environ, capture)
            try:
                for _ in body:  # the whole answer is computed (and any state committed) ...
                    pass
            finally:
                close = getattr(body, "close", None)
                if callable(close):
                    close()
            if fault == "504":  # ... then the gateway gives up on it
                return self._status(fault, start_response)
            _drop(environ)  # ... then nobody hears it
        if slow:
            return self._trickle(self.app(environ, start_response))
        return self.app(environ, start_response)

    def _status(self, fault: str, start_response: Callable[..., Any]) -> list[bytes]:
        data = json.dumps(_BODIES[fault], separators=(",", ":")).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                   ("x-aep-local-fault", fault)]
        if fault in ("429", "503"):
            headers.append(("Retry-After", self.spec.retry_after))
        start_response(f"{fault} {_REASONS[fault]}", headers)
        return [data]

    def _trickle(self, body: Iterable[bytes]) -> Iterator[bytes]:
        chunk, delay = self.spec.slow_chunk, self.spec.slow_delay
        budget = MAX_SLOW_TOTAL_S
        try:
            for data in body:
                for i in range(0, len(data), chunk):
                    if i and budget >= delay:
                        budget -= delay
                        self._sleep(delay)
                    yield data[i:i + chunk]
                if budget >= delay:
                    budget -= delay
                    self._sleep(delay)
        finally:
            close = getattr(body, "close", None)
            if callable(close):
                close()

    # -- control plane ---------------------------------------------------------------------------------------------
    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "GET":
            return _answer(start_response, 200, self.stats())
        if method not in ("POST", "DELETE"):
            return _answer(start_response, 405, {
                "type": "/placeholder/type/uri", "title": "MethodNotAllowed", "status": 405,
                "detail": f"The method {method} is not allowed for {CONTROL_PATH}; use DELETE, GET, POST."},
                [("Allow", "DELETE, GET, POST")])
        raw = _drain(environ)
        try:
            if self.authorize is not None:
                self.authorize(environ)
        except ServiceError as exc:
            return _answer(start_response, exc.status, exc.body, list(exc.headers.items()))
        if method == "DELETE":
            self.reset()
            return _answer(start_response, 200, self.stats())
        try:
            payload = json.loads(raw or b"{}", parse_constant=_no_constant)
            if not isinstance(payload, dict):
                raise ValueError("send a JSON object")
            if "spec" in payload:
                if payload["spec"] is not None and not isinstance(payload["spec"], str):
                    raise ValueError('"spec" must be a string')
                self.configure(payload["spec"])
            if payload.get("reset"):
                self.reset()
        except (ValueError, UnicodeDecodeError) as exc:
            return _answer(start_response, 400, {
                "type": "/placeholder/type/uri", "title": "BadRequestError", "status": 400,
                "detail": f'Send {{"spec": "seed=7,503=0.05,..."}} and/or {{"reset": true}}: {exc}'})
        return _answer(start_response, 200, self.stats())


def _answer(start_response: Callable[..., Any], status: int, body: Any,
            headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    """A JSON answer of the control route."""
    data = json.dumps(body, separators=(",", ":")).encode()
    start_response(f"{status} {HTTPStatus(status).phrase}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *(headers or [])])
    return [data]


def _drain(environ: dict[str, Any], keep: int = 1 << 20) -> bytes:
    """Read the request body (so that closing the socket does not reset it under a client still sending); return
    it when it is at most ``keep`` bytes (the control plane's JSON), else nothing."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None or length <= 0:
        return b""
    kept: list[bytes] = []
    size = 0
    while size < length:
        chunk = stream.read(min(1 << 16, length - size))
        if not chunk:
            break
        size += len(chunk)
        if size <= keep:
            kept.append(chunk)
    return b"".join(kept) if size <= keep else b""


def _drop(environ: dict[str, Any]) -> None:
    """Close the client's connection without a word, then tell werkzeug the connection is gone."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise _Dropped("AEP Local fault injection dropped the connection")


def from_env(explicit: str | None = None) -> str | None:
    """The spec to use: ``explicit`` when given, else ``$AEP_LOCAL_FAULTS``."""
    return explicit if explicit is not None else os.environ.get(ENV) or None


__all__ = ["FaultInjector", "FaultSpec", "FaultSpecError", "ENV", "KINDS", "from_env"]
