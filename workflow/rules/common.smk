# Config validation, the samples table, and input functions.

import re
import sys
from pathlib import Path

import pandas as pd
import yaml
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
from rvae_pathways.core.samples import group_members, simulator_settings  # noqa: E402
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
# one dict per sample: the input functions run once per job, and a dict lookup is ~100x faster
# than samples.loc (bench/many_movies.py: the DAG of 1,000 samples)
SAMPLES = samples.to_dict("index")


def read_groups(table, path):
    """The movies of every group (the table's group column), in the table's order."""
    groups = table["group"] if "group" in table else [""] * len(table)
    try:
        return group_members(zip(table["sample"], table["modality"], groups))
    except ValueError as err:
        raise WorkflowError(f"samples table {path}: {err}")


def read_simulations(table, path):
    """Every simulated sample's simulator settings: the config's, changed by its table row."""
    schema = yaml.safe_load(CONFIG_SCHEMA.read_text())["properties"]
    settings = {}
    for name, row in SAMPLES.items():
        if row["path"] != "simulate":
            if str(row.get("simulate") or "").strip():
                raise WorkflowError(
                    f"samples table {path}: sample '{name}': the simulate column is for "
                    "simulated samples (path simulate) only"
                )
            continue
        section = f"simulate_{row['modality']}"
        try:
            settings[name] = simulator_settings(
                name,
                row["modality"],
                config[section],
                schema[section],
                row.get("simulate"),
                row,
            )
        except ValueError as err:
            raise WorkflowError(f"samples table {path}: {err}")
    return settings


GROUPS = read_groups(samples, config["samples"])
GROUP_OF = {movie: group for group, movies in GROUPS.items() for movie in movies}
SIMULATIONS = read_simulations(samples, config["samples"])


def sample_names(modality, simulated=None):
    """Names of the samples of one modality (only the simulated ones, or only files, if asked)."""
    return [
        name
        for name, row in SAMPLES.items()
        if row["modality"] == modality
        and (simulated is None or (row["path"] == "simulate") == simulated)
    ]


def one_of(names):
    """A wildcard pattern matching exactly these names (and nothing when there are none)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


# A sample is any name the samples schema allows (no "/"), not an alternation of the table's names:
# Snakemake writes a constraint into every file pattern and reads it at each match, so a pattern of
# 1,000 names made the DAG of 1,000 samples quadratic (bench/many_movies.py). What tells rules of
# one output pattern apart keeps its list (simulate_stem, simulate_pfm).
wildcard_constraints:
    sample=r"[A-Za-z0-9_-]+",
    group=one_of(GROUPS),
    model="rvae|vae",
    window=r"\d+",
    seed=r"\d+",


def sample_modality(wildcards):
    return SAMPLES[wildcards.sample]["modality"]


def is_simulated(sample):
    return SAMPLES[sample]["path"] == "simulate"


def raw_input(wildcards):
    """The movie a sample starts from: its file, or the simulator's output."""
    if is_simulated(wildcards.sample):
        return f"results/{wildcards.sample}/simulated.zarr"
    return SAMPLES[wildcards.sample]["path"]


def sample_source(wildcards):
    """What error messages call the sample's input."""
    return SAMPLES[wildcards.sample]["path"]


def simulation(wildcards):
    """A simulated sample's simulator settings: the config's section, changed by its table row
    (the simulate column, and frame_time_s and dose_e_per_A2_per_frame)."""
    return SIMULATIONS[wildcards.sample]


def sample_pixel_size(wildcards):
    """Pixel size in nm from the samples table (None: use the file's, or the simulator's)."""
    if is_simulated(wildcards.sample):
        return None
    return SAMPLES[wildcards.sample].get("pixel_size_nm")


def sample_acquisition(wildcards):
    """Frame time (s) and dose per frame (e-/A^2) from the samples table; None: the file's, if it says."""
    if is_simulated(wildcards.sample):
        return {}
    row = SAMPLES[wildcards.sample]
    return {
        column: row[column]
        for column in ("frame_time_s", "dose_e_per_A2_per_frame")
        if column in row
    }


def model_label(wildcards):
    """How logs, files and figures name a model: rvae, vae, or the PFM window size (w16)."""
    if "window" in wildcards.keys():
        return f"w{wildcards.window}"
    return wildcards.model


def model_folder(wildcards, output):
    """The folder of a rule's model file, where its training checkpoints are written."""
    return str(Path(output.model).parent)


def model_file(wildcards):
    """The model a STEM sample is encoded with: its own, or its group's, which every movie of the
    group shares (results/groups/<group>/<model>/model.pt)."""
    group = GROUP_OF.get(wildcards.sample)
    if group is None:
        return f"results/{wildcards.sample}/{wildcards.model}/model.pt"
    return f"results/groups/{group}/{wildcards.model}/model.pt"


def history_file(wildcards):
    """The training history of the model a STEM sample is encoded with (see model_file)."""
    return str(Path(model_file(wildcards)).with_name("history.tsv"))


