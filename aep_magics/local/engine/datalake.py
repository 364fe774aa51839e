"""The data lake: Parquet batch files on disk, written atomically, and their diagnostics.

Layout under ``platform.lake_dir``::

    <org>/<sandbox>/<dataSetId>/<batchId>/part-00000.parquet        the batch's data (successful batches only)
    <org>/<sandbox>/<dataSetId>/<batchId>/meta/input_files/part-00000.json
    <org>/<sandbox>/<dataSetId>/<batchId>/meta/row_errors/part-00000.json   failed records, JSON lines
    <org>/<sandbox>/<dataSetId>/<batchId>/meta/row_error_samples.json

A batch is written into ``<dataSetId>/.staging-<batchId>/``; :meth:`BatchWriter.commit` fsyncs every file and the
directory, then ``os.replace``-s the directory into place in one step. Only after that does the caller mark the
Catalog batch ``success``. A crash at any point leaves either no batch directory (the staging one is deleted by
:func:`.recovery.recover`) or a complete directory whose Catalog batch is not ``success`` — which recovery marks
``failed`` and removes, so readers never see a partial batch and the next run re-copies the window.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from .. import batches

if TYPE_CHECKING:  # pragma: no cover
    from ..platform import Platform
    from ..store import Tenant

log = logging.getLogger(__name__)

#: Batch ids: ULIDs from source flows (26 Crockford base32 chars) or 32 hex from the batch ingestion API.
BATCH_ID = re.compile(r"^(?:[0-9A-HJKMNP-TV-Z]{26}|[0-9a-f]{32})$")
#: Dataset file ids: ``<batchId>-<n>``.
FILE_ID = re.compile(r"^((?:[0-9A-HJKMNP-TV-Z]{26}|[0-9a-f]{32}))-([1-9][0-9]{0,5})$")
DATASET_ID = re.compile(r"^[0-9A-Za-z]{1,64}$")
DATA_PART = re.compile(r"^part-[0-9]{5}\.parquet$")
META_PATH = re.compile(r"^(?:row_error_samples\.json|row_errors(?:/part-[0-9]{5}\.json)?|input_files(?:/part-[0-9]{5}\.json)?)$")
_TENANT_PART = re.compile(r"^[A-Za-z0-9@._-]{1,128}$")
STAGING_PREFIX = ".staging-"
META_DIR = "meta"
#: Files bigger than this roll over to the next ``part-NNNNN.parquet``.
ROWS_PER_FILE = 5_000_000
PARQUET_COMPRESSION = "snappy"
#: Record batches that may wait for each background writer thread.
QUEUE_DEPTH = 2
#: Part files encoded in parallel by a background writer, once a batch has :data:`PARALLEL_MIN_ROWS` rows.
WRITER_THREADS = 2
PARALLEL_MIN_ROWS = 100_000


class LakePathError(ValueError):
    """An id or path that does not match its strict pattern, or that would leave the lake directory."""


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise LakePathError(f"invalid {what}: {value!r}")
    return value


def _inside(root: Path, path: Path) -> Path:
    """``path`` resolved, refusing anything that escapes ``root`` (symlinks included)."""
    root_r = root.resolve()
    resolved = path.resolve()
    if resolved != root_r and root_r not in resolved.parents:
        raise LakePathError(f"path escapes the data lake: {path}")
    return resolved


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DataLake:
    """Paths and reads of the lake rooted at ``root`` (``platform.lake_dir``)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    # -- paths ----------------------------------------------------------------------------------------------------
    def dataset_dir(self, tenant: Tenant, dataset_id: str) -> Path:
        org = _check(_TENANT_PART, tenant.org, "org")
        sandbox = _check(_TENANT_PART, tenant.sandbox, "sandbox")
        if org in (".", "..") or sandbox in (".", ".."):
            raise LakePathError("invalid tenant")
        _check(DATASET_ID, dataset_id, "dataset id")
        return self.root / org / sandbox / dataset_id

    def batch_dir(self, tenant: Tenant, dataset_id: str, batch_id: str) -> Path:
        _check(BATCH_ID, batch_id, "batch id")
        return self.dataset_dir(tenant, dataset_id) / batch_id

    def writer(self, tenant: Tenant, dataset_id: str, batch_id: str, schema: pa.Schema | None = None, *,
               background: bool = False) -> BatchWriter:
        return BatchWriter(self, tenant, dataset_id, batch_id, schema, background=background)

    # -- reads ----------------------------------------------------------------------------------------------------
    def data_files(self, tenant: Tenant, dataset_id: str, batch_id: str) -> list[Path]:
        d = self.batch_dir(tenant, dataset_id, batch_id)
        if not d.is_dir():
            return []
        return sorted(p for p in d.iterdir() if DATA_PART.fullmatch(p.name) and p.is_file())

    def data_file(self, tenant: Tenant, dataset_id: str, batch_id: str, name: str) -> Path:
        _check(DATA_PART, name, "file path")
        d = self.batch_dir(tenant, dataset_id, batch_id)
        return _inside(self.root, d / name)

    def meta_path(self, tenant: Tenant, dataset_id: str, batch_id: str, path: str) -> Path:
        _check(META_PATH, path, "meta path")
        d = self.batch_dir(tenant, dataset_id, batch_id) / META_DIR
        return _inside(self.root, d / path)

    def meta_listing(self, tenant: Tenant, dataset_id: str, batch_id: str, path: str | None = None) -> list[tuple[str, int]]:
        """``(relative name, size)`` of the meta files under ``path`` (a directory) or the whole meta directory."""
        base = self.batch_dir(tenant, dataset_id, batch_id) / META_DIR
        start = self.meta_path(tenant, dataset_id, batch_id, path) if path else base
        if not start.exists():
            return []
        if start.is_file():
            return [(path or start.name, start.stat().st_size)]
        out = []
        for p in sorted(start.rglob("*")):
            if p.is_file():
                out.append((p.relative_to(base).as_posix(), p.stat().st_size))
        return out

    def read_batch(self, tenant: Tenant, dataset_id: str, batch_id: str, *, flatten: bool = False) -> pa.Table:
        files = self.data_files(tenant, dataset_id, batch_id)
        if not files:
            return pa.table({})
        table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
        return flatten_table(table) if flatten else table

    def iter_batches(self, tenant: Tenant, dataset_id: str, batch_ids: Iterable[str], *, flatten: bool = False,
                     batch_size: int = 65536) -> Iterator[pa.RecordBatch]:
        """Stream the record batches of several lake batches (memory bounded)."""
        for batch_id in batch_ids:
            for f in self.data_files(tenant, dataset_id, batch_id):
                for rb in pq.ParquetFile(f).iter_batches(batch_size=batch_size):
                    yield flatten_batch(rb) if flatten else rb

    # -- maintenance ----------------------------------------------------------------------------------------------
    def staging_dirs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        # <org>/<sandbox>/<dataset>/.staging-<batch>
        return sorted(p for p in self.root.glob(f"*/*/*/{STAGING_PREFIX}*") if p.is_dir())

    def remove_batch(self, tenant: Tenant, dataset_id: str, batch_id: str, *, keep_meta: bool = False) -> None:
        d = self.batch_dir(tenant, dataset_id, batch_id)
        if not d.exists():
            return
        if keep_meta:
            for p in d.iterdir():
                if p.name != META_DIR:
                    p.unlink() if p.is_file() else shutil.rmtree(p, ignore_errors=True)
        else:
            shutil.rmtree(d, ignore_errors=True)


