"""Ad hoc runs with an explicit window leave the schedule's watermark where it is.

A scheduled run copies the data since the previous scheduled window ended (its watermark) up to its due time. An ad
hoc run (``POST /runs`` with ``windowStartTime``/``windowEndTime``, https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce)
re-ingests the window it names and nothing else: when that window reaches past the watermark, the next scheduled
window must still start at the old watermark, or the data between it and the ad hoc window's start would never be
ingested by the schedule. The expected windows are worked out here from the schedule alone.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from test_engine_e2e import Kit

from aep_magics import local

MAPPINGS = [{"destinationXdmPath": "personalEmail.address", "sourceAttribute": "Email"}]
QUARTER = 15 * 60


@pytest.fixture(scope="module")
def kit():
    with local.start(seed=9090) as aep:
        yield Kit(aep, orders=300)


def advance(kit: Kit, seconds: int) -> None:
    r = requests.post(f"{kit.aep.url}/aep-local/clock", json={"advance": seconds}, timeout=60,
                      headers={"Authorization": f"Bearer {kit.aep.admin_token}"})
    assert r.status_code == 200, r.text
    kit.idle()


def window(run: dict[str, Any]) -> tuple[int, int]:
    ext = run["activities"][0]["durationSummary"]["extensions"]
    return ext["windowStart"], ext["windowEnd"]


def succeeded(kit: Kit, flow_id: str) -> list[dict[str, Any]]:
    runs = kit.runs(flow_id)
    assert all(r["metrics"]["statusSummary"]["status"] == "success" for r in runs), \
        [r["metrics"]["statusSummary"] for r in runs]
    return runs


@pytest.mark.parametrize("ad_hoc", [
    pytest.param((0, 2 * QUARTER), id="ends-past-the-next-due-time"),
    pytest.param((QUARTER // 3, 2 * QUARTER // 3), id="inside-the-next-interval"),
])
def test_an_ad_hoc_window_past_the_watermark_does_not_move_it(kit: Kit, ad_hoc: tuple[int, int]):
    start_s = kit.now_s()                      # the schedule starts now: the first run is due at once
    ids = kit.flow(columns=["Email"], mappings=MAPPINGS, options={"partialIngestionPercent": 50},
                   schedule={"startTime": str(start_s), "frequency": "minute", "interval": "15", "backfill": "true"},
                   name=f"watermark {ad_hoc}")
    kit.idle()
    (first,) = succeeded(kit, ids["flow"])
    # backfill: the first window takes everything up to the first due time
    assert window(first) == (0, start_s * 1000)

    advance(kit, 2 * QUARTER // 3)             # before the next due time: no scheduled run yet
    assert len(kit.runs(ids["flow"])) == 1
    ad_hoc_s = (start_s + ad_hoc[0], start_s + ad_hoc[1])
    created = kit.client.flow.create_run({"flowId": ids["flow"], "params": {
        "windowStartTime": str(ad_hoc_s[0]), "windowEndTime": str(ad_hoc_s[1])}})
    kit.idle()
    done = kit.client.flow.get_run(created["id"])
    done = done["items"][0] if "items" in done else done
    assert done["metrics"]["statusSummary"]["status"] == "success", done["metrics"]["statusSummary"]
    assert window(done) == (ad_hoc_s[0] * 1000, ad_hoc_s[1] * 1000)

    advance(kit, QUARTER // 3)                 # the second due time: start + 15 min
    advance(kit, QUARTER)                      # the third: start + 30 min
    scheduled = [r for r in succeeded(kit, ids["flow"]) if r["id"] != created["id"]]
    assert [window(r) for r in scheduled] == [
        (0, start_s * 1000),
        (start_s * 1000, (start_s + QUARTER) * 1000),             # from the old watermark, not the ad hoc end
        ((start_s + QUARTER) * 1000, (start_s + 2 * QUARTER) * 1000),
    ]
