"""Catalog Service (``/data/foundation/catalog``): datasets and batches (https://experienceleague.adobe.com/en/docs/experience-platform/catalog/api/getting-started). Lists are id-keyed maps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import AEPError
from ..http import shape, unexpected_answer
from ._base import Service, joined, seg

Body = dict[str, Any]


class Catalog(Service):
    BASE = "/data/foundation/catalog"

    def _one(self, kind: str, id: str, properties: str | Sequence[str] | None = None) -> Body:
        """Catalog answers ``{id: object}``: return the object."""
        body = self._call("GET", f"/{kind}/{seg(id)}", params={"properties": joined(properties)}) or {}
        found: Any = body.get(id) or next(iter(body.values()), {}) if isinstance(body, dict) else None
        if not isinstance(found, dict):
            raise unexpected_answer("GET", f"{self.BASE}/{kind}/{id}", "Catalog's {id: object}", shape(body))
        return found

    def _list(
        self, kind: str, properties: str | Sequence[str] | None, limit: int, params: dict[str, Any]
    ) -> dict[str, Body]:
        query = {"properties": joined(properties), **params}
        return dict(self.session.iter_catalog(f"{self.BASE}/{kind}", query, limit=limit))

    # -- datasets --------------------------------------------------------------------------------------------

    def create_dataset(self, body: Body, *, request_data_source: bool = False) -> str:
        """The new dataset id, parsed from the ``["@/dataSets/{id}"]`` answer."""
        params = {"requestDataSource": "true"} if request_data_source else None
        answer = self._call("POST", "/dataSets", params=params, json=body)
        link = answer[0] if isinstance(answer, list) and answer else None
        if not isinstance(link, str) or "/" not in link:
            raise AEPError(
                method="POST",
                path=f"{self.BASE}/dataSets",
                body=answer,
                message=f"unexpected answer to POST {self.BASE}/dataSets: {answer!r}",
            )
        return link.rstrip("/").rsplit("/", 1)[-1]

    def get_dataset(self, dataset_id: str, properties: str | Sequence[str] | None = None) -> Body:
        return self._one("dataSets", dataset_id, properties)

    def list_datasets(
        self, *, properties: str | Sequence[str] | None = None, limit: int = 100, **filters: Any
    ) -> dict[str, Body]:
        """Every dataset (``{id: dataset}``); ``filters`` are Catalog query params (``name=``, ``property=``, ...)."""
        return self._list("dataSets", properties, limit, filters)

    def delete_dataset(self, dataset_id: str) -> None:
        """``DELETE /dataSets/{id}``: the dataset and its batches."""
        self._call("DELETE", f"/dataSets/{seg(dataset_id)}")

    # -- batches ---------------------------------------------------------------------------------------------

    def get_batch(self, batch_id: str) -> Body:
        """Status, ``recordCount``, ``failedRecordCount``, ``errors`` ... of one batch."""
        return self._one("batches", batch_id)

    def list_batches(
        self,
        dataset_id: str | None = None,
        *,
        properties: str | Sequence[str] | None = None,
        limit: int = 100,
        **filters: Any,
    ) -> dict[str, Body]:
        """Every batch (``{id: batch}``), optionally of one dataset; e.g. ``orderBy="desc:created"``."""
        return self._list("batches", properties, limit, {"dataSet": dataset_id, **filters})
