"""Real training of the embedded default on ~3,000 words of Sherlock Holmes, through the CLI in
real subprocesses: the first one is killed (SIGKILL) after its first checkpoint, the same
command run again resumes from it with the step count continuing. Then: the held-out loss fell
by the stated margin, the saved adapter reloads in plain `peft` with identical logits, the
engine attaches and detaches it on a live backend, any checkpoint can be picked, and the
adapter exports as a zip."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROJECT = "baker-street"
STEPS, EVERY = 24, 8
# 24 steps of batch 2 x 64 tokens, rank 4 on the top 6 layers: the held-out loss of the
# embedded default falls by ~0.27 nats (4.32 -> 4.04); we require at least this much.
MARGIN = 0.1
FLAGS = ["--steps", str(STEPS), "--checkpoint-every", str(EVERY), "--rank", "4",
         "--batch-size", "2", "--max-tokens", "64", "--layers", "6", "--threads", "1",
         "--lr", "2e-3", "--eval-prompts", "1", "--eval-tokens", "16"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sherlock):
    from workbench.config import Settings
    from workbench.workbench import Workbench

    data_dir = tmp_path_factory.mktemp("adapters") / "data"
    wb = Workbench(Settings(data_dir=data_dir))
    wb.new_project(PROJECT)
    wb.import_files(PROJECT, [("scandal.txt", sherlock(3000).encode())], role="style")
    wb.library.close()
    cmd = [sys.executable, "-m", "workbench", "--data-dir", str(data_dir), "train-adapter",
           PROJECT, *FLAGS, "--json"]
    folder = data_dir / "adapters" / "1" / "style-1"
    first = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 400
    marker = folder / "checkpoints" / f"step-{EVERY:06d}" / "trainer_state.json"
    while not marker.exists():
        assert first.poll() is None, first.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint within 400 s"
        time.sleep(0.2)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    from workbench.adapters.training import checkpoints, read_state

    killed_at = checkpoints(folder)[-1]
    state_at_kill = read_state(folder, killed_at)
    from workbench.library.adapters_store import AdapterStore

    store = AdapterStore.open(data_dir / "workbench.db")
    row_at_kill = store.by_name(1, "style-1")
    store.close()
    started = time.perf_counter()
    second = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    return {"data_dir": data_dir, "folder": folder, "killed_at": killed_at,
            "state_at_kill": state_at_kill, "row_at_kill": row_at_kill,
            "result": json.loads(second.stdout), "stderr": second.stderr,
            "resume_wall_s": time.perf_counter() - started}


def test_killed_run_resumes_from_last_checkpoint_with_step_count_continuing(trained):
    result, killed_at = trained["result"], trained["killed_at"]
    # The killed process is gone, so its row reads interrupted (not training for ever).
    assert trained["row_at_kill"].status == "interrupted" and killed_at < STEPS
    assert f"resuming adapter style-1 in {trained['folder']}" in trained["stderr"]
    assert result["resumed_from"] == killed_at
    assert result["steps"] == STEPS and result["status"] == "ready"
    steps = [s for s, _ in result["losses"]]
    assert steps == list(range(1, STEPS + 1))
    assert result["losses"][:killed_at] == trained["state_at_kill"]["losses"]
    assert result["checkpoints"] == list(range(EVERY, STEPS + 1, EVERY))
    for step in result["checkpoints"]:
        ck = trained["folder"] / "checkpoints" / f"step-{step:06d}"
        assert {"adapter_config.json", "adapter_model.safetensors", "trainer_state.pt",
                "trainer_state.json"} <= {p.name for p in ck.iterdir()}


def test_heldout_loss_decreases_by_the_stated_margin(trained):
    result, folder = trained["result"], trained["folder"]
    ev = result["eval"]
    print(f"\nheld-out loss {ev['loss_before']:.4f} -> {ev['loss_after']:.4f}, perplexity "
          f"{ev['perplexity_before']:.2f} -> {ev['perplexity_after']:.2f}, resumed run "
          f"{trained['resume_wall_s']:.1f} s wall, training {result['train_seconds']} s")
    assert ev["loss_after"] <= ev["loss_before"] - MARGIN
    assert ev["perplexity_after"] < ev["perplexity_before"]
    assert set(result) >= {"adapter", "path", "steps", "eval"}
    saved = json.loads((folder / "evaluation.json").read_text())
    assert saved["loss_after"] == ev["loss_after"] and saved["checkpoint"] == STEPS
    sample = saved["samples"][0]
    assert sample["prompt"] and sample["base"].strip() and sample["adapter"].strip()
    meta = json.loads((folder / "metadata.json").read_text())
    assert len(meta["base_hash"]) == 64 and meta["dataset_hash"] == meta["dataset"][
        "snapshot_hash"]
    assert meta["hyperparameters"]["rank"] == 4 and meta["base_model"] == "smollm2-135m-instruct"
    assert meta["metrics"]["loss_after"] == ev["loss_after"] and meta["status"] == "ready"


def test_saved_adapter_reloads_in_plain_peft_with_identical_logits(trained):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.adapters import active_adapter, attach_adapter, detach_adapter
    from engine.backends.local import LocalBackend
    from engine.embedded import ensure_converted
    from workbench.adapters.evaluation import heldout_loss
    from workbench.adapters.registry import read_snapshot, resolve_model_name
    from workbench.adapters.training import encode
    from workbench.config import Settings
    from workbench.library.adapters_store import AdapterStore

    folder, ev = trained["folder"], trained["result"]["eval"]
    store = AdapterStore.open(trained["data_dir"] / "workbench.db")
    base_name, info = resolve_model_name(store, "smollm2-135m-instruct+style-1")
    store.close()
    assert base_name == "smollm2-135m-instruct" and Path(info.path) == folder
    weights = ensure_converted(Settings().cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(weights)
    plain = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(weights, dtype=torch.float32), str(folder)).eval()
    _, held = read_snapshot(folder)
    seqs = encode(tokenizer, held, 64)
    loss, _ = heldout_loss(plain, seqs, tokenizer.eos_token_id)
    assert abs(loss - ev["loss_after"]) < 1e-5  # the file holds exactly what was evaluated
    ids = torch.tensor([seqs[0]])
    with torch.no_grad():
        expected = plain(input_ids=ids).logits
        with plain.disable_adapter():
            base_expected = plain(input_ids=ids).logits

    backend = LocalBackend.load("smollm2-135m-instruct", Settings().cache_dir)
    attach_adapter(backend, folder, "style-1")
    assert backend.model == "smollm2-135m-instruct+style-1"
    assert active_adapter(backend) == "style-1"
    with torch.no_grad():
        ours = backend.hf_model(input_ids=ids).logits
    assert torch.equal(ours, expected)
    assert not torch.equal(ours, base_expected)
    detach_adapter(backend)
    assert backend.model == "smollm2-135m-instruct" and active_adapter(backend) is None
    with torch.no_grad():
        assert torch.equal(backend.hf_model(input_ids=ids).logits, base_expected)


def test_any_checkpoint_can_be_picked_listed_and_exported(trained, tmp_path, capsys):
    from accelerate.commands.config.config_args import ClusterConfig

    from workbench.cli import main

    data_dir, folder = str(trained["data_dir"]), trained["folder"]
    assert main(["--data-dir", data_dir, "use-checkpoint", PROJECT, "style-1", "8"]) == 0
    first = folder / "checkpoints" / "step-000008" / "adapter_model.safetensors"
    assert (folder / "adapter_model.safetensors").read_bytes() == first.read_bytes()
    assert main(["--data-dir", data_dir, "use-checkpoint", PROJECT, "style-1", "9"]) == 2
    assert "no checkpoint at step 9; there are: 8, 16, 24" in capsys.readouterr().err
    assert main(["--data-dir", data_dir, "adapters", PROJECT, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["name"] == "style-1" and row["checkpoint"] == 8 and row["status"] == "ready"
    assert row["checkpoints"] == [8, 16, 24] and row["loss_after"] < row["loss_before"]
    out = tmp_path / "style.zip"
    assert main(["--data-dir", data_dir, "export-adapter", PROJECT, "style-1", str(out)]) == 0
    capsys.readouterr()
    names = set(zipfile.ZipFile(out).namelist())
    assert {"style-1/adapter_config.json", "style-1/adapter_model.safetensors",
            "style-1/metadata.json", "style-1/evaluation.json"} <= names
    assert main(["--data-dir", data_dir, "adapter-scaleout", PROJECT, "style-1",
                 str(tmp_path / "node"), "--gpus", "8", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    config = ClusterConfig.from_yaml_file(plan["config"])
    assert config.distributed_type == "FSDP" and config.num_processes == 8
    assert config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] == "DeepseekV4DecoderLayer"
    assert plan["command"].startswith("accelerate launch --config_file accelerate_fsdp.yaml")
