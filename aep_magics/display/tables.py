"""Lists as tables: selected columns, paged at ``options.display_limit`` rows ("rows 1–20 of 2,000").

A :class:`ListResult` keeps every item (``.items``, ``len()``, iteration, ``[i]``); only one page is ever rendered,
so a 2,000-item list stays a few kilobytes of output. ``.page(n)`` renders page ``n``; ``.to_dataframe()`` gives
every row as a pandas DataFrame (pandas loads then, not before).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from collections.abc import Iterator, Sequence
from typing import Any

from ..runs import as_run, run_activities, run_batch_ids
from .results import (
    Renderable,
    Request,
    badge,
    curl_details,
    epoch_text,
    esc,
    mask_secrets,
    status_text,
    tone_of,
)

#: Columns shown per kind of list (dotted paths into each item); other kinds get their first scalar keys.
COLUMNS: dict[str, list[str]] = {
    "connectionSpecs": ["id", "name", "providerId", "version", "attributes.category"],
    "connections": ["id", "name", "connectionSpec.id", "state", "createdAt"],
    "sourceConnections": ["id", "name", "baseConnectionId", "params.tableName", "createdAt"],
    "targetConnections": ["id", "name", "params.dataSetId", "data.format", "createdAt"],
    "flowSpecs": ["id", "name", "providerId", "version"],
    "flows": ["id", "name", "state", "flowSpec.id", "scheduleParams.frequency", "createdAt"],
    "schemas": ["title", "$id", "version"],
    "fieldgroups": ["title", "$id", "version"],
    "mixins": ["title", "$id", "version"],
    "classes": ["title", "$id", "version"],
    "datatypes": ["title", "$id", "version"],
    "dataSets": ["id", "name", "schemaRef.id", "created"],
    "batches": ["id", "status", "recordCount", "failedRecordCount", "created"],
    "mappingSets": ["id", "name", "version", "status", "createdDate"],
    "sandboxes": ["name", "title", "type", "state", "isDefault"],
    "tables": ["name", "path", "type", "canPreview", "canFetchSchema"],
    "columns": ["name", "type", "xdm.type", "meta:xdmType"],
    "files": ["dataSetFileId", "name", "records", "size", "length"],
}
TIME_COLUMNS = frozenset(
    {"created", "updated", "createdAt", "updatedAt", "createdDate", "modifiedDate", "started", "completed"}
)
CELL_WIDTH = 60


def get_path(item: Any, path: str) -> Any:
    """``item["a"]["b"]`` for ``"a.b"`` (keys containing dots are tried whole first)."""
    if isinstance(item, dict) and path in item:
        return item[path]
    value = item
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def cell_text(value: Any, column: str = "", width: int = CELL_WIDTH) -> str:
    if value is None:
        return ""
    if column.split(".")[-1] in TIME_COLUMNS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return epoch_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        text = json.dumps(mask_secrets(value), ensure_ascii=False, default=str)
    elif isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        text = str(int(value))
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def default_columns(items: Sequence[Any], limit: int = 8) -> list[str]:
    columns: list[str] = []
    for item in items[:50]:
        if not isinstance(item, dict):
            return ["value"]
        for key, value in item.items():
            if key not in columns and not isinstance(value, (dict, list)) and not str(key).startswith("_"):
                columns.append(key)
    preferred = [c for c in ("id", "name", "title") if c in columns]
    rest = [c for c in columns if c not in preferred]
    return (preferred + rest)[:limit] or ["value"]


class ListResult(Renderable):
    """A list of platform objects (connection specs, flows, runs, field groups, datasets, batches …) as a table."""

    def __init__(
        self,
        kind: str,
        items: Sequence[Any],
        *,
        columns: Sequence[str] | None = None,
        body: Any = None,
        status: int | None = None,
        request: Request | None = None,
        calls: Sequence[Request] = (),
        title: str | None = None,
        note: str | None = None,
    ):
        self.kind = kind
        self.items = list(items)
        self.columns = list(columns) if columns else (COLUMNS.get(kind) or default_columns(self.items))
        self.body = body if body is not None else self.items
        self.status = status
        self.calls = list(calls)
        self.request = request if request is not None else (self.calls[-1] if self.calls else None)
        self.title = title or kind
        self.note = note

    # -- data access -------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, slice)):
            return self.items[key]
        return self.body[key]

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except (KeyError, IndexError, TypeError):
            return default

    @property
    def ids(self) -> list[Any]:
        return [get_path(item, "id") if get_path(item, "id") is not None else get_path(item, "$id") for item in self.items]

    @property
    def curl(self) -> str:
        return self.request.curl if self.request is not None else ""

    def row(self, item: Any) -> dict[str, Any]:
        """One item as shown: its selected columns."""
        return {c: (get_path(item, c) if c != "value" or isinstance(item, dict) else item) for c in self.columns}

    def rows(self) -> list[dict[str, Any]]:
        """Every row as shown (a page formats only its own rows)."""
        return [self.row(item) for item in self.items]

    def page(self, n: int = 1, size: int | None = None) -> Page:
        """Page ``n`` (1-based) of ``size`` rows (default ``display_limit``)."""
        return Page(self, n, size)

    def to_dataframe(self, all_columns: bool = False) -> Any:
        """Every row as a pandas DataFrame: the shown columns, or every (flattened) field with ``all_columns``."""
        import pandas as pd

        if all_columns and all(isinstance(item, dict) for item in self.items):
            return pd.json_normalize(self.items)
        return pd.DataFrame(self.rows(), columns=self.columns)

    # -- rendering ---------------------------------------------------------------------------------------------

    def _heading(self) -> str:
        count = len(self.items)
        return f"{self.title}: {count:,} item{'s' if count != 1 else ''}"

    def _text(self) -> str:
        return self.page(1)._text()

    def _html(self) -> str:
        return self.page(1)._html()

    def _extra_text(self) -> str:
        return ""

    def _extra_html(self) -> str:
        return ""


class Page(Renderable):
    """One page of a :class:`ListResult`."""

    def __init__(self, result: ListResult, n: int = 1, size: int | None = None):
        from . import options

        self.result = result
        self.size = max(1, size or options.display_limit)
        pages = max(1, -(-len(result.items) // self.size))
        self.n = min(max(1, n), pages)
        self.pages = pages

    @property
    def bounds(self) -> tuple[int, int]:
        start = (self.n - 1) * self.size
        return start, min(start + self.size, len(self.result.items))

    def rows(self) -> list[dict[str, Any]]:
        start, end = self.bounds
        return [self.result.row(item) for item in self.result.items[start:end]]

    def footer(self) -> str:
        total = len(self.result.items)
        start, end = self.bounds
        if total == 0:
            return "no rows"
        text = f"rows {start + 1:,}–{end:,} of {total:,}"
        if self.pages > 1:
            following = self.n + 1 if self.n < self.pages else 1
            text += f" · .page({following}) for more, .to_dataframe() for all"
        return text

    def _text(self) -> str:
        result = self.result
        rows = self.rows()
        columns = result.columns
        cells = [[cell_text(row.get(c), c, 40) for c in columns] for row in rows]
        start = self.bounds[0]
        index_width = len(str(start + len(rows))) if rows else 1
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        lines = [result._heading()]
        if result.note:
            lines.append(result.note)
        extra = result._extra_text()
        if extra:
            lines.append(extra)
        if rows:
            lines.append(" " * index_width + "  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
            for i, row in enumerate(cells):
                number = str(start + i + 1).rjust(index_width)
                lines.append(number + "  " + "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
        lines.append(self.footer())
        return "\n".join(lines)

    def _html(self) -> str:
        result = self.result
        rows = self.rows()
        start = self.bounds[0]
        head = " ".join(f"<th>{esc(c)}</th>" for c in result.columns)
        body = []
        for i, row in enumerate(rows):
            tds = []
            for c in result.columns:
                value = row.get(c)
                text = cell_text(value, c)
                if c in ("status", "state") and text:
                    tds.append(f"<td>{badge(text, tone_of(text))}</td>")
                else:
                    tds.append(f"<td>{esc(text)}</td>")
            body.append(f"<tr><th>{start + i + 1}</th> {' '.join(tds)}</tr>")
        note = f'<div class="aep-dim">{esc(result.note)}</div>' if result.note else ""
        table = (
            '<table class="dataframe aep-table" border="1"><thead><tr style="text-align:right"><th></th> '
            f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            if rows
            else ""
        )
        curl = curl_details(result.calls or [result.request]) if result.request is not None else ""
        return (
            f'<div class="aep-card"><div><span class="aep-kind">{esc(result._heading())}</span>'
            f"{badge(status_text(result.status), tone_of(result.status)) if result.status else ''}</div>{note}"
            f"{result._extra_html()}{table}<div class=\"aep-dim\">{esc(self.footer())}</div>{curl}</div>"
        )


# -- flow runs ---------------------------------------------------------------------------------------------------

CHART_BARS = 30
RUN_COLUMNS = ["id", "status", "started", "records in", "records out", "failed", "duration", "batch", "errors"]
UNFINISHED = frozenset({"scheduled", "inprogress", "in_progress", "pending", "queued", "running", "processing"})


def run_status(run: dict[str, Any]) -> str:
    status = get_path(run, "metrics.statusSummary.status") or run.get("state") or run.get("status") or "unknown"
    return str(status)


def run_finished(run: dict[str, Any]) -> bool:
    return run_status(run).lower() not in UNFINISHED


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def record_counts(run: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    """A run's records in, out and failed (``metrics.recordSummary``); None where the run does not say."""
    return (_int(get_path(run, "metrics.recordSummary.inputRecordCount")),
            _int(get_path(run, "metrics.recordSummary.outputRecordCount")),
            _int(get_path(run, "metrics.recordSummary.failedRecordCount")))


