"""The tiny workflow run's latent explorer pages (issue #17), opened in headless Chromium.

One test on the run of ``test_workflow.py`` (the whole DAG on the tiny samples, in the background):
every STEM model and every PFM window size has its page, each page says how many patches (windows)
it holds and is an item of the Snakemake report, and the rVAE's page loads offline without
console errors and shows the right patch and frame on hover. ``test_explorer.py`` tests the page
itself, on a page it builds.
"""

from __future__ import annotations

import re
import time

import numpy as np
import xarray as xr

import browser
from test_workflow import tiny_run  # noqa: F401  (the fixture)
from workflow_runs import snakemake


def test_the_tiny_runs_explorer_pages(tiny_run, chromium):  # noqa: F811
    pages = {}
    for sample, models in (("tiny", ("rvae", "vae")), ("tinypfm", ("w8", "w16")), ("asylum", ("w8", "w16"))):
        for model in models:
            page = tiny_run / "results" / sample / model / "explorer.html"
            n_patches = xr.open_zarr(tiny_run / "results" / sample / model / "latents.zarr").sizes["patch"]
            head = page.read_text()[:2000]
            assert re.search(rf'<html lang="en" data-n-points="{n_patches}"', head), page
            assert page.stat().st_size < 15e6
            pages[sample, model] = page
    result = snakemake(tiny_run, "--report", "explorer_report.html")  # each page is a report item
    assert result.returncode == 0, result.stderr[-3000:]
    report = (tiny_run / "explorer_report.html").read_text(errors="replace")
    assert report.count("filename=explorer.html;base64,") == len(pages)
    for sample, model in pages:
        assert f"results/{sample}/{model}/explorer.html" in report
    driver = browser.start(*chromium)
    try:
        browser.open_page(driver, pages["tiny", "rvae"])
        latents = xr.open_zarr(tiny_run / "results" / "tiny" / "rvae" / "latents.zarr")
        z, frame = latents["z_mean"].values, latents["frame"].values
        assert driver.execute_script(browser.MODEL + "return model('points').data.patch.length") == len(z)
        screen = np.array([browser.screen_point(driver, "latent_plot", a, b) for a, b in z[:, :2]])
        gaps = np.linalg.norm(screen[:, None] - screen[None], axis=2) + np.eye(len(z)) * 1e9
        i = int(np.argmax(gaps.min(axis=1)))  # the most isolated patch
        browser.move_to(driver, *screen[i])
        tip, end = None, time.monotonic() + 10
        while tip is None and time.monotonic() < end:
            tip = browser.tooltip(driver)
            time.sleep(0.05)
        assert tip is not None and (int(tip["patch"]), int(tip["frame"])) == (i, frame[i])
        assert browser.console_errors(driver) == []
    finally:
        driver.quit()
