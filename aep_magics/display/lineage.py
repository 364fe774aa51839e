"""Lineage of a dataflow: base connection → source connection → flow (mapping, schedule) → target connection →
dataset → batches, as a chain of boxes (HTML) or of arrows (text)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .results import Renderable, Request, badge, copy_button, curl_details, esc, tone_of


@dataclass
class LineageNode:
    """One step of the chain; ``missing`` when the platform no longer has it (e.g. deleted)."""

    kind: str  # "base connection", "source connection", "flow", ...
    id: str | None
    name: str | None = None
    details: list[tuple[str, str]] = field(default_factory=list)
    status: str | None = None
    missing: bool = False

    def line(self) -> str:
        text = self.kind
        if self.id:
            text += f" {self.id}"
        if self.name:
            text += f' "{self.name}"'
        if self.missing:
            text += " (not found)"
        if self.status:
            text += f" [{self.status}]"
        if self.details:
            text += " · " + ", ".join(f"{k} {v}" for k, v in self.details)
        return text


class Lineage(Renderable):
    """Where a flow's data comes from and where it lands."""

    def __init__(self, flow_id: str, nodes: Sequence[LineageNode], *, calls: Sequence[Request] = ()):
        self.flow_id = flow_id
        self.nodes = list(nodes)
        self.calls = list(calls)
        self.request = self.calls[0] if self.calls else None

    @property
    def id(self) -> str:
        return self.flow_id

    def node(self, kind: str) -> LineageNode | None:
        return next((n for n in self.nodes if n.kind == kind), None)

    def __aep_reference__(self) -> str:
        return self.flow_id

    def _text(self) -> str:
        lines = [f"Lineage of flow {self.flow_id}"]
        for i, node in enumerate(self.nodes):
            lines.append(("  " if i == 0 else "  → ") + node.line())
        return "\n".join(lines)

    def _html(self) -> str:
        boxes = []
        for node in self.nodes:
            border = "#c0392b" if node.missing else "var(--jp-border-color1,#bbb)"
            ident = ""
            if node.id:
                ident = f"<div><code style='font-size:11px'>{esc(node.id)}</code>{copy_button(node.id)}</div>"
            name = f"<div>&ldquo;{esc(node.name)}&rdquo;</div>" if node.name else ""
            status = badge(node.status, tone_of(node.status)) if node.status else ""
            missing = badge("not found", "aep-bad") if node.missing else ""
            details = "".join(
                f"<div class='aep-dim' style='font-size:11px'>{esc(k)}: {esc(v)}</div>" for k, v in node.details
            )
            boxes.append(
                f"<div style='border:1px solid {border};border-radius:6px;padding:4px 8px;min-width:150px;"
                f"max-width:260px;word-break:break-all'><div style='font-weight:600'>{esc(node.kind)}{status}"
                f"{missing}</div>{ident}{name}{details}</div>"
            )
        arrow = " <div style='align-self:center;font-size:18px;padding:0 4px'>&rarr;</div> "
        chain = arrow.join(boxes)
        curl = curl_details(self.calls) if self.calls else ""
        return (
            f'<div class="aep-card"><div><span class="aep-kind">Lineage of flow</span> <code>{esc(self.flow_id)}</code>'
            f"</div><div style='display:flex;flex-wrap:wrap;gap:4px;align-items:stretch;margin:6px 0'>{chain}</div>"
            f"{curl}</div>"
        )


def describe(value: Any) -> str:
    return "" if value is None else str(value)
