"""Smoke test of the benchmarks: each one runs at its ``tiny`` size and returns a well-formed result.

No timing is asserted here (CI machines vary); ``python benchmarks/run.py`` measures and checks the targets.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import run as runner  # noqa: E402

pytest.importorskip("werkzeug")

RESULTS: dict[str, dict] = {}


@pytest.mark.parametrize("name", runner.BENCHMARKS)
def test_benchmark_runs_tiny(name):
    res = runner.run_benchmark(name, "tiny")
    RESULTS[name] = res
    assert common.check_result(res) == [], res
    if name == "ingest" and not runner.INGEST_SCRIPT.exists():
        assert res["status"] == "skipped"
        return
    assert res["status"] == "ok", common.summary_text(res)
    assert res["size"] == "tiny"
    assert res["tables"] and all(t["rows"] for t in res["tables"]), res["tables"]
    assert res["targets"], "every benchmark states its targets"


def test_results_markdown_is_written(tmp_path):
    results = [RESULTS[n] for n in runner.BENCHMARKS if n in RESULTS] or [
        common.result("demo", "Demo", "tiny", tables=[common.table("t", ["a", "b"], [[1, 2.5]])],
                      targets=[common.target("x", "< 2", "1.0", True)])]
    meta = {"command": "python benchmarks/run.py --size tiny", "machine": common.machine(), "date": "today",
            "seconds": 1.0, "load_start": "0", "load_end": "0"}
    text = runner.render(results, meta)
    out = tmp_path / "RESULTS.md"
    out.write_text(text)
    assert text.startswith("# Benchmark results")
    for needle in ("**Command:**", "**Date:**", "**Machine:**", "## Targets", "CPUs", "GB RAM"):
        assert needle in text
    for res in results:
        assert res["title"] in text


def test_check_result_rejects_malformed():
    assert common.check_result({"name": "x"})
    bad = common.result("x", "X", "tiny", tables=[common.table("t", ["a", "b"], [[1]])])
    assert any("cells" in p for p in common.check_result(bad))
    assert common.check_result(common.result("x", "X", "huge"))


def test_statistics_helpers():
    assert common.median([3, 1, 2]) == 2
    assert common.percentile([1, 2, 3, 4, 5], 50) == 3
    assert common.percentile(list(range(101)), 99) == pytest.approx(99)
    assert common.percentile([7.0], 99) == 7.0


def test_a_missed_target_fails_the_run(capsys):
    met = common.result("a", "A", "tiny", targets=[common.target("fast", "<= 1.3", "1.2", True)])
    missed = common.result("b", "B", "tiny", targets=[common.target("slow", "<= 1.3", "1.4", False),
                                                      common.target("told", "reported", "9", None)])
    assert runner.exit_status([met]) == 0
    assert runner.exit_status([met, missed]) == 1
    assert "target missed -- B: slow" in capsys.readouterr().err
    assert runner.exit_status([common.result("c", "C", "tiny", status="error")]) == 1
