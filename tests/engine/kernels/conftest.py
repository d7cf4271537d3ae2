"""Fixtures for the V4 kernel tests (builders in v4_pairs.py)."""
from __future__ import annotations

import pytest
from v4_pairs import build_reference, fast_copy


@pytest.fixture(scope="module")
def v4_pair():
    reference = build_reference()
    return reference, fast_copy(reference)
