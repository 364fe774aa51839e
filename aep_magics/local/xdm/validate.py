"""Record validation against resolved (``xed-full``) AEP schemas: one record at a time, or vectorised over columns.

Two validators that must agree (``tests/test_xdm.py`` checks them on one shared set):

* :class:`RecordValidator` validates nested AEP-form records with ``jsonschema.Draft6Validator`` and a format
  checker of our own (``email``, ``date``, ``date-time``, ``uri`` — the same regular expressions as below, so the two
  validators cannot disagree on a format);
* :meth:`RecordValidator.validate_columns` / :func:`validate_columns` validate columns keyed by flattened AEP path
  (``person.name.firstName``, ``productListItems[].SKU``; struct and list-of-struct columns, e.g. the columns of a
  nested ``pyarrow.Table``, are expanded) with ``pyarrow.compute`` kernels — no per-row Python on the hot path.
  Map columns and free-form objects fall back to the record validator, value by value.

Which checks apply is the ingestion mode's (``checks=``), as Adobe's *Data quality* page lists them
(https://experienceleague.adobe.com/en/docs/experience-platform/ingestion/quality/overview):

* ``"batch"`` (the default; source dataflows such as Shopify through ``CRMToAEP`` are batch ingestion): data type,
  enum, range and required-field checks, and **no** ``format`` or ``pattern`` checks. XDM's ``date`` and
  ``date-time`` are data types of their own (``meta:xdmType``), so a string that is not a date there is a data type
  error (``INGEST-1401-400``); an ``email`` or ``uri`` format or a ``pattern`` is not checked.
* ``"streaming"``: every check above plus ``format`` and ``pattern``.

Semantics shared by both: ``null`` means *absent* (as in Parquet), so ``{"a": None}`` and ``{"a": {}}`` are treated
like a missing ``a``; fields the schema does not define are errors; ``required`` applies at the root and inside any
object that is present (an object is present when any of its fields is non-null), including array items.

Error codes (AEP Local's choice; Adobe documents only the run-level ``INGEST-1212-400`` summary and the mapper's
``MAPPER-3700-400``, https://experienceleague.adobe.com/en/docs/experience-platform/sources/errors/flow-service-errors). Each error is ``(row_index, path, code, message)``; ``path`` shows array items
as ``a[2].b``:

=====================  ====================================================================
``INGEST-1401-400``    type mismatch (the value is not of the field's type)
``INGEST-1402-400``    format (email, date, date-time, uri; streaming only)
``INGEST-1403-400``    value not in the field's ``enum`` / ``const``
``INGEST-1404-400``    ``pattern`` not matched (streaming only)
``INGEST-1405-400``    out of range (``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum``)
``INGEST-1406-400``    length out of range (``minLength``/``maxLength``)
``INGEST-1407-400``    required field missing
``INGEST-1408-400``    unknown field (not defined by the schema)
``INGEST-1409-400``    any other schema constraint
=====================  ====================================================================
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft6Validator, FormatChecker

from .compose import _is_map, _node_type

TYPE = "INGEST-1401-400"
FORMAT = "INGEST-1402-400"
ENUM = "INGEST-1403-400"
PATTERN = "INGEST-1404-400"
RANGE = "INGEST-1405-400"
LENGTH = "INGEST-1406-400"
REQUIRED = "INGEST-1407-400"
UNKNOWN = "INGEST-1408-400"
INVALID = "INGEST-1409-400"

BATCH = "batch"
STREAMING = "streaming"
MODES = (BATCH, STREAMING)
#: The formats that are XDM data types of their own: checked in batch mode too, reported as type errors.
TYPE_FORMATS = ("date", "date-time")

CODES = {"type": TYPE, "format": FORMAT, "enum": ENUM, "const": ENUM, "pattern": PATTERN, "minimum": RANGE,
         "maximum": RANGE, "exclusiveMinimum": RANGE, "exclusiveMaximum": RANGE, "minLength": LENGTH,
         "maxLength": LENGTH, "required": REQUIRED, "additionalProperties": UNKNOWN}

_WS = r" \t\n\r\f\v"
FORMAT_RE = {
    "email": rf"^[^@{_WS}]+@[^@{_WS}]+\.[^@{_WS}]+$",
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "date-time": (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
                  r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"),
    "uri": rf"^[A-Za-z][A-Za-z0-9+.\-]*:[^{_WS}]*$",
}
_FORMAT_PY = {k: re.compile(v) for k, v in FORMAT_RE.items()}


def _valid_date(s: str) -> bool:
    try:
        _dt.date(int(s[0:4]), int(s[5:7]), int(s[8:10]))
        return True
    except ValueError:
        return False


def check_format(fmt: str, value: str) -> bool:
    rx = _FORMAT_PY.get(fmt)
    if rx is None or not isinstance(value, str):
        return True
    if not rx.match(value):
        return False
    if fmt in ("date", "date-time"):
        return _valid_date(value)
    return True


FORMAT_CHECKER = FormatChecker(formats=())
for _fmt in FORMAT_RE:
    FORMAT_CHECKER.checks(_fmt)((lambda f: lambda v: check_format(f, v))(_fmt))


def _arange(n: int):
    """``pa.array([0, 1, ..., n-1], int64)`` without a Python loop."""
    import numpy as np
    import pyarrow as pa

    return pa.array(np.arange(n, dtype=np.int64))


def message(code: str, path: str, expected: Any = None, value: Any = None) -> str:
    """The message text both validators use for an error."""
    shown = repr(value) if value is not None else "the value"
    if len(shown) > 80:
        shown = shown[:77] + "..."
    if code == TYPE:
        return f"{path}: {shown} is not of type '{expected}'"
    if code == FORMAT:
        return f"{path}: {shown} is not a valid '{expected}'"
    if code == ENUM:
        return f"{path}: {shown} is not one of the allowed values {expected!r}"
    if code == PATTERN:
        return f"{path}: {shown} does not match the pattern {expected!r}"
    if code == RANGE:
        return f"{path}: {shown} is out of range ({expected})"
    if code == LENGTH:
        return f"{path}: {shown} has an invalid length ({expected})"
    if code == REQUIRED:
        return f"{path}: required field is missing"
    if code == UNKNOWN:
        return f"{path}: field is not defined in the schema"
    return f"{path}: {shown} is invalid ({expected})"


# --------------------------------------------------------------------------------------------------------------------
# helpers on resolved schemas
# --------------------------------------------------------------------------------------------------------------------
def _check_mode(checks: str) -> str:
    if checks not in MODES:
        raise ValueError(f"checks must be one of {MODES}, not {checks!r}")
    return checks


def _strictify(node: Any, checks: str = BATCH) -> Any:
    """A validation copy of a resolved schema: objects reject undefined fields; in batch mode ``pattern`` and the
    formats that are not data types are left out."""
    if isinstance(node, list):
        return [_strictify(x, checks) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k in ("title", "description", "examples", "meta:enum", "default"):
            continue
        if checks == BATCH and (k == "pattern" or (k == "format" and v not in TYPE_FORMATS)):
            continue
        if k in ("properties", "patternProperties") and isinstance(v, dict):
            out[k] = {name: _strictify(sub, checks) for name, sub in v.items()}
        elif k in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "not"):
            out[k] = _strictify(v, checks)
        else:
            out[k] = v
    if out.get("properties") and "additionalProperties" not in out and "patternProperties" not in out \
            and out.get("meta:xdmType") != "map":
        out["additionalProperties"] = False
    return out


def prune(value: Any) -> Any:
    """Drop ``None`` values and empty objects (null means absent). Returns a new object; list items are kept."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if v is None:
                continue
            p = prune(v)
            if isinstance(p, dict) and not p:
                continue
            out[k] = p
        return out
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def _fmt_path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


