"""Sandbox management (``/data/foundation/sandbox-management``): the sandboxes of an org (EN sandboxes.md,
openapi/sandbox.yaml).

Sandboxes are org-wide records (tenant ``(org, GLOBAL_SANDBOX)``); everything else lives in the tenant
``(org, sandbox name)``. Every org has its default ``prod`` sandbox from the start; it cannot be deleted. Deleting
a development sandbox wipes its tenant state and its data lake directory and leaves the record behind in state
``deleted`` (the docs: "GET requests can still retrieve sandbox's details after it has been deleted"). A sandbox
created again under a deleted one's name starts empty: whatever work still under way wrote into the deleted
sandbox after its deletion (a run, a batch) is wiped then.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .. import errors
from ..store import GLOBAL_SANDBOX, Tenant
from .base import Call, Reply, Route, Service

if TYPE_CHECKING:
    from ..platform import Platform

BASE = "/data/foundation/sandbox-management"
KIND = "sandbox"
#: Largest limit / offset taken (SQLite integers are 64-bit; fuzzing sent 10**36).
_MAX_PAGE_ARG = 2**31 - 1
DEFAULT = "prod"
REGION = "VA7"
#: Lowercase letters, digits and inner hyphens (the docs: "cannot contain any spaces or special characters").
NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,254}[a-z0-9])?$")
DEFAULT_LIMIT = 50


def _date(ms: int) -> str:
    """Sandbox dates look like ``2019-09-04 04:57:24`` (UTC) in the docs."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _org(org: str) -> Tenant:
    return Tenant(org, GLOBAL_SANDBOX)


def get_sandbox(platform: Platform, org: str, name: str) -> dict[str, Any] | None:
    rec = platform.store.get(_org(org), KIND, name)
    return rec.doc if rec else None


def _new(platform: Platform, org: str, name: str, title: str, type_: str, by: str, *,
         default: bool = False) -> dict[str, Any]:
    now = platform.clock.now_ms()
    doc = {
        "id": platform.ids.uuid(),
        "name": name,
        "title": title,
        "state": "active",
        "type": type_,
        "region": REGION,
        "isDefault": default,
        "eTag": 1,
        "createdDate": _date(now),
        "lastModifiedDate": _date(now),
        "createdBy": by,
        "modifiedBy": by,
    }
    store = platform.store
    if store.get(_org(org), KIND, name) is None:
        store.insert(_org(org), KIND, name, doc, created=now, name=name, state="active")
    else:  # re-creating a deleted sandbox reuses its name, not its leftovers
        with store.transaction():
            store.delete_tenant(Tenant(org, name))
            store.replace(_org(org), KIND, name, doc, updated=now, name=name, state="active")
        remove_lake_files(platform, Tenant(org, name))
    return doc


def remove_lake_files(platform: Platform, tenant: Tenant) -> None:
    """Remove a sandbox's directory from the data lake (every dataset's Parquet files and diagnostics)."""
    from ..engine.datalake import DataLake, LakePathError

    try:
        path = DataLake(platform.lake_dir).dataset_dir(tenant, "x").parent  # <lake>/<org>/<sandbox>, checked
    except LakePathError:
        return
    shutil.rmtree(path, ignore_errors=True)


def ensure_org(platform: Platform, org: str) -> None:
    """Give ``org`` its default production sandbox ``prod`` unless it has it already."""
    if get_sandbox(platform, org, DEFAULT) is None:
        _new(platform, org, DEFAULT, "Production", "production", "aep-local@AdobeID", default=True)


def active_sandbox(platform: Platform, org: str, name: str) -> dict[str, Any] | None:
    """The sandbox when it exists and is active; ``prod`` is created on first sight."""
    doc = get_sandbox(platform, org, name)
    if doc is None and name == DEFAULT:
        ensure_org(platform, org)
        doc = get_sandbox(platform, org, name)
    return doc if doc and doc.get("state") == "active" else None


def sandbox_id(platform: Platform, tenant: Tenant) -> str:
    doc = get_sandbox(platform, tenant.org, tenant.sandbox)
    return doc["id"] if doc else ""


def _bad(detail: str, status: int = 400) -> errors.ServiceError:
    titles = {400: "BadRequestError", 404: "NotFoundError", 409: "ConflictError"}
    return errors.problem(status, titles.get(status, "Error"), detail)


