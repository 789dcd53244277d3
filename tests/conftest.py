"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = ROOT.parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Folder of the real microscope files (``../shared/data/real``).

    Skips where it is absent, except in CI (``CI=true``), where it must be present.
    """
    if not REAL_DATA.is_dir():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{REAL_DATA} is missing in CI; the real-data tests must run there")
        pytest.skip(f"{REAL_DATA} not found (put the shared/ folder beside the checkout)")
    return REAL_DATA
