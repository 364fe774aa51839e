"""Per-call overhead: a magic against AEP Local vs a bare ``requests`` call to the same endpoint, same process.

    python benchmarks/bench_call_overhead.py [--size tiny|quick|full] [--json]

One process holds an IPython shell with the extension loaded, AEP Local (in-process, as ``%aep_auth --local`` runs
it) and a bare ``requests.Session`` carrying the same headers. Two operations:

- get: ``%aep_flowspec CRMToAEP`` vs ``GET /flowSpecs?property=name=="CRMToAEP"`` (+ ``.json()``);
- create: ``%%aep_source --if-exists fail`` (a JSON body with ``{{conn.id}}`` and ``{{i}}`` references, a new name
  each call) vs ``POST /sourceConnections`` with the same body.

N calls of each kind (500 in the full run), in alternating blocks so drift hits both sides alike; each call is timed
on its own and the medians compared: target magic / bare <= 1.3. The magic's time is the call as a notebook makes it
(``run_line_magic`` / ``run_cell_magic``: argument parsing, interpolation, the client, the result object); rendering
the result (``_repr_mimebundle_``) is reported beside it. A WSGI middleware counts the distinct client ports the
server sees -- one per TCP connection -- so keep-alive reuse shows as "connections opened: 1".

``AEP_BENCH_PROFILE=DIR`` writes pyinstrument profiles of the magic loops there.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    FLOW,
    bench_main,
    count_ports,
    median,
    percentile,
    raw_session,
    result,
    table,
    target,
)

TARGET_RATIO = 1.3
CALLS = {"tiny": 6, "quick": 100, "full": 500}
BLOCKS = {"tiny": 2, "quick": 5, "full": 10}

BASE_CONNECTION = {
    "name": "bench base connection",
    "auth": {"specName": "Basic Authentication",
             "params": {"host": "acme-outfitters.myshopify.com", "accessToken": "shpat_0123456789abcdef"}},
    "connectionSpec": {"id": "4f63aa36-bd48-4e33-bb83-49fbcd11c708", "version": "1.0"},
}
SOURCE_CELL = """{
    "name": "bench source {{i}}",
    "baseConnectionId": "{{conn.id}}",
    "description": "per-call overhead benchmark",
    "data": {"format": "tabular"},
    "params": {"tableName": "Shopify.Orders", "columns": [{"name": "Email", "type": "string"}]},
    "connectionSpec": {"id": "4f63aa36-bd48-4e33-bb83-49fbcd11c708", "version": "1.0"}
}"""


class _Profile:
    def __init__(self, name: str):
        self.dir = os.environ.get("AEP_BENCH_PROFILE")
        self.name = name
        self.profiler = None

    def __enter__(self) -> _Profile:
        if self.dir:
            from pyinstrument import Profiler

            self.profiler = Profiler(interval=0.0005)
            self.profiler.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.profiler is not None:
            self.profiler.stop()
            path = Path(self.dir) / f"{self.name}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.profiler.output_text(unicode=True, color=False, show_all=False))


def _mimebundle_bytes(obj: Any) -> int:
    bundle = obj._repr_mimebundle_()
    return sum(len(v.encode() if isinstance(v, str) else json.dumps(v).encode()) for v in bundle.values())


def run(size: str = "quick") -> dict[str, Any]:
    started = time.perf_counter()
    from IPython.core.interactiveshell import InteractiveShell

    from aep_magics import local
    from aep_magics.magics import state

    n, blocks = CALLS[size], BLOCKS[size]
    per_block = max(1, n // blocks)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "aep_magics")
    server = local.start(scheduler=False, store_orders=500)  # the sample shop only resolves the table name here
    try:
        counter = count_ports(server)  # from the first call on: the token fetch counts too
        state.current.connect(server.profile(), local=server)  # what %aep_auth --local does, on our server
        ns = shell.user_ns
        shell.run_cell_magic("aep_connection", "-q -o conn", json.dumps(BASE_CONNECTION))
        raw = raw_session(server.url)
        spec_url = f"{server.url}{FLOW}/flowSpecs"
        spec_params = {"property": 'name=="CRMToAEP"'}
        source_url = f"{server.url}{FLOW}/sourceConnections"

        def magic_get() -> Any:
            return shell.run_line_magic("aep_flowspec", "CRMToAEP")

        def bare_get() -> Any:
            r = raw.get(spec_url, params=spec_params, timeout=60)
            r.raise_for_status()
            return r.json()

        counter_i = [0]

        def magic_create() -> Any:
            counter_i[0] += 1
            ns["i"] = counter_i[0]
            return shell.run_cell_magic("aep_source", "--if-exists fail", SOURCE_CELL)

        def bare_create() -> Any:
            counter_i[0] += 1
            body = json.loads(SOURCE_CELL.replace("{{i}}", str(counter_i[0])).replace("{{conn.id}}", ns["conn"].id))
            r = raw.post(source_url, json=body, timeout=60)
            r.raise_for_status()
            return r.json()

        ops = {"get": (magic_get, bare_get), "create": (magic_create, bare_create)}
        for magic, bare in ops.values():  # warm-up (first-use imports, the sample store, caches)
            for _ in range(3):
                magic(), bare()
        render_ms: dict[str, list[float]] = {"get": [], "create": []}
        bundle_size: dict[str, int] = {}
        times: dict[tuple[str, str], list[float]] = {(op, side): [] for op in ops for side in ("magic", "bare")}
        for op, (magic, bare) in ops.items():
            for block in range(blocks):
                with _Profile(f"call_overhead_{op}_magic") if block == 0 else _NoProfile():
                    for k in range(per_block):  # call by call, alternating who goes first: drift hits both alike
                        pair = (("magic", magic), ("bare", bare)) if k % 2 == 0 else (("bare", bare),
                                                                                      ("magic", magic))
                        for side, fn in pair:
                            t = time.perf_counter()
                            value = fn()
                            times[(op, side)].append(time.perf_counter() - t)
                            if side == "magic" and k == 0 and len(render_ms[op]) < 20:
                                t = time.perf_counter()
                                bundle_size[op] = _mimebundle_bytes(value)
                                render_ms[op].append((time.perf_counter() - t) * 1000)
        ports = {"magic": counter.by_client.get("client", set()), "bare": counter.by_client.get("bare", set())}
        rows, targets = [], []
        for op in ops:
            m, b = times[(op, "magic")], times[(op, "bare")]
            ratio = median(m) / median(b)
            rows.append([op, len(m), round(median(b) * 1000, 3), round(median(m) * 1000, 3), round(ratio, 3),
                         round(percentile(b, 90) * 1000, 3), round(percentile(m, 90) * 1000, 3),
                         round(median(render_ms[op]), 3)])
            targets.append(target(f"{op}: magic / bare requests, median of {len(m)} calls", f"<= {TARGET_RATIO}",
                                  f"{ratio:.3f} (the magic's own cost: "
                                  f"{(median(m) - median(b)) * 1000:.2f} ms per call)", ratio <= TARGET_RATIO))
        names = {"get": "%aep_flowspec CRMToAEP", "create": "%%aep_source --if-exists fail"}
        targets.append(target(f"keep-alive: TCP connections the magics' client opened for all its "
                              f"{counter.calls.get('client', 0):,} calls (token included)", "1",
                              f"connections opened: {len(ports['magic'])} (bare requests.Session: "
                              f"{len(ports['bare'])})", len(ports["magic"]) == 1))
        figures = table("Per call, ms (median; p90)", ["operation", "calls", "bare median", "magic median",
                                                       "ratio", "bare p90", "magic p90", "render ms"], rows)
        return result("call_overhead", "Per-call overhead", size, params={"calls": n, "blocks": blocks},
                      tables=[figures], targets=targets, seconds=time.perf_counter() - started,
                      notes=[f"{op} = {names[op]}; render = _repr_mimebundle_ of the result "
                             f"({bundle_size.get(op, 0):,} bytes), not part of the ratio" for op in ops]
                      + ["connections counted server-side: distinct REMOTE_PORT values over the timed calls"],
                      data={"ports_magic": len(ports["magic"]), "ports_bare": len(ports["bare"])})
    finally:
        state.current.close()
        shell.run_line_magic("unload_ext", "aep_magics")
        server.stop()


class _NoProfile:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    return bench_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
