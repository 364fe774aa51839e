"""Sandbox management (``/data/foundation/sandbox-management``): list, get, create, delete."""

from __future__ import annotations

from typing import Any

from ._base import Service, seg

Body = dict[str, Any]


class Sandboxes(Service):
    BASE = "/data/foundation/sandbox-management"

    def list(self) -> list[Body]:
        """Every sandbox of the org, following ``_links.next.href`` when the answer is paged."""
        found: list[Body] = []
        path: str | None = f"{self.BASE}/sandboxes"
        while path:
            body = self.session.request("GET", path).json() or {}
            found.extend(body.get("sandboxes") or [])
            href = ((body.get("_links") or {}).get("next") or {}).get("href")
            if href and not href.startswith(("http://", "https://", "/data/")):
                href = self.BASE + ("" if href.startswith("/") else "/") + href
            path = href if href != path else None
        return found

    def get(self, name: str) -> Body:
        return self._call("GET", f"/sandboxes/{seg(name)}")

    def create(self, name: str, title: str | None = None, type: str = "development") -> Body:
        """Request a new sandbox (answered 202 with its ``state``)."""
        return self._call("POST", "/sandboxes", json={"name": name, "title": title or name, "type": type})

    def delete(self, name: str) -> Body:
        return self._call("DELETE", f"/sandboxes/{seg(name)}")
