"""The data lake: atomic batch publication, strict paths, flattening, and scheduler timing (no server needed)."""

from __future__ import annotations

import os
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aep_magics.local.engine import datalake
from aep_magics.local.engine.datalake import (
    DataLake,
    LakePathError,
    flatten_table,
)
from aep_magics.local.engine.scheduler import MAX_CATCHUP_RUNS, Schedule
from aep_magics.local.store import Tenant

T = Tenant("AEPLOCAL000000000000000@AdobeOrg", "prod")
DS = "0123456789abcdef01234567"
BATCH = "01EF01X41KJD82Y9ZX6ET54PCZ"


def _nested(n: int) -> pa.Table:
    email = pa.StructArray.from_arrays([pa.array([f"u{i}@x.com" for i in range(n)])], names=["address"])
    return pa.table({"personalEmail": email, "n": pa.array(range(n), pa.int64())})


def test_commit_is_atomic_and_complete(tmp_path):
    lake = DataLake(tmp_path)
    w = lake.writer(T, DS, BATCH)
    w.write(_nested(10))
    w.write(_nested(5).to_batches()[0])
    w.append_meta_lines("row_errors/part-00000.json", [{"row": 1, "_errors": []}])
    w.write_meta_json("row_error_samples.json", {"samples": []})
    final = lake.batch_dir(T, DS, BATCH)
    assert not final.exists(), "nothing is visible before commit"
    assert w.staging.name == f".staging-{BATCH}" and w.staging.is_dir()
    w.commit()
    assert final.is_dir() and not w.staging.exists()
    assert [p.name for p in lake.data_files(T, DS, BATCH)] == ["part-00000.parquet"]
    table = lake.read_batch(T, DS, BATCH)
    assert table.num_rows == 15
    assert lake.read_batch(T, DS, BATCH, flatten=True).column_names == ["personalEmail.address", "n"]
    assert [n for n, _ in lake.meta_listing(T, DS, BATCH)] == ["row_error_samples.json", "row_errors/part-00000.json"]
    assert [n for n, _ in lake.meta_listing(T, DS, BATCH, "row_errors")] == ["row_errors/part-00000.json"]


def test_abort_and_drop_data(tmp_path):
    lake = DataLake(tmp_path)
    w = lake.writer(T, DS, BATCH)
    w.write(_nested(3))
    w.abort()
    assert not w.staging.exists() and not lake.batch_dir(T, DS, BATCH).exists()
    w = lake.writer(T, DS, BATCH)
    w.write(_nested(3))
    w.append_meta_lines("row_errors/part-00000.json", [{"row": 0}])
    w.drop_data()
    w.commit()
    assert lake.data_files(T, DS, BATCH) == []
    assert lake.meta_listing(T, DS, BATCH, "row_errors")


def test_rolls_over_to_new_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(datalake, "ROWS_PER_FILE", 4)
    lake = DataLake(tmp_path)
    w = lake.writer(T, DS, BATCH)
    for _ in range(3):
        w.write(_nested(4))
    w.commit()
    assert [p.name for p in lake.data_files(T, DS, BATCH)] == ["part-00000.parquet", "part-00001.parquet",
                                                               "part-00002.parquet"]
    assert lake.read_batch(T, DS, BATCH).num_rows == 12


def test_crash_before_commit_leaves_only_staging(tmp_path):
    lake = DataLake(tmp_path)
    w = lake.writer(T, DS, BATCH)
    w.write(_nested(3))
    w._close_all()  # the process dies here: no commit
    assert lake.staging_dirs() == [w.staging]
    assert lake.data_files(T, DS, BATCH) == []


@pytest.mark.parametrize("bad", ["..", "../x", "..%2F..%2Fstate.sqlite3", "01EF01X41KJD82Y9ZX6ET54PC/", "a" * 27,
                                 "01EF01X41KJD82Y9ZX6ET54PCU", "", "/etc/passwd"])
def test_bad_batch_ids_rejected(tmp_path, bad):
    with pytest.raises(LakePathError, match=f"^{re.escape(f'invalid batch id: {bad!r}')}$"):
        DataLake(tmp_path).batch_dir(T, DS, bad)


@pytest.mark.parametrize("bad", ["../state.sqlite3", "part-0.parquet", "part-00000.parquet/..", "meta/../x",
                                 "/part-00000.parquet", "part-00000.parquet\x00"])
def test_bad_file_paths_rejected(tmp_path, bad):
    with pytest.raises(LakePathError, match=f"^{re.escape(f'invalid file path: {bad!r}')}$"):
        DataLake(tmp_path).data_file(T, DS, BATCH, bad)


