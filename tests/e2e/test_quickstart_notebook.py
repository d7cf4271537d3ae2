"""notebooks/quickstart.ipynb runs top to bottom in a real Jupyter kernel (nbclient), on the
embedded default model, and ends with a verified-citations answer and a saved artifact."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_quickstart_notebook_runs_top_to_bottom(testdocs):
    nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    client.execute()
    outputs = ["".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                       for o in cell.get("outputs", [])) for cell in nb.cells
               if cell.cell_type == "code"]
    assert all("Error" not in o for o in outputs)
    assert "CYBER" in outputs[1] and "screenplay" in outputs[1] and "3 scenes" in outputs[1]
    assert "('Sc. 1', 'EXT. PARK" in outputs[1]
    assert "of the model's 8,192-token window (fits)" in outputs[2]
    assert outputs[3].strip()
    assert "smollm2" in outputs[4] and "whole" in outputs[4] and "DeepSeek V4-Flash" in outputs[4]
    assert outputs[5].startswith("[1]") and "# Screenplay coverage" in outputs[5]
    assert "## Facts (computed by Longhand)" in outputs[3]
    assert "['BOB', 16, 2, '[Sc. 1]']" in outputs[6]  # the computed facts, as a table
