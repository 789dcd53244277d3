"""Rule plot_overview: frames with the atoms found."""

import xarray as xr

from rvae_pathways.figures.overview import plot_data_overview
from rvae_pathways.core.runner import run


def main(snakemake, log):
    frames = xr.open_zarr(snakemake.input.aligned)
    atoms = xr.open_zarr(snakemake.input.atoms)
    plot_data_overview(frames, atoms, snakemake.output.figure, snakemake.params.frames_to_show)


run(snakemake, main)  # noqa: F821
