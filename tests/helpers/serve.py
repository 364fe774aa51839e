"""``aep-local serve`` as a child process, for the tests that kill it (durability, crash consistency)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def serve(data_dir: Path, seed: int) -> tuple[subprocess.Popen, str]:
    """Start ``aep-local serve`` on a free port over ``data_dir``; returns the process and its URL.

    Its output is drained in a background thread so that a chatty server never blocks on a full pipe."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("AEP_LOCAL_FAULTS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "aep_magics.local.cli", "serve", "--data-dir", str(data_dir), "--seed", str(seed),
         "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=str(REPO))
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "is serving" in line:
            url = line.split("is serving", 1)[1].split()[0]
            threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True).start()
            return proc, url
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"aep-local serve did not start: {proc.stdout.read() if proc.stdout else ''}")
