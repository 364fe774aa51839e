"""Notebook suite: wall time of the whole nbval run over the tutorials.

    python benchmarks/bench_notebooks.py [--size tiny|quick|full] [--json]

Runs ``pytest --nbval notebooks/ -p no:cacheprovider -q`` (what CI runs) in a child process and times it: target
under 60 s for all tutorials. Per-notebook times come from the run's JUnit XML (the sum of its cells). ``tiny``
(the CI smoke test) runs the same command over a generated two-cell notebook instead, to check the machinery only.
With no notebook in ``notebooks/`` the result says "not yet measured".
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

from common import ROOT, bench_main, result, table, target

TARGET_S = 60.0
NOTEBOOKS = ROOT / "notebooks"


def _tiny_notebook(folder: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext aep_magics"), nbformat.v4.new_code_cell("x = 1 + 1")]
    path = folder / "smoke.ipynb"
    nbformat.write(nb, path)
    return path


def nbval(target_path: Path, junit: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    cmd = [sys.executable, "-m", "pytest", "--nbval", str(target_path), "-p", "no:cacheprovider", "-q",
           f"--junitxml={junit}"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - started, proc


def per_notebook(junit: Path) -> dict[str, tuple[int, float]]:
    """notebook -> (cells, seconds) from a JUnit XML report."""
    out: dict[str, list[float]] = defaultdict(list)
    if not junit.exists():
        return {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = (case.get("file") or case.get("classname") or "?").replace("\\", "/")
        out[Path(name).name if name.endswith(".ipynb") else name.split(".")[-1]].append(float(case.get("time", 0)))
    return {k: (len(v), sum(v)) for k, v in out.items()}


def run(size: str = "quick") -> dict[str, Any]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aep-bench-nb-") as tmp:
        if size == "tiny":
            path = _tiny_notebook(Path(tmp))
            label = "a generated two-cell notebook (smoke check of the machinery)"
        else:
            found = sorted(NOTEBOOKS.glob("*.ipynb"))
            if not found:
                return result("notebooks", "Notebook suite (nbval)", size, status="skipped",
                              targets=[target("nbval over every tutorial", f"< {TARGET_S:.0f} s",
                                              "not yet measured (no notebooks)", None)],
                              notes=["notebooks/ holds no .ipynb yet"], seconds=time.perf_counter() - started)
            path = NOTEBOOKS
            label = ", ".join(p.name for p in found)
        junit = Path(tmp) / "junit.xml"
        wall, proc = nbval(path, junit)
        cells = per_notebook(junit)
    tail = (proc.stdout or "").strip().splitlines()[-1:] or [""]
    passed = proc.returncode == 0
    summary = tail[0]
    counts = dict((k, int(v)) for v, k in re.findall(r"(\d+) (passed|failed|error|errors|skipped)", summary))
    rows = [[name, n, round(secs, 2)] for name, (n, secs) in sorted(cells.items())]
    rows.append(["whole run (wall, incl. pytest and kernel start-up)", sum(n for n, _ in cells.values()),
                 round(wall, 2)])
    figures = table("pytest --nbval notebooks/ -p no:cacheprovider -q", ["notebook", "cells", "seconds"], rows)
    met = wall < TARGET_S and passed
    value = f"{wall:.1f} s, " + (f"all {counts.get('passed', 0)} cells passed" if passed else f"FAILED: {summary}")
    notes = [f"notebooks: {label}"]
    if not passed:
        notes += (proc.stdout or proc.stderr).strip().splitlines()[-12:]
    return result("notebooks", "Notebook suite (nbval)", size, params={"path": str(path.relative_to(ROOT))
                                                                       if path.is_relative_to(ROOT) else path.name},
                  tables=[figures], targets=[target("nbval over every tutorial" if size != "tiny" else
                                                    "nbval smoke notebook", f"< {TARGET_S:.0f} s and passing",
                                                    value, met)],
                  notes=notes, seconds=time.perf_counter() - started,
                  data={"wall_s": wall, "returncode": proc.returncode, "counts": counts})


def main(argv: list[str] | None = None) -> int:
    return bench_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
