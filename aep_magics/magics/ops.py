"""The operations behind the magics, as plain Python: ``ops.create_source(client, body)`` works without IPython.

Every function takes an :class:`~aep_magics.api.AEPClient` and returns a result object from
:mod:`aep_magics.display` (or a pandas DataFrame for rows of data). Every call an operation makes is recorded on the
result (``result.calls``), so ``--curl`` can show all of them; with ``dry_run=True`` the first call that would reach
the network is recorded and nothing is sent (no token is fetched either): the result is a
:class:`~aep_magics.display.DryRun`. Lookups and client-side checks that need the platform are skipped in a dry run.

Idempotency (``if_exists``): ``"fail"`` (the default) sends the create call as is and the platform decides, as it
would without the kit (Flow Service accepts duplicate names; the Schema Registry refuses a duplicate title).
``"reuse"`` first looks for a resource of the same name and returns it (``result.reused``) instead of creating one:

=================  ==============================================================================
base connection    Flow Service ``GET /connections?property=name=="…"``
source / target    ``GET /sourceConnections`` / ``/targetConnections`` with the same filter
flow               ``GET /flows?property=name=="…"``
schema             Schema Registry ``GET /tenant/schemas`` (``property=title==…``), by ``title``
dataset            Catalog ``GET /dataSets?name=…``
mapping set        Data Prep ``GET /mappingSets?name=…`` when the body has a ``name`` (data-prep.yaml
                   ``MappingSet.name``), else ``GET /mappingSets`` (the legacy tutorial body has none); either
                   way only a set whose content holds everything the body says (same schema, same mappings in
                   the same order, each with the fields written) is reused: an edited body, or the same body
                   for a schema created again, creates a new set. The body is sent exactly as written.
=================  ==============================================================================

Names are compared exactly on the client as well, so a server that ignores a filter cannot cause a wrong reuse.
What ``reuse`` hands back is the full resource, fetched by its id (Flow Service ``GET /{kind}/{id}``, Schema
Registry ``GET /tenant/schemas/{$id}`` with the Accept that create answers in, Catalog ``GET /dataSets/{id}``, Data
Prep ``GET /mappingSets/{id}``): every key of a create's answer is there (a dataset's create answers only its link,
``["@/dataSets/{id}"]``; its reuse gives the dataset object), with the same ``.id`` and the current ``.etag``.

Lost answers: when a create call fails in a way that leaves its outcome unknown (the connection dropped, a 5xx, a
429), ``reuse`` looks the name up again and returns what it finds, and only re-sends the create when nothing of that
name exists (at most ``RESEND_ATTEMPTS`` times). ``fail`` never re-sends: its error says the call may have been
applied and how to make the cell safe to run again.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from ..api import AEPClient
from ..api.dataprep import cannot_delete
from ..display import (
    DryRun,
    Lineage,
    LineageNode,
    ListResult,
    Request,
    Result,
    RunsResult,
    mask_secrets,
)
from ..display.tables import run_finished
from ..errors import (AEPError, AEPKitError, BadRequestError, InputError, NotFoundError, RateLimitedError, ServerError,
                      TransportError)
from ..http import AEPSession, PreparedCall, Response
from ..http import shape as _shape
from ..http import unexpected_answer

IF_EXISTS = ("fail", "reuse")
DRY_RUN_NOTE = "Lookups and checks that need the platform were skipped."


class WaitTimeoutError(AEPKitError):
    """Waiting for flow runs took longer than allowed."""


class FlowNotDueError(WaitTimeoutError):
    """AEP Local: a flow has no run yet, and its start time is ahead of AEP Local's clock, which will not reach it
    while waiting (raised at once, not after the timeout)."""


class _DryRunStop(Exception):
    """Raised by a dry-run recorder at the first call that would reach the network."""


# -- recording every call ----------------------------------------------------------------------------------------


class Recorder:
    """A view of an :class:`AEPSession` that records every call made through it; in dry-run mode it sends none."""

    def __init__(self, session: Any, dry_run: bool = False):
        self.session = session
        self.dry_run = dry_run
        self.entries: list[tuple[PreparedCall, Response | None]] = []

    @property
    def profile(self) -> Any:
        return self.session.profile

    def prepare(self, method: str, path: str, **kw: Any) -> PreparedCall:
        return self.session.prepare(method, path, **kw)

    def request(self, method: str, path: str, **kw: Any) -> Response:
        return self.send(self.session.prepare(method, path, **kw))

    def send(self, call: PreparedCall) -> Response:
        self.entries.append((call, None))
        if self.dry_run:
            raise _DryRunStop()
        response = self.session.send(call)
        self.entries[-1] = (call, response)
        return response

    # the session's pagers, running over this recorder's request()
    iter_flow = AEPSession.iter_flow
    iter_catalog = AEPSession.iter_catalog
    iter_registry = AEPSession.iter_registry

    @property
    def last(self) -> tuple[PreparedCall, Response | None]:
        return self.entries[-1]

    def requests(self) -> list[Request]:
        return [to_request(call, response) for call, response in self.entries]


def to_request(call: PreparedCall, response: Response | None = None) -> Request:
    """A :class:`~aep_magics.display.Request` record of a call: body secrets masked in what is shown."""
    shown = dataclasses.replace(call, json=mask_secrets(call.json)) if call.json is not None else call
    return Request(
        method=call.method,
        url=call.url,
        path=call.path,
        body=call.json,
        headers=dict(shown.as_dict()["headers"]),
        curl=shown.curl(),
        status=response.status if response is not None else None,
        prepared=call,
    )


def _recording(client: AEPClient, dry_run: bool) -> tuple[AEPClient, Recorder]:
    recorder = Recorder(client.session, dry_run)
    return AEPClient(recorder), recorder  # type: ignore[arg-type]


def _dry(recorder: Recorder) -> DryRun:
    return DryRun(recorder.requests(), note=DRY_RUN_NOTE)


def _json(response: Response | None) -> Any:
    if response is None:
        return None
    try:
        return response.json()
    except ValueError:
        return None


# -- creating resources ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Kind:
    label: str  # what the result says it is
    remember: str  # key in state.last
    name_key: str
    create: Callable[[AEPClient, dict[str, Any]], Any]
    find: Callable[[AEPClient, str], list[dict[str, Any]]]
    id_of: Callable[[Any, Any], str | None]  # (response JSON, create() return value) -> id
    fetch: Callable[[AEPClient, str], Any]  # the full resource by id
    item_id: Callable[[dict[str, Any]], str | None] = lambda item: item.get("id")  # id of a found item
    #: Finds a resource by the body's content when it has no name (mapping sets); None: a name is required.
    find_like: Callable[[AEPClient, dict[str, Any]], list[dict[str, Any]]] | None = None


def _flow_find(kind: str) -> Callable[[AEPClient, str], list[dict[str, Any]]]:
    def find(api: AEPClient, name: str) -> list[dict[str, Any]]:
        if '"' in name or "\\" in name:  # the property filter has no way to quote these: compare them all here
            found = api.flow._list(kind)
        else:
            try:
                found = api.flow._list(kind, property=f'name=="{name}"')
            except BadRequestError:  # a service that does not take this filter: look through them all
                found = api.flow._list(kind)
        return [item for item in found if item.get("name") == name]

    return find


def _find_schema(api: AEPClient, title: str) -> list[dict[str, Any]]:
    try:
        found = api.schemas.list_schemas(property=f"title=={title}")
    except BadRequestError:  # a registry that does not take this filter: look through them all
        found = api.schemas.list_schemas()
    return [item for item in found if item.get("title") == title]


def _find_dataset(api: AEPClient, name: str) -> list[dict[str, Any]]:
    plain = not re.search(r"[,*]", name) and not name.startswith("!")
    datasets = api.catalog.list_datasets(name=name) if plain else api.catalog.list_datasets()
    return [{"id": key, **value} for key, value in datasets.items() if value.get("name") == name]


def _find_mapping(api: AEPClient, name: str) -> list[dict[str, Any]]:
    return [item for item in api.dataprep.list_mapping_sets(name=name) if item.get("name") == name]


def _find_mapping_like(api: AEPClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Mapping sets that hold everything ``body`` says (an unnamed body: found by its content)."""
    return [item for item in api.dataprep.list_mapping_sets() if mapping_matches(body, item)]


