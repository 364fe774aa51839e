"""Data Access (``/data/foundation/export``): the files of a batch and their bytes."""

from __future__ import annotations

from typing import Any

from ..http import shape, unexpected_answer
from ._base import Service, seg

Body = dict[str, Any]

#: The Data Access guide and API reference, where their shapes differ.
DOCS_URL = "https://experienceleague.adobe.com/en/docs/experience-platform/data-access/api"
SPEC_URL = "https://developer.adobe.com/experience-platform-apis/references/data-access/"


class DataAccess(Service):
    BASE = "/data/foundation/export"

    def list_batch_files(self, batch_id: str, limit: int = 100) -> list[Body]:
        """Every dataset file of a batch (``dataSetFileId``, ``records``, ``size``, ``_links`` ...)."""
        found: list[Body] = []
        while True:
            params = {"limit": limit, "start": len(found)}
            body = self._call("GET", f"/batches/{seg(batch_id)}/files", params=params)
            page = body.get("data", []) if isinstance(body, dict) else None
            if not isinstance(page, list) or not all(isinstance(item, dict) for item in page):
                raise unexpected_answer("GET", f"{self.BASE}/batches/{batch_id}/files", '{"data": [dataset files]}',
                                        shape(page if isinstance(body, dict) else body))
            found.extend(page)
            if len(page) < limit:
                return found

    def get_file(self, file_id: str) -> Body:
        """The listing of a dataset file: ``{"data": [{"name", "length", "_links"}, ...]}``."""
        return self._call("GET", f"/files/{seg(file_id)}")

    def file_parts(self, file_id: str) -> list[Body]:
        """The physical files of a dataset file, each with its ``name`` (what :meth:`download` takes as ``path``).

        The docs answer ``GET /files/{id}`` with ``{"data": [{"name", "length", "_links"}, ...]}`` (DOCS_URL);
        data-access.yaml documents it as ``metadata``, ``{"path": "F1.json"}`` (SPEC_URL), read here as one part of
        that name. Anything else raises :class:`AEPError` naming what came back.
        """
        body = self.get_file(file_id)
        where = f"{self.BASE}/files/{file_id}"
        if isinstance(body, dict) and "data" not in body and isinstance(body.get("path"), str) and body["path"]:
            return [{"name": body["path"]}]
        parts = body.get("data") if isinstance(body, dict) else None
        if not isinstance(parts, list) or not all(isinstance(p, dict) and p.get("name") for p in parts):
            raise unexpected_answer("GET", where, '{"data": [{"name", ...}]} or {"path"}',
                                    shape(parts if isinstance(body, dict) and "data" in body else body))
        return parts

    def download(self, file_id: str, path: str) -> bytes:
        """The bytes of one physical file (``path`` = a ``name`` from :meth:`get_file`)."""
        return self.session.request("GET", f"{self.BASE}/files/{seg(file_id)}", params={"path": path}).content
