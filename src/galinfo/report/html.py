"""A self-contained HTML report: sections of plain text, tables and embedded figures."""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from galinfo.atomic import write_text

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1d232a;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #dde3ea;padding-bottom:.2em;margin-top:2em}
p.lead{color:#4a5563}figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #e4e8ee}
figcaption{color:#4a5563;font-size:.93em;margin-top:.3em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}
th,td{border:1px solid #dde3ea;padding:.3em .6em;text-align:right}th{background:#f3f6f9}
td:first-child,th:first-child{text-align:left}.ok{color:#137333;font-weight:600}.bad{color:#b3261e;font-weight:600}
nav a{margin-right:1em}
"""


@dataclass
class Figure:
    """A PNG figure and the plain-words caption under it."""

    path: Path
    caption: str
    folded: bool = False  # shown inside a closed <details> element, for the page to stay readable


@dataclass
class TableBlock:
    """A small table: header row, rows of cells (str or number), a caption."""

    header: Sequence[str]
    rows: Sequence[Sequence[object]]
    caption: str = ""


@dataclass
class Section:
    """A report section: title, paragraphs, tables, figures."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[TableBlock] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "".join(ch if ch.isalnum() else "-" for ch in self.title.lower())


def _cell(value: object) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}"
    else:
        text = str(value)
    if text in ("right", "yes", "agrees"):
        return f'<td class="ok">{html.escape(text)}</td>'
    if text in ("wrong", "no", "differs"):
        return f'<td class="bad">{html.escape(text)}</td>'
    return f"<td>{html.escape(text)}</td>"


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(Path(path).stem)}" src="data:image/png;base64,{data}">'


def render_html(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole page as one string, figures embedded as base64 PNG."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{html.escape(title)}</h1>", f'<p class="lead">{html.escape(subtitle)}</p>', "<nav>"]
    out += [f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections]
    out.append("</nav>")
    for s in sections:
        out.append(f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>')
        out += [f"<p>{html.escape(p)}</p>" for p in s.paragraphs]
        for t in s.tables:
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in t.header)
                       + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in t.rows]
            out.append("</tbody></table>")
            if t.caption:
                out.append(f'<p class="lead">{html.escape(t.caption)}</p>')
        for f in s.figures:
            fig = f"<figure>{_img(f.path)}<figcaption>{html.escape(f.caption)}</figcaption></figure>"
            if f.folded:
                fig = f"<details><summary>{html.escape(f.caption.split(':')[0])}</summary>{fig}</details>"
            out.append(fig)
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write text to ``path`` through a temporary file and a rename."""
    return write_text(path, text)