_REQ_RE = re.compile(r"^'(.*)' is a required property$")


# --------------------------------------------------------------------------------------------------------------------
# record validator
# --------------------------------------------------------------------------------------------------------------------
class RecordValidator:
    """Validates AEP-form records against a resolved schema; also offers the vectorised column validator."""

    def __init__(self, resolved: dict[str, Any], *, checks: str = BATCH):
        self.resolved = resolved
        self.checks = _check_mode(checks)
        self.schema = _strictify(resolved, checks)
        self._validator = Draft6Validator(self.schema, format_checker=FORMAT_CHECKER)
        self._columns: ColumnValidator | None = None

    def errors(self, record: Any) -> list[tuple[str, str, str]]:
        """``[(path, code, message)]`` for one record (empty when valid)."""
        out: list[tuple[str, str, str]] = []
        data = prune(record)
        for err in self._validator.iter_errors(data):
            self._collect(err, out)
        out.sort(key=lambda e: (e[0], e[1]))
        return out

    def _collect(self, err, out: list[tuple[str, str, str]]) -> None:
        kw = err.validator
        base = _fmt_path(err.absolute_path)
        if kw == "required":
            m = _REQ_RE.match(err.message)
            name = m.group(1) if m else str(err.message)
            path = f"{base}.{name}" if base else name
            out.append((path, REQUIRED, message(REQUIRED, path)))
        elif kw == "additionalProperties":
            known = set((err.schema.get("properties") or {}).keys())
            for key in err.instance:
                if key not in known:
                    path = f"{base}.{key}" if base else key
                    out.append((path, UNKNOWN, message(UNKNOWN, path)))
        elif kw in ("anyOf", "oneOf", "allOf") and err.context:
            for sub in err.context:
                self._collect(sub, out)
        else:
            code = CODES.get(kw, INVALID)
            if code == FORMAT and self.checks == BATCH:
                code = TYPE
            expected = err.validator_value
            if kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength"):
                expected = f"{kw} {err.validator_value}"
            out.append((base, code, message(code, base, expected, err.instance)))

    def is_valid(self, record: Any) -> bool:
        return self._validator.is_valid(prune(record))

    def validate_records(self, records: Iterable[Any]) -> tuple[list[bool], list[tuple[int, str, str, str]]]:
        """Row-wise counterpart of :meth:`validate_columns`: ``(valid flags, [(row, path, code, message)])``."""
        mask: list[bool] = []
        errors: list[tuple[int, str, str, str]] = []
        for i, rec in enumerate(records):
            errs = self.errors(rec)
            mask.append(not errs)
            errors += [(i, p, c, m) for p, c, m in errs]
        return mask, errors

    def validate_columns(self, columns: Mapping[str, Any], *, num_rows: int | None = None,
                         max_errors: int | None = None):
        """Vectorised validation, see :class:`ColumnValidator`."""
        if self._columns is None:
            self._columns = ColumnValidator(self.resolved, record_validator=self, checks=self.checks)
        return self._columns.validate(columns, num_rows=num_rows, max_errors=max_errors)


