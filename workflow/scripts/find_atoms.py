"""Rule find_atoms: the atom table of every frame, written to Zarr."""

import xarray as xr

from rvae_pathways.atoms import find_atoms_in_movie, spacing_in_pixels
from rvae_pathways.rule_runner import run


def main(snakemake, log):
    aligned = xr.open_zarr(snakemake.input.aligned)
    pixel_size_nm = aligned.attrs["pixel_size_nm"]
    spacing_px = spacing_in_pixels(snakemake.params.spacing_nm, pixel_size_nm)
    log.info("atom spacing %.3f nm = %.2f px", snakemake.params.spacing_nm, spacing_px)
    total = find_atoms_in_movie(
        aligned,
        snakemake.output.atoms,
        spacing_px,
        finder=snakemake.params.finder,
        tolerance_px=snakemake.params.tolerance_nm / pixel_size_nm,
        log=log,
        workers=snakemake.threads,
        contrast=snakemake.params.contrast,
    )
    log.info("%d atoms in %d frames", total, aligned.sizes["frame"])


run(snakemake, main)  # noqa: F821