class _Part:
    """One open ``part-NNNNN.parquet`` of a batch being written, and the rows it holds."""

    def __init__(self, path: Path, schema: pa.Schema, dictionary: list[str]):
        self.path = path
        self.writer = pq.ParquetWriter(path, schema, compression=PARQUET_COMPRESSION, use_dictionary=dictionary)
        self.rows = 0

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        if isinstance(data, pa.RecordBatch):
            self.writer.write_batch(data)
        else:
            self.writer.write_table(data)
        self.rows += data.num_rows

    def close(self) -> None:
        self.writer.close()


class _Lane:
    """A sequence of part files fed in order, in the caller's thread or on a writer thread of its own.

    A writer thread takes at most :data:`QUEUE_DEPTH` waiting record batches, so memory stays bounded; Parquet encoding
    releases the GIL, so lanes encode in parallel with each other and with the caller's next record batch.
    """

    def __init__(self, owner: BatchWriter, background: bool):
        self.owner = owner
        self.part: _Part | None = None
        self.records = 0
        self.error: BaseException | None = None
        self.queue: queue.Queue | None = None
        self.thread: threading.Thread | None = None
        if background:
            self.queue = queue.Queue(maxsize=QUEUE_DEPTH)
            self.thread = threading.Thread(target=self._drain, name=f"lake-writer-{owner.batch_id}", daemon=True)
            self.thread.start()

    def put(self, data: pa.Table | pa.RecordBatch) -> None:
        if self.error is not None:
            self.flush()
        if self.queue is not None:
            self.queue.put(data)
        else:
            self.write_now(data)

    def _drain(self) -> None:
        assert self.queue is not None
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self.write_now(item)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                    self.error = exc

    def write_now(self, data: pa.Table | pa.RecordBatch) -> None:
        schema = self.owner.schema
        assert schema is not None
        if data.schema != schema:
            data = data.cast(schema)
        if self.part is None or self.part.rows >= ROWS_PER_FILE:
            self.close()
            self.part = self.owner._next_part(schema, data)
        self.part.write(data)
        self.records += data.num_rows

    def flush(self) -> None:
        """Wait for the writer thread to finish what was queued (and stop it); re-raise its error."""
        if self.thread is not None:
            assert self.queue is not None
            self.queue.put(None)
            self.thread.join()
            self.thread = None
            self.queue = None  # later writes (if any) happen in the caller's thread
        if self.error is not None:
            err, self.error = self.error, None
            raise err

    def close(self) -> None:
        if self.part is not None:
            self.part.close()
            self.part = None