#: Keys a mapping set body may carry that the platform assigns: not compared when finding a set by content.
_ASSIGNED = frozenset({"id", "version", "createdDate", "modifiedDate", "createdBy", "modifiedBy"})


def mapping_matches(body: dict[str, Any], existing: dict[str, Any]) -> bool:
    """Whether the stored mapping set ``existing`` holds what ``body`` says: every key written (but the ids and
    versions the platform assigns) has the same value there; the mappings are the same number, in the same order,
    each with the fields written. ``null`` in the body matches a field left out."""
    if _schema_of(body) != _schema_of(existing):
        return False
    for key, value in body.items():
        if key in _ASSIGNED or key in ("xdmSchema", "outputSchema"):
            continue
        if key == "mappings":
            theirs = existing.get("mappings")
            if not isinstance(value, list) or not isinstance(theirs, list) or len(value) != len(theirs):
                return False
            if not all(_holds(mine, other, top=True) for mine, other in zip(value, theirs)):
                return False
        elif not _holds(value, existing.get(key)):
            return False
    return True


def _schema_of(body: dict[str, Any]) -> Any:
    output = body.get("outputSchema")
    ref = ((output or {}).get("schemaRef") or {}).get("id") if isinstance(output, dict) else None
    return body.get("xdmSchema") or ref


def _holds(mine: Any, theirs: Any, top: bool = False) -> bool:
    if mine is None:
        return True
    if isinstance(mine, dict):
        return isinstance(theirs, dict) and all(
            _holds(v, theirs.get(k)) for k, v in mine.items() if not (top and k in _ASSIGNED))
    if isinstance(mine, list):
        return isinstance(theirs, list) and len(mine) == len(theirs) and all(map(_holds, mine, theirs))
    return mine == theirs


def _dataset_id(answer: Any, returned: Any) -> str | None:
    if isinstance(returned, str):
        return returned
    if isinstance(answer, list) and answer and isinstance(answer[0], str):
        return answer[0].rstrip("/").rsplit("/", 1)[-1]
    return None


def _id(answer: Any, returned: Any) -> str | None:
    body = answer if isinstance(answer, dict) else returned if isinstance(returned, dict) else {}
    return body.get("id") or body.get("$id")


def _schema_id(answer: Any, returned: Any) -> str | None:
    body = answer if isinstance(answer, dict) else {}
    return body.get("$id") or body.get("id")


def _flow_get(kind: str) -> Callable[[AEPClient, str], Any]:
    return lambda api, resource_id: api.flow._get(kind, resource_id)


KINDS: dict[str, _Kind] = {
    "connection": _Kind("BaseConnection", "connection", "name",
                        lambda api, b: api.flow.create_connection(b), _flow_find("connections"), _id,
                        _flow_get("connections")),
    "source": _Kind("SourceConnection", "source", "name",
                    lambda api, b: api.flow.create_source_connection(b), _flow_find("sourceConnections"), _id,
                    _flow_get("sourceConnections")),
    "target": _Kind("TargetConnection", "target", "name",
                    lambda api, b: api.flow.create_target_connection(b), _flow_find("targetConnections"), _id,
                    _flow_get("targetConnections")),
    "flow": _Kind("Flow", "flow", "name", lambda api, b: api.flow.create_flow(b), _flow_find("flows"), _id,
                  _flow_get("flows")),
    "schema": _Kind("Schema", "schema", "title", lambda api, b: api.schemas.create_schema(b), _find_schema,
                    _schema_id, lambda api, i: api.schemas.get_schema(i), lambda item: item.get("$id")),
    "dataset": _Kind("Dataset", "dataset", "name", lambda api, b: api.catalog.create_dataset(b), _find_dataset,
                     _dataset_id, lambda api, i: api.catalog.get_dataset(i)),
    "mapping": _Kind("MappingSet", "mapping", "name", lambda api, b: api.dataprep.create_mapping_set(b),
                     _find_mapping, _id, lambda api, i: api.dataprep.get_mapping_set(i),
                     find_like=_find_mapping_like),
}


def _check(body: Any, what: str, if_exists: str) -> dict[str, Any]:
    if if_exists not in IF_EXISTS:
        raise InputError(f"--if-exists takes {' or '.join(IF_EXISTS)}, not {if_exists!r}")
    if not isinstance(body, dict):
        shown = "nothing" if body is None else f"a {type(body).__name__}"
        raise InputError(f"the {what} body must be a JSON object; got {shown}")
    return body


def _create(
    client: AEPClient,
    kind_key: str,
    body: Any,
    *,
    if_exists: str = "fail",
    dry_run: bool = False,
    before: Callable[[AEPClient], None] | None = None,
    sections: Sequence[tuple[str, Any]] = (),
) -> Result:
    kind = KINDS[kind_key]
    body = _check(body, kind.label, if_exists)
    api, recorder = _recording(client, dry_run)
    name = body.get(kind.name_key)
    named = isinstance(name, str) and bool(name)
    try:
        if if_exists == "reuse" and not dry_run:
            if not named and kind.find_like is None:
                raise InputError(f"--if-exists reuse looks a {kind.label} up by its {kind.name_key!r}; the body has none")
            found = _find(api, kind, body)
            if found:
                note = (f"{len(found)} {kind.label}s have this {kind.name_key if named else 'content'}; reused the first"
                        if len(found) > 1 else None)
                return _reused(api, recorder, kind, found[0], name, note, sections)
        if before is not None and not dry_run:
            before(api)
        returned = _create_once(api, kind, body, if_exists)
        if isinstance(returned, _Found):
            return _reused(api, recorder, kind, returned.item, name,
                           "the create call's answer was lost; found it by "
                           + (kind.name_key if named else "its content"), sections)
    except _DryRunStop:
        return _dry(recorder)
    response = recorder.last[1]
    answer = _json(response)
    return Result(kind.label, id=kind.id_of(answer, returned), name=name, body=answer,
                  status=response.status if response else None, calls=recorder.requests(),
                  headers=dict(response.headers) if response else None, sections=sections)


