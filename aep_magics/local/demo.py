"""``aep-local demo``: run the eCommerce ingestion tutorial headless against AEP Local.

The demo starts AEP Local on a loopback port with a data dir inside the output folder, executes
``notebooks/03-ecommerce-ingestion.ipynb`` in a fresh kernel pointed at that server (``AEP_LOCAL_URL``), writes the
executed notebook and an HTML copy, then asks the platform itself what happened and prints a short summary.

The HTML copy works offline: it is exported without the notebook's widget state, so every output shows its own
``text/html`` (the magics' cards, tables and charts carry all their information there) instead of a widget view
that would need the widget manager from a CDN.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

NOTEBOOK = "03-ecommerce-ingestion.ipynb"


def find_notebook(name: str = NOTEBOOK) -> Path:
    """The tutorial notebook of this checkout (``notebooks/`` beside the package)."""
    candidates = [Path.cwd() / "notebooks" / name, Path(__file__).resolve().parents[2] / "notebooks" / name]
    for path in candidates:
        if path.is_file():
            return path
    raise SystemExit(f"aep-local demo: cannot find notebooks/{name}; run it from a checkout of aep-magics")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-output", help="folder for the executed notebook, HTML copy and data")
    parser.add_argument("--seed", type=int, default=43,
                        help="deterministic-mode seed of AEP Local (default 43, the seed notebook 03 signs in with)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per notebook cell")


def run(args: argparse.Namespace) -> int:
    import nbformat
    from nbclient import NotebookClient

    from . import start

    source = find_notebook()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "aep-local"
    started = time.monotonic()
    with start(data_dir=data_dir, seed=args.seed) as server:
        env_before = {k: os.environ.get(k) for k in ("AEP_LOCAL_URL",)}
        os.environ["AEP_LOCAL_URL"] = server.url
        try:
            nb = nbformat.read(source, as_version=4)
            client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                                    resources={"metadata": {"path": str(source.parent)}})
            client.execute()
        finally:
            for key, value in env_before.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        executed = out / source.name
        nbformat.write(nb, executed)
        (out / source.with_suffix(".html").name).write_text(export_html(nb), encoding="utf-8")
        summary = summarise(server)
    elapsed = time.monotonic() - started
    print(f"aep-local demo: {source.name} ran in {elapsed:.1f}s on AEP Local (seed {args.seed})")
    for line in summary:
        print("  " + line)
    print(f"  executed notebook: {executed}")
    print(f"  HTML copy:         {executed.with_suffix('.html')}")
    return 0


def export_html(nb) -> str:
    """``nb`` as a standalone HTML page that needs no network for its content.

    The widget state is left out of the export (the notebook itself keeps it): nbconvert then renders each widget
    output from its ``text/html``/``text/plain`` instead of a placeholder filled in by JavaScript from a CDN.
    """
    import copy

    from nbconvert import HTMLExporter

    offline = copy.deepcopy(nb)
    offline.metadata.pop("widgets", None)
    html, _ = HTMLExporter().from_notebook_node(offline)
    return html


def summarise(server) -> list[str]:
    """Ask the platform what the tutorial created: ids, run outcomes, records, where the Parquet files are."""
    from ..api import AEPClient
    from ..http import AEPSession

    client = AEPClient(AEPSession(server.profile()))
    lines: list[str] = []
    for flow in client.flow.list_flows():
        lines.append(f"dataflow {flow['id']} \"{flow.get('name', '')}\"")
        for run in client.flow.list_runs(flow["id"]):
            metrics = run.get("metrics", {})
            records = metrics.get("recordSummary", {})
            status = metrics.get("statusSummary", {}).get("status", "?")
            lines.append(
                f"  run {run['id']}: {status}, {records.get('outputRecordCount', 0)} records ingested, "
                f"{records.get('failedRecordCount', 0)} failed"
            )
    for dataset_id, dataset in client.catalog.list_datasets().items():
        lines.append(f"dataset {dataset_id} \"{dataset.get('name', '')}\"")
        folder = server.platform.lake_dir
        lines.append(f"  Parquet files under {folder}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aep-local demo", description=__doc__.splitlines()[0])
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
