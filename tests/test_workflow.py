"""The DAG run end to end through Snakemake itself, on tiny configs in temporary folders."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from background import BACKGROUND
from workflow_runs import ROOT, SIM, planned_jobs, snakemake, write_config

STAGES = ("simulate_stem", "load_frames", "prepare_frames", "find_atoms", "score_atoms", "extract_patches",
          "cluster_patches", "plot_overview", "plot_gmm_baseline", "plot_angles", "track_atoms")
MODEL_STAGES = ("train_model", "encode_patches", "score_latents", "plot_model", "analyse_pathways",
                "score_pathways", "plot_pathways")
FIGURES = ("overview", "gmm_baseline", "rvae_angles") + tuple(
    f"{model}_{kind}" for model in ("rvae", "vae")
    for kind in ("manifold", "training", "latent_maps", "latent_scatter", "latent_vs_frame", "trajectories",
                 "track_patches", "kinetics", "pathway_graph")
)

PFM_WINDOW_STAGES = ("tile_frames", "train_pfm_model", "encode_pfm_patches", "plot_pfm_model")
PFM_FIGURES = ("pfm_sweep", "pfm_switching", "pfm_histograms", "w8_manifold", "w8_training", "w16_manifold",
               "w16_training")


@pytest.fixture(scope="module")
def tiny_run():
    """The tiny samples through the whole DAG (started in the background when the tests were collected)."""
    workdir, result = BACKGROUND.result("tiny_run")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_every_stage_writes_its_output_log_and_benchmark(tiny_run):
    out = tiny_run / "results" / "tiny"
    for name in ("simulated", "frames", "aligned", "atoms", "patches"):
        assert (out / f"{name}.zarr").is_dir()
    for rule in STAGES:
        assert (tiny_run / "results" / "logs" / rule / "tiny.log").is_file(), rule
        assert (tiny_run / "results" / "benchmarks" / rule / "tiny.tsv").is_file(), rule
    for rule in MODEL_STAGES:
        for model in ("rvae", "vae"):
            assert (tiny_run / "results" / "logs" / rule / f"tiny_{model}.log").is_file(), (rule, model)
            assert (tiny_run / "results" / "benchmarks" / rule / f"tiny_{model}.tsv").is_file(), (rule, model)
    for model in ("rvae", "vae"):
        assert (out / model / "model.pt").is_file()
        manifold = xr.open_zarr(out / model / "manifold.zarr")  # decoded once, by the encode rule; drawn
        assert manifold["image"].shape[:2] == (8, 8) and manifold.sizes["z1"] == 8
        assert (out / model / "latents.zarr").is_dir()
        scores = json.loads((out / model / "latent_scores.json").read_text())
        assert set(scores["passes"]) == {"sublattice", "si_vs_c", "defect_vs_c", "rotation_invariance", "no_collapse"}
    for name in FIGURES:
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000, name
    assert (out / "tracks.zarr").is_dir()
    for model in ("rvae", "vae"):
        assert (out / model / "trajectories.zarr").is_dir()
        kinetics = json.loads((out / model / "kinetics.json").read_text())
        assert len(kinetics["class_fractions"]) == 3  # one row per frame
        assert (out / model / "events.tsv").read_text().startswith("frame\t")
        pathway = json.loads((out / model / "pathway_scores.json").read_text())
        assert pathway["linking"]["accuracy"] >= 0.98
        assert set(pathway["events"]["kinds"]) == {"dopant hop", "defect formation"}


def test_the_pfm_branch_writes_every_window_size_and_figure(tiny_run):
    for sample in ("tinypfm", "asylum"):
        out = tiny_run / "results" / sample
        assert (out / "frames.zarr").is_dir()
        for window in (8, 16):
            for name in ("patches.zarr", "latents.zarr"):
                assert (out / f"w{window}" / name).is_dir(), (sample, window, name)
            assert (out / f"w{window}" / "model.pt").is_file()
            assert (out / f"w{window}" / "manifold.zarr").is_dir()
            assert (out / f"w{window}" / "pfm_scores.json").is_file() == (sample == "tinypfm")  # truth only there
            for rule in PFM_WINDOW_STAGES:
                assert (tiny_run / "results" / "logs" / rule / f"{sample}_w{window}.log").is_file(), (rule, sample)
                assert (tiny_run / "results" / "benchmarks" / rule / f"{sample}_w{window}.tsv").is_file(), (rule, sample)
        for name in PFM_FIGURES:
            assert (out / "figures" / f"{name}.png").stat().st_size > 10_000, (sample, name)
        assert not (out / "atoms.zarr").exists()  # no STEM stages for a PFM sample
    assert (tiny_run / "results" / "logs" / "simulate_pfm" / "tinypfm.log").is_file()
    assert not (tiny_run / "results" / "asylum" / "simulated.zarr").exists()


def test_pfm_scores_and_latents_keep_the_window_grid(tiny_run):
    import xarray as xr

    scores = json.loads((tiny_run / "results" / "tinypfm" / "w16" / "pfm_scores.json").read_text())
    assert set(scores["passes"]) == {"sign_accuracy", "walls", "switched_fraction"}
    assert scores["n_frames"] == 3 and scores["window_px"] == 16 and scores["stride_px"] == 8
    latents = xr.open_zarr(tiny_run / "results" / "asylum" / "w16" / "latents.zarr")
    assert (latents.attrs["grid_rows"], latents.attrs["grid_cols"]) == (31, 31)  # (256 - 16) / 8 + 1
    assert latents.sizes["patch"] == 31 * 31
    assert latents["row"].values.max() == 30 and latents["col"].values.max() == 30
    assert latents.attrs["frame_pixel_size_nm"] == pytest.approx(39.0625)  # 10 um over 256 px, from the file


def test_kinetics_give_rates_per_second_and_per_dose_from_the_simulators_metadata(tiny_run):
    frames = xr.open_zarr(tiny_run / "results" / "tiny" / "frames.zarr")
    assert frames.attrs["frame_time_source"] == frames.attrs["dose_source"] == "simulator"
    kinetics = json.loads((tiny_run / "results" / "tiny" / "rvae" / "kinetics.json").read_text())
    rates = kinetics["rates"]
    assert rates["frame_time_s"] == frames.attrs["frame_time_s"]
    per_frame, per_second = rates["transitions"]["per_frame"], rates["transitions"]["per_second"]
    pairs = [(f, t) for row_f, row_t in zip(per_frame, per_second) for f, t in zip(row_f, row_t) if f is not None]
    assert pairs and all(t == pytest.approx(f / rates["frame_time_s"]) for f, t in pairs)
    assert rates["events"]["per_dose"] == pytest.approx(
        rates["events"]["per_frame"] / rates["dose_e_per_A2_per_frame"])
    assert kinetics["source_frame"] == [0, 1, 2] and kinetics["skipped_frames"] == []


def test_the_exports_open_in_the_tools_people_use(tiny_run):
    import pandas as pd
    from rsciio.hspy import file_reader

    out = tiny_run / "results" / "tiny"
    tracks = pd.read_csv(out / "tracks.csv")
    assert list(tracks.columns[:4]) == ["particle", "frame", "y", "x"]  # trackpy's columns
    assert {"y_nm", "x_nm", "rvae_class", "rvae_z1", "vae_class", "vae_z1"} <= set(tracks.columns)
    assert not [c for c in tracks.columns if c.startswith("true")]
    assert tracks["frame"].max() == 2 and tracks["particle"].nunique() > 20
    # trackpy reads it as is: mean squared displacements per particle and over the ensemble, in nm^2
    import trackpy

    frames_zarr = xr.open_zarr(out / "frames.zarr")
    msd = trackpy.imsd(tracks, mpp=frames_zarr.attrs["pixel_size_nm"], fps=1 / frames_zarr.attrs["frame_time_s"])
    assert msd.shape[1] > 20 and msd.index[0] == pytest.approx(frames_zarr.attrs["frame_time_s"])  # lag in s
    ensemble = trackpy.emsd(tracks, mpp=frames_zarr.attrs["pixel_size_nm"], fps=1 / frames_zarr.attrs["frame_time_s"])
    assert 0 < ensemble.iloc[0] < 0.01  # nm^2: drift-free sites move far less than a bond (0.142 nm) a frame
    signal = file_reader(str(out / "rvae" / "latent_maps.hspy"))[0]
    frames = xr.open_zarr(out / "frames.zarr")
    assert signal["data"].shape[0] == 3 and signal["data"].shape[-2:] == (96, 96)
    y_axis = [a for a in signal["axes"] if a["name"] == "y"][0]
    assert y_axis["units"] == "nm" and y_axis["scale"] == pytest.approx(frames.attrs["pixel_size_nm"])
    assert [a for a in signal["axes"] if a["name"] == "frame"][0]["units"] == "s"
    for sample in ("tinypfm", "asylum"):  # real scans too
        for window in (8, 16):
            domains = xr.open_zarr(tiny_run / "results" / sample / f"w{window}" / "domains.zarr")
            assert set(np.unique(domains["domain"].values)) <= {-1, 0, 1}
            assert (tiny_run / "results" / sample / f"w{window}" / "domains.hspy").is_file()


def test_atom_metrics_meet_the_targets_on_the_tiny_movie(tiny_run):
    metrics = json.loads((tiny_run / "results" / "tiny" / "atom_metrics.json").read_text())
    assert metrics["tp"] > 40
    assert metrics["f1"] >= 0.99
    assert metrics["rmse_px"] <= 0.25  # the demo's imaging (probe tails, support): 0.20 here, 0.21 on the demo
    assert metrics["drift_max_error_px"] < 0.5
    assert len(metrics["frames"]) == 3


def test_patches_carry_their_atoms_and_truth(tiny_run):
    import xarray as xr

    patches = xr.open_zarr(tiny_run / "results" / "tiny" / "patches.zarr")
    atoms = xr.open_zarr(tiny_run / "results" / "tiny" / "atoms.zarr")
    assert patches["image"].shape[1:] == (15, 15)  # patches.patch_px of the default config
    assert patches.attrs["window_px"] == pytest.approx(28.4)  # 2 x the 14.2 px spacing
    assert patches.attrs["pixel_size_nm"] == pytest.approx(0.01 * 28.4 / 15)  # one sample, for scale bars
    assert patches.attrs["n_dropped_at_border"] + patches.sizes["patch"] == atoms.sizes["atom"]
    assert set(np.unique(patches["frame"].values)) == {0, 1, 2}
    assert (patches["true_class"].values >= 0).all()  # every patched atom matched a true atom


def test_the_report_holds_every_figure_of_both_branches(tiny_run):
    result = snakemake(tiny_run, "--report", "report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (tiny_run / "report.html").read_text(errors="replace")
    figures = sorted((tiny_run / "results").glob("*/figures/*.png"))
    assert {p.parent.parent.name for p in figures} == {"tiny", "tinypfm", "asylum"}
    for png in figures:
        assert f"{png.parent.parent.name}/figures/{png.name}" in html, png
    assert "pfm_scores.json" in html and "latent_scores.json" in html


def test_a_second_seeds_model_is_trained_and_its_units_compared_in_the_rate_scores(tiny_run):
    out = tiny_run / "results" / "tiny"
    for model in ("rvae", "vae"):
        first = xr.open_zarr(out / model / "latents.zarr")
        second = xr.open_zarr(out / model / "seeds" / "1" / "latents.zarr")
        assert (second["atom"].values == first["atom"].values).all()  # the same patches ...
        assert not np.allclose(second["z_mean"].values, first["z_mean"].values)  # ... another model
        assert "(seed 1)" in (tiny_run / "results" / "logs" / "train_seed_model" / f"tiny_{model}_1.log").read_text()
        agreement = json.loads((out / model / "seed_agreement.json").read_text())
        assert agreement["seeds"] == [0, 1]
        for kind in ("units", "classes"):
            (i, j, ari), = agreement[kind]["pairs"]
            assert (i, j) == (0, 1) and -1 <= ari <= 1 and agreement[kind]["mean"] == ari
            assert agreement[kind]["n_observations"] == first.sizes["patch"]
        assert json.loads((out / model / "rate_scores.json").read_text())["seeds"] == agreement


def test_the_seeds_models_share_no_independent_start(tmp_path):
    # three starts per training (seeds s, s + 1, s + 2): the models' seeds are 0, 3 and 6
    write_config(tmp_path, [SIM], models=["rvae"], rvae={"seeds": 3, "hyper": {"restarts": 3}})
    out = snakemake(tmp_path, "--dry-run", "results/tiny/rvae/seed_agreement.json").stdout
    trained = sorted(set(re.findall(r"results/tiny/rvae/seeds/(\d+)/model.pt", out)))
    assert trained == ["3", "6"], out[-3000:]


def test_a_second_run_does_nothing(tiny_run):
    assert planned_jobs(tiny_run) == {}


def test_deleting_an_intermediate_reruns_only_what_depends_on_it(tiny_run, tmp_path):
    workdir = tmp_path / "copy"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    shutil.rmtree(workdir / "results" / "tiny" / "atoms.zarr")
    planned = planned_jobs(workdir)
    assert planned["find_atoms"] == 1
    assert planned["train_model"] == 2  # everything downstream of the atoms ...
    assert not {"simulate_stem", "load_frames", "prepare_frames"} & set(planned)  # ... and nothing upstream


# --- bad input: one clear message naming the sample, the file and what to change ---------------


def _save(path: Path, array) -> str:
    np.save(path, array, allow_pickle=True)
    return path.name


def test_bad_files_and_a_window_larger_than_the_frame_fail_their_own_jobs_with_clear_messages(tmp_path):
    """One run (CI time) of eight bad files and a good movie whose patch window (200 px) exceeds its frame."""
    rng = np.random.default_rng(0)
    good = rng.poisson(3.0, (2, 64, 64)).astype(float)
    nan = good.copy()
    nan[1, 5, 5] = np.nan
    flash = good.copy()
    flash[1, 20:] = flash[1].max()  # a flash: 44 of 64 rows at the frame's largest value
    files = {
        "pickled": (_save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object)), "pickle"),
        "nan": (_save(tmp_path / "nan.npy", nan), "frame 1 is unusable: 1 NaN"),
        "constant": (_save(tmp_path / "constant.npy", np.ones((2, 64, 64))), "frame 0 is unusable: constant"),
        "fourd": (_save(tmp_path / "fourd.npy", np.ones((2, 2, 64, 64))), "(2, 2, 64, 64)"),
        "colour": (_save(tmp_path / "colour.npy", rng.uniform(0, 255, (64, 64, 3))),
                   "a colour (RGB) image of 64 x 64 px, not 64 frames of 64 x 3 px"),
        "flash": (_save(tmp_path / "flash.npy", flash), "frame 1 is unusable: saturated (69%"),
        "coarse": (_save(tmp_path / "coarse.npy", good), "only 1.42 px"),
        "empty": (_save(tmp_path / "empty.npy", good), "no atoms found"),
    }
    rows = [
        {"sample": name, "path": path, "modality": "stem", "pixel_size_nm": 0.1 if name == "coarse" else 0.01,
         "spacing_nm": 0.142}
        for name, (path, _) in files.items()
    ]
    write_config(tmp_path, rows + [SIM], patches={"window_px": 200})
    result = snakemake(tmp_path, "--keep-going")
    assert result.returncode != 0
    log = (tmp_path / "results" / "logs" / "extract_patches" / "tiny.log").read_text()
    assert "sample 'tiny' (file: simulate)" in log
    assert "patch window of 200 px does not fit inside the 96x96 px frame" in log
    assert not (tmp_path / "results" / "tiny" / "patches.zarr").exists()
    for name, (path, expected) in files.items():
        logs = list((tmp_path / "results" / "logs").glob(f"*/{name}.log"))
        text = "\n".join(log.read_text() for log in logs)
        assert f"sample '{name}' (file: {path})" in text, (name, text)
        assert expected in text, (name, text)
        assert "Traceback" not in text, (name, text)
        assert name in result.stderr
        # nothing half-written: no store of a failed stage survives
        for stage in ("frames", "aligned", "atoms", "patches"):
            store = tmp_path / "results" / name / f"{stage}.zarr"
            if store.exists():
                assert expected not in (tmp_path / "results" / "logs").joinpath(
                    {"frames": "load_frames", "aligned": "prepare_frames", "atoms": "find_atoms",
                     "patches": "extract_patches"}[stage], f"{name}.log").read_text()


def test_a_model_file_this_workflow_did_not_write_is_refused_by_the_encode_job_in_one_line(tmp_path):
    import torch

    write_config(tmp_path, [SIM], models=["rvae"])
    first = snakemake(tmp_path, "results/tiny/patches.zarr")
    assert first.returncode == 0, first.stderr[-3000:]
    # someone's model.pt (and history) where this workflow's would be, newer than the patches
    folder = tmp_path / "results" / "tiny" / "rvae"
    folder.mkdir(parents=True)
    torch.save({"weights": torch.zeros(3)}, folder / "model.pt")
    (folder / "history.tsv").write_text("epoch\n")
    result = snakemake(tmp_path, "results/tiny/rvae/latents.zarr", "--rerun-triggers", "mtime")
    assert result.returncode != 0
    log = (tmp_path / "results" / "logs" / "encode_patches" / "tiny_rvae.log").read_text()
    expected = (f"{Path('results/tiny/rvae/model.pt')}: not a model written by this workflow (it holds the keys "
                "['weights'], not state_dict and hyper); it was not loaded; delete it to retrain")
    assert expected in log, log
    assert "weights_only" not in log and "Traceback" not in log
    assert not (tmp_path / "results" / "logs" / "train_model" / "tiny_rvae.log").exists()  # nothing retrained


@pytest.mark.parametrize(
    "path, expected",
    [("missing.npy", "file not found"), ("movie.xyz", "unsupported file type '.xyz'"),
     ("scan.ibw", "a .ibw file is a multi-channel PFM scan; set its modality to pfm")],
)
def test_missing_or_unsupported_files_are_refused_before_anything_runs(tmp_path, path, expected):
    (tmp_path / "movie.xyz").write_text("x")
    (tmp_path / "scan.ibw").write_bytes(b"x")
    write_config(tmp_path, [{"sample": "s1", "path": path, "modality": "stem", "spacing_nm": 0.142}])
    result = snakemake(tmp_path, "--dry-run")
    assert result.returncode != 0
    assert f"sample 's1' (file: {path}): {expected}" in result.stdout + result.stderr
    assert "samples.tsv" in result.stdout + result.stderr


@pytest.mark.parametrize("overrides, column, expected", [
    ({"atomz": {"smooth": 0.4}}, None, "config: unknown config key 'atomz'; did you mean 'atoms'?"),
    ({}, "pixel_size", "unknown column 'pixel_size'; did you mean 'pixel_size_nm'?"),
])
def test_a_misspelt_config_key_or_column_is_named_with_the_nearest_valid_one(tmp_path, overrides, column, expected):
    write_config(tmp_path, [SIM], **overrides)
    if column:
        table = tmp_path / "samples.tsv"
        table.write_text(table.read_text().replace("pixel_size_nm", column, 1))
    result = snakemake(tmp_path, "--dry-run")
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr


def test_a_bad_samples_table_is_refused_by_the_schema(tmp_path):
    write_config(tmp_path, [{"sample": "s1", "path": "simulate", "modality": "stem", "spacing_nm": -1}])
    result = snakemake(tmp_path, "--dry-run")
    assert result.returncode != 0
    assert "spacing_nm" in result.stdout + result.stderr


def test_parsing_the_workflow_imports_nothing_heavy(tmp_path):
    # every SLURM job and every `snakemake` call parses the workflow: common.smk reads only the schema
    # and the readers' suffixes (rvae_pathways.io.suffixes), not numpy's heavier neighbours
    write_config(tmp_path, [SIM])
    code = (
        "import atexit, sys; from snakemake.cli import main; "
        "atexit.register(lambda: print('HEAVY', sorted(m for m in ('xarray', 'zarr', 'scipy', 'skimage', 'torch', "
        "'matplotlib', 'rsciio') if m in sys.modules))); "
        f"sys.argv = ['snakemake', '--snakefile', r'{ROOT / 'Snakefile'}', '--configfile', 'config.yaml', '-n', "
        "'--cores', '1', '--quiet']; main()"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
