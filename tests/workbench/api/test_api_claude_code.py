"""Claude Code itself, installed from npm, headless against a live Longhand on the embedded default.

The CLI is the real client (not a replay of its request): `claude -p` with ANTHROPIC_BASE_URL.
`--bare` keeps its prompt (three tools, a short system prompt) inside the 8,192-token window,
and a turn must complete; the full prompt (about 20K tokens with its 24 tools) must get the
Anthropic-shaped 400 that Claude Code turns into "Prompt is too long ... (limit 8192)" at
once, not a retry loop or a "Request too large (max 32MB)". The version is pinned so a new
release cannot change the test under us; npm caches the package beside the repo's other
build caches (.cache/, git-ignored).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from api_harness import LiveServer
from embedded_cache import shared_cache_dir

from engine.backends.factory import make_backend
from workbench.api import create_api_app
from workbench.config import DEFAULT_MODEL, Settings

pytestmark = pytest.mark.slow

CLAUDE_CODE = "@anthropic-ai/claude-code@2.1.197"
ROOT = Path(__file__).resolve().parents[3]
INSTALL_DIR = ROOT / ".cache" / "npm" / "claude-code-2.1.197"


@pytest.fixture(scope="module")
def claude_bin() -> Path:
    binary = INSTALL_DIR / "node_modules" / ".bin" / "claude"
    if binary.exists():
        return binary
    if shutil.which("npm") is None:
        if os.environ.get("CI"):
            pytest.fail("npm is needed to install Claude Code for this test (.ci/run installs it)")
        pytest.skip("npm not installed")
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "install", "--prefix", str(INSTALL_DIR), "--no-audit", "--no-fund",
                    "--loglevel=error", CLAUDE_CODE], check=True, timeout=600)
    return binary


@pytest.fixture(scope="module")
def server():
    backend = make_backend(DEFAULT_MODEL, cache_dir=shared_cache_dir())
    with LiveServer(create_api_app(Settings(), lambda: backend)) as live:
        yield live


def _run_claude(claude_bin: Path, url: str, home: Path, *args: str) -> dict:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "ANTHROPIC_BASE_URL": url,
           "ANTHROPIC_API_KEY": "unused", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
           "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "200"}
    done = subprocess.run([str(claude_bin), *args, "--output-format", "json"], env=env,
                          cwd=home, capture_output=True, text=True, timeout=900)
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_claude_code_bare_completes_a_turn(claude_bin, server, tmp_path):
    result = _run_claude(claude_bin, server.url, tmp_path, "--bare", "-p", "Say hello.",
                         "--system-prompt", "You are a terse assistant. Answer in a few words.")
    assert result["is_error"] is False, result
    assert result["subtype"] == "success" and result["result"].strip()
    assert result["usage"]["input_tokens"] + result["usage"]["cache_read_input_tokens"] > 100
    assert result["usage"]["output_tokens"] > 0


def test_claude_code_full_prompt_gets_the_clear_window_error(claude_bin, server, tmp_path):
    result = _run_claude(claude_bin, server.url, tmp_path, "-p", "Say hello.")
    assert result["is_error"] is True and result["api_error_status"] == 400, result
    assert "8192" in result["result"].replace(",", "")
    assert "too long" in result["result"].lower()
    assert "32MB" not in result["result"]
