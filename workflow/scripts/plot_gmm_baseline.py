"""Rule plot_gmm_baseline: the Gaussian-mixture clusters of the raw patches (rule cluster_patches), drawn."""

import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.figures.gmm_baseline import plot_cluster_baseline
from rvae_pathways.stem.gmm_baseline import frame_cluster_positions


def main(snakemake, log):
    frames = xr.open_zarr(snakemake.input.aligned)
    patches = xr.open_zarr(snakemake.input.patches)
    clusters = xr.open_zarr(snakemake.input.clusters)
    labels, means = clusters["cluster"].values, clusters["cluster_mean"].values
    frame = int(patches["frame"].values[-1])  # the last frame: the most transformed
    xy, frame_labels = frame_cluster_positions(patches, labels, frame)
    plot_cluster_baseline(
        patches, labels, means, frames["image"][frame].values, xy, frame_labels, snakemake.output.figure,
        frame_number=frame,
    )


run(snakemake, main)  # noqa: F821
