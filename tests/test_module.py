"""The workflow as others adopt it: a Snakemake module of a host workflow, and the catalog's .test/."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import xarray as xr

from workflow_runs import ROOT, SIM, write_config

HOST_SNAKEFILE = f"""\
configfile: "config.yaml"


module rvae_pathways:
    snakefile:
        "{ROOT / 'Snakefile'}"
    config:
        config


use rule * from rvae_pathways as rvae_*


rule all:
    default_target: True
    input:
        rules.rvae_all.input,
"""


def host_snakemake(folder, *args):
    # the host's own Snakefile, found in its folder: nothing tells Snakemake where this workflow is
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=folder,
                          capture_output=True, text=True, timeout=300)


def test_a_host_workflow_uses_this_one_as_a_module(tmp_path):
    (tmp_path / "Snakefile").write_text(HOST_SNAKEFILE)
    # and a movie with a flash (a saturated frame), its frames skipped as configured, its time given
    movie = np.random.default_rng(0).poisson(20.0, (4, 64, 64)).astype(np.float32)
    movie[2, :40] = 4095.0
    np.save(tmp_path / "flash.npy", movie)
    flash = {"sample": "flash", "path": "flash.npy", "modality": "stem", "pixel_size_nm": 0.01, "spacing_nm": 0.142,
             "frame_time_s": 0.5}
    write_config(tmp_path, [SIM, flash], prepare={"skip_bad_frames": True})
    plan = host_snakemake(tmp_path, "--dry-run")
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    for rule in ("rvae_find_atoms", "rvae_train_model", "rvae_analyse_pathways", "rvae_plot_pathways"):
        assert rule in plan.stdout
    # a real run of the first stages, through the module's rules and scripts
    run = host_snakemake(tmp_path, "results/tiny/atoms.zarr", "results/flash/frames.zarr")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    flashed = xr.open_zarr(tmp_path / "results" / "flash" / "frames.zarr")
    assert flashed["source_frame"].values.tolist() == [0, 1, 3] and flashed.attrs["skipped_frames"] == [2]
    assert flashed.attrs["frame_time_s"] == 0.5 and flashed.attrs["frame_time_source"] == "samples table"
    log = (tmp_path / "results" / "logs" / "load_frames" / "flash.log").read_text()
    assert "skipped frame 2 of the file: saturated" in log and "0.5 s (samples table)" in log
    atoms = xr.open_zarr(tmp_path / "results" / "tiny" / "atoms.zarr")
    assert atoms.sizes["atom"] > 100
    assert (tmp_path / "results" / "logs" / "find_atoms" / "tiny.log").stat().st_size > 0


def test_the_test_config_plans_the_whole_dag_from_its_own_folder():
    # as the Snakemake workflow catalog runs it: snakemake --directory .test
    # (the README's command, in the checkout)
    plan = subprocess.run([sys.executable, "-m", "snakemake", "--directory", ".test", "--cores", "1", "--dry-run"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    for rule in ("simulate_stem", "simulate_pfm", "train_model", "train_pfm_model", "plot_pfm_sweep"):
        assert rule in plan.stdout
    assert "asylum" in plan.stdout  # the real PFM scan, found relative to .test/
