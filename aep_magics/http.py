"""The one road to the platform: a session per profile with AEP headers, safe retries, typed errors and paging.

Retries live in the transport (urllib3 ``Retry`` on an ``HTTPAdapter``): 429/502/503/504 and read errors are retried
for idempotent methods only, honouring ``Retry-After``; POST/PATCH are retried only when the connection could not be
opened, i.e. when the request provably never left. The only loop here is the single token refresh after a 401.

The timeout bounds a whole call: ``timeout=(connect, read)`` limits each attempt (opening the connection, waiting
for an answer), and every attempt, retry and pause of one call together end within ``read`` seconds (the call's
deadline). A retry that would start, or a ``Retry-After`` that would end, past the deadline is not made: the last
answer (a 429 or 5xx) or the transport error comes back instead.
"""

from __future__ import annotations

import contextvars
import json as jsonlib
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl, quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError, ReadTimeoutError, ResponseError
from urllib3.util.retry import Retry
from urllib3.util.timeout import Timeout

from .auth import EXPIRED_HINT, TokenProvider
from .config import Profile
from .errors import MASK, AEPError, AuthError, InputError, TransportError, register_secret_field, secret_values

log = logging.getLogger("aep_magics.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
REQUEST_ID_HEADERS = ("x-request-id", "x-adobe-request-id", "request-id")
REGISTRY_LIST_ACCEPT = "application/vnd.adobe.xed-id+json"

Params = Mapping[str, Any] | Sequence[tuple[str, Any]] | None


#: The deadline (``time.monotonic()``) of the call under way in this thread, read by :class:`_Retry`.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("aep_call_deadline", default=None)
#: The shortest wait granted to an attempt that starts just before the deadline, in seconds.
MIN_ATTEMPT = 0.05


class _DeadlineTimeout(Timeout):
    """urllib3 clones the timeout for every attempt of a call: each clone waits no longer than what is left until
    the call's deadline."""

    def __init__(self, connect: float | None, read: float | None, deadline: float):
        super().__init__(connect=connect, read=read)
        self.limits, self.deadline = (connect, read), deadline

    def clone(self) -> Timeout:
        left = max(MIN_ATTEMPT, self.deadline - time.monotonic())
        connect, read = (left if limit is None else min(limit, left) for limit in self.limits)
        return Timeout(connect=connect, read=read)


class _Retry(Retry):
    """urllib3 ``Retry`` that waits through an injectable ``sleep``, reads fractional ``Retry-After`` values and
    makes no retry that the call's deadline (:data:`_DEADLINE`) leaves no time for."""

    sleep_fn: Callable[[float], None] = staticmethod(time.sleep)
    longest_wait = 120.0  # seconds; a longer Retry-After is cut to this

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.sleep_fn = self.sleep_fn
        return retry

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            seconds = float(retry_after)
        except ValueError:  # an HTTP date
            seconds = super().parse_retry_after(retry_after)
        return max(0.0, min(seconds, self.longest_wait))

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> Self:
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        deadline = _DEADLINE.get()
        if deadline is not None and time.monotonic() + retry._wait(response) >= deadline:
            raise MaxRetryError(_pool, url, error or ResponseError("the call's deadline leaves no time to retry"))  # type: ignore[arg-type]
        return retry

    def _wait(self, response: Any) -> float:
        """The pause before the next attempt: ``Retry-After`` when the answer has one, else the backoff."""
        if self.respect_retry_after_header and response is not None:
            try:
                after = self.get_retry_after(response)
            except InvalidHeader:
                after = None
            if after is not None:
                return after
        return self.get_backoff_time()

    def sleep(self, response: Any = None) -> None:
        delay = self._wait(response)  # an unparseable Retry-After falls back to the backoff
        deadline = _DEADLINE.get()
        if deadline is not None:
            delay = max(0.0, min(delay, deadline - time.monotonic()))
        self.sleep_fn(delay)


@dataclass(frozen=True)
class Response:
    """A finished 2xx call."""

    status: int
    headers: Mapping[str, str] = field(repr=False)
    content: bytes = field(repr=False)
    method: str
    url: str
    request_id: str | None
    elapsed: float  # seconds, retries included

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The parsed body; None for 204 or an empty body."""
        if self.status == 204 or not self.content.strip():
            return None
        return jsonlib.loads(self.content)


@dataclass(frozen=True)
class PreparedCall:
    """A call ready to send, without its token: show it (:meth:`curl`, :meth:`as_dict`) or send it."""

    method: str
    url: str
    path: str
    headers: Mapping[str, str]  # every header except Authorization
    json: Any = field(default=None, repr=False)  # may hold source credentials (accessToken...): not in the repr
    data: bytes | str | None = field(default=None, repr=False)

    _PLACEHOLDERS: ClassVar[dict[str, str]] = {
        "x-api-key": "{API_KEY}",
        "x-gw-ims-org-id": "{ORG_ID}",
        "x-sandbox-name": "{SANDBOX_NAME}",
    }

    def curl(self, resolve: bool = False) -> str:
        """A multi-line cURL command in Adobe's documentation style.

        Placeholders ``{ACCESS_TOKEN}``, ``{API_KEY}``, ``{ORG_ID}``, ``{SANDBOX_NAME}`` by default; with
        ``resolve=True`` the non-secret values are filled in and the token is read from ``$ACCESS_TOKEN`` so the
        command runs under bash as is.
        """
        token = '"Authorization: Bearer $ACCESS_TOKEN"' if resolve else _q("Authorization: Bearer {ACCESS_TOKEN}")
        parts = [f"curl -X {self.method} {_q(self.url)}", f"-H {token}"]
        for name, value in self.headers.items():
            shown = value if resolve else self._PLACEHOLDERS.get(name.lower(), value)
            parts.append(f"-H {_q(f'{name}: {shown}')}")
        if self.json is not None:
            parts.append(f"-d {_q(jsonlib.dumps(self.json, indent=4, ensure_ascii=False))}")
        elif self.data is not None:
            text = _as_text(self.data)
            parts.append(f"--data-binary {_q(text)}" if text is not None else "--data-binary '@{FILE}'")
        return " \\\n  ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """Method, URL, headers (token masked) and body: what a dry run shows."""
        if self.json is not None:
            body: Any = self.json
        elif self.data is not None:
            text = _as_text(self.data)
            body = text if text is not None else f"<{len(self.data)} bytes>"
        else:
            body = None
        headers = {"Authorization": f"Bearer {MASK}", **self.headers}
        return {"method": self.method, "url": self.url, "headers": headers, "body": body}


class AEPSession:
    """All calls for one :class:`Profile`: one ``requests.Session``, retry policy set once, typed errors."""

    def __init__(
        self,
        profile: Profile,
        *,
        timeout: float | tuple[float, float] = (5, 60),
        retries: int = 5,
        backoff: float = 0.5,
        token_provider: TokenProvider | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.profile = profile
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        retry = _Retry(
            total=retries,
            connect=retries,  # the connection never opened: safe for every method
            read=retries,  # only for allowed_methods (urllib3 checks)
            status=retries,  # only for allowed_methods
            other=0,  # TLS and proxy failures do not heal by retrying
            allowed_methods=IDEMPOTENT_METHODS,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff,
            backoff_jitter=backoff,
            backoff_max=30,
            respect_retry_after_header=True,
            raise_on_status=False,  # the last 429/5xx comes back and becomes a typed error
            raise_on_redirect=False,
        )
        retry.sleep_fn = sleep
        self.http = requests.Session()
        self.http.verify = True
        self.http.headers["User-Agent"] = f"aep-magics {requests.utils.default_user_agent()}"
        adapter = HTTPAdapter(max_retries=retry)
        self.http.mount("https://", adapter)
        self.http.mount("http://", adapter)
        self.tokens = token_provider or TokenProvider(profile, self.http)
        self._sleep = sleep

    def with_sandbox(self, name: str) -> AEPSession:
        """A session on another sandbox of the same org, sharing this session's token."""
        return AEPSession(
            self.profile.with_sandbox(name),
            timeout=self.timeout,
            retries=self.retries,
            backoff=self.backoff,
            token_provider=self.tokens,
            sleep=self._sleep,
        )

    # -- one call --------------------------------------------------------------------------------------------

    def prepare(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        accept: str | None = None,
    ) -> PreparedCall:
        """Build the call (no network, no token)."""
        if json is not None and data is not None:
            raise InputError("give either json= or data=, not both")
        if json is not None:  # refused here, not later as a transport failure ("cannot reach …")
            try:
                jsonlib.dumps(json, allow_nan=False)
            except (TypeError, ValueError) as exc:
                why = f"{exc} (NaN or Infinity): use a number or null" if "float" in str(exc) else str(exc)
                raise InputError(f"the request body cannot be sent as JSON: {why}") from None
        method = method.upper()
        path = self._path(path)
        prepared = requests.PreparedRequest()
        prepared.prepare_url(self.profile.base_url + path, params)
        p = self.profile
        all_headers = {"x-api-key": p.client_id, "x-gw-ims-org-id": p.org_id, "x-sandbox-name": p.sandbox}
        if accept:
            all_headers["Accept"] = accept
        if json is not None:
            all_headers["Content-Type"] = "application/json"
        for name, value in (headers or {}).items():
            if name.lower() == "authorization":
                raise InputError("the Authorization header is set by the session; do not pass it")
            all_headers = {k: v for k, v in all_headers.items() if k.lower() != name.lower()}
            all_headers[name] = value
        return PreparedCall(method, str(prepared.url), path, all_headers, json, data)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        accept: str | None = None,
    ) -> Response:
        """Send one call; a 2xx comes back as :class:`Response`, anything else raises an ``AEPError`` subclass.

        ``path`` is relative to ``profile.base_url`` (e.g. ``/data/foundation/flowservice/flows``).
        """
        call = self.prepare(method, path, params=params, json=json, data=data, headers=headers, accept=accept)
        return self.send(call)

    def send(self, call: PreparedCall) -> Response:
        """Send a :class:`PreparedCall`; after a 401, refresh the token and try once more."""
        started = time.monotonic()
        resp = self._send(call)
        if resp.status_code == 401:
            self.tokens.invalidate()
            if not self.tokens.can_refresh:
                err = self._error(call, resp)
                raise AuthError(
                    401,
                    err.code,
                    err.title,
                    err.detail,
                    call.method,
                    call.path,
                    err.request_id,
                    err.body,
                    message=f"{err}: {EXPIRED_HINT}",
                )
            log.debug("%s %s -> 401: new token, one more try", call.method, call.path)
            resp = self._send(call)
        elapsed = time.monotonic() - started
        request_id = _request_id(resp.headers)
        log.debug("%s %s -> %d in %.3fs, request id %s", call.method, call.path, resp.status_code, elapsed, request_id)
        if not 200 <= resp.status_code < 300:
            raise self._error(call, resp)
        if "/connectionSpecs" in call.path:
            _learn_password_fields(resp.content)
        return Response(resp.status_code, resp.headers, resp.content, call.method, call.url, request_id, elapsed)

    def _send(self, call: PreparedCall) -> requests.Response:
        """One try of a call (with the transport's retries), ended by its deadline: ``read`` seconds from now."""
        connect, read = self.timeout if isinstance(self.timeout, tuple) else (self.timeout, self.timeout)
        ends = time.monotonic() + read
        deadline = _DEADLINE.set(ends)
        try:
            headers = {**call.headers, "Authorization": f"Bearer {self.tokens.token()}"}
            return self.http.request(call.method, call.url, json=call.json, data=call.data, headers=headers,
                                     timeout=_DeadlineTimeout(connect, read, ends))  # type: ignore[arg-type]
        except requests.RequestException as exc:
            host = urlsplit(call.url).netloc
            where = f"{call.method} {call.path}"
            if isinstance(exc, requests.ConnectTimeout):
                text = f"cannot reach {host}: connection timed out"
            elif isinstance(exc, requests.Timeout) or _timed_out(exc):
                text = f"no answer from {host} in time"
                if call.method not in IDEMPOTENT_METHODS:
                    text += "; the call may have been applied"
                where += f"; timeout {read:g} s, retries included"
            else:
                text = f"cannot reach {host}: {_reason(exc)}"
            message = f"{text} ({where})"
            raise TransportError(method=call.method, path=call.path, message=message) from None
        finally:
            _DEADLINE.reset(deadline)

    def _error(self, call: PreparedCall, resp: requests.Response) -> AEPError:
        """The typed error of a non-2xx answer; a value the request sent under a secret field is masked wherever
        the answer quotes it (``accessToken: 98765432101234 is not of type 'string'``)."""
        return AEPError.from_response(
            resp.status_code,
            resp.content,
            method=call.method,
            path=call.path,
            request_id=_request_id(resp.headers),
            reason=resp.reason,
            hide=secret_values(call.json),
        )

    def _path(self, path: str) -> str:
        """``path`` relative to the base URL; absolute URLs are accepted only under it (the token goes nowhere else)."""
        base = self.profile.base_url
        if path.startswith(("http://", "https://")):
            if not path.startswith(base + "/"):
                raise InputError(f"refusing to send credentials to {path!r}: it is not under {base}")
            path = path[len(base) :]
        return path if path.startswith("/") else "/" + path

    # -- paging ----------------------------------------------------------------------------------------------

    def iter_flow(self, path: str, params: Params = None) -> Iterator[dict[str, Any]]:
        """Every item of a Flow Service list, following ``_links.next.href`` (relative to the service root)."""
        prefix = _service_prefix(path)
        base_params = _pairs(params)
        page_path, page_params = path, base_params
        seen: set[str] = set()
        while True:
            body = self.request("GET", page_path, params=page_params).json() or {}
            if isinstance(body, dict) and "items" not in body and "id" in body:
                # A list answered with one bare resource: the eCommerce tutorial prints GET /flowSpecs?property=...
                # so (https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce),
                # where flow-service.yaml has {"items": [...]} (https://developer.adobe.com/experience-platform-apis/references/flow-service/).
                yield body
                return
            items = body.get("items", []) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise unexpected_answer("GET", path, '{"items": [...]}',
                                        shape(items if isinstance(body, dict) else body))
            yield from items
            href = ((body.get("_links") or {}).get("next") or {}).get("href")
            if not href:
                return
            if href in seen:
                raise AEPError(
                    method="GET", path=path, message=f"the next-page link repeats itself ({href}) for GET {path}"
                )
            seen.add(href)
            page_path, page_params = _next_page(prefix, href, base_params)

    def iter_catalog(self, path: str, params: Params = None, limit: int = 100) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every ``(id, object)`` of a Catalog list, by ``limit``/``start``, until a page comes back short."""
        pairs = _pairs(params)
        start = int(next((v for n, v in pairs if n == "start"), 0))
        query = [(n, v) for n, v in pairs if n not in ("start", "limit")]
        while True:
            page = self.request("GET", path, params=[*query, ("limit", limit), ("start", start)]).json() or {}
            if not isinstance(page, dict) or not all(isinstance(v, dict) for v in page.values()):
                raise unexpected_answer("GET", path, "Catalog's {id: object}", shape(page))
            yield from page.items()
            if len(page) < limit:
                return
            start += len(page)

    def iter_registry(
        self, path: str, params: Params = None, accept: str = REGISTRY_LIST_ACCEPT
    ) -> Iterator[dict[str, Any]]:
        """Every entry of a Schema Registry list, passing ``_page.next`` back as ``start`` (with ``orderby``)."""
        query = _pairs(params)
        if not any(name == "orderby" for name, _ in query):
            query.append(("orderby", "title"))
        start = None
        while True:
            body = self.request("GET", path, params=query, accept=accept).json() or {}
            results = body.get("results", []) if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise unexpected_answer("GET", path, '{"results": [...]}',
                                        shape(results if isinstance(body, dict) else body))
            yield from results
            following = (body.get("_page") or {}).get("next")
            if not following:
                return
            if following == start:
                raise AEPError(
                    method="GET", path=path, message=f"_page.next repeats itself ({following}) for GET {path}"
                )
            start = following
            query = [(n, v) for n, v in query if n != "start"] + [("start", start)]

    # -- housekeeping ----------------------------------------------------------------------------------------

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        p = self.profile
        return f"<AEPSession profile={p.name!r} {p.base_url} org={p.org_id} sandbox={p.sandbox}>"


def unexpected_answer(method: str, path: str, expected: str, got: str) -> AEPError:
    """The error for an answer whose shape the kit does not read: one line saying what was expected and what came
    (``got`` is usually :func:`shape` of it)."""
    return AEPError(method=method, path=path, message=f"unexpected answer to {method} {path}: expected {expected}, got {got}")


def shape(value: Any) -> str:
    """A few words saying what a JSON value is, for "expected X, got Y" messages: ``an object with keys a, b``."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, dict):
        keys = list(value)
        if not keys:
            return "an empty object"
        shown = ", ".join(str(k) for k in keys[:5]) + (", …" if len(keys) > 5 else "")
        return f"an object with keys {shown}"
    if isinstance(value, list):
        if not value:
            return "an empty list"
        of = {"dict": "object", "str": "string", "int": "number", "float": "number", "list": "array"}
        kinds = sorted({of.get(type(v).__name__, type(v).__name__) for v in value})
        plural = "" if len(value) == 1 else "s"
        return f"a list of {len(value)} " + " and ".join(kind + plural for kind in kinds)
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    return f"a {type(value).__name__} ({value!r})"


