"""Sandbox management (``/data/foundation/sandbox-management``): list, get, create, delete."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..errors import AEPError
from ..http import expand_link, shape, unexpected_answer
from ._base import Service, seg

Body = dict[str, Any]


class Sandboxes(Service):
    BASE = "/data/foundation/sandbox-management"

    def list(self) -> list[Body]:
        """Every sandbox of the org, following ``_links.next`` until a page has none (or has no sandboxes).

        The docs' next link is a URI template (https://experienceleague.adobe.com/en/docs/experience-platform/sandbox/api/sandboxes):
        ``{"href": "https://platform.adobe.io:443/.../sandboxes/?limit={limit}&offset={offset}", "templated": true}``.
        A templated link is expanded (RFC 6570) with the page size and the offset of the next page; a variable the
        kit has no value for is dropped. Only the link's path and query are used: the call goes to the profile's base
        URL, like every other.
        """
        found: list[Body] = []
        first = f"{self.BASE}/sandboxes"
        path: str | None = first
        seen: set[str] = {first}
        while path:
            body = self.session.request("GET", path).json() or {}
            page = body.get("sandboxes", []) if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise unexpected_answer("GET", path, '{"sandboxes": [...]}',
                                        shape(page if isinstance(body, dict) else body))
            found.extend(page)
            link = (body.get("_links") or {}).get("next") if isinstance(body.get("_links"), dict) else None
            href = link.get("href") if isinstance(link, dict) else None
            if not href or not page:
                return found
            if isinstance(link, dict) and link.get("templated") is True:
                limit = (body.get("_page") or {}).get("limit") if isinstance(body.get("_page"), dict) else None
                href = expand_link(href, {"limit": limit or len(page), "offset": len(found)})
            parts = urlsplit(href)
            href = parts.path + (f"?{parts.query}" if parts.query else "")
            if not href.startswith("/data/"):
                href = self.BASE + ("" if href.startswith("/") else "/") + href
            if href in seen:
                raise AEPError(method="GET", path=first,
                               message=f"the next-page link repeats itself ({href}) for GET {first}")
            seen.add(href)
            path = href
        return found

    def get(self, name: str) -> Body:
        return self._call("GET", f"/sandboxes/{seg(name)}")

    def create(self, name: str, title: str | None = None, type: str = "development") -> Body:
        """Request a new sandbox (answered 202 with its ``state``)."""
        return self._call("POST", "/sandboxes", json={"name": name, "title": title or name, "type": type})

    def delete(self, name: str) -> Body:
        return self._call("DELETE", f"/sandboxes/{seg(name)}")
