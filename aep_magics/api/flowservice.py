"""Flow Service (``/data/foundation/flowservice``): connection specs, connections, source/target connections,
flow specs, flows and runs (https://developer.adobe.com/experience-platform-apis/references/flow-service/)."""

from __future__ import annotations

import base64
import json as jsonlib
from typing import Any

from ..errors import NotFoundError
from ..http import shape, unexpected_answer
from ..runs import Run, as_run, promotion_activity, run_activities, run_batch_ids  # reading run objects, re-exported here
from ._base import Filter, Service, property_list, seg

Body = dict[str, Any]
PatchOps = list[dict[str, Any]]

__all__ = ["FlowService", "Run", "promotion_activity", "run_activities", "run_batch_ids"]


class FlowService(Service):
    BASE = "/data/foundation/flowservice"

    # -- generic resource verbs ------------------------------------------------------------------------------

    def _list(self, kind: str, property: Filter = None, orderby: str | None = None, **params: Any) -> list[Body]:
        query: dict[str, Any] = {"property": property_list(property) or None, "orderby": orderby, **params}
        return list(self.session.iter_flow(f"{self.BASE}/{kind}", query))

    def _get(self, kind: str, id: str) -> Body:
        """GET by id answers ``{"items": [resource]}``: return the resource."""
        body = self._call("GET", f"/{kind}/{seg(id)}")
        items = body.get("items") if isinstance(body, dict) and "items" in body else [body]
        if not isinstance(items, list) or (items and not isinstance(items[0], dict)):
            raise unexpected_answer("GET", f"{self.BASE}/{kind}/{id}", '{"items": [resource]} or the resource',
                                    shape(body))
        if not items:
            raise NotFoundError(
                status=404,
                title="Resource not found",
                detail=f"no {kind} {id}",
                method="GET",
                path=f"{self.BASE}/{kind}/{id}",
            )
        return items[0]

    def _by_name(self, kind: str, name: str) -> Body:
        """The one ``kind`` named ``name``, compared here too: a service that ignores the filter (or answers
        something else) cannot hand back another resource."""
        answered = self._list(kind, property=f'name=="{name}"')
        found = [item for item in answered if isinstance(item, dict) and item.get("name") == name]
        if not found:
            others = sorted({str(item.get("name")) for item in answered if isinstance(item, dict)})
            also = (f"; the platform answered {len(answered)} other{'s' if len(answered) != 1 else ''}"
                    + (f": {', '.join(others[:5])}{', …' if len(others) > 5 else ''}" if others else "")
                    if answered else "")
            raise NotFoundError(
                status=404,
                title="Resource not found",
                detail=f"no {kind} named {name!r}{also}",
                method="GET",
                path=f"{self.BASE}/{kind}",
            )
        return found[0]

    def _create(self, kind: str, body: Body) -> Body:
        return self._call("POST", f"/{kind}", json=body)

    def _patch(self, kind: str, id: str, ops: PatchOps, etag: str | None) -> Body:
        """JSON Patch with ``If-Match``; without ``etag`` the current one is fetched first."""
        if etag is None:
            etag = self._get(kind, id)["etag"]
        return self._call("PATCH", f"/{kind}/{seg(id)}", json=ops, headers={"If-Match": etag})

    def _delete(self, kind: str, id: str) -> None:
        self._call("DELETE", f"/{kind}/{seg(id)}")

    # -- connection specs ------------------------------------------------------------------------------------

    def list_connection_specs(self, property: Filter = None) -> list[Body]:
        return self._list("connectionSpecs", property)

    def get_connection_spec(self, spec_id: str) -> Body:
        return self._get("connectionSpecs", spec_id)

    def connection_spec_by_name(self, name: str) -> Body:
        return self._by_name("connectionSpecs", name)

    # -- base connections ------------------------------------------------------------------------------------

    def create_connection(self, body: Body) -> Body:
        """``{"id", "etag"}`` of the new base connection."""
        return self._create("connections", body)

    def get_connection(self, connection_id: str) -> Body:
        return self._get("connections", connection_id)

    def list_connections(self, property: Filter = None, orderby: str | None = None) -> list[Body]:
        return self._list("connections", property, orderby)

    def patch_connection(self, connection_id: str, ops: PatchOps, etag: str | None = None) -> Body:
        return self._patch("connections", connection_id, ops, etag)

    def delete_connection(self, connection_id: str) -> None:
        self._delete("connections", connection_id)

    def test_connection(self, connection_id: str) -> Body:
        """``{"result": true}`` when the source answers with these credentials."""
        return self._call("GET", f"/connections/{seg(connection_id)}/test")

    def explore(
        self,
        connection_id: str,
        object_type: str = "root",
        object: str | None = None,
        preview: bool = False,
        filters: dict[str, Any] | str | None = None,
    ) -> Any:
        """Browse a source: ``root`` lists tables; ``table`` + ``object`` gives columns (and rows with ``preview``).

        ``filters`` is a PQL JSON object (base64-encoded here) or an already encoded string.
        """
        params: dict[str, Any] = {"objectType": object_type, "object": object}
        if preview:
            params["preview"] = "true"
        if filters is not None:
            params["filters"] = (
                filters if isinstance(filters, str) else base64.b64encode(jsonlib.dumps(filters).encode()).decode()
            )
        return self._call("GET", f"/connections/{seg(connection_id)}/explore", params=params)

    # -- source and target connections -----------------------------------------------------------------------

    def create_source_connection(self, body: Body) -> Body:
        return self._create("sourceConnections", body)

    def get_source_connection(self, source_connection_id: str) -> Body:
        return self._get("sourceConnections", source_connection_id)

    def list_source_connections(self, property: Filter = None, orderby: str | None = None) -> list[Body]:
        return self._list("sourceConnections", property, orderby)

    def patch_source_connection(self, source_connection_id: str, ops: PatchOps, etag: str | None = None) -> Body:
        return self._patch("sourceConnections", source_connection_id, ops, etag)

    def delete_source_connection(self, source_connection_id: str) -> None:
        self._delete("sourceConnections", source_connection_id)

    def create_target_connection(self, body: Body) -> Body:
        return self._create("targetConnections", body)

    def get_target_connection(self, target_connection_id: str) -> Body:
        return self._get("targetConnections", target_connection_id)

    def list_target_connections(self, property: Filter = None, orderby: str | None = None) -> list[Body]:
        return self._list("targetConnections", property, orderby)

    def patch_target_connection(self, target_connection_id: str, ops: PatchOps, etag: str | None = None) -> Body:
        return self._patch("targetConnections", target_connection_id, ops, etag)

    def delete_target_connection(self, target_connection_id: str) -> None:
        self._delete("targetConnections", target_connection_id)

    # -- flow specs ------------------------------------------------------------------------------------------

    def list_flow_specs(self, property: Filter = None) -> list[Body]:
        return self._list("flowSpecs", property)

    def get_flow_spec(self, flow_spec_id: str) -> Body:
        return self._get("flowSpecs", flow_spec_id)

    def flow_spec_by_name(self, name: str) -> Body:
        """E.g. ``"CRMToAEP"`` (``GET /flowSpecs?property=name=="CRMToAEP"``)."""
        return self._by_name("flowSpecs", name)

    # -- flows -----------------------------------------------------------------------------------------------

    def create_flow(self, body: Body) -> Body:
        return self._create("flows", body)

    def get_flow(self, flow_id: str) -> Body:
        return self._get("flows", flow_id)

    def list_flows(self, property: Filter = None, orderby: str | None = None) -> list[Body]:
        return self._list("flows", property, orderby)

    def patch_flow(self, flow_id: str, ops: PatchOps, etag: str | None = None) -> Body:
        return self._patch("flows", flow_id, ops, etag)

    def delete_flow(self, flow_id: str) -> None:
        self._delete("flows", flow_id)

    def flow_action(self, flow_id: str, op: str) -> Body:
        """``op`` = ``ENABLE`` or ``DISABLE`` (others as the spec allows); ``{"id", "etag"}``."""
        return self._call("POST", f"/flows/{seg(flow_id)}/action", params={"op": op.upper()})

    # -- runs ------------------------------------------------------------------------------------------------

    def list_runs(self, flow_id: str | None = None, property: Filter = None, orderby: str | None = None) -> list[Run]:
        """The runs (of one flow), each a :class:`~aep_magics.runs.Run`: its JSON, plus ``.batch_ids``, ``.promotion``."""
        expressions = ([f"flowId=={flow_id}"] if flow_id else []) + property_list(property)
        return [as_run(run) for run in self._list("runs", expressions, orderby)]

    def get_run(self, run_id: str) -> Run:
        """One run, as a :class:`~aep_magics.runs.Run` (``.batch_ids``, ``.promotion``)."""
        return as_run(self._get("runs", run_id))

    def create_run(self, body: Body) -> Body:
        return self._create("runs", body)