def _find(api: AEPClient, kind: _Kind, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Existing resources ``reuse`` may hand back: by name; mapping sets by name and content (or content alone)."""
    name = body.get(kind.name_key)
    if isinstance(name, str) and name:
        found = kind.find(api, name)
        if kind.find_like is not None:  # a mapping set of this name for another schema or other mappings: not it
            found = [item for item in found if mapping_matches(body, item)]
        return found
    return kind.find_like(api, body) if kind.find_like is not None else []


def _reused(api: AEPClient, recorder: Recorder, kind: _Kind, item: dict[str, Any], name: Any, note: str | None,
            sections: Sequence[tuple[str, Any]]) -> Result:
    """The found resource in full (fetched by its id), as a create's result would carry it."""
    resource_id = kind.item_id(item)
    body = kind.fetch(api, resource_id) if resource_id else item
    response = recorder.last[1]
    if isinstance(body, dict) and not name:
        name = body.get(kind.name_key) or None
    return Result(kind.label, id=resource_id, name=name, body=body,
                  status=response.status if response is not None else None, calls=recorder.requests(),
                  headers=dict(response.headers) if response is not None else None,
                  reused=True, note=note, sections=sections)


#: How often ``reuse`` re-sends a create whose answer was lost (after finding nothing by name).
RESEND_ATTEMPTS = 3
_UNKNOWN_OUTCOME = (TransportError, ServerError, RateLimitedError)


@dataclasses.dataclass
class _Found:
    item: dict[str, Any]


def _create_once(api: AEPClient, kind: _Kind, body: dict[str, Any], if_exists: str) -> Any:
    """Send a create; when its outcome is unknown, make sure the resource exists exactly once (see module doc)."""
    name = body.get(kind.name_key)
    findable = (isinstance(name, str) and bool(name)) or kind.find_like is not None
    for attempt in range(RESEND_ATTEMPTS + 1):
        try:
            return kind.create(api, body)
        except _UNKNOWN_OUTCOME as exc:
            if if_exists != "reuse" or not findable or attempt == RESEND_ATTEMPTS:
                if if_exists != "reuse" and isinstance(exc, TransportError):
                    raise TransportError(method=exc.method, path=exc.path,
                                         message=f"{exc}; the {kind.label} may have been created: run the cell "
                                         "again with --if-exists reuse to find it instead of creating another") from None
                raise
            retry_after = getattr(exc, "retry_after", None)
            if isinstance(exc, RateLimitedError):
                time.sleep(min(float(retry_after or 0.5), 5.0))
            found = _find(api, kind, body)
            if found:
                return _Found(found[0])
    raise AssertionError("unreachable")


def create_connection(client: AEPClient, body: Any, *, if_exists: str = "fail", dry_run: bool = False) -> Result:
    """Create a base connection (``POST /flowservice/connections``, https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/create/ecommerce/shopify)."""
    return _create(client, "connection", body, if_exists=if_exists, dry_run=dry_run)


def create_source(client: AEPClient, body: Any, *, if_exists: str = "fail", dry_run: bool = False) -> Result:
    """Create a source connection (``POST /flowservice/sourceConnections``, https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce)."""
    return _create(client, "source", body, if_exists=if_exists, dry_run=dry_run)


def create_target(client: AEPClient, body: Any, *, if_exists: str = "fail", dry_run: bool = False) -> Result:
    """Create a target connection (``POST /flowservice/targetConnections``, https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce)."""
    return _create(client, "target", body, if_exists=if_exists, dry_run=dry_run)


def create_schema(client: AEPClient, body: Any, *, if_exists: str = "fail", dry_run: bool = False) -> Result:
    """Create a tenant schema (``POST /schemaregistry/tenant/schemas``, https://experienceleague.adobe.com/en/docs/experience-platform/xdm/api/schemas); ``.id`` is its ``$id``."""
    return _create(client, "schema", body, if_exists=if_exists, dry_run=dry_run)


def create_dataset(client: AEPClient, body: Any, *, if_exists: str = "fail", dry_run: bool = False) -> Result:
    """Create a dataset (``POST /catalog/dataSets``, https://experienceleague.adobe.com/en/docs/experience-platform/catalog/api/create-dataset); ``.id`` is parsed from ``["@/dataSets/{id}"]``."""
    return _create(client, "dataset", body, if_exists=if_exists, dry_run=dry_run)


def create_flow(
    client: AEPClient, body: Any, *, if_exists: str = "fail", dry_run: bool = False, validate: bool = True
) -> Result:
    """Create a dataflow (``POST /flowservice/flows``, https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce).

    With ``validate`` the flow spec is fetched first and ``scheduleParams`` checked against its
    ``scheduleSpec.spec`` JSON Schema (digit strings count as numbers, as the platform reads them); a bad schedule
    raises :class:`InputError` and nothing is created.
    """
    body = _check(body, "Flow", if_exists)

    def check(api: AEPClient) -> None:
        if validate:
            validate_schedule(api, body)

    result = _create(client, "flow", body, if_exists=if_exists, dry_run=dry_run, before=check)
    if not dry_run and isinstance(result, Result) and not isinstance(result, DryRun):
        hint = clock_hint(client, body, far=FAR_AHEAD)
        if hint:
            result.note = f"{result.note}; {hint}" if result.note else hint
    return result


def validate_schedule(client: AEPClient, body: dict[str, Any]) -> None:
    """Check ``body["scheduleParams"]`` against the flow spec's schedule schema (no-op without either)."""
    schedule = body.get("scheduleParams")
    spec_id = (body.get("flowSpec") or {}).get("id") if isinstance(body.get("flowSpec"), dict) else None
    if schedule is None or not spec_id:
        return
    if not isinstance(schedule, dict):
        raise InputError("scheduleParams must be an object, e.g. {\"startTime\": \"1604961070\", \"frequency\": \"once\"}")
    spec = client.flow.get_flow_spec(spec_id)
    schema = (spec.get("scheduleSpec") or {}).get("spec")
    if not isinstance(schema, dict):
        return
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - jsonschema ships with the [local] extra
        return
    document = coerce_digits(schedule, schema)
    validator_class = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_class(schema).iter_errors(document), key=lambda e: (len(e.path), e.message))
    if errors:
        # a wrong value (a bad frequency) explains more than what it makes the document miss (its interval)
        deep = [e for e in errors if e.path]
        error = jsonschema.exceptions.best_match(deep or errors) or errors[0]
        where = ".".join(str(p) for p in error.path)
        at = f" (at scheduleParams.{where})" if where else ""
        message = error.message
        banned = error.validator_value.get("required") if error.validator == "not" and isinstance(
            error.validator_value, dict) else None
        if banned:  # {"not": {"required": [...]}}: jsonschema would print the whole document
            given = f" with frequency {schedule['frequency']!r}" if "frequency" in schedule else ""
            message = f"{', '.join(repr(k) for k in banned)} must be left out{given}"
        spec_name = spec.get("name") or spec_id
        raise InputError(
            f"scheduleParams do not fit flow spec {spec_name}'s {(spec.get('scheduleSpec') or {}).get('name', 'schedule')}: "
            f"{message}{at}; nothing was created"
        )


