"""Flow schedules: a flow's ``scheduleParams`` as due times (:class:`Schedule`), and the per-flow scheduling state
the scheduler and the runner share (store kind ``flowSchedule``, id = flow id: ``nextDueMs``, the schedule
fingerprint, ``enabled``, ``watermarkMs``). Schedule parameters as the Flow Service documents them:
https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/update-dataflows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..platform import Platform
    from ..store import Tenant

UNIT_MS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000, "week": 604_800_000}
FREQUENCIES = ("once", *UNIT_MS)
#: At most this many runs are created for one flow when the clock jumps over many due times.
MAX_CATCHUP_RUNS = 1000
STATE_KIND = "flowSchedule"


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def _int(value: Any, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class Schedule:
    """A flow's ``scheduleParams`` in milliseconds."""

    start_ms: int
    frequency: str
    interval: int = 1
    backfill: bool = True

    @classmethod
    def from_params(cls, params: dict[str, Any] | None) -> Schedule | None:
        if not params:
            return None
        start = _int(params.get("startTime"))
        frequency = str(params.get("frequency", "")).lower()
        if start is None or frequency not in FREQUENCIES:
            return None
        # startTime is epoch seconds; tolerate milliseconds (13 digits) as some clients send them.
        start_ms = start if start > 10_000_000_000 else start * 1000
        interval = max(1, _int(params.get("interval"), 1) or 1)
        return cls(start_ms, frequency, interval, _bool(params.get("backfill"), True))

    @property
    def once(self) -> bool:
        return self.frequency == "once"

    @property
    def period_ms(self) -> int:
        return 0 if self.once else UNIT_MS[self.frequency] * self.interval

    def fingerprint(self) -> str:
        return json.dumps([self.start_ms, self.frequency, self.interval, self.backfill])

    def first_due_at_or_after(self, t_ms: int) -> int | None:
        """The earliest due time ``>= t_ms`` (``None`` when a ``once`` schedule is already past it)."""
        if self.once:
            return self.start_ms if self.start_ms >= t_ms else None
        if t_ms <= self.start_ms:
            return self.start_ms
        k = -(-(t_ms - self.start_ms) // self.period_ms)
        return self.start_ms + k * self.period_ms

    def due_times(self, next_due_ms: int | None, now_ms: int) -> tuple[list[int], int | None]:
        """Due times in ``[next_due_ms, now_ms]`` to materialise, and the next due time after them.

        ``backfill`` false keeps only the latest; true keeps them all (the newest :data:`MAX_CATCHUP_RUNS`).
        """
        if next_due_ms is None or next_due_ms > now_ms:
            return [], next_due_ms
        if self.once:
            return [next_due_ms], None
        count = (now_ms - next_due_ms) // self.period_ms + 1
        last = next_due_ms + (count - 1) * self.period_ms
        keep = 1 if not self.backfill else min(count, MAX_CATCHUP_RUNS)
        dues = [last - i * self.period_ms for i in range(keep - 1, -1, -1)]
        return dues, last + self.period_ms

    def initial_window_start(self, first_due_ms: int) -> int:
        """Where the first window of a flow starts: the beginning of the data, or — ``backfill`` false — one
        period before the first run (only the data of the first interval)."""
        if self.once or self.backfill:
            return 0
        return first_due_ms - self.period_ms


def save_schedule_state(platform: Platform, tenant: Tenant, flow_id: str, doc: dict[str, Any]) -> None:
    store = platform.store
    now = platform.clock.peek_ms()
    with store.transaction():
        if store.get(tenant, STATE_KIND, flow_id) is None:
            store.insert(tenant, STATE_KIND, flow_id, doc, created=now, parent=flow_id)
        else:
            store.replace(tenant, STATE_KIND, flow_id, doc, updated=now, parent=flow_id)


def load_schedule_state(platform: Platform, tenant: Tenant, flow_id: str) -> dict[str, Any] | None:
    rec = platform.store.get(tenant, STATE_KIND, flow_id)
    return rec.doc if rec else None
