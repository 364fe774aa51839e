"""Glue between a run and the pieces it validates with: the flow's mapping set and the target dataset's schema.

- :func:`load_mapper` finds the mapping set version the flow names (Data Prep stores every version in one document),
  compiles it against the source columns and returns ``mapper(batch) -> (columns table, errors)``;
- :func:`load_validator` resolves the dataset's schema to AEP full form (:mod:`aep_magics.local.xdm`) and returns the
  vectorised column validator plus the Arrow type each destination path is written with
  (:func:`arrow_type`: string → string, date-time → timestamp[ms, UTC], date → date32, integer by ``meta:xdmType``
  → int8/16/32/64, number → float64, boolean → bool).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from .common import IdentitySpec, RunSetupError, ms_to_dt

if TYPE_CHECKING:  # pragma: no cover
    from ..ids import Ids
    from ..platform import Platform
    from ..store import Tenant

_INT_TYPES = {"byte": pa.int8(), "short": pa.int16(), "int": pa.int32(), "long": pa.int64()}


def arrow_type(field_type: str, fmt: str | None, xdm_type: str | None) -> pa.DataType | None:
    """The Parquet (Arrow) type of an XDM leaf, or None for containers / anything else."""
    if field_type == "string":
        if fmt == "date-time" or xdm_type == "date-time":
            return pa.timestamp("ms", tz="UTC")
        if fmt == "date" or xdm_type == "date":
            return pa.date32()
        return pa.string()
    if field_type == "integer":
        return _INT_TYPES.get(xdm_type or "", pa.int64())
    if field_type == "number":
        return pa.float64()
    if field_type == "boolean":
        return pa.bool_()
    return None


def cast_column(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast a validated column to its written type; values that cannot be cast become null (never an exception)."""
    if arr.type == target:
        return arr
    try:
        return arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    if pa.types.is_timestamp(target) and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        try:  # more than millisecond precision: parse at ns, then truncate
            return arr.cast(pa.timestamp("ns", tz="UTC")).cast(target, safe=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    try:
        return arr.cast(target, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pa.nulls(len(arr), target)


# -- schema -------------------------------------------------------------------------------------------------------------
def resolve_dataset_schema(platform: Platform, tenant: Tenant, schema_id: str | None) -> dict[str, Any]:
    """The dataset's schema in AEP full form (``xed-full``): tenant schemas from the Schema Registry's store,
    standard ones from the vendored library (:func:`aep_magics.local.schemas.resolved_schema`)."""
    from .. import schemas

    if not schema_id:
        raise RunSetupError("The target dataset has no schemaRef.")
    resolved = schemas.resolved_schema(platform, tenant, schema_id)
    if resolved is None:
        raise RunSetupError(f"The schema {schema_id} of the target dataset does not exist.")
    return resolved


class TargetSchema:
    """The target dataset's schema as a run uses it: Data Prep's implicit conversion of mapped columns to their
    destination types (:meth:`coerce`, vectorised counterpart of :func:`aep_magics.local.xdm.coerce_value`: a value
    that cannot be converted is nullified and reported as ``MAPPER-3700-400``, the row goes on), record validation
    (:meth:`validate`) and the Arrow types the data lake writes (:attr:`types`)."""

    def __init__(self, resolved: dict[str, Any], destinations: list[str]):
        from ..xdm import flatten
        from ..xdm.validate import RecordValidator

        self.resolved = resolved
        self.fields = {f.path: f for f in flatten(resolved)}
        self.types: dict[str, pa.DataType] = {}
        for path in destinations:
            f = self.fields.get(path)
            if f is not None:
                t = arrow_type(f.type, f.format, f.extras.get("xdmType"))
                if t is not None:
                    self.types[path] = t
        self.has_identity_map = "identityMap" in (resolved.get("properties") or {})
        self._records = RecordValidator(resolved)

    def coerce(self, columns: dict[str, pa.Array]) -> tuple[dict[str, pa.Array], list[tuple[int, str, str, str]]]:
        from .mapping import MAPPER_ERROR_CODE

        out: dict[str, pa.Array] = {}
        errors: list[tuple[int, str, str, str]] = []
        for path, arr in columns.items():
            f = self.fields.get(path)
            if f is None or pa.types.is_null(arr.type):
                out[path] = arr
                continue
            converted, bad = coerce_array(arr, f.type, f.format)
            if bad is not None:
                for row in np.flatnonzero(bad):
                    errors.append((int(row), path, MAPPER_ERROR_CODE,
                                   f"cannot convert {arr[int(row)].as_py()!r} to {f.type}"))
            out[path] = converted
        return out, errors

    def validate(self, columns: dict[str, pa.Array]) -> tuple[np.ndarray, list]:
        mask, errors = self._records.validate_columns(columns)
        if isinstance(mask, pa.ChunkedArray):
            mask = mask.combine_chunks()
        if isinstance(mask, pa.Array):
            mask = mask.to_numpy(zero_copy_only=False)
        return np.asarray(mask, dtype=bool), errors


_INT_RE = r"^\s*[+-]?[0-9]+\s*$"
_NUM_RE = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"


def _failed(arr: pa.Array, ok: pa.Array) -> np.ndarray | None:
    """Rows with a value that did not convert (``ok`` false where the input was not null)."""
    import pyarrow.compute as pc

    bad = pc.and_(arr.is_valid(), pc.invert(pc.fill_null(ok, False)))
    if not pc.any(bad).as_py():
        return None
    return bad.to_numpy(zero_copy_only=False)


def coerce_array(arr: pa.Array, xdm_type: str, fmt: str | None) -> tuple[pa.Array, np.ndarray | None]:
    """``(converted array, rows that failed or None)``; failed values become null."""
    import pyarrow.compute as pc

    t = arr.type
    is_str = pa.types.is_string(t) or pa.types.is_large_string(t)
    if xdm_type == "string":
        if is_str or pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_struct(t) or \
                pa.types.is_list(t) or pa.types.is_map(t):
            return arr, None
        if pa.types.is_boolean(t):
            return pc.if_else(arr, "true", "false"), None
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            if fmt == "date-time":  # epoch milliseconds
                return pc.cast(pc.cast(arr, pa.int64(), safe=False), pa.timestamp("ms", tz="UTC")), None
            return pc.cast(arr, pa.string()), None
        return arr, None
    if xdm_type == "integer":
        if pa.types.is_integer(t):
            return arr, None
        if pa.types.is_floating(t) or pa.types.is_decimal(t):
            f = pc.cast(arr, pa.float64())
            ok = pc.and_(pc.is_finite(f), pc.equal(f, pc.floor(f)))
            bad = _failed(arr, ok)
            return pc.cast(pc.if_else(ok, f, None), pa.int64(), safe=False), bad
        if is_str:
            ok_int = pc.match_substring_regex(arr, _INT_RE)
            ok_num = pc.match_substring_regex(arr, _NUM_RE)
            trimmed = pc.utf8_trim_whitespace(arr)
            as_int = pc.cast(pc.if_else(ok_int, trimmed, None), pa.int64())
            as_f = pc.cast(pc.if_else(pc.and_(ok_num, pc.invert(ok_int)), trimmed, None), pa.float64())
            f_ok = pc.fill_null(pc.and_(pc.is_finite(as_f), pc.equal(as_f, pc.floor(as_f))), False)
            value = pc.coalesce(as_int, pc.cast(pc.if_else(f_ok, as_f, None), pa.int64(), safe=False))
            return value, _failed(arr, value.is_valid())
        return pa.nulls(len(arr), pa.int64()), _failed(arr, pa.array(np.zeros(len(arr), bool)))
    if xdm_type == "number":
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            return arr, None
        if is_str:
            ok = pc.match_substring_regex(arr, _NUM_RE)
            value = pc.cast(pc.if_else(ok, pc.utf8_trim_whitespace(arr), None), pa.float64())
            return value, _failed(arr, ok)
        return pa.nulls(len(arr), pa.float64()), _failed(arr, pa.array(np.zeros(len(arr), bool)))
    if xdm_type == "boolean":
        if pa.types.is_boolean(t):
            return arr, None
        if is_str:
            low = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
            ok = pc.is_in(low, value_set=pa.array(["true", "false"]))
            value = pc.if_else(ok, pc.equal(low, "true"), None)
            return value, _failed(arr, ok)
        return pa.nulls(len(arr), pa.bool_()), _failed(arr, pa.array(np.zeros(len(arr), bool)))
    return arr, None


def load_target_schema(platform: Platform, tenant: Tenant, schema_id: str | None,
                       destinations: list[str]) -> TargetSchema:
    return TargetSchema(resolve_dataset_schema(platform, tenant, schema_id), destinations)


# -- mapping --------------------------------------------------------------------------------------------------------------
def load_mapper(platform: Platform, tenant: Tenant, mapping_ref: dict[str, Any] | None, source_columns: list[str],
                wanted: Sequence[str | None], clock: Any, ids: Ids):
    """``(mapper, source columns it reads, identity specs, destination paths)`` for the flow's Mapping
    transformation (the mapping set version the flow names). Without a Mapping transformation the selected
    source columns are copied to same-named destinations."""
    from . import mapping as M
    from . import mapping_sets
    from .expressions import EvalContext

    if not mapping_ref or not mapping_ref.get("mappingId"):
        cols = [c for c in (wanted or source_columns) if c in source_columns]

        def copy_mapper(batch: pa.RecordBatch) -> tuple[pa.Table, list]:
            return pa.Table.from_batches([batch]).select(cols), []

        return copy_mapper, cols, [], cols
    mapping_id = str(mapping_ref["mappingId"])
    try:
        version = int(str(mapping_ref.get("mappingVersion", "0")).strip() or 0)
    except ValueError:
        raise RunSetupError(f"Invalid mapping version {mapping_ref.get('mappingVersion')!r}.") from None
    doc = mapping_sets.get_mapping_set(platform, tenant, mapping_id, version)
    if doc is None:
        raise RunSetupError(f"The mapping set {mapping_id} version {version} does not exist.")
    try:
        mappings = M.normalise_mappings(mapping_sets.engine_form(doc), source_columns)
        compiled = M.compile_mappings(mappings, source_columns)
    except M.MappingError as exc:
        raise RunSetupError(f"The mapping set {mapping_id} cannot be applied to the source: {exc}") from None
    if platform.seed is not None:
        ctx = EvalContext(clock=lambda: ms_to_dt(clock.peek_ms()), uuid_factory=ids.uuid)
    else:
        ctx = EvalContext()
    needed = sorted(compiled.source_fields(source_columns))
    identities = [IdentitySpec(f.namespace_code, bool(f.primary), f.destination) for f in compiled.identity_fields()]

    def mapper(batch: pa.RecordBatch) -> tuple[pa.Table, list]:
        return compiled.apply(batch, ctx)

    return mapper, needed, identities, compiled.destinations
