"""The budget against the embedded default's real 8K window: the whole Apollo 11 log is refused
with its figures; an explicit map-reduce plan splits it at anchors, each part counted exactly."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from synthesis_docs import A11_TEC, CYBER_BOB, SLICE_BYTES, a11_slice

from workbench.errors import BudgetExceeded
from workbench.synthesis.budget import plan_chunks
from workbench.synthesis.mapreduce import map_builder
from workbench.synthesis.templates import get_template


def test_whole_apollo_log_is_refused_with_its_budget(wb, testdocs, backend):
    (res,) = wb.import_files("p", [testdocs / A11_TEC])
    assert res.document.tokens > 150_000
    wb.use_backend(backend)
    with pytest.raises(BudgetExceeded) as err:
        wb.synthesize("p", "pacing", documents=[res.document.id], max_new_tokens=64)
    budget = err.value.budget
    assert budget.window == backend.context_window == 8192
    assert budget.prompt_tokens > 150_000 and not budget.fits
    assert budget.sources[0].tokens > 150_000 and budget.reserved_output == 64
    message = str(err.value)
    assert f"{budget.needed:,} of the model's 8,192-token window" in message
    assert "--map-reduce" in message and "TEC" in message
    assert wb.jobs.store.jobs() == []  # refused before any job existed


def test_cli_refuses_with_exit_code_2_and_shows_the_budget(data_dir, testdocs, tmp_path):
    slice_path = a11_slice(testdocs, tmp_path / "a11_slice", 60_000)
    run = [sys.executable, "-m", "workbench", "--data-dir", str(data_dir)]
    subprocess.run(run + ["new-project", "p"], check=True, capture_output=True)
    subprocess.run(run + ["import", "p", str(slice_path)], check=True, capture_output=True)
    out = subprocess.run(run + ["synthesize", "p", "--prompt", "Summarise.", "--json"],
                         capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert "do not fit the model's window" in out.stderr and "8,192" in out.stderr
    assert out.stdout == ""
    status = subprocess.run(run + ["artifacts", "p", "--json"], capture_output=True, text=True)
    assert json.loads(status.stdout) == []


def test_map_reduce_chunks_cover_every_section_at_anchors(wb, testdocs, backend, tmp_path):
    (res,) = wb.import_files("p", [a11_slice(testdocs, tmp_path / "a11_slice", SLICE_BYTES)])
    plan = wb.use_backend(backend) or wb.plan_synthesis(
        "p", "pacing", documents=[res.document.id], strategy="map-reduce", map_tokens=32)
    assert not plan.budget.fits and 25_000 < plan.budget.prompt_tokens < 40_000
    chunks = plan_chunks(backend, plan.sources, map_builder(get_template("pacing"), "", 1), 32)
    sections = wb.sections(res.document.id)
    assert [s.id for c in chunks for s in c.sections] == [s.id for s in sections]
    assert len(chunks) >= 4
    for c in chunks:
        assert c.prompt_tokens + 32 <= backend.context_window
        assert c.label.endswith(f"[{c.first_anchor}]–[{c.last_anchor}]")
    small = plan_chunks(backend, plan.sources, map_builder(get_template("pacing"), "", 1), 32,
                        max_prompt=3000)
    assert len(small) > len(chunks)
    assert all(c.prompt_tokens <= 3000 for c in small)
    assert [s.id for c in small for s in c.sections] == [s.id for s in sections]


def test_a_small_screenplay_fits_whole(wb, testdocs, backend):
    (res,) = wb.import_files("p", [testdocs / CYBER_BOB])
    wb.use_backend(backend)
    plan = wb.plan_synthesis("p", "coverage", max_new_tokens=256)
    assert plan.budget.fits
    assert plan.budget.prompt_tokens == backend.count_tokens(plan.packed.messages)
    (src,) = plan.budget.sources
    assert src.document_ids == (res.document.id,)
    assert 0 < src.tokens < plan.budget.prompt_tokens
    assert src.tokens + plan.budget.overhead_tokens == pytest.approx(plan.budget.prompt_tokens,
                                                                     abs=4)
