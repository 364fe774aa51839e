"""Data Prep / mapping (``/data/foundation/conversion``): mapping sets, validate, preview (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set)."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..http import shape, unexpected_answer
from ._base import Service, seg

Body = dict[str, Any]

#: The Data Prep API reference (data-prep.yaml) and the mapping set guide, where their shapes differ.
SPEC_URL = "https://developer.adobe.com/experience-platform-apis/references/data-prep/"
DOCS_URL = "https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set"


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
            page = self._page(self._call("GET", "/mappingSets", params=params))
            found.extend(page)
            if len(page) < limit:
                return found

    def _page(self, body: Any) -> list[Body]:
        """The mapping sets of one ``GET /mappingSets`` answer.

        The docs answer ``{"data": [mappingSet, ...], "_page": {...}}`` (DOCS_URL) and so does data-prep.yaml's
        MapperSetPage schema, but the spec's example of it has ``"data": {mappingSet}``, one object (SPEC_URL): that
        is read as a page of one. Anything else is named, not guessed at.
        """
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(body, dict) and data is None and not body.get("_page"):
            data = []  # an empty answer: no mapping sets
        if isinstance(data, dict) and data.get("id"):
            data = [data]
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise unexpected_answer("GET", f"{self.BASE}/mappingSets", '{"data": [mapping sets]}',
                                    "data as " + shape(data) if isinstance(body, dict) else shape(body))
        return data

    def delete_mapping_set(self, mapping_set_id: str) -> None:
        """Mapping sets cannot be deleted: data-prep.yaml has no ``DELETE /mappingSets/{id}`` (SPEC_URL), only GET,
        POST and PUT. Raises :class:`InputError` and sends nothing."""
        raise InputError(cannot_delete(mapping_set_id))

    def validate(self, body: Body) -> Body:
        """``{"validationResponse": [{"status": "SUCCESS"|"FAILED", "errors": ...}, ...]}``, one per mapping."""
        return self._call("POST", "/mappingSets/validate", json=body)

    def preview(self, rows: list[Body], mapping_set: Body) -> list[Body]:
        """Map sample ``rows`` with ``mapping_set``: ``[{"data": {...}, "errors": ...}, ...]``.

        The docs answer a list of mapped rows (DOCS_URL); data-prep.yaml's PreviewResponse is one ``{data, errors}``
        object (SPEC_URL), read here as a list of one. Anything else raises :class:`AEPError` naming what came back.
        """
        answer = self._call("POST", "/mappingSets/preview", json={"data": rows, "mappingSet": mapping_set})
        if isinstance(answer, dict) and "data" in answer:
            answer = [answer]
        if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
            raise unexpected_answer("POST", f"{self.BASE}/mappingSets/preview",
                                    'a list of mapped rows ({"data", "errors"} each)', shape(answer))
        return answer


def cannot_delete(mapping_set_id: str | None = None, *, name: str | None = None) -> str:
    """Why a mapping set is not deleted, and what to do instead (one line)."""
    what = f"mapping set {mapping_set_id}" if mapping_set_id else f"mapping sets named {name!r}" if name else "mapping sets"
    return (f"{what}: the Data Prep API cannot delete mapping sets (it has no DELETE /mappingSets/{{id}}, "
            f"{SPEC_URL}); nothing was sent. Leave it unused (a flow whose transformations no longer name it does not "
            f"read it), or create a new version with PUT /mappingSets/{mapping_set_id or '{MAPPING_SET_ID}'}")
