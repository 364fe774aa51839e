"""What every service wrapper shares: a session, a base path, JSON in and out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from ..http import AEPSession, Params

#: A Flow Service / Catalog / Schema Registry ``property`` filter: one expression or several (ANDed).
Filter = str | Sequence[str] | None


class Service:
    """A thin wrapper over one AEP service rooted at ``BASE``."""

    BASE = ""

    def __init__(self, session: AEPSession):
        self.session = session

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        accept: str | None = None,
    ) -> Any:
        return self.session.request(
            method, self.BASE + path, params=params, json=json, headers=headers, accept=accept
        ).json()


def seg(value: str) -> str:
    """One URL path segment (ids that are URIs, like schema ``$id``\\ s, are percent-encoded)."""
    return quote(str(value), safe="")


def property_list(property: Filter) -> list[str]:
    if property is None:
        return []
    return [property] if isinstance(property, str) else list(property)


def joined(values: str | Sequence[str] | None) -> str | None:
    if values is None or isinstance(values, str):
        return values
    return ",".join(values)
