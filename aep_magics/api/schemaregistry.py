"""Schema Registry (``/data/foundation/schemaregistry``): tenant schemas, global classes and field groups, stats
(https://experienceleague.adobe.com/en/docs/experience-platform/xdm/api/getting-started). Every GET carries the ``Accept`` header that picks the representation."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ._base import Filter, Service, property_list, seg

Body = dict[str, Any]

#: Lookup representations (``version=1`` is mandatory on lookups, https://experienceleague.adobe.com/en/docs/experience-platform/xdm/api/getting-started).
LOOKUP_ACCEPT = {
    kind: f"application/vnd.adobe.{kind}+json; version=1"
    for kind in ("xed", "xed-full", "xed-notext", "xed-full-notext", "xed-full-desc", "xed-deprecatefield")
}
#: List representations: ids only, or full resources.
LIST_ACCEPT = {"xed-id": "application/vnd.adobe.xed-id+json", "xed": "application/vnd.adobe.xed+json"}


def accept_header(kind: str, *, listing: bool = False) -> str:
    """``"xed-full"`` -> ``application/vnd.adobe.xed-full+json; version=1``; full media types pass through."""
    if kind.startswith("application/"):
        return kind
    table = LIST_ACCEPT if listing else LOOKUP_ACCEPT
    if kind not in table:
        raise InputError(f"unknown Accept variant {kind!r}; use one of {', '.join(table)}")
    return table[kind]


class SchemaRegistry(Service):
    BASE = "/data/foundation/schemaregistry"

    def _list(self, container: str, kind: str, full: bool, property: Filter, orderby: str) -> list[Body]:
        params = {"property": property_list(property) or None, "orderby": orderby}
        accept = accept_header("xed" if full else "xed-id", listing=True)
        return list(self.session.iter_registry(f"{self.BASE}/{container}/{kind}", params, accept))

    def _lookup(self, container: str, kind: str, id: str, accept: str) -> Body:
        return self._call("GET", f"/{container}/{kind}/{seg(id)}", accept=accept_header(accept))

    # -- tenant schemas --------------------------------------------------------------------------------------

    def create_schema(self, body: Body) -> Body:
        """The created schema (``$id``, ``meta:altId``, ``version`` ...)."""
        return self._call("POST", "/tenant/schemas", json=body)

    def get_schema(self, schema_id: str, container: str = "tenant", accept: str = "xed") -> Body:
        """``schema_id`` is the ``$id`` URI or the ``meta:altId``; ``accept`` e.g. ``xed-full`` or ``xed-notext``."""
        return self._lookup(container, "schemas", schema_id, accept)

    def list_schemas(
        self, container: str = "tenant", *, full: bool = False, property: Filter = None, orderby: str = "title"
    ) -> list[Body]:
        return self._list(container, "schemas", full, property, orderby)

    def patch_schema(self, schema_id: str, ops: list[Body]) -> Body:
        """JSON Patch (e.g. add a field group to ``allOf``); the updated schema."""
        return self._call("PATCH", f"/tenant/schemas/{seg(schema_id)}", json=ops)

    def delete_schema(self, schema_id: str) -> None:
        self._call("DELETE", f"/tenant/schemas/{seg(schema_id)}")

    # -- classes and field groups ----------------------------------------------------------------------------

    def list_classes(
        self, container: str = "global", *, full: bool = False, property: Filter = None, orderby: str = "title"
    ) -> list[Body]:
        return self._list(container, "classes", full, property, orderby)

    def get_class(self, class_id: str, container: str = "global", accept: str = "xed") -> Body:
        return self._lookup(container, "classes", class_id, accept)

    def list_field_groups(
        self, container: str = "global", *, full: bool = False, property: Filter = None, orderby: str = "title"
    ) -> list[Body]:
        return self._list(container, "fieldgroups", full, property, orderby)

    def get_field_group(self, field_group_id: str, container: str = "global", accept: str = "xed") -> Body:
        return self._lookup(container, "fieldgroups", field_group_id, accept)

    def stats(self) -> Body:
        """Org-level usage: ``tenantId``, ``counts``, recently created resources, class usage."""
        return self._call("GET", "/stats", accept="application/json")
