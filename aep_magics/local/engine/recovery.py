"""Crash recovery: bring the data lake and the state back to a consistent point after a crash, before serving.

It sits above the data lake (:mod:`.datalake`: staging directories, batch directories, Catalog batch records) and the
runner (:func:`.runner.fail_interrupted_run`); :meth:`.scheduler.Scheduler.start` runs it first.
"""

from __future__ import annotations

import logging
import shutil
from typing import TYPE_CHECKING

from .datalake import DataLake, LakePathError, _batch_dataset, _tenants, update_batch_record
from .runner import fail_interrupted_run

if TYPE_CHECKING:  # pragma: no cover
    from ..platform import Platform

log = logging.getLogger(__name__)

#: Catalog batch statuses a batch can no longer leave on its own after a crash.
FINAL_BATCH_STATES = {"success", "active", "failed", "failure", "aborted", "abandoned", "inactive", "deleted"}
CRASH_ERROR = {"code": "CONNECTOR-2001-500", "message": "Error occurred at promotion activity."}


def recover(platform: Platform) -> dict[str, int]:
    """Bring the lake and the state back to a consistent point after a crash (call before serving).

    - staging directories are deleted;
    - Catalog batches that are not in a final state become ``failed`` (their directories, if the crash happened
      between the directory move and the Catalog update, are removed: the run did not succeed, so its window will be
      copied again and nothing is duplicated);
    - runs left ``scheduled`` stay queued (the scheduler picks them up); runs left ``inProgress`` become ``failed``
      with ``CONNECTOR-2001-500`` so no run stays in progress forever.
    """
    lake = DataLake(platform.lake_dir)
    counts = {"staging": 0, "batches": 0, "runs": 0}
    for d in lake.staging_dirs():
        shutil.rmtree(d, ignore_errors=True)
        counts["staging"] += 1
    for tenant in _tenants(platform, "batch"):
        for rec in platform.store.select(tenant, "batch"):
            status = str(rec.doc.get("status", "")).lower()
            if status in FINAL_BATCH_STATES:
                continue
            dataset_id = _batch_dataset(rec.doc)
            if dataset_id:
                try:
                    lake.remove_batch(tenant, dataset_id, rec.id, keep_meta=True)
                except LakePathError:
                    pass
            update_batch_record(platform, tenant, rec.id, {
                "status": "failed",
                "errors": [*rec.doc.get("errors", []), {"code": CRASH_ERROR["code"],
                                                         "description": "The platform stopped while the batch was written."}],
                "completed": platform.clock.now_ms(),
            })
            counts["batches"] += 1
    for tenant in _tenants(platform, "run"):
        for rec in platform.store.select(tenant, "run", where="state = ?", params=["inProgress"]):
            fail_interrupted_run(platform, tenant, rec.id)
            counts["runs"] += 1
    if any(counts.values()):
        log.warning("AEP Local recovery: %s", counts)
    return counts
