"""`compare` through the real CLI: the embedded default against a second Longhand added as a
remote OpenAI model (`python app.py --api-only` on a loopback port), on a real screenplay;
then `compare-blind`, `vote`, `leaderboard` and `export-comparison`, each a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from embedded_cache import shared_cache_dir
from second_longhand import second_longhand

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
SCENES = "screenplays/vilcans__screenplain/scene-numbers.fountain"
LOCAL, REMOTE = "smollm2-135m-instruct", "second-longhand"
FIELDS = {"model", "seconds", "ttft_s", "tokens_per_s", "prompt_tokens", "cached_tokens",
          "completion_tokens", "cost", "citations", "citations_verified", "trust_score",
          "strategy", "artifact_id"}


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}
    env["LONGHAND_CACHE_DIR"] = str(shared_cache_dir())
    return env


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=_env())


def ok_json(out: subprocess.CompletedProcess):
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def second(tmp_path_factory):
    """A second Longhand serving the embedded default over HTTP, stopped afterwards."""
    tmp = tmp_path_factory.mktemp("second")
    with second_longhand(tmp / "data", tmp / "app.log", _env()) as url:
        yield url


def test_compare_embedded_against_a_remote_longhand(tmp_path, testdocs, second):
    data = tmp_path / "data"
    ok_json(cli(data, "new-project", "Night Shift", "--json"))
    ok_json(cli(data, "import", "Night Shift", str(testdocs / SCENES), "--json"))
    ok_json(cli(data, "add-model", REMOTE, "--url", second + "/v1", "--protocol", "openai",
                "--remote-model", LOCAL, "--json"))
    ok_json(cli(data, "add-model", "nobody-home", "--url", "http://127.0.0.1:9/v1",
                "--remote-model", LOCAL, "--context-window", "8192", "--json"))
    out = ok_json(cli(data, "compare", "Night Shift", "--prompt", "Which scene comes first?",
                      "--models", f"{LOCAL},{REMOTE},nobody-home", "--max-new-tokens", "24",
                      "--json"))
    local, remote, down = out["rows"]
    assert out["schedule"] == [[LOCAL, REMOTE, "nobody-home"]]  # all on this machine: in turn
    for row, name in ((local, LOCAL), (remote, REMOTE)):
        assert FIELDS <= set(row) and "error" not in row, row
        assert row["model"] == name and row["prompt_tokens"] > 100
        assert 0 < row["completion_tokens"] <= 24 and row["seconds"] > 0
        assert row["ttft_s"] is not None and row["tokens_per_s"] > 0
        assert row["cost"]["usd"]["DeepSeek V4-Pro"] > 0 and row["trust_score"] is None
        assert row["citations_verified"] <= row["citations"]
    assert remote["engine"]["placement"]["server"] == second + "/v1"
    assert "server" not in (local["engine"]["placement"] or {})
    assert down["model"] == "nobody-home" and down["error"] and down["artifact_id"] is None
    arts = ok_json(cli(data, "artifacts", "Night Shift", "--json"))
    assert {a["id"] for a in arts} == {local["artifact_id"], remote["artifact_id"]}

    cid = str(out["comparison_id"])
    blind = ok_json(cli(data, "compare-blind", cid, "--json"))
    assert [a["label"] for a in blind["answers"]] == ["A", "B"]
    dumped = json.dumps(blind).lower()
    assert LOCAL not in dumped and REMOTE not in dumped and "smollm" not in dumped
    vote = ok_json(cli(data, "vote", cid, "--winner", "B", "--note", "clearer", "--json"))
    assert set(vote["revealed"].values()) == {LOCAL, REMOTE}
    board = ok_json(cli(data, "leaderboard", "Night Shift", "--json"))
    rows = {r["model"]: r for r in board["rows"]}
    assert rows[vote["winner_model"]]["wins"] == 1 and board["rows"][0]["model"] == \
        vote["winner_model"]
    assert sum(r["losses"] for r in board["rows"]) == 1

    md = tmp_path / "cmp.md"
    assert cli(data, "export-comparison", cid, "--format", "md", "--out", str(md)).returncode == 0
    assert f"## {REMOTE}" in md.read_text() and "nobody-home" in md.read_text()
    again = cli(data, "export-comparison", cid, "--format", "csv", "--out", str(md))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert cli(data, "export-comparison", cid, "--format", "csv", "--out", str(md),
               "--force").returncode == 0
    assert md.read_text().startswith("model,seconds")
