"""Resolution, composition and flattening of AEP-form XDM schemas.

* :func:`resolve` gives the four lookup variants of the Schema Registry: raw ``xed`` (``$ref``/``allOf`` kept),
  ``xed-full`` (every ``allOf``/``$ref`` merged into one ``properties`` tree), and their ``-notext`` forms (no
  ``title``/``description`` anywhere). The ``@context`` guard of adobe/xdm is dropped during resolution.
* :func:`compose_schema` builds a tenant schema the way ``POST /tenant/schemas`` answers (https://experienceleague.adobe.com/en/docs/experience-platform/xdm/api/schemas).
* :func:`flatten` lists the AEP paths of a resolved schema, in the notation of ``library/flattened/*.tsv``
  (``a.b``, arrays ``a[]``, map values ``a.<key>``; with containers also ``a{}`` for the map itself).
* :func:`find_path` / :func:`coerce_record` serve Data Prep: destination lookup and destination-type coercion.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, NamedTuple

from .library import CONTEXT_REF, RESOURCE_KEYS, alt_id, global_lookup, is_global

Lookup = Callable[[str], "dict[str, Any] | None"]


# --------------------------------------------------------------------------------------------------------------------
# errors (the service turns them into ``http://ns.adobe.com/aep/errors/XDM-<code>`` bodies)
# --------------------------------------------------------------------------------------------------------------------
class XDMError(Exception):
    """A Schema Registry error: ``code`` is ``NNNN-SSS`` (the HTTP status is its suffix)."""

    code = "1001-400"
    title = "Bad request"

    def __init__(self, message: str, *, code: str | None = None, title: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if title:
            self.title = title

    @property
    def status(self) -> int:
        return int(self.code.rsplit("-", 1)[1])


class UnknownRefError(XDMError):
    """An ``allOf``/``$ref`` names a resource that does not exist. Not documented by Adobe (https://experienceleague.adobe.com/en/docs/experience-platform/xdm/troubleshooting-guide):
    AEP Local answers 400 with type ``XDM-1010-400`` (the "Resource not found" number, 400 status)."""

    code = "1010-400"
    title = "Resource not found"

    def __init__(self, ref: str):
        super().__init__(f"The referenced resource {ref} with version 1 is not found.")
        self.ref = ref


class NoClassError(XDMError):
    """A schema must compose exactly one class (schemas.md: "One class must be provided, with zero or more
    additional field groups"). AEP Local's code: ``XDM-1520-400``."""

    code = "1520-400"
    title = "Schema validation error"

    def __init__(self, message: str = "One class must be provided, with zero or more additional field groups."):
        super().__init__(message)


class MergeError(XDMError):
    """Two composed resources define the same field with different types (documented ``XDM-1413-400``)."""

    code = "1413-400"
    title = "Merge Schema Error"


class NamespaceError(XDMError):
    """Custom fields outside ``_{TENANT_ID}`` (documented ``XDM-1020-400``)."""

    code = "1020-400"
    title = "Namespace validation error"


# --------------------------------------------------------------------------------------------------------------------
# resolution
# --------------------------------------------------------------------------------------------------------------------
_GLOBAL_CACHE: dict[str, dict[str, Any]] = {}


def _deref(ref: str, doc: dict[str, Any], lookup: Lookup) -> tuple[dict[str, Any], Any, str]:
    uri, _, frag = ref.partition("#")
    target_doc = doc if not uri else lookup(uri)
    if target_doc is None:
        raise UnknownRefError(ref)
    node: Any = target_doc
    for part in [p for p in frag.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            raise UnknownRefError(ref)
    key = (target_doc.get("$id") or "") + "#" + frag
    return target_doc, node, key


def _is_context(member: Any) -> bool:
    return isinstance(member, dict) and member.get("$ref", "").startswith(CONTEXT_REF.split("#")[0] + "#")


def _merge_props(dst: dict[str, Any], src: dict[str, Any], path: str = "") -> None:
    """Merge resolved ``properties`` maps (dst is ours to mutate; values are never mutated)."""
    for name, value in src.items():
        if name not in dst:
            dst[name] = value
            continue
        here = f"{path}.{name}" if path else name
        old = dst[name]
        if not (isinstance(old, dict) and isinstance(value, dict)):
            continue
        if old.get("type") != value.get("type") and old.get("type") and value.get("type"):
            raise MergeError(f"Field '{here}' is defined with conflicting types "
                             f"'{old.get('type')}' and '{value.get('type')}'.")
        if "properties" in old or "properties" in value:
            merged = {**value, **old}
            props = dict(old.get("properties", {}))
            _merge_props(props, value.get("properties", {}), here)
            merged["properties"] = props
            req = list(old.get("required", []))
            req += [r for r in value.get("required", []) if r not in req]
            if req:
                merged["required"] = req
            dst[name] = merged


def _resolve(node: Any, doc: dict[str, Any], lookup: Lookup, stack: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_resolve(x, doc, lookup, stack) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        target_doc, target, key = _deref(ref, doc, lookup)
        siblings = {k: _resolve(v, doc, lookup, stack) for k, v in node.items() if k != "$ref"}
        if key in stack:  # recursive datatype: cut the cycle
            return {"type": "object", "meta:xdmType": "object", **siblings, "meta:recursiveRef": ref}
        uri = key.split("#")[0]
        # global resources only reference global resources: resolve them once per process, independent of the stack
        shared = bool(uri) and is_global(uri) and target_doc is global_lookup(uri)
        if shared:
            resolved = _GLOBAL_CACHE.get(key)
            if resolved is None:
                resolved = _resolve(target, target_doc, global_lookup, (key,))
                _GLOBAL_CACHE[key] = resolved
        else:
            resolved = _resolve(target, target_doc, lookup, stack + (key,))
        merged = {k: v for k, v in resolved.items() if k not in RESOURCE_KEYS}
        for k, v in siblings.items():
            if k in ("type", "meta:xdmType") and k in merged:
                continue
            merged[k] = v
        return merged
    out: dict[str, Any] = {}
    props: dict[str, Any] | None = None
    required: list[Any] = []
    if "allOf" in node:
        props = {}
        for member in node["allOf"]:
            if _is_context(member):
                continue
            r = _resolve(member, doc, lookup, stack)
            if not isinstance(r, dict):
                continue
            _merge_props(props, r.get("properties", {}))
            required += [x for x in r.get("required", []) if x not in required]
            for k in ("additionalProperties", "patternProperties", "minProperties", "maxProperties"):
                if k in r and k not in out:
                    out[k] = r[k]
    for key, value in node.items():
        if key in ("allOf", "definitions", "$schema", "meta:license"):
            continue
        if key == "properties" and isinstance(value, dict):
            own = {k: _resolve(v, doc, lookup, stack) for k, v in value.items()}
            if props is None:
                props = own
            else:
                _merge_props(props, own)
        elif key == "required" and isinstance(value, list):
            required += [x for x in value if x not in required]
        elif key in ("items", "additionalProperties", "not") and isinstance(value, (dict, list)):
            out[key] = _resolve(value, doc, lookup, stack)
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            out[key] = [_resolve(v, doc, lookup, stack) for v in value]
        elif key == "patternProperties" and isinstance(value, dict):
            out[key] = {k: _resolve(v, doc, lookup, stack) for k, v in value.items()}
        else:
            out[key] = value
    if props is not None:
        out["properties"] = props
        out.setdefault("type", "object")
        out.setdefault("meta:xdmType", "object")
    if required:
        out["required"] = _nest_required(required, props) if props else required
    return out


def _nest_required(required: list[Any], props: dict[str, Any]) -> list[Any]:
    """A required ``ns:name`` became ``_ns.name`` (library.to_aep): require ``_ns`` here and ``name`` inside it.
    ``props`` is ours to mutate; the child objects are copied, never mutated."""
    out: list[Any] = []
    for name in required:
        if isinstance(name, str) and name not in props and "." in name:
            head, rest = name.split(".", 1)
            child = props.get(head)
            if isinstance(child, dict) and "properties" in child:
                req = list(child.get("required", []))
                if rest not in req:
                    req.append(rest)
                sub = dict(child["properties"])
                props[head] = {**child, "required": _nest_required(req, sub), "properties": sub}
                name = head
        if name not in out:
            out.append(name)
    return out


def strip_text(node: Any) -> Any:
    """Drop ``title``/``description`` from every schema node (the ``-notext`` variants). Property *names* such as a
    field called ``description`` are kept."""
    if isinstance(node, list):
        return [strip_text(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "description") and not isinstance(value, dict):
            continue
        if key in ("properties", "definitions", "patternProperties") and isinstance(value, dict):
            out[key] = {k: strip_text(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = strip_text(value)
        else:
            out[key] = value
    return out


def resolve(schema_doc: dict[str, Any], full: bool = True, text: bool = True, *,
            lookup: Lookup | None = None) -> dict[str, Any]:
    """A lookup variant of an AEP-form resource (a new, independent object).

    ``full=False`` keeps ``$ref``/``allOf`` (``xed``); ``full=True`` merges them (``xed-full``); ``text=False`` strips
    titles and descriptions. ``lookup(id)`` finds referenced resources (default: the global library). Raises
    :class:`UnknownRefError` / :class:`MergeError`."""
    look = lookup or global_lookup
    check_depth(schema_doc)
    try:
        if full:
            key = schema_doc.get("$id", "")
            result = _resolve(schema_doc, schema_doc, look, (key + "#",) if key else ())
            for k in ("definitions",):
                result.pop(k, None)
        else:
            result = schema_doc
        check_depth(result, "The resolved schema")
        if not text:
            result = strip_text(result)
        return copy.deepcopy(result)
    except RecursionError:
        raise _too_deep("The resolved schema") from None


#: Deepest nesting of JSON objects and arrays in a Schema Registry resource, as sent and once resolved (every
#: ``$ref`` merged in). Adobe documents no limit; the deepest resolved resource of the XDM library nests 23 levels.
#: AEP Local refuses deeper ones with a 400 (docs/deviations.md, "Limits").
MAX_DEPTH = 100


def _too_deep(what: str) -> XDMError:
    return XDMError(f"{what} nests objects and arrays more than {MAX_DEPTH} levels deep; AEP Local takes at most "
                    f"{MAX_DEPTH}: flatten the field hierarchy.", code="1000-400", title="Bad Request")


def check_depth(doc: Any, what: str = "The resource") -> None:
    """Raise :class:`XDMError` (``XDM-1000-400``) when ``doc`` nests deeper than :data:`MAX_DEPTH` (walked without
    recursion, so any depth is measured)."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise _too_deep(what)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


# --------------------------------------------------------------------------------------------------------------------
# composition of tenant schemas
# --------------------------------------------------------------------------------------------------------------------
def _whole_refs(doc: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for member in doc.get("allOf", []) or []:
        ref = member.get("$ref", "") if isinstance(member, dict) else ""
        if ref and "#" not in ref and ref not in out:
            out.append(ref)
    for ref in doc.get("meta:extends", []) or []:
        if isinstance(ref, str) and "#" not in ref and ref not in out:
            out.append(ref)
    return out


def ancestors(sid: str, lookup: Lookup, _seen: frozenset[str] = frozenset()) -> list[str]:
    """Transitive ``meta:extends`` of a resource (each ancestor after its own ancestors, in ``allOf`` order)."""
    doc = lookup(sid)
    if doc is None:
        raise UnknownRefError(sid)
    out: list[str] = []
    for ref in _whole_refs(doc):
        if ref in _seen or ref == sid:
            continue
        for a in ancestors(ref, lookup, _seen | {sid}) + [ref]:
            if a not in out:
                out.append(a)
    return out


def top_level_fields(doc: dict[str, Any]) -> list[str]:
    """Names of the fields a resource adds at the root (its own ``properties`` and local ``allOf`` definitions)."""
    names = list((doc.get("properties") or {}).keys())
    defs = doc.get("definitions") or {}
    for member in doc.get("allOf", []) or []:
        ref = member.get("$ref", "") if isinstance(member, dict) else ""
        if ref.startswith("#/definitions/"):
            d = defs.get(ref[len("#/definitions/"):]) or {}
            names += [n for n in (d.get("properties") or {}) if n not in names]
    return names


def check_namespace(doc: dict[str, Any], tenant_id: str) -> None:
    """Custom fields must live under the top-level ``_{TENANT_ID}`` object (https://experienceleague.adobe.com/en/docs/experience-platform/xdm/troubleshooting-guide, XDM-1020-400)."""
    bad = [n for n in top_level_fields(doc) if n != f"_{tenant_id}"]
    if bad:
        raise NamespaceError(
            "A custom field is defined under an invalid namespace. All custom fields must be defined under a "
            f"top-level field named _{tenant_id}. Invalid field(s): {', '.join(bad)}.")


def compose_schema(body: dict[str, Any], tenant_id: str, id_hash: str, *, lookup: Lookup | None = None,
                   org: str | None = None, version: str = "1.0", registry_metadata: dict[str, Any] | None = None,
                   sandbox_id: str | None = None, sandbox_type: str | None = None) -> dict[str, Any]:
    """The stored/returned form of a tenant schema (https://experienceleague.adobe.com/en/docs/experience-platform/xdm/api/schemas) built from a create/replace body.

    Raises :class:`NoClassError`, :class:`UnknownRefError`, :class:`MergeError`, :class:`NamespaceError`,
    :class:`XDMError` (bad body)."""
    look = lookup or global_lookup
    if not isinstance(body, dict):
        raise XDMError("The request body must be a JSON object.")
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise XDMError("The 'title' field is required.")
    members = body.get("allOf")
    if not isinstance(members, list) or not members:
        raise NoClassError()
    classes: list[str] = []
    groups: list[str] = []
    all_of: list[dict[str, Any]] = []
    for member in members:
        if not isinstance(member, dict) or not isinstance(member.get("$ref"), str):
            raise XDMError("Every 'allOf' member must be an object with a '$ref'.")
        ref = member["$ref"]
        all_of.append({"$ref": ref, "type": "object", "meta:xdmType": "object"})
        if ref.startswith("#"):
            if ref[len("#/definitions/"):] not in (body.get("definitions") or {}):
                raise UnknownRefError(ref)
            continue
        uri = ref.split("#")[0]
        doc = look(uri)
        if doc is None:
            raise UnknownRefError(ref)
        if doc.get("meta:resourceType") == "classes":
            if uri not in classes:
                classes.append(uri)
        elif uri not in groups:
            groups.append(uri)
    if len(classes) != 1:
        raise NoClassError() if not classes else NoClassError(
            f"Only one class can be provided; found {len(classes)}: {', '.join(classes)}.")
    cls = classes[0]
    if body.get("definitions"):
        check_namespace({"definitions": body["definitions"], "allOf": members,
                         "properties": body.get("properties")}, tenant_id)
    extends: list[str] = []
    for sid in groups + [cls]:
        for a in ancestors(sid, look) + [sid]:
            if a not in extends:
                extends.append(a)
    sid = f"https://ns.adobe.com/{tenant_id}/schemas/{id_hash}"
    out: dict[str, Any] = {
        "$id": sid,
        "meta:altId": alt_id(sid),
        "meta:resourceType": "schemas",
        "version": version,
        "title": title,
        "type": "object",
        "description": body.get("description", ""),
    }
    if body.get("definitions"):
        out["definitions"] = copy.deepcopy(body["definitions"])
    out["allOf"] = all_of
    out["refs"] = groups + [cls]
    if org is not None:
        out["imsOrg"] = org
    out["meta:extensible"] = False
    out["meta:abstract"] = False
    out["meta:extends"] = extends
    out["meta:xdmType"] = "object"
    if registry_metadata is not None:
        out["meta:registryMetadata"] = registry_metadata
    out["meta:class"] = cls
    out["meta:containerId"] = "tenant"
    if sandbox_id is not None:
        out["meta:sandboxId"] = sandbox_id
    if sandbox_type is not None:
        out["meta:sandboxType"] = sandbox_type
    out["meta:tenantNamespace"] = f"_{tenant_id}"
    for key in ("meta:immutableTags", "meta:status"):
        if key in body:
            out[key] = copy.deepcopy(body[key])
    # every reference must resolve and the members must merge
    resolve(out, full=True, lookup=look)
    return out


# --------------------------------------------------------------------------------------------------------------------
# flattening
# --------------------------------------------------------------------------------------------------------------------
class FlatField(NamedTuple):
    path: str                 # AEP path: a.b, a[].b, a.<key>.b, a{} (map container)
    type: str                 # string|integer|number|boolean|object|array|map (arrays of objects: "array<object>")
    format: str | None
    extras: dict[str, Any]    # xdmType, required, enum, pattern, bounds, lengths, title, xdmField, ...


_EXTRA_KEYS = ("enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
               "maxLength", "default", "title", "const", "meta:enum")


def _is_map(node: dict[str, Any]) -> bool:
    return node.get("meta:xdmType") == "map" or (
        node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict)
        and not node.get("properties"))


def _node_type(node: dict[str, Any]) -> str:
    t = node.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "string")
    if t is None:
        t = "object" if "properties" in node else "string"
    return t


def _extras(node: dict[str, Any], required: bool, in_array: bool) -> dict[str, Any]:
    ex = {k: node[k] for k in _EXTRA_KEYS if k in node}
    ex["xdmType"] = node.get("meta:xdmType")
    ex["required"] = required
    ex["in_array"] = in_array
    if "meta:xdmField" in node:
        ex["xdmField"] = node["meta:xdmField"]
    return ex


def flatten(resolved: dict[str, Any], *, containers: bool = False) -> list[FlatField]:
    """AEP paths of a resolved (``xed-full``) schema: leaves only, or with ``containers=True`` also the object,
    array and map nodes (``person``, ``productListItems[]`` typed ``array<object>``, ``identityMap{}`` typed ``map``)."""
    out: list[FlatField] = []

    def emit(node: dict[str, Any], path: str, required: bool, in_array: bool) -> None:
        if not isinstance(node, dict):
            return
        if _is_map(node):
            if containers:
                out.append(FlatField(path + "{}", "map", None, _extras(node, required, in_array)))
            emit(node.get("additionalProperties") or {}, path + ".<key>", False, in_array)
            return
        t = _node_type(node)
        if t == "object" and node.get("properties"):
            if containers:
                out.append(FlatField(path, "object", None, _extras(node, required, in_array)))
            walk(node, path, in_array)
            return
        if t == "array":
            items = node.get("items") or {}
            if isinstance(items, list):
                items = items[0] if items else {}
            it = _node_type(items) if items else "string"
            if _is_map(items) or (it == "object" and items.get("properties")) or it == "array":
                if containers:
                    out.append(FlatField(path + "[]", f"array<{'map' if _is_map(items) else it}>", None,
                                         _extras(node, required, in_array)))
                if _is_map(items) or it == "array":
                    emit(items, path + "[]", False, True)
                else:
                    walk(items, path + "[]", True)
                return
            ex = _extras(items, required, True)
            ex["array"] = True
            out.append(FlatField(path + "[]", it, items.get("format"), ex))
            return
        out.append(FlatField(path, t, node.get("format"), _extras(node, required, in_array)))

    def walk(node: dict[str, Any], prefix: str, in_array: bool) -> None:
        req = set(node.get("required", []) or [])
        for name, child in (node.get("properties") or {}).items():
            emit(child, f"{prefix}.{name}" if prefix else name, name in req, in_array)

    walk(resolved, "", False)
    return out


# --------------------------------------------------------------------------------------------------------------------
# Data Prep paths and coercion
# --------------------------------------------------------------------------------------------------------------------
_SEG_RE = re.compile(r"^(?P<name>.*?)(?P<idx>(\[[^\]]*\])*)$", re.DOTALL)   # matches every segment


def split_path(path: str) -> list[tuple[str, list[str]]]:
    """``a.b\\.c[0].d[*]`` → ``[("a", []), ("b.c", ["0"]), ("d", ["*"])]``; ``${x y}`` wraps odd names."""
    segs: list[str] = []
    cur = ""
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "\\" and i + 1 < len(path):
            cur += path[i + 1]
            i += 2
            continue
        if ch == "$" and path.startswith("${", i):
            end = path.find("}", i)
            if end > 0:
                cur += "\0" + path[i + 2:end] + "\0"
                i = end + 1
                continue
        if ch == ".":
            segs.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    segs.append(cur)
    out: list[tuple[str, list[str]]] = []
    for seg in segs:
        if "\0" in seg:
            name = seg.replace("\0", "")
            rest = seg.rsplit("\0", 1)[1]
            idx = re.findall(r"\[([^\]]*)\]", rest)
            if idx:
                name = seg.split("\0")[1]
            out.append((name, idx))
            continue
        m = _SEG_RE.match(seg)
        assert m is not None
        name, idx = m.group("name"), re.findall(r"\[([^\]]*)\]", m.group("idx"))
        if name.startswith("<") and name.endswith(">"):
            name = "*"
        if name.endswith("{}"):
            name = name[:-2]
        out.append((name, idx))
    return out


def find_path(resolved: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The schema node a Data Prep destination path designates (``person.name.firstName``,
    ``productListItems[*].SKU``, ``identityMap.Email[0].id``), or None when the schema has no such field.
    Containers (objects, arrays, maps) are valid destinations."""
    node: Any = resolved
    for name, idx in split_path(path):
        if not isinstance(node, dict):
            return None
        if name:
            while _node_type(node) == "array" and not _is_map(node):
                node = node.get("items") or {}
            if _is_map(node):
                node = node.get("additionalProperties") or {}
            else:
                props = node.get("properties") or {}
                if name not in props:
                    return None
                node = props[name]
        for _ in idx:
            if not isinstance(node, dict) or _node_type(node) != "array":
                return None
            node = node.get("items") or {}
    return node if isinstance(node, dict) else None


def _dt_from_ms(ms: float) -> str:
    dt = datetime.fromtimestamp(ms / 1000.0, tz=timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CoercionError(ValueError):
    pass


def coerce_value(node: dict[str, Any], value: Any) -> Any:
    """Convert one value to the destination's type (Data Prep's implicit conversion); raises CoercionError."""
    if value is None:
        return None
    t = _node_type(node)
    if _is_map(node):
        if not isinstance(value, dict):
            raise CoercionError(f"cannot convert {type(value).__name__} to map")
        sub = node.get("additionalProperties") or {}
        return {k: coerce_value(sub, v) for k, v in value.items()}
    if t == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            if node.get("format") == "date-time" and not isinstance(value, bool):
                return _dt_from_ms(value)
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        raise CoercionError(f"cannot convert {type(value).__name__} to string")
    if t == "integer":
        if isinstance(value, bool):
            raise CoercionError("cannot convert boolean to integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            if value.is_integer():
                return int(value)
            raise CoercionError(f"cannot convert {value!r} to integer")
        if isinstance(value, str):
            s = value.strip()
            try:
                return int(s)
            except ValueError:
                try:
                    f = float(s)
                except ValueError:
                    raise CoercionError(f"cannot convert {value!r} to integer") from None
                if f.is_integer():
                    return int(f)
                raise CoercionError(f"cannot convert {value!r} to integer") from None
        raise CoercionError(f"cannot convert {type(value).__name__} to integer")
    if t == "number":
        if isinstance(value, bool):
            raise CoercionError("cannot convert boolean to number")
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, str):
            s = value.strip()
            try:
                return int(s)
            except ValueError:
                try:
                    f = float(s)
                except ValueError:
                    raise CoercionError(f"cannot convert {value!r} to number") from None
                if f != f or f in (float("inf"), float("-inf")):
                    raise CoercionError(f"cannot convert {value!r} to number")
                return f
        raise CoercionError(f"cannot convert {type(value).__name__} to number")
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise CoercionError(f"cannot convert {value!r} to boolean")
    if t == "array":
        items = node.get("items") or {}
        if not isinstance(value, list):
            raise CoercionError(f"cannot convert {type(value).__name__} to array")
        return [coerce_value(items, v) for v in value]
    if t == "object":
        if not isinstance(value, dict):
            raise CoercionError(f"cannot convert {type(value).__name__} to object")
        props = node.get("properties")
        if not props:
            return value
        return {k: (coerce_value(props[k], v) if k in props else v) for k, v in value.items()}
    return value


def coerce_record(resolved: dict[str, Any], record: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Coerce every value of a nested record to its destination type. A value that cannot be converted is removed
    (Data Prep nullifies the column and keeps the row) and reported as ``{"destination", "message"}``. Fields the
    schema does not know are left alone (record validation reports them)."""
    errors: list[dict[str, Any]] = []

    def walk(node: dict[str, Any], value: Any, path: str) -> Any:
        if value is None or not isinstance(node, dict):
            return value
        if _is_map(node) and isinstance(value, dict):
            sub = node.get("additionalProperties") or {}
            out = {}
            for k, v in value.items():
                r = walk(sub, v, f"{path}.{k}")
                if r is not _DROP:
                    out[k] = r
            return out
        t = _node_type(node)
        if t == "object" and node.get("properties") and isinstance(value, dict):
            props = node["properties"]
            out = {}
            for k, v in value.items():
                r = walk(props[k], v, f"{path}.{k}" if path else k) if k in props else v
                if r is not _DROP:
                    out[k] = r
            return out
        if t == "array" and isinstance(value, list):
            items = node.get("items") or {}
            out_list = []
            for i, v in enumerate(value):
                r = walk(items, v, f"{path}[{i}]")
                out_list.append(None if r is _DROP else r)
            return out_list
        try:
            return coerce_value(node, value)
        except CoercionError as exc:
            errors.append({"destination": path, "message": str(exc)})
            return _DROP

    result = walk(resolved, record, "")
    if result is _DROP or not isinstance(result, dict):
        result = {}
    return result, errors


_DROP = object()


def dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)
