"""AEP Local API latency: p50/p99 of get-by-id, list with filter and create, at 1 and 32 concurrent clients, with 1k,
10k and 100k resources in the store; and the query plans of the filtered lists.

    python benchmarks/bench_api_latency.py [--size tiny|quick|full] [--json]

For each store size N: a fresh data dir gets N/10 flows and 9N/10 runs (each flow ~9 runs) through ``Store.insert``
in transactions, then AEP Local serves it from a child process (so the clients' threads do not share its GIL).
Clients are threads of this process, each with its own ``requests.Session`` (the dev token, the platform headers),
all started together behind a barrier. Operations:

- ``get``: ``GET /flows/{id}`` (random flow);
- ``list flows name==``: ``GET /flows?property=name==X`` (one match);
- ``list runs flowId==``: ``GET /runs?property=flowId==X`` (~9 matches);
- ``create``: ``POST /connections`` (a Shopify base connection, validated against its auth spec).

Targets: the filtered lists grow sub-linearly from the smallest to the largest store (log-log slope of p50 < 0.25;
1.0 would be a scan), and ``EXPLAIN QUERY PLAN`` of every statement they run searches an index (no bare ``SCAN``).
``AEP_BENCH_PROFILE=DIR`` also writes a pyinstrument profile of the server side (the WSGI app driven in-thread).
"""

from __future__ import annotations

import math
import re
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from common import (
    FLOW,
    ROOT,
    bench_main,
    bulk_insert,
    dev_headers,
    dev_tenant,
    dev_token,
    flow_doc,
    median,
    percentile,
    result,
    run_doc,
    table,
    target,
)

TARGET_SLOPE = 0.25
STORE_SIZES = {"tiny": [300, 3000], "quick": [1_000, 10_000, 100_000], "full": [1_000, 10_000, 100_000]}
CONCURRENCY = {"tiny": [1, 4], "quick": [1, 32], "full": [1, 32]}
#: requests per (size, operation, concurrency): total for 1 client; per client otherwise
REQUESTS = {"tiny": (8, 2), "quick": (150, 8), "full": (500, 25)}
OPERATIONS = ("get", "list flows name==", "list runs flowId==", "create")
LIST_OPS = ("list flows name==", "list runs flowId==")

CONNECTION_BODY = {
    "name": "bench latency connection",
    "auth": {"specName": "Basic Authentication",
             "params": {"host": "acme-outfitters.myshopify.com", "accessToken": "shpat_0123456789abcdef"}},
    "connectionSpec": {"id": "4f63aa36-bd48-4e33-bb83-49fbcd11c708", "version": "1.0"},
}
SERVE = ("import sys\nfrom aep_magics import local\n"
         "s = local.start(data_dir=sys.argv[1], scheduler=False)\n"
         "print(s.url, flush=True)\nsys.stdin.read()\ns.stop()\n")


def populate(data_dir: Path, n: int) -> tuple[list[str], list[str]]:
    """A data dir holding n resources: n/10 flows (named ``bench flow i``) and their runs. Returns (flow ids, names)."""
    from aep_magics import local

    server = local.start(data_dir=data_dir, scheduler=False)  # creates the state (dev client, prod sandbox, specs)
    try:
        store, tenant = server.platform.store, dev_tenant()
        now = server.platform.clock.now_ms()
        flows = max(1, n // 10)
        ids = [str(uuid.UUID(int=random.Random(i).getrandbits(128))) for i in range(flows)]
        names = [f"bench flow {i}" for i in range(flows)]
        bulk_insert(store, tenant, "flow", (flow_doc(ids[i], names[i], now, tenant) for i in range(flows)))
        bulk_insert(store, tenant, "run",
                    (run_doc(ids[i % flows], str(uuid.uuid4()), now, i, tenant) for i in range(n - flows)),
                    parent_key="flowId", name_key=None, state="success")
        store._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # noqa: SLF001
    finally:
        server.stop()
    return ids, names


class ChildServer:
    """AEP Local serving ``data_dir`` from a child process."""

    def __init__(self, data_dir: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, str(data_dir)], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError("AEP Local did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def measure(url: str, op: str, clients: int, per_client: int, flow_ids: list[str], names: list[str]
            ) -> tuple[list[float], float]:
    """Latencies (s) of ``clients`` threads x ``per_client`` calls, and the wall time of the whole burst."""
    import requests

    token = dev_token(requests.Session(), url)
    sessions = []
    for _ in range(clients):
        s = requests.Session()
        s.headers.update(dev_headers(token))
        sessions.append(s)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    def worker(k: int) -> None:
        rng = random.Random(k)
        s = sessions[k]
        try:
            for j in range(per_client + 1):
                if j == 1:
                    barrier.wait()  # the first call of each client warms its connection (and the server) untimed
                i = rng.randrange(len(flow_ids))
                t = time.perf_counter()
                if op == "get":
                    r = s.get(f"{url}{FLOW}/flows/{flow_ids[i]}", timeout=60)
                elif op == "list flows name==":
                    r = s.get(f"{url}{FLOW}/flows", params={"property": f"name=={names[i]}"}, timeout=60)
                elif op == "list runs flowId==":
                    r = s.get(f"{url}{FLOW}/runs", params={"property": f"flowId=={flow_ids[i]}"}, timeout=60)
                else:
                    r = s.post(f"{url}{FLOW}/connections", json=CONNECTION_BODY, timeout=60)
                r.raise_for_status()
                r.json()
                if j:
                    latencies[k].append(time.perf_counter() - t)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)
            if not barrier.broken:
                barrier.abort()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    for s in sessions:
        s.close()
    if errors:
        raise errors[0]
    return [x for lat in latencies for x in lat], wall


