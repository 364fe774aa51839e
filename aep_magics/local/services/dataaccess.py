"""Data Access API (``/data/foundation/export``): read the data lake's batch files and diagnostics back.

- ``GET /batches/{batchId}/files`` — the batch's dataset files (one ``<batchId>-1`` per successful batch);
- ``GET /batches/{batchId}/failed`` — a failed batch's files (its ``row_errors`` parts);
- ``GET /batches/{batchId}/meta[?path=]`` — meta listing, or one file: ``row_errors``, ``row_error_samples.json``,
  ``input_files`` (directories are listed, files are returned as they are);
- ``GET /files/{dataSetFileId}[?path=part-00000.parquet]`` — the file's parts, or the raw bytes of one part
  (``Range: bytes=a-b`` gives 206 with ``Content-Range``; HEAD answers the same headers);
- ``GET /datasets/{id}/preview`` — the first 100 rows of the dataset's successful batches, as JSON objects.

Every id and path is checked against a strict pattern and every resolved path must stay under the lake directory;
anything else is a 400. Only batches of the caller's (org, sandbox) are visible, and only ``success`` batches have
dataset files. ``length`` values are strings, as in the OpenAPI spec (``files.data.item.length``).
"""

from __future__ import annotations

import re
from typing import Any

from .. import errors
from ..engine.datalake import (
    BATCH_ID,
    DATASET_ID,
    FILE_ID,
    DataLake,
    LakePathError,
    _batch_dataset,
    flatten_table,
)
from .base import Call, Reply, Route, Service