def run_row(run: dict[str, Any]) -> dict[str, Any]:
    started = get_path(run, "metrics.durationSummary.startedAtUTC")
    completed = get_path(run, "metrics.durationSummary.completedAtUTC")
    duration = None
    if _int(started) is not None and _int(completed) is not None:
        duration = f"{(int(completed) - int(started)) / 1000:.1f} s"
    records_in, records_out, failed = record_counts(run)
    errors = list(get_path(run, "metrics.statusSummary.errors") or [])
    for activity in run_activities(run):
        errors.extend(get_path(activity, "statusSummary.errors") or [])
        errors.extend(get_path(activity, "statusSummary.extensions.errors") or [])
    codes = []
    for error in errors:
        code = error.get("code") if isinstance(error, dict) else str(error)
        if code and code not in codes:
            codes.append(code)
    return {
        "id": run.get("id"),
        "status": run_status(run),
        "started": epoch_text(started) if started is not None else "",
        "records in": records_in,
        "records out": records_out,
        "failed": failed,
        "duration": duration,
        "batch": ", ".join(run_batch_ids(run)),
        "errors": ", ".join(codes),
        "_started": _int(started) or 0,
    }


class RunsResult(ListResult):
    """The runs of a flow: status, records in/out/failed, duration, errors, and a small chart of records per run.

    Each item is a :class:`~aep_magics.runs.Run` (the run's JSON, plus ``.batch_ids`` and ``.promotion``): with
    ``%aep_runs -o runs``, ``runs[0].batch_ids`` are the Catalog batches of the oldest run, ``runs[-1]`` the newest.
    ``.batch_ids`` here: every batch the runs wrote, oldest run first.
    """

    def __init__(self, flow_id: str, runs: Sequence[dict[str, Any]], **kw: Any):
        runs = [as_run(r) for r in runs]
        ordered = sorted(runs, key=lambda r: (_int(get_path(r, "metrics.durationSummary.startedAtUTC")) or 0,
                                              r.get("createdAt") or 0, str(r.get("id"))))
        kw.setdefault("title", f"Runs of flow {flow_id}")
        super().__init__("runs", ordered, columns=RUN_COLUMNS, **kw)
        self.flow_id = flow_id

    def row(self, item: Any) -> dict[str, Any]:
        return run_row(item)

    @property
    def finished(self) -> bool:
        return bool(self.items) and all(run_finished(r) for r in self.items)

    @property
    def batch_ids(self) -> list[str]:
        """Every Catalog batch these runs wrote, oldest run first (each run's own: ``runs[i].batch_ids``)."""
        return list(dict.fromkeys(b for run in self.items for b in run_batch_ids(run)))

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for run in self.items:
            status = run_status(run)
            counts[status] = counts.get(status, 0) + 1
        return counts

    def _summary_text(self) -> str:
        if not self.items:
            return "no runs yet"
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts().items()))
        totals = [0, 0, 0]
        for run in self.items:
            for i, count in enumerate(record_counts(run)):
                totals[i] += count or 0
        return f"{counts}; records in {totals[0]:,}, out {totals[1]:,}, failed {totals[2]:,}"

    def _extra_text(self) -> str:
        chart = records_chart_text(*self._chart_bars())
        return self._summary_text() + (f"\n{chart}" if chart else "")

    def _extra_html(self) -> str:
        return f"<div>{esc(self._summary_text())}</div>{records_chart_html(*self._chart_bars())}"

    def _chart_bars(self, max_bars: int = CHART_BARS) -> tuple[list[ChartBar], int]:
        """The chart's bars: the newest ``max_bars`` runs that moved records, oldest first; and how many runs moved
        records in all."""
        moved = [number for number, run in enumerate(self.items, 1)
                 if sum(count or 0 for count in record_counts(run)[1:]) > 0]
        bars = []
        for number in moved[-max_bars:]:  # only the shown runs are formatted
            row = run_row(self.items[number - 1])
            bars.append(ChartBar(number, str(row.get("id") or ""), str(row.get("started") or "")[:16],
                                 row.get("records out") or 0, row.get("failed") or 0))
        return bars, len(moved)


