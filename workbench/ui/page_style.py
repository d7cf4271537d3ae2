"""Page-wide CSS the tabs share: tables readable on a laptop (1366x768) and in a narrow window
(800 px).

Gradio's wrapped table cells use `word-break: break-word`, which lets a column shrink below
its longest word and then cuts words in the middle ("Versi|on", "scree|nplay"). Here cells
wrap between words only (a word longer than its column may still break, rather than hide),
header labels are never cut, and a table wider than the window scrolls sideways instead of
squeezing its columns. Does not know the tabs or their data.
"""
from __future__ import annotations

TABLE_CSS = """
.table-wrap .wrap, .table-wrap span.text.expanded, .table-wrap .cell-wrap > span {
  word-break: normal !important; overflow-wrap: break-word !important; hyphens: none; }
.table-wrap th span, .table-wrap th .header-content { word-break: keep-all !important;
  overflow-wrap: normal !important; }
.table-wrap { overflow-x: auto; }
"""

HEAD = f"<style>{TABLE_CSS}</style>"
