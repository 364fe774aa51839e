"""Executes one flow run: copy a window of the source table, map it, validate it, promote it to the data lake.

Pipeline (:class:`Pipeline`, streaming, one record batch at a time — memory is bounded by the batch size):

1. ``platform.shop.advance(windowEnd)`` so emulated time produces new and updated orders, then
   ``shop.scan(table, columns, window=(windowStart, windowEnd], delta_column)`` yields record batches;
2. the flow's mapping set (``compile_mappings(...).apply``) turns each into flattened destination columns; a
   transformation error nullifies its column and the rest of the row goes on (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/functions) — it is logged as a
   ``MAPPER-3700-400`` warning, and becomes a row failure only when validation then rejects the row (e.g. a
   required field left empty);
3. the columns are validated against the target dataset's XDM schema (:mod:`.validate`); rows with any error are
   failed records, never silently dropped: they are counted, their errors (row, field, code, message) summarised,
   and — with ``errorDiagnosticsEnabled`` — written to ``row_errors`` and ``row_error_samples.json``;
4. valid rows become nested XDM records (``pa.StructArray`` from the dotted paths; identity mappings fill
   ``identityMap``) and stream into the batch's Parquet file in a staging directory (:mod:`.datalake`).

Whether a run with failed records succeeds (our reading of the optionSpec, https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce):

- with ``options.partialIngestionPercent`` = p (partial ingestion on), the run fails when
  ``failed / input * 100 > p`` and succeeds otherwise (the valid rows are promoted, the failed ones reported);
- without it (partial ingestion off), any failed record fails the run;
- a failed run promotes nothing: the Catalog batch becomes ``failed`` and only its diagnostics are kept.

Status progression ``scheduled → inProgress → success | failed`` is persisted at every step. The commit point of a
successful run is one store transaction: Catalog batch ``success``, run ``success``, the flow's ``lastRunDetails``
and the schedule watermark (where the next incremental window starts) change together, after the batch directory
was moved into place — so a crash anywhere leaves a state :func:`.recovery.recover` can repair without losing or
duplicating a record. That transaction first checks that the target dataset still exists: a dataset deleted during
the run (Catalog deletes it and its batches in one transaction) fails the run, and its batch record and files go.

In deterministic mode (a seed) a run's timestamps come from its own clock that starts at the run's scheduled
time, and its ids from a generator seeded with (platform seed, run id): outputs are reproducible however the
run's execution interleaves with HTTP calls on other threads.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import queue
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..ids import Ids
from .common import IdentitySpec, RunSetupError
from .common import ms_to_dt as _ms_to_dt
from .datalake import BatchWriter, DataLake, create_batch_record, update_batch_record

if TYPE_CHECKING:  # pragma: no cover
    from ..platform import Platform
    from ..store import Tenant

log = logging.getLogger(__name__)

DEFAULT_DELTA_COLUMN = "Updated_At"
BATCH_SIZE = 65_536
SAMPLE_ERRORS = 100
MAPPER_ERROR = "MAPPER-3700-400"
INGEST_ERRORS = "INGEST-1212-400"
CRASH_CODE = "CONNECTOR-2001-500"
#: Run activities in the newer documented shape ("Monitor dataflows" API page,
#: https://experienceleague.adobe.com/en/docs/experience-platform/dataflows/api/monitor): UUID ids, a ``name``, and
#: ``activityRefs`` naming the ids. The ids are the ones that page shows, fixed per activity type (UNCONFIRMED, see
#: docs/deviations.md).
COPY_ACTIVITY_ID = "4f008a00-3a04-11eb-adc1-0242ac120002"
COPY_ACTIVITY_NAME = "Copy Activity"
PROMOTION_ACTIVITY_ID = "37b34f84-1ada-11eb-adc1-0242ac120002"
PROMOTION_ACTIVITY_NAME = "Promotion Activity"
FAILURE_CODE = "CONNECTOR-2001-500"


# -- time and ids of a run -------------------------------------------------------------------------------------------
class RunClock:
    """``now_ms()`` for one run: the platform clock, or — deterministic — a private clock that starts at ``start_ms``
    and ticks like the platform's (1 s per reading)."""

    def __init__(self, platform: Platform, start_ms: int):
        self.platform = platform
        self.deterministic = platform.clock.deterministic
        self._now = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        if not self.deterministic:
            return self.platform.clock.now_ms()
        with self._lock:
            self._now += 1000
            return self._now

    def peek_ms(self) -> int:
        return self._now if self.deterministic else self.platform.clock.peek_ms()


def run_ids(platform: Platform, run_id: str) -> Ids:
    if platform.seed is None:
        return platform.ids
    digest = hashlib.sha256(f"{platform.seed}:{run_id}".encode()).digest()
    return Ids(int.from_bytes(digest[:8], "big"))


