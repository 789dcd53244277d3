"""Rule score_pathways: tracks and events against the simulator's persistent ids and event list, and the
rates along tracks against the simulator's settings (rate_scores.json)."""

import json

import numpy as np
import pandas as pd
import xarray as xr

from rvae_pathways.core.geometry import SampleGeometry
from rvae_pathways.core.runner import run
from rvae_pathways.scores.pathways import class_composition, linking_accuracy, majority_structure, score_events
from rvae_pathways.scores.rates import score_rates


def rate_scores(trajectories, kinetics, structure, truth, spacing_px, params, log):
    """rate_scores.json: every observation along its track (class, recorded frame, position) scored
    on the units named by the truth's majority structure."""
    label = trajectories["label"].values
    t, f = np.nonzero(label >= 0)
    source_frame = np.asarray(kinetics["source_frame"])
    acq = kinetics["rates"]
    scores = score_rates(label[t, f], t, source_frame[f], trajectories["y"].values[t, f],
                         trajectories["x"].values[t, f], structure, truth, spacing_px,
                         min_persist=params.min_persist_frames,
                         formation_radius_spacings=params.formation_radius_spacings,
                         min_events=params.rate_min_events, frame_time_s=acq["frame_time_s"],
                         dose_e_per_A2_per_frame=acq["dose_e_per_A2_per_frame"])
    for kind in ("dopant_hop", "stone_wales"):
        block = scores[kind]
        log.info("%s: %s per frame [%s, %s] (95 %%), true %s, covered %s", kind, block["estimate_per_frame"],
                 *block["ci95_per_frame"], block["true_rate_per_frame"], block["covered"])
    return scores


def main(snakemake, log):
    truth = xr.open_zarr(snakemake.input.truth).load()
    tracks = xr.open_zarr(snakemake.input.tracks).load()
    latents = xr.open_zarr(snakemake.input.latents)
    trajectories = xr.open_zarr(snakemake.input.trajectories)
    events = pd.read_csv(snakemake.input.events, sep="\t")
    names = truth.attrs["true_class_names"].split(",")
    labels, true_class = trajectories["class_of_patch"].values, latents["true_class"].values

    linking = linking_accuracy(tracks["track"].values, tracks["frame"].values, tracks["true_id"].values,
                               snakemake.params.max_gap_frames)
    structure = majority_structure(labels, true_class, names)  # for scoring only: a name per latent class
    tolerance_px = SampleGeometry(truth.attrs["pixel_size_nm"]).px(snakemake.params.tolerance_spacings * snakemake.params.spacing_nm)
    found = score_events(events, truth, structure, tolerance_px)
    scores = {"linking": linking, "events": found, "class_structure": {str(k): v for k, v in structure.items()},
              "class_composition": class_composition(labels, true_class, names)}
    log.info("linking accuracy %s (%d of %d true links, %d false links)", linking["accuracy"],
             linking["n_recovered"], linking["n_true_links"], linking["false_links"])
    for kind, result in found["kinds"].items():
        log.info("%s: precision %s, recall %s (%d found, %d true)", kind, result["precision"], result["recall"],
                 result["n_predicted"], result["n_true"])
    with open(snakemake.output.scores, "w") as f:
        json.dump(scores, f, indent=2, default=float)
    kinetics = json.loads(open(snakemake.input.kinetics).read())
    spacing_px = SampleGeometry(truth.attrs["pixel_size_nm"]).px(snakemake.params.spacing_nm)
    rates = rate_scores(trajectories.load(), kinetics, structure, truth, spacing_px, snakemake.params, log)
    if "seeds" in snakemake.input.keys():  # rvae.seeds > 1
        rates["seeds"] = json.loads(open(snakemake.input.seeds).read())
        log.info("units across seeds %s: adjusted Rand index mean %s, min %s", rates["seeds"]["seeds"],
                 rates["seeds"]["units"]["mean"], rates["seeds"]["units"]["min"])
    with open(snakemake.output.rate_scores, "w") as f:
        json.dump(rates, f, indent=2, default=float)


run(snakemake, main)  # noqa: F821
