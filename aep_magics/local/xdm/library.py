"""The vendored adobe/xdm standard library, indexed by ``$id`` and served in AEP form.

The files under ``library/`` are unmodified copies of adobe/xdm (CC BY 4.0, see ``library/NOTICE.md``). They use
*source* names (``xdm:personalEmail``, ``repo:createDate``, ``@id``). The Schema Registry serves *AEP* names; this
module converts at load time with the rule of adobe/xdm's XED converter (research note https://experienceleague.adobe.com/en/docs/experience-platform/landing/troubleshooting):

* ``xdm:name`` → ``name``; ``@id`` → ``_id``; ``@type`` → ``_type`` (any ``@x`` → ``_x``);
* any other ``ns:name`` → ``name`` nested under an object ``_ns`` (``repo:createDate`` → ``_repo.createDate``);
* a URI key ``https://ns.adobe.com/experience/mcid`` → ``_experience.mcid`` (``.../xdm/...`` drops ``xdm``);
* ``required`` entries are renamed the same way; every renamed field records its source name in ``meta:xdmField``;
* every typed node gets ``meta:xdmType`` (``integer`` → ``int``/``long``/``short``/``byte`` by its bounds,
  ``string`` with ``format`` ``date``/``date-time`` → ``date``/``date-time``, maps keep ``map``);
* ``$ref`` members of ``allOf`` and ``$ref`` properties get ``type``/``meta:xdmType`` like the documented responses.

Only ``*.schema.json`` files are indexed (examples are kept for tests). Everything is loaded lazily, once per process.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

LIBRARY_DIR = Path(__file__).with_name("library")

#: The adobe/xdm snapshot the files come from (``library/NOTICE.md``).
XDM_COMMIT = "4a4fc5f8dd175cd81f2419b85130a6fc25053890"
#: "XDM is at version 1.31.4" (adobe/xdm README at that commit); served as the global resources' ``version`` and
#: as ``meta:globalLibVersion``.
XDM_VERSION = "1.31.4"
#: ``repo:createdDate`` / ``repo:lastModifiedDate`` of every global resource: the snapshot date, 2026-08-19T00:00:00Z.
LIBRARY_DATE_MS = 1787097600000

#: Component folder → Schema Registry container path segment.
KINDS = ("classes", "fieldgroups", "datatypes", "behaviors")
#: Component folder → ``meta:resourceType``.
RESOURCE_TYPE = {"classes": "classes", "fieldgroups": "mixins", "datatypes": "datatypes", "behaviors": "behaviors",
                 "common": "datatypes", "descriptors": "descriptors"}
#: Container path segment (and aliases) → component folder.
KIND_ALIASES = {"classes": "classes", "fieldgroups": "fieldgroups", "mixins": "fieldgroups",
                "datatypes": "datatypes", "behaviors": "behaviors"}

CONTEXT_REF = "https://ns.adobe.com/xdm/common/extensible#/definitions/@context"
ADOBE_NS = ("https://ns.adobe.com/", "http://ns.adobe.com/")

#: Keys that describe a *resource* rather than a field; dropped when a resource is embedded during resolution.
RESOURCE_KEYS = frozenset({
    "$id", "$schema", "definitions", "meta:altId", "meta:resourceType", "version", "meta:registryMetadata",
    "meta:extends", "meta:intendedToExtend", "meta:abstract", "meta:extensible", "meta:status", "meta:createdDate",
    "meta:tags", "meta:containerId", "meta:sandboxId", "meta:sandboxType", "meta:tenantNamespace", "imsOrg",
    "meta:class", "refs", "meta:license", "meta:auditable", "auditable", "meta:usageCount", "meta:immutableTags",
    "meta:titleId", "meta:descriptionId",
})


# --------------------------------------------------------------------------------------------------------------------
# ids
# --------------------------------------------------------------------------------------------------------------------
def alt_id(uri: str) -> str:
    """``https://ns.adobe.com/xdm/context/profile`` → ``_xdm.context.profile`` (https://experienceleague.adobe.com/en/docs/experience-platform/xdm/api/getting-started)."""
    rest = uri
    for prefix in ADOBE_NS:
        if rest.startswith(prefix):
            rest = rest[len(prefix):]
            break
    else:
        rest = rest.split("://", 1)[-1]
    return "_" + rest.replace("/", ".")


