"""Rule plot_pathways: latent trajectories, patches along tracks, class kinetics and the pathway graph."""

import json

import numpy as np
import pandas as pd
import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.figures.kinetics import plot_kinetics
from rvae_pathways.figures.pathway_graph import plot_pathway_graph
from rvae_pathways.figures.track_patches import plot_track_patches
from rvae_pathways.figures.trajectories import plot_latent_trajectories


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
    changed = np.isin(trajectories["track"].values, events["track"].unique())
    z = latents["z_mean"].values
    means = np.array(kinetics["classes"]["means"])[:, :2] if k else None
    plot_latent_trajectories(trajectories, changed, snakemake.output.trajectories, background_z=z[:, :2],
                             seed=snakemake.params.seed, class_means=means, class_names=names)
    images = xr.open_zarr(snakemake.input.patches)["image"].values
    # the tracks with events first (most events first), then the longest others
    order = events["track"].value_counts().index.tolist()
    seen = (trajectories["label"].values >= 0).sum(axis=1)
    order += [t for t in trajectories["track"].values[np.argsort(-seen, kind="stable")] if t not in order]
    plot_track_patches(images, trajectories, order[:8], snakemake.output.track_patches)
    fractions = np.array(kinetics["class_fractions"], dtype=float)
    rates = kinetics["rates"]
    plot_kinetics(fractions, names, snakemake.output.kinetics, frames=kinetics["source_frame"],
                  frame_time_s=rates["frame_time_s"], dose_e_per_A2_per_frame=rates["dose_e_per_A2_per_frame"])
    counts = np.array(kinetics["transitions"]["counts"])
    plot_pathway_graph(counts, names, snakemake.output.graph, populations=np.array(kinetics["classes"]["counts"]))
    log.info("figures of %d tracks, %d events, %d classes", trajectories.sizes["track"], len(events), k)


run(snakemake, main)  # noqa: F821
