"""Reading run objects (Flow Service ``GET /runs``): their activities and the Catalog batches they wrote.

Plain functions over the JSON, in either shape Adobe documents, and :class:`Run`, the run object the kit hands back
(``%aep_runs -o runs``: ``runs[0].batch_ids``; ``client.flow.list_runs(...)``, ``client.flow.get_run(...)``). Public as
``aep_magics.Run``, ``aep_magics.run_batch_ids`` and ``aep_magics.promotion_activity`` (also in
:mod:`aep_magics.api.flowservice`).
"""

from __future__ import annotations

import re
from typing import Any

Body = dict[str, Any]

# -- run objects -----------------------------------------------------------------------------------------------------
# Adobe documents two shapes of a run's activities. The older one ("Monitor dataflows" for sources,
# https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/monitor) names them by id:
# ``{"id": "promotionActivity", ..., "targetInfo": [{"reference": {"type": "Batch", "ids": [BATCH_ID]}}]}``. The newer
# one (https://experienceleague.adobe.com/en/docs/experience-platform/dataflows/api/monitor) gives them UUID ids and a
# ``name``: ``{"id": "37b34f84-...", "name": "Promotion Activity", ...}``, and may leave ``targetInfo`` out, the batch
# then showing only in the manifest links (``.../export/batches/{BATCH_ID}/meta?path=...``). The Flow Service spec
# spells the array ``activites``.
_PROMOTION = "promotionactivity"
_MANIFEST_BATCH = re.compile(r"/batches/([^/?#]+)/meta")


def run_activities(run: Body) -> list[Body]:
    """The activities of a run (``activities``, or the spec's ``activites``); ``[]`` when it has none yet."""
    acts = run.get("activities")
    if acts is None:
        acts = run.get("activites")
    return [a for a in acts or [] if isinstance(a, dict)]


def _key(text: Any) -> str:
    return "".join(str(text or "").split()).lower()


def promotion_activity(run: Body) -> Body | None:
    """The run's promotion activity (the one that writes the Catalog batch), in either documented shape; None when
    the run has not reached it."""
    for act in run_activities(run):
        if _key(act.get("id")) == _PROMOTION or _key(act.get("name")) == _PROMOTION:
            return act
    return None


def run_batch_ids(run: Body) -> list[str]:
    """The Catalog batch ids a run wrote: its promotion activity's ``targetInfo[].reference.ids`` (references of type
    ``Batch``), or, when the activity names none, the batch of its manifest links. ``[]`` when the run wrote none."""
    act = promotion_activity(run)
    if act is None:
        return []
    ids: list[str] = []
    for target in act.get("targetInfo") or []:
        ref = target.get("reference") if isinstance(target, dict) else None
        if isinstance(ref, dict) and str(ref.get("type", "Batch")).lower() == "batch":
            ids.extend(str(i) for i in ref.get("ids") or [] if i)
    if not ids:
        for summary in ("fileSummary", "statusSummary"):
            manifest = ((act.get(summary) or {}).get("extensions") or {}).get("manifest") or {}
            for link in manifest.values() if isinstance(manifest, dict) else ():
                found = _MANIFEST_BATCH.search(str(link))
                if found:
                    ids.append(found.group(1))
    return list(dict.fromkeys(ids))


class Run(dict):
    """A Flow Service run (https://experienceleague.adobe.com/en/docs/experience-platform/dataflows/api/monitor): the
    run's JSON as a dict, unchanged, plus accessors that read every documented shape of it.

    ``run.batch_ids``: the Catalog batches it wrote (``[]`` before its promotion activity); ``run.promotion``: its
    promotion activity (None before it); ``run.activities``; ``run.id``; ``run.status``. Example::

        %aep_runs {{flow.id}} --wait -o runs
        runs[0].batch_ids            # ['01H…']
        runs[-1].promotion["statusSummary"]
    """

    __slots__ = ()

    @property
    def id(self) -> str | None:
        """The run id."""
        value = self.get("id")
        return None if value is None else str(value)

    @property
    def status(self) -> str:
        """``metrics.statusSummary.status`` (``success``, ``failed``, ``inProgress`` …), else ``state`` or ``status``."""
        metrics = self.get("metrics")
        summary = metrics.get("statusSummary") if isinstance(metrics, dict) else None
        status = summary.get("status") if isinstance(summary, dict) else None
        return str(status or self.get("state") or self.get("status") or "unknown")

    @property
    def activities(self) -> list[Body]:
        """The run's activities (``activities``, or the spec's ``activites``)."""
        return run_activities(self)

    @property
    def promotion(self) -> Body | None:
        """The promotion activity (the one that writes the Catalog batch), in either documented shape; None when the
        run has not reached it."""
        return promotion_activity(self)

    @property
    def batch_ids(self) -> list[str]:
        """The Catalog batch ids the run wrote (see :func:`run_batch_ids`); ``[]`` when it wrote none."""
        return run_batch_ids(self)


def as_run(value: Any) -> Any:
    """``value`` as a :class:`Run` when it is a run's JSON object (a dict); anything else unchanged."""
    if isinstance(value, Run) or not isinstance(value, dict):
        return value
    return Run(value)
