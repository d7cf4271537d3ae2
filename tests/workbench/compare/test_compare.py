"""`compare`, `compare-blind`, `vote`, `leaderboard` and `export-comparison` on the Workbench
with two scripted backends (and one that is down) over a real screenplay: every row field, one
artifact per model, masked blind answers, a vote that reaches the leaderboard, safe export."""
from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path

import pytest
from compare_backends import DownBackend, NamingBackend

from workbench.config import Settings
from workbench.errors import OutputRefused, WorkbenchError

SCENES = "screenplays/vilcans__screenplain/scene-numbers.fountain"
ROW_FIELDS = {"model", "seconds", "ttft_s", "tokens_per_s", "prompt_tokens", "cached_tokens",
              "completion_tokens", "cost", "citations", "citations_verified", "trust_score",
              "strategy", "artifact_id"}


@pytest.fixture
def wb(data_dir: Path, testdocs: Path):
    from workbench.workbench import Workbench

    bench = Workbench(Settings(data_dir=data_dir, cache_dir=Settings().cache_dir))
    bench.new_project("p")
    bench.import_files("p", [testdocs / SCENES])
    bench.use_backend(NamingBackend("qwen-like", "I am Qwen3.6-27B, happy to help."),
                      "qwen-like")
    bench.use_backend(NamingBackend("deepseek-like", "As DeepSeek V4-Flash, I read it."),
                      "deepseek-like")
    bench.use_backend(DownBackend("down", ""), "down")
    return bench


def test_compare_gives_a_full_row_and_an_artifact_per_model(wb):
    data = wb.compare("p", "free", "Where does the story open?",
                      models=["qwen-like", "deepseek-like"], max_new_tokens=64)
    rows = data["rows"]
    assert [r["model"] for r in rows] == ["qwen-like", "deepseek-like"]
    for r in rows:
        assert ROW_FIELDS <= set(r) and "error" not in r
        assert r["prompt_tokens"] > 100 and r["completion_tokens"] > 5
        assert r["seconds"] >= 0 and (r["tokens_per_s"] is None or r["tokens_per_s"] > 0)
        assert r["cost"]["usd"]["DeepSeek V4-Flash"] > 0
        assert r["citations"] == 1 and r["citations_verified"] == 1
        assert r["trust_score"] is None and r["strategy"] == "whole"
    arts = {r["artifact_id"] for r in rows}
    assert len(arts) == 2 and {a.id for a in wb.artifacts("p")} == arts
    assert "I am Qwen" in wb.artifact(rows[0]["artifact_id"]).text
    stored = wb.comparison(data["comparison_id"])
    assert stored.rows == rows and sorted(stored.order) == ["deepseek-like", "qwen-like"]


def test_trust_score_is_the_latest_trust_run_of_that_model(wb):
    from workbench.library.trust_store import TrustStore

    store = TrustStore.connect(wb.library.db_path)
    pid = wb.project("p").id
    for score in (0.2, 0.75):
        store.save_run(pid, backend="scripted", model="qwen-like", window=16384, request={},
                       score=score, cited_score=score, cells=[], prompt_tokens=1,
                       completion_tokens=1, seconds=1.0, cost={})
    store.close()
    rows = wb.compare("p", "free", "Where?", models=["qwen-like", "deepseek-like"],
                      max_new_tokens=16)["rows"]
    assert [r["trust_score"] for r in rows] == [0.75, None]


def test_a_model_that_is_down_gives_an_error_row_and_the_others_run(wb):
    data = wb.compare("p", "free", "Where?", models=["down", "qwen-like"], max_new_tokens=32)
    down, ok = data["rows"]
    assert down["model"] == "down" and "connection refused" in down["error"]
    assert down["artifact_id"] is None and ok["artifact_id"] is not None
    blind = wb.compare_blind(data["comparison_id"])
    assert [a["label"] for a in blind["answers"]] == ["A"]


def test_blind_masks_names_and_a_vote_reaches_the_leaderboard(wb):
    cid = wb.compare("p", "free", "Where?", models=["qwen-like", "deepseek-like"],
                     max_new_tokens=64, seed=1)["comparison_id"]
    blind = wb.compare_blind(cid)
    again = wb.compare_blind(cid)
    assert blind == again  # shuffled once, stored
    dumped = json.dumps(blind).lower()
    for name in ("qwen", "deepseek", "qwen-like", "deepseek-like"):
        assert name not in dumped
    assert {a["label"] for a in blind["answers"]} == {"A", "B"}
    assert all("[model]" in a["text"] for a in blind["answers"])
    a_model = wb.comparison(cid).order[0]
    vote = wb.vote(cid, "a", note="tighter")
    assert vote["winner"] == "A" and vote["winner_model"] == a_model
    assert set(vote["revealed"].values()) == {"qwen-like", "deepseek-like"}
    board = wb.leaderboard("p")
    rows = {r["model"]: r for r in board["rows"]}
    loser = ({"qwen-like", "deepseek-like"} - {a_model}).pop()
    assert (rows[a_model]["wins"], rows[a_model]["losses"]) == (1, 0)
    assert (rows[loser]["wins"], rows[loser]["losses"]) == (0, 1)
    assert rows[a_model]["rating"] > 1000 > rows[loser]["rating"]
    assert board["rows"][0]["model"] == a_model and board["votes"] == 1
    assert rows[loser]["median_seconds"] is not None
    assert rows[loser]["median_cost_usd"]["DeepSeek V4-Pro"] > 0
    wb.vote(cid, "tie")
    rows = {r["model"]: r for r in wb.leaderboard("p")["rows"]}
    assert rows[a_model]["ties"] == 1 == rows[loser]["ties"]


