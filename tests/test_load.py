"""Bounded concurrent load on loopback: many clients, mixed reads and writes, no errors, no lost writes.

``CLIENTS`` threads, each with its own ``requests.Session`` and its own random mix (seeded), share one AEP Local and
one token. Operations: create a base connection (POST), rename one of its own connections (PATCH with If-Match),
create a Catalog dataset (POST), get one of its own connections by id, list connections with a name filter, list
flow specs, list datasets by name. Every request must succeed (2xx); latencies are collected per request.
Afterwards every created resource is listed exactly once (paging through the whole collection) and carries the
last name it was given.

CI: ``CLIENTS`` x ``CI_REQUESTS`` requests in total; ``pytest -m slow tests/test_load.py`` runs ``SLOW_REQUESTS``.
The summary line (``pytest -s``) gives requests/s, p50, p99 and max latency; docs/reliability.md records them.
"""

from __future__ import annotations

import collections
import json
import platform
import random
import statistics
import threading
import time
from typing import Any

import pytest
import requests

from aep_magics import local
from aep_magics.api import AEPClient
from aep_magics.http import AEPSession
from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID

SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
FLOW = "/data/foundation/flowservice"
CATALOG = "/data/foundation/catalog"
CLIENTS = 32
CI_REQUESTS = 2_000
SLOW_REQUESTS = 20_000
#: operation -> weight (about 40 % writes)
MIX = {"create_connection": 20, "patch_connection": 10, "create_dataset": 10, "get_connection": 20,
       "list_connections": 15, "list_flow_specs": 10, "list_datasets": 15}