BASE = "/data/foundation/export"
PAGE_LIMIT = 100
PREVIEW_ROWS = 100
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class DataAccessService(Service):
    def __init__(self, platform):
        super().__init__(platform)
        self.lake = DataLake(platform.lake_dir)

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{BASE}/batches/<batch_id>/files", self.batch_files),
            Route("GET", f"{BASE}/batches/<batch_id>/failed", self.batch_failed),
            Route("GET", f"{BASE}/batches/<batch_id>/meta", self.batch_meta),
            Route("GET", f"{BASE}/files/<file_id>", self.file),
            Route("GET", f"{BASE}/datasets/<dataset_id>/preview", self.preview),
        ]

    # -- helpers --------------------------------------------------------------------------------------------------
    def _href(self, path: str) -> str:
        base = (getattr(self.platform, "base_url", None) or "https://platform.adobe.io").rstrip("/")
        return f"{base}{BASE}{path}"

    def _batch(self, call: Call, batch_id: str) -> tuple[dict[str, Any], str]:
        if not BATCH_ID.fullmatch(batch_id or ""):
            raise errors.problem(400, "BadRequestError", f"Invalid batch id: {batch_id!r}")
        rec = self.store.get(call.tenant, "batch", batch_id)
        if rec is None:
            raise errors.problem(404, "NotFoundError", f"Batch {batch_id} not found")
        dataset_id = _batch_dataset(rec.doc)
        if not dataset_id or not DATASET_ID.fullmatch(dataset_id):
            raise errors.problem(404, "NotFoundError", f"Batch {batch_id} has no dataset")
        return rec.doc, dataset_id

    def _page(self, call: Call, items: list[Any]) -> tuple[list[Any], dict[str, int]]:
        try:
            start = int(call.arg("start", "0") or 0)
            limit = int(call.arg("limit", str(PAGE_LIMIT)) or PAGE_LIMIT)
        except ValueError:
            raise errors.problem(400, "BadRequestError", "start and limit must be integers") from None
        if start < 0 or not 1 <= limit <= PAGE_LIMIT:
            raise errors.problem(400, "BadRequestError", f"limit must be between 1 and {PAGE_LIMIT}, start >= 0")
        page = items[start:start + limit]
        return page, {"limit": limit, "count": len(page)}

    # -- batches ----------------------------------------------------------------------------------------------------
    def batch_files(self, call: Call) -> Reply:
        batch_id = call.params["batch_id"]
        doc, dataset_id = self._batch(call, batch_id)
        items = []
        if str(doc.get("status", "")).lower() in ("success", "active"):
            try:
                has_files = bool(self.lake.data_files(call.tenant, dataset_id, batch_id))
            except LakePathError as e:
                raise errors.problem(400, "BadRequestError", str(e)) from None
            if has_files:
                ds = self.store.get(call.tenant, "dataSet", dataset_id)
                view_id = (ds.doc.get("viewId") if ds else None) or dataset_id
                file_id = f"{batch_id}-1"
                items.append({
                    "dataSetFileId": file_id,
                    "dataSetViewId": view_id,
                    "version": "1.0.0",
                    "created": str(doc.get("created", "")),
                    "updated": str(doc.get("updated", doc.get("created", ""))),
                    "records": str(doc.get("recordCount", 0)),
                    "size": str(doc.get("size", 0)),
                    "isValid": True,
                    "_links": {"self": {"href": self._href(f"/files/{file_id}")}},
                })
        page, meta = self._page(call, items)
        return Reply(200, {"data": page, "_page": meta})

    def batch_failed(self, call: Call) -> Reply:
        batch_id = call.params["batch_id"]
        _doc, dataset_id = self._batch(call, batch_id)
        path = call.arg("path")
        if path:
            return self._meta_file(call, dataset_id, batch_id, path if "/" in path else f"row_errors/{path}")
        try:
            listing = self.lake.meta_listing(call.tenant, dataset_id, batch_id, "row_errors")
        except LakePathError as e:
            raise errors.problem(400, "BadRequestError", str(e)) from None
        items = [{"name": name.split("/", 1)[-1], "length": str(size),
                  "_links": {"self": {"href": self._href(f"/batches/{batch_id}/failed?path={name.split('/', 1)[-1]}")}}}
                 for name, size in listing]
        page, meta = self._page(call, items)
        return Reply(200, {"data": page, "_page": meta})

    def batch_meta(self, call: Call) -> Reply:
        batch_id = call.params["batch_id"]
        _doc, dataset_id = self._batch(call, batch_id)
        path = call.arg("path")
        try:
            if path:
                target = self.lake.meta_path(call.tenant, dataset_id, batch_id, path)
                if target.is_file():
                    return self._meta_file(call, dataset_id, batch_id, path)
                if not target.is_dir() and path not in ("row_errors", "input_files"):
                    raise errors.problem(404, "NotFoundError", f"The path {path} is not found.")
            listing = self.lake.meta_listing(call.tenant, dataset_id, batch_id, path)
        except LakePathError as e:
            raise errors.problem(400, "BadRequestError", str(e)) from None
        items = [{"name": name, "length": str(size),
                  "_links": {"self": {"href": self._href(f"/batches/{batch_id}/meta?path={name}")}}}
                 for name, size in listing]
        page, meta = self._page(call, items)
        return Reply(200, {"data": page, "_page": meta})

    def _meta_file(self, call: Call, dataset_id: str, batch_id: str, path: str) -> Reply:
        try:
            target = self.lake.meta_path(call.tenant, dataset_id, batch_id, path)
        except LakePathError as e:
            raise errors.problem(400, "BadRequestError", str(e)) from None
        if not target.is_file():
            raise errors.problem(404, "NotFoundError", f"The path {path} is not found.")
        ctype = "application/json" if target.name.endswith(".json") else "application/octet-stream"
        return Reply(200, target.read_bytes(), content_type=ctype)

    # -- files ------------------------------------------------------------------------------------------------------
    def _file(self, call: Call) -> tuple[str, str, str]:
        file_id = call.params["file_id"]
        m = FILE_ID.fullmatch(file_id or "")
        if not m:
            raise errors.problem(400, "BadRequestError", f"Invalid dataSetFileId: {file_id!r}")
        batch_id = m.group(1)
        if m.group(2) != "1":
            raise errors.problem(404, "NotFoundError", f"File {file_id} not found")
        doc, dataset_id = self._batch(call, batch_id)
        if str(doc.get("status", "")).lower() not in ("success", "active"):
            raise errors.problem(404, "NotFoundError", f"File {file_id} not found")
        return file_id, batch_id, dataset_id

    def file(self, call: Call) -> Reply:
        file_id, batch_id, dataset_id = self._file(call)
        path = call.arg("path")
        try:
            if not path:
                files = self.lake.data_files(call.tenant, dataset_id, batch_id)
                items = [{"name": f.name, "length": str(f.stat().st_size),
                          "_links": {"self": {"href": self._href(f"/files/{file_id}?path={f.name}")}}}
                         for f in files]
                page, meta = self._page(call, items)
                return Reply(200, {"data": page, "_page": meta})
            target = self.lake.data_file(call.tenant, dataset_id, batch_id, path)
        except LakePathError as e:
            raise errors.problem(400, "BadRequestError", str(e)) from None
        if not target.is_file():
            raise errors.problem(404, "NotFoundError", f"The file {path} is not found.")
        size = target.stat().st_size
        headers = {"Accept-Ranges": "bytes"}
        rng = call.headers.get("Range") or call.headers.get("range")
        if rng:
            m = _RANGE.fullmatch(rng.strip())
            if not m or (not m.group(1) and not m.group(2)):
                raise errors.problem(416, "RangeNotSatisfiable", f"Unsupported range: {rng}")
            if m.group(1):
                first = int(m.group(1))
                last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:  # suffix range: the last n bytes
                first, last = max(0, size - int(m.group(2))), size - 1
            if first >= size or first > last:
                return Reply(416, {"title": "RangeNotSatisfiable", "status": 416,
                                   "detail": f"bytes {first}-{last} outside 0-{size - 1}"},
                             headers={"Content-Range": f"bytes */{size}"})
            with open(target, "rb") as fh:
                fh.seek(first)
                body = fh.read(last - first + 1)
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
            return Reply(206, body, headers=headers, content_type="application/octet-stream")
        return Reply(200, target.read_bytes(), headers=headers, content_type="application/octet-stream")

    # -- preview ----------------------------------------------------------------------------------------------------
    def preview(self, call: Call) -> Reply:
        dataset_id = call.params["dataset_id"]
        if not DATASET_ID.fullmatch(dataset_id or ""):
            raise errors.problem(400, "BadRequestError", f"Invalid dataset id: {dataset_id!r}")
        if self.store.get(call.tenant, "dataSet", dataset_id) is None:
            raise errors.problem(404, "NotFoundError", f"Dataset {dataset_id} not found")
        batches = self.store.select(call.tenant, "batch", where="parent = ?", params=[dataset_id])
        ids = [b.id for b in batches if str(b.doc.get("status", "")).lower() in ("success", "active")]
        rows: list[dict[str, Any]] = []
        flat = call.arg("flatten", "false").lower() == "true"
        for rb in self.lake.iter_batches(call.tenant, dataset_id, ids, batch_size=PREVIEW_ROWS):
            import pyarrow as pa

            table = pa.Table.from_batches([rb])
            if flat:
                table = flatten_table(table)
            rows.extend(table.slice(0, PREVIEW_ROWS - len(rows)).to_pylist())
            if len(rows) >= PREVIEW_ROWS:
                break
        return Reply(200, {"data": _jsonable(rows)})


def _jsonable(value: Any) -> Any:
    """Parquet values to JSON: maps (lists of key/value tuples) to objects, timestamps to ISO strings."""
    import datetime as _dt

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return {k: _jsonable(v) for k, v in value}
        return [_jsonable(v) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return value