def query_plans(data_dir: Path, flow_id: str, name: str) -> list[tuple[str, str, str]]:
    """(operation, SQL, plan) of every statement the two filtered lists run (EXPLAIN QUERY PLAN)."""
    from aep_magics.local import listing as query
    from aep_magics.local.platform import Platform
    from aep_magics.local.services.flowservice import FlowService

    platform = Platform(data_dir)
    try:
        store = platform.store
        conn = store._conn()  # noqa: SLF001
        seen: list[tuple[str, list[Any]]] = []

        class Tracing:
            def execute(self, sql: str, args: Any = ()) -> Any:
                if sql.lstrip().upper().startswith("SELECT"):
                    seen.append((sql, list(args)))
                return conn.execute(sql, args)

            def __getattr__(self, attr: str) -> Any:
                return getattr(conn, attr)

        store._local.conn = Tracing()  # noqa: SLF001
        service = FlowService.__new__(FlowService)
        service.platform = platform
        tenant = dev_tenant()
        out = []
        for op, coll, q, render in (
                ("list flows name==", query.FLOWS, {"property": [f"name=={name}"]},
                 lambda rec: service._render_flow(tenant, rec)),  # noqa: SLF001 - what the handler renders
                ("list runs flowId==", query.RUNS, {"property": [f"flowId=={flow_id}"]}, lambda rec: rec.doc)):
            seen.clear()
            query.run_list(store, tenant, coll, q, render=render)
            for sql, args in list(dict.fromkeys((s, tuple(a)) for s, a in seen)):
                plan = " / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args))
                out.append((op, " ".join(sql.split()), plan))
        store._local.conn = conn  # noqa: SLF001
        return out
    finally:
        platform.close()


def uses_index(plan: str) -> bool:
    """True when every step over ``resources`` searches an index on more than (org, sandbox, kind).

    ``SEARCH resources USING INDEX ix_res_seq (org=? AND sandbox=? AND kind=?)`` walks every resource of the kind
    (the filter is applied row by row): that is a scan too, however it is spelled.
    """
    for step in (p.strip() for p in plan.split(" / ")):
        if " resources" not in f" {step}" or step.startswith(("CORRELATED", "LIST SUBQUERY")):
            continue
        if step.startswith("SCAN"):
            return False
        if step.startswith("SEARCH"):
            inside = step[step.find("(") + 1:step.rfind(")")] if "(" in step else ""
            columns = {re.split(r"[=<>]", c.strip())[0].strip() for c in inside.split(" AND ") if c.strip()}
            if columns <= {"org", "sandbox", "kind"}:
                return False
    return True


def profile_server(data_dir: Path, flow_ids: list[str], names: list[str], out_dir: Path) -> None:
    """pyinstrument over the WSGI app driven in this thread by werkzeug's test client (server-side cost only)."""
    from pyinstrument import Profiler
    from werkzeug.test import Client

    from aep_magics import local

    server = local.start(data_dir=data_dir, scheduler=False)
    try:
        client = Client(server.app)
        r = client.post("/ims/token/v3", data={"grant_type": "client_credentials", "client_id": "aep-local-dev",
                                               "client_secret": "aep-local-dev-secret", "scope": "openid"})
        headers = dev_headers(r.get_json()["access_token"])
        calls = {
            "get": lambda i: client.get(f"{FLOW}/flows/{flow_ids[i]}", headers=headers),
            "list_flows": lambda i: client.get(f"{FLOW}/flows", query_string={"property": f"name=={names[i]}"},
                                               headers=headers),
            "list_runs": lambda i: client.get(f"{FLOW}/runs", query_string={"property": f"flowId=={flow_ids[i]}"},
                                              headers=headers),
            "create": lambda i: client.post(f"{FLOW}/connections", json=CONNECTION_BODY, headers=headers),
        }
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, call in calls.items():
            call(0)
            profiler = Profiler(interval=0.0002)
            profiler.start()
            for i in range(300):
                call(i % len(flow_ids))
            profiler.stop()
            (out_dir / f"server_{name}.txt").write_text(profiler.output_text(unicode=True, color=False))
    finally:
        server.stop()


