"""Fixtures for the HTTP API tests (the harness itself is api_harness.py)."""
from __future__ import annotations

import httpx
import pytest


@pytest.fixture
def http():
    with httpx.Client(timeout=30) as client:
        yield client