@pytest.mark.parametrize("bad", ["../../../../state.sqlite3", "row_errors/../../x", "row_errors/", "input_files/a",
                                 "row_error_samples.json/..", "ROW_ERRORS"])
def test_bad_meta_paths_rejected(tmp_path, bad):
    with pytest.raises(LakePathError, match=f"^{re.escape(f'invalid meta path: {bad!r}')}$"):
        DataLake(tmp_path).meta_path(T, DS, BATCH, bad)


def test_symlink_escape_rejected(tmp_path):
    lake = DataLake(tmp_path / "lake")
    secret = tmp_path / "secret.parquet"
    secret.write_bytes(b"x")
    d = lake.batch_dir(T, DS, BATCH)
    d.mkdir(parents=True)
    os.symlink(secret, d / "part-00000.parquet")
    with pytest.raises(LakePathError, match="^path escapes the data lake: "):
        lake.data_file(T, DS, BATCH, "part-00000.parquet")


def test_bad_tenant_parts_rejected(tmp_path):
    with pytest.raises(LakePathError, match="^invalid tenant$"):
        DataLake(tmp_path).dataset_dir(Tenant("..", "prod"), DS)
    with pytest.raises(LakePathError, match="^invalid sandbox: 'a/b'$"):
        DataLake(tmp_path).dataset_dir(Tenant("org", "a/b"), DS)


def test_flatten_table_keeps_maps():
    ident = pa.array([[("Email", [{"id": "a@x.com", "primary": True}])]],
                     pa.map_(pa.string(), pa.list_(pa.struct([("id", pa.string()), ("primary", pa.bool_())]))))
    t = pa.table({"identityMap": ident, "a": pa.StructArray.from_arrays(
        [pa.StructArray.from_arrays([pa.array([1])], names=["c"])], names=["b"])})
    assert flatten_table(t).column_names == ["identityMap", "a.b.c"]


def test_parquet_round_trip_of_nested(tmp_path):
    lake = DataLake(tmp_path)
    w = lake.writer(T, DS, BATCH)
    w.write(_nested(2))
    w.commit()
    f = lake.data_files(T, DS, BATCH)[0]
    assert pq.read_table(f).to_pylist()[1] == {"personalEmail": {"address": "u1@x.com"}, "n": 1}


# -- schedule arithmetic ------------------------------------------------------------------------------------------------
S = 1_700_000_000  # epoch seconds
MS = S * 1000


def test_schedule_parses_strings():
    s = Schedule.from_params({"startTime": str(S), "frequency": "minute", "interval": "15", "backfill": "false"})
    assert s == Schedule(MS, "minute", 15, False) and s.period_ms == 900_000
    assert Schedule.from_params({"startTime": S, "frequency": "once"}).once
    assert Schedule.from_params({"frequency": "hour"}) is None


def test_due_times_backfill_and_not():
    s = Schedule(MS, "minute", 15, True)
    assert s.due_times(MS, MS - 1) == ([], MS)
    assert s.due_times(MS, MS) == ([MS], MS + 900_000)
    dues, nxt = s.due_times(MS, MS + 3_600_000)          # 1 h later: k = 0..4
    assert dues == [MS + k * 900_000 for k in range(5)] and nxt == MS + 5 * 900_000
    s2 = Schedule(MS, "minute", 15, False)
    assert s2.due_times(MS, MS + 3_600_000) == ([MS + 4 * 900_000], MS + 5 * 900_000)
    dues, _ = s.due_times(MS, MS + 10 * 365 * 86_400_000)
    assert len(dues) == MAX_CATCHUP_RUNS and dues == sorted(dues)


def test_due_times_other_units_and_once():
    assert Schedule(MS, "day", 1).due_times(MS, MS + 2 * 86_400_000)[0] == [MS, MS + 86_400_000, MS + 2 * 86_400_000]
    assert Schedule(MS, "week", 2).period_ms == 2 * 604_800_000
    once = Schedule(MS, "once")
    assert once.due_times(MS, MS + 5) == ([MS], None)
    assert once.due_times(None, MS + 5) == ([], None)


def test_first_due_and_initial_window():
    s = Schedule(MS, "hour", 1, False)
    assert s.first_due_at_or_after(MS - 5) == MS
    assert s.first_due_at_or_after(MS + 1) == MS + 3_600_000
    assert s.initial_window_start(MS) == MS - 3_600_000
    assert Schedule(MS, "hour", 1, True).initial_window_start(MS) == 0


