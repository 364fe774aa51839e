"""Tenant schemas in the store, looked up and resolved to AEP full form (``xed-full``), with a per-platform cache.

Tenant resources are the Schema Registry's store documents under the caller's (org, sandbox): kind ``schema`` /
``fieldgroup`` / ``class`` / ``datatype`` (id = ``$id``, name = ``title``) and ``descriptor`` (id = ``@id``); global
resources come from the vendored adobe/xdm library (:mod:`aep_magics.local.xdm`). Ids are accepted as ``$id`` or
``meta:altId`` (https://experienceleague.adobe.com/en/docs/experience-platform/xdm/api/getting-started).

A low module: the Schema Registry service writes these documents (and calls :func:`invalidate` after every write),
Catalog, Data Prep and the engine read them through :func:`get_schema`, :func:`resolved_schema` and
:func:`identity_descriptors`.
"""

from __future__ import annotations

import copy
import re
import threading
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .store import Record, Tenant
from .xdm import compose as xres
from .xdm import library as xlib

if TYPE_CHECKING:
    from .platform import Platform

#: store kind → ``meta:resourceType`` and the ``$id`` path segment.
RESOURCE_TYPE = {"schema": "schemas", "fieldgroup": "mixins", "class": "classes", "datatype": "datatypes"}
#: ``$id`` path segment → store kind.
SEGMENT_KIND = {"schemas": "schema", "mixins": "fieldgroup", "fieldgroups": "fieldgroup", "classes": "class",
                "datatypes": "datatype"}


# --------------------------------------------------------------------------------------------------------------------
# resolution cache (per platform; invalidated by any tenant resource write)
# --------------------------------------------------------------------------------------------------------------------
class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation: dict[Tenant, int] = {}
        self.resolved: dict[tuple, dict[str, Any]] = {}


_CACHES: "weakref.WeakKeyDictionary[Any, _Cache]" = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache(platform: Platform) -> _Cache:
    with _CACHES_LOCK:
        c = _CACHES.get(platform)
        if c is None:
            c = _CACHES[platform] = _Cache()
        return c


def invalidate(platform: Platform, tenant: Tenant) -> None:
    """Forget the tenant's resolved schemas (after any write of a tenant resource)."""
    c = _cache(platform)
    with c.lock:
        c.generation[tenant] = c.generation.get(tenant, 0) + 1
        for key in [k for k in c.resolved if k[0] == tenant]:
            del c.resolved[key]


# --------------------------------------------------------------------------------------------------------------------
# lookups (used by the Schema Registry, Catalog, Data Prep and the engine)
# --------------------------------------------------------------------------------------------------------------------
def kind_of_id(sid: str) -> str | None:
    parts = sid.split("/")
    return SEGMENT_KIND.get(parts[-2]) if len(parts) >= 2 else None


def normal_id(id_or_alt: str) -> str:
    sid = unquote(id_or_alt).strip()
    sid = re.sub(r"^(https?):/(?!/)", r"\1://", sid)      # a proxy that merged the slashes of https://
    if sid.startswith("_"):
        sid = xlib.id_from_alt(sid)
    return sid


def tenant_record(platform: Platform, tenant: Tenant, sid: str, kind: str | None = None) -> Record | None:
    guessed = kind_of_id(sid)
    kinds = [kind] if kind else ([guessed] if guessed else list(RESOURCE_TYPE))
    for k in kinds:
        rec = platform.store.get(tenant, k, sid)
        if rec is not None:
            return rec
    return None


def tenant_lookup(platform: Platform, tenant: Tenant):
    """``lookup(id)`` over the tenant's resources and the global library (AEP form, not to be mutated)."""
    memo: dict[str, dict[str, Any] | None] = {}

    def lookup(sid: str) -> dict[str, Any] | None:
        if sid in memo:
            return memo[sid]
        doc = xlib.global_lookup(sid)
        if doc is None:
            rec = tenant_record(platform, tenant, sid)
            doc = rec.doc if rec else None
        memo[sid] = doc
        return doc

    return lookup


def get_schema(platform: Platform, tenant: Tenant, id_or_alt: str) -> dict[str, Any] | None:
    """A tenant schema (stored form, deep copy) or a global resource, by ``$id``/``meta:altId``; None if unknown."""
    sid = normal_id(id_or_alt)
    rec = tenant_record(platform, tenant, sid)
    if rec is not None:
        return copy.deepcopy(rec.doc)
    return xlib.get_resource(sid)


def resolved_schema(platform: Platform, tenant: Tenant, id_or_alt: str, *, text: bool = False
                    ) -> dict[str, Any] | None:
    """The ``xed-full`` form (``text=False``: ``-notext``) of a tenant schema or global resource, cached per
    ``$id`` + version + eTag; None when unknown. Returns a deep copy."""
    sid = normal_id(id_or_alt)
    c = _cache(platform)
    rec = tenant_record(platform, tenant, sid)
    key: tuple[Tenant | None, str, Any, Any, int, bool]
    if rec is not None:
        meta = rec.doc.get("meta:registryMetadata") or {}
        key = (tenant, sid, rec.doc.get("version"), meta.get("eTag"), c.generation.get(tenant, 0), text)
        doc = rec.doc
    else:
        shared = xlib.global_lookup(sid)      # None unless xlib.is_global(sid)
        if shared is None:
            return None
        key = (None, sid, xlib.XDM_VERSION, None, 0, text)
        doc = shared
    with c.lock:
        hit = c.resolved.get(key)
    if hit is None:
        body = {k: v for k, v in doc.items() if k != "refs"}
        hit = xres.resolve(body, full=True, text=text, lookup=tenant_lookup(platform, tenant))
        with c.lock:
            c.resolved[key] = hit
    return copy.deepcopy(hit)


def identity_descriptors(platform: Platform, tenant: Tenant, schema_id: str) -> list[dict[str, Any]]:
    """The ``xdm:descriptorIdentity`` descriptors of a schema (by ``$id`` or ``meta:altId``), creation order."""
    sid = normal_id(schema_id)
    out = []
    for rec in platform.store.select(tenant, "descriptor"):
        d = rec.doc
        if d.get("@type") == "xdm:descriptorIdentity" and normal_id(str(d.get("xdm:sourceSchema", ""))) == sid:
            out.append(copy.deepcopy(d))
    return out
