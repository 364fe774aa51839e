"""Listing at scale: 10,000 flow runs paged through the client vs the raw page requests, and the rendered list size.

    python benchmarks/bench_listing.py [--size tiny|quick|full] [--json]

Set-up: AEP Local in-process (no scheduler); one flow and N finished runs inserted straight through ``Store.insert``
in transactions. Then, alternating, R times each:

- raw: a bare ``requests.Session`` GETs ``/runs?property=flowId==F`` and follows ``_links.next.href`` by hand,
  parsing every page (the floor: the same pages, nothing else);
- client: ``AEPClient.flow.list_runs(F)`` (``AEPSession.iter_flow``: paging, typed errors, retries);
- magic: ``%aep_runs F`` (the client plus the call records and the ``RunsResult``), and its rendering.

Targets: client / raw < 2 (median of R), and the ``_repr_mimebundle_`` of the ``%aep_runs`` result (every mimetype,
summed) under 200 KB: a list renders one page, never every row.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

from common import (
    FLOW,
    bench_main,
    bulk_insert,
    count_ports,
    dev_tenant,
    flow_doc,
    median,
    raw_session,
    result,
    run_doc,
    table,
    target,
)

TARGET_RATIO = 2.0
TARGET_BYTES = 200 * 1024
RUNS = {"tiny": 250, "quick": 10_000, "full": 10_000}
REPEATS = {"tiny": 1, "quick": 3, "full": 7}


def raw_pages(session: Any, base_url: str, flow_id: str) -> tuple[int, int]:
    """Every run of ``flow_id`` page by page, following ``_links.next.href`` by hand: (items, pages)."""
    url = f"{base_url}{FLOW}/runs"
    params: dict[str, str] | None = {"property": f"flowId=={flow_id}"}
    items = pages = 0
    while True:
        r = session.get(url, params=params, timeout=60)
        r.raise_for_status()
        body = r.json()
        items += len(body.get("items", []))
        pages += 1
        href = ((body.get("_links") or {}).get("next") or {}).get("href")
        if not href:
            return items, pages
        url, params = f"{base_url}{FLOW}{href}", None  # next links are relative to the service root


def mimebundle_sizes(obj: Any) -> dict[str, int]:
    bundle = obj._repr_mimebundle_()
    return {k: len(v.encode() if isinstance(v, str) else json.dumps(v).encode()) for k, v in bundle.items()}


def run(size: str = "quick") -> dict[str, Any]:
    started = time.perf_counter()
    from IPython.core.interactiveshell import InteractiveShell

    from aep_magics import local
    from aep_magics.api import AEPClient
    from aep_magics.http import AEPSession
    from aep_magics.magics import state

    n, repeats = RUNS[size], REPEATS[size]
    server = local.start(scheduler=False)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "aep_magics")
    try:
        tenant = dev_tenant()
        store = server.platform.store
        now = server.platform.clock.now_ms()
        flow_id = str(uuid.uuid4())
        t_setup = time.perf_counter()
        bulk_insert(store, tenant, "flow", [flow_doc(flow_id, "bench listing flow", now, tenant)])
        bulk_insert(store, tenant, "run", (run_doc(flow_id, str(uuid.uuid4()), now, i, tenant) for i in range(n)),
                    parent_key="flowId", name_key=None, state="success")
        setup_s = time.perf_counter() - t_setup
        counter = count_ports(server)
        raw = raw_session(server.url)
        client = AEPClient(AEPSession(server.profile()))
        state.current.connect(server.profile(), local=None)

        def do_raw() -> int:
            return raw_pages(raw, server.url, flow_id)[0]

        def do_client() -> int:
            return len(client.flow.list_runs(flow_id))

        def do_magic() -> Any:
            return shell.run_line_magic("aep_runs", flow_id)

        assert do_raw() == n and do_client() == n  # warm-up and a check that both see every run
        pages = raw_pages(raw, server.url, flow_id)[1]
        times: dict[str, list[float]] = {"raw": [], "client": [], "magic": [], "render": []}
        sizes: dict[str, int] = {}
        for rep in range(repeats):
            order = [("raw", do_raw), ("client", do_client), ("magic", do_magic)]
            for name, fn in order if rep % 2 == 0 else order[::-1]:
                t = time.perf_counter()
                value = fn()
                times[name].append(time.perf_counter() - t)
                if name == "magic":
                    assert len(value) == n
                    t = time.perf_counter()
                    sizes = mimebundle_sizes(value)
                    times["render"].append(time.perf_counter() - t)
        counter.reset()
        do_client()
        client_connections = len(counter.ports)
        raw_s, client_s = median(times["raw"]), median(times["client"])
        ratio = client_s / raw_s
        total = sum(sizes.values())
        rows = [
            ["raw requests, following _links.next.href", round(raw_s * 1000, 1), 1.0],
            ["client: AEPClient.flow.list_runs (iter_flow)", round(client_s * 1000, 1), round(ratio, 3)],
            ["magic: %aep_runs (client + RunsResult)", round(median(times["magic"]) * 1000, 1),
             round(median(times["magic"]) / raw_s, 3)],
            ["render: _repr_mimebundle_ of the %aep_runs result", round(median(times["render"]) * 1000, 1),
             round(median(times["render"]) / raw_s, 3)],
        ]
        figures = table(f"Paging {n:,} runs in {pages} pages, median of {repeats}", ["what", "ms", "ratio to raw"],
                        rows)
        bundle = table("Rendered %aep_runs result (_repr_mimebundle_)", ["mimetype", "bytes"],
                       [[k, v] for k, v in sizes.items()] + [["total", total]])
        targets = [
            target(f"client paging of {n:,} runs / raw page requests", f"< {TARGET_RATIO}", f"{ratio:.3f}",
                   ratio < TARGET_RATIO),
            target(f"rendered list of {n:,} runs (all mimetypes)", f"< {TARGET_BYTES // 1024} KB",
                   f"{total / 1024:.1f} KB", total < TARGET_BYTES),
        ]
        return result("listing", "Listing at scale", size, params={"runs": n, "repeats": repeats, "pages": pages},
                      tables=[figures, bundle], targets=targets, seconds=time.perf_counter() - started,
                      notes=[f"set-up: {n:,} runs inserted through Store.insert in {setup_s:.2f} s",
                             f"client connections for one full listing: {client_connections}"],
                      data={"ratio": ratio, "bundle_bytes": total})
    finally:
        state.current.close()
        shell.run_line_magic("unload_ext", "aep_magics")
        server.stop()


def main(argv: list[str] | None = None) -> int:
    return bench_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
