"""A tiny group of two simulated movies through Snakemake to its comparison (issue #18, points 3-4).

The run starts in the background when the tests are collected (``workflow_runs.tiny_group_workflow``);
this file comes late in the session's order so that the run is done when its test is reached.
"""

from __future__ import annotations

import json

import pytest
import torch
import xarray as xr

from background import BACKGROUND


@pytest.fixture(scope="module")
def tiny_group_run():
    """Two movies of their own seeds, frame counts and doses (``workflow_runs.tiny_group_workflow``)
    through Snakemake, started in the background when the tests were collected."""
    workdir, result = BACKGROUND.result("tiny_group_run")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return workdir


def test_a_tiny_group_runs_through_snakemake_to_its_comparison(tiny_group_run):
    results = tiny_group_run / "results"
    assert not (results / "lo" / "rvae" / "model.pt").exists() and not (results / "hi" / "rvae" / "model.pt").exists()
    # each movie's own simulator settings and dose; one model, with each movie's weight
    lo, hi = (xr.open_zarr(results / name / "frames.zarr") for name in ("lo", "hi"))
    assert lo.sizes["frame"] == 2 and hi.sizes["frame"] == 3
    assert lo.attrs["dose_e_per_A2_per_frame"] == 2e5 and hi.attrs["dose_e_per_A2_per_frame"] == 8e5
    weights = (results / "groups" / "pair" / "rvae" / "movies.tsv").read_text().splitlines()
    assert weights[0].split("\t") == ["sample", "patches", "per_epoch", "share", "patch_weight"]
    assert [line.split("\t")[0] for line in weights[1:]] == ["lo", "hi"]
    scale = torch.load(results / "groups" / "pair" / "rvae" / "model.pt", weights_only=True)["hyper"]["input_scale"]
    for name in ("lo", "hi"):
        assert xr.open_zarr(results / name / "rvae" / "latents.zarr").attrs["model"] == "rvae"
    assert scale > 0
    comparison = json.loads((results / "groups" / "pair" / "rvae" / "comparison.json").read_text())
    assert comparison["movies"] == ["lo", "hi"] and comparison["axis"]["values"] == [2e5, 8e5]
    assert [m["sample"] for m in comparison["per_movie"]] == ["lo", "hi"]
    assert (results / "groups" / "pair" / "figures" / "rvae_comparison.png").stat().st_size > 10_000
    for log in ("train_group_model/pair_rvae.log", "compare_group/pair_rvae.log", "plot_group/pair_rvae.log"):
        assert (results / "logs" / log).is_file()
    assert (results / "benchmarks" / "train_group_model" / "pair_rvae.tsv").is_file()
