"""Fault injection (``aep_magics.local.faults``) and the client's behaviour under it.

- Unit checks of the middleware: spec parsing, each fault kind on raw HTTP (bodies, ``Retry-After``, a drop before
  processing changes nothing, a drop after processing does), exempt paths, the bypass header, counters.
- The soak: the tutorial sequence (base connection → source → schema → dataset → target → mapping → flow → wait for
  the run → read the dataset rows back) through ``aep_magics.magics.ops`` against an AEP Local with a heavy fault mix,
  each iteration in its own sandbox. Every create uses ``if_exists="reuse"``; an operation that fails with a
  transport error, a 5xx or a 429 is simply run again (re-running a reuse-create is the safe re-send: it looks the
  resource up by name before creating it). Afterwards, on a fault-free view (``x-aep-local-faults: off``), every name
  exists exactly once per kind and the dataset equals the fault-free baseline row for row.
  CI runs ``SOAK_CI`` (30) iterations; ``pytest -m slow tests/test_faults.py`` runs ``SOAK_SLOW`` (200).
- Auth lifetime: a token that expires mid-sequence is refreshed without an error; a revoked client gives one
  AuthError line saying what to do.

The soak prints a summary line per test (``pytest -s`` shows it) and docs/reliability.md records the figures.
"""

from __future__ import annotations

import collections
import json
import re
import socket
import time
from datetime import datetime, timezone
from typing import Any

import pytest
import requests

from aep_magics import local
from aep_magics.api import AEPClient
from aep_magics.auth import TokenProvider
from aep_magics.errors import AuthError, RateLimitedError, ServerError, TransportError
from aep_magics.http import AEPSession
from aep_magics.local.faults import FaultInjector, FaultSpec, FaultSpecError
from aep_magics.local.ids import DETERMINISTIC_EPOCH_MS
from aep_magics.local.platform import DEV_ORG_ID
from aep_magics.magics import ops

SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
FLOW = "/data/foundation/flowservice"
SANDBOXES = "/data/foundation/sandbox-management/sandboxes"
BYPASS = {"x-aep-local-faults": "off"}


def _admin(server) -> dict[str, str]:
    """The credential of AEP Local's control plane (POST and DELETE under /aep-local/)."""
    return {"Authorization": f"Bearer {server.admin_token}"}

SEED = 5150
ORDERS = 300
#: The sample store's orders are created in the two days before T0, 40 days before the platform's clock starts, and
#: it (practically) stops growing: every status event lies within 32 days of an order's creation, so every run -- a
#: ``once`` flow copies the window (0, now] -- sees the same rows whenever it runs. The data is the same in every
#: iteration, and every iteration is compared with a fault-free run.
T0 = DETERMINISTIC_EPOCH_MS // 1000 - 40 * 86400
HEAVY = ("seed={seed},429=0.05,500=0.03,502=0.03,503=0.05,504=0.02,drop_before=0.03,drop_after=0.03,"
         "latency=0.1:0.02,slow_body=0.05,slow_chunk=256,slow_delay=0.001,retry_after=0")
SOAK_CI = 30
SOAK_SLOW = 200
RESEND_LIMIT = 30
RESENDABLE = (TransportError, ServerError, RateLimitedError)
MAPPINGS = [
    {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "Email", "identity": False, "version": 0},
    {"destinationXdmPath": "mobilePhone.number", "sourceAttribute": "Shipping_Address_Phone", "identity": False,
     "version": 0},
]
PROFILE_GROUPS = ["https://ns.adobe.com/xdm/context/profile-person-details",
                  "https://ns.adobe.com/xdm/context/profile-personal-details"]


# -- unit checks of the middleware ----------------------------------------------------------------------------------

