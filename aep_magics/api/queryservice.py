"""Query Service (``/data/foundation/query``): the PostgreSQL connection parameters and the queries log
(https://experienceleague.adobe.com/en/docs/experience-platform/query/api/getting-started).

Every dataset is a SQL table; SQL runs through the PostgreSQL interface (:mod:`aep_magics.sql`) with the parameters
:meth:`QueryService.connection_parameters` returns. A query sent here (:meth:`QueryService.create_query`) runs as a
batch job and returns no rows: it is answered ``202`` with its state, and polled with :meth:`QueryService.get_query`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from ..errors import AEPError, InputError
from ..http import shape, unexpected_answer
from ._base import Service, joined, seg

Body = dict[str, Any]

#: Where each answer's shape is documented (the guide and the OpenAPI reference differ for connection_parameters).
DOCS_URL = "https://experienceleague.adobe.com/en/docs/experience-platform/query/api/connection-parameters"
QUERIES_URL = "https://experienceleague.adobe.com/en/docs/experience-platform/query/api/queries"
#: The states a query ends in (https://experienceleague.adobe.com/en/docs/experience-platform/query/api/queries).
FINISHED_STATES = frozenset({"SUCCESS", "FAILED", "KILLED", "TIMEOUT"})


class QueryService(Service):
    BASE = "/data/foundation/query"

    # -- the PostgreSQL interface ------------------------------------------------------------------------------

    def connection_parameters(self) -> Body:
        """``host``, ``port``, ``dbName``, ``username`` (the org id), ``token`` (the caller's own, echoed) …

        The guide names the websocket host ``websocketHost``, query-service.yaml ``websoketHost``; both are read and
        the answer carries ``websocketHost``. ``port`` comes back as an ``int``. An answer without a host, a port or
        a username raises :class:`AEPError` naming what came back.
        """
        path = f"{self.BASE}/connection_parameters"
        body = self._call("GET", "/connection_parameters")
        if not isinstance(body, dict):
            raise unexpected_answer("GET", path, "an object with host, port, username", shape(body))
        missing = [key for key in ("host", "port", "username") if body.get(key) in (None, "")]
        if missing:
            raise unexpected_answer("GET", path, "an object with host, port, username", shape(body))
        found = dict(body)
        if "websocketHost" not in found and "websoketHost" in found:
            found["websocketHost"] = found["websoketHost"]
        try:
            found["port"] = int(found["port"])
        except (TypeError, ValueError):
            raise unexpected_answer("GET", path, "a numeric port", repr(found["port"])) from None
        return found

    # -- the queries log ------------------------------------------------------------------------------------------

    def create_query(
        self,
        sql: str | None = None,
        *,
        db_name: str | None = None,
        name: str | None = None,
        description: str | None = None,
        template_id: str | None = None,
        query_parameters: dict[str, Any] | None = None,
        ctas: dict[str, Any] | None = None,
        insert_into: dict[str, Any] | None = None,
    ) -> Body:
        """Submit a query (``POST /queries``, answered ``202`` with ``state: SUBMITTED``).

        ``db_name`` defaults to ``{sandbox}:all``; ``ctas`` is ``ctasParameters`` (``datasetName``, ``description``,
        ``targetSchemaTitle``), ``insert_into`` is ``insertIntoParameters`` (``datasetName``).
        """
        if (sql is None) == (template_id is None):
            raise InputError("give the query's sql or a template_id, not both")
        body: Body = {"dbName": db_name or f"{self.session.profile.sandbox}:all"}
        if sql is not None:
            body["sql"] = sql
        if template_id is not None:
            body["templateId"] = template_id
        for key, value in (("name", name), ("description", description), ("queryParameters", query_parameters),
                           ("ctasParameters", ctas), ("insertIntoParameters", insert_into)):
            if value is not None:
                body[key] = value
        return self._query("POST", "/queries", json=body)

    def get_query(self, query_id: str) -> Body:
        """One query: ``state`` (SUBMITTED, IN_PROGRESS, SUCCESS, FAILED, KILLED, TIMEOUT), ``rowCount``, ``errors``."""
        return self._query("GET", f"/queries/{seg(query_id)}")

    def cancel_query(self, query_id: str) -> Body:
        """``PATCH /queries/{id}`` ``{"op": "cancel"}`` (a finished query answers 409)."""
        return self._call("PATCH", f"/queries/{seg(query_id)}", json={"op": "cancel"}) or {}

    def soft_delete_query(self, query_id: str) -> Body:
        """``PATCH /queries/{id}`` ``{"op": "soft_delete"}``: hidden from the list from then on."""
        return self._call("PATCH", f"/queries/{seg(query_id)}", json={"op": "soft_delete"}) or {}

    def list_queries(
        self,
        *,
        orderby: str = "-created",
        limit: int = 50,
        property: str | Sequence[str] | None = None,
        exclude_soft_deleted: bool | None = None,
        exclude_hidden: bool | None = None,
        max_items: int | None = None,
    ) -> list[Body]:
        """Every query of the sandbox, newest first by default, following ``_links.next`` until a page has none.

        ``property`` filters, ANDed (``state==SUCCESS``, ``created>=2024-01-01T00:00:00Z``); ``max_items`` stops
        early. The next link's path and query are used; the call goes to the profile's base URL, like every other.
        """
        params: dict[str, Any] = {"orderby": orderby, "limit": limit, "property": joined(property)}
        for key, value in (("excludeSoftDeleted", exclude_soft_deleted), ("excludeHidden", exclude_hidden)):
            if value is not None:
                params[key] = "true" if value else "false"
        first = f"{self.BASE}/queries"
        found: list[Body] = []
        path: str | None = first
        seen: set[str] = set()
        while path is not None:
            body = self.session.request("GET", path, params=params).json()
            page = body.get("queries") if isinstance(body, dict) else None
            if not isinstance(page, list) or not all(isinstance(item, dict) for item in page):
                raise unexpected_answer("GET", path, '{"queries": [...], "_links": ...}',
                                        shape(page if isinstance(body, dict) and "queries" in body else body))
            found.extend(page)
            if max_items is not None and len(found) >= max_items:
                return found[:max_items]
            raw_links = body.get("_links")
            links: Body = raw_links if isinstance(raw_links, dict) else {}
            link: Body = links["next"] if isinstance(links.get("next"), dict) else {}
            href = link.get("href") if isinstance(link.get("href"), str) else ""
            if not href or not page:
                return found
            parts = urlsplit(href)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if not path.startswith(self.BASE):
                path = self.BASE + "/queries" + (f"?{parts.query}" if parts.query else "")
            if path in seen:
                raise AEPError(method="GET", path=first,
                               message=f"the next-page link repeats itself ({href}) for GET {first}")
            seen.add(path)
            params = {}
        return found

    def _query(self, method: str, path: str, **kwargs: Any) -> Body:
        body = self._call(method, path, **kwargs)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise unexpected_answer(method, self.BASE + path, "a query object with an id", shape(body))
        return body
