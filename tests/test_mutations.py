"""Mutation check (slow suite, ``pytest -m slow tests/test_mutations.py``): the default suite catches six known bugs.

Each entry of :data:`MUTATIONS` is a small bug -- old text -> new text in one file -- that once passed every related
test. For each, the project is copied to a temporary directory, the bug is applied there (never to this tree), and
the default-suite tests named for it run on the copy in a subprocess; they must fail. The tests named for all of them
first run on an unchanged copy and must pass, so a failure on a mutant is the mutant's doing. One JSON line reports
which tests caught each bug.

When a patch no longer applies (its old text is gone from the file, or is there more than once), the check fails
and says so: the code moved on, and the entry must be brought up to date with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: One pytest run on a copy; the longest (the tenancy and watermark files) take well under a minute.
RUN_TIMEOUT_S = 900
SKIP_IN_COPY = shutil.ignore_patterns(".git", ".hypothesis", ".mypy_cache", ".pytest_cache", "__pycache__",
                                      ".venv*", ".ipynb_checkpoints")


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = (
    Mutation(
        "if-match-without-the-lock", "aep_magics/local/store.py",
        '            sql += " AND etag=?"\n            args.append(expected_etag)\n',
        "            pass\n",
        ("tests/test_concurrency.py",)),
    Mutation(
        "tenant-blind-update", "aep_magics/local/store.py",
        '               " WHERE org=? AND sandbox=? AND kind=? AND id=?")\n'
        "        args: list[Any] = [_dump(doc), etag, updated, name, state, parent, tenant.org, tenant.sandbox, "
        "kind, id]",
        '               " WHERE kind=? AND id=?")\n'
        "        args: list[Any] = [_dump(doc), etag, updated, name, state, parent, kind, id]",
        ("tests/test_tenant_writes.py",)),
    Mutation(
        "display-masking-skips-list-items", "aep_magics/display/results.py",
        "    if isinstance(data, list):\n        return [mask_secrets(v) for v in data]\n    return data\n",
        "    return data\n",
        ("tests/test_display.py::test_mask_secrets_reaches_into_lists_and_json_patch_bodies",
         "tests/test_display.py::test_secrets_in_lists_masked_in_every_view")),
    Mutation(
        "column-validator-skips-nested-required", "aep_magics/local/xdm/validate.py",
        "            if obj_path and not members:\n                continue\n",
        "            if obj_path and (not members or level == 0):\n                continue\n",
        ("tests/test_xdm.py::test_validators_agree_on_arrays_via_nested_table",)),
    Mutation(
        "ad-hoc-window-moves-the-watermark", "aep_magics/local/engine/runner.py",
        "    if ws is not None and we is not None:\n        return ws, we, False\n",
        "    if ws is not None and we is not None:\n        return ws, we, True\n",
        ("tests/test_watermark.py",)),
    Mutation(
        "callers-paging-parameters-override-the-next-link", "aep_magics/http.py",
        "    return path, link_params + [(n, v) for n, v in base_params if n not in in_link and "
        'n != "continuationToken"]\n',
        "    return path, [(n, v) for n, v in link_params if n not in {k for k, _ in base_params}] + base_params\n",
        ("tests/test_paging.py",)),
)


def _copy(dest: Path) -> Path:
    shutil.copytree(ROOT, dest, ignore=SKIP_IN_COPY)
    return dest


def _apply(copy: Path, m: Mutation) -> str | None:
    """Apply ``m`` to ``copy``; why it does not apply, if it does not."""
    path = copy / m.file
    if not path.exists():
        return f"mutation {m.name!r} no longer applies: {m.file} does not exist; update MUTATIONS in " \
               f"tests/test_mutations.py"
    text = path.read_text(encoding="utf-8")
    found = text.count(m.old)
    if found != 1:
        return f"mutation {m.name!r} no longer applies: its old text is in {m.file} {found} times (needs exactly " \
               f"once); update MUTATIONS in tests/test_mutations.py to the code as it is now:\n{m.old}"
    path.write_text(text.replace(m.old, m.new), encoding="utf-8")
    return None


def _env(copy: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AEP_"))}
    env.update(PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    return env


def _run(copy: Path, tests: tuple[str, ...]) -> tuple[int, list[str], list[str], str]:
    """Run ``tests`` on ``copy``: (exit code, node ids that failed or errored, node ids that ran, output tail)."""
    where = subprocess.run([sys.executable, "-c", "import aep_magics; print(aep_magics.__file__)"], cwd=copy,
                           env=_env(copy), capture_output=True, text=True, timeout=120)
    assert Path(where.stdout.strip()).resolve().is_relative_to(copy.resolve()), \
        f"the copy imported another aep_magics: {where.stdout}{where.stderr}"
    report = copy / "mutation-report.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                           *tests], cwd=copy, env=_env(copy), capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    failed, ran = [], []
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            node = case.get("classname", "").replace(".", "/") + ".py::" + case.get("name", "")
            ran.append(node)
            if case.find("failure") is not None or case.find("error") is not None:
                failed.append(node)
    return proc.returncode, failed, ran, (proc.stdout + proc.stderr)[-3000:]


@pytest.mark.slow
def test_the_default_suite_catches_every_known_mutation(tmp_path, capsys):
    named = tuple(dict.fromkeys(t for m in MUTATIONS for t in m.tests))
    code, failed, ran, output = _run(_copy(tmp_path / "baseline"), named)
    shutil.rmtree(tmp_path / "baseline", ignore_errors=True)
    assert code == 0 and ran and not failed, f"the tests named in MUTATIONS must pass on the unchanged code " \
                                             f"first (exit {code}, failed {failed}):\n{output}"

    summary: dict[str, dict] = {}
    problems: list[str] = []
    for m in MUTATIONS:
        copy = _copy(tmp_path / m.name)
        stale = _apply(copy, m)
        if stale:
            summary[m.name] = {"file": m.file, "caught_by": [], "applies": False}
            problems.append(stale)
            shutil.rmtree(copy, ignore_errors=True)
            continue
        code, failed, ran, output = _run(copy, m.tests)
        summary[m.name] = {"file": m.file, "applies": True, "caught_by": failed, "ran": len(ran), "exit": code}
        if code != 1 or not failed:
            problems.append(f"{m.name} ({m.file}): not caught by {', '.join(m.tests)} (pytest exit {code}, "
                            f"{len(ran)} tests ran, none failed)\n{output}" if code in (0, 1) else
                            f"{m.name} ({m.file}): the run on the mutant broke (pytest exit {code})\n{output}")
        shutil.rmtree(copy, ignore_errors=True)
    with capsys.disabled():
        print("\n" + json.dumps({"mutation_check": summary}, sort_keys=True), flush=True)
    assert not problems, "\n\n".join(problems)