def test_spec_parsing():
    spec = FaultSpec.parse("seed=7,429=0.05,500=0.02,latency=0.1:0.05,drop_before=0.02,slow_body=0.5,"
                           "retry_after=0.05,exempt=/aep-local/|/x/")
    assert spec.seed == 7 and spec.rates == {"429": 0.05, "500": 0.02, "drop_before": 0.02}
    assert spec.latency == (0.1, 0.05) and spec.slow_body == 0.5 and spec.retry_after == "0.05"
    assert spec.exempt == ("/aep-local/", "/x/") and spec.active
    assert not FaultSpec.parse("").active and not FaultSpec.parse(None).active
    assert FaultSpec.parse("exempt=none").exempt == ()
    for bad, message in (("429=2", "2 is not a probability between 0 and 1"), ("nope=0.1", "unknown fault 'nope'"),
                         ("429", "fault spec item '429' is not key=value"), ("500=x", "could not convert string"),
                         ("429=0.6,503=0.6", "the exclusive fault probabilities add up to 1.2 > 1"),
                         ("latency=0.1:-1", "latency takes a finite number of seconds from 0 to 30, not -1")):
        with pytest.raises(FaultSpecError, match=re.escape(message)):
            FaultSpec.parse(bad)


def test_same_seed_same_faults():
    def fates(seed: int) -> list:
        injector = FaultInjector(lambda e, s: [b""], f"seed={seed},429=0.2,503=0.2,drop_after=0.1,latency=0.3:0")
        return [injector._decide() for _ in range(200)]

    assert fates(3) == fates(3) != fates(4)


def frozen_store(server) -> None:
    server.platform.shop.generate(ORDERS, start=datetime.fromtimestamp(T0, tz=timezone.utc), history_days=2,
                                  orders_per_hour=1e-6)


@pytest.fixture(scope="module")
def aep():
    with local.start(seed=SEED, scheduler=True) as server:
        frozen_store(server)
        yield server


@pytest.fixture
def faults(aep):
    """Set a spec for one test; injection is off again afterwards."""
    def set_spec(spec: str) -> dict:
        r = requests.post(f"{aep.url}/aep-local/faults", json={"spec": spec, "reset": True}, timeout=10,
                          headers=_admin(aep))
        assert r.status_code == 200, r.text
        return r.json()

    yield set_spec
    set_spec("")


def _headers(aep, raw_token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw_token}", "x-api-key": "aep-local-dev", "x-gw-ims-org-id": DEV_ORG_ID,
            "x-sandbox-name": "prod", **extra}


def _token(aep) -> str:
    r = requests.post(f"{aep.url}/ims/token/v3", data={"grant_type": "client_credentials", "client_id": "aep-local-dev",
                                                       "client_secret": "aep-local-dev-secret"}, timeout=10)
    return r.json()["access_token"]


def _conn_body(name: str) -> dict[str, Any]:
    return {"name": name, "auth": {"specName": "Basic Authentication",
                                   "params": {"host": "aeplocal.myshopify.com", "accessToken": "t"}},
            "connectionSpec": {"id": SHOPIFY, "version": "1.0"}}


def _count_named(aep, kind: str, name: str, sandbox: str = "prod") -> int:
    from aep_magics.local.store import Tenant

    return len(aep.platform.store.find_by_name(Tenant(DEV_ORG_ID, sandbox), kind, name))


def test_status_faults_have_documented_bodies(aep, faults):
    token = _token(aep)
    for kind, status in (("429", 429), ("500", 500), ("502", 502), ("503", 503)):
        faults(f"{kind}=1,retry_after=0.05")
        r = requests.post(f"{aep.url}{FLOW}/connections", json=_conn_body(f"status-{kind}"),
                          headers=_headers(aep, token), timeout=10)
        assert r.status_code == status
        body = r.json()
        if status == 429:
            assert body == {"title": "RequestRateTooLarge", "status": 429,
                            "detail": "Request rate is large. Please try again later."}
            assert r.headers["Retry-After"] == "0.05"
        else:
            assert set(body) == {"error_code", "message"} and body["error_code"].startswith(str(status))
        assert r.headers["x-aep-local-fault"] == kind
        assert _count_named(aep, "connection", f"status-{kind}") == 0  # refused before processing
    stats = requests.get(f"{aep.url}/aep-local/faults", timeout=10).json()
    assert stats["injected"]["503"] == 1 and stats["total"] == 1  # the counters were reset by each new spec


