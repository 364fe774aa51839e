"""Importing the client side must not drag in the heavy optional stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ["pandas", "pyarrow", "ipywidgets", "numpy"]


def test_client_modules_import_light():
    code = (
        "import json, sys\n"
        "import aep_magics, aep_magics.config, aep_magics.auth, aep_magics.errors, aep_magics.http, aep_magics.api\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert json.loads(out.stdout) == []
