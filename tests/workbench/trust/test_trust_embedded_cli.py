"""The trust check on the embedded default model (SmolLM2-135M, 8K window) and a real novel,
through the real CLI: the grid has the requested cells, scores are shares, the result is stored
and the heat map is written; the same seed plans the same needles at the same places."""
from __future__ import annotations

import json
import struct

import pytest
from trust_docs import SHERLOCK

from workbench.cli import main
from workbench.library import Library
from workbench.trust.heatmap import PNG_SIGNATURE
from workbench.trust.runner import TrustRequest, plan_trust
from workbench.trust.summary import latest_trust

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedded():
    from pathlib import Path

    from engine.backends.factory import make_backend
    from workbench.config import Settings

    return make_backend(Settings().model, cache_dir=Path(Settings().cache_dir))


def test_trust_cli_on_the_embedded_model(data_dir, testdocs, tmp_path, capsys):
    assert main(["--data-dir", str(data_dir), "new-project", "Holmes"]) == 0
    with Library.open(data_dir) as lib:
        from workbench.importers import parse_file

        raw = (testdocs / SHERLOCK).read_bytes()
        lib.add_document("Holmes", parse_file(raw, "sherlock.txt"), raw, "sherlock.txt")
    capsys.readouterr()
    png = tmp_path / "heat.png"
    code = main(["--data-dir", str(data_dir), "trust", "Holmes", "--lengths", "1000,2000",
                 "--depths", "0,50,100", "--seed", "3", "--max-new-tokens", "24",
                 "--heatmap", str(png), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    cells = {(c["length"], c["depth"]): c for c in data["cells"]}
    assert set(cells) == {(n, d) for n in (1000, 2000) for d in (0.0, 50.0, 100.0)}
    for c in data["cells"]:
        assert 0.0 <= c["accuracy"] <= 1.0 and 0.0 <= c["cited_accuracy"] <= c["accuracy"]
        assert 0.8 * c["length"] < c["prompt_tokens"] <= c["length"]
    assert 0.0 <= data["score"] <= 1.0
    assert data["score"] == pytest.approx(sum(c["accuracy"] for c in data["cells"]) / 6)
    assert data["model"] == "smollm2-135m-instruct" and data["window"] == 8192
    assert data["usage"]["completion_tokens"] > 0 and data["seconds"] > 0
    head = png.read_bytes()
    assert head[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", head[16:24])
    assert width > 300 and height > 200
    with Library.open(data_dir) as lib:
        summary = latest_trust("Holmes", "local", "smollm2-135m-instruct", library=lib)
    assert summary.run_id == data["run_id"] and summary.score == data["score"]
    assert len(summary.cells) == 6


def test_same_seed_same_needles_and_positions_with_the_real_tokenizer(
        embedded, library, project_with):
    project_with("Holmes", SHERLOCK)
    request = TrustRequest("Holmes", lengths=("1000", "50%"), depths=(0, 50, 100), seed=9)
    first, again = plan_trust(request, embedded, library), plan_trust(request, embedded, library)
    assert first.lengths == again.lengths and first.lengths[1] == round((8192 - 48) * 0.5)
    spots = [[(p.needle, p.anchor, p.offset) for p in c.haystack.placements] for c in first.cells]
    assert spots == [[(p.needle, p.anchor, p.offset) for p in c.haystack.placements]
                     for c in again.cells]
    assert [c.haystack.prompt_tokens for c in first.cells] == \
        [c.haystack.prompt_tokens for c in again.cells]
    assert all(c.haystack.prompt_tokens <= c.length for c in first.cells)
