"""Data Prep mapping sets as they are stored, read back in the form the engine compiles.

Mapping sets are store documents of kind ``mappingSet`` (id: 32 hex). The document's top level is the *latest*
version in its GET form plus ``versions``: every version's GET form, index = version number. Stored mappings report
``"sourceType": "text/x.schema-path"`` whatever their kind
(https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set); the kind is recovered
from the source (a field path is an ATTRIBUTE, anything else an EXPRESSION) with :func:`.mapping.classify_source`.

The Data Prep service writes these documents (and re-exports :func:`get_mapping_set` and :func:`engine_form`); the
run's mapper (:mod:`.validate`) reads them.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..store import Tenant

if TYPE_CHECKING:
    from ..platform import Platform

#: Stored ``sourceType`` values → the kind they stand for (None: recovered from the source).
STORED_TYPES = {"text/x.schema-path": None, "schema-path": None, "text/x.aep-xl": "EXPRESSION",
                "text/plain": "STATIC"}


def classify(source: Any) -> str:
    """ATTRIBUTE for a field path, EXPRESSION for anything else (the expression engine is imported on first use)."""
    from .mapping import classify_source

    return classify_source(source)


def source_type(m: dict[str, Any]) -> str:
    """The kind of a mapping (ATTRIBUTE, EXPRESSION, STATIC) from its ``sourceType`` or its source; "?" if invalid."""
    raw = m.get("sourceType")
    source = m.get("source", m.get("sourceAttribute"))
    if raw is None:
        return classify(source)
    if not isinstance(raw, str):
        return "?"
    up = raw.upper()
    if up in ("ATTRIBUTE", "EXPRESSION", "STATIC"):
        return up
    if raw.lower() in STORED_TYPES:
        return STORED_TYPES[raw.lower()] or classify(source)
    return "?"


def engine_form(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored (GET-form) mapping set in the request format the Data Prep engine compiles."""
    mappings = []
    for m in doc.get("mappings") or []:
        st = source_type(m)
        entry = {"sourceType": "ATTRIBUTE" if st == "?" else st,
                 "source": m.get("source", m.get("sourceAttribute")),
                 "destination": m.get("destination", m.get("destinationXdmPath"))}
        for k in ("name", "description", "identity", "primaryIdentity", "identityGroup", "namespaceCode"):
            if k in m:
                entry[k] = m[k]
        mappings.append(entry)
    out = copy.deepcopy(doc.get("outputSchema") or {})
    return {"outputSchema": out, "mappings": mappings}


def get_mapping_set(platform: Platform, tenant: Tenant, mapping_id: str, version: int | None = None
                    ) -> dict[str, Any] | None:
    """One version (default: the latest) of a mapping set in its GET form, or None."""
    rec = platform.store.get(tenant, "mappingSet", mapping_id)
    if rec is None:
        return None
    versions = rec.doc.get("versions") or []
    if version is None:
        return public_form(rec.doc)
    if not 0 <= version < len(versions):
        return None
    return copy.deepcopy(versions[version])


def public_form(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored mapping set without its version history (its GET form)."""
    return copy.deepcopy({k: v for k, v in doc.items() if k != "versions"})
