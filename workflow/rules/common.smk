# Config validation, the samples table, and input functions.

import re
import sys
from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# This file's own folder, not the main Snakefile's: used as a module (README "Use as a Snakemake
# module"), the main Snakefile is the host workflow's.
ROOT = Path(workflow.current_basedir.get_path_or_uri(secret_free=True)).parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from rvae_pathways.core.config import (  # noqa: E402
    CONFIG_SCHEMA,
    SAMPLES_SCHEMA,
    unknown_columns,
    unknown_keys,
)
from rvae_pathways.io.suffixes import SCAN_SUFFIXES, SUPPORTED_SUFFIXES  # noqa: E402

# a misspelt key is named with the nearest valid one (the schema's own message names no neighbour)
_unknown = unknown_keys(config)
if _unknown:
    raise WorkflowError("config: " + "; ".join(_unknown))
# the schema holds every key's default; what config.yaml leaves out is filled in from it
validate(config, schema=str(CONFIG_SCHEMA))

NUMERIC_COLUMNS = (
    "pixel_size_nm",
    "spacing_nm",
    "frame_time_s",
    "dose_e_per_A2_per_frame",
)


def _number(text, column, row, path):
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise WorkflowError(
            f"samples table {path}, row {row}: {column} must be a number, got '{text}'"
        )


def read_samples(path):
    """The samples table, validated; one row per sample, indexed by name."""
    # Everything is read as text (so a sample called "nan" or "NA" stays a name), then the
    # numeric columns are converted; an empty cell means "not given".
    table = pd.read_csv(path, sep="\t", comment="#", dtype=str, keep_default_na=False)
    unknown = unknown_columns(table.columns)
    if unknown:
        raise WorkflowError(f"samples table {path}: " + "; ".join(unknown))
    for column in NUMERIC_COLUMNS:
        if column in table:
            table[column] = [
                _number(value, column, row, path)
                for row, value in enumerate(table[column], 1)
            ]
    validate(table, schema=str(SAMPLES_SCHEMA))
    duplicated = table["sample"][table["sample"].duplicated()].tolist()
    if duplicated:
        raise WorkflowError(
            f"samples table {path}: sample names must be unique; repeated: {duplicated}"
        )
    for row in table.itertuples():
        if row.path == "simulate":
            continue
        suffix = Path(row.path).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise WorkflowError(
                f"sample '{row.sample}' (file: {row.path}): unsupported file type '{suffix}'; "
                f"supported: {', '.join(SUPPORTED_SUFFIXES)} (or 'simulate'). Fix the path in {path}"
            )
        if suffix in SCAN_SUFFIXES and row.modality != "pfm":
            raise WorkflowError(
                f"sample '{row.sample}' (file: {row.path}): a {suffix} file is a multi-channel PFM scan; "
                f"set its modality to pfm in {path}"
            )
        if not Path(row.path).exists():
            raise WorkflowError(
                f"sample '{row.sample}' (file: {row.path}): file not found; fix the path in {path} "
                "(paths are relative to the folder you run snakemake in)"
            )
    return table.set_index("sample", drop=False)


samples = read_samples(config["samples"])


def sample_names(modality, simulated=None):
    """Names of the samples of one modality (only the simulated ones, or only files, if asked)."""
    rows = samples[samples["modality"] == modality]
    if simulated is not None:
        rows = rows[(rows["path"] == "simulate") == simulated]
    return list(rows.index)


def one_of(names):
    """A wildcard pattern matching exactly these names (and nothing when there are none)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


wildcard_constraints:
    sample=one_of(samples.index),
    model="rvae|vae",
    window=r"\d+",


def sample_modality(wildcards):
    return samples.loc[wildcards.sample, "modality"]


def is_simulated(sample):
    return samples.loc[sample, "path"] == "simulate"


def raw_input(wildcards):
    """The movie a sample starts from: its file, or the simulator's output."""
    if is_simulated(wildcards.sample):
        return f"results/{wildcards.sample}/simulated.zarr"
    return samples.loc[wildcards.sample, "path"]


def sample_source(wildcards):
    """What error messages call the sample's input."""
    return samples.loc[wildcards.sample, "path"]


def sample_pixel_size(wildcards):
    """Pixel size in nm from the samples table (None: use the file's, or the simulator's)."""
    if is_simulated(wildcards.sample):
        return None
    return samples.loc[wildcards.sample, "pixel_size_nm"]


def sample_acquisition(wildcards):
    """Frame time (s) and dose per frame (e-/A^2) from the samples table; None: the file's, if it says."""
    if is_simulated(wildcards.sample):
        return {}
    return {
        column: samples.loc[wildcards.sample, column]
        for column in ("frame_time_s", "dose_e_per_A2_per_frame")
        if column in samples
    }


def model_label(wildcards):
    """How logs, files and figures name a model: rvae, vae, or the PFM window size (w16)."""
    if "window" in wildcards.keys():
        return f"w{wildcards.window}"
    return wildcards.model


