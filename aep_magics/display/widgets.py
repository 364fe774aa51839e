"""ipywidgets views, built only when ipywidgets is importable and ``options.widgets`` is on.

The widgets carry already-rendered, already-masked HTML: widget state (saved by nbclient into the notebook's
metadata) holds nothing the ``text/html`` view does not. Progress is shown by updating a bar's value in place:
no ``clear_output``, no ``display_id`` updates (both break nbval comparisons).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

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
    """A progress bar for a wait loop: an ``IntProgress`` when widgets are on, silent otherwise."""

    def __init__(self, description: str, use_widgets: bool = True):
        self.bar: Any = None
        if use_widgets and widgets_available():
            import ipywidgets as w

            self.bar = w.IntProgress(value=0, min=0, max=1, description=description, bar_style="info")

    def show(self) -> None:
        if self.bar is not None:
            from IPython.display import display

            display(self.bar)

    def update(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.max = max(1, total)
            self.bar.value = min(done, max(1, total))

    def finish(self, ok: bool) -> None:
        if self.bar is not None:
            self.bar.bar_style = "success" if ok else "danger"
