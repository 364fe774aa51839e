"""Data Prep mapping sets: read both JSON formats, validate them, and apply them to Arrow batches or preview rows.

- :func:`normalise_mappings` turns the current format (``outputSchema`` + ``mappings[{sourceType, source,
  destination}]``, https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set) and the legacy one (``xdmSchema`` + ``mappings[{sourceAttribute,
  destinationXdmPath, identity, primaryIdentity, namespaceCode}]``, https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce) into :class:`Mapping` records.
- :func:`compile_mappings` validates every mapping at once (expression syntax, unknown functions, source fields
  that are not among the known source columns) and raises :class:`MappingError` listing every problem; the
  server's validate and create endpoints use it (:func:`validation_response` gives the https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set body).
- :meth:`CompiledMappingSet.apply` maps a record batch to one flattened column per destination path
  (``personalEmail.address``); a failing expression nullifies only its own column for that row and reports
  ``(row, destination, "MAPPER-3700-400", message)``.  :meth:`CompiledMappingSet.apply_rows` is the
  ``/mappingSets/preview`` shape (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set): nested ``data`` per row, ``errors`` null when none.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from . import functions as F
from .expressions import (
    CompiledExpression,
    EvalContext,
    EvaluationError,
    ExpressionError,
    FieldRef,
    compile_constant,
    compile_expression,
    compile_path,
    parse,
    parse_path,
    path_text,
    walk,
)

__all__ = [
    "MAPPER_ERROR_CODE",
    "SOURCE_TYPES",
    "CompiledMapping",
    "CompiledMappingSet",
    "IdentityField",
    "Mapping",
    "MappingError",
    "MappingProblem",
    "compile_mappings",
    "normalise_mappings",
    "validate_mappings",
    "validation_response",
]

SOURCE_TYPES = ("ATTRIBUTE", "EXPRESSION", "STATIC")
#: Flow-run error code for a transformation failure (https://experienceleague.adobe.com/en/docs/experience-platform/sources/errors/flow-service-errors "Mapper Transform Error").
MAPPER_ERROR_CODE = "MAPPER-3700-400"
_STORED_SOURCE_TYPE = "text/x.schema-path"  # what stored mappings report; classified like the legacy format


@dataclass(frozen=True)
class Mapping:
    """One mapping of a mapping set, whichever JSON format it came from."""

    source_type: str  # ATTRIBUTE | EXPRESSION | STATIC (anything else is reported by validation)
    source: Any
    destination: str | None
    identity: bool = False
    primary_identity: bool = False
    namespace_code: str | None = None
    name: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class MappingProblem:
    """Why one mapping is invalid (index is its position in the mapping set)."""

    index: int
    destination: str | None
    source: Any
    source_type: str | None
    message: str

    def as_error_info(self) -> dict[str, Any]:
        """The Data Prep ``TransformErrorInfo`` shape (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set)."""
        return {
            "destination": self.destination,
            "exception": self.message,
            "source": self.source,
            "columnName": self.source if self.source_type == "ATTRIBUTE" else None,
            "sourceType": self.source_type,
        }

    def __str__(self) -> str:
        return f"mapping {self.index} ({self.destination or 'no destination'}): {self.message}"


class MappingError(ValueError):
    """A mapping set with invalid mappings; ``problems`` lists every one of them."""

    def __init__(self, problems: list[MappingProblem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} invalid mapping{'s' if count != 1 else ''}"
        super().__init__(head + ": " + "; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class IdentityField:
    """A destination that carries an identity (for ``identityMap``)."""

    destination: str
    namespace_code: str
    primary: bool


# --------------------------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------------------------


def classify_source(source: Any, source_columns: Iterable[str] | None = None) -> str:
    """Legacy/stored mappings have no sourceType: a plain field path is ATTRIBUTE, anything else EXPRESSION."""
    if not isinstance(source, str):
        return "STATIC"
    if source_columns is not None and source in set(source_columns):
        return "ATTRIBUTE"
    try:
        node = parse(source)
    except ExpressionError:
        return "ATTRIBUTE"  # a raw column name such as "First Name"
    return "ATTRIBUTE" if isinstance(node, FieldRef) else "EXPRESSION"


def normalise_mappings(mapping_set: Any, source_columns: Iterable[str] | None = None) -> list[Mapping]:
    """Mappings from a mapping-set body (current or legacy format), a preview body or a bare list."""
    if isinstance(mapping_set, dict) and "mappings" not in mapping_set and isinstance(
        mapping_set.get("mappingSet"), dict
    ):
        mapping_set = mapping_set["mappingSet"]
    items = mapping_set.get("mappings") if isinstance(mapping_set, dict) else mapping_set
    if not isinstance(items, list):
        raise MappingError([MappingProblem(-1, None, None, None, "'mappings' must be an array")])
    columns = list(source_columns) if source_columns is not None else None
    out: list[Mapping] = []
    problems: list[MappingProblem] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(MappingProblem(index, None, item, None, "a mapping must be an object"))
            continue
        destination = item.get("destination", item.get("destinationXdmPath"))
        source = item["source"] if "source" in item else item.get("sourceAttribute")
        declared = item.get("sourceType")
        if isinstance(declared, str) and declared.upper() in SOURCE_TYPES:
            source_type = declared.upper()
        elif declared is None or declared == _STORED_SOURCE_TYPE:
            source_type = classify_source(source, columns)
        else:
            source_type = str(declared)
        out.append(
            Mapping(
                source_type=source_type,
                source=source,
                destination=destination,
                identity=bool(item.get("identity")) or bool(item.get("primaryIdentity")),
                primary_identity=bool(item.get("primaryIdentity")),
                namespace_code=item.get("namespaceCode"),
                name=item.get("name"),
                description=item.get("description"),
            )
        )
    if problems:
        raise MappingError(problems)
    return out


# --------------------------------------------------------------------------------------------------------------
# Validation and compilation
# --------------------------------------------------------------------------------------------------------------


def _path_known(path: tuple, columns: set[str]) -> bool:
    names = []
    for seg in path:
        if not isinstance(seg, str) or seg == "*":
            break
        names.append(seg)
    for k in range(len(names), 0, -1):
        name = ".".join(names[:k])
        if name in columns:
            return True
    root = ".".join(names)
    return bool(root) and any(c.startswith(root + ".") for c in columns)


def _attribute_path(source: str, columns: set[str] | None) -> tuple:
    if columns is not None and source in columns:
        return (source,)
    try:
        return parse_path(source)
    except ExpressionError:
        return (source,)


def _compile_one(index: int, m: Mapping, columns: set[str] | None) -> tuple[CompiledExpression | None, list]:
    problems: list[MappingProblem] = []

    def problem(message: str) -> None:
        problems.append(MappingProblem(index, m.destination, m.source, m.source_type, message))

    if not isinstance(m.destination, str) or not m.destination.strip():
        problem("destination is required")
    if m.identity and not m.namespace_code:
        problem("an identity mapping needs a namespaceCode")
    expression: CompiledExpression | None = None
    if m.source_type == "ATTRIBUTE":
        if not isinstance(m.source, str) or not m.source:
            problem("an ATTRIBUTE mapping needs a source field name")
        else:
            path = _attribute_path(m.source, columns)
            if columns is not None and not _path_known(path, columns):
                problem(f"source field '{m.source}' is not among the source columns")
            expression = compile_path(path, m.source)
    elif m.source_type == "EXPRESSION":
        if not isinstance(m.source, str) or not m.source.strip():
            problem("an EXPRESSION mapping needs an expression")
        else:
            try:
                expression = compile_expression(m.source)
            except ExpressionError as exc:
                problem(str(exc))
            else:
                if columns is not None:
                    for node in walk(expression.ast):
                        if isinstance(node, FieldRef) and not _path_known(node.path, columns):
                            problem(f"unknown source field '{path_text(node.path)}' at column {node.pos}")
    elif m.source_type == "STATIC":
        expression = compile_constant(m.source)
    else:
        problem(f"unknown sourceType '{m.source_type}' (expected ATTRIBUTE, EXPRESSION or STATIC)")
    return (expression if not problems else None), problems


def _check(mappings: list[Mapping], columns: set[str] | None) -> list[tuple[CompiledExpression | None, list]]:
    """(compiled expression or None, problems) per mapping; duplicate destinations are problems too."""
    seen: dict[str, int] = {}
    out = []
    for index, m in enumerate(mappings):
        expression, problems = _compile_one(index, m, columns)
        if isinstance(m.destination, str) and m.destination:
            if m.destination in seen:
                problems.append(MappingProblem(index, m.destination, m.source, m.source_type,
                                               f"destination '{m.destination}' is already mapped by mapping "
                                               f"{seen[m.destination]}"))
            else:
                seen[m.destination] = index
        out.append((expression, problems))
    return out


def validate_mappings(mappings: list[Mapping], source_columns: Iterable[str] | None = None) -> list[list[MappingProblem]]:
    """The problems of each mapping (an empty list for a valid one), in mapping order."""
    columns = set(source_columns) if source_columns is not None else None
    return [problems for _, problems in _check(mappings, columns)]


def validation_response(mappings: list[Mapping], source_columns: Iterable[str] | None = None) -> dict[str, Any]:
    """The ``POST /mappingSets/validate`` body: one ``{status, errors}`` per mapping (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set)."""
    return {
        "validationResponse": [
            {"status": "FAILED", "errors": [p.as_error_info() for p in problems]}
            if problems
            else {"status": "SUCCESS", "errors": None}
            for problems in validate_mappings(mappings, source_columns)
        ]
    }


@dataclass(frozen=True)
class CompiledMapping:
    mapping: Mapping
    expression: CompiledExpression

    @property
    def destination(self) -> str:
        return self.mapping.destination  # type: ignore[return-value]


def compile_mappings(mappings: list[Mapping], source_columns: Iterable[str] | None = None) -> CompiledMappingSet:
    """Validate and compile; raises MappingError listing every problem of every mapping."""
    columns = set(source_columns) if source_columns is not None else None
    checked = _check(mappings, columns)
    problems = [p for _, group in checked for p in group]
    if problems:
        raise MappingError(problems)
    compiled: list[CompiledMapping] = []
    for m, (expression, _) in zip(mappings, checked):
        assert expression is not None  # a mapping without problems has compiled (_compile_one)
        compiled.append(CompiledMapping(m, expression))
    return CompiledMappingSet(tuple(compiled))


# --------------------------------------------------------------------------------------------------------------
# Application
# --------------------------------------------------------------------------------------------------------------

_DEST_SPLIT = re.compile(r"(?<!\\)\.")
_DEST_INDEX = re.compile(r"\[(\d+)\]")


def destination_segments(destination: str) -> list[str | int]:
    """``a.b[0].c`` → ["a", "b", 0, "c"]; ``\\.`` keeps a dot inside a name."""
    out: list[str | int] = []
    for part in _DEST_SPLIT.split(destination):
        name, _, rest = part.partition("[")
        out.append(name.replace("\\.", "."))
        if rest:
            out.extend(int(i) for i in _DEST_INDEX.findall("[" + rest))
    return out


def set_nested(target: dict, destination: str, value: Any) -> None:
    """Place a value at a destination path inside nested objects (and arrays for ``[n]`` segments)."""
    segments = destination_segments(destination)
    node: Any = target
    for seg, nxt in itertools.pairwise(segments):
        child_type = list if isinstance(nxt, int) else dict
        if isinstance(seg, int):
            while len(node) <= seg:
                node.append(None)
            if not isinstance(node[seg], child_type):
                node[seg] = child_type()
            node = node[seg]
        else:
            if not isinstance(node.get(seg), child_type):
                node[seg] = child_type()
            node = node[seg]
    last = segments[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value


@dataclass(frozen=True)
class CompiledMappingSet:
    """Validated mappings, ready to apply to Arrow batches (runs) or dict rows (preview)."""

    mappings: tuple[CompiledMapping, ...]

    @property
    def destinations(self) -> list[str]:
        return [m.destination for m in self.mappings]

    @property
    def vectorised(self) -> bool:
        """True when every mapping evaluates with Arrow kernels only (no per-row Python)."""
        return all(m.expression.vectorised for m in self.mappings)

    @property
    def row_fallbacks(self) -> dict[str, frozenset[str]]:
        """Destination → the constructs its expression evaluates row by row (only non-empty ones)."""
        return {m.destination: m.expression.row_fallbacks for m in self.mappings if m.expression.row_fallbacks}

    def source_fields(self, available: Iterable[str] | None = None) -> set[str]:
        """The source columns the mappings read (the longest matching name in ``available`` when given)."""
        columns = set(available) if available is not None else None
        out: set[str] = set()
        for m in self.mappings:
            for node in walk(m.expression.ast):
                if not isinstance(node, FieldRef):
                    continue
                names = []
                for seg in node.path:
                    if not isinstance(seg, str) or seg == "*":
                        break
                    names.append(seg)
                if not names:
                    continue
                if columns is None:
                    out.add(names[0])
                    continue
                hit = next((c for c in (".".join(names[:k]) for k in range(len(names), 0, -1)) if c in columns),
                           None)
                if hit is not None:
                    out.add(hit)
        return out

    def identity_fields(self) -> list[IdentityField]:
        """Destinations mapped as identities, with their namespace codes (primary first is not implied)."""
        return [
            IdentityField(m.destination, m.mapping.namespace_code, m.mapping.primary_identity)
            for m in self.mappings
            if m.mapping.identity and m.mapping.namespace_code
        ]

    def apply(
        self, batch: pa.RecordBatch | pa.Table, ctx: EvalContext | None = None
    ) -> tuple[pa.Table, list[tuple[int, str, str, str]]]:
        """One column per destination (flattened dotted names) and ``[(row, destination, code, message)]``."""
        if isinstance(batch, pa.Table):
            batch = batch.combine_chunks()
        arrays: list[pa.Array] = []
        errors: list[tuple[int, str, str, str]] = []
        for m in self.mappings:
            values, failed = m.expression.evaluate_arrow(batch, ctx)
            arrays.append(values)
            errors.extend((row, m.destination, MAPPER_ERROR_CODE, message) for row, message in failed)
        errors.sort(key=lambda e: e[0])
        table = pa.Table.from_arrays(arrays, names=self.destinations) if arrays else pa.table({})
        return table, errors

    def apply_rows(self, rows: list[dict], ctx: EvalContext | None = None) -> list[dict[str, Any]]:
        """Preview: ``[{"data": nested record, "errors": [TransformErrorInfo...] | None}]`` (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set).

        Null results are left out of ``data`` (Data Prep does not copy nulls)."""
        out = []
        for row in rows:
            data: dict[str, Any] = {}
            errors: list[dict[str, Any]] = []
            for index, m in enumerate(self.mappings):
                try:
                    value = m.expression.evaluate_row(row if isinstance(row, dict) else {}, ctx)
                except EvaluationError as exc:
                    errors.append(MappingProblem(index, m.destination, m.mapping.source, m.mapping.source_type,
                                                 str(exc)).as_error_info())
                    continue
                if value is not None:
                    set_nested(data, m.destination, F.json_ready(value))
            out.append({"data": data, "errors": errors or None})
        return out
