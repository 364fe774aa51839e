"""Regression tests around the tutorial notebooks (nbval itself compares their outputs: ``pytest notebooks/``).

- the suite can fail: nbval on ``tests/fixtures/broken.ipynb`` (a stale output, a magic with a bad body) fails, and
  so does a real tutorial one of whose figures changed, run with the project's own pytest options;
- the default ``pytest`` run collects every code cell of every tutorial, and no cell carries an nbval tag that
  weakens the comparison (``nbval-ignore-output``, ``nbval-skip``, ...) unless it is on ``ALLOWED_NBVAL_MARKERS``;
- no secret leaks: every notebook executed against an AEP Local whose client secret is a canary keeps neither that
  secret nor any access token in the saved file (outputs and ``metadata.widgets``);
- the notebooks follow the notebook-practice rules and are stored executed;
- each committed notebook matches its Markdown source (``tools/notebooks.py --check``), and that check can fail.
"""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import re
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]
BROKEN = ROOT / "tests" / "fixtures" / "broken.ipynb"
#: The second code cell of every tutorial: AEP Local with the notebook's own seed (``%aep_auth --local --seed N``).
AUTH_LINE = re.compile(r"%aep_auth --local --seed (\d+)")
TOKEN = re.compile(r"aeplocal\.[0-9a-f]{16,}")
#: Cells that may carry an nbval tag (or marker comment) that weakens the comparison: (notebook, cell id) -> (tag, why).
ALLOWED_NBVAL_MARKERS: dict[tuple[str, str], tuple[str, str]] = {
    ("01-getting-started.ipynb", "01-07"): (
        "nbval-skip", "signs in to a real Adobe sandbox with the reader's own credentials, which CI does not have"),
}

nbformat = pytest.importorskip("nbformat")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT / "notebooks")) for p in paths]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AEP_") and k != "SHOPIFY_ACCESS_TOKEN"}
    env.update(extra)
    return env


# -- the suite can fail ---------------------------------------------------------------------------------------------


def test_broken_notebook_fails_under_nbval():
    pytest.importorskip("nbval")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", str(BROKEN.relative_to(ROOT)), "-p", "no:cacheprovider"],
        cwd=ROOT, env=_clean_env(), capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "2 failed, 1 passed" in output, output
    assert "Cell outputs differ" in output  # the stale stored output
    assert "Cell execution caused an exception" in output and "InputError" in output  # the bad magic body


#: pytest with the nbval plugin alone (run with PYTEST_DISABLE_PLUGIN_AUTOLOAD=1) and no cache
NBVAL_ONLY = ["-p", "nbval.plugin", "-p", "no:cacheprovider"]


def _pytest_options() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]


def _code_cells(path: Path) -> int:
    return sum(c.cell_type == "code" for c in nbformat.read(path, as_version=4).cells)


