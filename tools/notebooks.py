#!/usr/bin/env python
"""Build the tutorial notebooks from their Markdown sources, execute them, and store their outputs.

    python tools/notebooks.py               # every notebook: notebooks/**/NAME.md -> NAME.ipynb, executed
    python tools/notebooks.py --only 03     # notebooks whose file name starts with 03 (03 and fr/03)
    python tools/notebooks.py --check       # fail when a committed .ipynb is stale against its source (CI)

The source of truth of each tutorial is its MyST Markdown file (jupytext's ``md:myst`` format, paired with the
``.ipynb``: JupyterLab with jupytext opens either). A trainer edits the prose or a cell there and runs this script.
Each notebook is read with jupytext, given stable cell ids, executed top to bottom with nbclient in a fresh kernel
(the sources sign in with ``%aep_auth --local --seed N``: same ids, etags and timestamps every run), then checked: no
error output, no access token or client secret anywhere in the file (outputs and widget state), no
``application/json`` output. Widget model ids are renumbered deterministically so a rebuild changes only what really
changed. Cells tagged ``nbval-skip`` are not executed (they would talk to a real sandbox).

The rules of notebooks that nbval can test are checked on the sources first: ``%reload_ext aep_magics`` first, tags
(never comments) on cell-magic cells, no ``clear_output``/``display_id`` updates, no trailing ``;``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"

#: Strings that must never appear in a built notebook (outputs or widget state).
FORBIDDEN = [
    re.compile(r"aeplocal\.[0-9a-f]{16,}"),  # an AEP Local access token
    re.compile(r"aep-local-dev-secret"),  # the dev client secret
    re.compile(r"shpat_aep_local_demo"),  # the demo Shopify access token (only the cell source may hold it)
]
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def sources(only: str | None = None) -> list[Path]:
    """The Markdown sources of the tutorials, in order (``notebooks/NN-*.md``, then ``notebooks/fr/NN-*.md``)."""
    found = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]-*.md")) + sorted(NOTEBOOKS_DIR.glob("*/[0-9][0-9]-*.md"))
    return [p for p in found if only is None or p.name.startswith(only)]


def notebook_path(source: Path) -> Path:
    return source.with_suffix(".ipynb")


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def read_source(source: Path) -> nbformat.NotebookNode:
    """The notebook a source describes, unexecuted, with stable cell ids (``03-07``, ``fr-03-07``)."""
    nb = jupytext.read(source, fmt="md:myst")
    language = nb.metadata.get("language", "en")
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"},
                   # keep ``language`` when jupytext writes the pair back (JupyterLab saving a translation)
                   "jupytext": {"formats": "ipynb,md:myst", "notebook_metadata_filter": "language"},
                   **({"language": language} if language != "en" else {})}
    prefix = ("fr-" if language == "fr" else "") + source.stem.split("-", 1)[0]
    for index, cell in enumerate(nb.cells, start=1):
        cell.id = f"{prefix}-{index:02d}"
        tags = cell.metadata.get("tags")
        cell.metadata = {"tags": list(tags)} if tags and cell.cell_type == "code" else {}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    lint(nb, _rel(source))
    return nb


def lint(nb: nbformat.NotebookNode, name: str) -> None:
    """The rules of notebooks that nbval can test, checked on the cell sources."""
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells[0].source == "%reload_ext aep_magics", f"{name}: the first code cell must load the extension"
    for cell in code_cells:
        src = cell.source
        first = src.lstrip().splitlines()[0] if src.strip() else ""
        assert "%load_ext" not in src, f"{name}: use %reload_ext, not %load_ext"
        assert "%%" not in src or src.startswith("%%"), f"{name}: a cell magic must be the first line: {first!r}"
        assert "NBVAL" not in src, f"{name}: use tags, not # NBVAL comments"
        assert not src.rstrip().endswith(";"), f"{name}: no trailing ';' (nbval still sees the result)"
        assert "clear_output" not in src and "display_id" not in src, f"{name}: no clear_output/display_id"


def cell_signature(nb: nbformat.NotebookNode) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """What a source decides about a notebook: each cell's id, type, source and tags."""
    return [(c.get("id", ""), c.cell_type, c.source, tuple(c.metadata.get("tags", []))) for c in nb.cells]