def test_504_is_processed_then_refused(aep, faults):
    token = _token(aep)
    faults("504=1")
    r = requests.post(f"{aep.url}{FLOW}/connections", json=_conn_body("gw-timeout"), headers=_headers(aep, token),
                      timeout=10)
    assert r.status_code == 504 and r.json()["error_code"] == "504000"
    assert _count_named(aep, "connection", "gw-timeout") == 1


def test_drop_before_and_after(aep, faults):
    token = _token(aep)
    faults("drop_before=1")
    with pytest.raises(requests.ConnectionError, match="Remote end closed connection without response"):
        requests.post(f"{aep.url}{FLOW}/connections", json=_conn_body("dropped-before"),
                      headers=_headers(aep, token), timeout=10)
    assert _count_named(aep, "connection", "dropped-before") == 0
    faults("drop_after=1")
    with pytest.raises(requests.ConnectionError, match="Remote end closed connection without response"):
        requests.post(f"{aep.url}{FLOW}/connections", json=_conn_body("dropped-after"),
                      headers=_headers(aep, token), timeout=10)
    assert _count_named(aep, "connection", "dropped-after") == 1
    stats = requests.get(f"{aep.url}/aep-local/faults", timeout=10).json()
    assert stats["injected"]["drop_after"] == 1
    assert requests.get(f"{aep.url}/aep-local/health", timeout=10).status_code == 200  # the server is fine


def test_slow_body_and_latency_keep_the_bytes(aep, faults):
    token = _token(aep)
    plain = requests.get(f"{aep.url}{FLOW}/flowSpecs", headers=_headers(aep, token), timeout=10)
    faults("slow_body=1,slow_chunk=64,slow_delay=0.001,latency=1:0.05")
    started = time.perf_counter()
    slow = requests.get(f"{aep.url}{FLOW}/flowSpecs", headers=_headers(aep, token), timeout=10)
    elapsed = time.perf_counter() - started
    assert slow.status_code == 200 and slow.content == plain.content
    assert elapsed >= 0.05
    stats = requests.get(f"{aep.url}/aep-local/faults", timeout=10).json()
    assert stats["injected"]["slow_body"] == 1 and stats["injected"]["latency"] == 1


def test_exempt_paths_and_bypass_header(aep, faults):
    faults("500=1")
    assert requests.get(f"{aep.url}/aep-local/health", timeout=10).status_code == 200
    token = _token(aep)  # /ims/ is exempt as well
    assert requests.get(f"{aep.url}{FLOW}/flowSpecs", headers=_headers(aep, token), timeout=10).status_code == 500
    ok = requests.get(f"{aep.url}{FLOW}/flowSpecs", headers=_headers(aep, token, **BYPASS), timeout=10)
    assert ok.status_code == 200
    stats = requests.get(f"{aep.url}/aep-local/faults", timeout=10).json()
    assert stats["requests"] == 1 and stats["injected"]["500"] == 1 and stats["exemptRequests"] >= 3
    reset = requests.delete(f"{aep.url}/aep-local/faults", timeout=10, headers=_admin(aep)).json()
    assert reset["total"] == 0 and reset["requests"] == 0 and reset["enabled"]
    faults("500=1,exempt=none")
    r = requests.post(f"{aep.url}/ims/token/v3", data={"grant_type": "client_credentials"}, timeout=10)
    assert r.status_code == 500


def test_control_endpoint_refuses_bad_specs(aep, faults):
    r = requests.post(f"{aep.url}/aep-local/faults", json={"spec": "429=7"}, timeout=10, headers=_admin(aep))
    assert r.status_code == 400 and r.json()["title"] == "BadRequestError"
    assert requests.put(f"{aep.url}/aep-local/faults", timeout=10).status_code == 405
    assert requests.get(f"{aep.url}/aep-local/faults", timeout=10).json()["enabled"] is False