def test_the_default_run_collects_every_tutorial_cell():
    options = _pytest_options()
    assert "notebooks" in options["testpaths"], "a plain `pytest` must run the tutorials: testpaths lists notebooks"
    # the options of pyproject.toml, nothing overridden (of the installed plugins, only nbval is loaded: quicker)
    result = subprocess.run([sys.executable, "-m", "pytest", *NBVAL_ONLY, "--collect-only", "-q", "notebooks/"],
                            cwd=ROOT, env=_clean_env(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"), capture_output=True,
                            text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    collected: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        if "::" in line:
            path, cell = line.split("::", 1)
            collected.setdefault(path, []).append(cell)
    expected = {str(p.relative_to(ROOT)): [f"Cell {i}" for i in range(_code_cells(p))] for p in NOTEBOOKS}
    assert collected == expected, f"the default run does not collect every tutorial cell (--nbval?):\n{output}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_no_nbval_marker_weakens_the_comparison(path):
    from nbval.plugin import comment_markers, metadata_tags

    name = str(path.relative_to(ROOT / "notebooks"))
    nb = nbformat.read(path, as_version=4)
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        markers = [t for t in cell.metadata.get("tags", []) if t in metadata_tags]
        markers += [line.strip().lstrip("#").strip() for line in cell.source.splitlines()
                    if line.strip().lstrip("#").strip() in comment_markers]
        allowed = ALLOWED_NBVAL_MARKERS.get((name, cell.id))
        assert markers == ([allowed[0]] if allowed else []), (
            f"{name} cell {cell.id} carries {markers}: nbval would not compare its outputs; remove the tag "
            "(or add the cell to ALLOWED_NBVAL_MARKERS with the reason)")


def test_allowed_nbval_markers_name_real_cells_and_match_the_skip_allow_list():
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    skips = {nodeid for nodeid, _ in root_conftest.ALLOWED_SKIPS if nodeid.startswith("notebooks/")}
    expected = set()
    for (name, cell_id), (tag, reason) in ALLOWED_NBVAL_MARKERS.items():
        assert len(reason) > 30, f"say why {name} cell {cell_id} may carry {tag}"
        code = [c for c in nbformat.read(ROOT / "notebooks" / name, as_version=4).cells if c.cell_type == "code"]
        index = next((i for i, c in enumerate(code) if c.id == cell_id), None)
        assert index is not None, f"ALLOWED_NBVAL_MARKERS names {name} cell {cell_id}, which is not a code cell"
        if tag == "nbval-skip":  # nbval names a cell by its position among the code cells
            expected.add(f"notebooks/{name}::Cell {index}")
    assert skips == expected, "the skip allow-list in conftest.py names other notebook cells than ALLOWED_NBVAL_MARKERS"


def test_a_changed_figure_in_a_real_tutorial_fails_under_nbval(tmp_path):
    # The runs cell of the eCommerce tutorial draws "records per run" as bars: halve the bar of the stored output.
    nb = nbformat.read(ROOT / "notebooks" / "03-ecommerce-ingestion.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    index = next(i for i, c in enumerate(code) if c.source.startswith("%aep_runs {{flow.id}} --wait"))
    changed = 0
    for output in code[index].outputs:
        html = output.get("data", {}).get("text/html", "")
        if "aep-chart" in html:
            output["data"]["text/html"] = html.replace("width:300px", "width:150px")
            changed += output["data"]["text/html"] != html
    assert changed == 1, "the runs cell of 03-ecommerce-ingestion.ipynb stores no bar chart to change"
    nb.cells = nb.cells[: nb.cells.index(code[index]) + 1]  # the cells after it are not needed
    copy = tmp_path / "03-ecommerce-ingestion.ipynb"
    nbformat.write(nb, copy)
    # the project's options (pyproject.toml: --nbval, the sanitizers), run from the repository root
    result = subprocess.run([sys.executable, "-m", "pytest", *NBVAL_ONLY, "-c", "pyproject.toml", "--rootdir",
                             str(ROOT), str(copy)], cwd=ROOT, env=_clean_env(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"),
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"1 failed, {index} passed" in output, output
    assert re.search(rf"Cell {index}: Cell outputs differ", output) and "mismatch 'text/html'" in output, output


# -- no secret in an executed notebook ------------------------------------------------------------------------------


def _execute(path: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and AUTH_LINE.fullmatch(cell.source):
            # sign in with the AEP_* variables (the canary client) instead of AEP Local's dev credentials
            cell.source = "%aep_auth"
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                            skip_cells_with_tag="nbval-skip", store_widget_state=True, record_timing=False)
    client.execute(env=env)
    return nb


def test_no_secret_or_token_in_executed_notebooks(tmp_path):
    pytest.importorskip("nbclient")
    requests = pytest.importorskip("requests")
    from aep_magics import local as aep_local

    secret = f"CANARY-SECRET-{uuid.uuid4().hex}"
    with aep_local.start(seed=42) as server:
        envs = {}
        for n, path in enumerate(NOTEBOOKS):
            # one client and org per notebook: they run side by side without seeing each other's resources
            client_id, org_id = f"canary-client-{n}", f"CANARY{n:018d}@AdobeOrg"
            answer = requests.post(f"{server.url}/aep-local/clients", timeout=30,
                                   json={"client_id": client_id, "client_secret": secret, "org_id": org_id},
                                   headers={"Authorization": f"Bearer {server.admin_token}"})
            assert answer.status_code == 201, answer.text
            envs[path] = _clean_env(AEP_BASE_URL=server.url, AEP_IMS_URL=server.url, AEP_CLIENT_ID=client_id,
                                    AEP_CLIENT_SECRET=secret, AEP_ORG_ID=org_id, AEP_SANDBOX="prod")
        with ThreadPoolExecutor(max_workers=len(NOTEBOOKS)) as pool:
            executed = dict(zip(NOTEBOOKS, pool.map(lambda p: _execute(p, envs[p]), NOTEBOOKS)))

    for path, nb in executed.items():
        name = str(path.relative_to(ROOT))
        saved = tmp_path / path.name
        nbformat.write(nb, saved)
        text = saved.read_text(encoding="utf-8")
        assert f"client {envs[path]['AEP_CLIENT_ID']}" in text, f"{name} did not sign in with the canary client"
        assert secret not in text, f"{name}: the client secret is in the saved notebook"
        assert secret.split("-")[-1] not in text, f"{name}: part of the client secret is in the saved notebook"
        assert not TOKEN.search(text), f"{name}: an access token is in the saved notebook"
        widgets = json.dumps(nb.metadata.get("widgets", {}))
        assert secret not in widgets and not TOKEN.search(widgets)


# -- the stored notebooks -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_follows_the_practice_rules(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == "%reload_ext aep_magics"
    assert AUTH_LINE.fullmatch(code[1].source), f"the second code cell signs in to AEP Local: {code[1].source!r}"
    for cell in code:
        tags = cell.metadata.get("tags", [])
        source = cell.source
        assert "%load_ext" not in source
        assert "NBVAL_" not in source, "use cell tags, not # NBVAL comments (they break cell magics)"
        assert "%%" not in source or source.startswith("%%"), "a cell magic must be on the first line"
        assert not source.rstrip().endswith(";"), "no trailing ';' (nbval still sees the result)"
        assert "clear_output" not in source and "display_id" not in source
        if "nbval-skip" in tags:
            assert cell.execution_count is None and not cell.outputs, "a skipped cell stays un-executed"
            continue
        assert cell.execution_count is not None, f"cell {cell.id} is not executed: run tools/notebooks.py"
        for output in cell.outputs:
            assert output.output_type != "error", f"cell {cell.id} stored an error"
            assert "application/json" not in output.get("data", {}), "volatile JSON cannot be sanitized by nbval"
    assert not TOKEN.search(json.dumps(nb)), "an access token is stored in the notebook"


def _seed(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    match = AUTH_LINE.fullmatch(code[1].source)
    assert match, f"{path.name}: the second code cell is not %aep_auth --local --seed N: {code[1].source!r}"
    return int(match.group(1))


def _original(path: Path) -> Path:
    """The English tutorial a translation follows (same number: fr/03-… follows 03-…); itself for an English one."""
    if path.parent.name == "notebooks":
        return path
    number = path.name.split("-", 1)[0]
    (original,) = (ROOT / "notebooks").glob(f"{number}-*.ipynb")
    return original


def test_each_tutorial_has_its_own_seed():
    # Same seed = same id sequence: two tutorials with one seed would show different resources under the same ids.
    # A translation creates the very resources of its original (same names, same calls): it shares its seed.
    english = [p for p in NOTEBOOKS if p.parent.name == "notebooks"]
    seeds = {p.name: _seed(p) for p in english}
    assert len(set(seeds.values())) == len(seeds), f"two tutorials share a seed: {seeds}"
    for path in NOTEBOOKS:
        assert _seed(path) == _seed(_original(path)), f"{path.name} and {_original(path).name} differ in seed"


def test_french_tutorial_runs_the_same_magics():
    def magics(name: str) -> list[str]:
        nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        return [c.source for c in nb.cells if c.cell_type == "code" and c.source.startswith("%")]

    assert magics("fr/03-ingestion-ecommerce.ipynb") == magics("03-ecommerce-ingestion.ipynb")


def test_sanitize_patterns_compile():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "notebooks" / "sanitize.cfg")
    assert parser.sections()
    for section in parser.sections():
        re.compile(parser[section]["regex"])
        assert "replace" in parser[section]


# -- the Markdown sources -------------------------------------------------------------------------------------------


def _tool():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import notebooks as tool
    finally:
        sys.path.remove(str(ROOT / "tools"))
    return tool


def test_every_notebook_has_a_markdown_source_and_matches_it():
    tool = _tool()
    sources = tool.sources()
    assert {tool.notebook_path(s) for s in sources} == set(NOTEBOOKS), "every notebook is built from a .md source"
    assert [p for p in (tool.stale(s) for s in sources) if p] == [], "run python tools/notebooks.py"


def test_a_changed_source_makes_its_notebook_stale(tmp_path):
    tool = _tool()
    source = next(s for s in tool.sources() if s.name.startswith("03"))
    copy = tmp_path / source.name
    copy.write_text(source.read_text(encoding="utf-8").replace("Shopify", "Shopify store", 1), encoding="utf-8")
    (tmp_path / source.with_suffix(".ipynb").name).write_bytes(source.with_suffix(".ipynb").read_bytes())
    assert "differs from" in tool.stale(copy)


def _without_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        text = text.split("\n---\n", 1)[1]
    return text.strip()


def test_jupytext_writes_back_each_source_unchanged():
    # JupyterLab with jupytext (the [lab] extra, so Binder) pairs each .ipynb with its .md. When the .ipynb is the
    # newer file and its cells, written as MyST, differ from the .md, opening the notebook fails with a
    # "File Load Error" and a diff (e.g. a source writing ```{code-cell} where jupytext writes ```{code-cell} ipython3).
    jupytext = pytest.importorskip("jupytext")
    tool = _tool()
    for source in tool.sources():
        nb = nbformat.read(tool.notebook_path(source), as_version=4)
        written = _without_front_matter(jupytext.writes(nb, fmt="md:myst"))
        assert written == _without_front_matter(source.read_text(encoding="utf-8")), (
            f"{source.name}: jupytext would write it differently from its .ipynb (use ```{{code-cell}} ipython3)")