def model_folder(wildcards, output):
    """The folder of a rule's model file, where its training checkpoints are written."""
    return str(Path(output.model).parent)


def pathway_scores_of_simulated(wildcards):
    """A simulated sample's pathway scores, whose class_structure names every class by the true
    structure it mostly holds (the figures read it; only the scores read the truth)."""
    if is_simulated(wildcards.sample):
        return {
            "scores": f"results/{wildcards.sample}/{wildcards.model}/pathway_scores.json"
        }
    return {}


def sample_spacing(wildcards):
    return float(samples.loc[wildcards.sample, "spacing_nm"])


def sample_contrast(wildcards):
    """Atom contrast from the samples table: "bright", "dark", or None (decide from the data)."""
    if "contrast" not in samples:
        return None
    return samples.loc[wildcards.sample, "contrast"] or None


def model_hyper(wildcards):
    """The hyper-parameters of a model variant: the rVAE's as configured (rotation and translation
    latents), the plain VAE baseline's with neither, reading the pixels only (no rotation-invariant
    ring spectra), as the paper's baseline did."""
    if wildcards.model == "rvae":
        return config["rvae"]["hyper"]
    return {
        **config["rvae"]["hyper"],
        "rotation": False,
        "translation": False,
        "ring_weight": 0.0,
        "ring_reconstruction": 0.0,
    }


def pfm_hyper(wildcards):
    """The PFM models' hyper-parameters: the rVAE's, changed by pfm.hyper."""
    return {**config["rvae"]["hyper"], **config["pfm"]["hyper"]}


def window_px(wildcards):
    return int(wildcards.window)


def pfm_window_latents(wildcards):
    """The latents of every window size of a PFM sample (the sweep)."""
    return [
        f"results/{wildcards.sample}/w{w}/latents.zarr"
        for w in config["pfm"]["windows_px"]
    ]


PFM_SAMPLE_FIGURES = ("pfm_sweep", "pfm_switching", "pfm_histograms")


def figure_paths(sample):
    """The figures of one sample (see figures.smk and pfm.smk)."""
    if samples.loc[sample, "modality"] == "pfm":
        paths = [f"results/{sample}/figures/{name}.png" for name in PFM_SAMPLE_FIGURES]
        for w in config["pfm"]["windows_px"]:
            paths += [
                f"results/{sample}/figures/w{w}_{kind}.png"
                for kind in ("manifold", "training")
            ]
        return paths
    paths = [
        f"results/{sample}/figures/{name}.png"
        for name in ("overview", "atom_qc", "gmm_baseline")
    ]
    for model in config["models"]:
        paths += [
            f"results/{sample}/figures/{model}_{kind}.png"
            for kind in (
                "manifold",
                "training",
                "latent_maps",
                "latent_scatter",
                "latent_vs_frame",
                "trajectories",
                "track_patches",
                "kinetics",
                "pathway_graph",
            )
        ]
    if "rvae" in config["models"]:
        paths.append(f"results/{sample}/figures/rvae_angles.png")
    return paths


def all_outputs():
    """Targets of a run: every cached stage of every sample, and scores where the truth is known.

    The intermediates are targets too (they are products people open), so deleting one re-runs
    the rule that makes it and, through file times, only the rules downstream of it.
    """
    targets = []
    for sample in sample_names("pfm"):
        targets.append(f"results/{sample}/frames.zarr")
        for w in config["pfm"]["windows_px"]:
            targets += [
                f"results/{sample}/w{w}/patches.zarr",
                f"results/{sample}/w{w}/latents.zarr",
                f"results/{sample}/w{w}/domains.zarr",
                f"results/{sample}/w{w}/domains.hspy",
                f"results/{sample}/w{w}/explorer.html",
            ]
            if is_simulated(sample):
                targets.append(f"results/{sample}/w{w}/pfm_scores.json")
        targets += figure_paths(sample)
    for sample in sample_names("stem"):
        targets += [
            f"results/{sample}/{stage}.zarr"
            for stage in ("frames", "aligned", "atoms", "patches")
        ]
        targets.append(f"results/{sample}/atom_qc.json")
        targets.append(f"results/{sample}/tracks.zarr")
        targets.append(f"results/{sample}/tracks.csv")
        for model in config["models"]:
            targets += [
                f"results/{sample}/{model}/{name}"
                for name in (
                    "latents.zarr",
                    "trajectories.zarr",
                    "kinetics.json",
                    "events.tsv",
                    "latent_maps.hspy",
                    "explorer.html",
                )
            ]
            if is_simulated(sample):
                targets += [
                    f"results/{sample}/{model}/latent_scores.json",
                    f"results/{sample}/{model}/pathway_scores.json",
                ]
        if is_simulated(sample):
            targets.append(f"results/{sample}/atom_metrics.json")
        targets += figure_paths(sample)
    return targets