class SandboxService(Service):
    """``/sandboxes`` list/lookup/create/update/delete, ``/sandboxTypes``, and the available-sandboxes root."""

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{BASE}/", self.available, sandbox=False),
            Route("GET", f"{BASE}/sandboxTypes", self.types, sandbox=False),
            Route("GET", f"{BASE}/sandboxes", self.list, sandbox=False),
            Route("POST", f"{BASE}/sandboxes", self.create, sandbox=False),
            Route("GET", f"{BASE}/sandboxes/<name>", self.get, sandbox=False),
            Route("PATCH", f"{BASE}/sandboxes/<name>", self.update, sandbox=False),
            Route("DELETE", f"{BASE}/sandboxes/<name>", self.delete, sandbox=False),
        ]

    # -- reads ---------------------------------------------------------------------------------------------------
    def _page(self, call: Call, *, active_only: bool, path: str) -> Reply:
        limit_s, offset_s = call.arg("limit"), call.arg("offset")
        if (limit_s is None) != (offset_s is None):
            raise _bad("The limit and offset query parameters have to be specified together.")
        try:
            limit = DEFAULT_LIMIT if limit_s is None else int(limit_s)
            offset = 0 if offset_s is None else int(offset_s)
        except ValueError:
            raise _bad("limit and offset must be integers.") from None
        if limit < 1 or offset < 0:
            raise _bad("limit must be positive and offset must not be negative.")
        if limit > _MAX_PAGE_ARG or offset > _MAX_PAGE_ARG:
            raise _bad(f"limit and offset must not be larger than {_MAX_PAGE_ARG}.")
        org = _org(call.tenant.org)
        where, params = ("state = ?", ["active"]) if active_only else ("", [])
        total = self.store.count(org, KIND, where=where, params=params)
        records = self.store.select(org, KIND, where=where, params=params, order="seq ASC", limit=limit,
                                    offset=offset)
        links: dict[str, Any] = {}
        if offset + len(records) < total:
            links["next"] = {"href": f"{path}?limit={limit}&offset={offset + limit}", "templated": False}
        if offset > 0:
            links["prev"] = {"href": f"{path}?limit={limit}&offset={max(0, offset - limit)}", "templated": False}
        return Reply(200, {"sandboxes": [r.doc for r in records], "_page": {"limit": limit, "count": len(records)},
                           "_links": links})

    def available(self, call: Call) -> Reply:
        return self._page(call, active_only=True, path=f"{BASE}/")

    def list(self, call: Call) -> Reply:
        return self._page(call, active_only=False, path=f"{BASE}/sandboxes")

    def types(self, call: Call) -> Reply:
        return Reply(200, {"sandboxTypes": ["development", "production"]})

    def _get(self, call: Call) -> dict[str, Any]:
        doc = get_sandbox(self.platform, call.tenant.org, call.params["name"])
        if doc is None:
            raise _bad(f"Sandbox with name '{call.params['name']}' not present.", 404)
        return doc

    def get(self, call: Call) -> Reply:
        return Reply(200, self._get(call))

    # -- writes --------------------------------------------------------------------------------------------------
    def create(self, call: Call) -> Reply:
        body = call.body
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object with name, title and type.")
        missing = [k for k in ("name", "title", "type") if not isinstance(body.get(k), str) or not body.get(k)]
        if missing:
            raise _bad(f"Missing required field(s): {', '.join(missing)}.")
        name, title, type_ = body["name"], body["title"], body["type"]
        if type_ not in ("development", "production"):
            raise _bad(f"Invalid sandbox type '{type_}': use development or production.")
        if not NAME_RE.match(name):
            raise _bad(f"Invalid sandbox name '{name}': use lowercase letters, digits and hyphens "
                       "(no spaces or special characters).")
        existing = get_sandbox(self.platform, call.tenant.org, name)
        if existing is not None and existing.get("state") != "deleted":
            raise _bad(f"A sandbox with the name '{name}' already exists.", 409)
        doc = _new(self.platform, call.tenant.org, name, title, type_, f"{call.client_id}@AdobeID")
        # The docs answer "creating"; AEP Local provisions at once, so the next GET already says "active".
        return Reply(202, {"id": doc["id"], "name": name, "title": title, "state": "creating", "type": type_,
                           "region": REGION})

    def update(self, call: Call) -> Reply:
        doc = self._get(call)
        body = call.body
        if not isinstance(body, dict) or not isinstance(body.get("title"), str) or not body["title"]:
            raise _bad("Only the title of a sandbox can be updated: send {\"title\": \"...\"}.")
        now = self.clock.now_ms()
        doc.update(title=body["title"], eTag=int(doc.get("eTag", 1)) + 1, lastModifiedDate=_date(now),
                   modifiedBy=f"{call.client_id}@AdobeID")
        self.store.replace(_org(call.tenant.org), KIND, doc["name"], doc, updated=now, name=doc["name"],
                           state=doc["state"])
        return Reply(200, {k: doc[k] for k in ("name", "title", "state", "type", "region")})

    def delete(self, call: Call) -> Reply:
        doc = self._get(call)
        if doc.get("isDefault") or doc["name"] == DEFAULT:
            raise _bad("The default production sandbox cannot be deleted.")
        if doc.get("state") == "deleted":
            raise _bad(f"Sandbox with name '{doc['name']}' not present.", 404)
        now = self.clock.now_ms()
        doc.update(state="deleted", eTag=int(doc.get("eTag", 1)) + 1, lastModifiedDate=_date(now),
                   modifiedBy=f"{call.client_id}@AdobeID")
        tenant = Tenant(call.tenant.org, doc["name"])
        with self.store.transaction():
            self.store.replace(_org(call.tenant.org), KIND, doc["name"], doc, updated=now, name=doc["name"],
                               state="deleted")
            flows = [r.id for r in self.store.select(tenant, "flow")]
            self.store.delete_tenant(tenant)
        remove_lake_files(self.platform, tenant)
        scheduler = self.platform.scheduler
        if scheduler is not None:
            for flow_id in flows:
                scheduler.flow_changed(tenant, flow_id)
        return Reply(202, {k: doc[k] for k in ("name", "title", "state", "type", "region")})
