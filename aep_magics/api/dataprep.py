"""Data Prep / mapping (``/data/foundation/conversion``): mapping sets, validate, preview (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set)."""

from __future__ import annotations

from typing import Any

from ._base import Service, seg

Body = dict[str, Any]


class DataPrep(Service):
    BASE = "/data/foundation/conversion"

    def create_mapping_set(self, body: Body) -> Body:
        """The created mapping set (``id``, ``version`` 0, ...); the service answers 200, not 201."""
        return self._call("POST", "/mappingSets", json=body)

    def get_mapping_set(self, mapping_set_id: str, *, version: int | None = None, expand_schema: bool = False) -> Body:
        params = {"version": version, "expandSchema": "true" if expand_schema else None}
        return self._call("GET", f"/mappingSets/{seg(mapping_set_id)}", params=params)

    def list_mapping_sets(
        self, *, name: str | None = None, order_by: str | None = None, limit: int = 100
    ) -> list[Body]:
        """Every mapping set, paging with ``limit``/``start`` over ``data`` until a page comes back short."""
        found: list[Body] = []
        while True:
            params = {"limit": limit, "start": len(found), "name": name, "orderBy": order_by}
            page = (self._call("GET", "/mappingSets", params=params) or {}).get("data") or []
            found.extend(page)
            if len(page) < limit:
                return found

    def delete_mapping_set(self, mapping_set_id: str) -> None:
        """``DELETE /mappingSets/{id}``. data-prep.yaml documents no DELETE: the call is sent as written and the
        platform's answer stands (AEP Local: 405 with the methods it allows)."""
        self._call("DELETE", f"/mappingSets/{seg(mapping_set_id)}")

    def validate(self, body: Body) -> Body:
        """``{"validationResponse": [{"status": "SUCCESS"|"FAILED", "errors": ...}, ...]}``, one per mapping."""
        return self._call("POST", "/mappingSets/validate", json=body)

    def preview(self, rows: list[Body], mapping_set: Body) -> list[Body]:
        """Map sample ``rows`` with ``mapping_set``: ``[{"data": {...}, "errors": ...}, ...]``."""
        return self._call("POST", "/mappingSets/preview", json={"data": rows, "mappingSet": mapping_set})
