"""Rule plot_pathways: latent trajectories, kinetics and the pathway graph by structural unit (with rates
and intervals), dwell times, patches along tracks, and the Gaussian classes' kinetics and graph (detail)."""

import json

import numpy as np
import pandas as pd
import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.figures.kinetics import plot_kinetics
from rvae_pathways.figures.pathway_graph import leave_notes, plot_pathway_graph, rate_labels
from rvae_pathways.figures.rates import plot_dwell_times
from rvae_pathways.figures.track_patches import plot_track_patches
from rvae_pathways.figures.trajectories import plot_latent_trajectories
from rvae_pathways.pathways.kinetics import class_fractions
from rvae_pathways.pathways.units import changed_tracks, unit_labels, unit_means


def structural_units(kinetics, input_files):
    """The units drawn: on simulated data the classes named by the truth's majority structure
    (rate_scores.json), else the classes merged by overlap in latent space (kinetics.json)."""
    if "rate_scores" in input_files.keys():
        scores = json.loads(open(input_files.rate_scores).read())
        return (np.asarray(scores["units"]["unit_of_class"]), scores["units"]["names"], scores["markov"],
                scores["dwell_times"], "named by the truth's majority structure")
    units = kinetics["units"]
    names = [f"{name} (classes {', '.join(map(str, members))})"
             for name, members in zip(units["names"], units["members"])]
    return (np.asarray(units["unit_of_class"]), names, units["markov"], units["dwell_times"],
            f"classes merged where they overlap (Bhattacharyya >= {units['min_overlap']})")


def main(snakemake, log):
    trajectories = xr.open_zarr(snakemake.input.trajectories).load()
    latents = xr.open_zarr(snakemake.input.latents)
    kinetics = json.loads(open(snakemake.input.kinetics).read())
    events = pd.read_csv(snakemake.input.events, sep="\t")
    k = kinetics["n_classes"]
    names = [f"class {c}" for c in range(k)]
    if "scores" in snakemake.input.keys():  # simulated data: say what each class mostly holds (score_pathways)
        structure = json.loads(open(snakemake.input.scores).read())["class_structure"]
        names = [name if structure.get(str(c)) is None else f"{name} ({structure[str(c)]})"
                 for c, name in enumerate(names)]
    unit_of_class, unit_names, markov, dwell, how = structural_units(kinetics, snakemake.input)
    n_units = len(unit_names)
    grid = unit_labels(trajectories["label"].values, unit_of_class)
    changed = changed_tracks(grid, snakemake.params.min_persist_frames)
    log.info("%d units (%s); %d of %d tracks changed unit", n_units, how, int(changed.sum()), len(changed))
    z = latents["z_mean"].values
    classes = kinetics["classes"]
    means = unit_means(np.array(classes["means"])[:, :2], classes["weights"], unit_of_class) if k else None
    plot_latent_trajectories(trajectories, changed, snakemake.output.trajectories, background_z=z[:, :2],
                             seed=snakemake.params.seed, class_means=means, class_names=unit_names, what="unit")
    images = xr.open_zarr(snakemake.input.patches)["image"].values
    # the tracks whose unit changed first (most class events first), then the longest others
    seen = (trajectories["label"].values >= 0).sum(axis=1)
    track_ids = trajectories["track"].values
    busy = events["track"].value_counts()
    order = sorted(np.flatnonzero(changed), key=lambda t: (-busy.get(track_ids[t], 0), -seen[t]))
    order = [track_ids[t] for t in order]
    order += [t for t in track_ids[np.argsort(-seen, kind="stable")] if t not in order]
    plot_track_patches(images, trajectories, order[:8], snakemake.output.track_patches)
    rates = kinetics["rates"]
    acq = {"frames": kinetics["source_frame"], "frame_time_s": rates["frame_time_s"],
           "dose_e_per_A2_per_frame": rates["dose_e_per_A2_per_frame"]}
    patch_units = unit_labels(trajectories["class_of_patch"].values, unit_of_class)
    unit_fractions = class_fractions(patch_units, latents["frame"].values, kinetics["n_frames"], n_units)
    plot_kinetics(unit_fractions, unit_names, snakemake.output.kinetics, noun="unit", **acq)
    plot_kinetics(np.array(kinetics["class_fractions"], dtype=float), names, snakemake.output.kinetics_classes, **acq)
    populations = np.bincount(patch_units, minlength=n_units)
    plot_pathway_graph(np.array(markov["counts"]), unit_names, snakemake.output.graph, populations=populations,
                       edge_labels=rate_labels(markov), noun="unit", node_notes=leave_notes(markov))
    plot_pathway_graph(np.array(kinetics["transitions"]["counts"]), names, snakemake.output.pathway_graph_classes,
                       populations=np.array(classes["counts"]))
    plot_dwell_times(dwell, snakemake.output.dwell_times, markov=markov, unit_names=unit_names)
    log.info("figures of %d tracks, %d events, %d classes, %d units", trajectories.sizes["track"], len(events), k,
             n_units)


run(snakemake, main)  # noqa: F821