def coerce_digits(values: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``values`` where digit strings become numbers and "true"/"false" booleans, per the schema's types."""
    props = schema.get("properties") or {}
    out = dict(values)
    for key, value in values.items():
        wanted = (props.get(key) or {}).get("type")
        if not isinstance(value, str):
            continue
        text = value.strip()
        if wanted == "integer" and re.fullmatch(r"-?\d+", text):
            out[key] = int(text)
        elif wanted == "number" and re.fullmatch(r"-?\d+(\.\d+)?", text):
            out[key] = float(text) if "." in text else int(text)
        elif wanted == "boolean" and text.lower() in ("true", "false"):
            out[key] = text.lower() == "true"
    return out


def create_mapping(
    client: AEPClient,
    body: Any,
    *,
    if_exists: str = "fail",
    dry_run: bool = False,
    validate: bool = False,
    preview_rows: Sequence[dict[str, Any]] | None = None,
    source_id: str | None = None,
    create: bool = True,
) -> Result:
    """Create a mapping set (``POST /conversion/mappingSets``, https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set; the legacy form of the eCommerce tutorial too), optionally checked first.

    ``validate`` runs ``/mappingSets/validate`` and creates nothing when a mapping FAILED. ``preview_rows`` (sample
    source rows) or ``source_id`` (a source connection: its table's preview rows) runs ``/mappingSets/preview``;
    the mapped rows are shown with the result (``result.preview``). ``create=False`` only checks.
    """
    body = _check(body, "MappingSet", if_exists)
    sections: list[tuple[str, Any]] = []
    checks: dict[str, Any] = {}

    def check(api: AEPClient) -> None:
        if validate:
            answer = api.dataprep.validate(body)
            table = validation_table(body, answer)
            sections.append(("Validation", table))
            checks["validation"] = table
            failed = [row for row in table.items if str(row.get("status")).upper() != "SUCCESS"]
            if failed and create:
                first = failed[0]
                raise InputError(
                    f"mapping validation failed for {len(failed)} of {len(table.items)} mappings "
                    f"(first: {first.get('destination') or first.get('source')}: {first.get('error')}); nothing was created"
                )
        rows = preview_rows
        if rows is None and source_id:
            rows = source_rows(api, source_id)
        if rows is not None:
            previewed = api.dataprep.preview(list(rows), body)
            table = preview_table(previewed)
            sections.append(("Preview", table))
            checks["preview"] = table

    if not create:
        api, recorder = _recording(client, dry_run)
        try:
            check(api)
        except _DryRunStop:
            return _dry(recorder)
        result = Result("MappingCheck", body=None, status=recorder.last[1].status if recorder.entries and recorder.last[1] else None,
                        calls=recorder.requests(), sections=sections, note="checked only; nothing was created")
    else:
        result = _create(client, "mapping", body, if_exists=if_exists, dry_run=dry_run, before=check, sections=sections)
    result.validation = checks.get("validation")  # type: ignore[attr-defined]
    result.preview = checks.get("preview")  # type: ignore[attr-defined]
    return result


def validation_table(body: dict[str, Any], answer: Any) -> ListResult:
    mappings = body.get("mappings") or []
    responses = (answer or {}).get("validationResponse") or [] if isinstance(answer, dict) else []
    rows = []
    for i, response in enumerate(responses):
        mapping = mappings[i] if i < len(mappings) and isinstance(mappings[i], dict) else {}
        errors = response.get("errors") or []
        message = "; ".join(
            str(e.get("exception") or e.get("message") or e) if isinstance(e, dict) else str(e) for e in errors
        )
        rows.append({
            "source": mapping.get("source") or mapping.get("sourceAttribute"),
            "destination": mapping.get("destination") or mapping.get("destinationXdmPath"),
            "status": response.get("status"),
            "error": message,
        })
    return ListResult("validation", rows, columns=["source", "destination", "status", "error"],
                      body=answer, title="Mapping validation")


def preview_table(answer: Any) -> ListResult:
    """Mapped rows with flattened XDM paths as columns, plus their errors."""
    rows = []
    for item in answer if isinstance(answer, list) else []:
        row = flatten(item.get("data") or {}) if isinstance(item, dict) else {}
        errors = item.get("errors") if isinstance(item, dict) else None
        if errors:
            row["errors"] = "; ".join(
                str(e.get("exception") or e.get("message") or e) if isinstance(e, dict) else str(e) for e in errors
            )
        rows.append(row)
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    return ListResult("preview", rows, columns=columns or ["value"], body=answer, title="Mapping preview")


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay values)."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict) and value:
                out.update(flatten(value, path))
            else:
                out[path] = value
    else:
        out[prefix or "value"] = data
    return out


def source_rows(client: AEPClient, source_id: str) -> list[dict[str, Any]]:
    """Preview rows of a source connection's table (its base connection explored with ``preview=true``)."""
    source = client.flow.get_source_connection(source_id)
    base_id = source.get("baseConnectionId")
    table = (source.get("params") or {}).get("tableName")
    if not base_id or not table:
        raise InputError(f"source connection {source_id} has no baseConnectionId/params.tableName to preview")
    answer = explore_table(client.flow.explore(base_id, "table", object=table, preview=True), base_id, table)
    return list(answer.get("data") or [])


def rows_from(value: Any, name: str) -> list[dict[str, Any]]:
    """Sample rows from a notebook variable: a list of dicts, a DataFrame, or a result with rows."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return json.loads(value.to_json(orient="records", date_format="iso"))
    if isinstance(value, ListResult):
        return [row for row in value.items if isinstance(row, dict)]
    if isinstance(value, dict):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(r, dict) for r in value):
        return list(value)
    raise InputError(f"--rows {name}: expected a list of dicts or a DataFrame, got {type(value).__name__}")


# -- reading ----------------------------------------------------------------------------------------------------


def flow_spec(client: AEPClient, name: str | None = None, *, dry_run: bool = False) -> Result | ListResult:
    """The flow spec called ``name`` (e.g. ``CRMToAEP``, https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce), or every flow spec."""
    api, recorder = _recording(client, dry_run)
    try:
        if not name:
            specs = api.flow.list_flow_specs()
            return ListResult("flowSpecs", specs, calls=recorder.requests(), status=_status(recorder))
        spec = api.flow.flow_spec_by_name(name)
    except _DryRunStop:
        return _dry(recorder)
    return Result("FlowSpec", id=spec.get("id"), name=spec.get("name"), body=spec, status=_status(recorder),
                  calls=recorder.requests())


def _status(recorder: Recorder) -> int | None:
    if not recorder.entries:
        return None
    response = recorder.last[1]
    return response.status if response is not None else None


def explore(
    client: AEPClient,
    connection_id: str,
    *,
    table: str | None = None,
    preview: bool = False,
    rows: int | None = None,
    dry_run: bool = False,
) -> ListResult | DryRun:
    """Tables of a base connection (https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/explore/ecommerce); with ``table`` its columns; with ``preview`` too its rows."""
    if preview and not table:
        raise InputError("--preview needs --table (see the table names with %aep_explore CONNECTION_ID)")
    api, recorder = _recording(client, dry_run)
    try:
        if not table:
            items = explore_listing(api.flow.explore(connection_id, "root"), connection_id)
            return ListResult("tables", items, calls=recorder.requests(), status=_status(recorder),
                              title=f"Tables of connection {connection_id}")
        answer = explore_table(api.flow.explore(connection_id, "table", object=table, preview=preview),
                               connection_id, table)
    except _DryRunStop:
        return _dry(recorder)
    columns = ((answer.get("schema") or {}).get("columns")) or []
    if not preview:
        return ListResult("columns", columns, body=answer, calls=recorder.requests(), status=_status(recorder),
                          title=f"Columns of {table}")
    data = list(answer.get("data") or [])
    if rows is not None:
        data = data[: max(0, rows)]
    names = [str(c["name"]) for c in columns if isinstance(c, dict) and c.get("name")]
    for row in data:
        names.extend(k for k in row if k not in names)
    return ListResult("rows", data, columns=names or None, body=answer, calls=recorder.requests(),
                      status=_status(recorder), title=f"Preview of {table}")


# Explore answers. The tutorial gives the root listing as an array of {type, name, path, canPreview, canFetchSchema}
# and a table's columns (and preview rows) as an object {format, schema: {columns}, data}
# (https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/explore/ecommerce);
# flow-service.yaml documents every explore answer as ExploreConnectionResponse, the array
# (https://developer.adobe.com/experience-platform-apis/references/flow-service/). The kit follows the tutorial: a
# table answered with the array has no columns to show, and says so.
_EXPLORE = "/data/foundation/flowservice/connections/{}/explore"


def explore_listing(answer: Any, connection_id: str) -> list[dict[str, Any]]:
    """The entries (tables, folders) of an explore listing: the array, or ``{"items": [...]}``."""
    items = answer.get("items") if isinstance(answer, dict) else answer
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise unexpected_answer("GET", f"{_EXPLORE.format(connection_id)}?objectType=root",
                                "a list of tables ({type, name, path} each)", _shape(answer))
    return items


def explore_table(answer: Any, connection_id: str, table: str) -> dict[str, Any]:
    """A table's explore answer, ``{format, schema: {columns: [...]}, data: [...]}``, checked."""
    where = f"GET {_EXPLORE.format(connection_id)}?objectType=table&object={table}"
    if isinstance(answer, list):
        raise AEPError(message=f"{where} answered {_shape(answer)} (the listing shape of flow-service.yaml), not the "
                       f"table object {{format, schema: {{columns}}}} of the explore tutorial: no columns of {table} "
                       "to show")
    schema = answer.get("schema") if isinstance(answer, dict) else None
    columns = schema.get("columns") if isinstance(schema, dict) else None
    if not isinstance(columns, list) or not isinstance(answer.get("data", []), list):
        raise unexpected_answer("GET", where.removeprefix("GET "), "{format, schema: {columns: [...]}, data}",
                                _shape(answer))
    return answer


