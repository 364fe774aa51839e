"""SQL results and connection parameters as they show in a notebook (``%%aep_query``, ``%aep_query --connection``).

A :class:`QueryResult` is a paged table (:class:`~aep_magics.display.tables.ListResult`: ``text/plain`` and
sanitizer-safe ``text/html``, ``display_limit`` rows a page) over the rows of one statement; ``.to_dataframe()``
gives all of them. :class:`QueryWait` shows how long a statement has been running once it takes a while;
:class:`BarChart` (:func:`bar_chart` over two columns of a DataFrame) draws labelled values as text and CSS bars.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..sql import unique_names
from .results import Renderable, esc
from .tables import ListResult, Page


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


class QueryResult(ListResult):
    """The rows of a SQL statement (each row a tuple, in ``columns`` order), paged; or the command tag of a
    statement without rows (``SET``, ``DROP TABLE``, a ``CREATE TABLE … AS SELECT``)."""

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, status: str = "",
                 rowcount: int | None = None, elapsed: float | None = None, note: str | None = None,
                 title: str = "query", stored_as: str | None = None):
        self.labels = unique_names(columns)  # a row is shown as a mapping of them
        #: the notebook variable holding every row as a DataFrame (``-o NAME``), named in the footer
        self.stored_as = stored_as
        super().__init__("rows", list(rows), columns=self.labels or ["status"], title=title, note=note)
        self.command = status
        self.rowcount = len(self.items) if rowcount is None else rowcount
        self.elapsed = elapsed
        self._frame: Any = None

    @property
    def has_rows(self) -> bool:
        return bool(self.labels)

    def row(self, item: Any) -> dict[str, Any]:
        return dict(zip(self.labels, item))

    def page(self, n: int = 1, size: int | None = None) -> Page:
        return _QueryPage(self, n, size)

    def to_dataframe(self, all_columns: bool = False) -> Any:
        """Every row kept, as a pandas DataFrame (built once)."""
        if self._frame is None:
            import pandas as pd

            self._frame = pd.DataFrame.from_records(self.items, columns=self.labels) if self.items else \
                pd.DataFrame({label: [] for label in self.labels})
        return self._frame

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, slice)):
            return self.items[key]
        return self.to_dataframe()[key]

    def _heading(self) -> str:
        took = f" in {self.elapsed:.1f} s" if self.elapsed is not None else ""
        if not self.has_rows:
            return f"{self.title}: {self.command or 'done'}{took}"
        kept = len(self.items)
        if self.rowcount > kept:
            return f"{self.title}: first {kept:,} of {_plural(self.rowcount, 'row')}{took}"
        return f"{self.title}: {_plural(kept, 'row')}{took}"

    def _text(self) -> str:
        if not self.has_rows:
            return "\n".join([self._heading()] + ([self.note] if self.note else []))
        return super()._text()

    def _html(self) -> str:
        if not self.has_rows:
            note = f'<div class="aep-dim">{esc(self.note)}</div>' if self.note else ""
            return f'<div class="aep-card"><div><span class="aep-kind">{esc(self._heading())}</span></div>{note}</div>'
        return super()._html()


class _QueryPage(Page):
    def footer(self) -> str:
        result = self.result
        if not isinstance(result, QueryResult) or not result.stored_as or not result.items:
            return super().footer()
        start, end = self.bounds
        return f"rows {start + 1:,}–{end:,} of {len(result.items):,} · {result.stored_as} holds every row"


class ConnectionView(Renderable):
    """How to reach Query Service from outside the notebook: a psql command and a SQLAlchemy URL, each with the
    access token as the placeholder ``{ACCESS_TOKEN}`` (never the token)."""

    def __init__(self, where: str, psql: str, url: str, python: str):
        self.where = where
        self.psql = psql
        self.url = url
        self.python = python

    def _lines(self) -> list[tuple[str, str]]:
        return [("psql", self.psql), ("SQLAlchemy URL", self.url), ("jupysql", self.python)]

    def _text(self) -> str:
        lines = [f"Query Service: {self.where}"]
        lines += [f"{label}: {value}" for label, value in self._lines()]
        lines.append("{ACCESS_TOKEN}: the session's access token (aep_magics.sql.engine() fills it in for you)")
        return "\n".join(lines)

    def _html(self) -> str:
        rows = "".join(f"<tr><th>{esc(label)}</th><td><code>{esc(value)}</code></td></tr>"
                       for label, value in self._lines())
        return (f'<div class="aep-card"><div><span class="aep-kind">Query Service: {esc(self.where)}</span></div>'
                f'<table class="aep-table">{rows}</table><div class="aep-dim">{{ACCESS_TOKEN}}: the session\'s access '
                "token (aep_magics.sql.engine() fills it in for you)</div></div>")


class QueryWait:
    """Elapsed time of a statement that takes a while: nothing for the first ``after`` seconds, then one line
    ("query running … Ctrl-C cancels it"); with widgets, a label beside it counts the seconds. Nothing is cleared or
    updated in place but the widget's own value (nbval compares outputs)."""

    def __init__(self, after: float = 2.0, *, use_widgets: bool = True, quiet: bool = False,
                 show: Callable[[dict[str, str]], None] | None = None):
        self.after = after
        self.use_widgets = use_widgets
        self.quiet = quiet
        self.shown = False
        self.label: Any = None
        self._show = show

    def __call__(self, elapsed: float) -> None:
        if self.quiet or elapsed < self.after:
            return
        if not self.shown:
            self.shown = True
            text = "query running … Ctrl-C cancels it"
            bundle = {"text/plain": text, "text/html": f'<div class="aep-progress">{esc(text)}</div>'}
            from .widgets import widgets_available

            if self.use_widgets and widgets_available():
                import ipywidgets as w

                self.label = w.Label(value=f"{elapsed:.0f} s")
                bundle = {**w.HBox([w.Label(value="query running (Ctrl-C cancels it):"), self.label])
                          ._repr_mimebundle_(), **bundle}
            if self._show is not None:
                self._show(bundle)
            else:
                from IPython.display import display

                display(bundle, raw=True)
        if self.label is not None:
            self.label.value = f"{elapsed:.0f} s"


