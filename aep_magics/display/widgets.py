"""ipywidgets views, built only when ipywidgets is importable and ``options.widgets`` is on.

The widgets carry already-rendered, already-masked HTML: widget state (saved by nbclient into the notebook's
metadata) holds nothing the ``text/html`` view does not. Progress is shown by updating a bar's value in place:
no ``clear_output``, no ``display_id`` updates (both break nbval comparisons).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence
from typing import Any

from .results import esc

_available: bool | None = None


def widgets_available() -> bool:
    """True when ipywidgets can be imported (checked once, without importing it)."""
    global _available
    if _available is None:
        _available = importlib.util.find_spec("ipywidgets") is not None
    return _available


def tabbed_view(header_html: str, tabs: Sequence[tuple[str, str]]) -> Any:
    """A header above tabs (e.g. Response / Request / curl), each tab one HTML widget."""
    import ipywidgets as w

    children = [w.HTML(value=body) for _, body in tabs]
    tab = w.Tab(children=children)
    tab.titles = tuple(title for title, _ in tabs)
    return w.VBox([w.HTML(value=header_html), tab])


class Progress:
    """Progress of a wait loop (``%aep_runs --wait``).

    With widgets on, ``show()`` displays a live bar (an ``IntProgress`` and a "1 of 2 finished" label) whose output
    also carries ``text/plain`` and ``text/html``: a notebook read without the widget state shows that text, never
    a widget repr. ``finish()`` then leaves one readable line, as text and HTML, whatever the widgets setting:
    "runs: 2 of 2 finished in 3.2 s". ``quiet`` (``-q``) shows nothing at all. Nothing is cleared or updated in place (both break nbval comparisons).
    """

    def __init__(self, description: str, use_widgets: bool = True, *, quiet: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        self.description = description
        self.quiet = quiet
        self.clock = clock
        self.started = clock()
        self.done = 0
        self.total = 0
        self.bar: Any = None
        self.label: Any = None
        self.view: Any = None
        if use_widgets and not quiet and widgets_available():
            import ipywidgets as w

            self.bar = w.IntProgress(value=0, min=0, max=1, description=description, bar_style="info")
            self.label = w.Label(value="waiting")
            self.view = w.HBox([self.bar, self.label])

    def waiting_text(self) -> str:
        return f"{self.description}: waiting for every run to finish"

    def show(self) -> None:
        self.started = self.clock()
        if self.view is None:
            return
        from IPython.display import display

        bundle = dict(self.view._repr_mimebundle_())
        bundle["text/plain"] = self.waiting_text()
        bundle["text/html"] = f'<div class="aep-progress">{esc(self.waiting_text())}</div>'
        display(bundle, raw=True)

    def update(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        if self.bar is not None:
            self.bar.max = max(1, total)
            self.bar.value = min(done, max(1, total))
            self.label.value = f"{done} of {total} finished"

    def close(self) -> None:
        """Close the bar's widgets: their live views leave the notebook (the outcome line of :meth:`finish` stays)."""
        for widget in (self.view, self.bar, self.label):
            if widget is not None:
                widget.close()

    def line(self, ok: bool) -> str:
        """The outcome: ``runs: 2 of 2 finished in 3.2 s`` (``… stopped waiting after …`` when ``ok`` is False)."""
        seconds = max(0.0, self.clock() - self.started)
        count = f"{self.done} of {self.total} finished" if self.total else "no runs yet"
        if ok:
            return f"{self.description}: {count} in {seconds:.1f} s"
        return f"{self.description}: {count}; stopped waiting after {seconds:.1f} s"

    def finish(self, ok: bool) -> None:
        """Show the outcome line; a wait that did not finish (an error, Ctrl-C) also closes the live bar."""
        line = self.line(ok)
        if self.bar is not None:
            self.bar.bar_style = "success" if ok else "danger"
            self.label.value = line.split(": ", 1)[1]
            if not ok:
                self.close()
        if self.quiet:
            return
        from IPython.display import display

        share = self.done / self.total if self.total else 0.0
        color = "#2e8540" if ok else "#c0392b"
        html = (f'<div class="aep-progress"><span style="display:inline-block;vertical-align:middle;width:120px;'
                f'height:8px;background-color:#e5e5e5"><span style="display:inline-block;vertical-align:top;'
                f'height:8px;width:{round(120 * share)}px;background-color:{color}"></span></span> {esc(line)}</div>')
        display({"text/plain": line, "text/html": html}, raw=True)