def list_runs(client: AEPClient, flow_id: str, *, last: int | None = None, title: str | None = None,
              dry_run: bool = False) -> RunsResult | DryRun:
    """Every run of a flow (``GET /runs?property=flowId==…``, https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/monitor).

    ``last``: only the ``last`` most recent runs (table, summary, chart and ``.items`` alike); ``title`` the card's
    title.
    """
    _check_last(last)
    api, recorder = _recording(client, dry_run)
    try:
        runs = api.flow.list_runs(flow_id)
    except _DryRunStop:
        return _dry(recorder)
    if not runs:  # an unknown flow has no runs either: its 404 says so (a check, not recorded among the calls)
        client.flow.get_flow(flow_id)
    return recent_runs(RunsResult(flow_id, runs, calls=recorder.requests(), status=_status(recorder)), last, title)


def _check_last(last: int | None) -> None:
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
        raise InputError(f"--last takes a number of runs, 1 or more; got {last!r}")


def recent_runs(result: RunsResult, last: int | None = None, title: str | None = None) -> RunsResult:
    """``result`` restricted to its ``last`` most recent runs (oldest first, as every runs result), titled ``title``."""
    _check_last(last)
    if last is None and title is None:
        return result
    items = result.items[-last:] if last is not None else result.items
    if title is None:
        title = (f"The {last} most recent runs of flow {result.flow_id}" if last is not None and len(result.items) > last
                 else result.title)
    return RunsResult(result.flow_id, items, calls=result.calls, status=result.status, title=title)


#: Seconds before the second poll of :func:`wait_for_runs`; the pause doubles from there up to its ``poll_interval``.
FIRST_POLL = 0.25


def wait_for_runs(
    client: AEPClient,
    flow_id: str,
    *,
    timeout: float = 600.0,
    poll_interval: float = 2.0,
    on_progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RunsResult:
    """Poll until the flow has runs and every one is finished (not scheduled/inProgress/pending/queued).

    ``on_progress(finished, total)`` is called after each poll. Raises :class:`WaitTimeoutError` after ``timeout``.
    The first polls come quickly (from ``FIRST_POLL`` seconds, doubling up to ``poll_interval``): a short run is seen
    finished soon after it ends, a long one is not polled more often than ``poll_interval``.
    """
    deadline = clock() + timeout
    pause = min(FIRST_POLL, poll_interval)
    first = True
    while True:
        result = list_runs(client, flow_id)
        assert isinstance(result, RunsResult)
        if first and not result.items:  # AEP Local: a start time its clock will not reach while we wait
            hint = clock_hint(client, flow_id, beyond=timeout)
            if hint:
                raise FlowNotDueError(f"flow {flow_id} has no run yet, and none will come while waiting: {hint}")
        first = False
        done = sum(1 for run in result.items if run_finished(run))
        if on_progress is not None:
            on_progress(done, len(result.items))
        if result.finished:
            return result
        if clock() >= deadline:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts().items())) or "no runs yet"
            raise WaitTimeoutError(
                f"runs of flow {flow_id} not finished after {timeout:g} s ({counts}); "
                f"run %aep_runs {flow_id} --wait again, or raise --timeout"
            )
        sleep(max(0.0, min(pause, deadline - clock())))
        pause = min(pause * 2, poll_interval)


def read_dataset(
    client: AEPClient,
    dataset_id: str | None = None,
    *,
    run: Any = None,
    nested: bool = False,
    limit: int | None = None,
    dry_run: bool = False,
    with_calls: bool = False,
) -> Any:
    """The rows ingested into a dataset, as a pandas DataFrame, through the Data Access API.

    The dataset's successful batches (Catalog ``GET /batches?dataSet=…``), each batch's files
    (``GET /export/batches/{id}/files``), each file's parts (``GET /export/files/{fileId}``), and each Parquet part
    (``GET /export/files/{fileId}?path=…``), read with pyarrow and concatenated in batch order. Columns are
    flattened XDM paths (``person.name.firstName``) unless ``nested``. ``with_calls`` returns
    ``(frame, calls)``; a dry run returns a :class:`DryRun` (in that pair too).

    ``run`` instead of ``dataset_id`` (a run id, or a run object such as ``runs[0]`` of ``%aep_runs -o runs``): only
    the batches that run wrote (``Run.batch_ids``, read from any documented run shape), each looked up with Catalog
    ``GET /batches/{id}``.
    """
    if (dataset_id is None) == (run is None):
        raise InputError("read a dataset or a run's batches: give a dataset id or a run, not both"
                         if run is not None else "give a dataset id (or a run) to read")
    api, recorder = _recording(client, dry_run)
    tables = []
    skipped: list[str] = []  # files that are not Parquet
    count = 0
    try:
        if dataset_id is None:
            batches = _run_batches(api, run)
        else:
            batches = api.catalog.list_batches(dataset_id)
            if not batches:  # an unknown dataset has no batches either: its 404 says so (a check, not recorded)
                client.catalog.get_dataset(dataset_id)
        done = sorted(
            ((bid, b) for bid, b in batches.items() if str(b.get("status", "")).lower() in ("success", "active")),
            key=lambda pair: (pair[1].get("created") or 0, pair[0]),
        )
        for batch_id, _batch in done:
            for file in api.data.list_batch_files(batch_id):
                file_id = file.get("dataSetFileId")
                if not file_id:
                    continue
                for part in api.data.file_parts(file_id):  # the docs' {data: [...]} or the spec's {path}
                    name = str(part["name"])
                    if not name.lower().endswith(".parquet"):
                        if not name.rsplit("/", 1)[-1].startswith(("_", ".")):  # not a marker such as _SUCCESS
                            skipped.append(name)
                        continue
                    tables.append(_read_parquet(api.data.download(file_id, name)))
                    count += tables[-1].num_rows
                    if limit is not None and count >= limit:
                        break
                if limit is not None and count >= limit:
                    break
            if limit is not None and count >= limit:
                break
    except _DryRunStop:
        dry = _dry(recorder)
        return (dry, dry.calls) if with_calls else dry
    if skipped:
        shown = ", ".join(skipped[:3]) + (f" and {len(skipped) - 3} more" if len(skipped) > 3 else "")
        what = f"dataset {dataset_id}" if dataset_id is not None else "the run's batches"
        if not tables:
            raise AEPError(message=f"{what} has no Parquet file to read: its files are {shown}; %aep_read reads the "
                           "Parquet files that batch ingestion writes (download the others with %aep GET "
                           "/data/foundation/export/files/{FILE_ID}?path={NAME})")
        import warnings

        warnings.warn(f"{what}: {len(skipped)} file(s) that are not Parquet were left out ({shown})", stacklevel=2)
    frame = _to_frame(tables, nested=nested, limit=limit)
    return (frame, recorder.requests()) if with_calls else frame


