"""What every benchmark shares: sizes, timing statistics, the result format, machine facts, AEP Local helpers.

Every benchmark module defines ``run(size: str) -> dict`` (``size`` is ``"tiny"`` for the CI smoke test, ``"quick"``
for ``run.py --quick``, ``"full"`` for ``run.py``) and ``main()`` (``python benchmarks/bench_x.py [--size S]
[--json]``). The result is plain JSON (see :func:`result` and :func:`check_result`): tables of figures, the targets
with their measured value and whether each was met, and notes. Every target is a ratio to (or a difference from) a
baseline measured in the same run, on the same machine, a few milliseconds apart, so the figures travel between
machines better than absolute times do.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as _platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = ("tiny", "quick", "full")
FLOW = "/data/foundation/flowservice"
STATUSES = ("ok", "skipped", "error")


# -- statistics -----------------------------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    k = (len(data) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, return value) of one call."""
    t = time.perf_counter()
    value = fn()
    return time.perf_counter() - t, value


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


# -- results ----------------------------------------------------------------------------------------------------------
def result(name: str, title: str, size: str, *, status: str = "ok", params: dict[str, Any] | None = None,
           tables: list[dict[str, Any]] | None = None, targets: list[dict[str, Any]] | None = None,
           notes: list[str] | None = None, seconds: float | None = None, data: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    return {"name": name, "title": title, "size": size, "status": status, "params": params or {},
            "tables": tables or [], "targets": targets or [], "notes": notes or [],
            "seconds": None if seconds is None else round(seconds, 2), "data": data or {}}


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
    return {"title": title, "columns": list(columns), "rows": [list(r) for r in rows]}


def target(name: str, goal: str, value: str, met: bool | None) -> dict[str, Any]:
    """One target: ``goal`` in words, ``value`` as measured, ``met`` True/False (None: not measured)."""
    return {"name": name, "goal": goal, "value": value, "met": met}


def check_result(res: Any) -> list[str]:
    """The ways ``res`` is not a well-formed benchmark result (empty when it is)."""
    problems: list[str] = []
    if not isinstance(res, dict):
        return [f"not a dict: {type(res).__name__}"]
    for key, kind in (("name", str), ("title", str), ("size", str), ("status", str), ("params", dict),
                      ("tables", list), ("targets", list), ("notes", list), ("data", dict)):
        if not isinstance(res.get(key), kind):
            problems.append(f"{key} is not a {kind.__name__}")
    if problems:
        return problems
    if res["status"] not in STATUSES:
        problems.append(f"status {res['status']!r} not in {STATUSES}")
    if res["size"] not in SIZES:
        problems.append(f"size {res['size']!r} not in {SIZES}")
    for t in res["tables"]:
        if not isinstance(t, dict) or not isinstance(t.get("title"), str) or not isinstance(t.get("columns"), list):
            problems.append(f"bad table {t!r:.80}")
            continue
        for row in t.get("rows", []):
            if not isinstance(row, list) or len(row) != len(t["columns"]):
                problems.append(f"table {t['title']!r}: row {row!r:.80} does not have {len(t['columns'])} cells")
    for t in res["targets"]:
        if not isinstance(t, dict) or not {"name", "goal", "value", "met"} <= set(t):
            problems.append(f"bad target {t!r:.80}")
        elif t["met"] not in (True, False, None):
            problems.append(f"target {t['name']!r}: met is {t['met']!r}")
    if res["status"] == "ok" and not res["tables"]:
        problems.append("status ok but no figures")
    try:
        json.dumps(res)
    except (TypeError, ValueError) as exc:
        problems.append(f"not JSON-able: {exc}")
    return problems


def bench_main(run: Callable[[str], dict[str, Any]], argv: list[str] | None = None) -> int:
    """``main()`` of a benchmark module: ``--size``, ``--json`` (one JSON object on stdout) or a text summary."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=SIZES, default="quick")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--out", type=Path, help="write the JSON result to this file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    res = run(args.size)
    if res.get("seconds") is None:
        res["seconds"] = round(time.perf_counter() - started, 2)
    if args.out:
        args.out.write_text(json.dumps(res, indent=1))
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        print(summary_text(res))
    return 0 if res["status"] != "error" else 1


def summary_text(res: dict[str, Any]) -> str:
    lines = [f"== {res['title']} ({res['size']}, {res['status']}, {res.get('seconds')} s)"]
    for t in res["tables"]:
        lines.append(f"-- {t['title']}")
        widths = [max(len(str(c)), *(len(fmt(r[i])) for r in t["rows"])) if t["rows"] else len(str(c))
                  for i, c in enumerate(t["columns"])]
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(t["columns"], widths)))
        for row in t["rows"]:
            lines.append("  ".join(fmt(v).ljust(w) for v, w in zip(row, widths)))
    for t in res["targets"]:
        mark = {True: "MET", False: "NOT MET", None: "REPORTED"}[t["met"]]
        lines.append(f"[{mark}] {t['name']}: {t['value']} (target {t['goal']})")
    lines.extend(f"note: {n}" for n in res["notes"])
    return "\n".join(lines)


def run_module(module: str, size: str, *, timeout: float | None = None) -> dict[str, Any]:
    """Run ``benchmarks/<module>.py --size SIZE`` in a fresh interpreter and return its result (errors as results)."""
    import tempfile

    script = Path(__file__).with_name(f"{module}.py")
    with tempfile.TemporaryDirectory(prefix="aep-bench-") as tmp:
        out = Path(tmp) / "result.json"
        started = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, str(script), "--size", size, "--out", str(out)], cwd=ROOT,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return result(module, module, size, status="error", notes=[f"timed out after {timeout} s"],
                          seconds=time.perf_counter() - started)
        if out.exists():
            return json.loads(out.read_text())
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        return result(module, module, size, status="error", seconds=time.perf_counter() - started,
                      notes=[f"exit status {proc.returncode}", *tail])


# -- the machine --------------------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = _platform.processor()
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    versions = {}
    for dist in ("requests", "urllib3", "werkzeug", "ipython", "pyarrow", "pandas"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:  # noqa: BLE001 - a missing package is just not listed
            pass
    return {"cpus": os.cpu_count(), "usable_cpus": usable, "cpu_model": model or "unknown", "ram_gb": ram_gb,
            "python": sys.version.split()[0], "platform": _platform.platform(), "versions": versions}


# -- AEP Local helpers ----------------------------------------------------------------------------------------------------
def dev_token(session: Any, base_url: str) -> str:
    from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET

    r = session.post(f"{base_url}/ims/token/v3", data={"grant_type": "client_credentials", "client_id": DEV_CLIENT_ID,
                                                       "client_secret": DEV_CLIENT_SECRET, "scope": "openid"},
                     timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


def dev_headers(token: str, sandbox: str = "prod") -> dict[str, str]:
    from aep_magics.local.platform import DEV_CLIENT_ID, DEV_ORG_ID

    return {"Authorization": f"Bearer {token}", "x-api-key": DEV_CLIENT_ID, "x-gw-ims-org-id": DEV_ORG_ID,
            "x-sandbox-name": sandbox}


def raw_session(base_url: str, sandbox: str = "prod", name: str = "bare") -> Any:
    """A bare ``requests.Session`` carrying the dev headers (the baseline client), tagged ``x-bench-client: name``."""
    import requests

    s = requests.Session()
    s.headers["x-bench-client"] = name
    s.headers.update(dev_headers(dev_token(s, base_url), sandbox))
    return s


def dev_tenant(sandbox: str = "prod") -> Any:
    from aep_magics.local.platform import DEV_ORG_ID
    from aep_magics.local.store import Tenant

    return Tenant(DEV_ORG_ID, sandbox)


class PortCounter:
    """WSGI middleware: the distinct client ports (``REMOTE_PORT``) -- one per TCP connection -- seen by the server,
    per client: requests carrying ``x-bench-client: NAME`` count under NAME, the others under ``"client"``."""

    def __init__(self, app: Any):
        self.app = app
        self.by_client: dict[str, set[str]] = {}
        self.calls: dict[str, int] = {}
        self.requests = 0

    @property
    def ports(self) -> set[str]:
        return set().union(*self.by_client.values()) if self.by_client else set()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        who = environ.get("HTTP_X_BENCH_CLIENT", "client")
        self.by_client.setdefault(who, set()).add(str(environ.get("REMOTE_PORT")))
        self.calls[who] = self.calls.get(who, 0) + 1
        self.requests += 1
        return self.app(environ, start_response)

    def reset(self) -> None:
        self.by_client.clear()
        self.calls.clear()
        self.requests = 0


def count_ports(server: Any) -> PortCounter:
    """Put a :class:`PortCounter` in front of a running ``LocalServer``'s app (werkzeug reads ``server.app`` per call)."""
    wsgi = server._thread.server  # noqa: SLF001 - the benchmark needs the socket server itself
    counter = PortCounter(wsgi.app)
    wsgi.app = counter
    return counter


def run_doc(flow_id: str, run_id: str, now: int, i: int, tenant: Any) -> dict[str, Any]:
    """A finished flow run as the engine leaves it (shape of GET /runs/{id})."""
    started, done = now + i * 1000, now + i * 1000 + 4200
    records = 1000 + (i * 37) % 500
    failed = (i * 7) % 13
    return {
        "id": run_id, "createdAt": now + i, "updatedAt": done, "createdBy": "aep-local-dev@AdobeID",
        "updatedBy": "aep-local-dev@AdobeID", "createdClient": "aep-local-dev", "updatedClient": "aep-local-dev",
        "sandboxId": "bench", "sandboxName": tenant.sandbox, "imsOrgId": tenant.org, "flowId": flow_id,
        "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"}, "params": {},
        "etag": f'"{i:08x}-0000-0200-0000-000000000000"',
        "metrics": {
            "statusSummary": {"status": "success" if not failed else "partialSuccess", "errors": []},
            "durationSummary": {"startedAtUTC": started, "completedAtUTC": done},
            "recordSummary": {"inputRecordCount": records, "outputRecordCount": records - failed,
                              "failedRecordCount": failed},
            "sizeSummary": {"inputBytes": records * 310, "outputBytes": records * 290},
            "fileSummary": {"inputFileCount": 1, "outputFileCount": 1},
        },
        "activities": [{"id": "4f008a00-3a04-11eb-adc1-0242ac120002", "name": "Copy Activity", "updatedAtUTC": done,
                        "durationSummary": {"startedAtUTC": started, "completedAtUTC": done},
                        "recordSummary": {"inputRecordCount": records, "outputRecordCount": records - failed},
                        "statusSummary": {"status": "success", "errors": []}}],
    }


