"""Settings precedence (flags > LONGHAND_* env > defaults), app.py's flags, the loopback rule,
and the promise that start-up imports neither torch nor transformers."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import app
from workbench.config import PRIVACY_ENV, Settings, apply_privacy_env

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_defaults_without_flags_or_env():
    s = Settings.from_sources({}, env={})
    assert s.host == "127.0.0.1" and s.port == 7860
    assert s.data_dir == Path("projects") and s.db_path == Path("projects/workbench.db")
    assert s.model == "smollm2-135m-instruct"
    assert s.max_upload_bytes == 200 * 1024 * 1024
    assert s.api_key is None and s.api_only is False


def test_flags_win_over_env_which_wins_over_defaults(tmp_path):
    env = {"LONGHAND_PORT": "9001", "LONGHAND_DATA_DIR": str(tmp_path / "env"),
           "LONGHAND_MODEL": "deepseek-v4-flash", "LONGHAND_API_ONLY": "true"}
    s = Settings.from_sources({"port": 9002, "data_dir": None}, env=env)
    assert s.port == 9002  # flag
    assert s.data_dir == tmp_path / "env"  # env (the flag was not given)
    assert s.model == "deepseek-v4-flash" and s.api_only is True
    assert s.host == "127.0.0.1"  # default


def test_env_values_are_coerced_and_paths_expanded():
    s = Settings.from_sources({}, env={"LONGHAND_DATA_DIR": "~/lh", "LONGHAND_PORT": "7000",
                                       "LONGHAND_MAX_UPLOAD_BYTES": "1024",
                                       "LONGHAND_API_ONLY": "0", "LONGHAND_HOST": ""})
    assert s.data_dir == Path.home() / "lh"
    assert s.port == 7000 and s.max_upload_bytes == 1024
    assert s.api_only is False and s.host == "127.0.0.1"


@pytest.mark.parametrize("host,loopback", [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("192.168.1.20", False), ("::", False), ("example.org", False)])
def test_loopback_detection(host, loopback):
    assert Settings(host=host).is_loopback is loopback


def test_app_flags_map_onto_settings(tmp_path):
    s = app.parse_settings(
        ["--host", "0.0.0.0", "--port", "7861", "--data-dir", str(tmp_path), "--model", "m",
         "--api-key", "k", "--api-only", "--device-map", "auto", "--max-memory", "cpu=8GiB",
         "--offload-folder", str(tmp_path / "off"), "--quantization", "nf4",
         "--max-upload-bytes", "5000", "--api-queue-size", "3", "--cache-dir", str(tmp_path)],
        env={"LONGHAND_PORT": "1"})
    assert (s.host, s.port, s.data_dir, s.model, s.api_key) == (
        "0.0.0.0", 7861, tmp_path, "m", "k")
    assert s.api_only is True and s.device_map == "auto" and s.max_memory == "cpu=8GiB"
    assert s.offload_folder == tmp_path / "off" and s.quantization == "nf4"
    assert s.max_upload_bytes == 5000 and s.api_queue_size == 3 and s.cache_dir == tmp_path


def test_app_flags_fall_back_to_env(tmp_path):
    s = app.parse_settings([], env={"LONGHAND_PORT": "7999", "LONGHAND_DATA_DIR": str(tmp_path)})
    assert s.port == 7999 and s.data_dir == tmp_path and s.api_only is False


def test_privacy_env_turns_off_analytics_and_hub():
    env: dict[str, str] = {"GRADIO_ANALYTICS_ENABLED": "True"}
    apply_privacy_env(env)
    assert env["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    assert set(PRIVACY_ENV) <= set(env)


def test_help_lists_the_stable_flags():
    out = run("app.py", "--help")
    assert out.returncode == 0, out.stderr
    for flag in ("--host", "--port", "--data-dir", "--model", "--api-key", "--api-only",
                 "--device-map", "--max-memory", "--offload-folder", "--quantization"):
        assert flag in out.stdout


def test_refuses_a_public_bind_without_an_api_key(tmp_path):
    out = run("app.py", "--host", "0.0.0.0", "--port", "1", "--data-dir", str(tmp_path / "d"))
    assert out.returncode == 2
    assert "api key" in out.stderr.lower() and "Traceback" not in out.stderr
    assert not (tmp_path / "d").exists()  # refused before touching anything


def test_building_the_app_imports_neither_torch_nor_transformers(tmp_path):
    code = ("import sys, app; from workbench.config import Settings; "
            f"app.build_app(Settings(data_dir={str(tmp_path)!r})); "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = run("-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_max_memory_flag_becomes_accelerate_limits():
    from workbench.context import load_options, parse_max_memory
    from workbench.errors import WorkbenchError

    assert parse_max_memory("cpu=8GiB, 0=20GiB") == {"cpu": "8GiB", 0: "20GiB"}
    assert parse_max_memory(None) is None
    with pytest.raises(WorkbenchError, match="DEVICE=AMOUNT"):
        parse_max_memory("8GiB")
    options = load_options(Settings(device_map="auto", max_memory="cpu=2GiB",
                                    offload_folder=Path("/tmp/off"), quantization="nf4"))
    assert (options.device_map, options.max_memory, options.offload_folder,
            options.quantization) == ("auto", {"cpu": "2GiB"}, "/tmp/off", "nf4")


def test_readme_opens_with_the_two_commands():
    lines = [ln.strip() for ln in (ROOT / "README.md").read_text().splitlines() if ln.strip()]
    assert lines[:2] == ["make run", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert "\nrun:" in makefile and "\ntest:" in makefile and "$(ARGS)" in makefile