def test_a_bad_vote_or_too_few_models_is_refused_and_changes_nothing(wb):
    with pytest.raises(WorkbenchError, match="at least two"):
        wb.compare("p", "free", "Where?", models=["qwen-like", "qwen-like"])
    cid = wb.compare("p", "free", "Where?", models=["qwen-like", "deepseek-like"],
                     max_new_tokens=16)["comparison_id"]
    with pytest.raises(WorkbenchError, match="A, B, tie, both-bad"):
        wb.vote(cid, "C")
    assert wb.comparison(cid).votes == ()
    with pytest.raises(WorkbenchError, match="no comparison with id 999"):
        wb.vote(999, "A")


def test_export_comparison_md_csv_json_through_the_safe_write(wb, tmp_path):
    cid = wb.compare("p", "free", "Where?", models=["qwen-like", "deepseek-like"],
                     max_new_tokens=64)["comparison_id"]
    md = wb.export_comparison(cid, "md")
    assert "## qwen-like" in md and "| qwen-like |" in md and "I am Qwen" in md
    lines = list(csv.DictReader(io.StringIO(wb.export_comparison(cid, "csv"))))
    assert [r["model"] for r in lines] == ["qwen-like", "deepseek-like"]
    assert float(lines[0]["usd DeepSeek V4-Flash"]) > 0 and "As DeepSeek" in lines[1]["text"]
    out = tmp_path / "cmp.json"
    wb.export_comparison(cid, "json", out=out)
    assert json.loads(out.read_text())["comparison_id"] == cid
    with pytest.raises(OutputRefused, match="already exists"):
        wb.export_comparison(cid, "md", out=out)
    assert json.loads(out.read_text())["comparison_id"] == cid  # untouched
    wb.export_comparison(cid, "md", out=out, overwrite=True)
    assert out.read_text().startswith(f"# Comparison {cid}")
    with pytest.raises(OutputRefused, match="library's own"):
        wb.export_comparison(cid, "md", out=wb.library.db_path, overwrite=True)


class MeetingBackend(NamingBackend):
    """Answers only once every model of the meeting is streaming at the same time: run one
    after another, the first would wait alone, time out and become an error row."""

    def __init__(self, model: str, says: str, meeting: threading.Barrier):
        super().__init__(model, says)
        self.meeting, self.thread = meeting, None

    def stream(self, messages, params, cancel=None):
        self.thread = threading.current_thread().name
        self.meeting.wait()
        yield from super().stream(messages, params, cancel)


def test_models_on_different_machines_run_at_the_same_time(wb):
    """Remotes on two other hosts and the local model run at once, one thread per machine; a
    remote on a loopback address shares this machine, so it waits its turn."""
    meeting = threading.Barrier(3, timeout=20)
    for name, host in (("gpu-a", "gpu-a.studio.example"), ("gpu-b", "10.20.0.7"),
                       ("same-box", "127.0.0.1")):
        wb.remotes.add(name, url=f"http://{host}:8000/v1", remote_model="m",
                       context_window=16384)
    backends = {name: MeetingBackend(name, f"I am {name}.", meeting)
                for name in ("gpu-a", "gpu-b", "qwen-like")}
    for name, backend in backends.items():
        wb.use_backend(backend, name)
    wb.use_backend(NamingBackend("same-box", "I am on this box."), "same-box")
    data = wb.compare("p", "free", "Where?", models=["qwen-like", "gpu-a", "same-box",
                                                    "gpu-b"], max_new_tokens=32)
    assert data["schedule"] == [["qwen-like", "same-box"], ["gpu-a"], ["gpu-b"]]
    assert [r["model"] for r in data["rows"]] == ["qwen-like", "gpu-a", "same-box", "gpu-b"]
    assert all("error" not in r for r in data["rows"]), data["rows"]
    assert len({b.thread for b in backends.values()}) == 3
    wb.use_backend(NamingBackend("gpu-a", "I am gpu-a."), "gpu-a")
    sequential = wb.compare("p", "free", "Where?", models=["gpu-a", "same-box"],
                            max_new_tokens=32, parallel=False)
    assert sequential["schedule"] == [["gpu-a", "same-box"]]
    assert all("error" not in r for r in sequential["rows"])
