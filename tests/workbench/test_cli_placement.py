"""The engine placement flags on the CLI, as on app.py: same names, same LONGHAND_* variables,
reaching the engine's LoadOptions (seen in `synthesize --json`'s `engine` object and in the
saved artifact). Real subprocesses of `python -m workbench` on a real screenplay."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from embedded_cache import shared_cache_dir

import app
from workbench import cli
from workbench.config import Settings
from workbench.workbench import Workbench

ROOT = Path(__file__).resolve().parents[2]
SCENES = "screenplays/vilcans__screenplain/scene-numbers.fountain"
FLAGS = {"device_map", "max_memory", "offload_folder", "quantization"}


def run(data_dir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}
    clean.update({"LONGHAND_CACHE_DIR": str(shared_cache_dir()), **(env or {})})
    return subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=clean)


def ok_json(out: subprocess.CompletedProcess):
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _actions(parser) -> dict:
    return {a.dest: a for a in parser._actions if a.dest in FLAGS}


def _subparser(name: str):
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
    return sub.choices[name]


@pytest.mark.parametrize("command", ["synthesize", "trust", "resume-job"])
def test_model_commands_take_app_py_placement_flags(command):
    ours, apps = _actions(_subparser(command)), _actions(app.build_parser())
    assert set(ours) == set(apps) == FLAGS
    for dest in FLAGS:
        assert ours[dest].option_strings == apps[dest].option_strings
        assert ours[dest].choices == apps[dest].choices
    assert ours["quantization"].choices == ("nf4", "int8", "fp16-cpu", "int8-cpu", "fp32")


@pytest.fixture(scope="module")
def project(tmp_path_factory, testdocs):
    data_dir = tmp_path_factory.mktemp("placement") / "data"
    ok_json(run(data_dir, "new-project", "P", "--json"))
    ok_json(run(data_dir, "import", "P", str(testdocs / SCENES), "--json"))
    return data_dir


@pytest.mark.parametrize("where", ["flag", "env"])
def test_bad_max_memory_is_a_user_error_before_any_load(project, where):
    args = ["synthesize", "P", "--task", "coverage"]
    env = {}
    if where == "flag":
        args += ["--max-memory", "cpu8GiB"]
    else:
        env["LONGHAND_MAX_MEMORY"] = "cpu8GiB"
    out = run(project, *args, env=env)
    assert out.returncode == 2
    assert out.stderr.strip() == ("error: --max-memory wants DEVICE=AMOUNT pairs such as "
                                  "'cpu=8GiB,0=20GiB', not 'cpu8GiB'")
    assert "Loading weights" not in out.stderr


@pytest.mark.slow
def test_flags_win_over_the_environment_and_reach_the_engine(project):
    out = ok_json(run(project, "synthesize", "P", "--task", "coverage", "--max-new-tokens", "8",
                      "--plan", "whole",
                      "--quantization", "int8-cpu", "--device-map", "cpu", "--json",
                      env={"LONGHAND_QUANTIZATION": "fp16-cpu"}))
    engine = out["engine"]
    assert engine["model"] == "smollm2-135m-instruct" and engine["backend"] == "local"
    assert engine["kernels"] == "fused"  # the fast Llama forward (engine/llama/fast.py)
    assert engine["placement"]["quantization"] == "int8-cpu"
    assert engine["placement"]["device_map"] == "cpu"
    assert set(engine["placement"]["devices"]) == {"cpu"}
    assert engine["precision"] == {
        "gguf": "converted to float32, with int8 copies for one-token decode (int8-cpu)"}
    stored = Workbench(Settings(data_dir=project)).artifact(out["artifact_id"])
    assert stored.extra["engine"] == engine


@pytest.mark.slow
def test_environment_alone_sets_the_placement(project):
    out = ok_json(run(project, "synthesize", "P", "--task", "coverage", "--max-new-tokens", "8",
                      "--plan", "whole",
                      "--json", env={"LONGHAND_QUANTIZATION": "fp16-cpu",
                                     "LONGHAND_MAX_MEMORY": "cpu=4GiB"}))
    placement = out["engine"]["placement"]
    assert placement["quantization"] == "fp16-cpu"
    assert placement["max_memory"] == {"cpu": "4GiB"}
    assert "fp16 copies" in out["engine"]["precision"]["gguf"]


@pytest.mark.slow
def test_default_settings_decode_in_this_cpus_mode_and_fp32_is_exact(project):
    from engine.placement.cpu_decode import default_decode_mode

    default = default_decode_mode()  # fp16-cpu wherever fbgemm runs (placement/cpu_decode.py)
    out = ok_json(run(project, "synthesize", "P", "--task", "coverage", "--max-new-tokens", "8",
                      "--json"))
    engine = out["engine"]
    assert engine["kernels"] == "fused" and engine["placement"]["quantization"] == default
    if default is None:
        assert engine["precision"] == {"gguf": "converted to float32"}
    else:
        assert engine["precision"] == {"gguf": "converted to float32, with "
                                       f"{default.split('-')[0]} copies for one-token decode "
                                       f"({default})"}
    exact = ok_json(run(project, "synthesize", "P", "--task", "coverage", "--max-new-tokens",
                        "8", "--quantization", "fp32", "--json"))["engine"]
    assert exact["precision"] == {"gguf": "converted to float32"}
    assert exact["placement"]["quantization"] == "fp32" and exact["kernels"] == "fused"
