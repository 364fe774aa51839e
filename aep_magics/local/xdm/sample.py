"""Sample records of a resolved XDM schema, for ``GET /rpc/sampledata/{SCHEMA_ID}``.

Adobe describes the response as "a sample ingestion file, mapped to the structure of the specified schema"
(https://experienceleague.adobe.com/en/docs/experience-platform/xdm/api/sample-data). The values are AEP Local's own:
a field's first ``examples`` entry when it has one of the right type, its first ``enum`` value, or a fixed value of its
type and format. The same schema always gives the same record.
"""

from __future__ import annotations

from typing import Any

#: Values for string formats (JSON Schema ``format`` as XDM uses it).
_FORMATS = {
    "email": "jane.doe@example.com",
    "uri": "https://example.com/resource",
    "uri-reference": "/uri-reference",
    "date-time": "2026-03-02T09:00:00Z",
    "date": "2026-03-02",
    "time": "09:00:00",
    "uuid": "9b0ad2a2-63d4-4fa0-8f54-02f5d5bcd8e4",
}
_TYPES: dict[str, Any] = {"integer": 0, "number": 0.0, "boolean": True}
MAX_DEPTH = 32


def sample_record(schema: dict[str, Any]) -> dict[str, Any]:
    """One sample record of ``schema`` (the ``xed-full`` form: properties inlined)."""
    value = _sample(schema, "", 0)
    return value if isinstance(value, dict) else {}


def _typed(value: Any, type_: Any) -> bool:
    if type_ == "string":
        return isinstance(value, str)
    if type_ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_ == "boolean":
        return isinstance(value, bool)
    return False


def _sample(node: Any, name: str, depth: int) -> Any:
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return None
    type_ = node.get("type")
    if isinstance(type_, list):
        type_ = next((t for t in type_ if t != "null"), None)
    if type_ == "object" or (type_ is None and "properties" in node):
        out: dict[str, Any] = {}
        for key, child in (node.get("properties") or {}).items():
            value = _sample(child, key, depth + 1)
            if value is not None:
                out[key] = value
        return out
    if type_ == "array":
        item = _sample(node.get("items"), name, depth + 1)
        return [] if item is None else [item]
    examples = node.get("examples")
    if isinstance(examples, list):
        for example in examples:
            if _typed(example, type_):
                return example
    enum = node.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    if type_ == "string":
        fmt = node.get("format")
        if fmt in _FORMATS:
            return _FORMATS[fmt]
        return f"Example {name}" if name else "Example"
    if type_ in ("integer", "number"):
        low = node.get("minimum")
        if isinstance(low, (int, float)) and not isinstance(low, bool):
            return int(low) if type_ == "integer" else float(low)
    return _TYPES.get(str(type_))
