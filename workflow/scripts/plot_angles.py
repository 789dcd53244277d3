"""Rule plot_angles: histograms of the rVAE's rotation and shift latents."""

import xarray as xr

from rvae_pathways.figures.latents import plot_angle_shift_histograms
from rvae_pathways.core.runner import run


def main(snakemake, log):
    plot_angle_shift_histograms(xr.open_zarr(snakemake.input.latents), snakemake.output.figure)


run(snakemake, main)  # noqa: F821
