"""The repository's skip policy (``conftest.py`` at the root): a skip off the allow-list fails the run."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The probe runs load no installed pytest plugin (quicker; the policy is the repository's conftest.py)
QUICK = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
#: A skip in a test, in a fixture and through a mark: each one fails; the test that does not skip passes.
PROBES = """import pytest


@pytest.fixture
def skipping():
    pytest.skip("a fixture that skips")


def test_skip_in_the_test():
    pytest.skip("no reason")


def test_skip_in_a_fixture(skipping):
    pass


@pytest.mark.skipif(True, reason="a skip mark")
def test_skipif_mark():
    pass


def test_runs():
    pass
"""


def test_a_skip_off_the_allow_list_fails_the_run():
    probe = ROOT / "tests" / f"_skip_probe_{uuid.uuid4().hex[:8]}"
    probe.mkdir()
    try:
        (probe / "test_probe.py").write_text(PROBES)
        # a module that skips while it is collected
        (probe / "test_import_probe.py").write_text(
            "import pytest\n\npytest.importorskip('no_such_module_anywhere')\n\n\ndef test_never_collected():\n"
            "    pass\n")
        # (a collection error alone stops the run with exit code 2: go on, to see the other probes fail too)
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-o",
                                 "addopts=", "--continue-on-collection-errors", str(probe)],
                                cwd=ROOT, env=QUICK, capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(probe)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    # a skip in the test fails it; one while it is set up (fixture, mark) or collected is an error
    assert f"FAILED tests/{probe.name}/test_probe.py::test_skip_in_the_test" in output, output
    for name in ("test_skip_in_a_fixture", "test_skipif_mark"):
        assert f"ERROR tests/{probe.name}/test_probe.py::{name}" in output, output
    assert f"ERROR tests/{probe.name}/test_import_probe.py" in output, output
    assert "skipped (Skipped: could not import 'no_such_module_anywhere'" in output, output
    assert output.count("not on the allow-list") >= 4, output
    assert "1 failed, 1 passed, 3 errors" in output, output


def test_the_allow_list_is_short_and_reasoned():
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    assert 0 < len(root_conftest.ALLOWED_SKIPS) <= 5
    assert all(prefix and len(reason) > 30 for prefix, reason in root_conftest.ALLOWED_SKIPS)


def test_the_browser_test_fails_without_chromium_in_ci(tmp_path):
    # A plugin points tests/test_browser.py at a Chromium that is not there, whatever this machine has.
    (tmp_path / "no_chromium.py").write_text(
        "from pathlib import Path\n\n\ndef pytest_collection_finish(session):\n    for item in session.items:\n"
        "        item.module.CHROMIUM = Path('/nonexistent/chromium')\n")
    env = {**QUICK, "CI": "true", "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-o", "addopts=",
                             "-p", "no_chromium", "tests/test_browser.py"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "/nonexistent/chromium is absent: install Debian's chromium package" in output, output
    assert "2 errors" in output and "skipped" not in output, output
