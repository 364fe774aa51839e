"""What a reader sees of an HTML output once styling and scripts are gone: the text, as a browser's ``innerText``
lays it out (blocks on their own lines, table cells apart, inline elements run on), and checks on that text.

Used on ``text/html`` outputs and nbconvert exports (``tests/test_display.py``, ``tests/test_rendering.py``); the
browser test reads the real ``innerText`` and applies the same checks.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: Elements whose content a reader never sees as text (scripts, stylesheets; SVG is dropped by the sanitizer but its
#: ``<title>`` text stays, which is exactly how chart labels ran together: it is kept here on purpose).
HIDDEN = frozenset({"script", "style", "head", "template"})
BLOCKS = frozenset({"address", "article", "aside", "blockquote", "body", "caption", "details", "div", "dl", "dd", "dt",
                    "fieldset", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html",
                    "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead",
                    "tr", "ul", "br"})
CELLS = frozenset({"td", "th"})
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})

#: A widget's repr where its view should be (what a notebook without widget state showed).
WIDGET_REPR = re.compile(r"\b(IntProgress|FloatProgress|HBox|VBox|Tab|Output|HTML|Label|Accordion|Button)\((value|"
                         r"children|description|layout|outputs|bar_style|max|min|selected_index|titles)?")

#: Text that only appears when adjacent inline elements lose their separation.
RUN_TOGETHER = {
    "status glued to a count (\"10 items200 OK\")": re.compile(r"[a-z]\d{3} (OK|Created|Accepted|No Content)\b"),
    "session card glued (\"AEP sessionAEP Local\")": re.compile(r"AEP session(AEP|Adobe)"),
    "chart labels glued (\"0 failed5304317f-…\")": re.compile(r"failed[0-9a-f]{8}"),
    "id glued to its copy button": re.compile(r"[0-9a-f]{6}copy\b"),
    "dry-run badge glued": re.compile(r"DRY RUNnothing"),
    "lineage title glued": re.compile(r"Lineage of flow[0-9a-f]"),
}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.pre = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in HIDDEN:
            self.hidden += 1
        elif tag in BLOCKS:
            self.parts.append("\n")
        if tag == "pre":
            self.pre += 1

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in BLOCKS:
            self.parts.append("\n")
        elif tag in CELLS:
            self.parts.append("\t")
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def visible_text(html: str) -> str:
    """The text of ``html`` laid out like ``innerText``: one line per block, a tab after each table cell."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return re.sub(r"\n\s*\n+", "\n", text).strip()


def text_problems(text: str) -> list[str]:
    """What is wrong with a rendered text: widget reprs, run-together labels (each with its context)."""
    problems = []
    for match in WIDGET_REPR.finditer(text):
        if match.group(2) or match.group(1) in ("IntProgress", "FloatProgress", "HBox", "VBox"):
            problems.append(f"widget repr: {text[max(0, match.start() - 40):match.end() + 60]!r}")
    for what, pattern in RUN_TOGETHER.items():
        for match in pattern.finditer(text):
            problems.append(f"{what}: {text[max(0, match.start() - 40):match.end() + 40]!r}")
    return problems


class _Outputs(HTMLParser):
    """The text of each element carrying a class (e.g. nbconvert's ``jp-OutputArea-output``), one entry per element."""

    def __init__(self, cls: str) -> None:
        super().__init__(convert_charrefs=True)
        self.cls = cls
        self.stack: list[tuple[str, bool]] = []
        self.depth = 0  # open elements with the class
        self.blocks: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        mine = self.cls in classes
        if mine and self.depth == 0:
            self.blocks.append([])
        self.depth += mine
        self.stack.append((tag, mine))
        if self.depth:
            self.blocks[-1].append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        while self.stack:
            open_tag, mine = self.stack.pop()
            if self.depth:
                self.blocks[-1].append(f"</{open_tag}>")
            self.depth -= mine
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.blocks[-1].append(data.replace("&", "&amp;").replace("<", "&lt;"))


def texts_of(html: str, cls: str) -> list[str]:
    """The visible text of every (outermost) element with class ``cls``."""
    parser = _Outputs(cls)
    parser.feed(html)
    parser.close()
    return [visible_text("".join(block)) for block in parser.blocks]