@dataclass(frozen=True)
class ChartBar:
    """One run in the records chart: its row number in the runs table, id, start (minute), records out and failed."""

    number: int
    id: str
    started: str
    out: int
    failed: int

    @property
    def label(self) -> str:
        return f"{self.out:,} out, {self.failed:,} failed"


BAR_PX = 300
BAR_CHARS = 30
OUT_COLOR, FAILED_COLOR = "#2e8540", "#c0392b"


def _caption(bars: Sequence[ChartBar], moved: int) -> str:
    if len(bars) < moved:
        return f"Records per run: the {len(bars)} newest of {moved:,} runs that moved records"
    return f"Records per run: {len(bars)} run{'s' if len(bars) != 1 else ''} that moved records"


def _scaled(value: int, peak: int, full: int, least: int) -> int:
    """``value`` on a ``full``-unit scale; never less than ``least`` for a non-zero value (40 beside 5,000 shows)."""
    if value <= 0:
        return 0
    return max(least, round(full * value / peak))


def records_chart_text(bars: Sequence[ChartBar], moved: int | None = None) -> str:
    """The records chart as text: per run its number, start, short id, a bar (█ out, ░ failed) and the counts."""
    if not bars:
        return ""
    peak = max(b.out + b.failed for b in bars) or 1
    width = len(str(bars[-1].number))
    lines = [f"{_caption(bars, len(bars) if moved is None else moved)} (█ out, ░ failed):"]
    for b in bars:
        bar = "█" * _scaled(b.out, peak, BAR_CHARS, 1) + "░" * _scaled(b.failed, peak, BAR_CHARS, 1)
        lines.append(f"  {str(b.number).rjust(width)}  {b.started}  {b.id[:8]}  {bar.ljust(BAR_CHARS + 1)} {b.label}")
    return "\n".join(lines)