_TEMPLATE = re.compile(r"\{([?&]?)([A-Za-z0-9_.,%]+)\}")


def expand_link(href: str, values: Mapping[str, Any]) -> str:
    """A ``templated: true`` link expanded per RFC 6570 (simple ``{var}`` and form-style ``{?a,b}``/``{&a,b}``).

    A variable ``values`` has no value for is dropped: a ``name={var}`` query parameter goes altogether (RFC 6570
    expands an undefined variable to nothing, and an empty ``limit=`` would be a different request).
    """
    split = re.search(r"\?(?![^{]*\})", href)  # the first "?" outside a {...} expression
    base, sep, query = (href[: split.start()], "?", href[split.end():]) if split else (href, "", "")

    def simple(match: re.Match[str]) -> str:
        operator, names = match.group(1), match.group(2).split(",")
        pairs = [(n, values[n]) for n in names if values.get(n) is not None]
        if operator:  # {?a,b} / {&a,b}: form-style query expansion
            if not pairs:
                return ""
            text = "&".join(f"{quote(n)}={quote(str(v), safe='')}" for n, v in pairs)
            return ("?" if operator == "?" else "&") + text
        return ",".join(quote(str(v), safe="") for _, v in pairs)

    kept = []
    for part in re.split(r"&(?![^{]*\})", query) if sep else []:
        if not part:
            continue
        found = _TEMPLATE.search(part)
        if found and not found.group(1):
            names = found.group(2).split(",")
            if not all(values.get(n) is not None for n in names):
                continue
        kept.append(_TEMPLATE.sub(simple, part))
    head = _TEMPLATE.sub(simple, base)
    if "?" in head:  # a {?a,b} in the path part became the start of the query
        head, _, first = head.partition("?")
        kept.insert(0, first)
    return head + ("?" + "&".join(kept) if kept else "")