def test_env_and_start_parameter(monkeypatch, tmp_path):
    monkeypatch.setenv("AEP_LOCAL_FAULTS", "seed=1,503=0.5")
    with local.start(tmp_path / "a", scheduler=False) as server:
        assert server.faults.spec.rates == {"503": 0.5}
        assert requests.get(f"{server.url}/aep-local/faults", timeout=10).json()["seed"] == 1
    with local.start(tmp_path / "b", scheduler=False, faults="seed=2,429=0.1") as server:
        assert server.faults.spec.rates == {"429": 0.1} and server.faults.spec.seed == 2


def test_cli_has_faults_option():
    from aep_magics.local import cli

    args = cli.build_parser().parse_args(["serve", "--faults", "seed=7,503=0.05"])
    assert args.faults == "seed=7,503=0.05"


def test_client_retries_reads_but_not_posts(aep, faults):
    """GETs survive drops (urllib3 retries reads); a POST whose answer was lost surfaces as TransportError."""
    client = AEPClient(AEPSession(aep.profile(), backoff=0.001))
    faults("seed=1,drop_after=0.5")
    for _ in range(10):
        assert client.flow.list_flow_specs()
    faults("drop_after=1")
    with pytest.raises(TransportError, match="POST /data/foundation/flowservice/connections"):
        client.flow.create_connection(_conn_body("lost-answer"))
    assert _count_named(aep, "connection", "lost-answer") == 1


# -- the soak: the tutorial sequence under a heavy fault mix ---------------------------------------------------------

class Resender:
    """Runs an operation until it gets through; every retry after a resendable failure is counted."""

    def __init__(self) -> None:
        self.resends: collections.Counter[str] = collections.Counter()

    def __call__(self, fn, *args: Any, **kwargs: Any) -> Any:
        for _ in range(RESEND_LIMIT):
            try:
                return fn(*args, **kwargs)
            except RESENDABLE as exc:
                self.resends[f"{type(exc).__name__} {exc.status or ''}".strip()] += 1
        return fn(*args, **kwargs)


def _schema_body(title: str) -> dict[str, Any]:
    return {"type": "object", "title": title, "description": "",
            "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}, *({"$ref": g} for g in PROFILE_GROUPS)],
            "meta:containerId": "tenant", "meta:resourceType": "schemas", "meta:xdmType": "object",
            "meta:class": "https://ns.adobe.com/xdm/context/profile"}