def records_chart_html(bars: Sequence[ChartBar], moved: int | None = None) -> str:
    """The records chart as plain HTML: a table, one row per run (number, start, short id, a CSS bar, the counts).

    Only elements and inline styles that a notebook sanitizer keeps (no SVG, no ``<style>`` needed): untrusted
    JupyterLab, GitHub and nbviewer show the same chart, and its labels stay apart as text.
    """
    if not bars:
        return ""
    peak = max(b.out + b.failed for b in bars) or 1
    cell = "padding:0 8px 0 0;border:none;text-align:left;white-space:nowrap;background-color:transparent"
    rows = []
    for b in bars:
        spans = []
        for value, color in ((b.out, OUT_COLOR), (b.failed, FAILED_COLOR)):
            width = _scaled(value, peak, BAR_PX, 2)
            if width:
                spans.append(f'<span style="display:inline-block;vertical-align:middle;height:10px;width:{width}px;'
                             f'background-color:{color}"></span>')
        title = esc(f"run {b.number} {b.id}: {b.label}")
        rows.append(
            f'<tr title="{title}"><td style="{cell};text-align:right">{b.number}</td> '
            f'<td style="{cell}">{esc(b.started)}</td> <td style="{cell}"><code>{esc(b.id[:8])}</code></td> '
            f'<td style="{cell};width:{BAR_PX + 4}px">{"".join(spans)}</td> <td style="{cell}">{esc(b.label)}</td></tr>'
        )
    caption = esc(_caption(bars, len(bars) if moved is None else moved))
    legend = (f'<span style="color:{OUT_COLOR}">■</span> out, <span style="color:{FAILED_COLOR}">■</span> failed')
    return (
        f'<table class="aep-chart" style="border-collapse:collapse;border:none;font-size:11px;line-height:14px;'
        f'margin:4px 0;width:auto"><caption style="caption-side:top;text-align:left;padding:2px 0">{caption} '
        f'({legend})</caption><tbody>{"".join(rows)}</tbody></table>'
    )
