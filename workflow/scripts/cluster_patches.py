"""Rule cluster_patches: the Gaussian-mixture baseline's cluster of every patch and every cluster's mean patch."""

import numpy as np
import xarray as xr

from rvae_pathways.core.runner import run
from rvae_pathways.stem.gmm_baseline import gmm_on_patches


def main(snakemake, log):
    patches = xr.open_zarr(snakemake.input.patches)
    labels, means = gmm_on_patches(patches["image"].values, snakemake.params.clusters, snakemake.params.seed)
    clusters = xr.Dataset(
        {"cluster": ("patch", labels), "cluster_mean": (("cluster", "py", "px"), means)},
        attrs={"method": "Gaussian mixture on the principal components of the raw patches",
               "n_clusters": int(means.shape[0]), "seed": int(snakemake.params.seed),
               "pixel_size_nm": patches.attrs.get("pixel_size_nm")},
    )
    clusters.to_zarr(snakemake.output.clusters, mode="w", consolidated=True)
    log.info("cluster sizes: %s", np.bincount(labels).tolist())


run(snakemake, main)  # noqa: F821
