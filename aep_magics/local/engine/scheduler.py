"""The scheduler: turns flow schedules and the platform clock into runs, and executes them on a worker thread.

Time is the platform clock. In deterministic mode (a seed) it only moves when the control plane fast-forwards it,
which calls :meth:`Scheduler.tick`; in wall-clock mode the worker also ticks by itself every ``poll_seconds``.

Schedules (``scheduleParams``, https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce-3.10; values may be strings):

- ``once``: one run at ``startTime`` (epoch seconds), immediately when that is already past;
- ``minute|hour|day|week`` with ``interval``: runs at ``startTime + k * interval * unit`` for k = 0, 1, ...;
- ``backfill`` (default true): when the clock jumps over several due times, true creates a run for every missed
  due time (at most :data:`MAX_RUNS_PER_MOVE` per flow each time the clock moves, the newest ones — windows chain,
  so no data is lost; :meth:`Scheduler.catch_up` reports the flows so capped), false creates
  only the latest;
- disabled flows get no scheduled runs; on re-enable the schedule resumes at the next due time (the first window
  then reaches back to where the last successful one ended, so nothing is lost);
- ad hoc runs (``POST /runs``) are queued by :meth:`run_requested`.

Runs execute one at a time, in creation order (due time, then flow creation order), on a single worker thread
(so one at a time per flow), and HTTP calls return at once. :func:`attach` installs and starts the scheduler of a
platform (``aep_magics.local.start`` calls it); :meth:`Scheduler.start` first runs :func:`.recovery.recover` and
queues the runs a previous process left ``scheduled``; :meth:`Scheduler.wait_idle` waits for the queue to drain. Per-flow scheduling state lives in the store as kind ``flowSchedule`` (id = flow id):
``nextDueMs``, the schedule fingerprint, ``enabled`` and ``watermarkMs`` — where the last successful incremental
window ended, updated by the runner in the same transaction that marks the run ``success``.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from .schedules import MAX_CATCHUP_RUNS, STATE_KIND, Schedule, load_schedule_state, save_schedule_state

if TYPE_CHECKING:  # pragma: no cover
    from ..platform import Platform
    from ..store import Tenant

log = logging.getLogger(__name__)

#: Most runs one flow gets from one clock move (one tick): what a jump, or a restart after a long pause, makes the
#: worker execute stays bounded.
MAX_RUNS_PER_MOVE = 100

__all__ = ["MAX_CATCHUP_RUNS", "MAX_RUNS_PER_MOVE", "Schedule", "Scheduler", "attach", "load_schedule_state",
           "save_schedule_state"]


class Scheduler:
    """Creates due runs (:meth:`tick`, :meth:`flow_changed`), queues ad hoc ones (:meth:`run_requested`) and executes
    them on one background thread (:meth:`start` / :meth:`stop`, :meth:`wait_idle`)."""

    def __init__(self, platform: Platform, *, poll_seconds: float = 1.0):
        self.platform = platform
        self.poll_seconds = poll_seconds
        self._lock = threading.RLock()          # schedule state changes (tick / flow_changed)
        self._cv = threading.Condition()        # the run queue
        self._queue: deque[tuple[Tenant, str]] = deque()
        self._queued: set[tuple[Tenant, str]] = set()
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.executed = 0

    # -- lifecycle ----------------------------------------------------------------------------------------------------
    def start(self) -> Scheduler:
        """Recover from an earlier crash, queue runs left ``scheduled``, catch up on due runs and start the worker."""
        from .recovery import recover

        if self._thread is not None:
            return self
        recover(self.platform)
        self._stopping = False
        self._requeue_scheduled()
        self._thread = threading.Thread(target=self._work, name="aep-local-scheduler", daemon=True)
        self._thread.start()
        self.tick()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the run in progress (queued runs stay ``scheduled`` for the next start) and stop the worker."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no run is queued or executing; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._queue and not self._busy, timeout=timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- hooks called by the services ---------------------------------------------------------------------------------
    def flow_changed(self, tenant: Tenant, flow_id: str) -> None:
        """A flow was created, patched, enabled, disabled or deleted: bring its schedule state up to date and
        create the runs already due (a ``once`` flow whose start time has passed runs now)."""
        with self._lock:
            store = self.platform.store
            flow = store.get(tenant, "flow", flow_id)
            if flow is None:
                store.delete(tenant, STATE_KIND, flow_id)
                return
            self._sync_state(tenant, flow.id, flow.doc)
            self._materialise([(tenant, flow)], self.platform.clock.peek_ms())

    def run_requested(self, tenant: Tenant, run_id: str) -> None:
        """An ad hoc run was created (status ``scheduled``): queue it."""
        self._enqueue(tenant, run_id)

    def tick(self) -> list[str]:
        """Create every run due up to the current clock and queue it; returns the new run ids."""
        return self.catch_up()["created"]

    def catch_up(self) -> dict[str, Any]:
        """:meth:`tick`, with a report: ``{"created": [run ids], "capped": [{"flowId", "dueTimes", "runs"}]}``,
        ``capped`` naming each flow (backfill on) that missed more due times than :data:`MAX_RUNS_PER_MOVE` and got
        runs for the newest ones only."""
        with self._lock:
            flows = []
            for tenant in _tenants(self.platform, "flow"):
                for rec in self.platform.store.select(tenant, "flow"):
                    flows.append((tenant, rec))
            capped: list[dict[str, Any]] = []
            created = self._materialise(flows, self.platform.clock.peek_ms(), capped)
            return {"created": created, "capped": capped}

    # -- schedule state -----------------------------------------------------------------------------------------------
    def _state(self, tenant: Tenant, flow_id: str) -> dict[str, Any] | None:
        rec = self.platform.store.get(tenant, STATE_KIND, flow_id)
        return rec.doc if rec else None

    def _save_state(self, tenant: Tenant, flow_id: str, doc: dict[str, Any]) -> None:
        save_schedule_state(self.platform, tenant, flow_id, doc)

    def _sync_state(self, tenant: Tenant, flow_id: str, flow: dict[str, Any]) -> dict[str, Any] | None:
        schedule = Schedule.from_params(flow.get("scheduleParams"))
        enabled = str(flow.get("state", "enabled")).lower() == "enabled"
        state = self._state(tenant, flow_id)
        now = self.platform.clock.peek_ms()
        if schedule is None:
            return state
        fp = schedule.fingerprint()
        if state is None:
            state = {"flowId": flow_id, "schedule": fp, "nextDueMs": schedule.start_ms, "enabled": enabled,
                     "watermarkMs": None, "firstDueMs": None}
            if schedule.once and schedule.start_ms < now:
                state["nextDueMs"] = now     # start time already past: run now (window up to now)
        else:
            changed = False
            if state.get("schedule") != fp:
                if state.get("firstDueMs") is None:   # nothing ran yet: start over from the new start time
                    state["nextDueMs"] = schedule.start_ms if not (schedule.once and schedule.start_ms < now) else now
                else:
                    state["nextDueMs"] = schedule.first_due_at_or_after(now + 1) if not schedule.once else None
                state["schedule"] = fp
                changed = True
            if enabled and not state.get("enabled", True):
                # resume at the next due time; the missed intervals' data comes with the first window
                nxt = state.get("nextDueMs")
                if nxt is not None and nxt <= now:
                    state["nextDueMs"] = schedule.first_due_at_or_after(now + 1) if not schedule.once else nxt
                changed = True
            if bool(state.get("enabled", True)) != enabled:
                changed = True
            state["enabled"] = enabled
            if not changed:
                return state
        self._save_state(tenant, flow_id, state)
        return state

    def _materialise(self, flows: list, now_ms: int, capped: list[dict[str, Any]] | None = None) -> list[str]:
        from .runner import create_scheduled_run

        due: list[tuple[int, int, Tenant, Any, Schedule]] = []
        for tenant, rec in flows:
            schedule = Schedule.from_params(rec.doc.get("scheduleParams"))
            if schedule is None:
                continue
            state = self._state(tenant, rec.id)
            if state is None or state.get("schedule") != schedule.fingerprint() or \
                    bool(state.get("enabled", True)) != (str(rec.doc.get("state", "enabled")).lower() == "enabled"):
                state = self._sync_state(tenant, rec.id, rec.doc)
            if state is None or not state.get("enabled", True):
                continue
            times, nxt = schedule.due_times(state.get("nextDueMs"), now_ms)
            times = times[-MAX_RUNS_PER_MOVE:]
            if not times:
                continue
            if capped is not None and schedule.backfill and not schedule.once:
                missed = (now_ms - state["nextDueMs"]) // schedule.period_ms + 1
                if missed > len(times):
                    capped.append({"flowId": rec.id, "dueTimes": missed, "runs": len(times)})
            if state.get("firstDueMs") is None:
                state["firstDueMs"] = times[0]
                state["initialWindowStartMs"] = schedule.initial_window_start(times[0])
            state["nextDueMs"] = nxt
            self._save_state(tenant, rec.id, state)
            for t in times:
                due.append((t, rec.seq, tenant, rec, schedule))
        due.sort(key=lambda d: (d[0], d[1]))
        created = []
        for t, _seq, tenant, rec, _schedule in due:
            run_id = create_scheduled_run(self.platform, tenant, rec.doc, t)
            created.append(run_id)
            self._enqueue(tenant, run_id)
        return created

    def _requeue_scheduled(self) -> None:
        pending = []
        for tenant in _tenants(self.platform, "run"):
            for rec in self.platform.store.select(tenant, "run", where="state = ?", params=["scheduled"]):
                pending.append((rec.seq, tenant, rec.id))
        for _seq, tenant, run_id in sorted(pending, key=lambda p: p[0]):
            self._enqueue(tenant, run_id)

    # -- the worker ---------------------------------------------------------------------------------------------------
    def _enqueue(self, tenant: Tenant, run_id: str) -> None:
        with self._cv:
            key = (tenant, run_id)
            if key in self._queued:
                return
            self._queued.add(key)
            self._queue.append(key)
            self._cv.notify_all()

    def _work(self) -> None:
        from .runner import execute_run

        wall_clock = not self.platform.clock.deterministic
        while True:
            with self._cv:
                while not self._queue and not self._stopping:
                    if not self._cv.wait(timeout=self.poll_seconds) and wall_clock:
                        break
                if self._stopping:
                    return
                item = self._queue.popleft() if self._queue else None
                self._busy = item is not None
            if item is None:
                try:
                    self.tick()
                except Exception:  # pragma: no cover - keep the worker alive
                    log.exception("scheduler tick failed")
                continue
            tenant, run_id = item
            try:
                execute_run(self.platform, tenant, run_id)
            except Exception:  # pragma: no cover - execute_run records its own failures
                log.exception("run %s failed unexpectedly", run_id)
            finally:
                with self._cv:
                    self._queued.discard(item)
                    self.executed += 1
                    self._busy = False
                    self._cv.notify_all()


def attach(platform: Platform) -> Scheduler:
    """Install and start the scheduler of ``platform`` (called by :func:`aep_magics.local.start`)."""
    scheduler = Scheduler(platform)
    platform.scheduler = scheduler
    scheduler.start()
    return scheduler


def _tenants(platform: Platform, kind: str) -> list[Tenant]:
    from .datalake import _tenants as tenants

    return sorted(tenants(platform, kind))