def id_from_alt(alt: str) -> str:
    """Inverse of :func:`alt_id` for ``ns.adobe.com`` ids without dots in their path segments (every tenant id)."""
    lib = get_library()
    if alt in lib.by_alt:
        return lib.by_alt[alt]
    if not alt.startswith("_"):
        return alt
    return "https://ns.adobe.com/" + alt[1:].replace(".", "/")


# --------------------------------------------------------------------------------------------------------------------
# naming
# --------------------------------------------------------------------------------------------------------------------
def aep_name(key: str) -> list[str]:
    """The AEP name of a source property key, as path segments (``repo:createDate`` → ``["_repo", "createDate"]``)."""
    if key.startswith("xdm:"):
        return [key[4:]]
    if key.startswith("@"):
        return ["_" + key[1:]]
    if "://" in key:
        rest = key
        for prefix in ADOBE_NS:
            if rest.startswith(prefix):
                rest = rest[len(prefix):]
                break
        else:
            rest = rest.split("://", 1)[1]
        parts = [p for p in rest.split("/") if p]
        if parts and parts[0] == "xdm":
            parts = parts[1:]
        if not parts:
            return [key]
        return ["_" + parts[0], *parts[1:]]
    if ":" in key:
        ns, name = key.split(":", 1)
        if ns and name:
            return ["_" + ns, name]
    return [key]


def xdm_type(node: dict[str, Any]) -> str | None:
    """``meta:xdmType`` for a typed schema node (AEP's rule: integer → int/long/short/byte by bounds)."""
    if "meta:xdmType" in node:
        return node["meta:xdmType"]
    t = node.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t == "integer":
        lo, hi = node.get("minimum"), node.get("maximum")
        if (hi is not None and hi > 2147483647) or (lo is not None and lo < -2147483648):
            return "long"
        if lo is not None and hi is not None and lo >= -128 and hi <= 127:
            return "byte"
        if lo is not None and hi is not None and lo >= -32768 and hi <= 32767:
            return "short"
        return "int"
    if t == "string" and node.get("format") in ("date", "date-time"):
        return node["format"]
    if t in ("string", "number", "boolean", "object", "array"):
        return t
    return None


