"""Reading run objects (Flow Service ``GET /runs``): their activities and the Catalog batches they wrote.

Plain functions over the JSON, in either shape Adobe documents. Public as ``aep_magics.run_batch_ids`` and
``aep_magics.promotion_activity`` (also in :mod:`aep_magics.api.flowservice`).
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