def _sub_validator(node: dict[str, Any], checks: str = BATCH) -> Draft6Validator:
    return Draft6Validator(_strictify(node, checks), format_checker=FORMAT_CHECKER)


# --------------------------------------------------------------------------------------------------------------------
# vectorised column validator
# --------------------------------------------------------------------------------------------------------------------
class _Flat:
    """A column flattened to value level: ``values[i]`` belongs to row ``rows[i]`` at item ``positions[*][i]``."""

    __slots__ = ("path", "values", "rows", "positions")

    def __init__(self, path: str, values, rows, positions):
        self.path = path
        self.values = values
        self.rows = rows
        self.positions = positions


class ColumnValidator:
    """Validates columns keyed by flattened AEP path. ``validate`` returns ``(valid_mask, errors)`` where
    ``valid_mask`` is a ``pyarrow.BooleanArray`` (one entry per row) and ``errors`` a list of
    ``(row_index, path, code, message)``."""

    def __init__(self, resolved: dict[str, Any], record_validator: RecordValidator | None = None, *,
                 checks: str = BATCH):
        self.resolved = resolved
        self.checks = _check_mode(checks)
        self._records = record_validator
        self._subs: dict[str, Draft6Validator] = {}
        self._required_objects: list[tuple[str, dict[str, Any]]] | None = None

    # -- schema navigation --------------------------------------------------------------------------------------------
    def locate(self, path: str) -> dict[str, Any] | None:
        """Schema node of a flattened path (``a.b``, ``a[].b``, ``m.<key>``/``m.anyKey`` under maps)."""
        node: Any = self.resolved
        for token in path.split("."):
            name = token
            arrays = 0
            while name.endswith("[]"):
                name = name[:-2]
                arrays += 1
            if name.endswith("{}"):
                name = name[:-2]
            if not isinstance(node, dict):
                return None
            if _is_map(node):
                node = node.get("additionalProperties") or {}
            else:
                props = node.get("properties") or {}
                if name not in props:
                    return None
                node = props[name]
            for _ in range(arrays):
                if not isinstance(node, dict) or _node_type(node) != "array":
                    return None
                node = node.get("items") or {}
        return node if isinstance(node, dict) else None

    # -- input normalisation -----------------------------------------------------------------------------------------
    @staticmethod
    def _array(values):
        import pyarrow as pa

        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        elif not isinstance(values, pa.Array):
            values = pa.array(list(values))
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        return values

    @staticmethod
    def _flatten_list(flat: _Flat, path: str) -> _Flat:
        """One list level down: each list item becomes a value (rows/positions follow)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        values = flat.values
        inner = values.flatten()
        parents = pc.list_parent_indices(values)
        offsets = pc.cast(values.offsets, pa.int64())
        starts = pc.subtract(offsets.slice(0, len(values)), offsets[0])
        pos = pc.subtract(_arange(len(inner)), pc.take(starts, parents))
        return _Flat(path, inner, pc.take(flat.rows, parents), [pc.take(p, parents) for p in flat.positions] + [pos])

    @staticmethod
    def _is_list(t) -> bool:
        import pyarrow as pa

        return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)

    def _expand(self, flat: _Flat, out: list[_Flat]) -> None:
        """Struct columns become one column per field; lists of structs/lists become item-level columns; a path
        written with ``[]`` (``a[].b``) expects that many list levels in its data."""
        import pyarrow as pa

        t = flat.values.type
        if flat.path.count("[]") > len(flat.positions):
            if self._is_list(t):
                self._expand(self._flatten_list(flat, flat.path), out)
            else:
                out.append(flat)      # reported as a type error (array expected)
            return
        node = self.locate(flat.path)
        if pa.types.is_struct(t):
            opaque = node is not None and (_is_map(node) or _node_type(node) != "object" or not node.get("properties"))
            if not opaque:
                children = flat.values.flatten()
                for i in range(t.num_fields):
                    self._expand(_Flat(f"{flat.path}.{t.field(i).name}", children[i], flat.rows, flat.positions), out)
                return
        if self._is_list(t) and (pa.types.is_struct(t.value_type) or self._is_list(t.value_type)) and (
                node is None or (_node_type(node) == "array" and not _is_map(node))):
            self._expand(self._flatten_list(flat, flat.path + "[]"), out)
            return
        out.append(flat)

    # -- main ----------------------------------------------------------------------------------------------------------
    def validate(self, columns: Mapping[str, Any], *, num_rows: int | None = None, max_errors: int | None = None):
        import pyarrow as pa

        arrays = {self._norm(p): self._array(v) for p, v in columns.items()}
        lengths = {len(a) for a in arrays.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns have different lengths: {sorted(lengths)}")
        n = num_rows if num_rows is not None else (lengths.pop() if lengths else 0)
        rows0 = _arange(n)
        flats: list[_Flat] = []
        for path, arr in arrays.items():
            self._expand(_Flat(path, arr, rows0, []), flats)

        self._errors: list[tuple[int, str, str, str]] = []
        self._bad_rows: list[Any] = []
        self._max = max_errors
        by_path: dict[str, _Flat] = {}
        for flat in flats:
            by_path[flat.path] = flat
            self._check_column(flat)
        self._check_required(by_path, n)

        import numpy as np

        keep = np.ones(n, dtype=bool)
        for bad in self._bad_rows:
            keep[bad.to_numpy(zero_copy_only=False)] = False
        mask = pa.array(keep)
        errors = sorted(self._errors, key=lambda e: (e[0], e[1], e[2]))
        return mask, errors

    @staticmethod
    def _norm(path: str) -> str:
        return re.sub(r"\[\*?\]", "[]", path)

    # -- error recording ---------------------------------------------------------------------------------------------
    def _report(self, flat: _Flat, bad, code: str, expected: Any, path: str | None = None) -> None:
        """Record errors where ``bad`` (boolean array over flat.values) is true."""
        import pyarrow as pa
        import pyarrow.compute as pc

        bad = pc.fill_null(bad, False)
        if not pc.any(bad).as_py():
            return
        idx = pc.indices_nonzero(bad)
        rows = pc.take(flat.rows, idx)
        self._bad_rows.append(rows)
        if self._max is not None and len(self._errors) >= self._max:
            return
        limit = len(idx) if self._max is None else max(0, self._max - len(self._errors))
        idx = idx.slice(0, limit)
        rows_py = pc.take(flat.rows, idx).to_pylist()
        vals = pc.take(flat.values, idx).to_pylist() if code not in (REQUIRED, UNKNOWN) \
            and not pa.types.is_null(flat.values.type) else [None] * len(idx)
        pos_py = [pc.take(p, idx).to_pylist() for p in flat.positions]
        base = path or flat.path
        for j, row in enumerate(rows_py):
            p = base
            for level in pos_py:
                p = p.replace("[]", f"[{level[j]}]", 1)
            self._errors.append((row, p, code, message(code, p, expected, vals[j])))

    def _report_record_errors(self, flat: _Flat, i: int, errs: list[tuple[str, str, str]]) -> None:
        import pyarrow as pa

        row = flat.rows[i].as_py()
        self._bad_rows.append(pa.array([row], pa.int64()))
        base = flat.path
        for level in flat.positions:
            base = base.replace("[]", f"[{level[i].as_py()}]", 1)
        for p, c, m in errs:
            full = f"{base}.{p}" if p and not p.startswith("[") else base + p
            text = full + m[len(p):] if p and m.startswith(p) else f"{full}: {m}"
            if self._max is None or len(self._errors) < self._max:
                self._errors.append((row, full, c, text))

    # -- per column checks -------------------------------------------------------------------------------------------
    def _check_column(self, flat: _Flat) -> None:
        import pyarrow as pa

        values = flat.values
        if pa.types.is_null(values.type) or len(values) == 0:
            return
        if flat.path.count("[]") > len(flat.positions):
            self._report(flat, values.is_valid(), TYPE, "array")
            return
        node = self.locate(flat.path)
        if node is None:
            self._report(flat, values.is_valid(), UNKNOWN, None)
            return
        t = _node_type(node)
        vt = values.type
        is_list = self._is_list(vt)
        if _is_map(node) or t == "object":
            if pa.types.is_struct(vt) or pa.types.is_map(vt):
                self._fallback(flat, node)
            else:
                self._report(flat, values.is_valid(), TYPE, "object")
            return
        if t == "array":
            if not is_list:
                self._report(flat, values.is_valid(), TYPE, "array")
                return
            items = node.get("items") or {}
            if _is_map(items) or _node_type(items) in ("object", "array"):
                self._fallback(flat, node)
                return
            self._check_leaf(self._flatten_list(flat, flat.path + "[]"), items)
            return
        if is_list or pa.types.is_struct(vt) or pa.types.is_map(vt):
            self._report(flat, values.is_valid(), TYPE, t)
            return
        self._check_leaf(flat, node)

    def _fallback(self, flat: _Flat, node: dict[str, Any]) -> None:
        """Complex values (maps, free-form objects, arrays of objects given whole): per value, with jsonschema."""
        import pyarrow as pa

        key = flat.path
        validator = self._subs.get(key)
        if validator is None:
            validator = self._subs[key] = _sub_validator(node, self.checks)
        values = flat.values.to_pylist()
        is_map_type = pa.types.is_map(flat.values.type)
        rv = RecordValidator.__new__(RecordValidator)
        rv._validator = validator
        rv.checks = self.checks
        for i, v in enumerate(values):
            if v is None:
                continue
            if is_map_type:
                v = dict(v)
            if isinstance(prune(v), dict) and not prune(v):
                continue
            errs = rv.errors(v)
            if errs:
                self._report_record_errors(flat, i, errs)

    def _check_leaf(self, flat: _Flat, node: dict[str, Any]) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        values = flat.values
        vt = values.type
        if pa.types.is_null(vt) or len(values) == 0:
            return
        t = _node_type(node)
        fmt = node.get("format")
        if t == "string":
            if pa.types.is_string(vt) or pa.types.is_large_string(vt):
                pass
            elif (fmt == "date" and pa.types.is_date(vt)) or (fmt == "date-time" and (
                    pa.types.is_timestamp(vt) or pa.types.is_date(vt))):
                return
            else:
                self._report(flat, values.is_valid(), TYPE, "string")
                return
        elif t == "integer":
            if pa.types.is_integer(vt):
                pass
            elif pa.types.is_floating(vt) or pa.types.is_decimal(vt):
                f = pc.cast(values, pa.float64()) if pa.types.is_decimal(vt) else values
                nonint = pc.or_(pc.invert(pc.is_finite(f)), pc.not_equal(f, pc.floor(f)))
                self._report(flat, pc.and_(values.is_valid(), nonint), TYPE, "integer")
                values = pc.if_else(nonint, pa.scalar(None, f.type), f)
                flat = _Flat(flat.path, values, flat.rows, flat.positions)
            else:
                self._report(flat, values.is_valid(), TYPE, "integer")
                return
        elif t == "number":
            if not (pa.types.is_integer(vt) or pa.types.is_floating(vt) or pa.types.is_decimal(vt)):
                self._report(flat, values.is_valid(), TYPE, "number")
                return
        elif t == "boolean":
            if not pa.types.is_boolean(vt):
                self._report(flat, values.is_valid(), TYPE, "boolean")
                return
        self._constraints(flat, node, t)

    def _constraints(self, flat: _Flat, node: dict[str, Any], t: str) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        values = flat.values
        is_str = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
        fmt = node.get("format")
        batch = self.checks == BATCH
        if is_str and fmt in FORMAT_RE and not (batch and fmt not in TYPE_FORMATS):
            ok = pc.match_substring_regex(values, FORMAT_RE[fmt])
            if fmt in TYPE_FORMATS:
                ok = pc.and_(ok, _real_dates(values, pc.fill_null(ok, False)))
            self._report(flat, pc.and_(values.is_valid(), pc.invert(pc.fill_null(ok, False))),
                         TYPE if batch else FORMAT, fmt)
        for kw in ("enum", "const"):
            if kw not in node:
                continue
            allowed = node[kw] if kw == "enum" else [node[kw]]
            try:
                vs = pa.array(allowed)
                if vs.type != values.type:
                    vs = pc.cast(vs, values.type)
                ok = pc.is_in(values, value_set=vs)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                pyvals = values.to_pylist()
                ok = pa.array([v in allowed for v in pyvals])
            self._report(flat, pc.and_(values.is_valid(), pc.invert(ok)), ENUM, allowed if kw == "enum" else node[kw])
        if is_str and "pattern" in node and not batch:
            pattern = node["pattern"]
            try:
                ok = pc.match_substring_regex(values, pattern)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                rx = re.compile(pattern)
                ok = pa.array([v is None or bool(rx.search(v)) for v in values.to_pylist()])
            self._report(flat, pc.and_(values.is_valid(), pc.invert(pc.fill_null(ok, True))), PATTERN, pattern)
        if is_str:
            length = None
            for kw, op in (("minLength", pc.less), ("maxLength", pc.greater)):
                if kw in node:
                    if length is None:
                        length = pc.utf8_length(values)
                    self._report(flat, op(length, node[kw]), LENGTH, f"{kw} {node[kw]}")
        if t in ("integer", "number") and (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
                                           or pa.types.is_decimal(values.type)):
            nums = pc.cast(values, pa.float64()) if pa.types.is_decimal(values.type) else values
            for kw, op in (("minimum", pc.less), ("maximum", pc.greater),
                           ("exclusiveMinimum", pc.less_equal), ("exclusiveMaximum", pc.greater_equal)):
                bound = node.get(kw)
                if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                    continue
                self._report(flat, op(nums, bound), RANGE, f"{kw} {bound}")

    # -- required -----------------------------------------------------------------------------------------------------
    def _objects_with_required(self):
        """``(path, node)`` of every object node (array items included, maps excluded) that has ``required``
        (worked out once per validator: the schema does not change between record batches)."""
        if self._required_objects is not None:
            return self._required_objects
        out: list[tuple[str, dict[str, Any]]] = []

        def walk(node: dict[str, Any], path: str) -> None:
            if not isinstance(node, dict) or _is_map(node):
                return
            t = _node_type(node)
            if t == "array":
                walk(node.get("items") or {}, path + "[]")
                return
            if t != "object":
                return
            if node.get("required"):
                out.append((path, node))
            for name, child in (node.get("properties") or {}).items():
                walk(child, f"{path}.{name}" if path else name)

        walk(self.resolved, "")
        self._required_objects = out
        return out

    def _check_required(self, by_path: dict[str, _Flat], n: int) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        for obj_path, node in self._objects_with_required():
            level = obj_path.count("[]")
            prefix = obj_path + "." if obj_path else ""
            members = [f for p, f in by_path.items()
                       if (not prefix or p.startswith(prefix)) and len(f.positions) >= level]
            if obj_path and not members:
                continue
            if level == 0:
                ref_rows = _arange(n)
                ref_positions: list[Any] = []
                present = None if not obj_path else self._presence(members, level, n)
            else:
                ref = self._level_reference(members, level)
                if ref is None:
                    continue
                ref_rows, ref_positions = ref
                present = self._presence(members, level, len(ref_rows), ref_rows, ref_positions)
            for name in node["required"]:
                child = prefix + name
                kids = [f for p, f in by_path.items() if p == child or p.startswith(child + ".")
                        or p.startswith(child + "[]")]
                size = len(ref_rows)
                child_present = self._presence(kids, level, size, ref_rows, ref_positions) if kids else \
                    pa.array([False] * size, pa.bool_())
                missing = pc.invert(child_present)
                bad = missing if present is None else pc.and_(present, missing)
                holder = _Flat(child, pa.nulls(size), ref_rows, ref_positions)
                self._report(holder, bad, REQUIRED, None, path=child)

    def _level_reference(self, members: list[_Flat], level: int):
        """Rows/positions of the items at array ``level`` (from the first member flattened to that level)."""
        for f in members:
            if len(f.positions) == level:
                return f.rows, f.positions
        for f in members:
            if len(f.positions) > level:
                # deeper column: collapse to the items of ``level`` (unique parents)
                keys = [f.rows] + f.positions[:level]
                table = _keys_table(keys)
                uniq = table.group_by(list(table.column_names)).aggregate([])
                uniq = uniq.sort_by([(c, "ascending") for c in table.column_names])
                return uniq.column(0).combine_chunks(), [uniq.column(i + 1).combine_chunks() for i in range(level)]
        return None

    def _presence(self, flats: list[_Flat], level: int, size: int, ref_rows=None, ref_positions=None):
        """Boolean array (over rows when level == 0, else over the reference items): any member non-null there."""
        import pyarrow as pa
        import pyarrow.compute as pc

        acc = None
        for f in flats:
            if len(f.positions) < level:
                continue
            if len(f.positions) == level and (level == 0 or _same(f, ref_rows, ref_positions)):
                if pa.types.is_null(f.values.type):
                    continue
                valid = f.values.is_valid()
                if level == 0 and len(valid) != size:
                    continue
                pres = valid
            else:
                # map the values onto the reference items by key
                keys = [f.rows] + f.positions[:level]
                mask = f.values.is_valid()
                if level == 0:
                    hit = pc.unique(pc.filter(f.rows, mask))
                    pres = pc.is_in(pa.array(range(size), pa.int64()), value_set=hit)
                else:
                    ref_key = _composite(ref_rows, ref_positions)
                    key = _composite(keys[0], keys[1:])
                    pres = pc.is_in(ref_key, value_set=pc.unique(pc.filter(key, mask)))
            acc = pres if acc is None else pc.or_(acc, pres)
        if acc is None:
            return pa.array([False] * size, pa.bool_())
        return pc.fill_null(acc, False)


_DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def _real_dates(values, shaped):
    """Whether ``YYYY-MM-DD...`` strings (``shaped`` = matched the format regex) name real calendar days."""
    import pyarrow as pa
    import pyarrow.compute as pc

    safe = pc.if_else(shaped, values, pa.scalar("2000-01-01", values.type))
    year = pc.cast(pc.utf8_slice_codeunits(safe, 0, 4), pa.int32())
    month = pc.cast(pc.utf8_slice_codeunits(safe, 5, 7), pa.int32())
    day = pc.cast(pc.utf8_slice_codeunits(safe, 8, 10), pa.int32())
    month_ok = pc.and_(pc.greater_equal(month, 1), pc.less_equal(month, 12))
    dim = pc.take(pa.array(_DAYS, pa.int32()), pc.if_else(month_ok, month, 1))
    leap = pc.and_(pc.equal(pc.bit_wise_and(year, 3), 0),
                   pc.or_(pc.not_equal(pc.remainder(year, 100), 0), pc.equal(pc.remainder(year, 400), 0)))
    dim = pc.add(dim, pc.cast(pc.and_(leap, pc.equal(month, 2)), pa.int32()))
    return pc.and_(month_ok, pc.and_(pc.greater_equal(day, 1), pc.less_equal(day, dim)))


def _same(f: _Flat, rows, positions) -> bool:
    if rows is None:
        return True
    if len(f.rows) != len(rows):
        return False
    if f.rows is rows:
        return True
    return f.rows.equals(rows) and all(a.equals(b) for a, b in zip(f.positions, positions))


def _keys_table(keys):
    import pyarrow as pa

    return pa.table({f"k{i}": k for i, k in enumerate(keys)})


def _composite(rows, positions):
    """One string key per item (row + positions) for set membership across differently shaped columns."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = [pc.cast(rows, pa.string())] + [pc.cast(p, pa.string()) for p in positions]
    return pc.binary_join_element_wise(*parts, "/")


def validate_columns(resolved: dict[str, Any], columns: Mapping[str, Any], *, checks: str = BATCH, **kw):
    """``ColumnValidator(resolved, checks=checks).validate(columns)``."""
    return ColumnValidator(resolved, checks=checks).validate(columns, **kw)


def records_to_columns(records: list[dict[str, Any]], paths: Iterable[str] | None = None) -> dict[str, list[Any]]:
    """Flatten nested records into ``{path: [values per row]}`` (objects by dotted path; lists kept as values).
    With ``paths``, exactly those columns (missing values are None)."""
    cols: dict[str, list[Any]] = {}
    n = len(records)

    def walk(value: Any, path: str, i: int) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(v, f"{path}.{k}" if path else k, i)
            return
        if value is None or (isinstance(value, dict) and not value):
            return
        col = cols.get(path)
        if col is None:
            col = cols[path] = [None] * n
        col[i] = value

    for i, rec in enumerate(records):
        walk(rec, "", i)
    if paths is not None:
        return {p: cols.get(p, [None] * n) for p in paths}
    return cols
