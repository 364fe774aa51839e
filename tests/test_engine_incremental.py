"""Incremental copies over a growing store: scheduled runs on a fast-forwarded clock lose and duplicate nothing.

A ``minute``/``15`` flow maps ``concat(Order_Id, "|", Updated_At)`` to ``personID`` (so every ingested row names
the order version it came from) and ``Email`` to ``personalEmail.address`` (so some rows fail and land in
``row_errors``). After many runs, the ingested versions plus the failed ones must be exactly the store's rows up to
the last window's end: each once, none missing.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from typing import Any

import pytest
import requests
from test_engine_e2e import EXPORT, Kit, store_rows

from aep_magics import local

MAPPINGS = [
    {"destinationXdmPath": "personID", "sourceAttribute": 'concat(Order_Id, "|", Updated_At)'},
    {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "Email"},
]
COLUMNS = ["Order_Id", "Updated_At", "Email"]
OPTIONS = {"errorDiagnosticsEnabled": True, "partialIngestionPercent": 50}
QUARTER = 15 * 60


@pytest.fixture(scope="module")
def kit():
    with local.start(seed=777) as aep:
        yield Kit(aep, orders=2000)


def advance(kit: Kit, seconds: int) -> None:
    r = requests.post(f"{kit.aep.url}/aep-local/clock", json={"advance": seconds}, timeout=60,
                      headers={"Authorization": f"Bearer {kit.aep.admin_token}"})
    assert r.status_code == 200, r.text
    kit.idle()


def schedule(kit: Kit, backfill: bool = True, offset_s: int = 0) -> dict[str, Any]:
    start = kit.platform.clock.peek_ms() // 1000 + offset_s
    return {"startTime": str(start), "frequency": "minute", "interval": "15", "backfill": str(backfill).lower()}


def ingested_versions(kit: Kit, runs: list[dict[str, Any]]) -> tuple[Counter, Counter]:
    """(order versions promoted to the lake, order versions reported as failed records)."""
    ok: Counter = Counter()
    failed: Counter = Counter()
    for run in runs:
        for batch_id in kit.batch_ids(run):
            for row in kit.read_batch(batch_id):
                ok[row["personID"]] += 1
            listing = kit.raw("GET", f"{EXPORT}/batches/{batch_id}/meta", params={"path": "row_errors"}).json()
            for item in listing["data"]:
                body = kit.raw("GET", f"{EXPORT}/batches/{batch_id}/meta", params={"path": item["name"]}).content
                for line in body.decode().splitlines():
                    rec = json.loads(line)["record"]
                    failed[f"{rec['Order_Id']}|{rec['Updated_At']}"] += 1
    return ok, failed


def windows(runs: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return [(r["activities"][0]["durationSummary"]["extensions"]["windowStart"],
             r["activities"][0]["durationSummary"]["extensions"]["windowEnd"]) for r in runs]


def check_no_loss_no_duplicates(kit: Kit, runs: list[dict[str, Any]], start_ms: int = 0) -> None:
    assert all(r["metrics"]["statusSummary"]["status"] == "success" for r in runs), \
        [r["metrics"]["statusSummary"] for r in runs]
    wins = windows(runs)
    assert wins[0][0] == start_ms
    for (_, end), (start, _) in itertools.pairwise(wins):
        assert start == end, "each window starts where the previous one ended"
    ok, failed = ingested_versions(kit, runs)
    assert max(ok.values(), default=1) == 1 and max(failed.values(), default=1) == 1, "duplicates"
    assert not set(ok) & set(failed)
    last_end = wins[-1][1] // 1000
    lo = start_ms // 1000 if start_ms else None
    expected = [f"{r['Order_Id']}|{r['Updated_At']}" for r in store_rows(kit, ["Order_Id", "Updated_At"], lo, last_end)]
    assert len(expected) == len(set(expected))
    assert set(ok) | set(failed) == set(expected)
    assert sum(r["metrics"]["recordSummary"]["inputRecordCount"] for r in runs) == len(expected)
    assert sum(r["metrics"]["recordSummary"]["failedRecordCount"] for r in runs) == len(failed)


def test_many_incremental_runs_lose_and_duplicate_nothing(kit: Kit):
    ids = kit.flow(columns=COLUMNS, mappings=MAPPINGS, options=OPTIONS, schedule=schedule(kit), name="incremental")
    kit.idle()
    assert len(kit.runs(ids["flow"])) == 1                  # the first due time is the start time itself
    for _ in range(6):                                        # 6 quarters, one at a time
        advance(kit, QUARTER)
    advance(kit, 2 * 3600)                                    # a jump: backfill creates a run per missed quarter
    runs = kit.runs(ids["flow"])
    assert len(runs) == 1 + 6 + 8
    dues = [int(r["params"]["startTime"]) for r in runs]
    assert all(b - a == QUARTER for a, b in itertools.pairwise(dues))
    assert sum(r["metrics"]["recordSummary"]["inputRecordCount"] for r in runs[1:]) > 0, "the store grew"
    check_no_loss_no_duplicates(kit, runs)
    flow = kit.client.flow.get_flow(ids["flow"])
    assert flow["lastRunDetails"]["id"] == runs[-1]["id"]


def test_backfill_false_creates_only_the_latest_run(kit: Kit):
    ids = kit.flow(columns=COLUMNS, mappings=MAPPINGS, options=OPTIONS, schedule=schedule(kit, backfill=False),
                   name="no-backfill")
    kit.idle()
    (first,) = kit.runs(ids["flow"])
    start_ms = windows([first])[0][0]
    assert start_ms == windows([first])[0][1] - QUARTER * 1000   # only the first interval's data
    advance(kit, 2 * 3600)
    runs = kit.runs(ids["flow"])
    assert len(runs) == 2
    check_no_loss_no_duplicates(kit, runs, start_ms)


def test_disabled_flows_get_no_runs_and_resume_without_loss(kit: Kit):
    ids = kit.flow(columns=COLUMNS, mappings=MAPPINGS, options=OPTIONS, schedule=schedule(kit, offset_s=60),
                   name="toggle")
    kit.idle()
    assert kit.runs(ids["flow"]) == []                        # start time still ahead
    advance(kit, QUARTER)
    assert len(kit.runs(ids["flow"])) == 1
    kit.client.flow.flow_action(ids["flow"], "disable")
    advance(kit, 3 * QUARTER)
    assert len(kit.runs(ids["flow"])) == 1
    kit.client.flow.flow_action(ids["flow"], "enable")
    advance(kit, QUARTER)
    runs = kit.runs(ids["flow"])
    assert len(runs) == 2
    check_no_loss_no_duplicates(kit, runs)


def test_delta_column_and_deleted_flow(kit: Kit):
    ids = kit.flow(columns=COLUMNS, mappings=MAPPINGS, options=OPTIONS, schedule=schedule(kit), delta="Updated_At",
                   name="copy")
    kit.idle()
    advance(kit, QUARTER)
    runs = kit.runs(ids["flow"])
    assert len(runs) == 2
    check_no_loss_no_duplicates(kit, runs)
    kit.client.flow.delete_flow(ids["flow"])
    advance(kit, 2 * QUARTER)                                 # nothing scheduled for a deleted flow
    assert kit.platform.scheduler.wait_idle(10)