class Client(threading.Thread):
    def __init__(self, n: int, url: str, token: str, requests_to_make: int, barrier: threading.Barrier):
        super().__init__(name=f"load-{n}", daemon=True)
        self.n = n
        self.url = url
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "x-api-key": DEV_CLIENT_ID,
                                  "x-gw-ims-org-id": DEV_ORG_ID, "x-sandbox-name": "prod"})
        self.todo = requests_to_make
        self.barrier = barrier
        self.rng = random.Random(n)
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.ops: collections.Counter[str] = collections.Counter()
        self.connections: dict[str, dict[str, str]] = {}   # id -> {"name", "etag"}
        self.datasets: dict[str, str] = {}                # id -> name

    def call(self, method: str, path: str, **kw: Any) -> requests.Response | None:
        started = time.perf_counter()
        try:
            r = self.http.request(method, self.url + path, timeout=60, **kw)
        except requests.RequestException as exc:
            self.errors.append(f"{method} {path}: {type(exc).__name__}: {exc}")
            return None
        finally:
            self.latencies.append(time.perf_counter() - started)
        if not 200 <= r.status_code < 300:
            self.errors.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
            return None
        return r

    def run(self) -> None:
        self.barrier.wait()
        ops, weights = zip(*MIX.items())
        for i in range(self.todo):
            op = self.rng.choices(ops, weights)[0]
            if op in ("patch_connection", "get_connection") and not self.connections:
                op = "create_connection"
            self.ops[op] += 1
            getattr(self, op)(i)

    # -- operations --------------------------------------------------------------------------------------------
    def create_connection(self, i: int) -> None:
        name = f"load c{self.n}-{i}"
        r = self.call("POST", f"{FLOW}/connections", json={
            "name": name, "auth": {"specName": "Basic Authentication",
                                   "params": {"host": "aeplocal.myshopify.com", "accessToken": "t"}},
            "connectionSpec": {"id": SHOPIFY, "version": "1.0"}})
        if r is not None:
            body = r.json()
            self.connections[body["id"]] = {"name": name, "etag": body["etag"]}

    def patch_connection(self, i: int) -> None:
        cid = self.rng.choice(list(self.connections))
        name = f"load c{self.n}-{i} renamed"
        r = self.call("PATCH", f"{FLOW}/connections/{cid}", headers={"If-Match": self.connections[cid]["etag"]},
                      json=[{"op": "replace", "path": "/name", "value": name}])
        if r is not None:
            self.connections[cid] = {"name": name, "etag": r.json()["etag"]}

    def create_dataset(self, i: int) -> None:
        name = f"load d{self.n}-{i}"
        r = self.call("POST", f"{CATALOG}/dataSets", json={"name": name})
        if r is not None:
            self.datasets[r.json()[0].rsplit("/", 1)[-1]] = name

    def get_connection(self, i: int) -> None:
        cid = self.rng.choice(list(self.connections))
        r = self.call("GET", f"{FLOW}/connections/{cid}")
        if r is not None and r.json()["items"][0]["id"] != cid:
            self.errors.append(f"GET connection {cid} answered another resource")

    def list_connections(self, i: int) -> None:
        self.call("GET", f"{FLOW}/connections", params={"property": f'name=="load c{self.n}-{i - 1}"', "limit": 10})

    def list_flow_specs(self, i: int) -> None:
        self.call("GET", f"{FLOW}/flowSpecs", params={"property": 'name=="CRMToAEP"'})

    def list_datasets(self, i: int) -> None:
        self.call("GET", f"{CATALOG}/dataSets", params={"name": f"load d{self.n}-{i - 1}", "limit": 5})


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_load(total: int, clients: int = CLIENTS) -> dict[str, Any]:
    with local.start(seed=None, scheduler=False) as server:
        token = requests.post(f"{server.url}/ims/token/v3", data={
            "grant_type": "client_credentials", "client_id": DEV_CLIENT_ID, "client_secret": DEV_CLIENT_SECRET},
            timeout=10).json()["access_token"]
        barrier = threading.Barrier(clients + 1)
        per = [total // clients + (1 if n < total % clients else 0) for n in range(clients)]
        workers = [Client(n, server.url, token, per[n], barrier) for n in range(clients)]
        for w in workers:
            w.start()
        barrier.wait()
        started = time.perf_counter()
        for w in workers:
            w.join(timeout=1800)
        elapsed = time.perf_counter() - started
        assert not any(w.is_alive() for w in workers), "a client is stuck"

        latencies = [x for w in workers for x in w.latencies]
        errors = [e for w in workers for e in w.errors]
        ops = sum((w.ops for w in workers), collections.Counter())
        created = {cid: v["name"] for w in workers for cid, v in w.connections.items()}
        datasets = {did: name for w in workers for did, name in w.datasets.items()}

        # every created resource is listed exactly once, with its last name
        client = AEPClient(AEPSession(server.profile()))
        listed = [c for c in client.session.iter_flow(f"{FLOW}/connections", {"limit": 1000})]
        listed_ids = collections.Counter(c["id"] for c in listed)
        listed_names = {c["id"]: c["name"] for c in listed}
        dup_connections = sum(n - 1 for n in listed_ids.values() if n > 1)
        lost_connections = sorted(set(created) - set(listed_ids))
        wrong_names = [cid for cid, name in created.items() if listed_names.get(cid) != name]
        all_datasets = dict(client.session.iter_catalog(f"{CATALOG}/dataSets", limit=100))
        lost_datasets = sorted(set(datasets) - set(all_datasets))
        dataset_names = [did for did, name in datasets.items() if all_datasets.get(did, {}).get("name") != name]

    summary = {
        "clients": clients, "requests": len(latencies), "seconds": round(elapsed, 2),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1), "p99_ms": round(_percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1), "errors": len(errors), "ops": dict(ops),
        "connections_created": len(created), "datasets_created": len(datasets),
        "connections_listed": len(listed), "lost_writes": len(lost_connections) + len(lost_datasets),
        "duplicates": dup_connections, "stale_names": len(wrong_names) + len(dataset_names),
        "machine": f"{platform.machine()} {platform.system()} python {platform.python_version()}",
    }
    print("\nLOAD " + json.dumps(summary, sort_keys=True))
    assert not errors, errors[:5]
    assert len(latencies) == total
    assert not lost_connections and not lost_datasets and dup_connections == 0
    assert not wrong_names and not dataset_names
    assert len(listed) == len(created), "the listing holds exactly the connections created"
    return summary


def test_concurrent_load():
    run_load(CI_REQUESTS)


@pytest.mark.slow
def test_concurrent_load_full():
    run_load(SLOW_REQUESTS)