# -- background writing and prefetching --------------------------------------------------------------------------------
def test_background_writer_writes_in_order(tmp_path):
    lake = DataLake(tmp_path)
    w = lake.writer(T, DS, BATCH, background=True)
    for i in range(20):
        w.write(pa.table({"n": pa.array(range(i * 10, i * 10 + 10), pa.int64())}))
    w.commit()
    assert lake.read_batch(T, DS, BATCH).column("n").to_pylist() == list(range(200))


def test_background_writer_surfaces_errors(tmp_path):
    lake = DataLake(tmp_path)
    w = lake.writer(T, DS, BATCH, background=True)
    w.write(pa.table({"n": pa.array([1, 2], pa.int64())}))
    w.write(pa.table({"n": pa.array(["not", "a number"])}))      # cannot be cast to the first schema
    with pytest.raises(pa.ArrowInvalid, match="Failed to parse string: 'a number' as a scalar of type int64"):
        w.commit()
    w.abort()
    assert not lake.batch_dir(T, DS, BATCH).exists() and not w.staging.exists()


def test_prefetch_keeps_order_and_propagates_errors():
    from aep_magics.local.engine.runner import prefetch

    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))

    def broken():
        yield 1
        raise ValueError("boom")

    it = prefetch(broken())
    assert next(it) == 1
    with pytest.raises(ValueError, match="boom"):
        next(it)
    gen = prefetch(iter(range(10_000)), depth=2)
    assert next(gen) == 0
    gen.close()                                                      # stops the reader thread


def test_dictionary_columns_pick_low_cardinality_leaves():
    from aep_magics.local.engine.datalake import dictionary_columns

    n = 1000
    t = pa.table({"a": pa.StructArray.from_arrays([pa.array(["x", "y"] * (n // 2)), pa.array([str(i) for i in range(n)])],
                                                  names=["low", "high"]),
                  "flag": pa.array([True] * n)})
    assert dictionary_columns(t) == ["a.low", "flag"]


# -- the scheduler over a real platform, with the runner replaced ------------------------------------------------------
def test_scheduler_materialises_due_runs(tmp_path, monkeypatch):
    from aep_magics.local.engine import runner
    from aep_magics.local.engine.scheduler import Scheduler
    from aep_magics.local.platform import Platform

    platform = Platform(tmp_path, seed=1)
    created: list[tuple[str, int]] = []
    monkeypatch.setattr(runner, "create_scheduled_run",
                        lambda p, t, flow, due: created.append((flow["id"], due)) or f"run-{len(created)}")
    sched = Scheduler(platform)
    now = platform.clock.peek_ms()

    def flow(fid: str, **params):
        doc = {"id": fid, "state": "enabled", "scheduleParams": {k: str(v) for k, v in params.items()}}
        if platform.store.get(T, "flow", fid) is None:
            platform.store.insert(T, "flow", fid, doc, created=now, state="enabled")
        else:
            platform.store.replace(T, "flow", fid, doc, updated=now, state=doc["state"])
        sched.flow_changed(T, fid)
        return doc

    flow("once-past", startTime=now // 1000 - 100, frequency="once")
    assert created == [("once-past", now)]                      # a past start time runs now
    flow("hourly", startTime=now // 1000 + 60, frequency="hour", interval=1)
    flow("quarter", startTime=now // 1000, frequency="minute", interval=15, backfill="false")
    assert created[-1] == ("quarter", now)
    created.clear()
    platform.clock.advance(3 * 3_600_000)
    sched.tick()
    hourly = [d for f, d in created if f == "hourly"]
    assert hourly == [now + 60_000 + k * 3_600_000 for k in range(3)]
    assert [d for f, d in created if f == "quarter"] == [now + 12 * 900_000]   # backfill false: only the latest
    assert [d for _, d in created] == sorted(d for _, d in created)           # runs are queued by due time
    created.clear()
    sched.tick()
    assert created == []                                                        # nothing twice
    doc = platform.store.get(T, "flow", "hourly").doc
    doc["state"] = "disabled"
    platform.store.replace(T, "flow", "hourly", doc, updated=now, state="disabled")
    sched.flow_changed(T, "hourly")
    platform.clock.advance(2 * 3_600_000)
    sched.tick()
    assert [f for f, _ in created] == ["quarter"]
    created.clear()
    doc["state"] = "enabled"
    platform.store.replace(T, "flow", "hourly", doc, updated=now, state="enabled")
    sched.flow_changed(T, "hourly")
    assert created == []                                                        # resumes at the next due time
    platform.clock.advance(3_600_000)
    sched.tick()
    assert [f for f, _ in created].count("hourly") == 1
    platform.store.delete(T, "flow", "hourly")
    sched.flow_changed(T, "hourly")
    assert platform.store.get(T, "flowSchedule", "hourly") is None
    platform.close()
