"""Extension load: what ``%load_ext aep_magics`` adds to a fresh IPython start.

    python benchmarks/bench_extension_load.py [--size tiny|quick|full] [--json]

Each run is a fresh interpreter. Baseline: ``python -c "from IPython.core.interactiveshell import InteractiveShell;
InteractiveShell.instance()"``; measured: the same plus ``run_line_magic('load_ext', 'aep_magics')``. The two are
interleaved (bare, loaded, bare, loaded, ...) after one discarded warm-up each, and the medians compared: target
delta <= 150 ms. The child also reports which heavy modules (pandas, pyarrow, ipywidgets, numpy, werkzeug) are loaded
after ``%load_ext`` -- none should be -- and ``python -X importtime`` gives the import tree under ``aep_magics``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from common import ROOT, bench_main, median, result, table, target

TARGET_MS = 150.0
HEAVY = ("pandas", "pyarrow", "ipywidgets", "numpy", "werkzeug", "requests", "jsonschema", "yaml")
RUNS = {"tiny": 2, "quick": 7, "full": 21}

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
t1 = time.perf_counter()
if {load}:
    shell.run_line_magic('load_ext', 'aep_magics')
t2 = time.perf_counter()
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"shell_s": t1 - t0, "load_s": t2 - t1, "heavy": heavy,
                  "magics": sorted(n for n in shell.magics_manager.magics['line'] if n.startswith('aep'))}}))
"""

IMPORTTIME = """
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_line_magic('load_ext', 'aep_magics')
"""


def _child(load: bool, env: dict[str, str] | None = None) -> tuple[float, dict[str, Any]]:
    code = CHILD.format(load=load, heavy=HEAVY)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False,
                          env=env)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])


def import_tree(top: int = 10, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The imports ``%load_ext aep_magics`` triggers, by cumulative microseconds (``python -X importtime``).

    importtime prints each module when its import finishes, children before their parent, indented by depth. A
    module belongs to the aep_magics tree when it is ``aep_magics*`` or imported (transitively) by one.
    """
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", IMPORTTIME], cwd=ROOT, capture_output=True,
                          text=True, check=True, env=env)
    entries = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        parts = line[len("import time:"):].split("|")
        name_field = parts[2]
        depth = (len(name_field) - len(name_field.lstrip(" ")) - 1) // 2
        entries.append({"self_us": int(parts[0]), "cumulative_us": int(parts[1]), "module": name_field.strip(),
                        "depth": depth})
    # children come before their parent: walk backwards keeping a stack of ancestors
    in_tree: list[dict[str, Any]] = []
    stack: list[tuple[int, bool]] = []  # (depth, inside an aep_magics subtree)
    for entry in reversed(entries):
        while stack and stack[-1][0] >= entry["depth"]:
            stack.pop()
        inside = (stack and stack[-1][1]) or entry["module"].startswith("aep_magics")
        if inside:
            in_tree.append(entry)
        stack.append((entry["depth"], bool(inside)))
    in_tree.sort(key=lambda e: e["cumulative_us"], reverse=True)
    return in_tree[:top]


def measure(n: int, env: dict[str, str] | None) -> dict[str, Any]:
    _child(False, env), _child(True, env)  # warm-up: bytecode caches, page cache
    bare, loaded, load_in_process = [], [], []
    heavy: set[str] = set()
    magics: list[str] = []
    for _ in range(n):  # interleaved, so drift in the machine's load hits both sides alike
        wall, _info = _child(False, env)
        bare.append(wall)
        wall, info = _child(True, env)
        loaded.append(wall)
        load_in_process.append(info["load_s"])
        heavy.update(info["heavy"])
        magics = info["magics"]
    bare_ms, loaded_ms = median(bare) * 1000, median(loaded) * 1000
    return {"bare_ms": bare_ms, "loaded_ms": loaded_ms, "delta_ms": loaded_ms - bare_ms,
            "in_process_ms": median(load_in_process) * 1000, "heavy": sorted(heavy), "magics": magics}


def run(size: str = "quick") -> dict[str, Any]:
    started = time.perf_counter()
    n = RUNS[size]
    with tempfile.TemporaryDirectory(prefix="aep-bench-pycache-") as cache:
        # A user's install keeps bytecode (pip compiles site-packages; an editable checkout caches on first import).
        # This benchmark's "warm" case does too, in a private cache dir, whatever PYTHONDONTWRITEBYTECODE says.
        warm_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        warm_env["PYTHONPYCACHEPREFIX"] = cache
        cases = {"warm bytecode cache": measure(n, warm_env)}
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            cases["no bytecode cache for the checkout (PYTHONDONTWRITEBYTECODE set)"] = measure(max(2, n // 3), None)
        tree = import_tree(env=warm_env)
    warm = cases["warm bytecode cache"]
    rows = []
    for label, c in cases.items():
        rows.append([label, round(c["bare_ms"], 1), round(c["loaded_ms"], 1), round(c["delta_ms"], 1),
                     round(c["loaded_ms"] / c["bare_ms"], 3), round(c["in_process_ms"], 1)])
    figures = table(f"Fresh process start, median of {n} runs each (interleaved)",
                    ["case", "bare IPython ms", "+ %load_ext ms", "delta ms", "ratio", "%load_ext in-process ms"],
                    rows)
    imports = table("Import tree of %load_ext aep_magics: top 10 by cumulative time (python -X importtime)",
                    ["module", "cumulative ms", "self ms"],
                    [[e["module"], round(e["cumulative_us"] / 1000, 2), round(e["self_us"] / 1000, 2)] for e in tree])
    heavy = set(warm["heavy"])
    lazy_ok = not any(m in heavy for m in ("pandas", "pyarrow", "ipywidgets", "numpy"))
    delta = warm["delta_ms"]
    targets = [
        target("%load_ext cost over a bare IPython start (warm bytecode cache)", f"<= {TARGET_MS:.0f} ms",
               f"{delta:.1f} ms (ratio {warm['loaded_ms'] / warm['bare_ms']:.3f})", delta <= TARGET_MS),
        target("lazy imports: pandas, pyarrow, ipywidgets, numpy not loaded by %load_ext", "none loaded",
               ", ".join(sorted(heavy)) or "none loaded", lazy_ok),
    ]
    notes = [f"{len(warm['magics'])} aep line magics registered",
             "heavy modules checked after %load_ext: " + ", ".join(HEAVY) + f" -> loaded: {sorted(heavy) or 'none'}",
             "delta = difference of the medians of whole-process wall times (interpreter start to exit)"]
    return result("extension_load", "Extension load", size, params={"runs": n}, tables=[figures, imports],
                  targets=targets, notes=notes, seconds=time.perf_counter() - started,
                  data={k: v for k, v in warm.items() if k != "magics"})


def main(argv: list[str] | None = None) -> int:
    return bench_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
