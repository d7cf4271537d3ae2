"""Which bind addresses count as loopback: a key is mandatory for everything else.

The old check was `host.startswith("127.")`, so `--host 127.0.0.1.nip.io` (a public name that
merely starts with those digits) served the API and the UI without a key.
"""
from __future__ import annotations

import ipaddress
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.api.auth import ApiKeyRequired, ensure_safe_bind
from workbench.config import Settings, is_loopback_host

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("host,loopback", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("localhost", True),
    ("LocalHost", True), ("127.0.0.1.nip.io", False), ("127.attacker.example", False),
    ("0.0.0.0", False), ("::", False), ("10.0.0.7", False), ("fe80::1", False), ("", False),
    ("not a host name", False)])
def test_loopback_is_decided_by_the_address_not_the_spelling(host, loopback):
    assert is_loopback_host(host) is loopback
    assert Settings(host=host).is_loopback is loopback


def test_a_name_counts_as_loopback_only_when_every_address_it_resolves_to_is():
    name = socket.gethostname()  # resolved by the system, /etc/hosts here
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except socket.gaierror:
        addresses = set()
    expected = bool(addresses) and all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)
    assert is_loopback_host(name) is expected


def test_a_name_that_does_not_resolve_needs_a_key_and_the_message_says_why():
    with pytest.raises(ApiKeyRequired) as refused:
        ensure_safe_bind(Settings(host="127.0.0.1.nip.io"))
    message = str(refused.value)
    assert "127.0.0.1.nip.io" in message and "--api-key" in message
    assert "does not resolve" in message
    ensure_safe_bind(Settings(host="127.0.0.1.nip.io", api_key="k"))  # with a key: fine


def test_the_app_refuses_a_lookalike_host_without_a_key(tmp_path):
    out = subprocess.run([sys.executable, "app.py", "--host", "127.0.0.1.nip.io",
                          "--data-dir", str(tmp_path / "data")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert out.stderr.startswith("error: refusing to serve")
    assert "127.0.0.1.nip.io" in out.stderr and "Traceback" not in out.stderr
