"""Page-wide CSS the tabs share: tables readable on a laptop (1366x768) and in a narrow window
(800 px).

Gradio's wrapped table cells use `word-break: break-word`, which cuts a word in the middle
("Versi|on", "Tok|ens") as soon as its column is narrower than the word, and its column
widths are fixed from `column_widths`. Here body cells wrap between words (a word longer than
its column may still break, rather than hide), header labels are kept whole, and a table wider
than the window scrolls sideways; the tabs give short columns widths in px that hold their
longest word (tab_library.DOC_WIDTHS). Does not know the tabs or their data.
"""
from __future__ import annotations

TABLE_CSS = """
.table-wrap .wrap, .table-wrap span.text.expanded, .table-wrap .cell-wrap > span {
  word-break: normal !important; overflow-wrap: break-word !important; hyphens: none; }
.table-wrap th .wrap, .table-wrap th .header-content { word-break: keep-all !important;
  overflow-wrap: normal !important; }
.table-wrap { overflow-x: auto; }
"""

HEAD = f"<style>{TABLE_CSS}</style>"
