"""The whole check on real documents with scripted backends: a perfect reader scores 1.0 in
every cell, a blind one 0.0; cancel, resume, storage, the summary's warning and the heat map."""
from __future__ import annotations

import struct

import pytest
from trust_docs import CYBER_BOB, MERCURY, SHERLOCK
from trust_backends import BlindBackend, MisCitingBackend, ReadingBackend

from engine.errors import Cancelled
from workbench.library.trust_store import TrustStore
from workbench.synthesis.runner import MemorySteps
from workbench.trust.check import run_check
from workbench.trust.heatmap import PNG_SIGNATURE, render_png
from workbench.trust.runner import TrustRequest, run_trust
from workbench.trust.summary import latest_trust

GRID = dict(lengths=("600", "1500"), depths=(0, 50, 100))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("doc", [SHERLOCK, CYBER_BOB, MERCURY], ids=["prose", "screenplay",
                                                                   "transcript"])
def test_a_perfect_reader_scores_one_everywhere(library, project_with, doc):
    project_with("P", doc)
    result = run_trust(TrustRequest("P", **GRID, seed=2), ReadingBackend(), library)
    assert {(c.length, c.depth) for c in result.cells} <= {
        (n, d) for n in (600, 1500) for d in (0.0, 50.0, 100.0)}
    assert len(result.cells) in (3, 6)  # the screenplay is shorter than 1,500 tokens
    assert all(c.accuracy == 1.0 and c.cited_accuracy == 1.0 for c in result.cells)
    assert result.score == 1.0 and result.cited_score == 1.0
    assert result.prompt_tokens > 0 and result.completion_tokens > 0


def test_a_blind_backend_scores_zero_and_a_mis_citing_one_loses_only_citations(
        library, project_with):
    project_with("Holmes", SHERLOCK)
    blind = run_trust(TrustRequest("Holmes", **GRID), BlindBackend(), library)
    assert len(blind.cells) == 6
    assert all(c.accuracy == 0.0 and c.cited_accuracy == 0.0 for c in blind.cells)
    assert blind.score == 0.0
    wrong = run_trust(TrustRequest("Holmes", **GRID), MisCitingBackend(), library)
    assert wrong.score == 1.0 and wrong.cited_score == 0.0


def test_several_needles_asked_together(library, project_with):
    project_with("Holmes", SHERLOCK)
    result = run_trust(TrustRequest("Holmes", lengths=("2000",), depths=(0, 60), needles=3,
                                    trials=2), ReadingBackend(), library)
    assert [c.depth for c in result.cells] == [0.0, 60.0]
    for cell in result.cells:
        assert cell.accuracy == 1.0 and len(cell.answers) == 2
        assert all(len(a["needles"]) == 3 for a in cell.answers)


def test_cancel_stops_between_cells_and_resume_asks_only_what_is_missing(
        library, project_with):
    project_with("Holmes", SHERLOCK)
    request = TrustRequest("Holmes", **GRID, seed=5)
    backend, steps, seen = ReadingBackend(), MemorySteps(), []

    def progress(p):
        seen.append(p)

    with pytest.raises(Cancelled):
        run_trust(request, backend, library, steps=steps, progress=progress,
                  should_stop=lambda: backend.calls >= 2)
    assert backend.calls == 2 and len(steps.results) == 1  # the interrupted cell is not kept
    resumed = ReadingBackend()
    result = run_trust(request, resumed, library, steps=steps)
    assert resumed.calls == 5 and result.score == 1.0
    assert seen[-1].steps_total == 6


def test_results_are_stored_per_model_and_warn_for_weak_lengths(library, project_with):
    project = project_with("Holmes", SHERLOCK)
    request = TrustRequest("Holmes", **GRID)
    _, good = run_check(library, ReadingBackend(), request)
    _, bad = run_check(library, BlindBackend(), request)
    assert good.project_id == project.id and good.score == 1.0
    assert len(good.cells) == 6 and good.cells[0]["answers"][0]["answer"]
    summary = latest_trust("Holmes", "scripted", "perfect-reader", library=library)
    assert summary.run_id == good.id and summary.score == 1.0
    assert summary.warns_for(500) is None and summary.warns_for(1400) is None
    beyond = summary.warns_for(5000)
    assert "longer than any" in beyond and "5,000" in beyond
    blind = latest_trust("Holmes", "scripted", "blind", library=library.data_dir)
    assert blind.run_id == bad.id
    warning = blind.warns_for(1200)
    assert "1,500 tokens" in warning and "0%" in warning and "depth 0%, 50%, 100%" in warning
    assert latest_trust("Holmes", "scripted", "never-run", library=library) is None
    assert latest_trust("Nope", "scripted", "blind", library=library) is None
    store = TrustStore.connect(library.db_path)
    try:
        assert [r.id for r in store.runs(project.id)] == [bad.id, good.id]
    finally:
        store.close()
    library.delete_project("Holmes")
    assert library.count_rows()["trust_runs"] == 0


def test_heat_map_png_has_a_cell_per_grid_point(library, project_with):
    project_with("Holmes", SHERLOCK)
    result = run_trust(TrustRequest("Holmes", **GRID), ReadingBackend(), library)
    png = render_png(result.cells, "Holmes")
    width, height = png_size(png)
    assert 300 < width < 2000 and 200 < height < 2000 and len(png) > 5000
    stored = [c.as_json() for c in result.cells[:4]]  # JSON cells render too; gaps stay blank
    assert png_size(render_png(stored))[0] > 300
    with pytest.raises(ValueError):
        render_png([])