def flow_doc(flow_id: str, name: str, now: int, tenant: Any) -> dict[str, Any]:
    return {
        "id": flow_id, "name": name, "description": "benchmark flow", "createdAt": now, "updatedAt": now,
        "createdBy": "aep-local-dev@AdobeID", "updatedBy": "aep-local-dev@AdobeID", "createdClient": "aep-local-dev",
        "updatedClient": "aep-local-dev", "sandboxId": "bench", "sandboxName": tenant.sandbox, "imsOrgId": tenant.org,
        "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
        "sourceConnectionIds": [f"src-{flow_id}"], "targetConnectionIds": [f"tgt-{flow_id}"],
        "transformations": [], "scheduleParams": {"startTime": "4102444800", "frequency": "once"},
        "state": "enabled", "version": '"1"', "etag": '"1"',
        "inheritedAttributes": {"sourceConnections": [], "targetConnections": []},
    }


def bulk_insert(store: Any, tenant: Any, kind: str, docs: Iterable[dict[str, Any]], *,
                parent_key: str | None = None, name_key: str | None = "name", state: str | None = None,
                chunk: int = 20_000) -> int:
    """Insert documents through ``Store.insert`` inside transactions of ``chunk`` rows (fast set-up)."""
    n = 0
    docs = iter(docs)
    while True:
        with store.transaction():
            done = 0
            for doc in docs:
                store.insert(tenant, kind, doc["id"], doc, created=doc.get("createdAt", 0), etag=doc.get("etag"),
                             name=doc.get(name_key) if name_key else None, state=state or doc.get("state"),
                             parent=doc.get(parent_key) if parent_key else None)
                done += 1
                if done >= chunk:
                    break
        n += done
        if done < chunk:
            return n