class BatchWriter:
    """Writes one batch into a staging directory; :meth:`commit` publishes it atomically, :meth:`abort` drops it.

    Data goes to ``part-NNNNN.parquet`` files through streaming :class:`pyarrow.parquet.ParquetWriter` objects (one row
    group per written record batch), so memory stays bounded by the record batch size whatever the batch's row count.
    With ``background=True`` the Parquet encoding runs on writer threads: the first :data:`PARALLEL_MIN_ROWS` rows go
    to one part file, and the record batches after them alternate between :data:`WRITER_THREADS` part files encoded in
    parallel. Rows keep their order within a part file; across part files they do not (as on the platform, where a
    batch's files have no order).
    """

    def __init__(self, lake: DataLake, tenant: Tenant, dataset_id: str, batch_id: str, schema: pa.Schema | None = None,
                 *, background: bool = False):
        self.lake = lake
        self.batch_id = _check(BATCH_ID, batch_id, "batch id")
        self.dataset_dir = lake.dataset_dir(tenant, dataset_id)
        self.final_dir = self.dataset_dir / batch_id
        self.staging = self.dataset_dir / f"{STAGING_PREFIX}{batch_id}"
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir(parents=True)
        self.schema = schema
        self._background = background
        self._dictionary: list[str] | None = None
        self._lanes: list[_Lane] = []
        self._dispatched = 0  # rows handed to the lanes
        self._batches = 0  # record batches handed to the lanes after the first PARALLEL_MIN_ROWS rows
        self._part = -1
        self._part_lock = threading.Lock()
        self.files: list[Path] = []
        self._meta_handles: dict[str, Any] = {}
        self.closed = False

    # -- data -----------------------------------------------------------------------------------------------------
    @property
    def records(self) -> int:
        return sum(lane.records for lane in self._lanes)

    def _next_part(self, schema: pa.Schema, first: pa.Table | pa.RecordBatch) -> _Part:
        """Open the next part file; the first one decides which columns are dictionary-encoded (for all parts)."""
        with self._part_lock:
            if self._dictionary is None:
                self._dictionary = dictionary_columns(first)
            self._part += 1
            path = self.staging / f"part-{self._part:05d}.parquet"
            self.files.append(path)
            return _Part(path, schema, self._dictionary)

    def _lane(self, rows: int) -> _Lane:
        if not self._lanes:
            self._lanes.append(_Lane(self, self._background))
        if not self._background or self._dispatched < PARALLEL_MIN_ROWS:
            index = 0
        else:
            index = self._batches % WRITER_THREADS
            self._batches += 1
            if index == len(self._lanes):
                self._lanes.append(_Lane(self, self._background))
        self._dispatched += rows
        return self._lanes[index]

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        if data.num_rows == 0:
            return
        if self.schema is None:
            self.schema = data.schema
        self._lane(data.num_rows).put(data)

    def _flush(self) -> None:
        """Wait for the writer threads to finish what was queued (and stop them); re-raise the first error."""
        first: BaseException | None = None
        for lane in self._lanes:
            try:
                lane.flush()
            except BaseException as exc:  # noqa: BLE001 - every lane is stopped before the first error is raised
                first = first or exc
        if first is not None:
            raise first

    def _close_part(self) -> None:
        for lane in self._lanes:
            lane.close()

    def drop_data(self) -> None:
        """Forget the data written so far (a failed batch keeps only its diagnostics)."""
        try:
            self._flush()
        finally:
            self._close_part()
        for f in self.files:
            f.unlink(missing_ok=True)
        self.files = []
        self._lanes = []
        self._dispatched = self._batches = 0

    @property
    def output_bytes(self) -> int:
        if any(lane.thread is not None for lane in self._lanes):
            self._flush()
        return sum(f.stat().st_size for f in self.files if f.exists())

    # -- diagnostics ------------------------------------------------------------------------------------------------
    def _meta(self, rel: str) -> Path:
        _check(META_PATH, rel, "meta path")
        p = self.staging / META_DIR / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def append_meta_lines(self, rel: str, rows: Iterable[dict[str, Any]]) -> None:
        """Append JSON lines to a meta file (kept open until commit)."""
        fh = self._meta_handles.get(rel)
        if fh is None:
            fh = self._meta_handles[rel] = open(self._meta(rel), "w", encoding="utf-8")  # noqa: SIM115 - until commit
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str, separators=(",", ":")))
            fh.write("\n")

    def write_meta_json(self, rel: str, doc: Any) -> None:
        with open(self._meta(rel), "w", encoding="utf-8") as fh:
            json.dump(doc, fh, ensure_ascii=False, default=str, indent=1)

    # -- publish ----------------------------------------------------------------------------------------------------
    def _close_all(self) -> None:
        try:
            self._flush()
        finally:
            self._close_part()
        for fh in self._meta_handles.values():
            fh.close()
        self._meta_handles.clear()

    def commit(self) -> Path:
        """fsync every file and directory, then move the staging directory into place in one ``os.replace``."""
        if self.closed:
            raise RuntimeError("batch already committed or aborted")
        self._close_all()
        for p in sorted(self.staging.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if p.is_file():
                _fsync_file(p)
            else:
                _fsync_dir(p)
        _fsync_dir(self.staging)
        if self.final_dir.exists():  # a leftover of an earlier failed attempt with the same id
            shutil.rmtree(self.final_dir)
        os.replace(self.staging, self.final_dir)
        _fsync_dir(self.dataset_dir)
        self.closed = True
        self.files = sorted(self.final_dir / f.name for f in self.files)
        return self.final_dir

    def abort(self) -> None:
        if self.closed:
            return
        try:
            self._close_all()
        except BaseException:
            log.debug("closing an aborted batch failed", exc_info=True)
        shutil.rmtree(self.staging, ignore_errors=True)
        self.closed = True


# -- Parquet encoding ------------------------------------------------------------------------------------------------
#: A leaf column is dictionary-encoded when its first record batch has at most this share of distinct values.
DICTIONARY_MAX_DISTINCT = 0.3
#: Leaves of at least twice this many values are first judged on their first half.
DICTIONARY_PREFIX_MIN = 1024


def _leaves(arr: pa.Array, path: str) -> Iterator[tuple[str, pa.Array]]:
    """``(Parquet column path, values)`` of every leaf under ``arr`` (struct fields, map keys/values, list items)."""
    t = arr.type
    if pa.types.is_struct(t):
        for i in range(t.num_fields):
            yield from _leaves(arr.field(i), f"{path}.{t.field(i).name}")
    elif pa.types.is_map(t):
        yield from _leaves(arr.keys, f"{path}.key_value.key")
        yield from _leaves(arr.items, f"{path}.key_value.value")
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        yield from _leaves(arr.flatten(), f"{path}.list.element")
    else:
        yield path, arr


def dictionary_columns(data: pa.Table | pa.RecordBatch) -> list[str]:
    """The leaf columns worth dictionary-encoding, judged on ``data``: few distinct values. Skipping the dictionary
    attempt on high-cardinality columns (e-mails, ids) saves the encoder's try-and-fall-back work."""
    import pyarrow.compute as pc

    out = []
    for name in data.schema.names:
        col = data.column(name)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        for path, leaf in _leaves(col, name):
            n = len(leaf) - leaf.null_count
            if n == 0 or pa.types.is_boolean(leaf.type):
                out.append(path)
                continue
            limit = max(1, n * DICTIONARY_MAX_DISTINCT)
            try:
                # The first half's distinct values are a lower bound of the whole's: past the limit already, the
                # column is high-cardinality without hashing (and allocating a hash table for) its other half.
                half = len(leaf) // 2
                if half >= DICTIONARY_PREFIX_MIN and pc.count_distinct(leaf.slice(0, half)).as_py() > limit:
                    continue
                distinct = pc.count_distinct(leaf).as_py()
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
                continue
            if distinct <= limit:
                out.append(path)
    return out


# -- nested <-> flattened ------------------------------------------------------------------------------------------
def flatten_table(table: pa.Table) -> pa.Table:
    """Nested XDM structs to dotted column names (``personalEmail.address``); maps and lists stay as they are."""
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def flatten_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    while any(pa.types.is_struct(f.type) for f in batch.schema):
        batch = batch.flatten()
    return batch


# -- tenants -----------------------------------------------------------------------------------------------------------
def _tenants(platform: Platform, kind: str) -> list[Tenant]:
    from ..store import Tenant

    rows = platform.store._conn().execute(
        "SELECT DISTINCT org, sandbox FROM resources WHERE kind=?", (kind,)).fetchall()
    return [Tenant(r[0], r[1]) for r in rows]


# -- Catalog batch records ----------------------------------------------------------------------------------------------
def create_batch_record(platform: Platform, tenant: Tenant, batch_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    """Create the Catalog batch (kind ``batch``, parent = its dataset) with :func:`.batches.record_batch`."""
    return batches.record_batch(platform, tenant, batch_id, doc)


def update_batch_record(platform: Platform, tenant: Tenant, batch_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Merge ``changes`` into a Catalog batch and keep its dataset's ``lastBatchId``/``lastBatchStatus`` current."""
    return batches.update_batch(platform, tenant, batch_id, changes)


def _batch_dataset(doc: dict[str, Any]) -> str | None:
    for rel in doc.get("relatedObjects", []) or []:
        if rel.get("type") == "dataSet":
            return rel.get("id")
    return None