_SCHEMA_MAPS = ("definitions", "patternProperties")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def to_aep(node: Any, ref_type: Callable[[str], str | None] | None = None, *, _in_allof: bool = False) -> Any:
    """Convert a source-form schema (node) to AEP names. Pure: returns new objects."""
    if isinstance(node, list):
        return [to_aep(x, ref_type) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "meta:license":
            continue
        if key == "properties" and isinstance(value, dict):
            out["properties"] = _convert_properties(value, ref_type)
        elif key == "required" and isinstance(value, list):
            out["required"] = _flat_required(value)
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: to_aep(v, ref_type) for k, v in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [to_aep(v, ref_type, _in_allof=key == "allOf") for v in value]
        elif key in ("items", "additionalProperties", "not") and isinstance(value, (dict, list)):
            out[key] = to_aep(value, ref_type)
        else:
            out[key] = value
    if "$ref" in out:
        if _in_allof:
            out.setdefault("type", "object")
            out.setdefault("meta:xdmType", "object")
        elif ref_type is not None and "type" not in out:
            t = ref_type(out["$ref"])
            if t:
                out["type"] = t
                out.setdefault("meta:xdmType", "object" if t == "object" else t)
    elif "type" in out and "meta:xdmType" not in out:
        t = xdm_type(out)
        if t:
            out["meta:xdmType"] = t
    if "required" in out and "properties" in out:
        _nest_required(out)
    return out


def _convert_properties(props: dict[str, Any], ref_type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in props.items():
        segs = aep_name(key)
        conv = to_aep(value, ref_type)
        if isinstance(conv, dict) and segs != [key]:
            conv = {**conv, "meta:xdmField": key}
        target = out
        for seg in segs[:-1]:
            holder = target.get(seg)
            if not isinstance(holder, dict) or "properties" not in holder:
                holder = {"type": "object", "meta:xdmType": "object", "properties": {}}
                target[seg] = holder
            target = holder["properties"]
        target[segs[-1]] = conv
    return out


def _flat_required(names: list[Any]) -> list[Any]:
    """Rename ``required``; a nested name (``repo:x``) is kept as a dotted marker resolved by _nest_required."""
    return [".".join(aep_name(n)) if isinstance(n, str) else n for n in names]


def _nest_required(node: dict[str, Any]) -> None:
    """Move dotted required names (``_repo.x``) into the nested object they belong to."""
    keep: list[Any] = []
    for name in node["required"]:
        if isinstance(name, str) and "." in name and name.split(".", 1)[0] in node["properties"] \
                and name not in node["properties"]:
            head, rest = name.split(".", 1)
            child = node["properties"][head]
            child.setdefault("required", [])
            if rest not in child["required"]:
                child["required"].append(rest)
            if head not in keep:
                keep.append(head)
        elif name not in keep:
            keep.append(name)
    node["required"] = keep


def to_aep_instance(obj: Any) -> Any:
    """Convert a source-form *record* (e.g. an adobe/xdm example) to AEP names with the same key rule.

    Keys without a prefix (map keys such as identity namespace codes) are kept as they are."""
    if isinstance(obj, list):
        return [to_aep_instance(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out: dict[str, Any] = {}
    for key, value in obj.items():
        segs = aep_name(key) if (":" in key or key.startswith("@")) else [key]
        target = out
        for seg in segs[:-1]:
            target = target.setdefault(seg, {})
        target[segs[-1]] = to_aep_instance(value)
    return out


# --------------------------------------------------------------------------------------------------------------------
# the library
# --------------------------------------------------------------------------------------------------------------------
class Library:
    """Every vendored schema, by ``$id``, in source form and (converted on demand) AEP form."""

    def __init__(self, root: Path = LIBRARY_DIR):
        self.root = root
        self.source: dict[str, dict[str, Any]] = {}
        self.kind: dict[str, str] = {}
        self.path: dict[str, str] = {}
        self.by_alt: dict[str, str] = {}
        self.order: dict[str, list[str]] = {k: [] for k in (*KINDS, "common", "descriptors")}
        self._aep: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._registry = None
        files = sorted((root / "components").rglob("*.schema.json")) + sorted((root / "schemas").rglob("*.schema.json"))
        for file in files:
            doc = json.loads(file.read_text(encoding="utf-8"))
            sid = doc.get("$id")
            if not sid:
                continue
            rel = file.relative_to(root).as_posix()
            parts = rel.split("/")
            kind = parts[1] if parts[0] == "components" else "descriptors"
            self.source[sid] = doc
            self.kind[sid] = kind
            self.path[sid] = rel
            self.by_alt[alt_id(sid)] = sid
            self.order.setdefault(kind, []).append(sid)

    # -- lookups ------------------------------------------------------------------------------------------------------
    def find(self, id_or_alt: str) -> str | None:
        if id_or_alt in self.source:
            return id_or_alt
        return self.by_alt.get(id_or_alt)

    def resource_type(self, sid: str) -> str:
        return RESOURCE_TYPE.get(self.kind.get(sid, ""), "datatypes")

    def _ref_type(self, ref: str) -> str | None:
        uri, _, frag = ref.partition("#")
        doc = self.source.get(uri)
        if doc is None:
            return None
        node: Any = doc
        for part in [p for p in frag.split("/") if p]:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                return None
        if not isinstance(node, dict):
            return None
        if node.get("meta:xdmType") == "map":
            return "object"
        if "type" in node:
            return node["type"] if isinstance(node["type"], str) else None
        if "properties" in node or "allOf" in node:
            return "object"
        if "$ref" in node:
            nested = node["$ref"]
            return self._ref_type(uri + nested if nested.startswith("#") else nested)
        return None

    def aep(self, sid: str) -> dict[str, Any]:
        """The AEP-form (``xed``) resource; shared and cached — callers must not mutate it."""
        doc = self._aep.get(sid)
        if doc is not None:
            return doc
        with self._lock:
            doc = self._aep.get(sid)
            if doc is None:
                doc = self._build_aep(sid)
                self._aep[sid] = doc
        return doc

    def _build_aep(self, sid: str) -> dict[str, Any]:
        src = self.source[sid]
        converted = to_aep(src, lambda ref: self._ref_type(sid + ref if ref.startswith("#") else ref))
        head = {
            "$id": sid,
            "meta:altId": alt_id(sid),
            "meta:resourceType": self.resource_type(sid),
            "version": XDM_VERSION,
            "title": converted.get("title", ""),
            "type": converted.get("type", "object"),
            "description": converted.get("description", ""),
        }
        out = {**head, **{k: v for k, v in converted.items() if k not in head}}
        out.setdefault("meta:xdmType", "object")
        out.setdefault("meta:containerId", "global")
        out["meta:registryMetadata"] = {
            "repo:createdDate": LIBRARY_DATE_MS,
            "repo:lastModifiedDate": LIBRARY_DATE_MS,
            "eTag": _etag(sid),
            "meta:globalLibVersion": XDM_VERSION,
        }
        return out

    def registry(self):
        """A ``referencing.Registry`` (DRAFT6) of every source-form document, for source-form validation."""
        if self._registry is None:
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT6

            resources = [(sid, Resource.from_contents(doc, default_specification=DRAFT6))
                         for sid, doc in self.source.items()]
            self._registry = Registry().with_resources(resources)
        return self._registry


def _etag(sid: str) -> str:
    import hashlib

    return hashlib.sha256(f"{XDM_COMMIT}:{sid}".encode()).hexdigest()


_LIBRARY: Library | None = None
_LIBRARY_LOCK = threading.Lock()


def get_library() -> Library:
    """The process-wide library (loaded on first use)."""
    global _LIBRARY
    if _LIBRARY is None:
        with _LIBRARY_LOCK:
            if _LIBRARY is None:
                _LIBRARY = Library()
    return _LIBRARY


# --------------------------------------------------------------------------------------------------------------------
# public helpers
# --------------------------------------------------------------------------------------------------------------------
def list_resources(kind: str) -> list[dict[str, Any]]:
    """Global resources of a kind (``classes``, ``fieldgroups``/``mixins``, ``datatypes``, ``behaviors``), AEP form,
    in library order. Returns deep copies."""
    folder = KIND_ALIASES.get(kind)
    if folder is None:
        raise ValueError(f"unknown resource kind {kind!r}")
    lib = get_library()
    ids = list(lib.order.get(folder, []))
    if folder == "datatypes":
        ids += lib.order.get("common", [])
    return [copy.deepcopy(lib.aep(sid)) for sid in ids]


def get_resource(id_or_altid: str, kind: str | None = None) -> dict[str, Any] | None:
    """One global resource in AEP form (deep copy), by ``$id`` or ``meta:altId``; None when unknown or of another
    kind."""
    lib = get_library()
    sid = lib.find(id_or_altid)
    if sid is None:
        return None
    if kind is not None:
        folder = KIND_ALIASES.get(kind, kind)
        actual = lib.kind[sid]
        if actual == "common":
            actual = "datatypes"
        if actual != folder:
            return None
    return copy.deepcopy(lib.aep(sid))


def global_lookup(sid: str) -> dict[str, Any] | None:
    """Shared (not copied) AEP-form library document for resolution, or None."""
    lib = get_library()
    return lib.aep(sid) if sid in lib.source else None


def is_global(sid: str) -> bool:
    return sid in get_library().source
