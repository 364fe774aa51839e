"""Result objects: what a magic (or an ``ops`` function) hands back, and how it renders.

A :class:`Result` exposes the id directly (``src.id``), so the next cell writes ``{{src.id}}``; ``.body`` is the
response JSON, ``.request`` the call that produced it, ``.curl`` the same call as a cURL command with Adobe's
placeholders, and ``result["key"]`` / ``result.get("key")`` read the body.

Rendering never shows a secret: values under secret-looking keys (``accessToken``, ``clientSecret``, ``password`` …)
are masked, and every rendered string goes through :func:`aep_magics.errors.scrub`, which masks every value ever
wrapped in :class:`aep_magics.auth.Secret` (client secrets, access tokens).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from ..errors import MASK, is_secret_key, is_secret_patch, scrub

CSS = (
    "<style>"
    ".aep-card{font-family:var(--jp-content-font-family,sans-serif);font-size:13px;line-height:1.45;"
    "border:1px solid var(--jp-border-color2,#ddd);border-radius:6px;padding:6px 10px;margin:2px 0;max-width:980px}"
    ".aep-card .aep-kind{font-weight:600;margin-right:6px}"
    ".aep-card code{font-size:12px}"
    ".aep-card .aep-badge{display:inline-block;padding:0 6px;border-radius:8px;font-size:11px;margin-left:2px;"
    "background:#e8f1fb;color:#1b4f8a}"
    ".aep-card .aep-ok{background:#e6f4ea;color:#1e6b34}.aep-card .aep-warn{background:#fdf3e1;color:#8a5a00}"
    ".aep-card .aep-bad{background:#fde8e8;color:#a01c1c}"
    ".aep-card button.aep-copy{border:none;background:none;cursor:pointer;padding:0 3px;font-size:12px}"
    ".aep-card details{margin:2px 0 2px 10px}.aep-card summary{cursor:pointer}"
    ".aep-card pre{margin:2px 0;white-space:pre-wrap;word-break:break-all;font-size:12px}"
    ".aep-tree{font-family:var(--jp-code-font-family,monospace);font-size:12px}"
    ".aep-tree .aep-k{color:#7a3e9d}.aep-tree .aep-s{color:#1a7f37}.aep-tree .aep-n{color:#0550ae}"
    ".aep-tree .aep-dim{color:#888}"
    "</style>"
)


# -- helpers shared by every view -------------------------------------------------------------------------------


def mask_secrets(data: Any) -> Any:
    """A copy of ``data`` with the values of secret fields replaced by ``********``: under a secret-looking key (or
    a ``format: password`` field of a connection spec seen), whatever the value's type (a string, a number, a list,
    an object), and the ``value`` of a JSON Patch operation on such a path. Empty values and booleans stay."""
    if isinstance(data, dict):
        out = {}
        patch = is_secret_patch(data)
        for key, value in data.items():
            if (is_secret_key(key) or (patch and key == "value")) and _maskable(value):
                out[key] = MASK
            else:
                out[key] = mask_secrets(value)
        return out
    if isinstance(data, list):
        return [mask_secrets(v) for v in data]
    return data


def _maskable(value: Any) -> bool:
    return (value is not None and not isinstance(value, bool) and value not in ("", [], {})
            and not _describes_a_field(value))


#: JSON Schema keywords that describe a field without holding a value of it (no ``default``, ``examples``, ``enum``).
_SCHEMA_WORDS = frozenset({"type", "description", "format", "title", "pattern", "minLength", "maxLength",
                           "deprecated", "readOnly", "writeOnly", "$comment", "contentEncoding", "contentMediaType"})
_SCHEMA_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})


def _describes_a_field(value: Any) -> bool:
    """A JSON Schema of a secret field (a connection spec's ``accessToken: {type: string, format: password}``):
    it holds no secret, and the spec is what teaches the field, so it is shown."""
    return (isinstance(value, dict) and value.get("type") in _SCHEMA_TYPES
            and all(isinstance(k, str) and k in _SCHEMA_WORDS for k in value)
            and all(isinstance(v, (str, bool, int)) for v in value.values()))


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def status_text(status: int | None) -> str:
    if status is None:
        return ""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def pretty_json(data: Any, max_lines: int | None = None) -> str:
    text = json.dumps(mask_secrets(data), indent=2, ensure_ascii=False, default=str)
    if max_lines is not None:
        lines = text.splitlines()
        if len(lines) > max_lines:
            text = "\n".join(lines[:max_lines] + [f"… {len(lines) - max_lines} more lines (see .body)"])
    return text


def copy_button(value: str) -> str:
    """An HTML button copying ``value`` to the clipboard (preceded by a space, so text views read "id copy")."""
    return (
        f' <button class="aep-copy" title="copy" data-copy="{esc(value)}" '
        "onclick=\"navigator.clipboard.writeText(this.dataset.copy)\">copy</button>"
    )


def badge(text: str, tone: str = "") -> str:
    """A status pill. It starts with a space: where styling is dropped (an untrusted notebook's sanitizer, a text
    extraction) it still reads "Runs: 10 items 200 OK", not "10 items200 OK"."""
    return f' <span class="aep-badge {tone}">{esc(text)}</span>' if text else ""


def tone_of(status: int | str | None) -> str:
    if isinstance(status, int):
        return "aep-ok" if status < 300 else "aep-bad"
    text = str(status or "").lower()
    if text in ("success", "active", "succeeded", "completed", "enabled"):
        return "aep-ok"
    if text in ("failed", "failure", "error", "aborted", "abandoned", "cancelled"):
        return "aep-bad"
    return "aep-warn"


def epoch_text(value: Any) -> str:
    """Epoch milliseconds (or seconds) as ``YYYY-MM-DD HH:MM:SS`` UTC; other values unchanged."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    if number > 1e11:
        number /= 1000
    try:
        return dt.datetime.fromtimestamp(number, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return str(value)


def json_tree_html(data: Any, *, open_depth: int = 1, max_nodes: int | None = None) -> str:
    """A collapsible tree (nested ``<details>``) of JSON ``data`` (secrets masked), at most ``max_nodes`` nodes."""
    from . import options

    budget = [max_nodes or options.max_tree_nodes]
    return f'<div class="aep-tree">{_node(None, mask_secrets(data), 0, open_depth, budget)}</div>'


def _node(key: Any, value: Any, depth: int, open_depth: int, budget: list[int]) -> str:
    label = "" if key is None else f'<span class="aep-k">{esc(key)}</span>: '
    if budget[0] <= 0:
        return ""
    budget[0] -= 1
    if isinstance(value, (dict, list)):
        pairs: Iterable[tuple[Any, Any]] = value.items() if isinstance(value, dict) else enumerate(value)
        count = len(value)
        shape = f"{{{count} key{'s' if count != 1 else ''}}}" if isinstance(value, dict) else f"[{count}]"
        if count == 0:
            return f"<div>{label}<span class=\"aep-dim\">{'{}' if isinstance(value, dict) else '[]'}</span></div>"
        children = []
        for k, v in pairs:
            if budget[0] <= 0:
                children.append('<div class="aep-dim">… more (see .body)</div>')
                break
            children.append(_node(k, v, depth + 1, open_depth, budget))
        opened = " open" if depth < open_depth else ""
        return (
            f"<details{opened}><summary>{label}<span class=\"aep-dim\">{shape}</span></summary>"
            f"{''.join(children)}</details>"
        )
    return f"<div>{label}{_leaf(value)}</div>"


def _leaf(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 500 else value[:499] + "…"
        return f'<span class="aep-s">"{esc(shown)}"</span>'
    if value is None or isinstance(value, bool):
        return f'<span class="aep-n">{json.dumps(value)}</span>'
    return f'<span class="aep-n">{esc(value)}</span>'


# -- the base of every rendered object -------------------------------------------------------------------------


class Renderable:
    """Renders as ``text/plain`` + ``text/html`` (+ an ipywidgets view when enabled); never ``application/json``.

    The ``text/html`` view carries all the information on its own (sanitizer-safe: no SVG, no script needed), so a
    notebook read without a kernel (untrusted JupyterLab, GitHub, nbviewer, an HTML export) shows everything; the
    widget view only adds interaction (tabs) on top. ``show_curl`` (set by ``--curl``) adds the calls as cURL
    commands: one line per call in ``text/plain``, one collapsed ``<details>`` block in HTML.
    """

    show_curl: bool = False

    def _text(self) -> str:  # pragma: no cover - every subclass overrides
        return type(self).__name__

    def _html(self) -> str:  # pragma: no cover
        return f"<pre>{esc(self._text())}</pre>"

    def _widget_parts(self) -> tuple[str, list[tuple[str, str]]] | None:
        """(header HTML, [(tab title, tab HTML)]) for an interactive view, or None for HTML only."""
        return None

    def widget(self) -> Any:
        """The interactive ipywidgets view (None when ipywidgets is missing or this object has none)."""
        parts = self._widget_parts()
        if parts is None:
            return None
        from .widgets import tabbed_view

        header, tabs = parts
        return tabbed_view(scrub(CSS + header), [(title, scrub(CSS + body)) for title, body in tabs])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from . import options
        from .widgets import widgets_available

        data: dict[str, Any] = {}
        if options.widgets and widgets_available():
            view = self.widget()
            if view is not None:
                data.update(view._repr_mimebundle_())
        data["text/plain"] = repr(self)
        data["text/html"] = scrub(CSS + self._html())
        return data

    def _curl_calls(self) -> list[Request]:
        calls = list(getattr(self, "calls", None) or [])
        request = getattr(self, "request", None)
        return calls or ([request] if request is not None else [])

    def __repr__(self) -> str:
        text = self._text()
        if self.show_curl and self._curl_calls():
            text += "\n" + curl_text(self._curl_calls())
        return scrub(text)


# -- one call, as plain data ----------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Request(Renderable):
    """One call as sent (or as it would be sent): plain data, the token never included; shown with secrets masked."""

    method: str
    url: str
    path: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)  # Authorization masked
    curl: str = ""  # Adobe's placeholders, body secrets masked
    status: int | None = None  # None when not sent
    prepared: Any = field(default=None, repr=False, compare=False)  # the http.PreparedCall: .curl(resolve=True)

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "path": self.path, "body": self.body}

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def _text(self) -> str:
        lines = [f"{self.method} {self.url}" + (f" -> {status_text(self.status)}" if self.status else "")]
        lines.extend(f"{k}: {v}" for k, v in self.headers.items())
        if self.body is not None:
            lines.append(pretty_json(self.body))
        return "\n".join(lines)

    def _html(self) -> str:
        return f'<div class="aep-card">{request_html(self)}</div>'


# -- a platform resource or answer ---------------------------------------------------------------------------


class Result(Renderable):
    """The outcome of one operation: a created, reused or fetched resource, or a plain answer.

    ``kind`` names the resource (``SourceConnection``, ``Schema`` …); ``id`` is its id (a schema's ``$id``, a
    dataset's 24-hex id); ``body`` the response JSON; ``status`` the HTTP status; ``request`` the main call and
    ``calls`` every call made (lookups included); ``reused`` is True when ``--if-exists reuse`` found it.
    """

    def __init__(
        self,
        kind: str,
        *,
        id: str | None = None,
        name: str | None = None,
        body: Any = None,
        status: int | None = None,
        request: Request | None = None,
        calls: Sequence[Request] = (),
        reused: bool = False,
        note: str | None = None,
        headers: dict[str, str] | None = None,
        sections: Sequence[tuple[str, Renderable]] = (),
    ):
        self.kind = kind
        self.id = id
        self.name = name
        self.body = body
        self.status = status
        self.calls = list(calls)
        self.request = request if request is not None else (self.calls[-1] if self.calls else None)
        self.reused = reused
        self.note = note
        self.headers = dict(headers or {})
        #: Extra views shown under the card, e.g. ``("Validation", ListResult)``.
        self.sections = list(sections)
        #: Mapping sets: the validation and preview tables when ``--validate`` / ``--preview`` ran.
        self.validation: Any = None
        self.preview: Any = None

    # -- data access ------------------------------------------------------------------------------------------

    @property
    def etag(self) -> str | None:
        body = self.body if isinstance(self.body, dict) else {}
        etag = body.get("etag") or body.get("eTag")
        if not etag:
            etag = (body.get("meta:registryMetadata") or {}).get("eTag")
        if not etag:
            etag = next((v for k, v in self.headers.items() if k.lower() == "etag"), None)
        return etag

    @property
    def curl(self) -> str:
        """The main call as a cURL command (placeholders ``{ACCESS_TOKEN}``, ``{API_KEY}``, ``{ORG_ID}``…)."""
        return self.request.curl if self.request is not None else ""

    def __getitem__(self, key: Any) -> Any:
        if self.body is None:
            raise KeyError(key)
        return self.body[key]

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except (KeyError, IndexError, TypeError):
            return default

    def __contains__(self, key: Any) -> bool:
        return isinstance(self.body, (dict, list)) and key in self.body

    def __aep_reference__(self) -> Any:
        """What ``{{result}}`` stands for in a cell body: the id."""
        return self.id if self.id is not None else self.body

    # -- rendering ---------------------------------------------------------------------------------------------

    def summary(self) -> str:
        parts = [self.kind]
        if self.id:
            parts.append(str(self.id))
        if self.name:
            parts.append(json.dumps(str(self.name), ensure_ascii=False))
        outcome = status_text(self.status)
        if self.reused:
            outcome = f"reused existing, {outcome}" if outcome else "reused existing"
        if outcome:
            parts.append(f"({outcome})")
        return " ".join(parts)

    def _text(self) -> str:
        lines = [self.summary()]
        if self.note:
            lines.append(self.note)
        if self.id is None and self.body is not None:
            from . import options

            lines.append(pretty_json(self.body, options.max_text_lines))
        for title, section in self.sections:
            lines.append(f"{title}:")
            lines.append(section._text())
        return "\n".join(lines)

    def _header_html(self) -> str:
        parts = [f'<span class="aep-kind">{esc(self.kind)}</span>']
        if self.id:
            parts.append(f"<code>{esc(self.id)}</code>{copy_button(str(self.id))}")
        if self.name:
            parts.append(f"&ldquo;{esc(self.name)}&rdquo;")
        if self.status is not None:
            parts.append(badge(status_text(self.status), tone_of(self.status)))
        if self.reused:
            parts.append(badge("reused existing", "aep-warn"))
        note = f'<div class="aep-dim">{esc(self.note)}</div>' if self.note else ""
        return f"<div>{' '.join(parts)}</div>{note}"

    def _sections_html(self) -> str:
        """The extra views (a mapping's validation and preview tables), shown open: no click needed."""
        return "".join(
            f'<div class="aep-section"><div style="font-weight:600;margin-top:6px">{esc(title)}</div>'
            f"{section._html()}</div>"
            for title, section in self.sections
        )

    def _tabs(self) -> list[tuple[str, str]]:
        """The raw exchange: Response, Request and (unless ``--curl`` shows it under the header) curl."""
        tabs = []
        if self.body is not None:
            tabs.append(("Response", json_tree_html(self.body)))
        if self.request is not None:
            tabs.append(("Request", request_html(self.request)))
            if not self.show_curl:
                tabs.append(("curl", curl_html(self._curl_calls())))
        return tabs

    def _curl_block(self) -> str:
        return curl_details(self._curl_calls()) if self.show_curl and self.request is not None else ""

    def _html(self) -> str:
        blocks = []
        for i, (title, body) in enumerate(self._tabs()):
            opened = " open" if i == 0 and self.id is None else ""
            blocks.append(f"<details{opened}><summary>{esc(title)}</summary>{body}</details>")
        return (f'<div class="aep-card">{self._header_html()}{self._sections_html()}{self._curl_block()}'
                f'{"".join(blocks)}</div>')

    def _widget_parts(self) -> tuple[str, list[tuple[str, str]]] | None:
        tabs = self._tabs()
        if not tabs:
            return None
        header = f"{self._header_html()}{self._sections_html()}{self._curl_block()}"
        return f'<div class="aep-card" style="border:none;padding:0">{header}</div>', tabs


def request_html(request: Request) -> str:
    body = "" if request.body is None else "\n" + pretty_json(request.body)
    headers = "".join(f"\n{k}: {v}" for k, v in request.headers.items())
    return f"<pre>{esc(request.method)} {esc(request.url)}{esc(headers)}{esc(body)}</pre>"


def curl_html(calls: Sequence[Request]) -> str:
    return "".join(
        f"<pre>{esc(_curl_comment(call, i, len(calls)))}\n{esc(call.curl)}</pre>{copy_button(call.curl)}"
        for i, call in enumerate(calls)
    )


def curl_summary(calls: Sequence[Request]) -> str:
    """``curl: POST /data/…`` or ``curl: 3 calls (GET …, GET …, POST …)``."""
    lines = [call.line for call in calls]
    if len(lines) == 1:
        return f"curl: {lines[0]}"
    return f"curl: {len(lines)} calls ({', '.join(lines)})"


def curl_details(calls: Sequence[Request]) -> str:
    """Every call as a cURL command, in one ``<details>`` block, closed."""
    return f'<details class="aep-curl"><summary>{esc(curl_summary(calls))}</summary>{curl_html(calls)}</details>'


CURL_LINE = 400


def one_line_curl(command: str, width: int = CURL_LINE) -> str:
    """A cURL command on one line (continuations joined, a JSON body compacted), shortened past ``width``."""
    command = re.sub(r"\s*\\\n\s*", " ", command.strip())
    match = re.search(r"(-d|--data(?:-raw|-binary)?) '(.*)'$", command, re.S)
    if match:
        raw = match.group(2).replace("'\\''", "'")
        try:
            compact = json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            compact = " ".join(raw.split())
        command = command[: match.start(2)] + compact.replace("'", "'\\''") + "'"
    command = " ".join(command.split("\n"))
    if len(command) > width:
        command = command[: width - 40].rstrip() + " … (shortened; full command in .curl)"
    return command


def curl_text(calls: Sequence[Request]) -> str:
    """The compact ``text/plain`` form of ``--curl``: per call a ``# method path -> status`` line and a one-line
    command."""
    return "\n".join(
        f"{_curl_comment(call, i, len(calls))}\n{one_line_curl(call.curl)}" for i, call in enumerate(calls)
    )


def _curl_comment(call: Request, index: int, count: int) -> str:
    number = f"{index + 1}/{count} " if count > 1 else ""
    outcome = f" -> {status_text(call.status)}" if call.status is not None else " (not sent)"
    return f"# {number}{call.line}{outcome}"


class DryRun(Result):
    """A call that was prepared and shown but not sent (``--dry-run``): no network, no token."""

    def __init__(self, calls: Sequence[Request], *, note: str | None = None):
        super().__init__("DryRun", calls=calls, note=note)

    def summary(self) -> str:
        main = self.request
        return f"DRY RUN, nothing sent: {main.method} {main.url}" if main else "DRY RUN, nothing sent"

    def _text(self) -> str:
        lines = [self.summary()]
        main = self.request
        if main is not None:
            lines.extend(f"{k}: {v}" for k, v in main.headers.items())
            if main.body is not None:
                lines.append(pretty_json(main.body))
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def _tabs(self) -> list[tuple[str, str]]:
        if self.request is None:
            return []
        return [("Request", request_html(self.request)), ("curl", curl_html([self.request]))]

    def _curl_block(self) -> str:
        return ""  # the curl command is always shown, open

    def _header_html(self) -> str:
        note = f'<div class="aep-dim">{esc(self.note)}</div>' if self.note else ""
        return f'<div><span class="aep-kind">DRY RUN</span>{badge("nothing sent", "aep-warn")}</div>{note}'

    def _html(self) -> str:
        blocks = "".join(f"<details open><summary>{esc(t)}</summary>{b}</details>" for t, b in self._tabs())
        return f'<div class="aep-card">{self._header_html()}{blocks}</div>'


class CurlView(Renderable):
    """The calls of an operation as cURL commands (``--curl``) for a result that cannot carry them itself (a pandas
    DataFrame): one collapsed block, one line per command in text."""

    def __init__(self, calls: Sequence[Request]):
        self.calls = list(calls)

    def _text(self) -> str:
        return curl_text(self.calls)

    def _html(self) -> str:
        return f'<div class="aep-card">{curl_details(self.calls)}</div>'


class AuthCard(Renderable):
    """Who the session is: org, sandbox, base URL, token expiry. Never the token."""

    def __init__(
        self,
        *,
        org_id: str,
        sandbox: str,
        base_url: str,
        client_id: str,
        expires_at: float | None,
        now: float,
        local: bool = False,
        profile: str | None = None,
    ):
        self.org_id = org_id
        self.sandbox = sandbox
        self.base_url = base_url
        self.client_id = client_id
        self.expires_at = expires_at
        self.now = now
        self.local = local
        self.profile = profile

    @property
    def expiry_text(self) -> str:
        if self.expires_at is None:
            return "token expiry unknown"
        left = self.expires_at - self.now
        if left <= 0:
            return "token expired"
        if left >= 5400:
            return f"token valid for {round(left / 3600)} h"
        return f"token valid for {max(1, round(left / 60))} min"

    @property
    def where(self) -> str:
        """"AEP Local" for the emulator (started here, or already running on this machine), else the platform."""
        from urllib.parse import urlsplit

        host = (urlsplit(self.base_url).hostname or "").lower()
        loopback = host in ("localhost", "::1") or host.startswith("127.")
        if self.local or loopback or self.client_id.startswith("aep-local"):
            return "AEP Local"
        return "Adobe Experience Platform"

    def _text(self) -> str:
        where = self.where
        return (
            f"AEP session ({where}): org {self.org_id}, sandbox {self.sandbox}\n"
            f"  {self.base_url} · client {self.client_id} · {self.expiry_text}"
        )

    def _html(self) -> str:
        where = self.where
        expiry = ""
        if self.expires_at is not None:
            expiry = f" (until {epoch_text(self.expires_at)} UTC)"
        rows = [
            ("org", f"<code>{esc(self.org_id)}</code>"),
            ("sandbox", f"<code>{esc(self.sandbox)}</code>"),
            ("base URL", f"<code>{esc(self.base_url)}</code>"),
            ("client id", f"<code>{esc(self.client_id)}</code>"),
            ("token", esc(self.expiry_text + expiry)),
        ]
        table = "".join(f"<tr><th style='text-align:left;padding-right:12px'>{k}</th> <td>{v}</td></tr>" for k, v in rows)
        return (
            f'<div class="aep-card"><div><span class="aep-kind">AEP session</span> on{badge(where, "aep-ok")}</div>'
            f"<table>{table}</table></div>"
        )