def _run_batches(api: AEPClient, run: Any) -> dict[str, Any]:
    """``{batch id: batch}`` of the batches a run wrote (``run``: its id, or the run object); an InputError when it
    wrote none, or when none of them holds rows."""
    from ..runs import as_run

    found = as_run(run) if isinstance(run, dict) else api.flow.get_run(str(run))
    run_id = found.id or str(run)
    if not found.batch_ids:
        raise InputError(f"run {run_id} wrote no batch (status {found.status}): nothing to read yet")
    batches = {batch_id: api.catalog.get_batch(batch_id) for batch_id in found.batch_ids}
    readable = [b for b in batches.values() if str(b.get("status", "")).lower() in ("success", "active")]
    if not readable:
        states = ", ".join(f"{bid} {b.get('status', 'unknown')}" for bid, b in batches.items())
        raise InputError(f"run {run_id} wrote no rows to read (batch {states}); its errors: "
                         f"%aep GET /data/foundation/export/batches/{next(iter(batches))}/meta?path=row_error_samples.json")
    return batches


def _read_parquet(data: bytes) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data))


def _to_frame(tables: list[Any], *, nested: bool, limit: int | None) -> Any:
    import pandas as pd
    import pyarrow as pa

    if not tables:
        return pd.DataFrame()
    table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
    if limit is not None:
        table = table.slice(0, limit)
    if not nested:
        while any(pa.types.is_struct(field.type) for field in table.schema):
            table = table.flatten()
    return table.to_pandas()


# -- deleting -----------------------------------------------------------------------------------------------------

DELETE_KINDS: dict[str, tuple[str, Callable[[AEPClient, str], Any]]] = {
    "connection": ("BaseConnection", lambda api, i: api.flow.delete_connection(i)),
    "source": ("SourceConnection", lambda api, i: api.flow.delete_source_connection(i)),
    "target": ("TargetConnection", lambda api, i: api.flow.delete_target_connection(i)),
    "flow": ("Flow", lambda api, i: api.flow.delete_flow(i)),
    "schema": ("Schema", lambda api, i: api.schemas.delete_schema(i)),
    "dataset": ("Dataset", lambda api, i: api.catalog.delete_dataset(i)),
    "mapping": ("MappingSet", lambda api, i: api.dataprep.delete_mapping_set(i)),
}


def delete(client: AEPClient, kind: str, resource_id: str, *, dry_run: bool = False) -> Result | DryRun:
    """Delete one resource; ``kind`` is connection, source, target, flow, schema, dataset or mapping."""
    if kind not in DELETE_KINDS:
        raise InputError(f"unknown kind {kind!r}; use one of {', '.join(DELETE_KINDS)}")
    if kind == "mapping":  # data-prep.yaml has no DELETE /mappingSets/{id}: nothing is sent
        raise InputError(cannot_delete(resource_id))
    label, action = DELETE_KINDS[kind]
    api, recorder = _recording(client, dry_run)
    try:
        action(api, resource_id)
    except _DryRunStop:
        return _dry(recorder)
    return Result(f"Deleted {label}", id=resource_id, status=_status(recorder), calls=recorder.requests())


def delete_by_name(client: AEPClient, kind: str, name: str, *, dry_run: bool = False) -> ListResult | DryRun:
    """Delete every resource of ``kind`` whose name (a schema's ``title``) is ``name``, in the current sandbox.

    The names are looked up as ``--if-exists reuse`` does (exact match); a table of what was deleted (kind, name,
    id) is returned, empty with the note "nothing to delete" when there was none.
    """
    if kind not in DELETE_KINDS:
        raise InputError(f"unknown kind {kind!r}; use one of {', '.join(DELETE_KINDS)}")
    if not isinstance(name, str) or not name:
        raise InputError("--name takes the name to delete (a schema's title); it is empty")
    if kind == "mapping":  # data-prep.yaml has no DELETE /mappingSets/{id}: nothing is looked up or sent
        raise InputError(cannot_delete(name=name))
    found_kind = KINDS[kind]
    _label, action = DELETE_KINDS[kind]
    api, recorder = _recording(client, dry_run)
    deleted: list[dict[str, Any]] = []
    try:
        for item in found_kind.find(api, name):
            resource_id = found_kind.item_id(item)
            if not resource_id:
                continue
            try:
                action(api, resource_id)
            except NotFoundError:  # gone meanwhile: nothing left to delete
                continue
            deleted.append({"kind": kind, "name": name, "id": resource_id})
    except _DryRunStop:
        return _dry(recorder)
    what = "schema titled" if kind == "schema" else f"{kind} named"
    return ListResult("deleted", deleted, columns=["kind", "name", "id"], calls=recorder.requests(),
                      status=_status(recorder), title=f"Deleted {kind}: {name}",
                      note=None if deleted else f"nothing to delete: no {what} {name}")


# -- AEP Local's clock ----------------------------------------------------------------------------------------------

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_FORMS = "seconds (90, 90s), minutes (15m), hours (2h) or days (1d)"


