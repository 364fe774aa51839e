"""Regression tests around the tutorial notebooks (nbval itself compares their outputs: ``pytest notebooks/``).

- the suite can fail: nbval on ``tests/fixtures/broken.ipynb`` (a stale output, a magic with a bad body) fails;
- no secret leaks: every notebook executed against an AEP Local whose client secret is a canary keeps neither that
  secret nor any access token in the saved file (outputs and ``metadata.widgets``);
- the notebooks follow the notebook-practice rules and are stored executed;
- each committed notebook matches its Markdown source (``tools/notebooks.py --check``), and that check can fail.
"""

from __future__ import annotations

import configparser
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
                                   json={"client_id": client_id, "client_secret": secret, "org_id": org_id})
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