def _q(text: str) -> str:
    """Single-quote for POSIX shells."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _as_text(data: bytes | str) -> str | None:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _learn_password_fields(content: bytes) -> None:
    """Remember the auth params a connection spec marks ``"format": "password"`` (``authSpec[].spec.properties``),
    so that their values are masked like ``accessToken`` wherever they turn up."""
    try:
        body = jsonlib.loads(content)
    except ValueError:
        return
    specs = body.get("items", [body]) if isinstance(body, dict) else body
    for spec in specs if isinstance(specs, list) else []:
        for auth in (spec.get("authSpec") or []) if isinstance(spec, dict) else []:
            props = ((auth.get("spec") or {}).get("properties") or {}) if isinstance(auth, dict) else {}
            for name, prop in props.items() if isinstance(props, dict) else ():
                if isinstance(prop, dict) and prop.get("format") == "password":
                    register_secret_field(name)


def _request_id(headers: Mapping[str, str]) -> str | None:
    return next((headers[h] for h in REQUEST_ID_HEADERS if headers.get(h)), None)


def _timed_out(exc: Exception) -> bool:
    """True when the retries of a call ended on a read timeout (requests reports that as a connection error)."""
    inner: Any = exc.args[0] if exc.args else None
    return isinstance(inner, MaxRetryError) and isinstance(inner.reason, ReadTimeoutError)


def _reason(exc: Exception) -> str:
    """The innermost useful words of a requests/urllib3 connection error (no object addresses)."""
    inner: Any = exc.args[0] if exc.args else exc
    if isinstance(inner, MaxRetryError) and inner.reason is not None:
        inner = inner.reason
    text = str(inner)
    if " object at 0x" in text:
        text = text.split(">: ", 1)[-1]
    return " ".join(text.split()) or type(exc).__name__


def _pairs(params: Params) -> list[tuple[str, Any]]:
    """Query params as ``(name, value)`` pairs; list values become repeated names (``property=a&property=b``)."""
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    pairs: list[tuple[str, Any]] = []
    for name, value in items:
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            pairs.extend((name, v) for v in value)
        else:
            pairs.append((name, value))
    return pairs


def _service_prefix(path: str) -> str:
    """``/data/foundation/flowservice/flows`` -> ``/data/foundation/flowservice``."""
    segments = urlsplit(path).path.strip("/").split("/")
    depth = 3 if segments[:2] == ["data", "foundation"] else 1
    return "/" + "/".join(segments[:depth])


def _next_page(prefix: str, href: str, base_params: list[tuple[str, Any]]) -> tuple[str, list[tuple[str, Any]]]:
    """Resolve a Flow Service next link; the original filters ride along unless the link carries them."""
    parts = urlsplit(href)
    path = href.split("?", 1)[0] if parts.scheme else parts.path
    if not parts.scheme and not path.startswith(prefix + "/"):
        path = prefix + (path if path.startswith("/") else "/" + path)
    link_params = parse_qsl(parts.query, keep_blank_values=True)
    in_link = {name for name, _ in link_params}
    return path, link_params + [(n, v) for n, v in base_params if n not in in_link and n != "continuationToken"]
