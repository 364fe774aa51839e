"""URL functions of Data Prep (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions):
get_url_protocol, get_url_host, get_url_port, get_url_path, get_url_query_str, get_url_encoded, get_url_decoded.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote_plus, unquote_plus, urlsplit

from .core import EvaluationError, _q, to_str, truthy


_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "sftp": 22, "ssh": 22, "scp": 22, "ws": 80, "wss": 443,
                  "smtp": 25, "ldap": 389, "ldaps": 636, "telnet": 23, "gopher": 70, "imap": 143, "pop3": 110}


def _url(value):
    s = to_str(value)
    if s is None:
        return None
    try:
        parts = urlsplit(s)
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        return None
    if not parts.scheme or not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*$", parts.scheme):
        return None
    return parts


def fn_get_url_protocol(ctx, url):
    parts = _url(url)
    return parts.scheme if parts else None


def fn_get_url_host(ctx, url):
    parts = _url(url)
    if not parts or not parts.netloc:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[: host.index("]") + 1]
    return host.split(":", 1)[0] or None


def fn_get_url_port(ctx, url):
    parts = _url(url)
    if not parts or not parts.netloc:
        return None
    return parts.port if parts.port is not None else _DEFAULT_PORTS.get(parts.scheme.lower())


def fn_get_url_path(ctx, url, full_path=True):
    parts = _url(url)
    if not parts:
        return None
    if full_path is None or truthy(full_path):
        return parts.path
    return parts.path.rstrip("/").rsplit("/", 1)[-1]


def _parse_query(query: str) -> dict:
    out: dict[str, Any] = {}
    for item in query.split("&"):
        if item:
            key, _, value = item.partition("=")
            out[key] = value
    return out


def fn_get_url_query_str(ctx, url, anchor="retain"):
    parts = _url(url)
    if not parts:
        return None
    mode = (to_str(anchor) or "retain").lower()
    if mode not in ("retain", "remove", "append"):
        raise EvaluationError(f"ANCHOR must be 'retain', 'remove' or 'append', got {_q(anchor)}")
    query = parts.query
    if mode == "retain" and parts.fragment:
        query = f"{query}#{parts.fragment}"
    result = _parse_query(query)
    if mode == "append" and parts.fragment:
        result["_anchor_"] = parts.fragment
    return result


def fn_get_url_encoded(ctx, url):
    s = to_str(url)
    return None if s is None else quote_plus(s, safe="*").replace("~", "%7E")


def fn_get_url_decoded(ctx, url):
    s = to_str(url)
    return None if s is None else unquote_plus(s)
