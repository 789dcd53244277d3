"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import browser
from background import BACKGROUND
from slurm_runs import slurm_workflow
from workflow_runs import tiny_group_workflow, tiny_workflow

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = ROOT.parent / "shared" / "data" / "real"

# One PyTorch thread in the test process: the end-to-end runs share the cores in the background,
# and two threads that must meet at every operation lose most of their time when one of them waits
# for a core (the rVAE scores' training: 49 s alone with two threads, 172 s beside the runs; 74 s
# with one thread).
torch.set_num_threads(1)

# The slow end-to-end runs, by the name of the fixture that waits for them (see background.py).
BACKGROUND.register("tiny_run", tiny_workflow)
BACKGROUND.register("tiny_group_run", tiny_group_workflow)
BACKGROUND.register("two_runs", slurm_workflow, nice=0)
# Debian's chromium for the explorer's browser tests: apt, in the background (one apt at a time: apt.py)
BACKGROUND.register("chromium", lambda background, folder: browser.chromium(folder / "apt.log"), nice=0)


def pytest_collection_finish(session):
    """Start the end-to-end runs that the collected tests use, so they run while the others do."""
    if session.config.option.collectonly:
        return
    used = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    for name in sorted(BACKGROUND.names() & used):
        BACKGROUND.start(name)


@pytest.fixture(scope="session")
def chromium():
    """(browser, driver) of headless Chromium, installed when the tests were collected; skips where it
    cannot be had, except in CI, where the browser tests must run."""
    found = BACKGROUND.result("chromium")
    if isinstance(found, str):
        if browser.in_ci():
            pytest.fail(f"the browser tests must run in CI: {found}")
        pytest.skip(found)
    return found


def pytest_sessionfinish(session):
    BACKGROUND.close()


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
