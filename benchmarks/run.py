"""Run every benchmark and write ``benchmarks/RESULTS.md``.

    python benchmarks/run.py [--quick] [--only NAME[,NAME...]] [--profile DIR] [--no-10m]

Benchmarks (each in a fresh interpreter, one after the other, so they never share a GIL, a heap or a server):

1. ``extension_load`` -- ``%load_ext aep_magics`` over a bare IPython start (target <= 150 ms);
2. ``call_overhead``  -- a magic vs a bare ``requests`` call, same endpoint (target ratio <= 1.3), one keep-alive
   connection;
3. ``listing``        -- 10,000 runs paged through the client vs raw page requests (target < 2x) and the rendered
   list size (target < 200 KB);
4. ``api_latency``    -- AEP Local p50/p99 at 1k/10k/100k resources, 1 and 32 clients; filtered lists sub-linear and
   indexed;
5. ``ingest``         -- ``benchmarks/ingest.py`` (engine vs the bare pyarrow floor, peak RSS) at 1M orders, and 10M
   in the full run (``--no-10m`` leaves it out);
6. ``query``          -- Query Service through the PostgreSQL door vs DuckDB in process over the same Parquet files:
   an aggregate over N ingested orders (target <= 1.5x), 100,000 rows into pandas (target <= 2x), connect + first
   ``SELECT 1`` (goal < 100 ms);
7. ``notebooks``      -- wall time of ``pytest --nbval notebooks/ -p no:cacheprovider -q`` (target < 60 s).

``--quick`` runs smaller sizes (a few minutes); the CI smoke test (``tests/test_benchmarks_smoke.py``) runs the
``tiny`` sizes and checks only that every benchmark runs and returns well-formed results. Every target is a ratio to
(or a difference from) a baseline measured in the same run. The exit status is 1 when a benchmark fails or a target
is missed (each missed target is named on stderr). ``--profile DIR`` writes pyinstrument profiles of the
magic loops and of the server side there (``benchmarks/out/`` is git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, fmt, machine, result, run_module, summary_text, table, target  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
BENCHMARKS = ["extension_load", "call_overhead", "listing", "api_latency", "ingest", "query", "notebooks"]
MODULES = {"extension_load": "bench_extension_load", "call_overhead": "bench_call_overhead",
           "listing": "bench_listing", "api_latency": "bench_api_latency", "query": "bench_query",
           "notebooks": "bench_notebooks"}
INGEST_ORDERS = {"tiny": [2_000], "quick": [100_000], "full": [1_000_000, 10_000_000]}
INGEST_SCRIPT = HERE / "ingest.py"
#: Ingest targets: at 1M orders, the engine's wall and CPU time over the floor's (medians of alternating pairs; the
#: CPU-time ratio compares like with like whatever the threading); at 10M orders, the engine's peak RSS, and memory
#: flat in N: the engine's peak RSS at 10M orders over its peak RSS at 1M.
INGEST_WALL_RATIO = 1.3
INGEST_CPU_RATIO = 1.7
INGEST_RSS_MB = 1024
INGEST_RSS_GROWTH = 1.3

#: Hot spots found by profiling (pyinstrument on the server side and the client loop) and fixed; figures measured
#: on this machine before and after each change, same benchmark, same size.
FIXES: list[dict[str, str]] = [
    {
        "title": "Name and state filters walked every resource of the kind",
        "file": "aep_magics/local/store.py",
        "profile": "bench_api_latency: `GET /flows?property=name==X` grew x18 from 1k to 100k resources (slope 0.63); "
                   "EXPLAIN QUERY PLAN: `SEARCH resources USING INDEX ix_res_seq (org=? AND sandbox=? AND kind=?)` -- "
                   "without statistics SQLite preferred the index that yields the default order (seq) with a LIMIT, "
                   "and checked `name` row by row.",
        "change": "`ix_res_name` / `ix_res_state` became `(org, sandbox, kind, name|state, seq)` (like `ix_res_parent`), "
                  "so one index both filters and orders; the old two are dropped on open. Plan after: `SEARCH resources "
                  "USING INDEX ix_res_name_seq (org=? AND sandbox=? AND kind=? AND name=?)`.",
        "before": "list flows name== at 100k resources: p50 101.6 ms (1 client), 3,302 ms (32 clients); growth 1k->100k "
                  "x18.0, slope 0.63",
        "after": "p50 4.1 ms (1 client), 124 ms (32 clients); growth x0.80, slope -0.05 (same machine, same load, "
                 "measured before the keep-alive change)",
    },
    {
        "title": "One TCP connection, one thread and one SQLite connection per call",
        "file": "aep_magics/local/server.py",
        "profile": "bench_call_overhead: the server saw 200 distinct client ports for 200 calls -- werkzeug's request "
                   "handler sends `Connection: close` after every response, so the client's keep-alive session "
                   "reconnected each time (and the server started a thread, hence a new SQLite connection, per call).",
        "change": "`_QuietHandler` reads a request's Content-Length body (up to 1 MB) before the app runs and then keeps "
                  "the connection open (chunked, `Expect` and larger bodies keep werkzeug's close path); TCP_NODELAY "
                  "on accepted sockets (without it keep-alive made every call ~44 ms: Nagle holding the body until "
                  "the client's delayed ACK); idle connections close after 120 s; `stop()` shuts open connections.",
        "before": "connections opened by the magics' client for 208 calls: 208; per call (median, bare requests): get "
                  "4.93 ms, create 5.25 ms; magic get 6.21 ms, create 6.07 ms; 1k resources, 32 clients, get p50 "
                  "122 ms; 10k-run listing 1,792 ms raw / 1,951 ms client, 100 connections",
        "after": "connections opened: 1; bare get 2.60 ms, create 3.44 ms; magic get 3.04 ms, create 4.78 ms; "
                 "32 clients get p50 85 ms; listing 1,600 ms raw / 1,482 ms client, 1 connection (quick size, run "
                 "back to back with a copy of the tree without the fixes). The magic/bare ratio of create rose "
                 "(1.16 -> 1.39): the bare call got faster, the magics' own ~1.3 ms did not.",
    },
    {
        "title": "The first connection created in a kernel cost 2-5 s (importing jsonschema)",
        "file": "aep_magics/local/services/flowservice.py",
        "profile": "pyinstrument, first `POST /connections` in a fresh process: 5.45 of 6.07 s in `import jsonschema`, "
                   "2.2 s of it in `rfc3987_syntax.syntax_helpers` building a Lark Earley parser at import time (an "
                   "optional format library that jsonschema imports when installed; Jupyter pulls it in). Every "
                   "tutorial notebook paid it once.",
        "change": "`_import_jsonschema()` imports jsonschema with `rfc3987_syntax` blocked for that one import (it only "
                  "serves the `iri` format checks, which AEP Local never asserts).",
        "before": "first base connection create 6.07 s; `import jsonschema` 5.5 s (load ~5)",
        "after": "1.22 s; 0.2-0.7 s. Notebook suite (nbval, all tutorials, back to back, load ~2): 51.6 s -> 39.1 s "
                 "with this and the keep-alive change.",
    },
    {
        "title": "Each magic call rebuilt its usage line",
        "file": "aep_magics/magics/core.py",
        "profile": "pyinstrument over 500 `%%aep_source` creates: `AEPMagics._args` ~170 us per call, most of it "
                   "argparse `format_usage()` run on every call to have the usage line ready for an error message.",
        "change": "each magic's usage line is built once, when it is first needed, and kept.",
        "before": "create: magic / bare requests 1.32 (median of 500 calls)",
        "after": "1.22 (same benchmark, run right after)",
    },
    {
        "title": "Every cell body compiled a regular expression",
        "file": "aep_magics/magics/body.py",
        "profile": "cProfile of `parse_body` on the `%%aep_source` body (2,000 calls): 0.48 of 0.81 s in `re._compile`: "
                   "the pattern of the references' stand-ins carried the call's nonce, so the `re` cache never hit.",
        "change": "one module-level pattern matches any stand-in; only those of the call (its `slots`) are replaced.",
        "before": "190 us per `parse_body` (timeit, 2,000 calls)",
        "after": "46 us",
    },
    {
        "title": "A 10,000-run `%aep_runs` result formatted every run five times to show 20",
        "file": "aep_magics/display/tables.py",
        "profile": "bench_listing, render of the `%aep_runs` result: ~1.1 s, all of it in `run_row` -- `Page.rows()` "
                   "formatted every row and then sliced (once for text, once for HTML), the summary line formatted "
                   "every run twice and the chart once more.",
        "change": "a page formats only its own rows; the summary adds up the record counts straight from the runs; "
                  "the chart formats only the newest runs it draws (at most 60).",
        "before": "render 1,085 ms (0.70 of the raw listing); rendered bundle 113,632 bytes",
        "after": "82 ms (0.05); the same 113,632 bytes (bench_listing full size, back to back)",
    },
    {
        "title": "`%aep_runs --wait` slept 2 s before its second poll",
        "file": "aep_magics/magics/ops.py",
        "profile": "notebook 04 spent ~8 s of its 13 s in `time.sleep` of `wait_for_runs` (four waits on runs that "
                   "finish in well under a second on AEP Local).",
        "change": "the pause between polls starts at 0.25 s and doubles up to `wait_poll_interval` (2 s), so a short "
                  "run is seen finished soon after it ends and a long one is still polled at most every 2 s.",
        "before": "notebook 04: 13.1 s; nbval over every tutorial 39.6 s",
        "after": "notebook 04: 8.8 s; nbval 24.2 s",
    },
    {
        "title": "Validation built row numbers and the keep-mask in Python; failed rows were counted error by error",
        "file": "aep_magics/local/xdm/validate.py, aep_magics/local/engine/runner.py",
        "profile": "pyinstrument of benchmarks/ingest.py (1M orders): `ColumnValidator.validate` self time 0.14 s "
                   "(`pa.array(range(n))` and `[True] * n` per record batch), `Pipeline._record_errors` 0.18 s "
                   "(a dict per error of each of the ~20,000 failed rows, then counted one by one).",
        "change": "row numbers from `numpy.arange`, the keep-mask set with numpy from the rows that failed; failed "
                  "records counted per (row, code) pair, and per-error dicts built only for the rows kept as samples "
                  "or diagnostics.",
        "before": "mapping + validation on the main thread, 1M orders: 0.79 s (median of 4 alternating processes); "
                  "ingest.py engine/floor 1.82 and 1.86 (median of 3 alternating pairs each)",
        "after": "0.53 s; engine/floor 1.30 and 1.72 (run alternately with the before tree)",
    },
    {
        "title": "Multi-value name filters walked the whole kind",
        "file": "aep_magics/local/store.py",
        "profile": "EXPLAIN QUERY PLAN of `name IN (?,?) ORDER BY seq` and of `name IN (?) ORDER BY created`: "
                   "`SEARCH resources USING INDEX ix_res_seq (org=? AND sandbox=? AND kind=?)` -- without statistics "
                   "the planner preferred the index that yields the order and checked the names row by row.",
        "change": "the store installs representative planner statistics (`sqlite_stat1`: names unique, a few states, "
                  "tens of runs per flow) when it opens, so plans do not depend on what the store holds at the time.",
        "before": "`SEARCH ... USING INDEX ix_res_seq` (a walk over every flow of the tenant)",
        "after": "`SEARCH ... USING COVERING INDEX ix_res_name_seq (... AND name=?)` then a sort of the rows found "
                 "(tests/test_store.py asserts the plan of each filter)",
    },
    {
        "title": "identityMap was rebuilt item by item with three gathers and numpy temporaries per record batch; "
                 "mapped columns were copied",
        "file": "aep_magics/local/engine/runner.py, aep_magics/local/xdm/validate.py",
        "profile": "py-spy (all threads, native) and cProfile of `Pipeline.process` (no writer, outputs kept) over "
                   "benchmarks/ingest.py's 1M orders: 0.79 s in `process`, 0.35 s of it in `build_identity_map` (a "
                   "`take` each for the ids, the namespace keys and the `primary` flags, on index and offset arrays "
                   "built with numpy for every batch: 4,808 page faults), ~0.1 s in `combine_chunks` of every mapped "
                   "column (it copies a single chunk too); the validator built two validity bitmaps per column that "
                   "only its error paths use.",
        "change": "with one identity (or every identity on every row) the ids are the identity column itself (its "
                  "non-null values when some rows have none) and the keys, flags and item offsets are slices of "
                  "arrays built once per row count; single-chunk columns are used as they are; validity bitmaps "
                  "are built only where a check reports. Same Arrow values, byte-identical Parquet.",
        "before": "`process` 0.79 s (same cProfile), `build_identity_map` 0.35 s; the whole engine phase (5 fresh "
                  "processes alternating with the after tree, load ~2.5): user 0.934 s, system 0.255 s, wall 0.98 s",
        "after": "`process` 0.26 s, `build_identity_map` 0.003-0.04 s (141 page faults); engine phase: user 0.899 s, "
                 "system 0.186 s, wall 0.82 s. In the streaming run the old temporaries were mostly recycled, so the "
                 "gain there is ~0.1 s CPU per 1M orders, not the 0.5 s of the cProfile",
    },
    {
        "title": "The Parquet writer judged every leaf's cardinality on the whole first record batch before "
                 "writing anything",
        "file": "aep_magics/local/engine/datalake.py",
        "profile": "per-batch timeline of the engine phase (benchmarks/ingest.py, 1M orders; time blocked in the "
                   "writer thread's queue and CPU of each `write`): the writer thread, the critical path, waits 0.06-0.14 s "
                   "for the first record batch and then spends 0.065-0.17 s CPU on it against ~0.033 s for the others; "
                   "`dictionary_columns` is 0.06-0.21 s of that (`count_distinct` of all 13 leaves, 59 ms for the 65,536 "
                   "unique `personID`s while the other threads compete for the 2 cores).",
        "change": "a leaf of 2,048 values or more is first judged on its first half: more distinct values there "
                  "than the limit means high cardinality (a prefix has no more distinct values than the whole), so its "
                  "second half is not hashed; otherwise the whole leaf is counted as before. Same dictionary decisions, "
                  "byte-identical Arrow values (the 1M-order output compared before and after).",
        "before": "`dictionary_columns` on the first batch inside the engine phase 0.214 s (0.059 s when called "
                  "again)",
        "after": "0.091-0.114 s (0.024 s when called again). ingest.py wall ratio 1.30-1.47 over five runs of 5 "
                 "pairs (median 1.38) against 1.36 and 1.45 just before: within the run-to-run noise",
    },
]

#: Hot spots the profiles still show, with why they stay.
OPEN: list[str] = [
    "Per `%%aep_source` call the magics still spend ~0.7 ms of their own: `ops.to_request` builds the cURL text of "
    "every call (~65 us) so that the result can show it, and the result objects are built eagerly. The create "
    "ratio (1.2) is within its target, so the cURL text stays eager: it keeps `Request` a plain record.",
    "`import aep_magics.magics.core` is ~25-30 ms of the ~50 ms `%load_ext` cost: IPython's `magic_arguments` builds "
    "an argparse parser for every magic when the class is created. Within the 150 ms budget; making it lazy would "
    "mean replacing `magic_arguments`, which also gives `%magic?` its help text.",
    "Server side, per list page of 100 runs, JSON decode of the stored documents and re-encode of the answer are "
    "~half the time; reading the rows from the WITHOUT ROWID table (large rows overflow pages) most of the rest. "
    "Client paging is already within 1.1 of the raw requests.",
    "Ingest: the engine writes more than the floor reads (10 output columns and `identityMap` against 9 source "
    "columns): its Parquet writer thread spends 0.48-0.63 s CPU per 1M orders (per-thread CPU from /proc; the same "
    "table re-encoded alone with the engine's settings: 0.49 s, 0.15 s of it `identityMap`; the floor's whole "
    "write ~0.40 s), with the same settings as the floor (snappy, statistics, a row group per record batch). The "
    "dictionary choice is already the cheapest (dictionary on every leaf: 0.64 s, on none: 0.57 s) and pyarrow 26 "
    "does not expose the C++ writer's column-parallel encoding, so this part stays single-threaded. The writer "
    "thread is the critical path but does not run all the time: it waits ~0.06 s for the first mapped batch (scan "
    "start, decoding, mapping) and the 2 cores are nearly saturated (engine ~1.05-1.15 s CPU in ~0.7 s: main "
    "thread 0.14-0.24 s, mapping mostly `binary_join_element_wise` for the two `concat`s and the int-to-string "
    "cast; Arrow's decoding thread 0.26-0.42 s), so it is preempted part of the time. A deeper writer queue (4) or "
    "prefetch (4), the jemalloc or system memory pool instead of mimalloc made no difference beyond the noise; the "
    "final fsync and publish take ~0.02 s. The wall ratio at 1M orders moves between 1.28 and 1.47 from one run to "
    "the next on the quiet machine (pairs 1.03 to 1.71).",
]


# -- ingest: someone else's benchmark, run as it is --------------------------------------------------------------------
def run_ingest(size: str, *, with_10m: bool = True) -> dict[str, Any]:
    started = time.perf_counter()
    if not INGEST_SCRIPT.exists():
        return result("ingest", "Ingest (benchmarks/ingest.py)", size, status="skipped",
                      targets=[target("engine / pyarrow floor", "reported", "not yet measured (no ingest.py)", None)],
                      notes=["benchmarks/ingest.py is not there yet"])
    orders = [n for n in INGEST_ORDERS[size] if with_10m or n < 10_000_000]
    rows, notes, runs = [], [], []
    status = "ok"
    for n in orders:
        t = time.perf_counter()
        repeat = 3 if n >= 10_000_000 else 5      # 1M pairs take seconds: more of them steady the median
        proc = subprocess.run([sys.executable, str(INGEST_SCRIPT), "--orders", str(n), "--repeat", str(repeat),
                               "--json"], cwd=ROOT,
                              capture_output=True, text=True)
        wall = time.perf_counter() - t
        out = proc.stdout
        try:
            data = json.loads(out[out.index("{"):])
        except ValueError:
            status = "error"
            notes.append(f"{n:,} orders: ingest.py exited {proc.returncode} without JSON: "
                         + " | ".join((proc.stderr or out).strip().splitlines()[-5:]))
            continue
        e, f = data.get("engine", {}), data.get("floor", {})
        ratio, cpu_ratio = data.get("ratio_engine_over_floor"), data.get("cpu_ratio_engine_over_floor")
        rows.append([n, e.get("seconds"), f.get("seconds"), ratio, e.get("cpu_seconds"), f.get("cpu_seconds"),
                     cpu_ratio, e.get("records_per_s"), f.get("records_per_s"), e.get("peak_rss_mb"),
                     f.get("peak_rss_mb"), e.get("output_records"), e.get("failed_records")])
        runs.append({"orders": n, "ratio": ratio, "cpu_ratio": cpu_ratio, "engine_rss_mb": e.get("peak_rss_mb"),
                     "wall_s": round(wall, 1), "pair_ratios": data.get("pair_ratios"),
                     "load_average": data.get("load_average")})
        notes.append(f"{n:,} orders: whole ingest.py run {wall:.0f} s (store generation "
                     f"{data.get('store_generation_s')} s); {data.get('destinations')} destinations, "
                     f"{data.get('expressions')} expressions; engine/floor of each of the {data.get('repeats')} "
                     f"alternating pairs: {', '.join(str(r) for r in data.get('pair_ratios') or [])}; "
                     f"CPU-time ratio {data.get('cpu_ratio_engine_over_floor')}; load average at its end "
                     f"{', '.join(str(x) for x in data.get('load_average') or [])}")
    tables = [table("benchmarks/ingest.py: engine vs bare pyarrow read+write (the floor)",
                    ["orders", "engine s", "floor s", "engine/floor", "engine CPU s", "floor CPU s",
                     "CPU engine/floor", "engine rec/s", "floor rec/s", "engine peak RSS MB", "floor peak RSS MB",
                     "ingested", "failed"], rows)] if rows else []
    targets = []
    for r in runs:
        if r["orders"] == 1_000_000:
            targets.append(target("1,000,000 orders: engine wall time / pyarrow floor, median of alternating pairs",
                                  f"<= {INGEST_WALL_RATIO}", f"{r['ratio']} (engine peak RSS {r['engine_rss_mb']} MB)",
                                  r["ratio"] is not None and r["ratio"] <= INGEST_WALL_RATIO))
            targets.append(target("1,000,000 orders: engine CPU time / pyarrow floor, median of alternating pairs",
                                  f"<= {INGEST_CPU_RATIO}", f"{r['cpu_ratio']}",
                                  r["cpu_ratio"] is not None and r["cpu_ratio"] <= INGEST_CPU_RATIO))
        elif r["orders"] >= 10_000_000:
            targets.append(target(f"{r['orders']:,} orders: engine peak RSS",
                                  f"<= {INGEST_RSS_MB:,} MB", f"{r['engine_rss_mb']} MB (engine/floor {r['ratio']})",
                                  r["engine_rss_mb"] is not None and r["engine_rss_mb"] <= INGEST_RSS_MB))
            base = next((b for b in runs if b["orders"] == 1_000_000 and b["engine_rss_mb"]), None)
            if base and r["engine_rss_mb"]:
                growth = r["engine_rss_mb"] / base["engine_rss_mb"]
                targets.append(target(f"memory flat in N: engine peak RSS at {r['orders']:,} / at 1,000,000 orders",
                                      f"<= {INGEST_RSS_GROWTH}", f"{growth:.2f} ({r['engine_rss_mb']} / "
                                      f"{base['engine_rss_mb']} MB)", growth <= INGEST_RSS_GROWTH))
        else:
            targets.append(target(f"{r['orders']:,} orders: engine time / pyarrow floor (peak RSS)", "reported",
                                  f"{r['ratio']} (engine peak RSS {r['engine_rss_mb']} MB)", None))
    if not with_10m and size == "full":
        notes.append("10M orders left out (--no-10m)")
    return result("ingest", "Ingest (benchmarks/ingest.py)", size, status=status if rows else "error",
                  params={"orders": orders}, tables=tables, targets=targets, notes=notes,
                  seconds=time.perf_counter() - started, data={"runs": runs})


def run_benchmark(name: str, size: str, *, with_10m: bool = True) -> dict[str, Any]:
    if name == "ingest":
        return run_ingest(size, with_10m=with_10m)
    return run_module(MODULES[name], size)


# -- RESULTS.md -------------------------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def md_table(t: dict[str, Any]) -> list[str]:
    lines = [f"**{t['title']}**", "", "| " + " | ".join(_cell(c) for c in t["columns"]) + " |",
             "|" + "|".join(" --- " for _ in t["columns"]) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in t["rows"]]
    return lines + [""]


def met_text(met: bool | None) -> str:
    return {True: "met", False: "**NOT met**", None: "reported (no target)"}[met]


def render(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    m = meta["machine"]
    lines = ["# Benchmark results", "",
             f"- **Command:** `{meta['command']}`",
             f"- **Date:** {meta['date']} (took {meta['seconds'] / 60:.1f} min)",
             f"- **Machine:** {m['cpu_model']}, {m['cpus']} CPUs ({m['usable_cpus']} usable), "
             f"{m['ram_gb']} GB RAM; Python {m['python']}, {m['platform']}",
             "- **Versions:** " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
             f"- **Load average** (1 min) at start / end: {meta['load_start']} / {meta['load_end']} -- the machine "
             "may be shared, so absolute times move; every target is a ratio to (or difference from) a baseline "
             "measured in the same run, interleaved with it.",
             "", "## Targets", "", "| benchmark | target | goal | measured | |", "| --- | --- | --- | --- | --- |"]
    for res in results:
        if not res["targets"]:
            lines.append(f"| {res['title']} | - | - | {res['status']} | |")
        for t in res["targets"]:
            lines.append(f"| {_cell(res['title'])} | {_cell(t['name'])} | {_cell(t['goal'])} | {_cell(t['value'])} "
                         f"| {met_text(t['met'])} |")
    lines.append("")
    for i, res in enumerate(results, 1):
        lines += [f"## {i}. {res['title']}", ""]
        lines.append(f"Size `{res['size']}`, status **{res['status']}**, {res.get('seconds')} s. "
                     + ("Parameters: " + ", ".join(f"{k}={v}" for k, v in res["params"].items()) + "."
                        if res["params"] else ""))
        lines.append("")
        for t in res["tables"]:
            lines += md_table(t)
        for note in res["notes"]:
            lines.append(f"- {note}")
        if res["notes"]:
            lines.append("")
    lines += ["## Fixes found by profiling", ""]
    if not FIXES:
        lines += ["None.", ""]
    for fix in FIXES:
        lines += [f"### {fix['title']}", "", f"- **File:** `{fix['file']}`", f"- **Profile:** {fix['profile']}",
                  f"- **Change:** {fix['change']}", f"- **Before:** {fix['before']}", f"- **After:** {fix['after']}",
                  ""]
    lines += ["## Hot spots left as they are", ""]
    lines += [f"- {item}" for item in OPEN] + [""]
    lines += ["## Method", "",
              "- Each benchmark runs in a fresh interpreter (`benchmarks/bench_*.py --size quick|full`); "
              "`benchmarks/common.py` holds the shared timing, result format and AEP Local helpers.",
              "- Baselines run in the same process (or the same machine, interleaved) as what they are compared to: "
              "bare IPython start vs + `%load_ext`; bare `requests.Session` vs magic; raw page requests vs client "
              "paging; 1k vs 100k resources; pyarrow floor vs engine.",
              "- Ingest alternates its two phases (floor, engine, floor, engine, ...; each in a fresh process) and "
              "reports the median of the per-pair ratios, so a change in the machine's speed during the run hits "
              "both sides alike.",
              "- Keep-alive is checked server-side: a WSGI middleware records each request's `REMOTE_PORT` "
              "(one per TCP connection).",
              "- Profiles: `python benchmarks/run.py --profile benchmarks/out/profiles` (pyinstrument).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a fast check (a few minutes)")
    parser.add_argument("--size", choices=("tiny", "quick", "full"), help=argparse.SUPPRESS)
    parser.add_argument("--only", help="comma-separated benchmarks to run: " + ", ".join(BENCHMARKS))
    parser.add_argument("--profile", type=Path, help="write pyinstrument profiles into this directory")
    parser.add_argument("--no-10m", action="store_true", help="full run: leave out the 10M-order ingest")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the Markdown (default %(default)s)")
    parser.add_argument("--json", type=Path, help="also write every result as JSON here")
    args = parser.parse_args(argv)
    size = args.size or ("quick" if args.quick else "full")
    names = BENCHMARKS if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        os.environ["AEP_BENCH_PROFILE"] = str(args.profile.resolve())
    command = "python benchmarks/run.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    started = time.perf_counter()
    meta: dict[str, Any] = {"command": command.strip(), "machine": machine(), "load_start": _load(),
                            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}
    results = []
    for name in names:
        print(f"-- {name} ({size}) ...", flush=True)
        res = run_benchmark(name, size, with_10m=not args.no_10m)
        results.append(res)
        print(summary_text(res), flush=True)
    meta.update(seconds=time.perf_counter() - started, load_end=_load())
    args.out.write_text(render(results, meta))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(f"wrote {args.out}")
    return exit_status(results)


def exit_status(results: list[dict[str, Any]]) -> int:
    """1 when a benchmark failed or missed a target (each named on stderr), else 0."""
    missed = [f"{r['title']}: {t['name']}" for r in results for t in r["targets"] if t["met"] is False]
    failed = [r["title"] for r in results if r["status"] == "error"]
    for line in missed:
        print(f"target missed -- {line}", file=sys.stderr)
    for title in failed:
        print(f"benchmark failed -- {title}", file=sys.stderr)
    return 1 if missed or failed else 0


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


if __name__ == "__main__":
    sys.exit(main())