# -- run documents ---------------------------------------------------------------------------------------------------
def _run_doc_skeleton(platform: Platform, tenant: Tenant, flow: dict[str, Any], run_id: str, now: int,
                      params: dict[str, Any] | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": run_id,
        "flowId": flow["id"],
        "flowSpec": flow.get("flowSpec", {}),
        "createdAt": now,
        "updatedAt": now,
        "createdBy": flow.get("createdBy", "aep-local"),
        "updatedBy": flow.get("updatedBy", "aep-local"),
        "createdClient": flow.get("createdClient", "aep-local"),
        "updatedClient": flow.get("updatedClient", "aep-local"),
        "sandboxId": flow.get("sandboxId", ""),
        "sandboxName": flow.get("sandboxName", tenant.sandbox),
        "imsOrgId": flow.get("imsOrgId", tenant.org),
        "etag": platform.ids.etag(),
        "metrics": {"statusSummary": {"status": "scheduled"}},
        "activities": [],
    }
    if params:
        doc["params"] = params
    return doc


def create_scheduled_run(platform: Platform, tenant: Tenant, flow: dict[str, Any], due_ms: int) -> str:
    """Create the run of ``flow`` due at ``due_ms`` (status ``scheduled``); its window ends at the due time."""
    run_id = platform.ids.uuid()
    now = platform.clock.now_ms()
    doc = _run_doc_skeleton(platform, tenant, flow, run_id, now, {"startTime": due_ms // 1000})
    doc["providerRefId"] = f"M-{flow['id']}-incremental-0:{run_id}"
    platform.store.insert(tenant, "run", run_id, doc, created=now, etag=doc["etag"], state="scheduled",
                          parent=flow["id"])
    return run_id


def _save_run(platform: Platform, tenant: Tenant, doc: dict[str, Any], status: str, now: int,
              ids: Ids | None = None) -> None:
    doc["updatedAt"] = now
    doc["etag"] = (ids or platform.ids).etag()
    platform.store.replace(tenant, "run", doc["id"], doc, updated=now, etag=doc.get("etag"), state=status,
                           parent=doc.get("flowId"), name=doc.get("name"))


def fail_interrupted_run(platform: Platform, tenant: Tenant, run_id: str) -> None:
    """A run found ``inProgress`` at startup: the platform stopped under it. Mark it ``failed``."""
    rec = platform.store.get(tenant, "run", run_id)
    if rec is None:
        return
    doc = rec.doc
    now = platform.clock.now_ms()
    err = {"code": CRASH_CODE, "message": "Error occurred at promotion activity: the platform stopped during the run."}
    metrics = doc.setdefault("metrics", {})
    metrics.setdefault("durationSummary", {}).setdefault("startedAtUTC", rec.created)
    metrics["durationSummary"]["completedAtUTC"] = now
    metrics["statusSummary"] = {"status": "failed", "errors": [err], "activityRefs": [PROMOTION_ACTIVITY_ID]}
    for act in doc.get("activities", []):
        if act.get("statusSummary", {}).get("status") == "inProgress":
            act["statusSummary"]["status"] = "failed"
            act["statusSummary"]["errors"] = [err]
            act.setdefault("durationSummary", {})["completedAtUTC"] = now
            act["updatedAtUTC"] = now
    with platform.store.transaction():
        _save_run(platform, tenant, doc, "failed", now)


# -- the data pipeline -----------------------------------------------------------------------------------------------
def nest_columns(columns: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """Dotted destination paths → top-level arrays, nested with ``pa.StructArray.from_arrays``.

    A struct is null on the rows where all its children are null (an XDM object with no values is left out)."""
    tree: dict[str, Any] = {}
    for path, arr in columns.items():
        node = tree
        parts = path.split(".")
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):  # a leaf and an object with the same name: keep the leaf
                break
            node = nxt
        else:
            node[parts[-1]] = arr

    def build(node: dict[str, Any]) -> pa.Array:
        names = list(node)
        arrays = [build(v) if isinstance(v, dict) else v for v in (node[n] for n in names)]
        valid = None
        for a in arrays:
            v = a.is_valid()
            valid = v if valid is None else pc.or_(valid, v)
        mask = pc.invert(valid) if valid is not None else None
        return pa.StructArray.from_arrays(arrays, names=names, mask=mask)

    return {name: build(v) if isinstance(v, dict) else v for name, v in tree.items()}


#: ``identityMap`` items carry ``id`` and ``primary``; ``authenticatedState`` is left out (XDM default: ambiguous).
IDENTITY_ITEM = pa.struct([("id", pa.string()), ("primary", pa.bool_())])
IDENTITY_MAP = pa.map_(pa.string(), pa.list_(IDENTITY_ITEM))


#: The ECID identity namespace and the rule its values follow (38 characters, digits only).
ECID_NAMESPACE = "ECID"
ECID_RULE = r"^[0-9]{38}$"


def build_identity_map(n: int, identities: list[tuple[IdentitySpec, pa.Array]]) -> pa.Array:
    """``identityMap`` {namespace: [{id, primary}]} built column-wise (no per-row Python).

    Rows without any identity value get a null map; each row's entries follow the mapping order. With one identity,
    or when every row has every identity, the ids are the identity columns themselves (without their nulls, or taken
    in row order when there are several) and keys, flags and item offsets are slices of arrays built once per row
    count (:func:`_entry_layout`)."""
    if not identities:
        return pa.nulls(n, IDENTITY_MAP)
    k = len(identities)
    values = [arr.cast(pa.string()) for _, arr in identities]
    if k == 1 or all(v.null_count == 0 for v in values):
        layout = _entry_layout(n, tuple(spec.namespace for spec, _ in identities),
                               tuple(spec.primary for spec, _ in identities))
        offsets, mask, total = layout.offsets, None, n * k
        if k > 1:
            id_values = pa.concat_arrays(values).take(layout.interleave)
        elif values[0].null_count == 0:
            id_values = values[0]
        else:                                               # rows without the value: empty, null maps
            valid = values[0].is_valid()
            id_values = values[0].filter(valid)
            total = len(id_values)
            offsets = pa.concat_arrays([_ZERO_OFFSET, pc.cumulative_sum(valid.cast(pa.int32()))])
            mask = pc.invert(valid)
        items = pa.StructArray.from_arrays([id_values, layout.primary.slice(0, total)], fields=list(IDENTITY_ITEM))
        lists = pa.ListArray.from_arrays(layout.list_offsets.slice(0, total + 1), items, type=pa.list_(IDENTITY_ITEM))
        return pa.MapArray.from_arrays(offsets, layout.keys.slice(0, total), lists, type=IDENTITY_MAP, mask=mask)
    valid_m = np.stack([np.asarray(v.is_valid().to_numpy(zero_copy_only=False), dtype=bool) for v in values],
                       axis=1)                              # n x k
    counts = valid_m.sum(axis=1)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    rows, cols = np.nonzero(valid_m)                        # row-major: per row, namespaces in mapping order
    total = len(rows)
    flat_index = cols.astype(np.int64) * n + rows.astype(np.int64)
    id_values = pa.concat_arrays(values).take(pa.array(flat_index))
    index = pa.array(cols.astype(np.int64))
    keys = pa.array([spec.namespace for spec, _ in identities], pa.string()).take(index)
    primary = pa.array([spec.primary for spec, _ in identities], pa.bool_()).take(index)
    items = pa.StructArray.from_arrays([id_values, primary], fields=list(IDENTITY_ITEM))
    lists = pa.ListArray.from_arrays(pa.array(np.arange(total + 1, dtype=np.int32)), items,
                                     type=pa.list_(IDENTITY_ITEM))
    mask = pa.array(counts == 0)
    return pa.MapArray.from_arrays(pa.array(offsets), keys, lists, type=IDENTITY_MAP, mask=mask)


_ZERO_OFFSET = pa.array([0], pa.int32())


@dataclass(frozen=True)
class _EntryLayout:
    """The parts of an ``identityMap`` with k entries on each of n rows: map offsets, keys, ``primary`` flags, the
    item lists' offsets (one item per entry) and, for k > 1, the index that interleaves the k id columns."""

    offsets: pa.Array
    keys: pa.Array
    primary: pa.Array
    list_offsets: pa.Array
    interleave: pa.Array | None


@functools.lru_cache(maxsize=8)
def _entry_layout(n: int, namespaces: tuple[str, ...], primaries: tuple[bool | None, ...]) -> _EntryLayout:
    k = len(namespaces)
    total = n * k
    entry = np.tile(np.arange(k), n)
    interleave = None
    if k > 1:
        interleave = pa.array(entry * n + np.repeat(np.arange(n), k))
    return _EntryLayout(
        offsets=pa.array(np.arange(n + 1, dtype=np.int32) * np.int32(k)),
        keys=pa.array(list(namespaces), pa.string()).take(pa.array(entry)),
        primary=pa.array(list(primaries), pa.bool_()).take(pa.array(entry)),
        list_offsets=pa.array(np.arange(total + 1, dtype=np.int32)),
        interleave=interleave)


@dataclass
class RunStats:
    input_records: int = 0
    output_records: int = 0
    failed_records: int = 0
    warning_records: int = 0
    skipped_records: int = 0
    input_bytes: int = 0
    error_counts: dict[str, int] = field(default_factory=dict)   # code -> records
    error_messages: dict[str, str] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)


class Pipeline:
    """Map → coerce → validate → split → cast → nest → write, one record batch at a time.

    No per-row Python on the hot path: only failed (or warned) rows are looked at one by one.
    ``mapper(batch) -> (pa.Table of dotted destination columns, [(row, destination, code, message)])``;
    ``schema`` is the target's :class:`~.validate.TargetSchema` (None: no conversion, no validation).
    """

    def __init__(self, mapper: Callable, schema: Any | None = None, *, identities: list[IdentitySpec] | None = None,
                 writer: BatchWriter | None = None, diagnostics: bool = False):
        self.mapper = mapper
        self.schema = schema
        self.identities = identities or []
        self.types: dict[str, pa.DataType] = dict(schema.types) if schema is not None else {}
        self.writer = writer
        self.diagnostics = diagnostics
        self.stats = RunStats()
        self.out_schema: pa.Schema | None = None

    def process(self, batch: pa.RecordBatch) -> pa.Table | None:
        n = batch.num_rows
        offset = self.stats.input_records
        self.stats.input_records += n
        self.stats.input_bytes += batch.nbytes
        if n == 0:
            return None
        mapped, transform_errors = self.mapper(batch)
        columns: dict[str, pa.Array] = {}
        for name in mapped.column_names:
            arr = mapped.column(name)
            columns[name] = _single_array(arr)
        if self.schema is not None:
            columns, coerce_errors = self.schema.coerce(columns)
            if coerce_errors:
                transform_errors = sorted([*transform_errors, *coerce_errors], key=lambda e: e[0])
            valid_mask, validation_errors = self.schema.validate(columns)
        else:
            valid_mask, validation_errors = np.ones(n, dtype=bool), []
        if transform_errors or validation_errors:
            self._record_errors(batch, offset, valid_mask, transform_errors, validation_errors)
        skipped = self._invalid_ecids(columns, valid_mask)
        if skipped is not None:
            self.stats.skipped_records += int(skipped.sum())
            valid_mask = valid_mask & ~skipped
        n_valid = int(valid_mask.sum())
        self.stats.output_records += n_valid
        if n_valid == 0:
            return None
        if n_valid < n:
            mask = pa.array(valid_mask)
            columns = {k: v.filter(mask) for k, v in columns.items()}
        if self.types:
            from .validate import cast_column

            columns = {k: cast_column(v, self.types[k]) if k in self.types else v for k, v in columns.items()}
        ident_cols = [(spec, columns[spec.column]) for spec in self.identities if spec.column in columns]
        nested = nest_columns(columns)
        if self.identities:
            nested["identityMap"] = build_identity_map(n_valid, ident_cols)
        table = pa.Table.from_pydict(nested)
        if self.out_schema is None:
            self.out_schema = table.schema
        elif table.schema != self.out_schema:
            table = _conform(table, self.out_schema)
        if self.writer is not None:
            self.writer.write(table)
        return table

    def _invalid_ecids(self, columns: dict[str, pa.Array], valid_mask: np.ndarray) -> np.ndarray | None:
        """Rows (among the valid ones) whose ECID identity value breaks Adobe's identity rules: exactly 38
        characters, digits only. Such records are skipped, not failed ("Data quality" page:
        https://experienceleague.adobe.com/en/docs/experience-platform/ingestion/quality/overview)."""
        skipped = None
        for spec in self.identities:
            if spec.namespace.upper() != ECID_NAMESPACE or spec.column not in columns:
                continue
            values = columns[spec.column].cast(pa.string())
            ok = pc.fill_null(pc.match_substring_regex(values, ECID_RULE), True)
            bad = ~np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool) & valid_mask
            skipped = bad if skipped is None else (skipped | bad)
        return skipped

    def _record_errors(self, batch: pa.RecordBatch, offset: int, valid_mask: np.ndarray,
                       transform_errors: list, validation_errors: list) -> None:
        # (row, code) -> first message: a failed record counts once per error code, whatever its field count.
        first: dict[tuple[int, str], str] = {}
        for row, _dest, code, message in transform_errors:
            first.setdefault((int(row), code or MAPPER_ERROR), message)
        for row, _path, code, message in validation_errors:
            first.setdefault((int(row), code), message)
        rows = {r for r, _ in first}
        failed_rows = sorted(r for r in rows if not valid_mask[r])
        self.stats.warning_records += len(rows) - len(failed_rows)
        self.stats.failed_records += len(failed_rows)
        counts, messages = self.stats.error_counts, self.stats.error_messages
        for (r, code), message in first.items():      # each list is in row order
            if not valid_mask[r]:
                counts[code] = counts.get(code, 0) + 1
                messages.setdefault(code, message)
        if not failed_rows or not (self.diagnostics or len(self.stats.samples) < SAMPLE_ERRORS):
            return
        if not self.diagnostics:
            failed_rows = failed_rows[:SAMPLE_ERRORS - len(self.stats.samples)]
        wanted = set(failed_rows)
        per_row: dict[int, list[dict[str, Any]]] = {r: [] for r in failed_rows}
        for row, dest, code, message in transform_errors:
            if int(row) in wanted:
                per_row[int(row)].append({"code": code or MAPPER_ERROR, "columnName": dest, "message": message})
        for row, path, code, message in validation_errors:
            if int(row) in wanted:
                per_row[int(row)].append({"code": code, "columnName": path, "message": message})
        records = batch.take(pa.array(failed_rows, pa.int64())).to_pylist()
        lines = []
        for r, record in zip(failed_rows, records):
            line = {"rowNumber": offset + r, "record": record, "_errors": per_row[r]}
            lines.append(line)
            if len(self.stats.samples) < SAMPLE_ERRORS:
                self.stats.samples.append(line)
        if self.diagnostics and self.writer is not None:
            self.writer.append_meta_lines("row_errors/part-00000.json", lines)