def tutorial(client: AEPClient, resend: Resender, tag: str) -> dict[str, Any]:
    """The tutorial's sequence through ``ops`` with ``if_exists="reuse"``; returns ids and the dataset's rows."""
    r = resend
    base = r(ops.create_connection, client, _conn_body(f"Shopify {tag}"), if_exists="reuse").id
    src = r(ops.create_source, client, {
        "name": f"Shopify orders {tag}", "baseConnectionId": base, "data": {"format": "tabular"},
        "params": {"tableName": "Shopify.Orders", "columns": [{"name": n, "type": "string"}
                                                               for n in ("Email", "Phone", "Shipping_Address_Phone")]},
        "connectionSpec": {"id": SHOPIFY, "version": "1.0"}}, if_exists="reuse").id
    schema = r(ops.create_schema, client, _schema_body(f"Shopify profile {tag}"), if_exists="reuse").id
    dataset = r(ops.create_dataset, client, {"name": f"Shopify dataset {tag}", "schemaRef": {
        "id": schema, "contentType": "application/vnd.adobe.xed-full-notext+json; version=1"}}, if_exists="reuse").id
    target = r(ops.create_target, client, {
        "name": f"Data Lake {tag}", "data": {"format": "parquet_xdm", "schema": {
            "id": schema, "version": "application/vnd.adobe.xed-full-notext+json; version=1"}},
        "params": {"dataSetId": dataset}, "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}},
        if_exists="reuse").id
    mapping = r(ops.create_mapping, client, {"name": f"Mapping {tag}", "version": 0, "xdmSchema": schema,
                                             "xdmVersion": "1.0", "id": None, "mappings": MAPPINGS},
                if_exists="reuse").id
    flow = r(ops.create_flow, client, {
        "name": f"Shopify flow {tag}", "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [src], "targetConnectionIds": [target],
        "transformations": [{"name": "Mapping", "params": {"mappingId": mapping, "mappingVersion": 0}}],
        "scheduleParams": {"startTime": str(T0), "frequency": "once"},
        "options": {"errorDiagnosticsEnabled": True, "partialIngestionPercent": 50}}, if_exists="reuse").id
    runs = r(ops.wait_for_runs, client, flow, timeout=120, poll_interval=0.05)
    frame = r(ops.read_dataset, client, dataset)
    names = {"connection": f"Shopify {tag}", "source": f"Shopify orders {tag}", "schema": f"Shopify profile {tag}",
             "dataset": f"Shopify dataset {tag}", "target": f"Data Lake {tag}", "mapping": f"Mapping {tag}",
             "flow": f"Shopify flow {tag}"}
    return {"ids": {"connection": base, "source": src, "schema": schema, "dataset": dataset, "target": target,
                    "mapping": mapping, "flow": flow}, "names": names, "runs": runs.items, "frame": frame}


def census(clean: AEPClient, names: dict[str, str], ids: dict[str, str]) -> dict[str, int]:
    """How many resources carry each name, per kind, read on a fault-free view; plus runs and batches."""
    flow = clean.flow
    counts = {
        "connection": sum(x.get("name") == names["connection"] for x in flow.list_connections()),
        "source": sum(x.get("name") == names["source"] for x in flow.list_source_connections()),
        "target": sum(x.get("name") == names["target"] for x in flow.list_target_connections()),
        "flow": sum(x.get("name") == names["flow"] for x in flow.list_flows()),
        "schema": sum(x.get("title") == names["schema"] for x in clean.schemas.list_schemas()),
        "dataset": sum(d.get("name") == names["dataset"] for d in clean.catalog.list_datasets().values()),
        "mapping": sum(m.get("name") == names["mapping"] for m in clean.dataprep.list_mapping_sets()),
        "run": len(flow.list_runs(ids["flow"])),
        "batch": len(clean.catalog.list_batches(ids["dataset"])),
    }
    return counts


def _clean_session(aep, sandbox: str) -> AEPSession:
    session = AEPSession(aep.profile(sandbox=sandbox), backoff=0.001)
    session.http.headers.update(BYPASS)
    return session


def _rows(frame) -> list[str]:
    return [json.dumps(row, sort_keys=True, default=str) for row in frame.to_dict(orient="records")]


def soak(aep, faults, iterations: int) -> dict[str, Any]:
    admin = AEPClient(_clean_session(aep, "prod"))
    faults("")
    base = tutorial(AEPClient(_clean_session(aep, "prod")), Resender(), "baseline")
    baseline = _rows(base["frame"])
    assert base["runs"] and all(r["metrics"]["statusSummary"]["status"] == "success" for r in base["runs"])
    assert len(baseline) > 100

    totals: collections.Counter[str] = collections.Counter()
    resends: collections.Counter[str] = collections.Counter()
    requests_made = 0
    duplicates = rows_lost = rows_extra = 0
    started = time.perf_counter()
    for i in range(iterations):
        sandbox = f"soak-{i}"
        admin.sandboxes.create(sandbox, title=f"Soak {i}")
        faults(HEAVY.format(seed=1000 + i))
        resend = Resender()
        session = AEPSession(aep.profile(sandbox=sandbox), backoff=0.001)
        out = tutorial(AEPClient(session), resend, "soak")
        stats = requests.get(f"{aep.url}/aep-local/faults", timeout=10).json()
        faults("")
        totals.update(stats["injected"])
        resends.update(resend.resends)
        requests_made += stats["requests"]

        counts = census(AEPClient(_clean_session(aep, sandbox)), out["names"], out["ids"])
        expected = {kind: 1 for kind in counts}
        duplicates += sum(max(0, n - 1) for n in counts.values())
        assert counts == expected, f"iteration {i}: {counts}"
        got = _rows(out["frame"])
        missing = collections.Counter(baseline) - collections.Counter(got)
        extra = collections.Counter(got) - collections.Counter(baseline)
        rows_lost += sum(missing.values())
        rows_extra += sum(extra.values())
        assert got == baseline, f"iteration {i}: {sum(missing.values())} rows lost, {sum(extra.values())} extra"
        session.close()
    elapsed = time.perf_counter() - started
    injected = {k: v for k, v in totals.items() if v}
    summary = {"iterations": iterations, "seconds": round(elapsed, 1), "requests": requests_made,
               "faults_injected": sum(injected.values()), "by_kind": injected,
               "faults_survived": sum(injected.values()), "op_resends": dict(resends),
               "duplicates": duplicates, "rows_per_iteration": len(baseline), "rows_lost": rows_lost,
               "rows_extra": rows_extra}
    print("\nFAULT SOAK " + json.dumps(summary, sort_keys=True))
    return summary


def test_tutorial_sequence_survives_heavy_faults(aep, faults):
    summary = soak(aep, faults, SOAK_CI)
    assert summary["duplicates"] == 0 and summary["rows_lost"] == 0 and summary["rows_extra"] == 0
    assert summary["faults_injected"] > 0


@pytest.mark.slow
def test_tutorial_sequence_survives_heavy_faults_soak(tmp_path):
    with local.start(tmp_path / "soak", seed=SEED + 1) as server:
        frozen_store(server)

        def set_spec(spec: str) -> dict:
            return requests.post(f"{server.url}/aep-local/faults", json={"spec": spec, "reset": True},
                                 timeout=10, headers=_admin(server)).json()

        summary = soak(server, set_spec, SOAK_SLOW)
    assert summary["duplicates"] == 0 and summary["rows_lost"] == 0 and summary["rows_extra"] == 0


# -- auth lifetime ---------------------------------------------------------------------------------------------------

class _TokenCounter:
    def __init__(self, session: AEPSession):
        self.count = 0
        session.http.hooks["response"].append(self._hook)

    def _hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.request.url.split("?")[0].endswith("/ims/token/v3"):
            self.count += 1


def test_token_expiring_mid_sequence_is_refreshed(aep, faults):
    faults("")
    requests.post(f"{aep.url}/aep-local/token-lifetime", json={"seconds": 60}, timeout=10,
                  headers=_admin(aep)).raise_for_status()
    try:
        profile = aep.profile()
        session = AEPSession(profile)
        # refresh_margin=0: the client believes its token until the platform says 401
        session.tokens = TokenProvider(profile, session.http, refresh_margin=0)
        counter = _TokenCounter(session)
        client = AEPClient(session)
        conn = ops.create_connection(client, _conn_body("expiring token"), if_exists="reuse")
        assert counter.count == 1
        # the platform clock jumps past the token's 60 s lifetime: the next call gets 401, refreshes, goes on
        requests.post(f"{aep.url}/aep-local/clock", json={"advance": 120}, timeout=10,
                      headers=_admin(aep)).raise_for_status()
        again = ops.create_connection(client, _conn_body("expiring token"), if_exists="reuse")
        assert again.reused and again.id == conn.id
        requests.post(f"{aep.url}/aep-local/clock", json={"advance": 120}, timeout=10,
                      headers=_admin(aep)).raise_for_status()
        assert client.flow.get_connection(conn.id)["name"] == "expiring token"
        assert counter.count >= 3  # one token, then one refresh per expiry: no error surfaced
    finally:
        requests.post(f"{aep.url}/aep-local/token-lifetime", json={"seconds": 86399}, timeout=10, headers=_admin(aep))


def test_short_token_lifetime_in_wall_time(tmp_path):
    """Without a seed the platform clock is wall time: 1-second tokens expire between calls, nothing surfaces."""
    with local.start(tmp_path / "wall", scheduler=False) as server:
        requests.post(f"{server.url}/aep-local/token-lifetime", json={"seconds": 1}, timeout=10,
                      headers=_admin(server)).raise_for_status()
        profile = server.profile()
        session = AEPSession(profile)
        session.tokens = TokenProvider(profile, session.http, refresh_margin=0)
        counter = _TokenCounter(session)
        client = AEPClient(session)
        for i in range(2):
            ops.create_connection(client, _conn_body(f"wall {i}"), if_exists="reuse")
            time.sleep(1.05)
        ops.create_connection(client, _conn_body("wall 2"), if_exists="reuse")
        assert counter.count >= 2


def test_revoked_client_gives_one_actionable_error(aep, faults):
    faults("")
    secret = "rotate-me-secret"
    r = requests.post(f"{aep.url}/aep-local/clients", json={"client_id": "soon-revoked", "client_secret": secret,
                                                            "org_id": DEV_ORG_ID}, timeout=10, headers=_admin(aep))
    assert r.status_code == 201, r.text
    from aep_magics.auth import Secret
    from aep_magics.config import Profile

    profile = Profile(name="revoked", base_url=aep.url, ims_url=aep.url, org_id=DEV_ORG_ID, sandbox="prod",
                      client_id="soon-revoked", client_secret=Secret(secret))
    client = AEPClient(AEPSession(profile))
    assert client.flow.list_flow_specs()
    assert requests.delete(f"{aep.url}/aep-local/clients/soon-revoked", timeout=10,
                           headers=_admin(aep)).status_code == 204
    with pytest.raises(AuthError, match="^401 invalid_client invalid client_id or client_secret: ") as info:
        client.flow.list_flow_specs()
    text = str(info.value)
    lines = info.value._render_traceback_()
    assert len(lines) == 1 and "\n" not in lines[0]
    assert "invalid_client" in text and "401" in text and "revoked" in text
    assert secret not in text
    print("\nREVOKED CLIENT ERROR: " + lines[0])


def test_socket_level_drop_is_not_a_server_error(aep, faults):
    """A raw HTTP/1.1 exchange: a dropped request gets no status line at all (not a 5xx)."""
    faults("drop_before=1")
    token = _token(aep)
    host, port = aep.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        request = (f"GET {FLOW}/flowSpecs HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                   f"x-api-key: aep-local-dev\r\nx-gw-ims-org-id: {DEV_ORG_ID}\r\nx-sandbox-name: prod\r\n\r\n")
        sock.sendall(request.encode())
        assert sock.recv(100) == b""


def test_reuse_resends_a_create_whose_answer_was_lost_and_never_duplicates():
    """Creates whose connection drops after the platform processed them (or that get a 5xx/429) are found by name
    under ``--if-exists reuse`` instead of being sent again blindly; each name ends up existing exactly once."""
    from aep_magics.api import AEPClient
    from aep_magics.http import AEPSession
    from aep_magics.local import start
    from aep_magics.magics import ops

    spec = "seed=3,drop_after=0.35,503=0.1,429=0.1,retry_after=0"
    with start(seed=5, faults=spec, scheduler=False) as server:
        client = AEPClient(AEPSession(server.profile(), retries=8, backoff=0.01))
        names = [f"conn-{i}" for i in range(12)]
        for name in names:
            body = {"name": name, "auth": {"specName": "Basic Authentication",
                                           "params": {"host": "https://x.myshopify.com", "accessToken": "t"}},
                    "connectionSpec": {"id": "4f63aa36-bd48-4e33-bb83-49fbcd11c708", "version": "1.0"}}
            result = ops.create_connection(client, body, if_exists="reuse")
            assert result.name == name
        injected = dict(server.faults.injected)
        server.faults.configure(None)
        clean = AEPClient(AEPSession(server.profile()))
        listed = [c["name"] for c in clean.flow.list_connections()]
    assert sorted(listed) == sorted(names), listed
    assert injected["drop_after"] > 0, injected
