"""Catalog batch records: the store documents (kind ``batch``, ``parent`` = their dataset id, ``state`` = their
status) behind Catalog's batches
(https://experienceleague.adobe.com/en/docs/experience-platform/catalog/api/list-objects), and the dataset's
``lastBatchId`` / ``lastBatchStatus`` / ``lastSuccessfulBatch`` that follow them.

A low module: the engine writes batches through :func:`record_batch` / :func:`update_batch`, the Catalog service
serves them (and re-exports both names).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .store import Tenant

if TYPE_CHECKING:
    from .platform import Platform

#: Batch statuses that count as a successful batch.
SUCCESS_STATES = ("success", "active")


def batch_dataset(doc: dict[str, Any]) -> str | None:
    for rel in doc.get("relatedObjects") or []:
        if isinstance(rel, dict) and rel.get("type") == "dataSet":
            return rel.get("id")
    ds = doc.get("dataSet") or doc.get("dataSetId")
    return ds if isinstance(ds, str) else None


def record_batch(platform: Platform, tenant: Tenant, batch_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    """Create (or overwrite) the Catalog batch ``batch_id``. Returns the stored document.

    Expected ``doc`` fields (all optional; defaults in brackets): ``status`` ["loading"], ``relatedObjects``
    (``[{"type": "dataSet", "id": <dataset id>}]`` -- or give ``dataSet``), ``recordCount`` [0],
    ``failedRecordCount`` [0], ``errors`` [[]] (``{code, description, rows}``), ``created``/``updated`` [now],
    ``started``, ``completed`` (epoch ms), ``size`` (bytes) [0], ``metrics`` [{}], ``tags`` [{}],
    ``inputFormat`` [{"format": "parquet"}], ``externalId``, ``replay``, ``createdClient``/``createdUser``/
    ``updatedUser`` ["aep-local"], ``imsOrg`` [tenant org], ``version`` ["1.0.0"].
    The dataset's ``lastBatchId``/``lastBatchStatus`` follow.
    """
    now = platform.clock.peek_ms()  # may run on the engine thread: read, never tick
    body = copy.deepcopy(doc)
    dataset_id = batch_dataset(body)
    body.pop("dataSet", None)
    body.pop("dataSetId", None)
    if dataset_id and not any(isinstance(r, dict) and r.get("type") == "dataSet"
                              for r in body.get("relatedObjects") or []):
        body.setdefault("relatedObjects", []).append({"type": "dataSet", "id": dataset_id})
    stored: dict[str, Any] = {
        "imsOrg": tenant.org, "created": now, "updated": now, "createdClient": "aep-local",
        "createdUser": "aep-local@AdobeID", "updatedUser": "aep-local@AdobeID", "status": "loading",
        "relatedObjects": [], "version": "1.0.0", "tags": {}, "inputFormat": {"format": "parquet"},
        "recordCount": 0, "failedRecordCount": 0, "errors": [], "size": 0, "metrics": {},
    }
    stored.update(body)
    stored["status"] = str(stored.get("status") or "loading").lower()
    created = int(stored.get("created") or now)
    if platform.store.get(tenant, "batch", batch_id) is None:
        platform.store.insert(tenant, "batch", batch_id, stored, created=created, state=stored["status"],
                              parent=dataset_id)
    else:
        platform.store.replace(tenant, "batch", batch_id, stored, updated=int(stored.get("updated") or now),
                               state=stored["status"], parent=dataset_id)
    _touch_dataset(platform, tenant, dataset_id, batch_id, stored["status"])
    return copy.deepcopy(stored)


def update_batch(platform: Platform, tenant: Tenant, batch_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Merge ``changes`` (top-level fields, e.g. ``status``, ``recordCount``, ``failedRecordCount``, ``errors``,
    ``completed``, ``size``, ``metrics``) into a batch; keeps the dataset's last-batch fields current.
    Raises ``KeyError`` when the batch does not exist."""
    rec = platform.store.get(tenant, "batch", batch_id)
    if rec is None:
        raise KeyError(f"batch {batch_id} does not exist")
    doc = copy.deepcopy(rec.doc)
    doc.update(copy.deepcopy(changes))
    now = platform.clock.peek_ms()  # may run on the engine thread: read, never tick
    if "updated" not in changes:
        doc["updated"] = now
    doc["status"] = str(doc.get("status") or "loading").lower()
    dataset_id = batch_dataset(doc)
    platform.store.replace(tenant, "batch", batch_id, doc, updated=int(doc.get("updated") or now),
                           state=doc["status"], parent=dataset_id)
    if "status" in changes:
        _touch_dataset(platform, tenant, dataset_id, batch_id, doc["status"])
    return copy.deepcopy(doc)


def _touch_dataset(platform: Platform, tenant: Tenant, dataset_id: str | None, batch_id: str, status: str) -> None:
    if not dataset_id:
        return
    rec = platform.store.get(tenant, "dataSet", dataset_id)
    if rec is None:
        return
    doc = copy.deepcopy(rec.doc)
    doc["lastBatchId"] = batch_id
    doc["lastBatchStatus"] = status
    if status in SUCCESS_STATES:
        doc["lastSuccessfulBatch"] = batch_id
    platform.store.replace(tenant, "dataSet", dataset_id, doc, updated=rec.updated, name=doc.get("name"),
                           state=doc.get("state"))
