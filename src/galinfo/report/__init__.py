"""galinfo.report: the study's self-contained HTML page, results.json and figures."""

from galinfo.report.html import Figure, Section, TableBlock, render_html, write_text_atomic

__all__ = ["Figure", "Section", "TableBlock", "render_html", "write_text_atomic"]
