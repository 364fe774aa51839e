"""Re-running is the common case (a Binder session, a classroom, "Run All" twice): every tutorial notebook runs twice,
top to bottom, against ONE AEP Local data dir, as Binder shares one (``binder/start``: ``AEP_LOCAL_DATA`` and
``AEP_LOCAL_SEED``); and ``aep-local demo`` runs twice on one output folder and reuses its dataflow.

The notebooks run from their committed cells (nbclient, one fresh kernel each, in order 01..05 then fr/03). A cell
that fails names the notebook, the pass, the cell and its error.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "fr").glob("*.ipynb"))

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AEP_") and k != "SHOPIFY_ACCESS_TOKEN"}
    env.update(extra)
    return env


def _run_notebook(path: Path, env: dict[str, str], attempt: int) -> None:
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", skip_cells_with_tag="nbval-skip",
                                     resources={"metadata": {"path": str(path.parent)}}, record_timing=False)
    try:
        client.execute(env=env)
    except nbclient.exceptions.CellExecutionError as error:
        failed = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                       and any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        source = nb.cells[failed].source if failed is not None else "?"
        name = path.relative_to(ROOT / "notebooks")
        last = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
        pytest.fail(f"{name}, run {attempt}: cell {failed} failed:\n{source}\n-> {last}", pytrace=False)


def test_every_tutorial_runs_twice_on_one_data_dir(tmp_path):
    assert len(NOTEBOOKS) >= 6, NOTEBOOKS
    env = _env(AEP_LOCAL_DATA=str(tmp_path / "aep-local"), AEP_LOCAL_SEED="42")
    for attempt in (1, 2):
        for path in NOTEBOOKS:
            _run_notebook(path, env, attempt)
    assert (tmp_path / "aep-local").is_dir() and any((tmp_path / "aep-local").iterdir()), \
        "the notebooks did not keep their state in AEP_LOCAL_DATA"


def _demo(out: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "aep_magics.local.cli", "demo", "--out", str(out)], cwd=ROOT,
                            env=_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_demo_runs_twice_on_one_data_dir_and_reuses_its_dataflow(tmp_path):
    first, second = _demo(tmp_path / "demo"), _demo(tmp_path / "demo")
    flows = [re.findall(r"^\s*dataflow (\S+)", text, re.M) for text in (first, second)]
    assert len(flows[0]) == 1, first
    assert flows[1] == flows[0], f"the second demo did not reuse the dataflow:\n{first}\n---\n{second}"