def parse_duration(text: Any) -> float:
    """``"90"``, ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"`` (a number and an optional unit) -> seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool) and text >= 0:
        return float(text)
    match = _DURATION.fullmatch(str(text)) if isinstance(text, str) else None
    if not match:
        raise InputError(f"--advance takes a duration in {DURATION_FORMS}; got {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]


class Clock(dict):
    """AEP Local's platform clock: ``now`` (epoch ms), ``now_s`` (epoch seconds), ``utc`` (ISO 8601) and, after
    ``advance``, ``advanced`` (seconds). A dict; ``.calls`` are the calls made, ``.curl`` the last one."""

    def __init__(self, now_ms: int, advanced: float | None = None, calls: Sequence[Request] = ()):
        import datetime

        moment = datetime.datetime.fromtimestamp(now_ms / 1000, tz=datetime.timezone.utc)
        super().__init__(now=int(now_ms), now_s=int(now_ms) // 1000,
                         utc=moment.isoformat(timespec="seconds").replace("+00:00", "Z"))
        if advanced is not None:
            self["advanced"] = advanced
        self.calls = list(calls)

    @property
    def curl(self) -> str:
        return self.calls[-1].curl if self.calls else ""

    def summary(self) -> str:
        text = f"AEP Local clock: {self['utc'].replace('T', ' ').replace('Z', ' UTC')} ({self['now']} ms)"
        if "advanced" in self:
            text += f", moved forward {_seconds_text(self['advanced'])}"
        return text

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.summary())

    def _repr_html_(self) -> str:
        from html import escape

        return f"<div><b>AEP Local clock</b>: {escape(self.summary().split(': ', 1)[1])}</div>"


def _seconds_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def clock(client: AEPClient, *, advance: Any = None, dry_run: bool = False) -> Clock | DryRun:
    """AEP Local's platform clock (``GET /aep-local/clock``); with ``advance`` (seconds or ``"15m"``, ``"2h"`` …)
    moved forward first (``POST /aep-local/clock {"advance": seconds}``: the scheduler then creates and runs the
    runs that fell due). AEP Local only: a real sandbox runs on real time."""
    seconds = parse_duration(advance) if advance is not None else None
    if not is_local(client):
        raise InputError("%aep_clock moves AEP Local's clock; a real sandbox runs on real time")
    _api, recorder = _recording(client, dry_run)
    try:
        if seconds is None:
            answer = recorder.request("GET", "/aep-local/clock").json()
        else:
            amount: float | int = int(seconds) if float(seconds).is_integer() else seconds
            answer = recorder.request("POST", "/aep-local/clock", json={"advance": amount}).json()
    except _DryRunStop:
        return _dry(recorder)
    return Clock(int(answer["now"]), advanced=seconds, calls=recorder.requests())


#: A new flow's result carries the clock hint when its ``startTime`` is further ahead of AEP Local's clock (seconds).
FAR_AHEAD = 3600.0


def local_clock(client: AEPClient) -> tuple[int, bool] | None:
    """AEP Local's clock: ``(now in epoch ms, deterministic)`` (``GET /aep-local/health``, not recorded); None on
    Adobe Experience Platform, or when AEP Local does not say."""
    if getattr(client, "session", None) is None or not is_local(client):
        return None
    try:
        answer = client.session.request("GET", "/aep-local/health").json()
        return int(answer["now"]), bool(answer.get("deterministic"))
    except (AEPKitError, ValueError, KeyError, TypeError):
        return None


def start_time(flow: Any) -> float | None:
    """A flow's ``scheduleParams.startTime`` in epoch seconds (digits as text too; epoch ms read as such)."""
    schedule = flow.get("scheduleParams") if isinstance(flow, dict) else None
    value = schedule.get("startTime") if isinstance(schedule, dict) else None
    try:
        seconds = float(str(value).strip()) if value is not None and not isinstance(value, bool) else None
    except ValueError:
        return None
    if seconds is not None and seconds > 1e11:
        seconds /= 1000
    return seconds


def clock_hint(client: AEPClient, flow: Any, *, far: float | None = None, beyond: float | None = None) -> str | None:
    """AEP Local only: when the start time of ``flow`` (its JSON, or its id: fetched) is ahead of AEP Local's clock,
    what that means and how to move on; else None.

    ``far``: only when it is more than ``far`` seconds ahead. ``beyond``: only when the clock will not reach it within
    ``beyond`` seconds (deterministic mode, ``--seed``: a clock that moves only when told never does)."""
    local = local_clock(client)
    if local is None:
        return None
    start = start_time(flow if isinstance(flow, dict) else client.flow.get_flow(str(flow)))
    if start is None:
        return None
    now_ms, deterministic = local
    ahead = start - now_ms / 1000
    if ahead <= 0 or (far is not None and ahead <= far):
        return None
    if beyond is not None and not deterministic and ahead <= beyond:
        return None
    moving = ("it starts at 2026-03-02 09:00 UTC with --seed and moves only when told" if deterministic
              else "it follows the wall clock")
    return (f"its startTime {_utc(start)} is {_seconds_text(_rounded_up(ahead))} ahead of AEP Local's clock "
            f"({_utc(now_ms / 1000)}; {moving}), so it runs only once the clock gets there. Move the clock: "
            f"%aep_clock --advance {_seconds_text(_rounded_up(ahead))}; or give the flow AEP Local's time: "
            "%aep_clock -o clock, then \"startTime\": \"{{clock.now_s}}\"")


def _utc(seconds: float) -> str:
    import datetime

    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _rounded_up(seconds: float) -> float:
    """``seconds`` rounded up to whole days, hours or minutes (the largest unit in it), at least a minute."""
    import math

    for size in (86400, 3600, 60):
        if seconds >= size:
            return math.ceil(seconds / size) * size
    return 60.0


#: Hosts of Adobe Experience Platform itself: a profile there is a real sandbox.
ADOBE_HOSTS = (".adobe.io", ".adobe.com", ".adobe.net")


def is_local(client: AEPClient) -> bool:
    """Whether ``client`` talks to AEP Local rather than Adobe Experience Platform (whose hosts are Adobe's)."""
    host = (urlsplit(client.session.profile.base_url).hostname or "").lower()
    return bool(host) and not any(host == suffix[1:] or host.endswith(suffix) for suffix in ADOBE_HOSTS)


# -- lineage --------------------------------------------------------------------------------------------------------


def lineage(client: AEPClient, flow_id: str, *, dry_run: bool = False) -> Lineage | DryRun:
    """Source connection → flow (mapping, schedule) → target connection → dataset → batches of one flow.

    The batches are the ones the flow's runs wrote (``GET /runs?property=flowId==…``, each run's ``.batch_ids``);
    other batches of the dataset are only counted."""
    api, recorder = _recording(client, dry_run)
    try:
        flow = api.flow.get_flow(flow_id)
        nodes: list[LineageNode] = []
        for source_id in flow.get("sourceConnectionIds") or []:
            source = _maybe(api.flow.get_source_connection, source_id)
            base_id = (source or {}).get("baseConnectionId")
            if base_id:
                base = _maybe(api.flow.get_connection, base_id)
                spec_id = ((base or {}).get("connectionSpec") or {}).get("id")
                spec = _maybe(api.flow.get_connection_spec, spec_id) if spec_id else None
                details = [("source", (spec or {}).get("name") or spec_id or "?")]
                nodes.append(LineageNode("base connection", base_id, (base or {}).get("name"), details,
                                         status=(base or {}).get("state"), missing=base is None))
            params = (source or {}).get("params") or {}
            details = [(k, str(v)) for k, v in (("table", params.get("tableName")),
                                                ("format", ((source or {}).get("data") or {}).get("format"))) if v]
            nodes.append(LineageNode("source connection", source_id, (source or {}).get("name"), details,
                                     missing=source is None))
        details = []
        for transformation in flow.get("transformations") or []:
            params = transformation.get("params") or {}
            if params.get("mappingId"):
                details.append(("mapping", f"{params['mappingId']} v{params.get('mappingVersion', 0)}"))
            elif transformation.get("name"):
                details.append(("transformation", str(transformation.get("name"))))
        schedule = flow.get("scheduleParams") or {}
        if schedule:
            text = str(schedule.get("frequency", "?"))
            if schedule.get("interval") not in (None, ""):
                text += f" every {schedule['interval']}"
            if schedule.get("startTime") not in (None, ""):
                text += f" from {schedule['startTime']}"
            details.append(("schedule", text))
        nodes.append(LineageNode("flow", flow_id, flow.get("name"), details, status=flow.get("state")))
        dataset_ids = []
        for target_id in flow.get("targetConnectionIds") or []:
            target = _maybe(api.flow.get_target_connection, target_id)
            dataset_id = ((target or {}).get("params") or {}).get("dataSetId")
            schema_id = (((target or {}).get("data") or {}).get("schema") or {}).get("id")
            details = [(k, str(v)) for k, v in (("format", ((target or {}).get("data") or {}).get("format")),
                                                ("schema", schema_id)) if v]
            nodes.append(LineageNode("target connection", target_id, (target or {}).get("name"), details,
                                     missing=target is None))
            if dataset_id:
                dataset_ids.append(dataset_id)
        # the batches this flow wrote: its runs' own (Run.batch_ids, any documented run shape)
        flow_batches = {batch_id for run in (api.flow.list_runs(flow_id) if dataset_ids else [])
                        for batch_id in run.batch_ids}
        for dataset_id in dataset_ids:
            dataset = _maybe(api.catalog.get_dataset, dataset_id)
            schema_id = ((dataset or {}).get("schemaRef") or {}).get("id")
            nodes.append(LineageNode("dataset", dataset_id, (dataset or {}).get("name"),
                                     [("schema", schema_id)] if schema_id else [], missing=not dataset))
            batches = _maybe(api.catalog.list_batches, dataset_id) or {}
            nodes.append(_batches_node(batches, flow_batches))
    except _DryRunStop:
        return _dry(recorder)
    return Lineage(flow_id, nodes, calls=recorder.requests())


