"""The trust heat map: needle depth (rows) x context length (columns), coloured by accuracy.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global figure state, no
display), so it is safe in UI threads, jobs and headless CI. Each cell shows its accuracy as a
percentage; a cell that was not run is left blank rather than drawn as zero.
Does not know where the cells came from (a TrustResult, or a stored run's JSON).
"""
from __future__ import annotations

import io
import math
from typing import Iterable, Mapping

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _get(cell, name: str):
    return cell[name] if isinstance(cell, Mapping) else getattr(cell, name)


def grid(cells: Iterable) -> tuple[list[int], list[float], list[list[float]]]:
    """(lengths, depths, accuracy[depth][length]) with NaN where a cell is missing."""
    values = {(int(_get(c, "length")), float(_get(c, "depth"))): float(_get(c, "accuracy"))
              for c in cells}
    lengths = sorted({k[0] for k in values})
    depths = sorted({k[1] for k in values})
    rows = [[values.get((n, d), math.nan) for n in lengths] for d in depths]
    return lengths, depths, rows


def render_png(cells: Iterable, title: str = "Trust check", dpi: int = 110) -> bytes:
    """The heat map as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lengths, depths, rows = grid(cells)
    if not lengths:
        raise ValueError("a heat map needs at least one cell")
    width = min(12.0, 2.8 + 1.1 * len(lengths))
    height = min(10.0, 2.2 + 0.55 * len(depths))
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(rows, cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto",
                      interpolation="nearest")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if not math.isnan(value):
                dark = value < 0.2 or value > 0.85  # the ends of RdYlGn are dark
                ax.text(c, r, f"{value:.0%}", ha="center", va="center", fontsize=9,
                        color="white" if dark else "black")
    ax.set_xticks(range(len(lengths)), [f"{n:,}" for n in lengths])
    ax.set_yticks(range(len(depths)), [f"{d:g}%" for d in depths])
    ax.set_xlabel("prompt length (tokens)")
    ax.set_ylabel("needle depth")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label="facts found")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