def _single_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One array for a column: its only chunk as it is (``combine_chunks`` copies even a single chunk)."""
    if isinstance(arr, pa.ChunkedArray):
        return arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    return arr


_DONE = object()


def prefetch(source: Iterable[Any], depth: int = 2) -> Iterator[Any]:
    """Iterate ``source`` on a background thread, ``depth`` items ahead (Parquet decoding releases the GIL, so
    reading overlaps with the caller's work). Errors surface in the caller; closing the iterator stops the thread."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=run, name="lake-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Make a later record batch match the schema of the first (columns missing → nulls; types cast)."""
    cols = []
    for f in schema:
        if f.name in table.column_names:
            col = table.column(f.name)
            cols.append(col if col.type == f.type else col.cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


# -- run execution ---------------------------------------------------------------------------------------------------
@dataclass
class RunPlan:
    """Everything a run needs, resolved from the flow and the resources it references."""

    flow: dict[str, Any]
    table: str
    columns: list[str]
    delta_column: str
    window_start_ms: int
    window_end_ms: int
    incremental: bool
    dataset_id: str
    source_connection_id: str
    target_connection_id: str
    options: dict[str, Any]
    mapper: Callable
    schema: Any
    identities: list[IdentitySpec]


def _options(flow: dict[str, Any]) -> tuple[bool, float | None]:
    opts = flow.get("options") or {}
    diag = opts.get("errorDiagnosticsEnabled")
    diagnostics = diag is True or str(diag).lower() == "true"
    pct = opts.get("partialIngestionPercent")
    try:
        threshold = float(pct) if pct is not None and pct != "" else None
    except (TypeError, ValueError):
        threshold = None
    return diagnostics, threshold


def _to_ms(value: Any) -> int | None:
    try:
        v = int(float(value))
    except (TypeError, ValueError):
        return None
    return v if v > 10_000_000_000 else v * 1000


def _window(platform: Platform, tenant: Tenant, flow: dict[str, Any], run: dict[str, Any],
            created_ms: int) -> tuple[int, int, bool]:
    """``(windowStart, windowEnd, incremental)`` in ms. Explicit ad hoc windows do not move the watermark."""
    from .schedules import Schedule, load_schedule_state

    params = run.get("params") or {}
    ws, we = _to_ms(params.get("windowStartTime")), _to_ms(params.get("windowEndTime"))
    if ws is not None and we is not None:
        return ws, we, False
    end = _to_ms(params.get("startTime")) or created_ms
    state = load_schedule_state(platform, tenant, flow["id"]) or {}
    start = state.get("watermarkMs")
    if start is None:
        start = state.get("initialWindowStartMs")
    if start is None:
        schedule = Schedule.from_params(flow.get("scheduleParams"))
        start = schedule.initial_window_start(end) if schedule else 0
    return int(start), max(int(start), end), True


def execute_run(platform: Platform, tenant: Tenant, run_id: str) -> dict[str, Any] | None:
    """Execute a ``scheduled`` run to ``success`` or ``failed``; returns the final run document."""
    rec = platform.store.get(tenant, "run", run_id)
    if rec is None:
        return None
    run = rec.doc
    if run.get("metrics", {}).get("statusSummary", {}).get("status", "scheduled") != "scheduled":
        return run
    params = run.get("params") or {}
    base = _to_ms(params.get("startTime")) or int(run.get("createdAt", rec.created))
    clock = RunClock(platform, max(base, int(run.get("createdAt", rec.created))) if platform.seed is not None else base)
    ids = run_ids(platform, run_id)
    return RunExecution(platform, tenant, run, rec.created, clock, ids).execute()


class RunExecution:
    def __init__(self, platform: Platform, tenant: Tenant, run: dict[str, Any], created_ms: int,
                 clock: RunClock, ids: Ids):
        self.platform = platform
        self.tenant = tenant
        self.run = run
        self.created_ms = created_ms
        self.clock = clock
        self.ids = ids
        self.lake = DataLake(platform.lake_dir)
        self.batch_id: str | None = None
        self.writer: BatchWriter | None = None
        self.run_dataset: str | None = None

    # -- helpers ------------------------------------------------------------------------------------------------------
    def _base_url(self) -> str:
        return (getattr(self.platform, "base_url", None) or "https://platform.adobe.io").rstrip("/")

    def _meta_link(self, path: str) -> str:
        return f"{self._base_url()}/data/foundation/export/batches/{self.batch_id}/meta?path={path}"

    def _persist(self, status: str) -> None:
        _save_run(self.platform, self.tenant, self.run, status, self.clock.now_ms(), self.ids)

    # -- main ---------------------------------------------------------------------------------------------------------
    def execute(self) -> dict[str, Any]:
        run = self.run
        started = self.clock.now_ms()
        run["metrics"] = {"durationSummary": {"startedAtUTC": started},
                          "statusSummary": {"status": "inProgress"}}
        run["activities"] = [{
            "id": COPY_ACTIVITY_ID, "name": COPY_ACTIVITY_NAME, "updatedAtUTC": started,
            "durationSummary": {"startedAtUTC": started},
            "statusSummary": {"status": "inProgress"},
        }]
        self._persist("inProgress")
        flow_rec = self.platform.store.get(self.tenant, "flow", run["flowId"])
        try:
            if flow_rec is None:
                raise RunSetupError(f"The flow {run['flowId']} no longer exists.")
            plan = build_plan(self.platform, self.tenant, flow_rec.doc, run, self.created_ms, self.clock, self.ids)
            return self._execute(plan, started)
        except Exception as exc:
            if not isinstance(exc, RunSetupError):
                log.exception("run %s failed", run["id"])
            if self.writer is not None:
                self.writer.abort()
            code = exc.code if isinstance(exc, RunSetupError) else FAILURE_CODE
            return self._finish_failed_early(started, code, str(exc))

    def _finish_failed_early(self, started: int, code: str, message: str) -> dict[str, Any]:
        run = self.run
        now = self.clock.now_ms()
        err = {"code": code, "message": message}
        run["metrics"]["durationSummary"]["completedAtUTC"] = now
        run["metrics"]["statusSummary"] = {"status": "failed", "errors": [err], "activityRefs": [COPY_ACTIVITY_ID]}
        for act in run["activities"]:
            if act["statusSummary"].get("status") == "inProgress":
                act["statusSummary"] = {"status": "failed", "errors": [err]}
                act["durationSummary"]["completedAtUTC"] = now
                act["updatedAtUTC"] = now
        # the target dataset deleted during the run: nothing of it stays, neither files nor a batch record
        gone = self.run_dataset is not None and self.platform.store.get(self.tenant, "dataSet", self.run_dataset) is None
        if self.batch_id is not None and self.writer is not None:
            try:   # a failure after the directory was published: its data must not stay
                if gone:
                    shutil.rmtree(self.lake.dataset_dir(self.tenant, self.run_dataset or ""), ignore_errors=True)
                else:
                    self.lake.remove_batch(self.tenant, self.run_dataset or "", self.batch_id, keep_meta=True)
            except Exception:
                log.warning("could not remove the data of failed batch %s", self.batch_id, exc_info=True)
        with self.platform.store.transaction():
            if self.batch_id is not None and self.platform.store.get(self.tenant, "batch", self.batch_id):
                if gone:
                    self.platform.store.delete(self.tenant, "batch", self.batch_id)
                else:
                    update_batch_record(self.platform, self.tenant, self.batch_id, {
                        "status": "failed", "completed": now, "updated": now,
                        "errors": [{"code": code, "description": message, "rows": []}]})
            self._persist("failed")
        return run

    def _execute(self, plan: RunPlan, started: int) -> dict[str, Any]:
        run = self.run
        copy_act = run["activities"][0]
        copy_act["durationSummary"]["extensions"] = {"windowStart": plan.window_start_ms,
                                                     "windowEnd": plan.window_end_ms}
        self._persist("inProgress")
        diagnostics, threshold = _options(plan.flow)
        shop = self.platform.shop
        shop.advance(_ms_to_dt(plan.window_end_ms))
        self.batch_id = self.ids.batch(started)
        pipeline = Pipeline(plan.mapper, plan.schema, identities=plan.identities, diagnostics=diagnostics)
        batch_created = False
        source = shop.scan(plan.table, columns=plan.columns,
                           window=(_ms_to_dt(plan.window_start_ms), _ms_to_dt(plan.window_end_ms)),
                           delta_column=plan.delta_column, batch_size=BATCH_SIZE)
        for rb in prefetch(source):
            if rb.num_rows == 0:
                continue
            if not batch_created:
                now = self.clock.now_ms()
                create_batch_record(self.platform, self.tenant, self.batch_id, {
                    "status": "loading", "created": now, "updated": now, "started": now,
                    "createdClient": plan.flow.get("createdClient", "aep-local"),
                    "createdUser": plan.flow.get("createdBy", "aep-local"),
                    "updatedUser": plan.flow.get("createdBy", "aep-local"),
                    "imsOrg": self.tenant.org,
                    "relatedObjects": [{"type": "dataSet", "id": plan.dataset_id}],
                    "version": "1.0.0", "tags": {}, "inputFormat": {"format": "parquet"},
                    "recordCount": 0, "failedRecordCount": 0, "errors": [], "size": 0,
                })
                self.writer = self.lake.writer(self.tenant, plan.dataset_id, self.batch_id, background=True)
                self.run_dataset = plan.dataset_id
                pipeline.writer = self.writer
                batch_created = True
            pipeline.process(rb)
        copy_done = self.clock.now_ms()
        stats = pipeline.stats
        copy_act.update({
            "updatedAtUTC": copy_done,
            "sizeSummary": {"inputBytes": stats.input_bytes, "outputBytes": stats.input_bytes},
            "recordSummary": {"inputRecordCount": stats.input_records, "outputRecordCount": stats.input_records},
            "fileSummary": {"inputFileCount": 1, "outputFileCount": 1 if stats.input_records else 0},
            "statusSummary": {"status": "success",
                              "extensions": {"type": "incremental" if plan.incremental and
                                             not _is_once(plan.flow) else "one-time"}},
            "sourceInfo": [{"id": plan.source_connection_id, "type": "SourceConnection",
                            "reference": {"type": "AdfRunId", "ids": [self.ids.uuid()]}}],
        })
        copy_act["durationSummary"]["completedAtUTC"] = copy_done
        return self._promote(plan, pipeline, started, copy_done, diagnostics, threshold, batch_created)

    def _promote(self, plan: RunPlan, pipeline: Pipeline, started: int, promo_start: int, diagnostics: bool,
                 threshold: float | None, batch_created: bool) -> dict[str, Any]:
        run = self.run
        stats = pipeline.stats
        total, failed = stats.input_records, stats.failed_records
        failed_pct = (failed / total * 100.0) if total else 0.0
        run_failed = (failed_pct > threshold) if threshold is not None else failed > 0

        status_errors: list[dict[str, Any]] = []
        if failed:
            verdict = (f"Encountered {failed} errors in the data. Successfully ingested {total - failed} rows. "
                       "Review the associated diagnostic files for additional details.")
            if run_failed:
                limit = f"the partial ingestion threshold of {threshold:g}%" if threshold is not None else \
                    "no failed records (partial ingestion is not enabled)"
                verdict = (f"Encountered {failed} errors in the data ({failed_pct:.2f}% of {total} rows), more than "
                           f"{limit} allows. No data was ingested. Review the associated diagnostic files for "
                           "additional details.")
            status_errors.append({"code": INGEST_ERRORS, "message": verdict})
            for code in sorted(stats.error_counts):
                status_errors.append({"code": code, "recordCount": stats.error_counts[code],
                                      "message": _code_message(code, stats.error_messages.get(code, ""))})
        warn_codes = [] if not stats.warning_records else [
            {"code": MAPPER_ERROR, "recordCount": stats.warning_records,
             "message": "Mapper Transform Error: the column was nullified and the rest of the row ingested."}]

        writer = self.writer
        output_bytes = 0
        if writer is not None:
            if diagnostics:
                writer.append_meta_lines("input_files/part-00000.json", [{
                    "tableName": plan.table, "deltaColumn": plan.delta_column,
                    "windowStart": plan.window_start_ms, "windowEnd": plan.window_end_ms,
                    "records": total, "bytes": stats.input_bytes, "columns": plan.columns}])
                if failed:
                    writer.write_meta_json("row_error_samples.json", {
                        "failedRecordCount": failed, "errorCounts": stats.error_counts, "samples": stats.samples})
            if run_failed:
                writer.drop_data()
            writer.commit()
            output_bytes = writer.output_bytes
        output_records = 0 if run_failed else stats.output_records
        out_files = len(writer.files) if writer is not None and not run_failed else 0
        now = self.clock.now_ms()
        status = "failed" if run_failed else "success"

        # As in the documented run (https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/monitor): failed records put CONNECTOR-2001-500 in the run's and the
        # promotion activity's errors, and the details (INGEST-1212-400 summary, one entry per error code with its
        # recordCount) in the promotion activity's statusSummary.extensions.errors.
        promotion_error = [{"code": FAILURE_CODE, "message": "Error occurred at promotion activity."}]
        promo_status: dict[str, Any] = {"status": status}
        if status_errors:
            promo_status["errors"] = list(promotion_error)
        if status_errors or warn_codes:
            promo_status["extensions"] = {"errors": status_errors + warn_codes}
            if diagnostics and failed and self.batch_id:
                promo_status["extensions"]["manifest"] = {
                    "failedRecords": self._meta_link("row_errors"),
                    "sampleErrors": self._meta_link("row_error_samples.json")}
        promo_files: dict[str, Any] = {"inputFileCount": 1 if total else 0, "outputFileCount": out_files}
        if diagnostics and batch_created:
            promo_files["extensions"] = {"manifest": {"fileInfo": self._meta_link("input_files")}}
        promo = {
            "id": PROMOTION_ACTIVITY_ID,
            "name": PROMOTION_ACTIVITY_NAME,
            "updatedAtUTC": now,
            "durationSummary": {"startedAtUTC": promo_start, "completedAtUTC": now},
            "sizeSummary": {"inputBytes": stats.input_bytes, "outputBytes": output_bytes},
            "recordSummary": {"inputRecordCount": total, "outputRecordCount": output_records,
                              "failedRecordCount": failed, **({"warningRecordCount": stats.warning_records}
                                                              if stats.warning_records else {}),
                              **({"skippedRecordCount": stats.skipped_records} if stats.skipped_records else {})},
            "fileSummary": promo_files,
            "statusSummary": promo_status,
            "targetInfo": [{"id": plan.target_connection_id, "type": "TargetConnection",
                            "reference": {"type": "Batch", "ids": [self.batch_id] if batch_created else []}}],
        }
        run["activities"] = [run["activities"][0], promo]
        run_status: dict[str, Any] = {"status": status}
        if status_errors:
            run_status["errors"] = list(promotion_error)
        run_status["activityRefs"] = [PROMOTION_ACTIVITY_ID]
        run["metrics"] = {
            "durationSummary": {"startedAtUTC": started, "completedAtUTC": now},
            "sizeSummary": {"inputBytes": stats.input_bytes, "outputBytes": output_bytes},
            "recordSummary": {"inputRecordCount": total, "outputRecordCount": output_records,
                              "failedRecordCount": failed,
                              **({"skippedRecordCount": stats.skipped_records} if stats.skipped_records else {})},
            "fileSummary": {"inputFileCount": 1 if total else 0, "outputFileCount": out_files,
                            "activityRefs": [PROMOTION_ACTIVITY_ID]},
            "statusSummary": run_status,
        }
        with self.platform.store.transaction():
            if self.platform.store.get(self.tenant, "dataSet", plan.dataset_id) is None:  # deleted meanwhile
                raise RunSetupError(f"The target dataset {plan.dataset_id} was deleted during the run.")
            if batch_created:
                assert self.batch_id is not None  # _execute sets it before it creates the batch
                batch_errors = [{"code": code, "description": _code_message(code, stats.error_messages.get(code, "")),
                                 "rows": [], "recordCount": n} for code, n in sorted(stats.error_counts.items())]
                update_batch_record(self.platform, self.tenant, self.batch_id, {
                    "status": status, "updated": now, "completed": now,
                    "recordCount": output_records, "failedRecordCount": failed, "size": output_bytes,
                    "errors": batch_errors,
                    "metrics": {"inputRecordCount": total, "outputRecordCount": output_records,
                                "failedRecordCount": failed, "inputByteSize": stats.input_bytes,
                                "outputByteSize": output_bytes, "partitionCount": out_files},
                })
            self._persist(status)
            if status == "success" and plan.incremental:
                _advance_watermark(self.platform, self.tenant, run["flowId"], plan.window_end_ms)
        return run


def _is_once(flow: dict[str, Any]) -> bool:
    return str((flow.get("scheduleParams") or {}).get("frequency", "once")).lower() == "once"


def _code_message(code: str, message: str) -> str:
    if code == MAPPER_ERROR:
        return "Mapper Transform Error"
    return message or "Row validation error"


def _advance_watermark(platform: Platform, tenant: Tenant, flow_id: str, window_end_ms: int) -> None:
    from .schedules import load_schedule_state, save_schedule_state

    state = load_schedule_state(platform, tenant, flow_id) or {"flowId": flow_id}
    if state.get("watermarkMs") is None or window_end_ms > state["watermarkMs"]:
        state["watermarkMs"] = window_end_ms
        save_schedule_state(platform, tenant, flow_id, state)


# -- plan resolution (flow → connections → dataset → schema → mapping) --------------------------------------------------
def build_plan(platform: Platform, tenant: Tenant, flow: dict[str, Any], run: dict[str, Any], created_ms: int,
               clock: RunClock, ids: Ids) -> RunPlan:
    store = platform.store
    src_ids = flow.get("sourceConnectionIds") or []
    tgt_ids = flow.get("targetConnectionIds") or []
    if not src_ids or not tgt_ids:
        raise RunSetupError("The flow has no source or target connection.")
    src = store.get(tenant, "sourceConnection", src_ids[0])
    tgt = store.get(tenant, "targetConnection", tgt_ids[0])
    if src is None or tgt is None:
        raise RunSetupError("The flow's source or target connection does not exist.")
    sparams = src.doc.get("params") or {}
    table = sparams.get("tableName") or sparams.get("path")
    if not table:
        raise RunSetupError("The source connection has no tableName.")
    dataset_id = (tgt.doc.get("params") or {}).get("dataSetId")
    ds = store.get(tenant, "dataSet", dataset_id) if dataset_id else None
    if not dataset_id or ds is None:
        raise RunSetupError(f"The target dataset {dataset_id} does not exist.")
    delta = DEFAULT_DELTA_COLUMN
    mapping_ref = None
    for t in flow.get("transformations") or []:
        if t.get("name") == "Copy":
            delta = ((t.get("params") or {}).get("deltaColumn") or {}).get("name") or delta
        elif t.get("name") == "Mapping":
            mapping_ref = t.get("params") or {}
    shop = platform.shop
    try:
        shop_columns = [c["name"] if isinstance(c, dict) else str(c) for c in shop.columns(table)]
    except KeyError:
        raise RunSetupError(f"The source table {table} does not exist.") from None
    wanted = [c.get("name") if isinstance(c, dict) else str(c) for c in (sparams.get("columns") or [])]
    from . import validate

    schema_id = (ds.doc.get("schemaRef") or {}).get("id") or ((tgt.doc.get("data") or {}).get("schema") or {}).get("id")
    mapper, needed, identities, destinations = validate.load_mapper(platform, tenant, mapping_ref, shop_columns,
                                                                    wanted, clock, ids)
    schema = validate.load_target_schema(platform, tenant, schema_id, destinations)
    if not schema.has_identity_map:
        identities = []
    keep = set(wanted) | set(needed)
    columns = [c for c in shop_columns if c in keep] or shop_columns
    if delta not in shop_columns:
        raise RunSetupError(f"The delta column {delta} is not a column of {table}.")
    ws, we, incremental = _window(platform, tenant, flow, run, created_ms)
    return RunPlan(flow=flow, table=table, columns=columns, delta_column=delta, window_start_ms=ws,
                   window_end_ms=we, incremental=incremental, dataset_id=dataset_id,
                   source_connection_id=src.id, target_connection_id=tgt.id, options=flow.get("options") or {},
                   mapper=mapper, schema=schema, identities=identities)