def _maybe(fetch: Callable[[str], Any], resource_id: str) -> Any:
    """``fetch(resource_id)``, or None when the platform no longer has it."""
    try:
        return fetch(resource_id)
    except NotFoundError:
        return None


def _batches_node(batches: dict[str, Any], flow_batches: set[str] | None = None) -> LineageNode:
    """The dataset's batches that this flow's runs wrote (``flow_batches``); the dataset's others (another flow's,
    a direct upload's) are only counted."""
    others = 0
    if flow_batches is not None:
        mine = {bid: b for bid, b in batches.items() if bid in flow_batches}
        others = len(batches) - len(mine)
        batches = mine
    counts: dict[str, int] = {}
    records = 0
    for batch in batches.values():
        status = str(batch.get("status", "unknown"))
        counts[status] = counts.get(status, 0) + 1
        records += int(batch.get("recordCount") or 0)
    details = [("status", ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none yet")]
    if batches:
        details.append(("records", f"{records:,}"))
        latest = max(batches.items(), key=lambda pair: (pair[1].get("created") or 0, pair[0]))
        details.append(("latest", f"{latest[0]} ({latest[1].get('status')})"))
    if others:
        details.append(("other batches in the dataset", f"{others:,}"))
    return LineageNode("batches", None, f"{len(batches)} batch{'es' if len(batches) != 1 else ''}", details)


# -- sandboxes and any other call ---------------------------------------------------------------------------------


def list_sandboxes(client: AEPClient, *, dry_run: bool = False) -> ListResult | DryRun:
    api, recorder = _recording(client, dry_run)
    try:
        found = api.sandboxes.list()
    except _DryRunStop:
        return _dry(recorder)
    return ListResult("sandboxes", found, calls=recorder.requests(), status=_status(recorder))


def get_sandbox(client: AEPClient, name: str, *, dry_run: bool = False) -> Result | DryRun:
    """The sandbox ``name`` (the platform's 404 when there is none)."""
    api, recorder = _recording(client, dry_run)
    try:
        found = api.sandboxes.get(name)
    except _DryRunStop:
        return _dry(recorder)
    return Result("Sandbox", id=found.get("name") if isinstance(found, dict) else name,
                  name=found.get("title") if isinstance(found, dict) else None, body=found,
                  status=_status(recorder), calls=recorder.requests())


#: Collections whose GET answers render as tables in ``%aep``.
COLLECTIONS = frozenset({
    "connectionSpecs", "connections", "sourceConnections", "targetConnections", "flowSpecs", "flows", "runs",
    "schemas", "fieldgroups", "mixins", "classes", "datatypes", "descriptors", "unions", "behaviors",
    "dataSets", "batches", "dataSetFiles", "mappingSets", "mappings", "sandboxes", "files", "failed", "meta",
    "explore", "functions", "operators",
})
REGISTRY_COLLECTIONS = frozenset({"schemas", "fieldgroups", "mixins", "classes", "datatypes", "descriptors",
                                  "unions", "behaviors"})


def split_path(path: str) -> tuple[str, list[tuple[str, str]]]:
    parts = urlsplit(path)
    if parts.scheme:
        return path.split("?", 1)[0], parse_qsl(parts.query, keep_blank_values=True)
    return parts.path, parse_qsl(parts.query, keep_blank_values=True)


def default_accept(method: str, path: str) -> str | None:
    """Schema Registry GETs need an ``Accept``: ids for a collection, the raw resource for a lookup."""
    if method != "GET" or "/schemaregistry/" not in path:
        return None
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if last == "stats":
        return "application/json"
    if last in REGISTRY_COLLECTIONS:
        return "application/vnd.adobe.xed-id+json"
    return "application/vnd.adobe.xed+json; version=1"


HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def call(
    client: AEPClient,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    dry_run: bool = False,
) -> Result | ListResult | DryRun:
    """Any call (``%aep METHOD PATH``): a list answer renders as a table, anything else as a JSON tree.

    A query string in ``path`` is sent as parameters; Schema Registry GETs get a default ``Accept``.
    """
    method = method.upper()
    if method not in HTTP_METHODS:
        raise InputError(f"{method!r} is not an HTTP method the platform takes: use {', '.join(HTTP_METHODS[:-1])} "
                         f"or {HTTP_METHODS[-1]}")
    bare, params = split_path(path)
    headers = dict(headers or {})
    accept = None if any(k.lower() == "accept" for k in headers) else default_accept(method, bare)
    _api, recorder = _recording(client, dry_run)
    try:
        response = recorder.request(method, bare, params=params or None, json=body, headers=headers or None,
                                    accept=accept)
    except _DryRunStop:
        return _dry(recorder)
    content_type = next((v for k, v in response.headers.items() if k.lower() == "content-type"), "")
    answer: Any
    if response.status == 204 or not response.content:
        answer = None
    elif "json" in content_type or response.content.lstrip()[:1] in (b"{", b"["):
        try:
            answer = response.json()
        except ValueError:
            answer = response.text
    else:
        answer = f"<{len(response.content):,} bytes of {content_type or 'data'}>"
    calls = recorder.requests()
    label = f"{method} {bare}"
    items, kind = _list_items(bare, answer)
    if items is not None:
        return ListResult(kind, items, body=answer, status=response.status, calls=calls, title=label,
                          note=_more_pages(answer))
    return Result(label, body=answer, status=response.status, calls=calls, headers=dict(response.headers))


def _more_pages(answer: Any) -> str | None:
    """A note when the platform has more than this one page (``%aep`` sends exactly one call)."""
    if not isinstance(answer, dict):
        return None
    following = ((answer.get("_links") or {}).get("next") or {})
    href = following.get("href") if isinstance(following, dict) else following
    start = (answer.get("_page") or {}).get("next") if isinstance(answer.get("_page"), dict) else None
    if href:
        return f"more on the platform: next page {href}"
    if start:
        return f"more on the platform: add start={start} (with the same orderby)"
    return None


def _list_items(path: str, answer: Any) -> tuple[list[Any] | None, str]:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if isinstance(answer, list):
        return (answer, "tables" if last == "explore" else last) if all(isinstance(a, dict) for a in answer) else (None, last)
    if not isinstance(answer, dict) or last not in COLLECTIONS:
        return None, last
    for key in ("items", "results", "data", "sandboxes"):
        if isinstance(answer.get(key), list):
            return answer[key], last
    if answer and all(isinstance(v, dict) for v in answer.values()) and not any(k.startswith("_") for k in answer):
        return [{"id": k, **v} for k, v in answer.items()], last  # Catalog: {id: object}
    if not answer:
        return [], last
    return None, last


def interpolate_path(path: str, namespace: dict[str, Any]) -> str:
    """``{{ref}}`` in a URL path, percent-encoded (a schema ``$id`` becomes one path segment)."""
    from .body import interpolate_text

    return interpolate_text(path, namespace, quote=lambda s: quote(s, safe=""))
