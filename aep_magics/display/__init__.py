"""How results look: every object here renders itself (``_repr_mimebundle_``: ``text/plain`` + ``text/html``, and an
ipywidgets view where enabled) and knows nothing about HTTP.

``options`` holds the rendering settings; ``%config AEPMagics.display_limit`` / ``.widgets`` write to it, plain Python
may set it directly. Importing this package loads only the standard library (pandas and ipywidgets load on use).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DisplayOptions:
    #: Table rows shown per page.
    display_limit: int = 20
    #: Use ipywidgets views (tabs, trees) where ipywidgets is importable.
    widgets: bool = True
    #: JSON tree nodes rendered before "… more" (the data stays complete in ``.body``).
    max_tree_nodes: int = 1500
    #: Lines of JSON in a text/plain view.
    max_text_lines: int = 40


options = DisplayOptions()

from .lineage import Lineage, LineageNode
from .results import (
    AuthCard,
    CurlView,
    DryRun,
    Renderable,
    Request,
    Result,
    mask_secrets,
)
from .tables import ListResult, Page, RunsResult

__all__ = [
    "AuthCard",
    "CurlView",
    "DisplayOptions",
    "DryRun",
    "Lineage",
    "LineageNode",
    "ListResult",
    "Page",
    "Renderable",
    "Request",
    "Result",
    "RunsResult",
    "mask_secrets",
    "options",
]
