"""``%aep_console [PATH]``: a link to the web console page of a result.

On AEP Local the magic asks the control plane for a one-time link (``POST /aep-local/console-links``, good once within
60 seconds, signing its opener in as the notebook's client) and shows it, with ``--inline`` inside a frame too.
Against Adobe's platform it links to Experience Platform's UI, which needs the user's own Adobe ID sign-in.

:func:`console_link` is the same operation from plain Python; the magic only parses its line.
"""

from __future__ import annotations

import html
import re
import shlex
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from ..errors import InputError
from . import state
from .core import _guard, _usage

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATASET = re.compile(r"^[0-9a-fA-F]{24}$")
#: Experience Platform's UI home, as Adobe's documentation links it
#: (https://experienceleague.adobe.com/en/docs/experience-platform/landing/home).
PLATFORM_UI = "https://experience.adobe.com/#/platform/home"
_WORKSPACES = {"dataflows": "Sources > Dataflows", "datasets": "Datasets", "schemas": "Schemas",
               "sources": "Sources", "sql": "Queries", "runs": "Sources > Dataflows"}


@dataclass(frozen=True)
class ConsoleLink:
    """A link to a console page (``local``: AEP Local's console, else Experience Platform's UI)."""

    url: str
    path: str
    local: bool
    inline: bool = False
    note: str = ""

    def _repr_html_(self) -> str:
        url = html.escape(self.url, quote=True)
        label = "Open in the AEP Local console" if self.local else "Open Experience Platform"
        parts = [f'<div class="aep-console-link"><a href="{url}" target="_blank" rel="noopener noreferrer">'
                 f"{label}: {html.escape(self.path)}</a>"]
        if self.note:
            parts.append(f"<br><small>{html.escape(self.note)}</small>")
        if self.inline and self.local:
            parts.append(f'<br><iframe src="{url}" title="AEP Local console" width="100%" height="640" '
                         'style="border:1px solid #ddd"></iframe>')
        parts.append("</div>")
        return "".join(parts)

    def __repr__(self) -> str:
        return f"{self.url}" + (f"  ({self.note})" if self.note else "")

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def console_path(target: str | None) -> str:
    """``target`` as a console path: a dataflow id -> its activity page, a dataset id -> its dataset page, a path
    starting with ``/`` -> that path, nothing -> the Sources page."""
    target = (target or "").strip()
    if not target:
        return "/"
    if target.startswith("/"):
        return target
    if _UUID.match(target):
        return f"/dataflows/{target.lower()}"
    if _DATASET.match(target):
        return f"/datasets/{target.lower()}"
    raise InputError(f"%aep_console: {target!r} is neither a dataflow id (a UUID), a dataset id (24 hex characters) "
                     "nor a console path starting with / (e.g. /datasets)")


def is_local(session: Any) -> bool:
    """The session talks to AEP Local (a loopback or non-Adobe host), not to Adobe's platform."""
    host = (urlsplit(session.profile.base_url).hostname or "").lower()
    return not (host == "adobe.io" or host.endswith(".adobe.io") or host.endswith(".adobe.com"))


def console_link(session: Any, target: str | None = None, *, sandbox: str | None = None,
                 inline: bool = False) -> ConsoleLink:
    """The console page of ``target`` (see :func:`console_path`) for ``session`` (an ``AEPSession``)."""
    path = console_path(target)
    sandbox = sandbox or session.profile.sandbox or "prod"
    if not is_local(session):
        workspace = _WORKSPACES.get(path.strip("/").split("/", 1)[0], "Sources")
        ident = path.rstrip("/").rsplit("/", 1)[-1] if path.count("/") > 1 else ""
        note = (f"Experience Platform's UI needs your own Adobe ID sign-in; in sandbox {sandbox}, open {workspace}"
                + (f" and search for {ident}" if ident else "") + ".")
        return ConsoleLink(PLATFORM_UI, path, local=False, note=note)
    answer = session.request("POST", "/aep-local/console-links", json={"path": path, "sandbox": sandbox}).json()
    url = answer.get("url") if isinstance(answer, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InputError("%aep_console: AEP Local answered no console link; is it an older version? "
                         "(aep-local serve prints the console URL)")
    return ConsoleLink(url, path, local=True, inline=inline,
                       note="a one-time link: it signs you in once, within 60 seconds")


@magics_class
class ConsoleMagics(Magics):
    """``%aep_console``: the web console page of a result."""

    @no_var_expand
    @magic_arguments(name="aep_console")
    @argument("target", nargs="?", help="a dataflow id, a dataset id or a console path such as /datasets "
                                        "(default: the Sources page)")
    @argument("--sandbox", metavar="S", help="the console page in sandbox S (default: the session's)")
    @argument("--inline", action="store_true", help="also show the page in a frame below the link (AEP Local)")
    @line_magic
    @_guard
    def aep_console(self, line: str = "") -> Any:
        """A link to the console page of a result: on AEP Local a one-time link to its web console (with
        ``--inline``, the page in a frame too), against Adobe's platform a link to Experience Platform's UI.

        Example: ``%aep_console {{flow.id}}`` (the dataflow's activity page), ``%aep_console {{dataset_id}}``,
        ``%aep_console /schemas --inline``
        """
        from .body import expand_braces

        assert self.shell is not None  # the magics are always registered on a shell
        parser = self.aep_console.parser
        usage = _usage(parser)
        try:
            tokens = [expand_braces(token, self.shell.user_ns) for token in shlex.split(line)]
            args = parser.parse_args(tokens)
        except (ValueError, UsageError) as exc:
            raise InputError(f"%aep_console: {exc}; usage: {usage}") from None
        state.current.require()
        return console_link(state.current.session, args.target, sandbox=args.sandbox, inline=args.inline)