class BarChart(Renderable):
    """A horizontal bar chart of labelled values: text bars (``█``) in ``text/plain``, CSS bars in a plain HTML
    table (no SVG, no script: an untrusted notebook, GitHub and nbviewer show it as it is)."""

    def __init__(self, labels: Sequence[Any], values: Sequence[Any], *, title: str = "", max_bars: int = 30):
        pairs = [(str(label), float(value or 0)) for label, value in zip(labels, values)]
        self.title = title
        self.hidden = max(0, len(pairs) - max_bars)
        self.bars = pairs[:max_bars]

    def _caption(self) -> str:
        more = f" (the first {len(self.bars)}; {self.hidden:,} more not shown)" if self.hidden else ""
        return f"{self.title}{more}"

    @staticmethod
    def _number(value: float) -> str:
        return f"{int(value):,}" if value.is_integer() else f"{value:,.2f}"

    def _text(self) -> str:
        if not self.bars:
            return f"{self.title}: no rows"
        peak = max(abs(v) for _, v in self.bars) or 1.0
        width = max(len(label) for label, _ in self.bars)
        lines = [self._caption()] if self.title else []
        for label, value in self.bars:
            bar = "█" * (max(1, round(30 * abs(value) / peak)) if value else 0)
            lines.append(f"  {label.ljust(width)}  {bar.ljust(31)} {self._number(value)}")
        return "\n".join(lines)

    def _html(self) -> str:
        if not self.bars:
            return f"<div>{esc(self.title)}: no rows</div>"
        peak = max(abs(v) for _, v in self.bars) or 1.0
        cell = "padding:0 8px 0 0;border:none;text-align:left;white-space:nowrap;background-color:transparent"
        rows = []
        for label, value in self.bars:
            px = max(2, round(300 * abs(value) / peak)) if value else 0
            bar = (f'<span style="display:inline-block;vertical-align:middle;height:10px;width:{px}px;'
                   f'background-color:#1473e6"></span>') if px else ""
            rows.append(f'<tr><td style="{cell}">{esc(label)}</td> <td style="{cell};width:304px">{bar}</td> '
                        f'<td style="{cell};text-align:right">{esc(self._number(value))}</td></tr>')
        return (f'<table class="aep-chart aep-bar-chart" style="border-collapse:collapse;border:none;'
                f'font-size:11px;line-height:14px;margin:4px 0;width:auto"><caption style="caption-side:top;text-align:left;'
                f'padding:2px 0">{esc(self._caption())}</caption><tbody>{"".join(rows)}</tbody></table>')


def bar_chart(data: Any, label: str, value: str, *, title: str | None = None, max_bars: int = 30) -> BarChart:
    """A :class:`BarChart` of two columns of a pandas DataFrame (or a :class:`QueryResult`), in row order.

    Example: ``bar_chart(by_country, "country", "orders", title="Orders per country")``
    """
    frame = data.to_dataframe() if isinstance(data, QueryResult) else data
    return BarChart(list(frame[label]), list(frame[value]), title=title or f"{value} per {label}", max_bars=max_bars)
