"""The code's layers point one way, and this test keeps them so.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``; docs/architecture.md explains them): the client
side never imports AEP Local; AEP Local's front doors sit above its services, the services above the engine, the
engine above the lower modules; the engine's own modules form a chain; no two sibling modules import each other.
Every import counts, also the ones deferred into a function body. A broken contract fails with the offending
import chain, as ``lint-imports`` prints it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("importlinter")


def test_import_contracts_are_kept():
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                               "sys.exit(lint_imports_command())", "--no-cache"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    report = run.stdout + run.stderr
    broken = report[report.find("Broken contracts"):] if "Broken contracts" in report else report
    assert run.returncode == 0, "an import points the wrong way (lint-imports, pyproject.toml):\n" + broken
    assert "0 broken" in report


def test_deferred_imports_are_in_the_graph():
    """The scheduler imports the runner only inside its methods: the graph the contracts are checked on has it."""
    import grimp

    graph = grimp.build_graph("aep_magics", cache_dir=None)
    assert graph.direct_import_exists(importer="aep_magics.local.engine.scheduler",
                                      imported="aep_magics.local.engine.runner")
