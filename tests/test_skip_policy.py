"""The repository's skip policy (``conftest.py`` at the root): a skip off the allow-list fails the run."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_skip_off_the_allow_list_fails_the_run():
    probe = ROOT / "tests" / f"_skip_probe_{uuid.uuid4().hex[:8]}"
    probe.mkdir()
    try:
        (probe / "test_probe.py").write_text("import pytest\n\n\ndef test_probe():\n    pytest.skip('no reason')\n")
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                                 str(probe)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(probe)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not on the allow-list" in result.stdout and "1 failed" in result.stdout


def test_the_allow_list_is_short_and_reasoned():
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    assert 0 < len(root_conftest.ALLOWED_SKIPS) <= 5
    assert all(prefix and len(reason) > 30 for prefix, reason in root_conftest.ALLOWED_SKIPS)
