"""One exception hierarchy for the kit, and the one place a platform error body becomes a sentence.

Every exception renders as a single line in IPython (``_render_traceback_``) and never carries a secret: messages are
scrubbed of every value ever wrapped in :class:`aep_magics.auth.Secret`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "********"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember ``value`` so that :func:`scrub` masks it wherever it turns up (called by ``Secret``)."""
    if len(value) >= 4:  # masking "a" or "" everywhere would garble messages and protect nothing
        with _secrets_lock:
            _secrets.add(value)


def scrub(text: str, also: Iterable[str] = ()) -> str:
    """Replace every known secret value in ``text``, and every value of ``also``, with ``********``."""
    with _secrets_lock:
        known = sorted({*_secrets, *also}, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    return text


# -- secret fields of a body --------------------------------------------------------------------------------------

#: Keys whose values are secrets wherever they appear in a body (``accessToken``, ``clientSecret``, ``password`` …).
SECRET_KEY = re.compile(
    r"(?i)(secret|password|passwd|token|private_?key|api_?key|credential|connection_?string|sas_?key|signature)"
)
NOT_SECRET_KEYS = frozenset({"continuationToken", "tokenType", "token_type"})
_secret_fields: set[str] = set()


def register_secret_field(name: str) -> None:
    """Treat the key ``name`` as secret from now on: a connection spec marks it ``"format": "password"``."""
    with _secrets_lock:
        _secret_fields.add(name)


def is_secret_key(key: Any) -> bool:
    """True for a key whose value is a secret (a secret-looking name, or a ``format: password`` field seen)."""
    if not isinstance(key, str) or key in NOT_SECRET_KEYS:
        return False
    return bool(SECRET_KEY.search(key)) or key in _secret_fields


def is_secret_patch(op: Any) -> bool:
    """True for a JSON Patch operation (RFC 6902) whose ``value`` goes to a secret field
    (``{"op": "replace", "path": "/auth/params/accessToken", "value": ...}``)."""
    if not isinstance(op, dict) or not isinstance(op.get("op"), str) or not isinstance(op.get("path"), str):
        return False
    return any(is_secret_key(part.replace("~1", "/").replace("~0", "~")) for part in op["path"].split("/"))


#: Values shorter than this are not masked: masking ``"1"`` or ``"abc"`` in every message would garble it.
MIN_SECRET = 4


def secret_values(body: Any) -> set[str]:
    """Every value under a secret field of ``body``, as the text a server may quote it back in.

    Whatever the value's type: a string, a number (``98765432101234``), every item of a list or value of an object
    under a secret key, and the ``value`` of a JSON Patch operation on a secret path. Each comes in the forms it
    takes inside a message: as is, JSON-escaped and Python-escaped (a ``repr`` of a list quotes its items).
    """
    found: set[str] = set()

    def leaves(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                leaves(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                leaves(item)
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, (int, float)):
            forms = {str(value), repr(value), json.dumps(value)}
            if isinstance(value, float) and value.is_integer() and abs(value) < 1e19:
                forms.add(str(int(value)))
            found.update(forms)
        elif isinstance(value, str):
            found.update({value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
                          repr(value)[1:-1]})

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if is_secret_patch(value) and "value" in value:
                leaves(value["value"])
            for key, item in value.items():
                if is_secret_key(key):
                    leaves(item)
                else:
                    walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(body)
    return {text for text in found if len(text) >= MIN_SECRET}


def scrub_data(data: Any, also: Iterable[str]) -> Any:
    """A copy of JSON ``data`` with :func:`scrub` applied to every string (keys included); a number equal to one
    of ``also`` becomes ``********``."""
    also = set(also)
    if isinstance(data, dict):
        return {scrub(str(k), also): scrub_data(v, also) for k, v in data.items()}
    if isinstance(data, list):
        return [scrub_data(v, also) for v in data]
    if isinstance(data, str):
        return scrub(data, also)
    if isinstance(data, (int, float)) and not isinstance(data, bool) and str(data) in also:
        return MASK
    return data


MAX_MESSAGE = 2000  # characters: a 5 MB value quoted back must not make a 5 MB line
_LONG_WORD = re.compile(r"\S{160,}")


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` cut to about ``limit`` characters: overlong words are elided in the middle first."""
    if len(text) <= limit:
        return text
    text = _LONG_WORD.sub(lambda m: f"{m.group(0)[:60]}…[{len(m.group(0)):,} characters]…{m.group(0)[-20:]}", text)
    if len(text) > limit:
        text = f"{text[: limit * 2 // 3]} … {text[-(limit // 3):]}"
    return text


class AEPKitError(Exception):
    """Base of every error the kit raises on purpose."""

    def __init__(self, message: str = ""):
        super().__init__(shorten(scrub(" ".join(str(message).split()))))

    def _render_traceback_(self) -> list[str]:
        """IPython shows this one line instead of a traceback; the cell still gets an error output."""
        return [f"{type(self).__name__}: {self}"]


class Interrupted(AEPKitError):
    """Ctrl-C stopped a magic: one line saying what stopped and what may already have happened on the platform
    (the magics turn ``KeyboardInterrupt`` into this; the plain-Python operations let it through)."""


class ConfigError(AEPKitError):
    """A profile setting is missing or a config file cannot be used."""


class InputError(AEPKitError):
    """The caller passed something the kit can tell is wrong before sending anything."""


class AEPError(AEPKitError):
    """The platform (or the network on the way to it) refused a call.

    ``str(err)`` is composed from the fields unless ``message`` is given; ``AEPError("text")`` also works (a lone
    string is taken as the message, which keeps exceptions picklable).
    """

    def __init__(
        self,
        status: int | str | None = None,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        method: str | None = None,
        path: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        *,
        message: str | None = None,
    ):
        if isinstance(status, str) and message is None:
            status, message = None, status
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.method = method
        self.path = path
        self.request_id = request_id
        self.body = body
        super().__init__(message if message is not None else self._compose())

    def _compose(self) -> str:
        head = " ".join(str(part) for part in (self.status, self.code) if part)
        title, detail = self.title or "", self.detail or ""
        if title and detail and title != detail:
            text = f"{title}: {detail}"
        else:
            text = detail or title
        # The request id stays on the exception (``err.request_id``) for support tickets; the one-line message
        # leaves it out so that the same mistake reads the same in every run of a notebook.
        where = " ".join(part for part in (self.method, self.path) if part)
        return " ".join(part for part in (head, text, f"({where})" if where else "") if part)

    @classmethod
    def from_response(
        cls,
        status: int,
        body: bytes | str | dict[str, Any] | list[Any] | None,
        *,
        method: str | None = None,
        path: str | None = None,
        request_id: str | None = None,
        reason: str | None = None,
        hide: Iterable[str] = (),
    ) -> AEPError:
        """Build the typed error for an HTTP ``status`` and its ``body`` (raw or parsed), whatever the service.

        Called on ``AEPError`` the class is chosen from the status; called on a subclass, that subclass is used.
        ``hide``: values masked wherever the answer quotes them (the request body's :func:`secret_values`).
        """
        hide = set(hide)
        parsed = _parse(body)
        if parsed is not None and hide:
            parsed = scrub_data(parsed, hide)
        fields = _fields(parsed) if parsed is not None else {}
        if not fields.get("detail") and not fields.get("title"):
            text = scrub(_text(body), hide)
            line = _first_line(text) if text and parsed is None else ""
            fields["detail"] = line or _REASONS.get(status) or (scrub(reason, hide) if reason else reason)
        request_id = request_id or fields.pop("request_id", None)
        fields.pop("request_id", None)
        klass = cls if cls is not AEPError else error_class(status)
        return klass(status=status, method=method, path=path, request_id=request_id, body=parsed, **fields)


class AuthError(AEPError):
    """401/403, or IMS refused to issue a token: credentials missing, wrong, expired or not entitled."""


class BadRequestError(AEPError):
    """400/422: the platform rejected the request as malformed or invalid."""


class NotFoundError(AEPError):
    """404: no such resource (in this org and sandbox)."""


class ConflictError(AEPError):
    """409: the resource already exists or is in a conflicting state."""


class PreconditionFailedError(AEPError):
    """412: the ``If-Match`` etag no longer matches; fetch the resource again."""


class RateLimitedError(AEPError):
    """429 after every retry."""


class ServerError(AEPError):
    """5xx after every retry (for idempotent calls) or at once (for POST/PATCH)."""


class TransportError(AEPError):
    """No HTTP answer: connection refused, DNS, TLS, timeout — after the retries that were safe."""


def error_class(status: int) -> type[AEPError]:
    """The exception class for an HTTP status."""
    if status in (401, 403):
        return AuthError
    if status in (400, 422):
        return BadRequestError
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, AEPError)


_BY_STATUS: dict[int, type[AEPError]] = {
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    429: RateLimitedError,
}

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Payload Too Large",
    414: "URI Too Long",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_CODE = re.compile(r"^[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)+$")


def _text(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return scrub(body.decode("utf-8", errors="replace"))
    if isinstance(body, str):
        return scrub(body)
    return ""


def _parse(body: Any) -> Any:
    """The JSON value of ``body`` (scrubbed of secrets), or None when it is not JSON."""
    if isinstance(body, (dict, list)):
        return json.loads(scrub(json.dumps(body)))
    text = _text(body).strip()
    if not text or text[0] not in "{[":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _first_line(text: str, limit: int = 200) -> str:
    text = re.sub(r"(?is)<head\b.*?</head>", " ", text)  # an HTML error page: its title is no message
    words = (re.sub(r"<[^>]+>", " ", ln).strip() for ln in text.splitlines())  # keep the words, not the tags
    line = next((w for w in words if w and not _GENERIC_LINE.match(w)), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


_GENERIC_LINE = re.compile(r"(?i)^(?:error(?: response)?|error code:? *\d+)\.?$")  # say nothing the status does not


def _fields(body: Any) -> dict[str, Any]:
    """code / title / detail / request_id from any documented AEP error body."""
    if isinstance(body, list):  # e.g. Profile's 429: an array of error objects
        body = next((item for item in body if isinstance(item, dict)), {})
    if not isinstance(body, dict):
        return {}
    report: dict[str, Any] = body["report"] if isinstance(body.get("report"), dict) else {}
    code = body.get("error_code") or body.get("error") or body.get("code")
    type_uri = body.get("type")
    if not code and isinstance(type_uri, str) and not type_uri.startswith("/placeholder"):
        last = type_uri.rstrip("/").rsplit("/", 1)[-1]
        code = last if _CODE.match(last) else None
    detail = (
        report.get("detailed-message")
        or body.get("errorMessage")
        or body.get("detail")
        or body.get("message")
        or body.get("error_description")
        or body.get("errorDetails")
    )
    title = body.get("title")
    if isinstance(detail, (dict, list)):
        detail = json.dumps(detail)
    return {
        "code": str(code) if code not in (None, "") else None,
        "title": str(title) if title else None,
        "detail": str(detail) if detail else None,
        "request_id": report.get("request-id") or report.get("registryRequestId") or None,
    }
