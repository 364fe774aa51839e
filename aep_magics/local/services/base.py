"""The small vocabulary every emulated service speaks: calls in, replies out, routes to find them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from ..errors import ServiceError
from ..store import Tenant

if TYPE_CHECKING:
    from werkzeug.datastructures import Headers

    from ..platform import Platform


@dataclass
class Call:
    """One platform request as a service sees it."""

    method: str
    path: str
    params: dict[str, str]                 # path parameters from the route
    query: Mapping[str, list[str]]         # every query parameter, repeated ones kept in order
    body: Any                              # parsed JSON body (None when there is none)
    headers: Mapping[str, str] | Headers   # case-insensitive
    tenant: Tenant                         # (org, sandbox) checked by the gateway
    client_id: str = ""                    # the API key (x-api-key) that made the call
    request_id: str = ""
    raw: bytes = b""

    @overload
    def arg(self, name: str) -> str | None: ...

    @overload
    def arg(self, name: str, default: str) -> str: ...

    @overload
    def arg(self, name: str, default: str | None) -> str | None: ...

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return list(self.query.get(name, []))


@dataclass
class Reply:
    status: int = 200
    body: Any = None                        # JSON-able, or bytes for raw downloads
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


Handler = Callable[[Call], Reply]

__all__ = ["Call", "Handler", "Reply", "Route", "Service", "ServiceError"]


@dataclass(frozen=True)
class Route:
    method: str
    rule: str                               # werkzeug rule, e.g. "/data/foundation/flowservice/flows/<id>"
    handler: Handler
    auth: bool = True                       # gateway checks (token, api key, org, sandbox)
    sandbox: bool = True                    # needs x-sandbox-name


class Service:
    """Base class: a service holds a reference to the platform (store, clock, ids) and lists its routes."""

    def __init__(self, platform: "Platform"):
        self.platform = platform

    @property
    def store(self):
        return self.platform.store

    @property
    def clock(self):
        return self.platform.clock

    @property
    def ids(self):
        return self.platform.ids

    def routes(self) -> list[Route]:
        raise NotImplementedError