def stale(source: Path) -> str | None:
    """Why the committed notebook does not match its source, or None when it does."""
    target = notebook_path(source)
    if not target.exists():
        return f"{_rel(target)} is missing"
    want = cell_signature(read_source(source))
    have = cell_signature(nbformat.read(target, as_version=4))
    if want == have:
        return None
    for i, (a, b) in enumerate(zip(want, have)):
        if a != b:
            return f"{_rel(target)}: cell {i + 1} ({a[0]}) differs from {source.name}"
    return f"{_rel(target)}: {len(have)} cells, its source has {len(want)}"


def kernel_env() -> dict[str, str]:
    """The environment of the executing kernel: no AEP_* variable (no real credentials, no external AEP Local)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AEP_") and k != "SHOPIFY_ACCESS_TOKEN"}


def execute(nb: nbformat.NotebookNode, path: Path, timeout: int = 300) -> float:
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                            record_timing=False, skip_cells_with_tag="nbval-skip", store_widget_state=True,
                            allow_errors=False)
    started = time.monotonic()
    try:
        client.execute(env=kernel_env())
    except Exception:
        failed = Path(os.environ.get("TMPDIR", "/tmp")) / f"failed-{path.name}"
        nbformat.write(nb, failed)
        print(f"  execution failed; the partly executed notebook is in {failed}", file=sys.stderr)
        raise
    return time.monotonic() - started


def renumber_widgets(nb: nbformat.NotebookNode, key: str) -> nbformat.NotebookNode:
    """Replace the random widget model ids by ids derived from the notebook and their order of appearance."""
    state = (nb.metadata.get("widgets") or {}).get(WIDGET_STATE, {}).get("state", {})
    if not state:
        return nb
    text = json.dumps(nb, ensure_ascii=False)
    for n, old in enumerate(sorted(state, key=lambda i: (text.find(i), i))):
        text = text.replace(old, uuid.uuid5(uuid.NAMESPACE_URL, f"aep-magics/notebooks/{key}/widget/{n}").hex)
    return nbformat.from_dict(json.loads(text))


def check(nb: nbformat.NotebookNode, name: str) -> None:
    """No secret in outputs or widget state, no error output, no application/json output."""
    widgets = json.dumps(nb.metadata.get("widgets", {}))
    for pattern in FORBIDDEN:
        assert not pattern.search(widgets), f"{name}: {pattern.pattern} appears in the widget state"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = json.dumps(cell.get("outputs", []))
        for pattern in FORBIDDEN:
            assert not pattern.search(outputs), f"{name}: {pattern.pattern} appears in the outputs of cell {cell.id}"
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error" or "raises-exception" in cell.metadata.get("tags", []), (
                f"{name}: cell {cell.id} raised {output.get('ename')}: {output.get('evalue')}")
            assert "application/json" not in output.get("data", {}), f"{name}: cell {cell.id} has application/json output"
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                print(f"  warning: {name} cell {cell.id} wrote to stderr: {output.get('text', '')[:300]!r}")


def build(source: Path, run: bool = True) -> None:
    target = notebook_path(source)
    name = str(target.relative_to(ROOT))
    nb = read_source(source)
    seconds = execute(nb, target) if run else None
    if run:
        nb = renumber_widgets(nb, str(target.relative_to(NOTEBOOKS_DIR).with_suffix("")))
        check(nb, name)
    nbformat.validate(nb)
    with open(target, "w", encoding="utf-8", newline="\n") as handle:
        nbformat.write(nb, handle)
    code = sum(c.cell_type == "code" for c in nb.cells)
    print(f"{name}: {code} cells" + (f" executed in {seconds:.1f} s" if seconds is not None else " written"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="only the notebooks whose file name starts with this (e.g. 03)")
    parser.add_argument("--check", action="store_true", help="only check that every notebook matches its source")
    parser.add_argument("--no-execute", action="store_true", help="write the cells without executing them")
    args = parser.parse_args(argv)
    found = sources(args.only)
    if not found:
        parser.error(f"no notebook source matches {args.only!r}")
    if args.check:
        problems = [p for p in (stale(s) for s in found) if p]
        for problem in problems:
            print(f"stale: {problem} (run python tools/notebooks.py)", file=sys.stderr)
        return 1 if problems else 0
    for source in found:
        build(source, run=not args.no_execute)
    return 0


if __name__ == "__main__":
    sys.exit(main())
