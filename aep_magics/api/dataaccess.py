"""Data Access (``/data/foundation/export``): the files of a batch and their bytes."""

from __future__ import annotations

from typing import Any

from ._base import Service, seg

Body = dict[str, Any]


class DataAccess(Service):
    BASE = "/data/foundation/export"

    def list_batch_files(self, batch_id: str, limit: int = 100) -> list[Body]:
        """Every dataset file of a batch (``dataSetFileId``, ``records``, ``size``, ``_links`` ...)."""
        found: list[Body] = []
        while True:
            params = {"limit": limit, "start": len(found)}
            page = (self._call("GET", f"/batches/{seg(batch_id)}/files", params=params) or {}).get("data") or []
            found.extend(page)
            if len(page) < limit:
                return found

    def get_file(self, file_id: str) -> Body:
        """The listing of a dataset file: ``{"data": [{"name", "length", "_links"}, ...]}``."""
        return self._call("GET", f"/files/{seg(file_id)}")

    def download(self, file_id: str, path: str) -> bytes:
        """The bytes of one physical file (``path`` = a ``name`` from :meth:`get_file`)."""
        return self.session.request("GET", f"{self.BASE}/files/{seg(file_id)}", params={"path": path}).content