def run(size: str = "quick") -> dict[str, Any]:
    started = time.perf_counter()
    single, per_client = REQUESTS[size]
    rows: list[list[Any]] = []
    p50: dict[tuple[int, str, int], float] = {}
    plans: list[list[Any]] = []
    notes: list[str] = []
    profile_dir = os.environ.get("AEP_BENCH_PROFILE")
    for n in STORE_SIZES[size]:
        tmp = Path(tempfile.mkdtemp(prefix="aep-bench-latency-"))
        try:
            t = time.perf_counter()
            flow_ids, names = populate(tmp / "data", n)
            notes.append(f"{n:,} resources inserted in {time.perf_counter() - t:.1f} s")
            if n == STORE_SIZES[size][-1]:
                k = len(flow_ids) // 2
                for op, sql, plan in query_plans(tmp / "data", flow_ids[k], names[k]):
                    plans.append([op, sql, plan, uses_index(plan)])
                if profile_dir:
                    profile_server(tmp / "data", flow_ids, names, Path(profile_dir) / f"latency_{n}")
            server = ChildServer(tmp / "data")
            try:
                for op in OPERATIONS:
                    for clients in CONCURRENCY[size]:
                        count = single if clients == 1 else per_client
                        lat, wall = measure(server.url, op, clients, count, flow_ids, names)
                        p50[(n, op, clients)] = median(lat)
                        rows.append([n, op, clients, len(lat), round(median(lat) * 1000, 2),
                                     round(percentile(lat, 99) * 1000, 2), round(len(lat) / wall)])
            finally:
                server.stop()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    lo, hi = STORE_SIZES[size][0], STORE_SIZES[size][-1]
    growth_rows, targets = [], []
    for op in LIST_OPS:
        for clients in CONCURRENCY[size]:
            a, b = p50[(lo, op, clients)], p50[(hi, op, clients)]
            slope = math.log(b / a) / math.log(hi / lo)
            growth_rows.append([op, clients, round(a * 1000, 2), round(b * 1000, 2), round(b / a, 2),
                                round(slope, 3)])
            if clients == 1:
                targets.append(target(f"{op}: p50 growth {lo:,} -> {hi:,} resources, 1 client",
                                      f"sub-linear: log-log slope < {TARGET_SLOPE} (1.0 = linear)",
                                      f"x{b / a:.2f} for x{hi // lo} resources, slope {slope:.3f}",
                                      slope < TARGET_SLOPE))
    indexed = all(p[3] for p in plans)
    targets.append(target(f"EXPLAIN QUERY PLAN of the filtered lists ({hi:,} resources)", "every step uses an index",
                          "all indexed" if indexed else "a full SCAN: " + "; ".join(p[2] for p in plans if not p[3]),
                          indexed))
    tables = [
        table("Latency, ms (p50 / p99) and throughput", ["resources", "operation", "clients", "requests", "p50 ms",
                                                         "p99 ms", "req/s"], rows),
        table(f"Filtered list growth, p50 at {lo:,} vs {hi:,} resources", ["operation", "clients", f"p50 {lo:,}",
                                                                           f"p50 {hi:,}", "growth", "slope"],
              growth_rows),
        table(f"Query plans ({hi:,} resources)", ["operation", "SQL", "EXPLAIN QUERY PLAN", "indexed"], plans),
    ]
    notes.append("server: AEP Local in a child process (threaded werkzeug); clients: threads of the benchmark "
                 "process, one requests.Session (keep-alive) each, started together behind a barrier")
    return result("api_latency", "AEP Local API latency", size,
                  params={"store_sizes": STORE_SIZES[size], "concurrency": CONCURRENCY[size],
                          "requests_1_client": single, "requests_per_client": per_client},
                  tables=tables, targets=targets, notes=notes, seconds=time.perf_counter() - started,
                  data={"p50_ms": {f"{n}|{op}|{c}": v * 1000 for (n, op, c), v in p50.items()}})


def main(argv: list[str] | None = None) -> int:
    return bench_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