def own_patches(wildcards):
    """train_model's input: the sample's patches. A movie of a group has no model of its own."""
    group = GROUP_OF.get(wildcards.sample)
    if group is not None:
        raise WorkflowError(
            f"sample '{wildcards.sample}' is a movie of group '{group}', whose movies share one "
            f"model: results/groups/{group}/{wildcards.model}/model.pt"
        )
    return f"results/{wildcards.sample}/patches.zarr"


def group_movies(wildcards):
    """The movies of a group, in the samples table's order."""
    return GROUPS[wildcards.group]


def group_source(wildcards):
    """What error messages of a group's jobs call their input."""
    return f"group {wildcards.group}, {len(GROUPS[wildcards.group])} movies"


def group_patches(wildcards):
    """The patch stores of a group's movies, which its model is trained on."""
    return [f"results/{movie}/patches.zarr" for movie in GROUPS[wildcards.group]]


def group_analyses(wildcards):
    """What the comparison of a group's movies reads, per movie (lists in the group's order)."""
    movies, model = GROUPS[wildcards.group], wildcards.model
    return {
        "latents": [f"results/{m}/{model}/latents.zarr" for m in movies],
        "kinetics": [f"results/{m}/{model}/kinetics.json" for m in movies],
        "tracks": [f"results/{m}/tracks.zarr" for m in movies],
        "atoms": [f"results/{m}/atoms.zarr" for m in movies],
        "frames": [f"results/{m}/frames.zarr" for m in movies],
    }


def training_seeds():
    """The seeds of a sample's models (rvae.seeds of them): seed, seed + r, seed + 2 r, ... with r the
    independent starts per training (rvae.hyper.restarts), whose seeds are the model's seed and the
    r - 1 after it, so no two models share a start. The first is the model every figure and table
    uses; the others are trained only to compare their structural units.
    """
    step = config["rvae"]["hyper"]["restarts"]
    return [config["rvae"]["seed"] + k * step for k in range(config["rvae"]["seeds"])]


def seed_latents(wildcards):
    """The latents of every seed's model of a sample, in the order of training_seeds()."""
    folder = f"results/{wildcards.sample}/{wildcards.model}"
    return [f"{folder}/latents.zarr"] + [
        f"{folder}/seeds/{seed}/latents.zarr" for seed in training_seeds()[1:]
    ]


def seed_agreement_of_several(wildcards):
    """The comparison of the seeds' structural units, where more than one seed is trained."""
    if len(training_seeds()) > 1 and wildcards.sample not in GROUP_OF:
        return {
            "seeds": f"results/{wildcards.sample}/{wildcards.model}/seed_agreement.json"
        }
    return {}


def pathway_scores_of_simulated(wildcards):
    """A simulated sample's pathway and rate scores: the first's class_structure names every class
    by the true structure it mostly holds, the second's units are the classes so named (the
    figures draw them; only the scores read the truth)."""
    if is_simulated(wildcards.sample):
        folder = f"results/{wildcards.sample}/{wildcards.model}"
        return {
            "scores": f"{folder}/pathway_scores.json",
            "rate_scores": f"{folder}/rate_scores.json",
        }
    return {}


def sample_spacing(wildcards):
    return float(SAMPLES[wildcards.sample]["spacing_nm"])


def sample_contrast(wildcards):
    """Atom contrast from the samples table: "bright", "dark", or None (decide from the data)."""
    return SAMPLES[wildcards.sample].get("contrast") or None


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
    if SAMPLES[sample]["modality"] == "pfm":
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


def movie_analysis(sample):
    """What a movie of a group makes with groups.movie_outputs false: what the comparison reads."""
    targets = [
        f"results/{sample}/{stage}.zarr" for stage in ("frames", "atoms", "tracks")
    ]
    for model in config["models"]:
        targets += [
            f"results/{sample}/{model}/{name}"
            for name in ("latents.zarr", "kinetics.json")
        ]
    return targets


def group_outputs():
    """Targets of every group, per model: the shared model, its training history, each movie's
    weight in it, and the comparison of the movies (table and figure)."""
    targets = []
    for group in GROUPS:
        for model in config["models"]:
            targets += [
                f"results/groups/{group}/{model}/{name}"
                for name in ("model.pt", "history.tsv", "movies.tsv", "comparison.json")
            ]
            targets.append(f"results/groups/{group}/figures/{model}_comparison.png")
    return targets


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
        if sample in GROUP_OF and not config["groups"]["movie_outputs"]:
            targets += movie_analysis(sample)
            continue
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
            if len(training_seeds()) > 1 and sample not in GROUP_OF:
                targets.append(f"results/{sample}/{model}/seed_agreement.json")
            if is_simulated(sample):
                targets += [
                    f"results/{sample}/{model}/latent_scores.json",
                    f"results/{sample}/{model}/pathway_scores.json",
                    f"results/{sample}/{model}/rate_scores.json",
                ]
            targets += [
                f"results/{sample}/figures/{model}_{kind}.png"
                for kind in ("dwell_times", "kinetics_classes", "pathway_graph_classes")
            ]
        if is_simulated(sample):
            targets.append(f"results/{sample}/atom_metrics.json")
        targets += figure_paths(sample)
    targets += group_outputs()
    return targets
